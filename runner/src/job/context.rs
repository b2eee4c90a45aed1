//! The build context: `dockerfile` and `context` resolved inside the
//! checkout (symlinks included), `.dockerignore` applied as the Docker CLI
//! applies it, `.git` left out, everything packed into the tar the engine
//! receives. A Dockerfile from outside the context goes in as the Docker CLI
//! puts it (a `.dockerfile.<hex>` the context's `.dockerignore` names), so
//! the engine reads it and then drops it: it never lands in the image.

use std::path::{Path, PathBuf};

use sha2::Digest;
use slipway_core::dockerignore::{walk, IgnoreRules};

#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("{field} {path:?} does not exist in the source (repository or archive)")]
    Missing { field: &'static str, path: String },
    #[error(
        "{field} {path:?} leads outside the source (through a symlink); give a path inside it"
    )]
    Escapes { field: &'static str, path: String },
    #[error("{field} {path:?} is not a {expected}")]
    WrongKind {
        field: &'static str,
        path: String,
        expected: &'static str,
    },
    #[error(transparent)]
    BadIgnore(#[from] slipway_core::dockerignore::BadPattern),
    #[error("the build context is larger than {max} bytes; add a .dockerignore")]
    TooLarge { max: u64 },
    #[error("the Dockerfile is larger than {MAX_DOCKERFILE_BYTES} bytes")]
    DockerfileTooLarge,
    #[error("reading the checkout: {0}")]
    Io(#[from] std::io::Error),
}

/// The biggest Dockerfile read (the engine's own limit is far below).
const MAX_DOCKERFILE_BYTES: u64 = 1024 * 1024;

/// A packed context (a tar file on disk), the Dockerfile path inside it and
/// the Dockerfile's text.
pub struct Context {
    pub tar: PathBuf,
    pub bytes: u64,
    pub dockerfile: String,
    pub dockerfile_text: String,
}

/// Resolves `rel` inside `root`, refusing anything that ends up outside it.
/// Only metadata is read, never content.
pub fn resolve(root: &Path, rel: &str, field: &'static str) -> Result<PathBuf, ContextError> {
    let root = root.canonicalize()?;
    let joined = root.join(rel);
    if joined.symlink_metadata().is_err() {
        return Err(ContextError::Missing {
            field,
            path: rel.to_owned(),
        });
    }
    let real = joined.canonicalize().map_err(|_| ContextError::Escapes {
        field,
        path: rel.to_owned(),
    })?;
    if !real.starts_with(&root) {
        return Err(ContextError::Escapes {
            field,
            path: rel.to_owned(),
        });
    }
    Ok(real)
}

/// Packs the context. Entries are written in a fixed order with fixed
/// metadata so the same tree gives the same tar (and the same cache keys).
pub fn pack(
    root: &Path,
    context: &str,
    dockerfile: &str,
    max_bytes: u64,
    out: &Path,
) -> Result<Context, ContextError> {
    let context_dir = resolve(root, context, "context")?;
    if !context_dir.is_dir() {
        return Err(ContextError::WrongKind {
            field: "context",
            path: context.to_owned(),
            expected: "directory",
        });
    }
    let dockerfile_path = resolve(root, dockerfile, "dockerfile")?;
    if !dockerfile_path.is_file() {
        return Err(ContextError::WrongKind {
            field: "dockerfile",
            path: dockerfile.to_owned(),
            expected: "file",
        });
    }
    if dockerfile_path.metadata()?.len() > MAX_DOCKERFILE_BYTES {
        return Err(ContextError::DockerfileTooLarge);
    }
    let dockerfile_bytes = std::fs::read(&dockerfile_path)?;
    let dockerfile_text = String::from_utf8_lossy(&dockerfile_bytes).into_owned();
    let ignore_text = match resolve(&context_dir, ".dockerignore", "context") {
        Ok(p) if p.is_file() => std::fs::read_to_string(p)?,
        _ => String::new(),
    };
    let inside = dockerfile_path
        .strip_prefix(&context_dir)
        .ok()
        .map(|p| p.to_string_lossy().replace('\\', "/"));
    let rules = IgnoreRules::parse(&ignore_text)?
        .keeping(&[inside.as_deref().unwrap_or(dockerfile), ".dockerignore"]);
    // The Docker CLI's name for a Dockerfile from outside the context.
    let outside = inside.is_none().then(|| {
        let digest = hex::encode(sha2::Sha256::digest(&dockerfile_bytes));
        format!(".dockerfile.{}", &digest[..20])
    });
    let ignore_naming = |name: &str, existing: Option<&str>| match existing {
        Some(text) => format!("{text}\n{name}\n"),
        None => format!(".dockerignore\n{name}\n"),
    };

    let mut tar = tar::Builder::new(std::io::BufWriter::new(std::fs::File::create(out)?));
    tar.mode(tar::HeaderMode::Deterministic);
    tar.follow_symlinks(false);
    let mut total = 0u64;
    let mut ignore_sent = false;
    walk(&context_dir, &rules, |entry| -> Result<(), ContextError> {
        if entry.meta.is_dir() {
            tar.append_dir(entry.rel, entry.path)?;
            return Ok(());
        }
        if !(entry.meta.is_file() || entry.meta.file_type().is_symlink()) {
            return Ok(());
        }
        total += entry.meta.len();
        if total > max_bytes {
            return Err(ContextError::TooLarge { max: max_bytes });
        }
        match &outside {
            Some(name) if entry.rel == ".dockerignore" && entry.meta.is_file() => {
                ignore_sent = true;
                let text = ignore_naming(name, Some(&ignore_text));
                append_file(&mut tar, ".dockerignore", text.as_bytes())?;
            }
            _ => tar.append_path_with_name(entry.path, entry.rel)?,
        }
        Ok(())
    })?;
    let dockerfile = match (inside, outside) {
        (Some(rel), _) => rel,
        (None, Some(name)) => {
            if !ignore_sent {
                append_file(
                    &mut tar,
                    ".dockerignore",
                    ignore_naming(&name, None).as_bytes(),
                )?;
            }
            append_file(&mut tar, &name, &dockerfile_bytes)?;
            name
        }
        (None, None) => unreachable!("a name is made for every outside Dockerfile"),
    };
    tar.into_inner()?
        .into_inner()
        .map_err(|e| e.into_error())?
        .sync_all()?;
    Ok(Context {
        bytes: std::fs::metadata(out)?.len(),
        tar: out.to_owned(),
        dockerfile,
        dockerfile_text,
    })
}

/// A file made here, with fixed metadata.
fn append_file(
    tar: &mut tar::Builder<impl std::io::Write>,
    name: &str,
    content: &[u8],
) -> std::io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_cksum();
    tar.append_data(&mut header, name, content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_inside_the_tree_only() {
        let dir = std::env::temp_dir().join(format!("slipway-ctx-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("repo/services/api")).unwrap();
        std::fs::write(dir.join("outside"), "FROM scratch").unwrap();
        std::fs::write(dir.join("repo/services/api/Dockerfile"), "FROM x").unwrap();
        std::os::unix::fs::symlink("../outside", dir.join("repo/Dockerfile")).unwrap();
        std::os::unix::fs::symlink("services/api/Dockerfile", dir.join("repo/Inner")).unwrap();
        let root = dir.join("repo");
        assert!(matches!(
            resolve(&root, "Dockerfile", "dockerfile"),
            Err(ContextError::Escapes { .. })
        ));
        assert!(resolve(&root, "Inner", "dockerfile").is_ok());
        assert!(matches!(
            resolve(&root, "nope", "dockerfile"),
            Err(ContextError::Missing { .. })
        ));

        let out = dir.join("context.tar");
        let packed = pack(&root, ".", "services/api/Dockerfile", 1 << 20, &out).unwrap();
        assert_eq!(packed.dockerfile, "services/api/Dockerfile");
        let names: Vec<String> = tar::Archive::new(std::fs::File::open(&out).unwrap())
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        assert!(
            names.contains(&"services/api/Dockerfile".to_owned()),
            "{names:?}"
        );
        assert!(
            names.contains(&"Dockerfile".to_owned()),
            "the symlink itself is packed, not followed"
        );
        let outside = pack(&root, "services/api", "Inner", 1 << 20, &out).unwrap();
        assert_eq!(
            outside.dockerfile, "Dockerfile",
            "the symlink resolves into the context"
        );
        let err = pack(&root, ".", "Dockerfile", 1 << 20, &out).err().unwrap();
        assert!(err.to_string().contains("outside"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
