//! The deployment status machine. Statuses only move forward; every store
//! write that changes a status is conditioned on [`DeploymentStatus::predecessors`].

use serde::{Deserialize, Serialize};

/// Why a deployment was cancelled because its app is gone (the push
/// recorder and the runner both say it).
pub const APP_DELETED: &str = "the app was deleted";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum DeploymentStatus {
    Queued,
    Building,
    Deploying,
    Running,
    Failed,
    Cancelled,
    Superseded,
}

use DeploymentStatus::*;

impl DeploymentStatus {
    pub const ALL: [DeploymentStatus; 7] = [
        Queued, Building, Deploying, Running, Failed, Cancelled, Superseded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Queued => "queued",
            Building => "building",
            Deploying => "deploying",
            Running => "running",
            Failed => "failed",
            Cancelled => "cancelled",
            Superseded => "superseded",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// No further change once here.
    pub fn is_terminal(self) -> bool {
        matches!(self, Failed | Cancelled | Superseded)
    }

    /// Work still to be done by a runner.
    pub fn is_in_progress(self) -> bool {
        matches!(self, Queued | Building | Deploying)
    }

    /// The statuses from which `self` may be reached.
    pub fn predecessors(self) -> &'static [DeploymentStatus] {
        match self {
            Queued => &[],
            Building => &[Queued],
            Deploying => &[Building],
            Running => &[Deploying],
            Failed | Cancelled => &[Queued, Building, Deploying],
            // A live deployment is superseded when a newer one replaces it.
            Superseded => &[Queued, Building, Deploying, Running],
        }
    }
}

impl std::fmt::Display for DeploymentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a user sees as an app's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum AppStatus {
    /// Never deployed.
    New,
    Queued,
    Building,
    Deploying,
    Running,
    Failed,
    Cancelled,
    Superseded,
    Stopped,
    Deleted,
}

impl AppStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AppStatus::New => "new",
            AppStatus::Stopped => "stopped",
            AppStatus::Deleted => "deleted",
            AppStatus::Queued => DeploymentStatus::Queued.as_str(),
            AppStatus::Building => DeploymentStatus::Building.as_str(),
            AppStatus::Deploying => DeploymentStatus::Deploying.as_str(),
            AppStatus::Running => DeploymentStatus::Running.as_str(),
            AppStatus::Failed => DeploymentStatus::Failed.as_str(),
            AppStatus::Cancelled => DeploymentStatus::Cancelled.as_str(),
            AppStatus::Superseded => DeploymentStatus::Superseded.as_str(),
        }
    }
}

impl From<DeploymentStatus> for AppStatus {
    fn from(s: DeploymentStatus) -> Self {
        match s {
            DeploymentStatus::Queued => AppStatus::Queued,
            DeploymentStatus::Building => AppStatus::Building,
            DeploymentStatus::Deploying => AppStatus::Deploying,
            DeploymentStatus::Running => AppStatus::Running,
            DeploymentStatus::Failed => AppStatus::Failed,
            DeploymentStatus::Cancelled => AppStatus::Cancelled,
            DeploymentStatus::Superseded => AppStatus::Superseded,
        }
    }
}

impl std::fmt::Display for AppStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn can_become(from: DeploymentStatus, to: DeploymentStatus) -> bool {
        to.predecessors().contains(&from)
    }

    #[test]
    fn the_happy_path_moves_forward() {
        assert!(can_become(Queued, Building));
        assert!(can_become(Building, Deploying));
        assert!(can_become(Deploying, Running));
        assert!(can_become(Running, Superseded));
    }

    fn those(pick: impl Fn(DeploymentStatus) -> bool) -> Vec<DeploymentStatus> {
        DeploymentStatus::ALL
            .into_iter()
            .filter(|s| pick(*s))
            .collect()
    }

    #[test]
    fn exactly_these_statuses_are_final_and_exactly_these_still_work() {
        assert_eq!(those(|s| s.is_terminal()), [Failed, Cancelled, Superseded]);
        assert_eq!(those(|s| s.is_in_progress()), [Queued, Building, Deploying]);
        // Running is neither: the work is done, yet a newer deploy may still
        // supersede it.
        assert!(!Running.is_terminal() && !Running.is_in_progress());
    }

    #[test]
    fn every_move_allowed_is_one_of_these() {
        let mut allowed = Vec::new();
        for from in DeploymentStatus::ALL {
            for to in DeploymentStatus::ALL {
                if can_become(from, to) {
                    allowed.push((from, to));
                }
            }
        }
        assert_eq!(
            allowed,
            [
                (Queued, Building),
                (Queued, Failed),
                (Queued, Cancelled),
                (Queued, Superseded),
                (Building, Deploying),
                (Building, Failed),
                (Building, Cancelled),
                (Building, Superseded),
                (Deploying, Running),
                (Deploying, Failed),
                (Deploying, Cancelled),
                (Deploying, Superseded),
                (Running, Superseded),
            ]
        );
    }

    #[test]
    fn nothing_moves_backward_or_out_of_a_terminal_state() {
        for from in DeploymentStatus::ALL {
            for to in DeploymentStatus::ALL {
                if from.is_terminal() || from == to {
                    assert!(!can_become(from, to), "{from} -> {to}");
                }
            }
        }
        assert!(!can_become(Running, Building));
        assert!(!can_become(Deploying, Queued));
        assert!(!can_become(Running, Failed));
    }

    #[test]
    fn names_round_trip() {
        for s in DeploymentStatus::ALL {
            assert_eq!(DeploymentStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(s.to_string(), s.as_str());
        }
        assert_eq!(DeploymentStatus::parse("done"), None);
    }
}
