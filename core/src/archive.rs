//! The rules every entry of an uploaded archive passes before anything of
//! the archive is written: it stays inside the tree, its links point inside
//! the tree, it is a file, a directory or a link, and the whole expands to
//! no more than a cap (zip and gzip bombs).

use std::collections::HashSet;

/// Entries an archive may have.
pub const MAX_ENTRIES: usize = 200_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchiveError {
    #[error("entry {0:?} has an absolute path")]
    Absolute(String),
    #[error("entry {0:?} leaves the archive through '..'")]
    Traversal(String),
    #[error("entry {0:?} has an empty, NUL-holding or non-UTF-8 name")]
    BadName(String),
    #[error("entry {entry:?} is a link to {target:?}, outside the archive")]
    LinkOutside { entry: String, target: String },
    #[error(
        "entry {entry:?} is a hard link to {target:?}, which is not a file earlier in the archive"
    )]
    HardLinkOutside { entry: String, target: String },
    #[error("entry {entry:?} lies behind the link {link:?}")]
    ThroughLink { entry: String, link: String },
    #[error("entry {entry:?} is a {kind}; only files, directories and links are accepted")]
    Special { entry: String, kind: &'static str },
    #[error("the archive expands past {limit} bytes (at entry {entry:?})")]
    TooBig { entry: String, limit: u64 },
    #[error("the archive has more than {MAX_ENTRIES} entries")]
    TooManyEntries,
}

/// What an entry is, as the archive says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind<'a> {
    File {
        size: u64,
    },
    Dir,
    Symlink {
        target: &'a str,
    },
    HardLink {
        target: &'a str,
    },
    /// A device, a fifo, a socket: never written.
    Special(&'static str),
}

/// Checks an archive's entries in order, keeping what later entries are
/// checked against.
#[derive(Debug)]
pub struct Checker {
    limit: u64,
    total: u64,
    entries: usize,
    files: HashSet<String>,
    links: HashSet<String>,
}

impl Checker {
    /// `limit`: the most bytes the files may hold in all.
    pub fn new(limit: u64) -> Self {
        Self {
            limit,
            total: 0,
            entries: 0,
            files: HashSet::new(),
            links: HashSet::new(),
        }
    }

    /// The entry's path made relative and clean (`None`: the root itself),
    /// or why it may not be written.
    pub fn check(
        &mut self,
        raw: &str,
        kind: EntryKind<'_>,
    ) -> Result<Option<String>, ArchiveError> {
        self.entries += 1;
        if self.entries > MAX_ENTRIES {
            return Err(ArchiveError::TooManyEntries);
        }
        if raw.contains('\0') {
            return Err(ArchiveError::BadName(raw.to_owned()));
        }
        if raw.starts_with('/') || raw.starts_with('\\') || has_drive(raw) {
            return Err(ArchiveError::Absolute(raw.to_owned()));
        }
        let parts: Vec<&str> = raw
            .split('/')
            .filter(|p| !p.is_empty() && *p != ".")
            .collect();
        if parts.contains(&"..") {
            return Err(ArchiveError::Traversal(raw.to_owned()));
        }
        if parts.is_empty() {
            return match kind {
                EntryKind::Dir => Ok(None),
                _ => Err(ArchiveError::BadName(raw.to_owned())),
            };
        }
        let path = parts.join("/");
        for i in 1..parts.len() {
            let ancestor = parts[..i].join("/");
            if self.links.contains(&ancestor) {
                return Err(ArchiveError::ThroughLink {
                    entry: raw.to_owned(),
                    link: ancestor,
                });
            }
        }
        match kind {
            EntryKind::File { size } => {
                self.total = self.total.saturating_add(size);
                if self.total > self.limit {
                    return Err(ArchiveError::TooBig {
                        entry: raw.to_owned(),
                        limit: self.limit,
                    });
                }
                self.files.insert(path.clone());
            }
            EntryKind::Dir => {}
            EntryKind::Symlink { target } => {
                if !link_stays_inside(&parts[..parts.len() - 1], target) {
                    return Err(ArchiveError::LinkOutside {
                        entry: raw.to_owned(),
                        target: target.to_owned(),
                    });
                }
                self.links.insert(path.clone());
            }
            EntryKind::HardLink { target } => {
                let clean: Vec<&str> = target
                    .split('/')
                    .filter(|p| !p.is_empty() && *p != ".")
                    .collect();
                let inside = !target.starts_with('/') && !clean.contains(&"..");
                if !inside || !self.files.contains(&clean.join("/")) {
                    return Err(ArchiveError::HardLinkOutside {
                        entry: raw.to_owned(),
                        target: target.to_owned(),
                    });
                }
                self.files.insert(path.clone());
            }
            EntryKind::Special(kind) => {
                return Err(ArchiveError::Special {
                    entry: raw.to_owned(),
                    kind,
                })
            }
        }
        Ok(Some(path))
    }
}

fn has_drive(raw: &str) -> bool {
    let b = raw.as_bytes();
    b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

/// Whether a relative symlink in `dir` pointing at `target` resolves inside
/// the tree (lexically: the tree has no other links to follow).
fn link_stays_inside(dir: &[&str], target: &str) -> bool {
    if target.is_empty() || target.starts_with('/') || target.contains('\0') || has_drive(target) {
        return false;
    }
    let mut depth = dir.len();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return false,
            },
            _ => depth += 1,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(size: u64) -> EntryKind<'static> {
        EntryKind::File { size }
    }

    #[test]
    fn plain_entries_are_cleaned() {
        let mut c = Checker::new(100);
        assert_eq!(c.check("./", EntryKind::Dir), Ok(None));
        assert_eq!(c.check("./src/", EntryKind::Dir), Ok(Some("src".into())));
        assert_eq!(
            c.check("src//main.rs", file(10)),
            Ok(Some("src/main.rs".into()))
        );
        assert_eq!(
            c.check(
                "bin/run",
                EntryKind::Symlink {
                    target: "../src/main.rs"
                }
            ),
            Ok(Some("bin/run".into()))
        );
        assert_eq!(
            c.check(
                "copy.rs",
                EntryKind::HardLink {
                    target: "./src/main.rs"
                }
            ),
            Ok(Some("copy.rs".into()))
        );
    }

    #[test]
    fn hostile_entries_are_named() {
        let mut c = Checker::new(1000);
        assert_eq!(
            c.check("../evil", file(1)),
            Err(ArchiveError::Traversal("../evil".into()))
        );
        assert_eq!(
            c.check("a/../../evil", file(1)),
            Err(ArchiveError::Traversal("a/../../evil".into()))
        );
        assert_eq!(
            c.check("/abs", file(1)),
            Err(ArchiveError::Absolute("/abs".into()))
        );
        assert_eq!(
            c.check("C:/x", file(1)),
            Err(ArchiveError::Absolute("C:/x".into()))
        );
        assert!(matches!(
            c.check("etc", EntryKind::Symlink { target: "/etc" }),
            Err(ArchiveError::LinkOutside { .. })
        ));
        assert!(matches!(
            c.check(
                "up",
                EntryKind::Symlink {
                    target: "a/../../x"
                }
            ),
            Err(ArchiveError::LinkOutside { .. })
        ));
        assert!(matches!(
            c.check(
                "pw",
                EntryKind::HardLink {
                    target: "/etc/passwd"
                }
            ),
            Err(ArchiveError::HardLinkOutside { .. })
        ));
        assert!(matches!(
            c.check("pw", EntryKind::HardLink { target: "not-seen" }),
            Err(ArchiveError::HardLinkOutside { .. })
        ));
        assert!(matches!(
            c.check("null", EntryKind::Special("character device")),
            Err(ArchiveError::Special { .. })
        ));
        // A link inside the tree is fine, but nothing may be written through it.
        c.check("lib", EntryKind::Symlink { target: "src" })
            .unwrap();
        assert_eq!(
            c.check("lib/x", file(1)),
            Err(ArchiveError::ThroughLink {
                entry: "lib/x".into(),
                link: "lib".into()
            })
        );
    }

    #[test]
    fn dot_and_empty_parts_of_a_link_target_climb_no_folder() {
        for target in ["././../../etc", "a//../../../x", ".//..//..", "./../.."] {
            let mut c = Checker::new(10);
            assert!(
                matches!(
                    c.check("dir/link", EntryKind::Symlink { target }),
                    Err(ArchiveError::LinkOutside { .. })
                ),
                "{target}"
            );
        }
        for target in ["./../b", "..//b", "./.", "a//b/../..", "../dir/./x"] {
            let mut c = Checker::new(10);
            assert!(
                c.check("dir/link", EntryKind::Symlink { target }).is_ok(),
                "{target}"
            );
        }
        let mut c = Checker::new(10);
        assert!(c.check("top", EntryKind::Symlink { target: "" }).is_err());
        assert!(c
            .check("top", EntryKind::Symlink { target: "C:x" })
            .is_err());
    }

    #[test]
    fn a_hard_link_names_a_file_seen_before_by_a_relative_path() {
        let mut c = Checker::new(10);
        c.check("a", file(1)).unwrap();
        c.check("d/b", file(1)).unwrap();
        assert!(c.check("h1", EntryKind::HardLink { target: "a" }).is_ok());
        assert!(c
            .check("h2", EntryKind::HardLink { target: "./d//b" })
            .is_ok());
        for target in ["/a", "d/../a", "../a"] {
            assert!(
                matches!(
                    c.check("h3", EntryKind::HardLink { target }),
                    Err(ArchiveError::HardLinkOutside { .. })
                ),
                "{target}"
            );
        }
    }

    #[test]
    fn the_number_of_entries_is_capped() {
        let mut c = Checker::new(10);
        for _ in 0..MAX_ENTRIES {
            c.check("d", EntryKind::Dir).unwrap();
        }
        assert_eq!(
            c.check("d", EntryKind::Dir),
            Err(ArchiveError::TooManyEntries)
        );
        assert_eq!(MAX_ENTRIES, 200_000);
    }

    #[test]
    fn the_expanded_size_is_capped() {
        let mut c = Checker::new(100);
        c.check("a", file(60)).unwrap();
        c.check("b", file(40)).unwrap();
        assert!(matches!(
            c.check("c", file(1)),
            Err(ArchiveError::TooBig { limit: 100, .. })
        ));
        let mut c = Checker::new(100);
        c.check("a", file(60)).unwrap();
        assert!(matches!(
            c.check("b", file(41)),
            Err(ArchiveError::TooBig { limit: 100, .. })
        ));
        let mut c = Checker::new(u64::MAX);
        c.check("a", file(u64::MAX)).unwrap();
        assert!(c.check("b", file(1)).is_ok(), "saturates, never wraps");
    }
}
