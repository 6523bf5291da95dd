//! A record of every AWS operation this process makes, for the policy-coverage test: with
//! `LOADGATE_RECORD_AWS_CALLS=<file>` set, each SDK operation (and each call made without the
//! SDK: the ECR registry API, DescribeAvailabilityZones) appends `service<TAB>operation` to the
//! file. The test maps the lines to IAM actions with AWS's authorization data and checks the
//! published policies against them (tests/it/policy_coverage.rs). Unset, it costs one
//! environment lookup per client built.

use std::io::Write;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// The variable naming the record file.
pub const ENV: &str = "LOADGATE_RECORD_AWS_CALLS";

/// Appends one call to the record, when recording.
pub fn call(service: &str, operation: &str) {
    let Some(path) = std::env::var_os(ENV) else {
        return;
    };
    // One short line per write with O_APPEND: lines of concurrent processes do not interleave.
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = file.write_all(format!("{service}\t{operation}\n").as_bytes());
    }
}

/// The interceptor to add to a client, when recording.
pub fn interceptor() -> Option<Recorder> {
    std::env::var_os(ENV).map(|_| Recorder)
}

#[derive(Debug)]
pub struct Recorder;

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "loadgate-record-aws-calls"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // Not read_before_execution: a client's interceptors run that before the operation's
        // configuration (its Metadata) is in the bag.
        if let Some(m) = cfg.load::<Metadata>() {
            call(m.service(), m.name());
        }
        Ok(())
    }
}
