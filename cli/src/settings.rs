//! Where the API is and the token to call it with: `SLIPWAY_API` and
//! `SLIPWAY_TOKEN`, else `.slipway/local.env` (written by `make up`) in this
//! directory or one above it.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{0} is not set; export it (or run `make up`, which writes .slipway/local.env)")]
    Missing(&'static str),
}

pub struct Settings {
    pub api: String,
    pub token: String,
}

impl Settings {
    pub fn load() -> Result<Self, SettingsError> {
        let file = std::env::current_dir()
            .ok()
            .and_then(|dir| find_local_env(&dir))
            .and_then(|path| std::fs::read_to_string(path).ok())
            .unwrap_or_default();
        let get = |name: &'static str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .or_else(|| value_in(&file, name))
                .ok_or(SettingsError::Missing(name))
        };
        Ok(Self {
            api: get("SLIPWAY_API")?.trim_end_matches('/').to_owned(),
            token: get("SLIPWAY_TOKEN")?,
        })
    }
}

fn find_local_env(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|dir| dir.join(".slipway/local.env"))
        .find(|p| p.is_file())
}

/// `NAME=value` (optionally `export`ed, optionally quoted) from an env file.
fn value_in(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let line = line.trim();
        let line = line.strip_prefix("export ").unwrap_or(line);
        let value = line.strip_prefix(name)?.strip_prefix('=')?;
        Some(value.trim_matches(|c| c == '"' || c == '\'').to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files_are_read_like_a_shell_would() {
        let text = "# local\nSLIPWAY_API=http://127.0.0.1:8780\nexport SLIPWAY_TOKEN='slw_abc'\n";
        assert_eq!(
            value_in(text, "SLIPWAY_API").as_deref(),
            Some("http://127.0.0.1:8780")
        );
        assert_eq!(value_in(text, "SLIPWAY_TOKEN").as_deref(), Some("slw_abc"));
        assert_eq!(value_in(text, "SLIPWAY"), None);
    }
}
