//! The two answers real S3 gives for a key that is not there (aws-smithy-mocks: moto always
//! answers 404). GetObject, "Permissions" (Amazon S3 API Reference): with `s3:ListBucket` on the
//! bucket, 404 NoSuchKey; without it, 403 AccessDenied.

use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::body::SdkBody;

use super::*;

const ACCESS_DENIED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>R</RequestId></Error>"#;
const NO_SUCH_KEY: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>k</Key></Error>"#;

pub(crate) fn answer(status: u16, body: &'static str) -> HttpResponse {
    HttpResponse::new(status.try_into().expect("a status"), SdkBody::from(body))
}

fn get(status: u16, body: &'static str) -> Rule {
    mock!(Client::get_object).then_http_response(move || answer(status, body))
}

fn head(status: u16) -> Rule {
    mock!(Client::head_object).then_http_response(move || answer(status, ""))
}

fn store(rules: &[&Rule]) -> Store {
    Store::from_client(mock_client!(aws_sdk_s3, RuleMode::MatchAny, rules), "b")
}

#[tokio::test]
async fn a_protocol_file_not_written_yet_is_none_under_either_answer() {
    for (status, body) in [(404, NO_SUCH_KEY), (403, ACCESS_DENIED)] {
        let rule = get(status, body);
        let store = store(&[&rule]);
        let got = store.get_if_written("runs/r/start.json").await;
        assert!(matches!(got, Ok(None)), "{status}: {got:?}");
        // Not retried: a missing file is an answer, not a failure.
        assert_eq!(rule.num_calls(), 1, "{status}");
        assert_eq!(store.missing_answers(), [status]);
    }
}

#[tokio::test]
async fn a_heartbeat_not_written_yet_is_none_under_either_answer() {
    for status in [404, 403] {
        let rule = head(status);
        let store = store(&[&rule]);
        let got = store.modified_if_written("runs/r/heartbeat").await;
        assert!(matches!(got, Ok(None)), "{status}: {got:?}");
        assert_eq!(rule.num_calls(), 1);
        assert_eq!(store.missing_answers(), [status]);
    }
}

#[tokio::test]
async fn a_written_file_is_read_and_dated() {
    let rule = mock!(Client::get_object).then_output(|| {
        GetObjectOutput::builder()
            .body(ByteStream::from_static(br#"{"reason":"x"}"#))
            .last_modified(aws_smithy_types::DateTime::from_millis(5_000))
            .build()
    });
    let modified = mock!(Client::head_object).then_output(|| {
        HeadObjectOutput::builder()
            .last_modified(aws_smithy_types::DateTime::from_millis(7_000))
            .build()
    });
    let store = store(&[&rule, &modified]);
    let got = store
        .get_if_written("runs/r/abort.json")
        .await
        .expect("read")
        .expect("written");
    assert_eq!(got.body, br#"{"reason":"x"}"#);
    assert_eq!(got.modified_ms, Some(5_000));
    assert_eq!(
        store
            .modified_if_written("runs/r/heartbeat")
            .await
            .expect("head"),
        Some(7_000)
    );
    assert!(store.missing_answers().is_empty());
}

#[tokio::test]
async fn the_plan_itself_must_be_readable() {
    // plan.json is read with `get`: a 403 there is a real denial, reported (after retries).
    let rule = get(403, ACCESS_DENIED);
    let store = store(&[&rule]);
    let err = store.get("runs/r/plan.json").await.expect_err("denied");
    assert!(err.to_string().contains("AccessDenied"), "{err}");
    assert!(rule.num_calls() > 1, "retried like any failure");
}
