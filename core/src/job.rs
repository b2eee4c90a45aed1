//! The SQS job message: ids only, never configuration or credentials, so a
//! message can be read by anyone with queue access without leaking a thing.

use serde::{Deserialize, Serialize};

use crate::ids::{AppId, DeploymentId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobMessage {
    pub deployment_id: DeploymentId,
    pub app_id: AppId,
}

impl JobMessage {
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("two strings always serialise")
    }

    pub fn decode(body: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_holds_exactly_two_ids() {
        let (d, a) = (DeploymentId::new(), AppId::new());
        let m = JobMessage {
            deployment_id: d.clone(),
            app_id: a.clone(),
        };
        let v: serde_json::Value = serde_json::from_str(&m.encode()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"deploymentId": d.as_str(), "appId": a.as_str()})
        );
        assert_eq!(JobMessage::decode(&m.encode()).unwrap(), m);
        let extra = format!(r#"{{"deploymentId":"{d}","appId":"{a}","token":"x"}}"#);
        assert!(JobMessage::decode(&extra).is_err());
    }
}
