//! Run history in S3: [`history::Blobs`](crate::history::Blobs) over a bucket and key prefix.
//! Only bytes and keys cross this boundary; what they mean is history.rs's business.
//!
//! The history traits are synchronous (they are called between the phases of a run, not during
//! the load), while the SDK is async. The store owns a small tokio runtime with one worker
//! thread and hands each call to it, waiting on a channel. Unlike `Runtime::block_on`, this
//! neither panics when the caller is itself inside a runtime (the Fargate controller) nor
//! needs one; and a connection pool used only on this runtime never outlives it. Dropping the
//! store shuts the runtime down in the background, which is also allowed anywhere.

use std::future::Future;
use std::sync::{mpsc, Arc, Mutex};

use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::aws::{self, Aws};
use crate::history::{Blobs, Children};
use crate::{Error, Result};

/// The key prefix of history in a stack's bucket (DESIGN.md, "Distributed run on Fargate").
pub const HISTORY_PREFIX: &str = "history/";

/// [`Blobs`] under `s3://<bucket>/<prefix>`.
#[derive(Debug)]
pub struct S3Blobs {
    aws: Aws,
    /// The client for the bucket's region: the configured one until S3 says otherwise.
    client: Arc<Mutex<aws_sdk_s3::Client>>,
    bucket: String,
    /// Empty or ending in `/`.
    prefix: String,
    bridge: Bridge,
}

impl S3Blobs {
    /// History in `bucket` under `prefix` (e.g. [`HISTORY_PREFIX`]), with `aws`'s credentials.
    pub fn new(aws: &Aws, bucket: &str, prefix: &str) -> Result<S3Blobs> {
        Ok(S3Blobs {
            aws: aws.clone(),
            client: Arc::new(Mutex::new(aws.s3())),
            bucket: bucket.to_string(),
            prefix: normalise(prefix),
            bridge: Bridge::new()?,
        })
    }

    /// `s3://bucket[/prefix]`, with AWS configuration from the standard chain; `region`
    /// overrides it. Without a prefix, the stack's layout: `history/`.
    pub fn from_url(url: &str, region: Option<&str>) -> Result<S3Blobs> {
        let (bucket, prefix) = parse_url(url)?;
        let bridge = Bridge::new()?;
        let region = region.map(str::to_string);
        let aws = bridge.run(async move { Aws::load(region.as_deref()).await })?;
        Ok(S3Blobs {
            client: Arc::new(Mutex::new(aws.s3())),
            aws,
            bucket,
            prefix,
            bridge,
        })
    }

    /// What a call needs to move to the bucket's region if S3 redirects it.
    fn regional(&self) -> Regional {
        Regional {
            aws: self.aws.clone(),
            slot: self.client.clone(),
        }
    }

    fn url(&self, key: &str) -> String {
        format!("s3://{}/{}{key}", self.bucket, self.prefix)
    }
}

impl Blobs for S3Blobs {
    fn put(&self, key: &str, bytes: &[u8]) -> Result<()> {
        // A PUT replaces an object whole: readers see the old or the new one, never half.
        let (bucket, key_in, bytes) = (
            self.bucket.clone(),
            format!("{}{key}", self.prefix),
            bytes.to_vec(),
        );
        let doing = format!("write {}", self.url(key));
        let regional = self.regional();
        self.bridge.run(async move {
            regional
                .send(&doing, move |client| {
                    client
                        .put_object()
                        .bucket(&bucket)
                        .key(&key_in)
                        .content_type("application/json")
                        .body(ByteStream::from(bytes.clone()))
                        .send()
                })
                .await?;
            Ok(())
        })
    }

    fn get(&self, key: &str) -> Result<Vec<u8>> {
        let (bucket, key_in) = (self.bucket.clone(), format!("{}{key}", self.prefix));
        let doing = format!("read {}", self.url(key));
        let regional = self.regional();
        self.bridge.run(async move {
            let object = regional
                .send(&doing, move |client| {
                    client.get_object().bucket(&bucket).key(&key_in).send()
                })
                .await?;
            let body = object.body.collect().await.map_err(|e| {
                Error::infra(
                    format!("cannot {doing}: the download broke off: {e}"),
                    "retry; check the network if it keeps failing".to_string(),
                )
            })?;
            Ok(body.into_bytes().to_vec())
        })
    }

    fn children(&self, dir: &str) -> Result<Children> {
        let regional = self.regional();
        let bucket = self.bucket.clone();
        let prefix = format!("{}{dir}", self.prefix);
        let doing = format!("list {}", self.url(dir));
        self.bridge.run(async move {
            let mut children = Children::default();
            let mut token: Option<String> = None;
            // ListObjectsV2 returns at most 1,000 keys a page.
            loop {
                let (b, p, t) = (bucket.clone(), prefix.clone(), token.clone());
                let page = regional
                    .send(&doing, move |client| {
                        client
                            .list_objects_v2()
                            .bucket(&b)
                            .prefix(&p)
                            .delimiter("/")
                            .set_continuation_token(t.clone())
                            .send()
                    })
                    .await?;
                for object in page.contents() {
                    if let Some(name) = object.key().and_then(|k| k.strip_prefix(&prefix)) {
                        children.files.push(name.to_string());
                    }
                }
                for common in page.common_prefixes() {
                    let name = common
                        .prefix()
                        .and_then(|p| p.strip_prefix(&prefix))
                        .and_then(|p| p.strip_suffix('/'));
                    if let Some(name) = name.filter(|n| !n.is_empty()) {
                        children.dirs.push(name.to_string());
                    }
                }
                token = page.next_continuation_token().map(str::to_string);
                if token.is_none() || page.is_truncated() != Some(true) {
                    return Ok(children);
                }
            }
        })
    }

    fn describe(&self) -> String {
        format!("history s3://{}/{}", self.bucket, self.prefix)
    }
}

/// Sends S3 calls with the bucket's region's client, moving there when S3 says the bucket is
/// elsewhere: a 301 PermanentRedirect (or, in regions opened after March 2019, a 400) with the
/// bucket's region in its `x-amz-bucket-region` header ("Request redirection and the REST API",
/// Amazon S3 User Guide; HeadBucket, Amazon S3 API Reference).
struct Regional {
    aws: Aws,
    slot: Arc<Mutex<aws_sdk_s3::Client>>,
}

impl Regional {
    async fn send<T, E, F, Fut>(&self, doing: &str, call: F) -> Result<T>
    where
        F: Fn(aws_sdk_s3::Client) -> Fut,
        Fut: Future<Output = std::result::Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let client = match self.slot.lock() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        let current = client.config().region().map(|r| r.to_string());
        // S3's 500/503 SlowDown past the SDK's own 3 attempts: a few more rounds, as the run's
        // protocol files get, so that a run's history entry is not lost to a bad minute of S3.
        let mut round = 0;
        let err = loop {
            round += 1;
            match call(client.clone()).await {
                Ok(v) => return Ok(v),
                Err(e) if round < ROUNDS && transient(&e) => {
                    crate::cloud::run::store::backoff(round).await
                }
                Err(e) => break e,
            }
        };
        // Moved once at most: a redirect to the region already used is an answer to report.
        let Some(region) = bucket_region(&err).filter(|r| Some(r) != current.as_ref()) else {
            return Err(aws::error(doing, err));
        };
        eprintln!("loadgate: S3 says the history bucket is in {region}: using that region");
        let moved = self.aws.s3_in(&region);
        if let Ok(mut slot) = self.slot.lock() {
            *slot = moved.clone();
        }
        call(moved).await.map_err(|e| aws::error(doing, e))
    }
}

/// Rounds of the SDK's attempts for one history read or write.
const ROUNDS: u32 = 3;

/// An answer worth another round: S3 busy or failing (5xx, SlowDown, throttling) or the network;
/// never a 404 or a refusal, which another round would only repeat.
fn transient<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    match err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            true
        }
        _ => {
            err.raw_response()
                .is_some_and(|r| r.status().as_u16() >= 500)
                || aws::error_code(err).is_some_and(|c| c == "SlowDown" || c.contains("Throttl"))
        }
    }
}

/// The region S3 names in a redirect-or-wrong-region answer, if it is one.
fn bucket_region<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> Option<String> {
    let response = err.raw_response()?;
    let status = response.status().as_u16();
    let code = aws::error_code(err).unwrap_or_default();
    let wrong_region = status == 301
        || matches!(
            code,
            "PermanentRedirect"
                | "AuthorizationHeaderMalformed"
                | "IllegalLocationConstraintException"
        );
    if !wrong_region {
        return None;
    }
    let from_header = response
        .headers()
        .get("x-amz-bucket-region")
        .map(str::to_string);
    // "the region 'us-east-1' is wrong; expecting 'af-south-1'"
    let from_message = || {
        let message = aws::error_message(err)?;
        let (_, rest) = message.split_once("expecting '")?;
        rest.split_once('\'').map(|(r, _)| r.to_string())
    };
    from_header.or_else(from_message).filter(|r| {
        !r.is_empty()
            && r.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    })
}

/// `s3://bucket[/prefix]` -> (bucket, prefix ending in `/`). Invalid input (exit 2) when it is
/// not an S3 URL a bucket could have.
pub fn parse_url(url: &str) -> Result<(String, String)> {
    let invalid = |why: &str| {
        Error::input(format!(
            "--history {url}: {why}; expected s3://BUCKET or s3://BUCKET/PREFIX, or a directory"
        ))
    };
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| invalid("not an s3:// URL"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    // S3's bucket naming rules: 3-63 lowercase letters, digits, dots and hyphens.
    let valid_bucket = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    if !valid_bucket {
        return Err(invalid(&format!("`{bucket}` is not a valid bucket name")));
    }
    let prefix = prefix.trim_matches('/');
    let prefix = if prefix.is_empty() {
        HISTORY_PREFIX.to_string()
    } else {
        normalise(prefix)
    };
    Ok((bucket.to_string(), prefix))
}

/// `a/b` and `a/b/` -> `a/b/`; `` stays empty (the bucket's root).
fn normalise(prefix: &str) -> String {
    let trimmed = prefix.trim_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("{trimmed}/")
    }
}

/// A runtime of its own for the async SDK behind a synchronous trait (see the module docs).
#[derive(Debug)]
struct Bridge {
    runtime: Option<tokio::runtime::Runtime>,
}

impl Bridge {
    fn new() -> Result<Bridge> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("loadgate-s3-history")
            .enable_all()
            .build()
            .map_err(|e| {
                Error::infra(
                    format!("cannot start the S3 history client: {e}"),
                    "the system is out of threads or file descriptors; retry".to_string(),
                )
            })?;
        Ok(Bridge {
            runtime: Some(runtime),
        })
    }

    /// Runs `future` on the bridge's runtime and waits for it, from any thread.
    fn run<T, F>(&self, future: F) -> Result<T>
    where
        T: Send + 'static,
        F: Future<Output = Result<T>> + Send + 'static,
    {
        let lost = || {
            Error::infra(
                "the S3 history client stopped before answering",
                "retry; report it if it happens again".to_string(),
            )
        };
        let runtime = self.runtime.as_ref().ok_or_else(lost)?;
        let (tx, rx) = mpsc::sync_channel(1);
        runtime.spawn(async move {
            // The receiver waits for this; if it is gone there is no one left to tell.
            let _ = tx.send(future.await);
        });
        rx.recv().map_err(|_| lost())?
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        // shutdown_background, unlike dropping the runtime, is allowed inside another runtime.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_bucket_and_a_prefix() {
        let parsed = |u: &str| parse_url(u).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            parsed("s3://my-bucket"),
            ("my-bucket".into(), "history/".into())
        );
        assert_eq!(
            parsed("s3://my-bucket/"),
            ("my-bucket".into(), "history/".into())
        );
        assert_eq!(
            parsed("s3://my.bucket/team/perf/"),
            ("my.bucket".into(), "team/perf/".into())
        );
        for bad in ["s3://", "s3://AB", "s3://Upper/x", "http://b/x", "s3://a_b"] {
            let err = parse_url(bad).expect_err(bad);
            assert_eq!(err.exit_code(), crate::error::EXIT_INVALID_INPUT, "{bad}");
            assert!(err.to_string().contains("expected s3://BUCKET"), "{err}");
        }
    }

    #[test]
    fn the_bridge_answers_inside_and_outside_a_runtime_and_drops_anywhere() {
        let bridge = Bridge::new().expect("runtime");
        assert_eq!(bridge.run(async { Ok(41 + 1) }).expect("runs"), 42);
        let outer = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("outer runtime");
        // Inside another runtime, where Runtime::block_on would panic.
        let inner = outer.block_on(async move {
            let answer = bridge.run(async { Ok("inner") });
            drop(bridge);
            answer
        });
        assert_eq!(inner.expect("runs"), "inner");
    }

    /// The history store on bucket `hist` of the S3 that `endpoint` plays, from us-east-1.
    fn history_on(rt: &tokio::runtime::Runtime, endpoint: &str) -> S3Blobs {
        use aws_config::{BehaviorVersion, Region};
        use aws_credential_types::Credentials;
        let aws = rt
            .block_on(Aws::load_from(
                aws_config::defaults(BehaviorVersion::latest())
                    .endpoint_url(endpoint)
                    .region(Region::new("us-east-1"))
                    .credentials_provider(Credentials::new("a", "b", None, None, "test")),
            ))
            .expect("config");
        S3Blobs::new(&aws, "hist", HISTORY_PREFIX).expect("blobs")
    }

    /// S3 failing a history write more times than the SDK's 3 attempts: another round carries
    /// it, while a missing object (404) is answered at once, not retried.
    #[test]
    fn a_history_write_outlasts_s3_errors_and_a_missing_object_is_not_retried() {
        use wiremock::{Mock, MockServer, ResponseTemplate};

        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let server = rt.block_on(MockServer::start());
        let slow_down = "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.\
                         </Message></Error>";
        rt.block_on(async {
            Mock::given(wiremock::matchers::method("PUT"))
                .respond_with(ResponseTemplate::new(503).set_body_string(slow_down))
                .up_to_n_times(4)
                .mount(&server)
                .await;
            Mock::given(wiremock::matchers::method("PUT"))
                .respond_with(ResponseTemplate::new(200))
                .mount(&server)
                .await;
            Mock::given(wiremock::matchers::method("GET"))
                .respond_with(ResponseTemplate::new(404).set_body_string(
                    "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.\
                     </Message></Error>",
                ))
                .mount(&server)
                .await;
        });
        let blobs = history_on(&rt, &server.uri());
        blobs
            .put("a.json", b"{}")
            .expect("written in the second round");
        assert!(blobs.get("missing.json").is_err());
        let requests = rt.block_on(server.received_requests()).expect("recorded");
        let count = |m: &str| requests.iter().filter(|r| r.method.as_str() == m).count();
        // 4 refused (the SDK's 3 attempts, then the first of the next round), then written.
        assert_eq!(count("PUT"), 5);
        assert_eq!(count("GET"), 1, "a 404 is an answer, not a fault");
    }

    /// A `--history` bucket in another region: S3 answers 301 PermanentRedirect naming the
    /// bucket's region in `x-amz-bucket-region`. The local server plays S3 and answers by the
    /// region the request was signed for.
    #[test]
    fn a_bucket_in_another_region_is_followed_there() {
        use wiremock::{Mock, MockServer, Request, ResponseTemplate};

        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let server = rt.block_on(MockServer::start());
        let signed_for = |region: &'static str| {
            move |r: &Request| {
                r.headers.get("authorization").is_some_and(|v| {
                    v.to_str()
                        .unwrap_or_default()
                        .contains(&format!("/{region}/s3/aws4_request"))
                })
            }
        };
        rt.block_on(async {
            Mock::given(signed_for("us-east-1"))
                .respond_with(
                    ResponseTemplate::new(301)
                        .insert_header("x-amz-bucket-region", "eu-west-1")
                        .set_body_string(
                            "<Error><Code>PermanentRedirect</Code><Message>The bucket you are \
                             attempting to access must be addressed using the specified \
                             endpoint.</Message></Error>",
                        ),
                )
                .mount(&server)
                .await;
            Mock::given(signed_for("eu-west-1"))
                .and(wiremock::matchers::method("GET"))
                .and(wiremock::matchers::path("/hist/history/a.json"))
                .respond_with(ResponseTemplate::new(200).set_body_string("hello"))
                .mount(&server)
                .await;
            Mock::given(signed_for("eu-west-1"))
                .and(wiremock::matchers::method("PUT"))
                .respond_with(ResponseTemplate::new(200))
                .mount(&server)
                .await;
        });
        let blobs = history_on(&rt, &server.uri());
        assert_eq!(blobs.get("a.json").expect("read"), b"hello");
        // Later calls go to the bucket's region at once.
        blobs.put("b.json", b"{}").expect("write");
        let requests = rt.block_on(server.received_requests()).expect("recorded");
        let regions: Vec<bool> = requests
            .iter()
            .map(|r| signed_for("eu-west-1")(r))
            .collect();
        assert_eq!(
            regions,
            [false, true, true],
            "us-east-1 once, then eu-west-1"
        );
    }
}
