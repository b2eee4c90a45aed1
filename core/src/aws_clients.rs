//! AWS clients that need more than the shared configuration.

/// S3 with virtual-host addressing on AWS, path-style addressing when an
/// endpoint is set (the local emulator has no per-bucket host names).
pub fn s3(shared: &aws_types::SdkConfig) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(shared)
        .force_path_style(shared.endpoint_url().is_some())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}
