//! Lambda: API Gateway's TOKEN authorizer.

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequest;
use lambda_runtime::{service_fn, LambdaEvent};
use slipway_core::store::Store;
use slipway_functions::{authorizer, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_lambda();
    let table = std::env::var("SLIPWAY_TABLE")
        .map_err(|_| "environment variable SLIPWAY_TABLE is required")?;
    let aws = aws_config::load_from_env().await;
    let store = Store::connect(&aws, table);
    let store = &store;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayCustomAuthorizerRequest>| async move {
            authorizer::decide(store, event.payload)
                .await
                .map_err(lambda_runtime::Error::from)
        },
    ))
    .await
}
