//! Log set-up shared by the binaries.

/// Lambda: no timestamps and no colours, CloudWatch adds its own.
pub fn init_lambda() {
    tracing_subscriber::fmt()
        .with_env_filter(filter())
        .without_time()
        .with_ansi(false)
        .init();
}

/// Locally, log lines go to stderr: stdout carries what scripts read.
pub fn init_local() {
    tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .init();
}

fn filter() -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,aws_config=warn,aws_smithy_runtime=warn")
    })
}
