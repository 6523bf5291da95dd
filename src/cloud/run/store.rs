//! The run's S3 bucket as the controller and workers use it: put, get, list and delete a prefix,
//! each retried beyond the SDK's own attempts (a worker must not lose its result to a blip), and
//! S3's clock: every response's `Date` header narrows the offset between this machine's clock and
//! S3's, so two machines compare times on one clock.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use aws_smithy_types::date_time::Format;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::cloud::aws::{self, Aws};
use crate::{Error, Result};

/// Attempts of one store operation (each is itself up to 3 SDK attempts).
const ATTEMPTS: u32 = 4;

/// S3 as a key-value store of one bucket.
#[derive(Clone, Debug)]
pub struct Store {
    s3: aws_sdk_s3::Client,
    bucket: String,
    clock: S3Clock,
    /// The HTTP statuses S3 answered for protocol files not written yet (404 or 403, see
    /// [`Store::get_if_written`]): the worker logs them, so a real run records AWS's answer.
    missing: Arc<Mutex<std::collections::BTreeSet<u16>>>,
}

/// An object's body and when S3 last wrote it.
#[derive(Clone, Debug)]
pub struct Object {
    pub body: Vec<u8>,
    /// Unix ms on S3's clock.
    pub modified_ms: Option<i64>,
}

impl Store {
    pub fn new(aws: &Aws, bucket: &str) -> Store {
        let clock = S3Clock::default();
        let mut conf = aws_sdk_s3::config::Builder::from(aws.config())
            .force_path_style(aws.emulated())
            .interceptor(DateWatch(clock.clone()));
        if let Some(r) = crate::cloud::record::interceptor() {
            conf = conf.interceptor(r);
        }
        Store {
            s3: aws_sdk_s3::Client::from_conf(conf.build()),
            bucket: bucket.to_string(),
            clock,
            missing: Arc::default(),
        }
    }

    /// A store over a client made elsewhere (the tests' aws-smithy-mocks clients); its clock
    /// learns nothing from the client's responses.
    pub fn from_client(s3: aws_sdk_s3::Client, bucket: &str) -> Store {
        Store {
            s3,
            bucket: bucket.to_string(),
            clock: S3Clock::default(),
            missing: Arc::default(),
        }
    }

    /// What S3 answered for protocol files that were not written yet: 404, 403 or both.
    pub fn missing_answers(&self) -> Vec<u16> {
        self.missing
            .lock()
            .map(|m| m.iter().copied().collect())
            .unwrap_or_default()
    }

    fn saw_missing(&self, status: u16) {
        if let Ok(mut m) = self.missing.lock() {
            m.insert(status);
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub fn clock(&self) -> &S3Clock {
        &self.clock
    }

    pub async fn put_json<T: Serialize>(&self, key: &str, doc: &T) -> Result<()> {
        let body = serde_json::to_vec(doc)
            .map_err(|e| Error::infra(format!("cannot serialise {key}: {e}"), None))?;
        self.put(key, body).await
    }

    pub async fn put(&self, key: &str, body: Vec<u8>) -> Result<()> {
        self.put_typed(key, body, "application/json").await
    }

    /// `put` with another content type (the reports: Markdown, XML, HTML).
    pub async fn put_typed(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<()> {
        retry(&format!("write s3://{}/{key}", self.bucket), || {
            let req = self
                .s3
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .content_type(content_type)
                .body(ByteStream::from(body.clone()));
            async move { req.send().await.map(|_| ()) }
        })
        .await
    }

    /// The object, or `None` when there is no such key.
    pub async fn get(&self, key: &str) -> Result<Option<Object>> {
        self.get_object(key, false).await
    }

    /// A protocol file that may legitimately not be written yet (start.json, abort.json, the
    /// heartbeat), or `None`. S3 answers a read of a missing key with 404 only when the caller
    /// may also `s3:ListBucket` the bucket, and with 403 AccessDenied otherwise (GetObject,
    /// "Permissions", Amazon S3 API Reference). The task role may list only under `runs/`, and
    /// whether S3 evaluates that condition with the key as `s3:prefix` is not documented. The
    /// worker has just read plan.json beside this key with the same permission, so a 403 here
    /// means "not yet"; every caller polls until the run's deadline, which bounds a real denial.
    pub async fn get_if_written(&self, key: &str) -> Result<Option<Object>> {
        self.get_object(key, true).await
    }

    async fn get_object(&self, key: &str, denied_is_missing: bool) -> Result<Option<Object>> {
        let doing = format!("read s3://{}/{key}", self.bucket);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self
                .s3
                .get_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
            {
                Ok(out) => {
                    let modified_ms = out.last_modified().and_then(|t| t.to_millis().ok());
                    let body = out
                        .body
                        .collect()
                        .await
                        .map_err(|e| Error::infra(format!("cannot {doing}: {e}"), None))?;
                    return Ok(Some(Object {
                        body: body.into_bytes().to_vec(),
                        modified_ms,
                    }));
                }
                Err(e) if aws::error_code(&e) == Some("NoSuchKey") => {
                    if denied_is_missing {
                        self.saw_missing(404);
                    }
                    return Ok(None);
                }
                Err(e) if denied_is_missing && aws::error_code(&e) == Some("AccessDenied") => {
                    self.saw_missing(403);
                    return Ok(None);
                }
                Err(_) if attempt < ATTEMPTS => backoff(attempt).await,
                Err(e) => return Err(aws::error(doing, e)),
            }
        }
    }

    pub async fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let object = self.get(key).await?;
        self.parse(key, object)
    }

    /// [`Store::get_if_written`], parsed.
    pub async fn get_json_if_written<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let object = self.get_if_written(key).await?;
        self.parse(key, object)
    }

    fn parse<T: DeserializeOwned>(&self, key: &str, object: Option<Object>) -> Result<Option<T>> {
        let Some(object) = object else {
            return Ok(None);
        };
        serde_json::from_slice(&object.body).map(Some).map_err(|e| {
            Error::infra(
                format!("s3://{}/{key} is not what loadgate wrote: {e}", self.bucket),
                "the controller and the workers must run the same loadgate version".to_string(),
            )
        })
    }

    /// LastModified of `key` (Unix ms on S3's clock), or `None` when there is no such key.
    pub async fn modified(&self, key: &str) -> Result<Option<i64>> {
        self.head(key, false).await
    }

    /// [`Store::modified`] of a protocol file that may not be written yet: a 403 is "not yet",
    /// for the reason [`Store::get_if_written`] gives (a HEAD answer has no body, so no code).
    pub async fn modified_if_written(&self, key: &str) -> Result<Option<i64>> {
        self.head(key, true).await
    }

    async fn head(&self, key: &str, denied_is_missing: bool) -> Result<Option<i64>> {
        let doing = format!("look at s3://{}/{key}", self.bucket);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self
                .s3
                .head_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
            {
                Ok(out) => return Ok(out.last_modified().and_then(|t| t.to_millis().ok())),
                Err(e) => {
                    let status = e.raw_response().map(|r| r.status().as_u16());
                    if status == Some(404) {
                        if denied_is_missing {
                            self.saw_missing(404);
                        }
                        return Ok(None);
                    }
                    if denied_is_missing && status == Some(403) {
                        self.saw_missing(403);
                        return Ok(None);
                    }
                    if attempt >= ATTEMPTS {
                        return Err(aws::error(doing, e));
                    }
                    backoff(attempt).await;
                }
            }
        }
    }

    /// Every key under `prefix` (ListObjectsV2 pages through 1,000 at a time).
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = retry(&format!("list s3://{}/{prefix}", self.bucket), || {
                let req = self
                    .s3
                    .list_objects_v2()
                    .bucket(&self.bucket)
                    .prefix(prefix)
                    .set_continuation_token(token.clone());
                async move { req.send().await }
            })
            .await?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
            match page.next_continuation_token() {
                Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_string()),
                _ => return Ok(keys),
            }
        }
    }

    /// Deletes every key under `prefix`, 1,000 per DeleteObjects call.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<()> {
        use aws_sdk_s3::types::{Delete, ObjectIdentifier};
        let keys = self.list(prefix).await?;
        for chunk in keys.chunks(1000) {
            let objects: Vec<ObjectIdentifier> = chunk
                .iter()
                .filter_map(|k| ObjectIdentifier::builder().key(k).build().ok())
                .collect();
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|e| Error::infra(format!("cannot delete {prefix}: {e}"), None))?;
            retry(&format!("delete s3://{}/{prefix}", self.bucket), || {
                let req = self
                    .s3
                    .delete_objects()
                    .bucket(&self.bucket)
                    .delete(delete.clone());
                async move { req.send().await.map(|_| ()) }
            })
            .await?;
        }
        Ok(())
    }
}

/// Runs `call` until it succeeds or [`ATTEMPTS`] are spent, with jittered exponential backoff.
async fn retry<T, E, R, F, Fut>(doing: &str, mut call: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<
        Output = std::result::Result<T, aws_smithy_runtime_api::client::result::SdkError<E, R>>,
    >,
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match call().await {
            Ok(v) => return Ok(v),
            Err(_) if attempt < ATTEMPTS => backoff(attempt).await,
            Err(e) => return Err(aws::error(doing, e)),
        }
    }
}

/// Jittered exponential backoff between rounds of S3 calls; the history store waits the same way.
pub(crate) async fn backoff(attempt: u32) {
    let base = 200u64 << attempt.min(6);
    let jitter = fastrand::u64(0..=base / 2);
    tokio::time::sleep(Duration::from_millis(base + jitter)).await;
}

/// This machine's estimate of S3's clock. A `Date` header has whole seconds, so one response
/// only says that S3's time was in `[date, date + 1 s)` at some instant between sending and
/// receiving; intersecting these windows over many responses narrows the offset to a few ms.
#[derive(Clone, Debug, Default)]
pub struct S3Clock(Arc<Mutex<Option<(i64, i64)>>>);

impl S3Clock {
    /// Records one response: its `Date` (Unix s) seen between local `sent_ms` and `received_ms`.
    pub fn observe(&self, date_s: i64, sent_ms: i64, received_ms: i64) {
        // offset = s3 - local, in [date - received, date + 1 s - sent].
        let lo = date_s * 1000 - received_ms;
        let hi = date_s * 1000 + 1000 - sent_ms;
        let Ok(mut bounds) = self.0.lock() else {
            return;
        };
        *bounds = match *bounds {
            None => Some((lo, hi)),
            Some((l, h)) => {
                let (nl, nh) = (l.max(lo), h.min(hi));
                // Disjoint windows: a clock step on this machine; start over from this response.
                if nl <= nh {
                    Some((nl, nh))
                } else {
                    Some((lo, hi))
                }
            }
        };
    }

    /// S3's clock minus this machine's, in ms (0 before any response).
    pub fn offset_ms(&self) -> i64 {
        self.0
            .lock()
            .ok()
            .and_then(|b| *b)
            .map_or(0, |(lo, hi)| (lo + hi) / 2)
    }

    /// The width of the window the offset is known within, in ms (`None` before any response).
    pub fn uncertainty_ms(&self) -> Option<i64> {
        self.0.lock().ok().and_then(|b| *b).map(|(lo, hi)| hi - lo)
    }

    /// Now on S3's clock (Unix ms).
    pub fn now_ms(&self) -> i64 {
        local_ms() + self.offset_ms()
    }

    /// The local wall-clock time of `s3_ms`, as a duration from now (zero when it has passed).
    pub fn until(&self, s3_ms: i64) -> Duration {
        Duration::from_millis(u64::try_from(s3_ms - self.now_ms()).unwrap_or(0))
    }
}

/// This machine's wall clock, Unix ms.
pub fn local_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[derive(Clone, Debug)]
struct SentAt(i64);

impl Storable for SentAt {
    type Storer = StoreReplace<Self>;
}

/// Feeds every S3 response's `Date` header to the clock.
#[derive(Debug)]
struct DateWatch(S3Clock);

impl Intercept for DateWatch {
    fn name(&self) -> &'static str {
        "loadgate-s3-clock"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> std::result::Result<(), BoxError> {
        cfg.interceptor_state().store_put(SentAt(local_ms()));
        Ok(())
    }

    fn read_after_transmit(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> std::result::Result<(), BoxError> {
        let received = local_ms();
        let sent = cfg.load::<SentAt>().map_or(received, |s| s.0);
        let date = context
            .response()
            .headers()
            .get("date")
            .and_then(|d| aws_smithy_types::DateTime::from_str(d, Format::HttpDate).ok());
        if let Some(date) = date {
            self.0.observe(date.secs(), sent, received);
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod missing_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_windows_narrow_the_offset() {
        let clock = S3Clock::default();
        assert_eq!(clock.uncertainty_ms(), None);
        // S3 is 10.3 s ahead. A response sent at local 1000.0 s and received 20 ms later.
        let truth = 10_300;
        let seen = |sent: i64| ((sent + 10 + truth) / 1000, sent, sent + 20);
        for sent in [1_000_000, 1_000_450, 1_000_690, 1_000_900, 1_001_650] {
            let (date, s, r) = seen(sent);
            clock.observe(date, s, r);
        }
        let err = (clock.offset_ms() - truth).abs();
        assert!(err <= 30, "offset {} vs {truth}", clock.offset_ms());
        assert!(clock.uncertainty_ms().is_some_and(|u| u < 1000));
    }

    #[test]
    fn a_clock_step_starts_the_estimate_over() {
        let clock = S3Clock::default();
        clock.observe(100, 100_000, 100_010);
        // This machine's clock jumped 5 s ahead: the windows are disjoint.
        clock.observe(101, 106_000, 106_010);
        assert!(
            (clock.offset_ms() + 4_500).abs() <= 500,
            "{}",
            clock.offset_ms()
        );
    }
}
