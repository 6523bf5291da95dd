//! Fifty workers reading their secrets at the same instant from a Parameter Store that allows 40
//! transactions a second (its default throughput, shared by GetParameter and GetParameters:
//! AWS Systems Manager endpoints and quotas). moto never throttles, so an HTTP client of the
//! tests' plays SSM: a fixed one-second window of 40 calls, ThrottlingException past it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::RetryConfig;
use serde_json::{json, Value};

use super::*;

const TPS: u32 = 40;

#[derive(Debug)]
struct State {
    window: Mutex<(Instant, u32)>,
    served: AtomicUsize,
    throttled: AtomicUsize,
}

#[derive(Clone, Debug)]
struct ThrottlingSsm(Arc<State>);

impl ThrottlingSsm {
    fn new() -> ThrottlingSsm {
        ThrottlingSsm(Arc::new(State {
            window: Mutex::new((Instant::now(), 0)),
            served: AtomicUsize::new(0),
            throttled: AtomicUsize::new(0),
        }))
    }

    fn admit(&self) -> bool {
        let mut w = self.0.window.lock().expect("lock");
        if w.0.elapsed() >= Duration::from_secs(1) {
            *w = (Instant::now(), 0);
        }
        if w.1 >= TPS {
            return false;
        }
        w.1 += 1;
        true
    }

    fn answer(&self, request: &HttpRequest) -> HttpResponse {
        let json = |status: u16, body: Value| {
            let mut r = HttpResponse::new(
                status.try_into().expect("status"),
                SdkBody::from(body.to_string()),
            );
            r.headers_mut()
                .insert("content-type", "application/x-amz-json-1.1");
            r
        };
        if !self.admit() {
            self.0.throttled.fetch_add(1, Ordering::SeqCst);
            return json(
                400,
                json!({"__type": "ThrottlingException", "message": "Rate exceeded"}),
            );
        }
        self.0.served.fetch_add(1, Ordering::SeqCst);
        let target = request.headers().get("x-amz-target").unwrap_or_default();
        let body: Value = request
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or_default();
        let param = |name: &str| json!({"Name": name, "Value": format!("value of {name}"), "Type": "SecureString"});
        if target.ends_with(".GetParameters") {
            let names = body["Names"].as_array().cloned().unwrap_or_default();
            let params: Vec<Value> = names.iter().filter_map(|n| n.as_str()).map(param).collect();
            json(200, json!({"Parameters": params, "InvalidParameters": []}))
        } else {
            json(
                200,
                json!({"Parameter": param(body["Name"].as_str().unwrap_or_default())}),
            )
        }
    }
}

impl HttpConnector for ThrottlingSsm {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        HttpConnectorFuture::ready(Ok(self.answer(&request)))
    }
}

impl HttpClient for ThrottlingSsm {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

/// One worker's client, as production builds it: the SDK's standard retries included.
fn client(ssm: &ThrottlingSsm) -> aws_sdk_ssm::Client {
    let conf = aws_sdk_ssm::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("a", "b", None, None, "test"))
        .retry_config(RetryConfig::standard())
        .http_client(ssm.clone())
        .build();
    aws_sdk_ssm::Client::from_conf(conf)
}

fn refs(n: usize) -> Vec<SecretRef> {
    (0..n)
        .map(|i| SecretRef {
            placeholder: format!("{{{{loadgate-secret-{i}}}}}"),
            parameter: format!("/loadgate/lg/runs/r1/secret-{i}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_workers_start_together_under_ssm_throttling() {
    let ssm = ThrottlingSsm::new();
    let refs = refs(12);
    let until = Instant::now() + Duration::from_secs(120);
    let workers: Vec<_> = (0..50)
        .map(|_| {
            let (client, refs) = (client(&ssm), refs.clone());
            tokio::spawn(async move { get(&client, &refs, until).await })
        })
        .collect();
    let mut failed = BTreeMap::new();
    for (i, w) in workers.into_iter().enumerate() {
        match w.await.expect("joined") {
            Ok(values) => {
                assert_eq!(values.len(), 12);
                for (r, v) in values {
                    assert_eq!(v, format!("value of {}", r.parameter));
                }
            }
            Err(e) => {
                failed.insert(i, e.to_string());
            }
        }
    }
    assert!(
        failed.is_empty(),
        "{} workers lost: {failed:?}",
        failed.len()
    );
    // The store did throttle (so the retries were exercised), and the reads were batched: two
    // GetParameters calls a worker for 12 secrets.
    assert!(ssm.0.throttled.load(Ordering::SeqCst) > 0);
    assert_eq!(ssm.0.served.load(Ordering::SeqCst), 100);
}

#[tokio::test]
async fn throttling_past_the_deadline_is_an_error_naming_the_parameters() {
    let ssm = ThrottlingSsm::new();
    // Spend the window, so every call is throttled until it turns.
    *ssm.0.window.lock().expect("lock") = (Instant::now() + Duration::from_secs(3600), TPS);
    let err = get(
        &client(&ssm),
        &refs(1),
        Instant::now() + Duration::from_millis(50),
    )
    .await
    .expect_err("throttled until the deadline");
    let text = err.to_string();
    assert!(text.contains("ThrottlingException"), "{text}");
    assert!(text.contains("/loadgate/lg/runs/r1/secret-0"), "{text}");
}

#[test]
fn secrets_ssm_cannot_hold_are_refused_naming_the_variable_only() {
    let mut secrets = Secrets::default();
    let big = "x".repeat(ADVANCED_MAX + 1);
    secrets.add(&big);
    let env = vec![("BIG_CERT".to_string(), big.clone())];
    let err = check_sizes(&secrets, env).expect_err("too long");
    assert_eq!(err.exit_code(), crate::error::EXIT_INVALID_INPUT);
    let text = err.to_string();
    assert!(text.contains("BIG_CERT"), "{text}");
    assert!(!text.contains(&big[..20]), "the value leaked: {text}");

    let mut secrets = Secrets::default();
    secrets.add(&"y".repeat(STANDARD_MAX));
    secrets.add(&"z".repeat(STANDARD_MAX + 1));
    let env = vec![
        ("SMALL".to_string(), "y".repeat(STANDARD_MAX)),
        ("LARGE".to_string(), "z".repeat(STANDARD_MAX + 1)),
    ];
    assert_eq!(check_sizes(&secrets, env).expect("fits"), ["LARGE"]);
}

#[tokio::test]
async fn each_value_goes_to_the_tier_that_holds_it() {
    use aws_sdk_ssm::operation::put_parameter::PutParameterOutput;
    use aws_sdk_ssm::types::ParameterTier;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    // SSM refuses a Standard parameter over 4,096 characters ("Standard tier parameters
    // support a maximum parameter value of 4096 characters"); moto does not check it.
    let standard = mock!(aws_sdk_ssm::Client::put_parameter)
        .match_requests(|r| {
            r.tier() == Some(&ParameterTier::Standard)
                && r.value().is_some_and(|v| v.len() <= STANDARD_MAX)
        })
        .then_output(|| PutParameterOutput::builder().build());
    let advanced = mock!(aws_sdk_ssm::Client::put_parameter)
        .match_requests(|r| {
            r.tier() == Some(&ParameterTier::Advanced)
                && r.value().is_some_and(|v| v.len() > STANDARD_MAX)
        })
        .then_output(|| PutParameterOutput::builder().build());
    let ssm = mock_client!(aws_sdk_ssm, RuleMode::MatchAny, [&standard, &advanced]);
    let mut r = refs(2);
    let values = vec![
        (r.remove(0), "s".repeat(STANDARD_MAX)),
        (r.remove(0), "a".repeat(STANDARD_MAX + 1)),
    ];
    put(&ssm, &values).await.expect("stored");
    assert_eq!((standard.num_calls(), advanced.num_calls()), (1, 1));
}
