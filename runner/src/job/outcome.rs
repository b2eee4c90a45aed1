//! How a job ends: what its result means for the deployment (a final
//! status, a retry, a hand-back) and for its message. The mapping is pure
//! ([`settlement`]); `settle.rs` carries it out.

use slipway_core::error_chain::Chain;
use slipway_core::redact::Redactor;
use slipway_core::status::{DeploymentStatus, APP_DELETED};
use slipway_core::store::StoreError;

use super::watch::Stop;

/// Why a deployment ended, as its `error` says.
pub(super) const CANCELLED: &str = "cancelled on request";
pub(super) const REPLACED: &str = "a newer deployment of the app replaced it";

/// What to do with the job's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The deployment reached a final state: delete the message.
    Done,
    /// Something on our side failed: let the message come back later.
    Retry(String),
    /// Shutting down: give the message back at once for another runner.
    HandBack,
    /// Another runner holds the deployment now: leave the message alone.
    LostClaim,
    /// Its owner runs as many builds as it may: queue the job again, as a
    /// new message (waiting must not count as a failed try), after this.
    Requeue(std::time::Duration),
}

/// Why a job did not end live.
#[derive(Debug)]
pub(super) enum Failure {
    /// The user's build or app failed: the deployment ends `failed`, saying
    /// this (the engine's or git's words, or ours about their input).
    User(String),
    /// Our infrastructure failed, with its causes: try again later.
    Infra(anyhow::Error),
    /// Our side is set up wrong in a way only the operator can fix (the
    /// registry refused the runner's login): the deployment ends `failed`
    /// saying so, since trying again cannot help.
    Operator(String),
    Stopped(Stop),
}

impl Failure {
    /// Our failure while doing `what`, caused by the error it is given.
    pub(super) fn infra<E>(what: &'static str) -> impl FnOnce(E) -> Self
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        move |e| Failure::Infra(anyhow::Error::new(e).context(what))
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => Failure::Stopped(Stop::LostClaim),
            other => Failure::Infra(other.into()),
        }
    }
}

/// A job that failed after the watcher saw a reason to stop failed because
/// of that stop (its container was removed, its claim taken): the stop is
/// what happened.
pub(super) fn prefer_stop(result: Result<(), Failure>, stop: Option<Stop>) -> Result<(), Failure> {
    match (result, stop) {
        (Err(Failure::User(_) | Failure::Infra(_) | Failure::Operator(_)), Some(stop)) => {
            Err(Failure::Stopped(stop))
        }
        (result, _) => result,
    }
}

/// What settling a result does.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Settlement {
    /// A line for the build log.
    pub say: Option<String>,
    /// This deployment's new container goes (unless it went live meanwhile).
    pub remove_container: bool,
    pub then: Then,
}

#[derive(Debug, PartialEq, Eq)]
pub(super) enum Then {
    /// Live: nothing more to write.
    Nothing,
    /// The deployment ends in this status, for this reason (under the claim).
    End(DeploymentStatus, String),
    /// The lease is given up so another delivery may claim at once.
    Release(Outcome),
    /// The deployment is another runner's now.
    Leave,
}

/// What `result` calls for. Every reason is masked by `redactor` first: it
/// quotes Docker or git, which may quote the user's own input.
pub(super) fn settlement(result: Result<(), Failure>, redactor: &Redactor) -> Settlement {
    let settle = |say: Option<&str>, remove_container, then| Settlement {
        say: say.map(str::to_owned),
        remove_container,
        then,
    };
    let end = |to, why: &str| Then::End(to, why.to_owned());
    match result {
        Ok(()) => settle(None, false, Then::Nothing),
        Err(Failure::User(reason) | Failure::Operator(reason)) => {
            let reason = redactor.redact(&reason);
            Settlement {
                say: Some(format!("Deployment failed: {reason}")),
                remove_container: false,
                then: Then::End(DeploymentStatus::Failed, reason),
            }
        }
        Err(Failure::Infra(e)) => {
            let reason = redactor.redact(&Chain(e.as_ref()).to_string());
            Settlement {
                say: Some(format!(
                    "Slipway hit an internal problem and will retry: {reason}"
                )),
                remove_container: true,
                then: Then::Release(Outcome::Retry(reason)),
            }
        }
        Err(Failure::Stopped(stop)) => match stop {
            Stop::Cancelled => settle(
                Some("Cancelled on request; the running version is unchanged."),
                true,
                end(DeploymentStatus::Cancelled, CANCELLED),
            ),
            Stop::Superseded => settle(
                Some("A newer deployment replaced this one."),
                true,
                end(DeploymentStatus::Superseded, REPLACED),
            ),
            Stop::AppDeleted => settle(None, true, end(DeploymentStatus::Cancelled, APP_DELETED)),
            Stop::Shutdown => settle(
                Some("This build host is shutting down; another runner takes the deployment over."),
                true,
                Then::Release(Outcome::HandBack),
            ),
            Stop::LostClaim | Stop::LostMessage => settle(None, true, Then::Leave),
            Stop::TimedOut(limit) => {
                let reason = format!(
                    "the build timed out after {} s; make it faster (cache its slow steps) or ask the operator for a longer limit",
                    limit.as_secs()
                );
                Settlement {
                    say: Some(format!("Deployment failed: {reason}")),
                    remove_container: true,
                    then: Then::End(DeploymentStatus::Failed, reason),
                }
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> Result<(), Failure> {
        Err(Failure::User("exit 1".into()))
    }

    fn infra(text: &'static str) -> Result<(), Failure> {
        Err(Failure::Infra(anyhow::anyhow!(text)))
    }

    fn settlement(result: Result<(), Failure>) -> Settlement {
        super::settlement(result, &Redactor::new(["hunter2"]))
    }

    /// What a failure is, for comparing.
    fn kind(result: Result<(), Failure>) -> String {
        match result {
            Ok(()) => "ok".into(),
            Err(Failure::User(r)) => format!("user {r}"),
            Err(Failure::Infra(e)) => format!("infra {e}"),
            Err(Failure::Operator(r)) => format!("operator {r}"),
            Err(Failure::Stopped(s)) => format!("stopped {s:?}"),
        }
    }

    #[test]
    fn a_live_deployment_needs_nothing_more() {
        let s = settlement(Ok(()));
        assert_eq!(s.then, Then::Nothing);
        assert!(!s.remove_container && s.say.is_none());
    }

    #[test]
    fn the_users_failure_ends_it_failed_with_the_reason() {
        let s = settlement(user());
        assert_eq!(s.then, Then::End(DeploymentStatus::Failed, "exit 1".into()));
        assert_eq!(s.say.as_deref(), Some("Deployment failed: exit 1"));
        // A container that never got ready was already removed by its launch.
        assert!(!s.remove_container);
    }

    #[test]
    fn our_failure_is_retried_and_releases_the_lease() {
        let s = settlement(infra("engine down"));
        assert_eq!(s.then, Then::Release(Outcome::Retry("engine down".into())));
        assert!(s.remove_container);
        assert!(s.say.unwrap().contains("will retry: engine down"));
    }

    #[test]
    fn a_reason_shows_its_causes_and_never_a_secret() {
        let cause = std::io::Error::other("token hunter2 refused");
        let failed = Err(Failure::Infra(
            anyhow::Error::new(cause).context("pushing the image"),
        ));
        assert_eq!(
            settlement(failed).then,
            Then::Release(Outcome::Retry(
                "pushing the image: token [REDACTED] refused".into()
            ))
        );
        let s = settlement(Err(Failure::User("echo hunter2: exit 1".into())));
        assert_eq!(
            s.then,
            Then::End(DeploymentStatus::Failed, "echo [REDACTED]: exit 1".into())
        );
        assert!(!s.say.unwrap().contains("hunter2"));
    }

    #[test]
    fn each_stop_ends_as_it_should() {
        let cases = [
            (
                Stop::Cancelled,
                Then::End(DeploymentStatus::Cancelled, CANCELLED.into()),
            ),
            (
                Stop::Superseded,
                Then::End(DeploymentStatus::Superseded, REPLACED.into()),
            ),
            (
                Stop::AppDeleted,
                Then::End(DeploymentStatus::Cancelled, APP_DELETED.into()),
            ),
            (Stop::Shutdown, Then::Release(Outcome::HandBack)),
            (Stop::LostClaim, Then::Leave),
            (Stop::LostMessage, Then::Leave),
            (
                Stop::TimedOut(std::time::Duration::from_secs(20)),
                Then::End(
                    DeploymentStatus::Failed,
                    "the build timed out after 20 s; make it faster (cache its slow steps) or ask the operator for a longer limit".into(),
                ),
            ),
        ];
        for (stop, then) in cases {
            let s = settlement(Err(Failure::Stopped(stop)));
            assert_eq!(s.then, then, "{stop:?}");
            assert!(
                s.remove_container,
                "{stop:?} leaves no half-started container"
            );
        }
    }

    #[test]
    fn a_stop_seen_by_the_watcher_explains_a_failure() {
        assert_eq!(
            kind(prefer_stop(user(), Some(Stop::Cancelled))),
            "stopped Cancelled"
        );
        assert_eq!(
            kind(prefer_stop(infra("x"), Some(Stop::LostClaim))),
            "stopped LostClaim"
        );
        assert_eq!(kind(prefer_stop(user(), None)), "user exit 1");
        assert_eq!(kind(prefer_stop(infra("x"), None)), "infra x");
        // A job that went live did so, whatever was seen afterwards.
        assert_eq!(kind(prefer_stop(Ok(()), Some(Stop::Superseded))), "ok");
        assert_eq!(
            kind(prefer_stop(
                Err(Failure::Stopped(Stop::Shutdown)),
                Some(Stop::Cancelled)
            )),
            "stopped Shutdown"
        );
    }
}
