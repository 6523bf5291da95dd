//! The one place that loads AWS configuration and makes service clients, so every AWS call goes
//! through the same HTTP client (rustls with ring: no C toolchain beyond ring's, and the same TLS
//! stack in the static worker image) and the same error wording.
//!
//! Region and credentials come from the standard chain (environment, profile, web identity in
//! GitHub Actions, the ECS task role on Fargate). `AWS_ENDPOINT_URL` points every client at an
//! emulator (moto in the tests), in which case S3 uses path-style addressing, since
//! `bucket.127.0.0.1` does not resolve.

use std::fmt;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::cloud::record;
use crate::{Error, Result};

/// Loaded AWS configuration; cheap to clone, and clients made from it share one connection pool.
#[derive(Clone, Debug)]
pub struct Aws {
    config: SdkConfig,
}

impl Aws {
    /// Loads the standard configuration chain; `region` overrides it (`--region`).
    pub async fn load(region: Option<&str>) -> Result<Aws> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = region {
            loader = loader.region(Region::new(region.to_string()));
        }
        Aws::load_from(loader).await
    }

    /// Loads from a loader the caller has set up (tests give an emulator's endpoint and fixed
    /// credentials this way, without touching the process environment).
    pub async fn load_from(loader: aws_config::ConfigLoader) -> Result<Aws> {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let config = loader.http_client(http).load().await;
        if config.region().is_none() {
            return Err(Error::infra(
                "no AWS region is configured",
                "pass --region, or set AWS_REGION (aws-actions/configure-aws-credentials sets it)"
                    .to_string(),
            ));
        }
        Ok(Aws { config })
    }

    /// For tests and callers that built their own configuration.
    pub fn from_config(config: SdkConfig) -> Aws {
        Aws { config }
    }

    pub fn config(&self) -> &SdkConfig {
        &self.config
    }

    pub fn region(&self) -> &str {
        self.config.region().map_or("", |r| r.as_ref())
    }

    /// True when an endpoint override (`AWS_ENDPOINT_URL`) sends calls to an emulator.
    pub fn emulated(&self) -> bool {
        self.config.endpoint_url().is_some()
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
        let mut conf =
            aws_sdk_s3::config::Builder::from(&self.config).force_path_style(self.emulated());
        if let Some(r) = record::interceptor() {
            conf = conf.interceptor(r);
        }
        aws_sdk_s3::Client::from_conf(conf.build())
    }

    /// An S3 client for a bucket in another region than the configured one (a `--history`
    /// bucket elsewhere: S3 answers requests sent to the wrong region with a redirect).
    pub fn s3_in(&self, region: &str) -> aws_sdk_s3::Client {
        let mut conf = aws_sdk_s3::config::Builder::from(&self.config)
            .region(Region::new(region.to_string()))
            .force_path_style(self.emulated());
        if let Some(r) = record::interceptor() {
            conf = conf.interceptor(r);
        }
        aws_sdk_s3::Client::from_conf(conf.build())
    }

    pub fn ecs(&self) -> aws_sdk_ecs::Client {
        let mut conf = aws_sdk_ecs::config::Builder::from(&self.config);
        if let Some(r) = record::interceptor() {
            conf = conf.interceptor(r);
        }
        aws_sdk_ecs::Client::from_conf(conf.build())
    }

    pub fn cloudformation(&self) -> aws_sdk_cloudformation::Client {
        let mut conf = aws_sdk_cloudformation::config::Builder::from(&self.config);
        if let Some(r) = record::interceptor() {
            conf = conf.interceptor(r);
        }
        aws_sdk_cloudformation::Client::from_conf(conf.build())
    }

    pub fn ecr(&self) -> aws_sdk_ecr::Client {
        let mut conf = aws_sdk_ecr::config::Builder::from(&self.config);
        if let Some(r) = record::interceptor() {
            conf = conf.interceptor(r);
        }
        aws_sdk_ecr::Client::from_conf(conf.build())
    }

    pub fn ssm(&self) -> aws_sdk_ssm::Client {
        let mut conf = aws_sdk_ssm::config::Builder::from(&self.config);
        if let Some(r) = record::interceptor() {
            conf = conf.interceptor(r);
        }
        aws_sdk_ssm::Client::from_conf(conf.build())
    }

    pub fn service_quotas(&self) -> aws_sdk_servicequotas::Client {
        let mut conf = aws_sdk_servicequotas::config::Builder::from(&self.config);
        if let Some(r) = record::interceptor() {
            conf = conf.interceptor(r);
        }
        aws_sdk_servicequotas::Client::from_conf(conf.build())
    }
}

/// The error code of a failed call (`ThrottlingException`, `ValidationError`...), if AWS sent one.
pub fn error_code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    match err {
        SdkError::ServiceError(e) => e.err().code(),
        _ => None,
    }
}

/// The error message AWS sent with a failed call, if any.
pub fn error_message<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    match err {
        SdkError::ServiceError(e) => e.err().message(),
        _ => None,
    }
}

/// Turns a failed AWS call into exit code 3 with a message that says what was attempted, what AWS
/// answered and what to do. `doing` reads after "cannot": `create stack loadgate`.
pub fn error<E, R>(doing: impl fmt::Display, err: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: fmt::Debug,
{
    let (answer, help) = match &err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let code = e.code().unwrap_or("error");
            let message = e.message().unwrap_or("(no message)");
            let help = match code {
                "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" => {
                    "the credentials lack a permission: `loadgate stack policy --run` prints the \
                     policy everyday runs need (`--deploy` for the one-time deployment)"
                }
                // AWS's answer both to an unknown access key and to any call into an opt-in
                // region the account has not enabled, which is the likelier cause in a new region.
                "UnrecognizedClientException" | "InvalidClientTokenId" => {
                    "AWS does not accept these credentials in this region: if it is an opt-in \
                     region (af-south-1, ap-east-1, eu-south-1, me-south-1, ...), enable it for the \
                     account (AWS console, Account, AWS Regions); otherwise check the access key"
                }
                "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" => {
                    "the AWS credentials have expired: refresh them and run again"
                }
                c if c.contains("Throttl") || c == "TooManyRequestsException" || c == "SlowDown" => {
                    "AWS is throttling this account: retry later, or lower the number of workers"
                }
                _ => {
                    "see the AWS message above; run with the same credentials in the AWS console \
                      or CLI to investigate"
                }
            };
            (format!("{code}: {message}"), help)
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => (
            describe_chain(&err),
            "AWS could not be reached: check the network, the region, and AWS_ENDPOINT_URL if set",
        ),
        _ => (
            describe_chain(&err),
            "check the AWS credentials (environment, profile or web identity) and the region",
        ),
    };
    Error::infra(format!("cannot {doing}: {answer}"), help.to_string())
}

/// An error and its sources on one line: the SDK's own Display is often just "dispatch failure".
fn describe_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let s = e.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        source = e.source();
    }
    text
}
