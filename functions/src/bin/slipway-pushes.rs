//! Lambda on the push queue: links each verified push as its app's newest
//! deployment and sends the build job (see `pushes`).

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{service_fn, LambdaEvent};
use slipway_functions::{config::Config, pushes, state::AppState, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_lambda();
    let state = AppState::from_env(Config::from_env()?).await;
    let state = &state;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, lambda_runtime::Error>(pushes::handle_batch(state, event.payload).await)
    }))
    .await
}
