//! Source phase of an upload: fetch the archive through a presigned GET,
//! turn a `.zip` into a `.tar.gz`, check every entry (see
//! `slipway_core::archive`) before anything is written, then unpack.
//! Everything streams through files: memory stays bounded whatever the size.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use slipway_core::archive::{ArchiveError, Checker, EntryKind};
use slipway_core::upload::ArchiveFormat;

/// The longest symlink target read from a zip.
const MAX_LINK_TARGET: u64 = 4096;

#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// The user's archive is at fault; the message names what and where.
    #[error("{0}")]
    Refused(String),
    /// Our side failed (disk, network): worth trying again.
    #[error("{0}")]
    Io(String),
}

impl From<ArchiveError> for UnpackError {
    fn from(e: ArchiveError) -> Self {
        UnpackError::Refused(format!("the archive was refused: {e}"))
    }
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> UnpackError {
    UnpackError::Refused(format!(
        "the archive is corrupt or truncated ({what}: {e}); upload it again"
    ))
}

fn io_err(what: &str, e: impl std::fmt::Display) -> UnpackError {
    UnpackError::Io(format!("{what}: {e}"))
}

/// Downloads `url` to `dest`; refused when the object holds more or fewer
/// bytes than `declared` (the size its upload URL was signed for). Errors
/// never quote the URL: it carries a signature and session credentials.
pub async fn fetch(url: &str, declared: u64, dest: &Path) -> Result<u64, UnpackError> {
    let resp = reqwest::get(url)
        .await
        .map_err(|e| io_err("fetching the archive", e.without_url()))?;
    if resp.status() == reqwest::StatusCode::NOT_FOUND {
        return Err(UnpackError::Refused(
            "the archive is no longer in storage; upload it again and deploy".into(),
        ));
    }
    let mut resp = resp
        .error_for_status()
        .map_err(|e| io_err("fetching the archive", e.without_url()))?;
    let mut out = tokio::io::BufWriter::new(
        tokio::fs::File::create(dest)
            .await
            .map_err(|e| io_err("writing the archive", e))?,
    );
    let mut got: u64 = 0;
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| io_err("fetching the archive", e.without_url()))?
    {
        got += chunk.len() as u64;
        if got > declared {
            return Err(UnpackError::Refused(format!(
                "the archive holds more than the {declared} bytes declared when its upload URL was made; upload it again with its real size"
            )));
        }
        tokio::io::AsyncWriteExt::write_all(&mut out, &chunk)
            .await
            .map_err(|e| io_err("writing the archive", e))?;
    }
    tokio::io::AsyncWriteExt::flush(&mut out)
        .await
        .map_err(|e| io_err("writing the archive", e))?;
    if got != declared {
        return Err(UnpackError::Refused(format!(
            "the archive is {got} bytes, not the {declared} declared when its upload URL was made; upload it again"
        )));
    }
    Ok(got)
}

/// Refuses a file whose first bytes are not those of `format`.
pub fn check_format(path: &Path, format: ArchiveFormat, name: &str) -> Result<(), UnpackError> {
    let mut magic = [0u8; 4];
    let n = File::open(path)
        .and_then(|mut f| f.read(&mut magic))
        .map_err(|e| io_err("reading the archive", e))?;
    let ok = match format {
        ArchiveFormat::TarGz => n >= 2 && magic[..2] == [0x1f, 0x8b],
        ArchiveFormat::Zip => n == 4 && (magic == *b"PK\x03\x04" || magic == *b"PK\x05\x06"),
    };
    if ok {
        Ok(())
    } else {
        Err(UnpackError::Refused(format!(
            "{name} is not a {} archive (its content does not start like one); upload a real .{} file",
            format.extension(),
            format.extension()
        )))
    }
}

/// Rewrites a zip as a `.tar.gz`, every entry checked first. Returns the
/// size of the result.
pub fn zip_to_tar_gz(zip_path: &Path, out: &Path, limit: u64) -> Result<u64, UnpackError> {
    let file = File::open(zip_path).map_err(|e| io_err("reading the archive", e))?;
    let mut zip = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| corrupt("zip", e))?;
    // First every entry, from the central directory; nothing written yet.
    let mut checker = Checker::new(limit);
    let mut plan = Vec::with_capacity(zip.len());
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| corrupt("zip", e))?;
        let name = String::from_utf8(entry.name_raw().to_vec())
            .map_err(|_| ArchiveError::BadName(String::from_utf8_lossy(entry.name_raw()).into()))?;
        let mode = entry.unix_mode().unwrap_or(0);
        let kind = match mode & 0o170000 {
            0o020000 => Planned::Special("character device"),
            0o060000 => Planned::Special("block device"),
            0o010000 => Planned::Special("fifo"),
            0o140000 => Planned::Special("socket"),
            _ if entry.is_symlink() => {
                let mut target = String::new();
                (&mut entry)
                    .take(MAX_LINK_TARGET)
                    .read_to_string(&mut target)
                    .map_err(|e| corrupt(&name, e))?;
                Planned::Symlink(target)
            }
            _ if entry.is_dir() => Planned::Dir,
            _ => Planned::File(entry.size()),
        };
        let checked = match &kind {
            Planned::File(size) => checker.check(&name, EntryKind::File { size: *size })?,
            Planned::Dir => checker.check(&name, EntryKind::Dir)?,
            Planned::Symlink(target) => checker.check(&name, EntryKind::Symlink { target })?,
            Planned::Special(k) => checker.check(&name, EntryKind::Special(k))?,
        };
        if let Some(path) = checked {
            plan.push((i, path, kind, mode & 0o777));
        }
    }
    let writer = BufWriter::new(File::create(out).map_err(|e| io_err("writing the archive", e))?);
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        writer,
        flate2::Compression::fast(),
    ));
    for (i, path, kind, mode) in plan {
        let mut header = tar::Header::new_gnu();
        header.set_mtime(0);
        let written = match kind {
            Planned::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                tar.append_data(&mut header, &path, io::empty())
            }
            Planned::Symlink(target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                header.set_size(0);
                tar.append_link(&mut header, &path, &target)
            }
            Planned::File(size) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(file_mode(mode));
                header.set_size(size);
                let entry = zip.by_index(i).map_err(|e| corrupt("zip", e))?;
                // A zip may lie about an entry's size: exactly that many bytes
                // or the archive is refused.
                tar.append_data(&mut header, &path, Exact::new(entry, size, &path))
            }
            Planned::Special(_) => unreachable!("refused by the checker"),
        };
        written.map_err(|e| match e.kind() {
            io::ErrorKind::InvalidData => {
                UnpackError::Refused(format!("the archive was refused: {e}"))
            }
            _ => corrupt(&path, e),
        })?;
    }
    let gz = tar
        .into_inner()
        .map_err(|e| io_err("writing the archive", e))?;
    let mut writer = gz.finish().map_err(|e| io_err("writing the archive", e))?;
    writer
        .flush()
        .map_err(|e| io_err("writing the archive", e))?;
    let len = std::fs::metadata(out)
        .map_err(|e| io_err("writing the archive", e))?
        .len();
    Ok(len)
}

enum Planned {
    File(u64),
    Dir,
    Symlink(String),
    Special(&'static str),
}

/// Owner read/write, and execute for all when any execute bit was set.
fn file_mode(mode: u32) -> u32 {
    if mode & 0o111 != 0 {
        0o755
    } else {
        0o644
    }
}

/// Yields exactly `size` bytes of `inner`, or fails naming the entry.
struct Exact<R> {
    inner: R,
    left: u64,
    name: String,
}

impl<R: Read> Exact<R> {
    fn new(inner: R, size: u64, name: &str) -> Self {
        Self {
            inner,
            left: size,
            name: name.to_owned(),
        }
    }
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("entry {:?} expands past the size it declares", self.name),
                )),
            };
        }
        let max = buf.len().min(self.left as usize);
        let n = self.inner.read(&mut buf[..max])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("entry {:?} is shorter than the size it declares", self.name),
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

fn tar_gz(
    path: &Path,
) -> Result<tar::Archive<flate2::read::GzDecoder<BufReader<File>>>, UnpackError> {
    let file = File::open(path).map_err(|e| io_err("reading the archive", e))?;
    Ok(tar::Archive::new(flate2::read::GzDecoder::new(
        BufReader::new(file),
    )))
}

/// Walks a `.tar.gz`, checking each entry; `each` gets the checked path and
/// the entry to write it from (the check pass passes a no-op).
fn walk(
    path: &Path,
    limit: u64,
    mut each: impl FnMut(
        &str,
        &mut tar::Entry<'_, flate2::read::GzDecoder<BufReader<File>>>,
        EntryKind<'_>,
    ) -> Result<(), UnpackError>,
) -> Result<(), UnpackError> {
    let mut archive = tar_gz(path)?;
    let mut checker = Checker::new(limit);
    for entry in archive.entries().map_err(|e| corrupt("tar.gz", e))? {
        let mut entry = entry.map_err(|e| corrupt("tar.gz", e))?;
        let name = String::from_utf8(entry.path_bytes().into_owned())
            .map_err(|e| ArchiveError::BadName(String::from_utf8_lossy(e.as_bytes()).into()))?;
        let link = match entry.link_name_bytes() {
            Some(l) => Some(
                String::from_utf8(l.into_owned())
                    .map_err(|_| ArchiveError::BadName(name.clone()))?,
            ),
            None => None,
        };
        use tar::EntryType as T;
        let kind = match entry.header().entry_type() {
            T::Regular | T::Continuous => EntryKind::File { size: entry.size() },
            T::Directory => EntryKind::Dir,
            T::Symlink => EntryKind::Symlink {
                target: link.as_deref().unwrap_or_default(),
            },
            T::Link => EntryKind::HardLink {
                target: link.as_deref().unwrap_or_default(),
            },
            T::Char => EntryKind::Special("character device"),
            T::Block => EntryKind::Special("block device"),
            T::Fifo => EntryKind::Special("fifo"),
            T::GNUSparse => EntryKind::Special("sparse file"),
            // Metadata records (pax, GNU long names) are read by `tar` itself.
            T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink => continue,
            _ => EntryKind::Special("entry of an unknown type"),
        };
        if let Some(clean) = checker.check(&name, kind)? {
            each(&clean, &mut entry, kind)?;
        }
    }
    Ok(())
}

/// Checks every entry of a `.tar.gz`, then writes them under `dest` (which
/// must exist and be empty). Nothing is written when any entry is refused.
pub fn unpack_tar_gz(path: &Path, dest: &Path, limit: u64) -> Result<(), UnpackError> {
    walk(path, limit, |clean, entry, _| {
        // Reading the data through proves the gzip stream is whole.
        io::copy(entry, &mut io::sink()).map_err(|e| corrupt(&format!("at entry {clean:?}"), e))?;
        Ok(())
    })?;
    walk(path, limit, |clean, entry, kind| {
        let target = dest.join(clean);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_err("unpacking", e))?;
        }
        match kind {
            EntryKind::Dir => {
                std::fs::create_dir_all(&target).map_err(|e| io_err("unpacking", e))?;
            }
            EntryKind::File { .. } => {
                let _ = std::fs::remove_file(&target);
                let mut out = File::options()
                    .write(true)
                    .create_new(true)
                    .open(&target)
                    .map_err(|e| io_err("unpacking", e))?;
                io::copy(entry, &mut out).map_err(|e| corrupt(clean, e))?;
                let mode = file_mode(entry.header().mode().unwrap_or(0o644));
                out.set_permissions(std::fs::Permissions::from_mode(mode))
                    .map_err(|e| io_err("unpacking", e))?;
            }
            EntryKind::Symlink { target: to } => {
                let _ = std::fs::remove_file(&target);
                std::os::unix::fs::symlink(to, &target).map_err(|e| io_err("unpacking", e))?;
            }
            EntryKind::HardLink { target: to } => {
                let _ = std::fs::remove_file(&target);
                let clean_to: Vec<&str> = to
                    .split('/')
                    .filter(|p| !p.is_empty() && *p != ".")
                    .collect();
                let from = dest.join(clean_to.join("/"));
                std::fs::hard_link(from, &target).map_err(|e| io_err("unpacking", e))?;
            }
            EntryKind::Special(_) => unreachable!("refused by the checker"),
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_must_hold_exactly_the_size_it_declares() {
        let mut out = Vec::new();
        Exact::new(&b"hello"[..], 5, "ok")
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"hello");
        let long = Exact::new(&b"hello world"[..], 5, "bomb").read_to_end(&mut Vec::new());
        assert!(long.unwrap_err().to_string().contains("expands past"));
        let short = Exact::new(&b"hi"[..], 5, "cut").read_to_end(&mut Vec::new());
        assert!(short.unwrap_err().to_string().contains("shorter"));
    }

    #[test]
    fn a_file_is_what_its_first_bytes_say() {
        let dir = std::env::temp_dir().join(format!("slipway-magic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let text = dir.join("a.zip");
        std::fs::write(&text, "not a zip").unwrap();
        assert!(check_format(&text, ArchiveFormat::Zip, "a.zip").is_err());
        assert!(check_format(&text, ArchiveFormat::TarGz, "a.zip").is_err());
        let gz = dir.join("a.tar.gz");
        std::fs::write(&gz, [0x1f, 0x8b, 8, 0]).unwrap();
        assert!(check_format(&gz, ArchiveFormat::TarGz, "a.tar.gz").is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
