//! Sending a rendered request (the per-user path) on a user's connection and reading what the
//! response's checks, captures, cookies and redirects need. The plain path (`request.rs`) sends
//! prepared bytes and keeps nothing; this one is its twin for bytes rendered per request.

use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::task::Poll;
use std::time::Instant;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use tokio::time::Sleep;

use super::client::{self, header_size, micros, Body, Conn, HyperConn, Origin};
use super::http1::{H1Conn, Keep};
use super::request::Failure;
use super::{after, Ctx};

/// A response, with what was asked of it.
pub(crate) struct Reply {
    pub status: u16,
    pub sent: Instant,
    pub first_byte: Instant,
    pub received: u64,
    /// Lower-case names; when the head was kept.
    pub headers: Option<Vec<(String, String)>>,
    /// The first body bytes, when kept.
    pub body: Option<Vec<u8>>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .as_ref()?
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .flatten()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `wire` to `origin` on `slot`'s connection (a new one if there is none), bounded by the
/// plan's timeout. `keep(status, sets_cookie)` says what to keep of the response. Connect time is
/// recorded under `label`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn send(
    ctx: &Ctx,
    slot: &mut Option<Conn>,
    origin: &Origin,
    label: usize,
    wire: &[u8],
    head_request: bool,
    keep: &dyn Fn(u16, bool) -> Keep,
    mut timer: Pin<&mut Sleep>,
) -> (Instant, Result<Reply, Failure>) {
    let began = Instant::now();
    timer
        .as_mut()
        .reset(tokio::time::Instant::from_std(after(began, ctx.timeout)));
    let result = {
        let mut fut = pin!(attempt(ctx, slot, origin, label, wire, head_request, keep));
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
    match &result {
        Ok((_, true)) | Err(_) => *slot = None,
        Ok(_) => {}
    }
    (Instant::now(), result.map(|(reply, _)| reply))
}

enum Try {
    Done(Reply, bool),
    Unsent,
    Failed(Failure),
}

async fn attempt(
    ctx: &Ctx,
    slot: &mut Option<Conn>,
    origin: &Origin,
    label: usize,
    wire: &[u8],
    head_request: bool,
    keep: &dyn Fn(u16, bool) -> Keep,
) -> Result<(Reply, bool), Failure> {
    if slot.as_ref().is_some_and(Conn::is_closed) {
        *slot = None;
    }
    let mut reused = slot.is_some();
    loop {
        let conn = match slot {
            Some(conn) => conn,
            None => {
                let started = Instant::now();
                let conn = Box::pin(client::connect(origin, ctx.tls.as_ref()))
                    .await
                    .map_err(Failure::Connect)?;
                let took = micros(started, Instant::now());
                ctx.recorder.borrow_mut().label(label).record_connect(took);
                slot.insert(conn)
            }
        };
        let outcome = match conn {
            Conn::Plain(conn) => plain(conn, wire, head_request, keep, reused).await,
            Conn::Tls(conn) => tls(conn, wire, keep, reused).await,
        };
        match outcome {
            Try::Done(reply, close) => return Ok((reply, close)),
            Try::Failed(f) => return Err(f),
            Try::Unsent => {
                *slot = None;
                reused = false;
            }
        }
    }
}

async fn plain(
    conn: &mut H1Conn,
    wire: &[u8],
    head_request: bool,
    keep: &dyn Fn(u16, bool) -> Keep,
    reused: bool,
) -> Try {
    let sent = Instant::now();
    match conn
        .exchange_keep(wire, head_request, |h| keep(h.status, h.set_cookie))
        .await
    {
        Ok(r) => Try::Done(
            Reply {
                status: r.status,
                sent,
                first_byte: r.first_byte,
                received: r.received,
                headers: r.head.as_deref().map(parse_headers),
                body: r.sample,
            },
            r.close,
        ),
        Err(e) if reused && e.closed_unanswered() => Try::Unsent,
        Err(e) => Try::Failed(Failure::Wire(e.error)),
    }
}

/// The headers of a response head (as kept by [`H1Conn::exchange_keep`]).
fn parse_headers(head: &[u8]) -> Vec<(String, String)> {
    let mut headers = [httparse::EMPTY_HEADER; 100];
    let mut response = httparse::Response::new(&mut headers);
    if response.parse(head).is_err() {
        return Vec::new();
    }
    response
        .headers
        .iter()
        .filter(|h| !h.name.is_empty())
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect()
}

/// The rendered bytes as a hyper request (https connections).
fn hyper_request(wire: &[u8]) -> Option<Request<Body>> {
    let mut headers = [httparse::EMPTY_HEADER; 128];
    let mut req = httparse::Request::new(&mut headers);
    let httparse::Status::Complete(n) = req.parse(wire).ok()? else {
        return None;
    };
    let mut builder = Request::builder().method(req.method?).uri(req.path?);
    for h in req.headers.iter() {
        builder = builder.header(h.name, h.value);
    }
    builder
        .body(Full::new(Bytes::copy_from_slice(&wire[n..])))
        .ok()
}

async fn tls(
    conn: &mut HyperConn,
    wire: &[u8],
    keep: &dyn Fn(u16, bool) -> Keep,
    reused: bool,
) -> Try {
    let Some(request) = hyper_request(wire) else {
        return Try::Failed(Failure::Wire(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the rendered request is not valid HTTP",
        )));
    };
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
        let response = match sender.try_send_request(request).await {
            Ok(r) => r,
            Err(mut e) => {
                return if reused && e.take_message().is_some() {
                    Try::Unsent
                } else {
                    Try::Failed(Failure::Io(e.into_error()))
                };
            }
        };
        let first_byte = Instant::now();
        let status = response.status();
        let sets_cookie = response.headers().contains_key(http::header::SET_COOKIE);
        let wanted = keep(status.as_u16(), sets_cookie);
        let close = response
            .headers()
            .get(http::header::CONNECTION)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        let reason = status.canonical_reason().unwrap_or("");
        let mut received = (9 + 4 + reason.len() + 2 + header_size(response.headers()) + 2) as u64;
        let headers = wanted.head.then(|| {
            response
                .headers()
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect()
        });
        let mut kept: Option<Vec<u8>> = (wanted.body > 0).then(Vec::new);
        let mut body = response.into_body();
        while let Some(frame) = body.frame().await {
            let frame = match frame {
                Ok(f) => f,
                Err(e) => return Try::Failed(Failure::Io(e)),
            };
            if let Some(data) = frame.data_ref() {
                received += data.len() as u64;
                if let Some(k) = kept.as_mut() {
                    let room = wanted.body.saturating_sub(k.len());
                    k.extend_from_slice(&data[..room.min(data.len())]);
                }
            }
        }
        Try::Done(
            Reply {
                status: status.as_u16(),
                sent,
                first_byte,
                received,
                headers,
                body: kept,
            },
            close,
        )
    })
    .await
}
