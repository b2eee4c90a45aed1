//! The images a Dockerfile builds from (`FROM`, `COPY --from`/`ADD --from`),
//! with the `ARG` defaults before them expanded as the engine would (Slipway
//! passes no build arguments), and whether an app may use them: every app's
//! images sit in one registry and on the same build hosts, so one app must
//! never build from another's.

use std::collections::{BTreeMap, BTreeSet};

use crate::ids::AppId;

/// Why a Dockerfile may not be built, in its author's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BaseImageError {
    #[error("{instruction} {image}: that is another Slipway app's image; build from a public image or from this app's own")]
    AnotherApp {
        instruction: &'static str,
        image: String,
    },
    #[error(
        "{instruction} {image}: an image given by its id is refused; name it (repository:tag)"
    )]
    ById {
        instruction: &'static str,
        image: String,
    },
}

/// One instruction of a Dockerfile: its keyword (upper case) and the rest.
fn instructions(text: &str) -> Vec<(String, String)> {
    let escape = text
        .lines()
        .take_while(|l| l.trim_start().starts_with('#'))
        .find_map(|l| {
            let directive = l.trim_start().trim_start_matches('#').trim();
            let (key, value) = directive.split_once('=')?;
            (key.trim().eq_ignore_ascii_case("escape"))
                .then(|| value.trim().chars().next())
                .flatten()
        })
        .unwrap_or('\\');
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix(escape) {
            current.push_str(head);
            current.push(' ');
            continue;
        }
        if !trimmed.starts_with('#') {
            current.push_str(trimmed);
        }
        let whole = std::mem::take(&mut current);
        let mut parts = whole.trim().splitn(2, char::is_whitespace);
        if let Some(keyword) = parts.next().filter(|k| !k.is_empty()) {
            let rest = parts.next().unwrap_or("").trim().to_owned();
            out.push((keyword.to_ascii_uppercase(), rest));
        }
    }
    out
}

/// `word` with `$NAME`, `${NAME}`, `${NAME:-default}` and `${NAME:+alt}`
/// replaced from `args` (an unknown name is empty).
fn expand(word: &str, args: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = word;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(braced) = after.strip_prefix('{') {
            let Some(end) = braced.find('}') else {
                out.push_str(&rest[at..]);
                return out;
            };
            let inner = &braced[..end];
            let value = if let Some((name, default)) = inner.split_once(":-") {
                args.get(name)
                    .filter(|v| !v.is_empty())
                    .cloned()
                    .unwrap_or_else(|| default.to_owned())
            } else if let Some((name, alt)) = inner.split_once(":+") {
                if args.get(name).is_some_and(|v| !v.is_empty()) {
                    alt.to_owned()
                } else {
                    String::new()
                }
            } else {
                args.get(inner).cloned().unwrap_or_default()
            };
            out.push_str(&value);
            rest = &braced[end + 1..];
        } else {
            let len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            if len == 0 {
                out.push('$');
            } else {
                out.push_str(args.get(&after[..len]).map_or("", String::as_str));
            }
            rest = &after[len..];
        }
    }
    out.push_str(rest);
    out
}

/// `ARG NAME=value` (quotes removed) or `ARG NAME`.
fn arg(rest: &str) -> (String, String) {
    let (name, value) = rest.split_once('=').unwrap_or((rest, ""));
    (
        name.trim().to_owned(),
        value.trim().trim_matches(['"', '\'']).to_owned(),
    )
}

/// The images the Dockerfile `text` names, with the instruction naming each.
/// A `FROM` sees only the `ARG`s declared before the first `FROM`; a
/// `--from` is expanded both with its stage's own `ARG`s and with those
/// (where `ARG NAME` brings a global in), so no spelling slips past.
pub fn images(text: &str) -> Vec<(&'static str, String)> {
    let mut global = BTreeMap::new();
    let mut stage: Option<BTreeMap<String, String>> = None;
    let mut stages = BTreeSet::new();
    let mut found = Vec::new();
    for (keyword, rest) in instructions(text) {
        match keyword.as_str() {
            "ARG" => {
                let (name, value) = arg(&rest);
                match &mut stage {
                    None => {
                        global.insert(name, value);
                    }
                    Some(stage) => {
                        stage.insert(name, value);
                    }
                }
            }
            "FROM" => {
                stage = Some(BTreeMap::new());
                let words: Vec<&str> = rest
                    .split_whitespace()
                    .filter(|w| !w.starts_with("--"))
                    .collect();
                let Some(image) = words.first() else { continue };
                let image = expand(image, &global);
                if let [_, alias, name] = words.as_slice() {
                    if alias.eq_ignore_ascii_case("as") {
                        stages.insert(name.to_ascii_lowercase());
                    }
                }
                if !stages.contains(&image.to_ascii_lowercase()) {
                    found.push(("FROM", image));
                }
            }
            "COPY" | "ADD" => {
                let from = rest
                    .split_whitespace()
                    .take_while(|w| w.starts_with("--"))
                    .find_map(|w| w.strip_prefix("--from="));
                let Some(from) = from else { continue };
                let instruction = if keyword == "COPY" {
                    "COPY --from"
                } else {
                    "ADD --from"
                };
                let scoped = stage.as_ref().unwrap_or(&global);
                let mut spellings = vec![expand(from, scoped), expand(from, &global)];
                spellings.dedup();
                for from in spellings {
                    let is_stage = stages.contains(&from.to_ascii_lowercase())
                        || from.bytes().all(|b| b.is_ascii_digit());
                    if !is_stage {
                        found.push((instruction, from));
                    }
                }
            }
            _ => {}
        }
    }
    found
}

/// The repository path of an image reference, without registry host, tag
/// or digest (`127.0.0.1:5000/slipway/x:1` → `slipway/x`).
fn repository_path(image: &str) -> String {
    let image = image.split('@').next().unwrap_or(image);
    let mut parts: Vec<&str> = image.split('/').collect();
    if parts.len() > 1 {
        let first = parts[0];
        if first.contains('.') || first.contains(':') || first == "localhost" {
            parts.remove(0);
        }
    }
    let path = parts.join("/");
    path.rsplit_once(':')
        .map_or(path.as_str(), |(repo, _tag)| repo)
        .to_ascii_lowercase()
}

/// Refuses a Dockerfile that builds from another app's image (on any
/// registry host: the same registry answers to several names) or from an
/// image given by its id.
pub fn check(text: &str, own: &AppId) -> Result<(), BaseImageError> {
    for (instruction, image) in images(text) {
        let bare = image.trim_start_matches("sha256:");
        if image.starts_with("sha256:")
            || (bare.len() == 64 && bare.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(BaseImageError::ById { instruction, image });
        }
        let path = repository_path(&image);
        let mut parts = path.split('/');
        if let (Some("slipway"), Some(app), None) = (parts.next(), parts.next(), parts.next()) {
            if AppId::parse(app).is_some_and(|id| id != *own) {
                return Err(BaseImageError::AnotherApp { instruction, image });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINE: &str = "01a23b7e-4d88-7366-b4a4-65104ee21522";
    const THEIRS: &str = "01a23b7e-4d88-7366-b4a4-000000000001";

    fn mine() -> AppId {
        AppId::parse(MINE).unwrap()
    }

    fn refused(text: &str) -> Option<String> {
        check(text, &mine()).err().map(|e| e.to_string())
    }

    #[test]
    fn public_base_images_and_the_apps_own_are_allowed() {
        for ok in [
            "FROM slipway/busybox:latest\n".to_owned(),
            "FROM rust:1.80 AS build\nFROM debian:bookworm-slim\nCOPY --from=build /a /a\n".into(),
            format!("FROM 127.0.0.1:5000/slipway/{MINE}:latest\n"),
            format!(
                "FROM registry.example.com/slipway/{MINE}@sha256:{}\n",
                "a".repeat(64)
            ),
            "FROM ghcr.io/acme/slipway/tool:1\n".into(),
            "FROM scratch\nCOPY --from=0 /x /x\n".into(),
        ] {
            assert_eq!(refused(&ok), None, "{ok}");
        }
    }

    #[test]
    fn another_apps_image_is_refused_however_it_is_spelled() {
        for bad in [
            format!("FROM 127.0.0.1:5000/slipway/{THEIRS}:latest\n"),
            format!("from localhost:5000/slipway/{THEIRS}\n"),
            format!("FROM --platform=linux/amd64 registry.internal/slipway/{THEIRS}:abc AS base\n"),
            format!("FROM REGISTRY.example.com/slipway/{THEIRS}@sha256:{}\n", "b".repeat(64)),
            format!("ARG BASE=127.0.0.1:5000/slipway/{THEIRS}\nFROM $BASE\n"),
            format!("ARG HOST=127.0.0.1:5000\nARG APP={THEIRS}\nFROM ${{HOST}}/slipway/${{APP}}:latest\n"),
            format!("ARG UNSET\nFROM ${{UNSET:-127.0.0.1:5000/slipway/{THEIRS}}}\n"),
            format!("FROM debian\nCOPY --from=127.0.0.1:5000/slipway/{THEIRS}:latest /etc/secret /s\n"),
            format!("FROM debian\nADD --chown=1 --from=slipway/{THEIRS} /a /a\n"),
            format!("FROM \\\n  127.0.0.1:5000/slipway/{THEIRS}\n"),
            format!("# escape=`\nFROM `\n  127.0.0.1:5000/slipway/{THEIRS}\n"),
        ] {
            let why = refused(&bad).unwrap_or_else(|| panic!("allowed: {bad}"));
            assert!(why.contains(THEIRS), "{why}");
            assert!(why.contains("another Slipway app's image"), "{why}");
        }
    }

    #[test]
    fn a_from_sees_the_global_args_and_a_stages_args_stay_in_it() {
        // The global value is what the engine builds from, whatever the stage says.
        let sneaky =
            format!("ARG B=127.0.0.1:5000/slipway/{THEIRS}\nFROM debian\nARG B=debian\nFROM $B\n");
        assert!(refused(&sneaky).unwrap().contains(THEIRS));
        // A stage's own ARG does not reach the next FROM.
        let scoped = format!("FROM debian\nARG B=127.0.0.1:5000/slipway/{THEIRS}\nFROM alpine$B\n");
        assert_eq!(
            images(&scoped),
            vec![("FROM", "debian".to_owned()), ("FROM", "alpine".to_owned())]
        );
        // Inside a stage, `ARG NAME` brings the global in; a --from is
        // checked with the stage's value and the global one.
        let imported = format!(
            "ARG X=127.0.0.1:5000/slipway/{THEIRS}\nFROM debian\nARG X\nCOPY --from=$X /a /a\n"
        );
        assert!(refused(&imported).unwrap().contains("COPY --from"));
        let shadowed = format!(
            "ARG X=127.0.0.1:5000/slipway/{THEIRS}\nFROM debian\nARG X=debian\nADD --from=$X /a /a\n"
        );
        let why = refused(&shadowed).unwrap();
        assert!(why.starts_with("ADD --from"), "{why}");
    }

    #[test]
    fn repository_paths_drop_the_host_tag_and_digest() {
        assert_eq!(repository_path("localhost"), "localhost");
        assert_eq!(repository_path("localhost/slipway/x"), "slipway/x");
        assert_eq!(repository_path("myhost:5000"), "myhost");
        assert_eq!(repository_path("a.b/Slipway/X:1@sha256:0"), "slipway/x");
        assert_eq!(repository_path("slipway/busybox"), "slipway/busybox");
    }

    #[test]
    fn an_image_id_is_refused() {
        assert_eq!(refused("FROM cafe\n"), None, "a short hex name is a name");
        let long_name = format!("FROM {}z\n", "a".repeat(63));
        assert_eq!(refused(&long_name), None);
        let id = "c".repeat(64);
        assert!(refused(&format!("FROM sha256:{id}\n"))
            .unwrap()
            .contains("by its id"));
        assert!(refused(&format!("FROM {id}\n"))
            .unwrap()
            .contains("by its id"));
    }

    #[test]
    fn stage_names_are_not_images() {
        let text = format!("FROM debian AS {THEIRS}\nFROM {THEIRS}\nCOPY --from={THEIRS} /a /a\n");
        assert_eq!(
            images(&text),
            vec![("FROM", "debian".to_owned())],
            "a stage named like an id is a stage"
        );
    }

    #[test]
    fn arguments_expand_as_the_engine_expands_them() {
        let args = BTreeMap::from([
            ("A".to_owned(), "x".to_owned()),
            ("E".to_owned(), String::new()),
        ]);
        assert_eq!(
            expand("$A/${A}-${E:-d}-${A:+y}-${E:+n}-$NONE-$", &args),
            "x/x-d-y---$"
        );
        assert_eq!(expand("${A", &args), "${A");
    }
}
