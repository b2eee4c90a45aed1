//! API Gateway's TOKEN authorizer: the bearer token's owner, as a policy
//! allowing the whole API, with the owner in the context for the handlers.

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequest;
use serde_json::{json, Value};
use slipway_core::store::Store;

use crate::auth::owner_for_header;

/// API Gateway answers 401 exactly when the authorizer fails with this message.
pub const UNAUTHORIZED: &str = "Unauthorized";

pub async fn decide(
    store: &Store,
    event: ApiGatewayCustomAuthorizerRequest,
) -> Result<Value, &'static str> {
    let owner = match owner_for_header(store, event.authorization_token.as_deref()).await {
        Ok(owner) => owner.as_str().to_owned(),
        Err(e) if e.status.is_server_error() => return Err("authorizer failed"),
        Err(_) => return Err(UNAUTHORIZED),
    };
    Ok(json!({
        "principalId": owner,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{
                "Action": "execute-api:Invoke",
                "Effect": "Allow",
                "Resource": whole_api(event.method_arn.as_deref().unwrap_or("*")),
            }],
        },
        "context": { "owner": owner },
    }))
}

/// `arn:…:apiId/stage/GET/apps/x` → `arn:…:apiId/stage/*/*`, so a cached
/// verdict covers every route of the API, not just the first one called.
fn whole_api(method_arn: &str) -> String {
    let mut parts = method_arn.splitn(3, '/');
    match (parts.next(), parts.next()) {
        (Some(api), Some(stage)) => format!("{api}/{stage}/*/*"),
        _ => method_arn.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_covers_the_whole_stage() {
        assert_eq!(
            whole_api("arn:aws:execute-api:eu-west-1:1:abc/prod/GET/apps/x"),
            "arn:aws:execute-api:eu-west-1:1:abc/prod/*/*"
        );
    }
}
