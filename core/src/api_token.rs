//! API bearer tokens: random, shown once, stored only as their SHA-256.

use sha2::{Digest, Sha256};

const PREFIX: &str = "slw_";

/// A new random token for an owner, to hand to them once.
pub fn generate() -> String {
    format!("{PREFIX}{}", crate::ids::random_hex(32))
}

/// What the table stores instead of the token.
pub fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The token from an `Authorization` header value, if it is a bearer token.
pub fn from_authorization(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && token.len() <= 512)
        .then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_stored_as_digests() {
        let a = generate();
        assert!(a.starts_with(PREFIX) && a.len() == PREFIX.len() + 64);
        assert_ne!(a, generate());
        assert_eq!(digest(&a).len(), 64);
        assert!(!digest(&a).contains(&a[PREFIX.len()..]));
    }

    #[test]
    fn only_bearer_headers_carry_a_token() {
        assert_eq!(from_authorization("Bearer abc"), Some("abc"));
        assert_eq!(from_authorization("bearer  abc "), Some("abc"));
        assert_eq!(from_authorization("Basic abc"), None);
        assert_eq!(from_authorization("Bearer "), None);
        assert_eq!(from_authorization("abc"), None);
    }
}
