//! Lambda: reading apps and deployments, deleting apps, cancelling.

use slipway_functions::{config::Config, router, routes, state::AppState, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_lambda();
    let state = AppState::from_env(Config::from_env()?).await;
    lambda_http::run(router::apps_routes(state).fallback(routes::not_found)).await
}
