//! A cgroup of its own for every build, holding its pids limit. The
//! engine's build API takes memory and cpu limits for the build's steps but
//! no pids limit; it takes a cgroup parent, though, and every step's
//! container is made under it. So the runner makes that parent, writes the
//! limit into it (the kernel counts the steps' processes against every
//! ancestor) and removes it when the build ends.
//!
//! This needs the engine's `cgroupfs` driver (cgroup v1 or v2), where a
//! cgroup parent is a path under the hierarchy's root. Under the `systemd`
//! driver a parent is a systemd slice the runner cannot set a limit on
//! before the engine starts it; builds there get no pids limit, which the
//! runner says at start.

use std::path::{Path, PathBuf};

/// Under the hierarchy's root: one folder per build in it.
const PARENT: &str = "slipway-builds";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hierarchy {
    /// One hierarchy per controller, `pids` among them, under `root`.
    V1 { root: PathBuf },
    /// The unified hierarchy at `root`.
    V2 { root: PathBuf },
    /// Nothing the runner can set limits in.
    Unsupported { why: String },
}

impl Hierarchy {
    /// From the engine's `CgroupDriver` and `CgroupVersion`.
    pub fn of_engine(driver: Option<&str>, version: Option<&str>, root: &Path) -> Self {
        match (driver, version) {
            (Some("cgroupfs"), Some("2")) => Self::V2 {
                root: root.to_owned(),
            },
            (Some("cgroupfs"), _) => Self::V1 {
                root: root.to_owned(),
            },
            (driver, _) => Self::Unsupported {
                why: format!(
                    "the engine's cgroup driver is {}, not cgroupfs",
                    driver.unwrap_or("unknown")
                ),
            },
        }
    }

    /// Makes the cgroup for one build (`name` unique to it), with `pids`
    /// as its limit; `None` where limits cannot be set.
    pub fn make(&self, name: &str, pids: i64) -> std::io::Result<Option<BuildCgroup>> {
        let (root, limited) = match self {
            Self::Unsupported { .. } => return Ok(None),
            Self::V1 { root } => (root.clone(), root.join("pids").join(PARENT).join(name)),
            Self::V2 { root } => {
                // A controller is available to a folder only when every
                // ancestor lists it for its children.
                for dir in [root.clone(), root.join(PARENT)] {
                    std::fs::create_dir_all(&dir)?;
                    write_if_missing(&dir.join("cgroup.subtree_control"), "pids")?;
                }
                (root.clone(), root.join(PARENT).join(name))
            }
        };
        std::fs::create_dir_all(&limited)?;
        let cgroup = BuildCgroup {
            root,
            name: name.to_owned(),
        };
        std::fs::write(limited.join("pids.max"), pids.to_string())?;
        Ok(Some(cgroup))
    }
}

/// Enables `controller` in a `cgroup.subtree_control` that lacks it.
fn write_if_missing(file: &Path, controller: &str) -> std::io::Result<()> {
    let enabled = std::fs::read_to_string(file)?;
    if enabled.split_whitespace().any(|c| c == controller) {
        return Ok(());
    }
    std::fs::write(file, format!("+{controller}"))
}

/// One build's cgroup; removed, in every hierarchy the engine made it in,
/// when dropped.
#[derive(Debug)]
pub struct BuildCgroup {
    root: PathBuf,
    name: String,
}

impl BuildCgroup {
    /// What the engine takes as the build's cgroup parent.
    pub fn parent(&self) -> String {
        format!("/{PARENT}/{}", self.name)
    }

    /// Every folder of this cgroup: under the root itself (v2) and under
    /// each controller's hierarchy (v1).
    fn folders(&self) -> Vec<PathBuf> {
        let mut roots = vec![self.root.clone()];
        if let Ok(entries) = std::fs::read_dir(&self.root) {
            roots.extend(entries.flatten().map(|e| e.path()));
        }
        roots
            .into_iter()
            .map(|r| r.join(PARENT).join(&self.name))
            .filter(|p| p.is_dir())
            .collect()
    }
}

impl Drop for BuildCgroup {
    fn drop(&mut self) {
        for folder in self.folders() {
            // The engine removes its steps' cgroups below; one still busy
            // (a step the engine is still stopping) stays, empty, harmless.
            if let Err(e) = std::fs::remove_dir(&folder) {
                tracing::debug!(folder = %folder.display(), error = %e, "a build's cgroup stays");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_cgroupfs_driver_takes_a_path_as_parent() {
        let root = Path::new("/sys/fs/cgroup");
        assert_eq!(
            Hierarchy::of_engine(Some("cgroupfs"), Some("1"), root),
            Hierarchy::V1 {
                root: root.to_owned()
            }
        );
        assert_eq!(
            Hierarchy::of_engine(Some("cgroupfs"), Some("2"), root),
            Hierarchy::V2 {
                root: root.to_owned()
            }
        );
        assert!(matches!(
            Hierarchy::of_engine(Some("systemd"), Some("2"), root),
            Hierarchy::Unsupported { why } if why.contains("systemd")
        ));
    }

    #[test]
    fn a_v1_build_gets_its_limit_in_the_pids_hierarchy_and_leaves_nothing() {
        let root = std::env::temp_dir().join(format!("cg1-{}", std::process::id()));
        std::fs::create_dir_all(root.join("pids")).unwrap();
        std::fs::create_dir_all(root.join("memory")).unwrap();
        let h = Hierarchy::V1 { root: root.clone() };
        let cgroup = h.make("dep-1", 300).unwrap().unwrap();
        assert_eq!(cgroup.parent(), "/slipway-builds/dep-1");
        let limit = root.join("pids/slipway-builds/dep-1/pids.max");
        assert_eq!(std::fs::read_to_string(&limit).unwrap(), "300");
        // What the engine makes in the other hierarchies goes too.
        std::fs::create_dir_all(root.join("memory/slipway-builds/dep-1")).unwrap();
        std::fs::remove_file(&limit).unwrap();
        drop(cgroup);
        assert!(!root.join("pids/slipway-builds/dep-1").exists());
        assert!(!root.join("memory/slipway-builds/dep-1").exists());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_v2_build_enables_pids_for_its_parents_children_once() {
        let root = std::env::temp_dir().join(format!("cg2-{}", std::process::id()));
        std::fs::create_dir_all(root.join(PARENT)).unwrap();
        std::fs::write(root.join("cgroup.subtree_control"), "cpu pids").unwrap();
        std::fs::write(root.join(PARENT).join("cgroup.subtree_control"), "").unwrap();
        let h = Hierarchy::V2 { root: root.clone() };
        let cgroup = h.make("dep-2", 200).unwrap().unwrap();
        assert_eq!(
            std::fs::read_to_string(root.join("cgroup.subtree_control")).unwrap(),
            "cpu pids"
        );
        assert_eq!(
            std::fs::read_to_string(root.join(PARENT).join("cgroup.subtree_control")).unwrap(),
            "+pids"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("slipway-builds/dep-2/pids.max")).unwrap(),
            "200"
        );
        std::fs::remove_file(root.join("slipway-builds/dep-2/pids.max")).unwrap();
        drop(cgroup);
        assert!(!root.join("slipway-builds/dep-2").exists());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn without_cgroupfs_no_cgroup_is_made() {
        let h = Hierarchy::Unsupported { why: "x".into() };
        assert!(h.make("dep-3", 100).unwrap().is_none());
    }
}
