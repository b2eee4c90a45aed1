//! The fleet's build hosts as the table knows them: each runner announces
//! itself every few seconds, and one not seen for its deadline is missing.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::ids::parse_rfc3339;

/// How long a runner's record stays in the table after it was last seen
/// (the table's TTL removes it then), so a lost host stays visible for a day.
const RECORD_KEPT: Duration = Duration::from_secs(24 * 3600);

/// The `expiresAt` of a record last seen at `seen`.
pub fn expires_at(seen: SystemTime) -> u64 {
    (seen + RECORD_KEPT)
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// What a runner says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunnerRecord {
    pub id: String,
    /// Where its edge takes the apps' traffic.
    pub edge_address: String,
    /// The address its apps' containers are published on.
    pub publish_address: String,
    pub slots: u32,
    pub slots_in_use: u32,
    pub version: String,
    pub state: RunnerState,
    pub started_at: String,
    pub last_seen_at: String,
    /// Not seen for this long, it counts as lost.
    pub deadline_seconds: u64,
    /// Epoch seconds; the table's TTL.
    pub expires_at: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunnerState {
    /// Taking jobs.
    Running,
    /// Stopping: finishing its builds, taking no new ones.
    Draining,
    /// Stopped on purpose.
    Stopped,
}

/// Whether a runner is there, as of a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "presence")]
pub enum Presence {
    Live,
    Draining,
    Stopped,
    /// Not seen for longer than its deadline, without having stopped.
    Missing {
        for_seconds: u64,
    },
}

impl RunnerRecord {
    pub fn presence(&self, now: SystemTime) -> Presence {
        if self.state == RunnerState::Stopped {
            return Presence::Stopped;
        }
        let since = parse_rfc3339(&self.last_seen_at)
            .and_then(|seen| now.duration_since(seen).ok())
            .unwrap_or_default();
        if since > Duration::from_secs(self.deadline_seconds) {
            return Presence::Missing {
                for_seconds: since.as_secs(),
            };
        }
        match self.state {
            RunnerState::Draining => Presence::Draining,
            _ => Presence::Live,
        }
    }
}

impl std::fmt::Display for Presence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Live => f.write_str("live"),
            Self::Draining => f.write_str("draining"),
            Self::Stopped => f.write_str("stopped"),
            Self::Missing { for_seconds } => write!(f, "missing ({for_seconds} s)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::rfc3339;

    fn seen(ago: u64, state: RunnerState) -> (RunnerRecord, SystemTime) {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let record = RunnerRecord {
            id: "r1".into(),
            edge_address: "10.0.0.1:80".into(),
            publish_address: "127.0.0.1".into(),
            slots: 2,
            slots_in_use: 1,
            version: "0.1.0".into(),
            state,
            started_at: rfc3339(now - Duration::from_secs(3600)),
            last_seen_at: rfc3339(now - Duration::from_secs(ago)),
            deadline_seconds: 30,
            expires_at: 0,
        };
        (record, now)
    }

    #[test]
    fn a_runner_is_missing_only_past_its_deadline_without_having_stopped() {
        let at = |ago, state| {
            let (r, now) = seen(ago, state);
            r.presence(now)
        };
        assert_eq!(at(30, RunnerState::Running), Presence::Live);
        assert_eq!(
            at(31, RunnerState::Running),
            Presence::Missing { for_seconds: 31 }
        );
        assert_eq!(at(5, RunnerState::Draining), Presence::Draining);
        assert_eq!(
            at(90, RunnerState::Draining),
            Presence::Missing { for_seconds: 90 }
        );
        assert_eq!(at(3600, RunnerState::Stopped), Presence::Stopped);
        assert_eq!(at(31, RunnerState::Running).to_string(), "missing (31 s)");
    }

    #[test]
    fn a_record_is_kept_a_day_after_it_was_last_seen() {
        let seen = UNIX_EPOCH + Duration::from_secs(1_000);
        assert_eq!(expires_at(seen), 1_000 + 86_400);
    }

    #[test]
    fn the_record_speaks_the_tables_names() {
        let (r, _) = seen(0, RunnerState::Draining);
        let v = serde_json::to_value(&r).unwrap();
        for key in [
            "edgeAddress",
            "publishAddress",
            "slotsInUse",
            "lastSeenAt",
            "deadlineSeconds",
            "expiresAt",
        ] {
            assert!(v.get(key).is_some(), "{key} in {v}");
        }
        assert_eq!(v["state"], "draining");
    }
}
