//! Embeds the dashboard's built assets (`web/dist`, made by `npm run build`
//! in `web/`, which `make up` and `make test` run). Without them the API
//! serves a page saying how to build them, so `cargo build` alone works.

use std::fmt::Write;
use std::path::Path;

fn main() {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/dist");
    println!("cargo:rerun-if-changed={}", dist.display());
    let mut code = String::from("pub static ASSETS: &[(&str, &[u8])] = &[\n");
    if let Ok(entries) = std::fs::read_dir(&dist) {
        let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for path in files.iter().filter(|p| p.is_file()) {
            println!("cargo:rerun-if-changed={}", path.display());
            let name = path.file_name().unwrap().to_string_lossy();
            let _ = writeln!(
                code,
                "    ({name:?}, include_bytes!({:?})),",
                path.display().to_string()
            );
        }
    }
    code.push_str("];\n");
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).join("dashboard_assets.rs");
    std::fs::write(out, code).unwrap();
}
