//! `slipway up`'s archive: the directory as a `.tar.gz`, without what its
//! `.dockerignore` leaves out (as Docker reads it: the Dockerfile and the
//! `.dockerignore` are always sent) and without `.git`. Symlinks are packed as
//! links, never followed.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use slipway_core::dockerignore::{walk, BadPattern, IgnoreRules};

#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("{0} is not a directory")]
    NotADir(String),
    #[error(transparent)]
    Ignore(#[from] BadPattern),
    #[error("packing {dir}: {source}")]
    Io { dir: String, source: std::io::Error },
}

pub struct Packed {
    pub files: usize,
    pub bytes: u64,
}

/// Packs `dir` as `docker build` would send it with `dockerfile` (relative
/// to `dir`): the same rules the runner applies again to the context.
pub fn pack(dir: &Path, dockerfile: &str, out: &Path) -> Result<Packed, PackError> {
    let io = |source| PackError::Io {
        dir: dir.display().to_string(),
        source,
    };
    if !dir.is_dir() {
        return Err(PackError::NotADir(dir.display().to_string()));
    }
    let rules = match std::fs::read_to_string(dir.join(".dockerignore")) {
        Ok(text) => IgnoreRules::parse(&text)?,
        Err(_) => IgnoreRules::default(),
    }
    .keeping(&[dockerfile, ".dockerignore"]);
    let gz = flate2::write::GzEncoder::new(
        BufWriter::new(File::create(out).map_err(io)?),
        flate2::Compression::default(),
    );
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    tar.follow_symlinks(false);
    let mut files = 0;
    walk::<std::io::Error>(dir, &rules, |entry| {
        if entry.meta.is_dir() {
            tar.append_dir(entry.rel, entry.path)?;
        } else if entry.meta.is_file() || entry.meta.file_type().is_symlink() {
            tar.append_path_with_name(entry.path, entry.rel)?;
            files += 1;
        }
        Ok(())
    })
    .map_err(io)?;
    tar.into_inner()
        .and_then(|gz| gz.finish())
        .and_then(|w| w.into_inner().map_err(|e| e.into_error()))
        .map_err(io)?;
    Ok(Packed {
        files,
        bytes: std::fs::metadata(out).map_err(io)?.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerignore_and_git_are_left_out() {
        let dir = std::env::temp_dir().join(format!("slipway-pack-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("app/.git")).unwrap();
        std::fs::create_dir_all(dir.join("app/node_modules/x")).unwrap();
        std::fs::write(dir.join("app/Dockerfile"), "FROM x").unwrap();
        std::fs::write(
            dir.join("app/.dockerignore"),
            "node_modules\n*.log\nDockerfile\n",
        )
        .unwrap();
        std::fs::write(dir.join("app/.git/config"), "[core]").unwrap();
        std::fs::write(dir.join("app/node_modules/x/a.js"), "a").unwrap();
        std::fs::write(dir.join("app/debug.log"), "log").unwrap();
        std::fs::write(dir.join("app/main.js"), "main").unwrap();
        let out = dir.join("out.tar.gz");
        let packed = pack(&dir.join("app"), "Dockerfile", &out).unwrap();
        let names: Vec<String> =
            tar::Archive::new(flate2::read::GzDecoder::new(File::open(&out).unwrap()))
                .entries()
                .unwrap()
                .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
                .collect();
        assert_eq!(names, [".dockerignore", "Dockerfile", "main.js"]);
        assert_eq!(packed.files, 3);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
