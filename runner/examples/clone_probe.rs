#[allow(dead_code)]
mod config { #[derive(Clone, Copy)] pub struct CloneLimits { pub max_bytes: u64, pub stall: std::time::Duration } }
#[path = "../src/job/source.rs"]
mod source;
use std::sync::{atomic::AtomicBool, Arc};
fn main() {
    let url = std::env::args().nth(1).unwrap();
    let dir = std::path::PathBuf::from(std::env::args().nth(2).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
    let t = std::time::Instant::now();
    let r = source::shallow_clone(&url, "main", None, &dir, config::CloneLimits { max_bytes: 4 << 30, stall: std::time::Duration::from_secs(60) }, Arc::new(AtomicBool::new(false)));
    eprintln!("{:?} in {:?}", r.map_err(|e| e.to_string()), t.elapsed());
}
