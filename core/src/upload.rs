//! Source archives: the formats accepted, the size limit, where they live,
//! and the body of `POST /apps/{id}/source`.

use serde::{Deserialize, Serialize};

use crate::fields::FieldError;

/// The biggest archive accepted (500 MiB).
pub const MAX_ARCHIVE_BYTES: u64 = 524_288_000;

/// How long an upload URL stays valid.
pub const UPLOAD_URL_SECONDS: u64 = 15 * 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ArchiveFormat {
    #[serde(rename = "tar.gz")]
    TarGz,
    #[serde(rename = "zip")]
    Zip,
}

impl ArchiveFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ArchiveFormat::TarGz => "tar.gz",
            ArchiveFormat::Zip => "zip",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ArchiveFormat::TarGz => "application/gzip",
            ArchiveFormat::Zip => "application/zip",
        }
    }

    /// The format of a stored archive, from its key.
    pub fn of_key(key: &str) -> Option<Self> {
        if key.ends_with(".tar.gz") {
            Some(ArchiveFormat::TarGz)
        } else if key.ends_with(".zip") {
            Some(ArchiveFormat::Zip)
        } else {
            None
        }
    }
}

/// `sources/<appId>/<epoch ms>.<ext>`: the app's one current archive (and
/// briefly the next, until a deploy makes it current).
pub fn archive_key(app_id: &str, epoch_millis: u64, format: ArchiveFormat) -> String {
    format!("sources/{app_id}/{epoch_millis}.{}", format.extension())
}

/// An archive of `size` bytes is within the limit, as declared for its
/// upload URL and as stored (S3 enforces the signed size, the emulator not).
pub fn check_size(size: u64) -> Result<(), UploadRequestError> {
    if size > MAX_ARCHIVE_BYTES {
        return Err(UploadRequestError::TooLarge(size));
    }
    Ok(())
}

/// The body of `POST /apps/{id}/source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadRequest {
    pub format: ArchiveFormat,
    pub size: u64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UploadRequestError {
    #[error(
        "size: {0} bytes is more than the {MAX_ARCHIVE_BYTES} bytes (500 MB) an archive may have"
    )]
    TooLarge(u64),
    #[error(transparent)]
    Field(#[from] FieldError),
}

impl UploadRequest {
    pub fn parse(body: &[u8]) -> Result<Self, UploadRequestError> {
        let value: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| FieldError::new("body", format!("is not JSON: {e}")))?;
        let obj = value.as_object().ok_or_else(|| {
            FieldError::new(
                "body",
                "must be an object such as {\"format\":\"tar.gz\",\"size\":1234}",
            )
        })?;
        if let Some(unknown) = obj
            .keys()
            .find(|k| !["format", "size"].contains(&k.as_str()))
        {
            return Err(FieldError::new(
                unknown.as_str(),
                format!("unknown field {unknown:?}; known fields are format, size"),
            )
            .into());
        }
        let format = match obj.get("format").and_then(|f| f.as_str()) {
            Some("tar.gz") | Some("tgz") => ArchiveFormat::TarGz,
            Some("zip") => ArchiveFormat::Zip,
            _ => {
                return Err(FieldError::new("format", "must be \"tar.gz\" or \"zip\"").into());
            }
        };
        let size = obj
            .get("size")
            .and_then(|s| s.as_u64())
            .filter(|s| *s > 0)
            .ok_or_else(|| {
                FieldError::new(
                    "size",
                    "must be the archive's size in bytes, a positive integer",
                )
            })?;
        check_size(size)?;
        Ok(Self { format, size })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upload_url_lasts_a_quarter_of_an_hour_and_names_its_content_type() {
        assert_eq!(UPLOAD_URL_SECONDS, 900);
        assert_eq!(ArchiveFormat::Zip.content_type(), "application/zip");
        assert_eq!(ArchiveFormat::TarGz.content_type(), "application/gzip");
    }

    #[test]
    fn sizes_and_formats_are_checked() {
        assert_eq!(
            UploadRequest::parse(br#"{"format":"zip","size":10}"#),
            Ok(UploadRequest {
                format: ArchiveFormat::Zip,
                size: 10
            })
        );
        assert_eq!(
            UploadRequest::parse(br#"{"format":"tar.gz","size":524288001}"#),
            Err(UploadRequestError::TooLarge(524_288_001))
        );
        assert!(UploadRequest::parse(br#"{"format":"tar.gz","size":524288000}"#).is_ok());
        for (body, field) in [
            (&br#"{"format":"rar","size":1}"#[..], "format"),
            (br#"{"format":"zip","size":0}"#, "size"),
            (br#"{"format":"zip","size":"1"}"#, "size"),
            (br#"{"format":"zip","size":1,"x":1}"#, "x"),
            (br#"[]"#, "body"),
        ] {
            match UploadRequest::parse(body) {
                Err(UploadRequestError::Field(e)) => assert_eq!(e.field, field),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn keys_name_the_app_and_format() {
        let key = archive_key("a1", 1_700_000_000_000, ArchiveFormat::Zip);
        assert_eq!(key, "sources/a1/1700000000000.zip");
        assert_eq!(ArchiveFormat::of_key(&key), Some(ArchiveFormat::Zip));
        assert_eq!(
            ArchiveFormat::of_key("x.tar.gz"),
            Some(ArchiveFormat::TarGz)
        );
        assert_eq!(ArchiveFormat::of_key("x.rar"), None);
    }
}
