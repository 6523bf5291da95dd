//! One request on one connection, from connect to the last body byte, and what is recorded for it.

use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::task::Poll;
use std::time::Instant;

use http::header::CONNECTION;
use http::{StatusCode, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::Response;
use tokio::time::Sleep;

use crate::stats::{ErrorKind, FailureSample};

use super::client::{self, header_size, micros, Conn, ConnectError, HyperConn, Prepared};
use super::http1::H1Conn;
use super::{after, Ctx};

/// Hides secrets in text that leaves the engine (failure samples).
pub(crate) trait Masker {
    fn mask(&self, text: &str) -> String;
}

impl Masker for crate::plan::Secrets {
    fn mask(&self, text: &str) -> String {
        crate::plan::Secrets::mask(self, text)
    }
}

/// Body bytes kept for a failure sample.
pub(crate) const SAMPLE_BODY: usize = 200;

/// Why a request got no response.
pub(crate) enum Failure {
    Connect(ConnectError),
    Io(hyper::Error),
    /// On a plain-http connection.
    Wire(std::io::Error),
    Timeout,
}

impl Failure {
    pub(crate) fn kind(&self) -> ErrorKind {
        match self {
            Failure::Connect(ConnectError::Connect(_)) => ErrorKind::Connect,
            Failure::Connect(ConnectError::Tls(_)) => ErrorKind::Tls,
            Failure::Connect(ConnectError::Io(_)) | Failure::Io(_) | Failure::Wire(_) => {
                ErrorKind::Io
            }
            Failure::Timeout => ErrorKind::Timeout,
        }
    }

    /// Only built when a sample is wanted: it allocates.
    fn message(&self, timeout_ms: u128) -> String {
        match self {
            Failure::Connect(ConnectError::Connect(e)) => format!("connect: {e}"),
            Failure::Connect(ConnectError::Tls(e)) => format!("tls: {e}"),
            Failure::Connect(ConnectError::Io(e)) | Failure::Io(e) => with_sources(e),
            Failure::Wire(e) => with_sources(e),
            Failure::Timeout => {
                format!("no complete response within the timeout ({timeout_ms} ms)")
            }
        }
    }
}

fn with_sources(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A response read to its end.
struct Done {
    status: u16,
    ok: bool,
    sent: Instant,
    first_byte: Instant,
    received: u64,
    /// The connection ends after this response.
    close: bool,
    /// Status line and first body bytes, when a failure sample was wanted.
    sample: Option<(String, Vec<u8>)>,
}

/// Sends request `index` of the plan on `slot`'s connection (opening one if there is none or it
/// closed) and records the outcome. Response time runs from `measure_from` (the open model's
/// scheduled time) or else from the send. After a transport error the connection is dropped.
/// Returns when the request ended.
///
/// `timer` bounds the request with the plan's timeout. The caller keeps one across its requests:
/// moving a registered tokio timer to a later deadline is a store, while a fresh `timeout_at`
/// per request registers and cancels a timer-wheel entry (and clones the runtime handle) each time.
pub(crate) async fn execute(
    ctx: &Ctx,
    slot: &mut Option<Conn>,
    index: usize,
    measure_from: Option<Instant>,
    mut timer: Pin<&mut Sleep>,
) -> Instant {
    let req = &ctx.requests[index];
    let began = Instant::now();
    timer
        .as_mut()
        .reset(tokio::time::Instant::from_std(after(began, ctx.timeout)));
    let result = {
        let mut fut = pin!(attempt(ctx, slot, index));
        poll_fn(|cx| {
            if let Poll::Ready(r) = fut.as_mut().poll(cx) {
                return Poll::Ready(r);
            }
            match timer.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(Failure::Timeout)),
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    };
    let end = Instant::now();
    match result {
        Ok(done) => {
            if done.close {
                // Sending on it would race the server's close.
                *slot = None;
            }
            record_response(ctx, index, req, done, measure_from, end);
        }
        Err(failure) => {
            *slot = None;
            record_failure(
                ctx,
                index,
                req.label,
                req.bytes_sent,
                &failure,
                &ctx.plan.secrets,
            );
        }
    }
    end
}

/// What one try on one connection came to.
enum Try {
    Done(Done),
    /// The request never left (the kept connection had closed): try again on a new one.
    Unsent,
    Failed(Failure),
}

async fn attempt(ctx: &Ctx, slot: &mut Option<Conn>, index: usize) -> Result<Done, Failure> {
    let req = &ctx.requests[index];
    if slot.as_ref().is_some_and(Conn::is_closed) {
        *slot = None;
    }
    // A kept connection may have been closed by the server since its last response (idle
    // timeout, keepalive_requests): hyper then hands the request back unsent, and it is sent on a
    // new connection instead of counting as a failure. The server never saw it, so counts stay equal.
    let mut reused = slot.is_some();
    loop {
        let conn = match slot {
            Some(conn) => conn,
            None => {
                let started = Instant::now();
                let origin = &ctx.origins[req.origin];
                // Boxed: the TLS handshake's state is large and rare, and inline it would size
                // every user's future (kept for the whole run) to it.
                let conn = Box::pin(client::connect(origin, ctx.tls.as_ref()))
                    .await
                    .map_err(Failure::Connect)?;
                let took = micros(started, Instant::now());
                ctx.recorder
                    .borrow_mut()
                    .label(req.label)
                    .record_connect(took);
                slot.insert(conn)
            }
        };
        let outcome = match conn {
            Conn::Plain(conn) => exchange(ctx, conn, index, reused).await,
            Conn::Tls(conn) => hyper_exchange(ctx, conn, index, reused).await,
        };
        match outcome {
            Try::Done(done) => return Ok(done),
            Try::Failed(failure) => return Err(failure),
            Try::Unsent => {
                *slot = None;
                reused = false;
            }
        }
    }
}

/// One request and its response on a plain-http connection.
async fn exchange(ctx: &Ctx, conn: &mut H1Conn, index: usize, reused: bool) -> Try {
    let req = &ctx.requests[index];
    let sent = Instant::now();
    let wants_sample = |code: u16| {
        let ok = ctx.plan.requests[index].status_ok(code);
        let wanted = !ok
            && ctx
                .recorder
                .borrow()
                .failures
                .wants(ErrorKind::Status, Some(code));
        if wanted {
            SAMPLE_BODY
        } else {
            0
        }
    };
    match conn.exchange(&req.wire, req.head, wants_sample).await {
        Ok(response) => {
            let code = response.status;
            let ok = ctx.plan.requests[index].status_ok(code);
            let sample = response.sample.map(|body| {
                let version = if response.http10 {
                    "HTTP/1.0"
                } else {
                    "HTTP/1.1"
                };
                let reason = StatusCode::from_u16(code)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("");
                let line = format!("{version} {code} {reason}");
                (line.trim_end().to_string(), body)
            });
            Try::Done(Done {
                status: code,
                ok,
                sent,
                first_byte: response.first_byte,
                received: response.received,
                close: response.close,
                sample,
            })
        }
        // The server closed the kept connection (idle timeout, keepalive_requests) before it
        // could answer: it closed before the request arrived, so it is sent again on a new one.
        Err(e) if reused && e.closed_unanswered() => Try::Unsent,
        Err(e) => Try::Failed(Failure::Wire(e.error)),
    }
}

/// One request and its response on a hyper (https) connection.
async fn hyper_exchange(ctx: &Ctx, conn: &mut HyperConn, index: usize, reused: bool) -> Try {
    let req = &ctx.requests[index];
    let (sender, driver) = conn.parts();
    client::drive(driver, async {
        if let Err(e) = sender.ready().await {
            return if reused {
                Try::Unsent
            } else {
                Try::Failed(Failure::Io(e))
            };
        }
        let sent = Instant::now();
        match sender.try_send_request(req.request()).await {
            Ok(response) => {
                let first_byte = Instant::now();
                match read_body(ctx, index, response, sent, first_byte).await {
                    Ok(done) => Try::Done(done),
                    Err(failure) => Try::Failed(failure),
                }
            }
            Err(mut e) => {
                if reused && e.take_message().is_some() {
                    Try::Unsent
                } else {
                    Try::Failed(Failure::Io(e.into_error()))
                }
            }
        }
    })
    .await
}

/// Whether the server said it closes the connection after this response. A single
/// `Connection` header is what servers send; a token list is matched whole-value only.
fn closes(response: &Response<Incoming>) -> bool {
    let says = |token: &[u8]| {
        response
            .headers()
            .get(CONNECTION)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(token))
    };
    match response.version() {
        Version::HTTP_10 => !says(b"keep-alive"),
        _ => says(b"close"),
    }
}

async fn read_body(
    ctx: &Ctx,
    index: usize,
    response: Response<Incoming>,
    sent: Instant,
    first_byte: Instant,
) -> Result<Done, Failure> {
    let close = closes(&response);
    let status = response.status();
    let code = status.as_u16();
    let ok = ctx.plan.requests[index].status_ok(code);
    let reason = status.canonical_reason().unwrap_or("");
    // "HTTP/1.1 200 OK\r\n", headers, "\r\n": close enough without the raw bytes.
    let mut received = (9 + 4 + reason.len() + 2 + header_size(response.headers()) + 2) as u64;
    let wants_sample = !ok
        && ctx
            .recorder
            .borrow()
            .failures
            .wants(ErrorKind::Status, Some(code));
    let mut sample = wants_sample.then(|| {
        let line = format!("{:?} {} {}", response.version(), code, reason);
        (line.trim_end().to_string(), Vec::new())
    });
    let mut body = response.into_body();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(Failure::Io)?;
        if let Some(data) = frame.data_ref() {
            received += data.len() as u64;
            if let Some((_, kept)) = sample.as_mut() {
                let room = SAMPLE_BODY.saturating_sub(kept.len());
                kept.extend_from_slice(&data[..room.min(data.len())]);
            }
        }
    }
    Ok(Done {
        status: code,
        ok,
        sent,
        first_byte,
        received,
        close,
        sample,
    })
}

fn record_response(
    ctx: &Ctx,
    index: usize,
    req: &Prepared,
    done: Done,
    measure_from: Option<Instant>,
    end: Instant,
) {
    let from = measure_from.unwrap_or(done.sent);
    let mut recorder = ctx.recorder.borrow_mut();
    recorder.label(req.label).record_response(
        done.status,
        done.ok,
        micros(from, end),
        micros(done.sent, done.first_byte),
        req.bytes_sent,
        done.received,
    );
    if let Some((line, body)) = done.sample {
        let secrets = &ctx.plan.secrets;
        recorder.failures.push(FailureSample {
            label: ctx.plan.requests[index].name.clone(),
            kind: ErrorKind::Status,
            status: Some(done.status),
            message: secrets.mask(&line),
            body: Some(secrets.mask(&String::from_utf8_lossy(&body))),
        });
    }
}

/// Records a request of `label` (request `index` of the plan) that failed before a response;
/// `mask` hides secrets in the message.
pub(crate) fn record_failure(
    ctx: &Ctx,
    index: usize,
    label: usize,
    bytes_sent: u64,
    failure: &Failure,
    mask: &dyn Masker,
) {
    let kind = failure.kind();
    // A connect failure sent nothing; otherwise the request may have left, so count it as sent.
    let sent = match failure {
        Failure::Connect(_) => 0,
        _ => bytes_sent,
    };
    let mut recorder = ctx.recorder.borrow_mut();
    recorder.label(label).record_transport_error(kind, sent, 0);
    if recorder.failures.wants(kind, None) {
        let message = mask.mask(&failure.message(ctx.timeout.as_millis()));
        recorder.failures.push(FailureSample {
            label: ctx.plan.requests[index].name.clone(),
            kind,
            status: None,
            message,
            body: None,
        });
    }
}
