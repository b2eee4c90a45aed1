//! GitHub webhooks: the signature check and what a delivery asks for.

use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::watch_paths::WatchPaths;

/// GitHub caps webhook payloads at 25 MB and drops bigger ones.
pub const MAX_PAYLOAD_BYTES: usize = 25 * 1024 * 1024;

/// GitHub lists at most this many commits in a push; a push listing this
/// many may have more, whose files are unknown.
const MAX_LISTED_COMMITS: usize = 2048;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("the X-Hub-Signature-256 header is missing")]
    Missing,
    #[error("the X-Hub-Signature-256 header is not 'sha256=<64 hex digits>'")]
    Malformed,
    #[error("the signature does not match the body")]
    Mismatch,
}

/// The digest an `X-Hub-Signature-256: sha256=<hex>` header carries. It is
/// read before the app (a missing or malformed header needs no read), and
/// checked against the body with [`verify`].
pub fn parse_signature(header: Option<&str>) -> Result<Vec<u8>, SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let hex_digest = header
        .trim()
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed)?;
    let digest = hex::decode(hex_digest).map_err(|_| SignatureError::Malformed)?;
    if digest.len() != 32 {
        return Err(SignatureError::Malformed);
    }
    Ok(digest)
}

/// Whether `digest` is HMAC-SHA256(`secret`, `body`) over the body bytes
/// exactly as received, compared in constant time.
pub fn verify(secret: &[u8], body: &[u8], digest: &[u8]) -> Result<(), SignatureError> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.verify_slice(digest)
        .map_err(|_| SignatureError::Mismatch)
}

/// The parts of a `push` payload Slipway reads; GitHub sends many more.
#[derive(Debug, Deserialize)]
pub struct Push {
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub after: String,
    #[serde(default)]
    pub deleted: bool,
    pub commits: Option<Vec<PushCommit>>,
    pub head_commit: Option<PushCommit>,
}

#[derive(Debug, Deserialize)]
pub struct PushCommit {
    pub added: Option<Vec<String>>,
    pub removed: Option<Vec<String>>,
    pub modified: Option<Vec<String>>,
}

impl PushCommit {
    fn files(&self) -> Option<impl Iterator<Item = &str>> {
        let (a, r, m) = (
            self.added.as_ref()?,
            self.removed.as_ref()?,
            self.modified.as_ref()?,
        );
        Some(a.iter().chain(r).chain(m).map(String::as_str))
    }
}

/// What a verified delivery asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// `ping`: GitHub checking the hook works.
    Pong,
    /// A push to the app's branch: deploy this commit.
    Deploy { commit: String },
    /// Nothing to do, and why.
    Ignore(String),
}

/// Whether a `Content-Type` is JSON, the only payload format accepted.
pub fn is_json(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

/// An `X-GitHub-Delivery` header: a GUID, or absent. Anything else is
/// refused rather than stored as a key.
pub fn delivery_id(header: Option<&str>) -> Result<Option<&str>, PayloadError> {
    match header {
        None => Ok(None),
        Some(id)
            if (1..=100).contains(&id.len())
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
        {
            Ok(Some(id))
        }
        Some(_) => Err(PayloadError::BadDelivery),
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PayloadError {
    #[error("the X-GitHub-Event header is missing")]
    NoEvent,
    #[error("the X-GitHub-Delivery header is not a delivery id")]
    BadDelivery,
    #[error("the push payload is not what GitHub sends: {0}")]
    Malformed(String),
}

/// Decides what a verified delivery of `event` means for an app deploying
/// `branch`, watching `watch` (empty: every path).
pub fn decide(
    event: Option<&str>,
    body: &[u8],
    branch: &str,
    watch: &WatchPaths,
) -> Result<Verdict, PayloadError> {
    match event.ok_or(PayloadError::NoEvent)? {
        "ping" => Ok(Verdict::Pong),
        "push" => {
            let push: Push =
                serde_json::from_slice(body).map_err(|e| PayloadError::Malformed(e.to_string()))?;
            Ok(decide_push(&push, branch, watch)?)
        }
        other => Ok(Verdict::Ignore(format!(
            "the {other:?} event does not deploy; only pushes do"
        ))),
    }
}

fn decide_push(push: &Push, branch: &str, watch: &WatchPaths) -> Result<Verdict, PayloadError> {
    let pushed_branch = match push.git_ref.strip_prefix("refs/heads/") {
        Some(b) => b,
        None => {
            return Ok(Verdict::Ignore(format!(
                "{} is not a branch; only pushes to {branch} deploy",
                push.git_ref
            )))
        }
    };
    if pushed_branch != branch {
        return Ok(Verdict::Ignore(format!(
            "the push is to branch {pushed_branch}; the app deploys {branch}"
        )));
    }
    if push.deleted {
        return Ok(Verdict::Ignore(format!(
            "branch {branch} was deleted; the running version stays"
        )));
    }
    let commit = push.after.to_ascii_lowercase();
    let is_object_id =
        matches!(commit.len(), 40 | 64) && commit.bytes().all(|b| b.is_ascii_hexdigit());
    if !is_object_id {
        return Err(PayloadError::Malformed(format!(
            "'after' is {:?}, not a commit id",
            push.after
        )));
    }
    if !watch.is_empty() && !touches_watched(push, watch) {
        return Ok(Verdict::Ignore(format!(
            "no changed file matches watchPaths ({})",
            watch.globs().join(", ")
        )));
    }
    Ok(Verdict::Deploy { commit })
}

/// Whether the push changed a watched path. When GitHub's file lists are
/// missing or may be cut short, the answer is yes: better a build too many
/// than a change never deployed.
fn touches_watched(push: &Push, watch: &WatchPaths) -> bool {
    let commits = match &push.commits {
        Some(c) if !c.is_empty() && c.len() < MAX_LISTED_COMMITS => c,
        _ => return true,
    };
    commits.iter().chain(push.head_commit.as_ref()).any(|c| {
        c.files()
            .is_none_or(|mut files| files.any(|f| watch.matches(f)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SHA: &str = "6dcb09b5b57875f334f61aebed695e2e4193db5e";

    /// The `X-Hub-Signature-256` value GitHub would send for `body`.
    fn sign(secret: &[u8], body: &[u8]) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn headers_are_what_github_sends() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(!is_json("application/x-www-form-urlencoded"));
        assert!(!is_json(""));
        let guid = "72d3162e-cc78-11e3-81ab-4c9367dc0958";
        assert_eq!(delivery_id(Some(guid)), Ok(Some(guid)));
        assert_eq!(delivery_id(None), Ok(None));
        assert_eq!(delivery_id(Some("a#b")), Err(PayloadError::BadDelivery));
        assert_eq!(delivery_id(Some("")), Err(PayloadError::BadDelivery));
    }

    /// The webhook's two steps, header then body.
    fn verify_signature(
        secret: &[u8],
        body: &[u8],
        header: Option<&str>,
    ) -> Result<(), SignatureError> {
        verify(secret, body, &parse_signature(header)?)
    }

    #[test]
    fn githubs_published_test_vector_verifies() {
        let secret = b"It's a Secret to Everybody";
        let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(
            verify_signature(secret, b"Hello, World!", Some(header)),
            Ok(())
        );
        assert_eq!(sign(secret, b"Hello, World!"), header);
    }

    #[test]
    fn bad_signatures_are_told_apart() {
        let secret = b"s3cret";
        let good = sign(secret, b"body");
        assert_eq!(
            verify_signature(secret, b"body", None),
            Err(SignatureError::Missing)
        );
        for malformed in ["sha1=abc", "sha256=zz", "sha256=abcd", ""] {
            assert_eq!(
                verify_signature(secret, b"body", Some(malformed)),
                Err(SignatureError::Malformed),
                "{malformed}"
            );
        }
        assert_eq!(
            verify_signature(secret, b"body!", Some(&good)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(b"other", b"body", Some(&good)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(verify_signature(secret, b"body", Some(&good)), Ok(()));
    }

    fn push(git_ref: &str, files: serde_json::Value) -> Vec<u8> {
        json!({
            "ref": git_ref, "before": "0".repeat(40), "after": SHA,
            "created": false, "deleted": false, "forced": false,
            "repository": {"id": 1, "full_name": "acme/api", "pushed_at": 1_700_000_000, "created_at": 1_600_000_000},
            "commits": [{"id": SHA, "message": "m", "added": files["added"], "removed": [], "modified": files["modified"]}],
            "head_commit": {"id": SHA, "message": "m", "added": files["added"], "removed": [], "modified": files["modified"]},
        })
        .to_string()
        .into_bytes()
    }

    fn verdict(event: &str, body: &[u8], watch: &WatchPaths) -> Verdict {
        decide(Some(event), body, "main", watch).unwrap()
    }

    #[test]
    fn a_push_to_the_branch_deploys_its_commit() {
        let body = push("refs/heads/main", json!({"added": ["a"], "modified": []}));
        assert_eq!(
            verdict("push", &body, &WatchPaths::default()),
            Verdict::Deploy { commit: SHA.into() }
        );
    }

    #[test]
    fn after_must_be_a_whole_object_id_of_hex_digits() {
        let none = WatchPaths::default();
        let with_after = |after: &str| {
            let mut body: serde_json::Value = serde_json::from_slice(&push(
                "refs/heads/main",
                json!({"added": [], "modified": []}),
            ))
            .unwrap();
            body["after"] = after.into();
            decide(Some("push"), body.to_string().as_bytes(), "main", &none)
        };
        let sha256 = "a".repeat(64);
        for good in [SHA, sha256.as_str()] {
            assert_eq!(
                with_after(good),
                Ok(Verdict::Deploy {
                    commit: good.into()
                })
            );
        }
        assert_eq!(
            with_after(&SHA.to_ascii_uppercase()),
            Ok(Verdict::Deploy { commit: SHA.into() }),
            "read in lower case"
        );
        let forty_not_hex = format!("{}g", &SHA[..39]);
        let hex_not_forty = &SHA[..39];
        for bad in [forty_not_hex.as_str(), hex_not_forty, "", &"a".repeat(41)] {
            assert!(
                matches!(with_after(bad), Err(PayloadError::Malformed(m)) if m.contains("not a commit id")),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_payload_cap_is_githubs_25_megabytes() {
        assert_eq!(MAX_PAYLOAD_BYTES, 26_214_400);
    }

    #[test]
    fn other_branches_tags_deletions_and_events_are_ignored() {
        let none = WatchPaths::default();
        let files = json!({"added": [], "modified": ["a"]});
        assert!(matches!(
            verdict("push", &push("refs/heads/dev", files.clone()), &none),
            Verdict::Ignore(r) if r.contains("dev")
        ));
        assert!(matches!(
            verdict("push", &push("refs/tags/v1", files.clone()), &none),
            Verdict::Ignore(r) if r.contains("not a branch")
        ));
        let mut deleted: serde_json::Value =
            serde_json::from_slice(&push("refs/heads/main", files)).unwrap();
        deleted["deleted"] = true.into();
        deleted["after"] = "0".repeat(40).into();
        assert!(matches!(
            verdict("push", deleted.to_string().as_bytes(), &none),
            Verdict::Ignore(r) if r.contains("deleted")
        ));
        assert!(matches!(
            verdict("issues", b"{}", &none),
            Verdict::Ignore(_)
        ));
        assert_eq!(verdict("ping", b"{\"zen\":\"x\"}", &none), Verdict::Pong);
        assert_eq!(
            decide(None, b"{}", "main", &none),
            Err(PayloadError::NoEvent)
        );
        assert!(matches!(
            decide(Some("push"), b"{\"ref\":1}", "main", &none),
            Err(PayloadError::Malformed(_))
        ));
    }

    #[test]
    fn watch_paths_filter_pushes_unless_the_file_lists_are_unknown() {
        let watch = WatchPaths::parse("watchPaths", &json!(["services/api/**"])).unwrap();
        let docs = push(
            "refs/heads/main",
            json!({"added": ["docs/a.md"], "modified": []}),
        );
        assert!(
            matches!(verdict("push", &docs, &watch), Verdict::Ignore(r) if r.contains("watchPaths"))
        );
        let api = push(
            "refs/heads/main",
            json!({"added": [], "modified": ["services/api/x"]}),
        );
        assert!(matches!(
            verdict("push", &api, &watch),
            Verdict::Deploy { .. }
        ));

        let mut unknown: serde_json::Value = serde_json::from_slice(&docs).unwrap();
        unknown["commits"] = serde_json::Value::Null;
        assert!(matches!(
            verdict("push", unknown.to_string().as_bytes(), &watch),
            Verdict::Deploy { .. }
        ));
        let mut no_lists: serde_json::Value = serde_json::from_slice(&docs).unwrap();
        no_lists["commits"][0]
            .as_object_mut()
            .unwrap()
            .remove("added");
        no_lists["head_commit"] = serde_json::Value::Null;
        assert!(matches!(
            verdict("push", no_lists.to_string().as_bytes(), &watch),
            Verdict::Deploy { .. }
        ));
        let mut truncated: serde_json::Value = serde_json::from_slice(&docs).unwrap();
        let one = truncated["commits"][0].clone();
        truncated["commits"] = vec![one; MAX_LISTED_COMMITS].into();
        assert!(matches!(
            verdict("push", truncated.to_string().as_bytes(), &watch),
            Verdict::Deploy { .. }
        ));
    }
}
