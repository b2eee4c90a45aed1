//! The deployment status machine. Statuses only move forward; every store
//! write that changes a status is conditioned on [`DeploymentStatus::predecessors`].

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

    pub fn can_become(self, next: DeploymentStatus) -> bool {
        next.predecessors().contains(&self)
    }
}

impl std::fmt::Display for DeploymentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_happy_path_moves_forward() {
        assert!(Queued.can_become(Building));
        assert!(Building.can_become(Deploying));
        assert!(Deploying.can_become(Running));
        assert!(Running.can_become(Superseded));
    }

    #[test]
    fn nothing_moves_backward_or_out_of_a_terminal_state() {
        for from in DeploymentStatus::ALL {
            for to in DeploymentStatus::ALL {
                if from.is_terminal() || from == to {
                    assert!(!from.can_become(to), "{from} -> {to}");
                }
            }
        }
        assert!(!Running.can_become(Building));
        assert!(!Deploying.can_become(Queued));
        assert!(!Running.can_become(Failed));
    }

    #[test]
    fn names_round_trip() {
        for s in DeploymentStatus::ALL {
            assert_eq!(DeploymentStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(DeploymentStatus::parse("done"), None);
    }
}
