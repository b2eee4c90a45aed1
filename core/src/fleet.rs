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
    /// How many apps' live containers it runs.
    #[serde(default)]
    pub apps: u32,
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

/// How new deployments' apps are placed, the same for the whole stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// On the runner that builds it (its image is already there).
    Builder,
    /// On the live runner with the fewest apps, among those with a free slot.
    Spread,
}

impl std::str::FromStr for Placement {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "builder" => Ok(Self::Builder),
            "spread" => Ok(Self::Spread),
            other => Err(format!("{other:?} is not a placement: builder or spread")),
        }
    }
}

/// Whether a runner that received a job runs it, or leaves it for another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Take,
    LeaveTo(String),
}

/// How long a job may wait for the runner it was meant for; then whoever
/// receives it takes it, so nothing waits on a runner that cannot come.
pub const PLACEMENT_PATIENCE: Duration = Duration::from_secs(30);

fn has_room(r: &RunnerRecord, now: SystemTime) -> bool {
    r.presence(now) == Presence::Live && r.state == RunnerState::Running && r.slots_in_use < r.slots
}

/// The live runner with the most free slots (then the fewest apps, then
/// the smallest id): where a failover goes.
pub fn roomiest(records: &[RunnerRecord], now: SystemTime) -> Option<&RunnerRecord> {
    records.iter().filter(|r| has_room(r, now)).min_by(|a, b| {
        (b.slots - b.slots_in_use)
            .cmp(&(a.slots - a.slots_in_use))
            .then(a.apps.cmp(&b.apps))
            .then(a.id.cmp(&b.id))
    })
}

/// Whether runner `me` runs a job it received: one meant for another live
/// runner (`meant_for`) is left to it, and under [`Placement::Spread`] one
/// is left to a live runner with a free slot and fewer apps than `me`;
/// past [`PLACEMENT_PATIENCE`] (`waited`) whoever received it takes it.
pub fn decide(
    records: &[RunnerRecord],
    me: &str,
    now: SystemTime,
    placement: Placement,
    meant_for: Option<&str>,
    waited: Duration,
) -> Decision {
    if waited > PLACEMENT_PATIENCE {
        return Decision::Take;
    }
    if let Some(wanted) = meant_for {
        return match records.iter().find(|r| r.id == wanted) {
            Some(r) if r.id != me && has_room(r, now) => Decision::LeaveTo(r.id.clone()),
            _ => Decision::Take,
        };
    }
    if placement == Placement::Builder {
        return Decision::Take;
    }
    let mine = records.iter().find(|r| r.id == me).map_or(0, |r| r.apps);
    match records
        .iter()
        .filter(|r| r.id != me && has_room(r, now))
        .min_by(|a, b| a.apps.cmp(&b.apps).then(a.id.cmp(&b.id)))
    {
        Some(fewer) if fewer.apps < mine => Decision::LeaveTo(fewer.id.clone()),
        _ => Decision::Take,
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

    fn runner(id: &str, slots: u32, in_use: u32, apps: u32, ago: u64) -> RunnerRecord {
        let (mut r, _) = seen(ago, RunnerState::Running);
        r.id = id.into();
        r.slots = slots;
        r.slots_in_use = in_use;
        r.apps = apps;
        r
    }

    fn now() -> SystemTime {
        seen(0, RunnerState::Running).1
    }

    #[test]
    fn a_failover_goes_to_the_live_runner_with_the_most_free_slots() {
        let fleet = [
            runner("a", 4, 3, 0, 0),
            runner("b", 4, 1, 5, 0),
            runner("c", 4, 1, 2, 0),
            runner("lost", 8, 0, 0, 60),
            runner("full", 2, 2, 0, 0),
        ];
        assert_eq!(
            roomiest(&fleet, now()).unwrap().id,
            "c",
            "3 free, fewer apps than b"
        );
        let (mut draining, _) = seen(0, RunnerState::Draining);
        draining.slots = 9;
        assert_eq!(roomiest(&[draining], now()), None);
        assert_eq!(roomiest(&fleet[3..], now()), None, "lost and full");
        let sizes = [runner("big", 8, 7, 0, 0), runner("small", 2, 0, 9, 0)];
        assert_eq!(
            roomiest(&sizes, now()).unwrap().id,
            "small",
            "free slots, not slots"
        );
        let sizes = [runner("small", 2, 0, 9, 0), runner("big", 8, 7, 0, 0)];
        assert_eq!(roomiest(&sizes, now()).unwrap().id, "small");
        let tie = [runner("y", 2, 0, 1, 0), runner("x", 2, 0, 1, 0)];
        assert_eq!(roomiest(&tie, now()).unwrap().id, "x");
    }

    #[test]
    fn a_job_meant_for_another_live_runner_is_left_to_it_for_a_while() {
        let fleet = [runner("me", 2, 0, 0, 0), runner("other", 2, 0, 0, 0)];
        let soon = Duration::from_secs(1);
        let decide = |meant: Option<&str>, waited| {
            decide(&fleet, "me", now(), Placement::Builder, meant, waited)
        };
        assert_eq!(
            decide(Some("other"), soon),
            Decision::LeaveTo("other".into())
        );
        assert_eq!(decide(Some("me"), soon), Decision::Take);
        assert_eq!(decide(Some("gone"), soon), Decision::Take);
        assert_eq!(decide(None, soon), Decision::Take);
        assert_eq!(
            decide(Some("other"), PLACEMENT_PATIENCE),
            Decision::LeaveTo("other".into())
        );
        assert_eq!(
            decide(Some("other"), PLACEMENT_PATIENCE + Duration::from_millis(1)),
            Decision::Take
        );
        let busy = [runner("me", 2, 0, 0, 0), runner("other", 2, 2, 0, 0)];
        assert_eq!(
            super::decide(&busy, "me", now(), Placement::Builder, Some("other"), soon),
            Decision::Take,
            "no free slot there"
        );
    }

    #[test]
    fn spreading_leaves_a_job_to_a_runner_with_fewer_apps_and_a_free_slot() {
        let soon = Duration::from_secs(1);
        let spread =
            |fleet: &[RunnerRecord]| decide(fleet, "me", now(), Placement::Spread, None, soon);
        assert_eq!(
            spread(&[
                runner("me", 2, 0, 2, 0),
                runner("b", 2, 0, 1, 0),
                runner("c", 2, 0, 0, 0)
            ]),
            Decision::LeaveTo("c".into())
        );
        assert_eq!(
            spread(&[runner("me", 2, 0, 1, 0), runner("b", 2, 0, 1, 0)]),
            Decision::Take,
            "as few as any"
        );
        assert_eq!(
            spread(&[
                runner("full", 2, 2, 0, 0),
                runner("me", 2, 0, 3, 0),
                runner("c", 2, 0, 2, 0)
            ]),
            Decision::LeaveTo("c".into()),
            "compared with this runner's own count"
        );
        assert_eq!(
            spread(&[
                runner("me", 2, 0, 3, 0),
                runner("b", 2, 2, 0, 0),
                runner("c", 2, 0, 0, 90)
            ]),
            Decision::Take,
            "the emptier ones are full or lost"
        );
        assert_eq!(
            decide(
                &[runner("me", 2, 0, 3, 0), runner("b", 2, 0, 0, 0)],
                "me",
                now(),
                Placement::Builder,
                None,
                soon
            ),
            Decision::Take,
            "the builder keeps its apps"
        );
        assert_eq!("spread".parse(), Ok(Placement::Spread));
        assert_eq!("builder".parse(), Ok(Placement::Builder));
        assert!("random".parse::<Placement>().is_err());
    }

    fn seen(ago: u64, state: RunnerState) -> (RunnerRecord, SystemTime) {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let record = RunnerRecord {
            id: "r1".into(),
            edge_address: "10.0.0.1:80".into(),
            publish_address: "127.0.0.1".into(),
            slots: 2,
            slots_in_use: 1,
            apps: 0,
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
