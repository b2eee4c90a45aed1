//! Identifiers and timestamps.

use std::time::{SystemTime, UNIX_EPOCH};

/// A time-ordered id (UUID v7): ids of one app's deployments sort by creation,
/// which is what "newer" means everywhere in Slipway.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Whether `s` is an id this service could have issued; anything else is a
/// 404 without a read.
pub fn is_id(s: &str) -> bool {
    uuid::Uuid::try_parse(s).is_ok_and(|u| u.get_version_num() == 7)
        && s.len() == 36
        && s == s.to_ascii_lowercase()
}

pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the OS random source is available");
    hex::encode(buf)
}

/// A random number below `n` (which must not be 0).
pub fn random_below(n: u64) -> u64 {
    let mut buf = [0u8; 8];
    getrandom::fill(&mut buf).expect("the OS random source is available");
    u64::from_le_bytes(buf) % n
}

/// Now as RFC 3339 in UTC with milliseconds.
pub fn now_rfc3339() -> String {
    rfc3339(SystemTime::now())
}

pub fn rfc3339(t: SystemTime) -> String {
    aws_sdk_dynamodb::primitives::DateTime::from(t)
        .fmt(aws_sdk_dynamodb::primitives::DateTimeFormat::DateTime)
        .expect("times after 1970 format")
}

pub fn epoch_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_creation() {
        let a = new_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_id();
        assert!(a < b);
        assert!(is_id(&a));
        assert!(!is_id("../etc"));
        assert!(!is_id(&a.to_uppercase()));
    }

    #[test]
    fn timestamps_are_rfc3339() {
        let s = rfc3339(UNIX_EPOCH + std::time::Duration::from_millis(1500));
        assert_eq!(s, "1970-01-01T00:00:01.5Z");
    }
}
