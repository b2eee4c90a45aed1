//! Where things live in the bucket.

/// Build log chunks of one deployment, in sequence order when listed.
pub fn log_prefix(deployment_id: &str) -> String {
    format!("logs/{deployment_id}/")
}

pub fn log_chunk(deployment_id: &str, seq: u64) -> String {
    format!("logs/{deployment_id}/{seq:010}")
}

/// The sequence number of a chunk key.
pub fn log_seq(key: &str) -> Option<u64> {
    key.rsplit('/').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_keys_sort_by_sequence_and_parse_back() {
        let a = log_chunk("d", 9);
        let b = log_chunk("d", 10);
        assert!(a < b);
        assert!(a.starts_with(&log_prefix("d")));
        assert_eq!(log_seq(&b), Some(10));
        assert_eq!(log_seq("logs/d/x"), None);
    }
}
