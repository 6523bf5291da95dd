//! A purpose-built HTTP/1.1 client for plain-`http` keep-alive connections, as wrk has one.
//!
//! A load generator sends the same few requests millions of times and throws the bodies away, so
//! a general client's per-request machinery (request and response objects, a header map per
//! response, a dispatcher with channels, fixed 8 KB read and write buffers and a request queue
//! per connection) is most of its CPU and memory. Here a request is bytes serialised once
//! ([`super::client::Prepared`]); a response is parsed in place with `httparse` (status line and
//! the three headers that frame it) and its body is counted and dropped. A connection's read
//! buffer starts at 4 KB, grows only for large heads or bodies, and is freed while the
//! connection is idle ([`H1Conn::park`]). https keeps hyper over rustls (see `client.rs`).

use std::io;
use std::mem::MaybeUninit;
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

pub(crate) use super::http1_body::Body;

/// The read buffer of a busy connection.
const INITIAL_BUF: usize = 4 * 1024;
/// A response head (status line and headers) larger than this is an error, as in hyper.
pub(crate) const MAX_HEAD: usize = 64 * 1024;
/// A body read that fills the buffer doubles it, up to this: fewer reads for large bodies.
const MAX_BUF: usize = 64 * 1024;
/// Headers per response: more is an error rather than a reason to allocate.
const MAX_HEADERS: usize = 100;

/// How the end of a response body is found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// HEAD, 1xx, 204, 304, or `Content-Length: 0`.
    Empty,
    Length(u64),
    Chunked,
    /// Until the server closes the connection.
    UntilClose,
}

/// What a response head says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Head {
    pub status: u16,
    /// HTTP/1.0 rather than 1.1.
    pub http10: bool,
    /// The connection ends after this response.
    pub close: bool,
    pub framing: Framing,
    /// Bytes of the status line, headers and the empty line.
    pub len: usize,
    /// The response sets a cookie.
    pub set_cookie: bool,
}

/// What of a response to keep, decided once its head is parsed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Keep {
    /// A copy of the head (status line and headers).
    pub head: bool,
    /// Up to this many body bytes.
    pub body: usize,
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

/// Parses a response head at the start of `buf`: `Ok(None)` when more bytes are needed.
/// `head_request`: the request was HEAD, so the response has no body whatever it says.
pub(crate) fn parse_head(buf: &[u8], head_request: bool) -> io::Result<Option<Head>> {
    // Uninitialised: zeroing 100 headers would cost more than parsing nginx's five.
    let mut headers = [const { MaybeUninit::<httparse::Header>::uninit() }; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut response,
        buf,
        &mut headers,
    );
    let len = match parsed {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => {
            return Err(invalid(format!(
                "response head larger than {} KB",
                MAX_HEAD / 1024
            )))
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(invalid(format!(
                "response with more than {MAX_HEADERS} headers"
            )))
        }
        Err(e) => return Err(invalid(format!("invalid response head: {e}"))),
    };
    // `Complete` guarantees both; a default keeps this panic-free whatever httparse does.
    let status = response.code.unwrap_or(0);
    let http10 = response.version == Some(0);
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut transfer_encoding = false;
    let mut close = false;
    let mut keep_alive = false;
    let mut set_cookie = false;
    for h in response.headers.iter() {
        // The length first: most headers are none of the three, and that ends it.
        let is = |name: &str| h.name.len() == name.len() && lower_eq(h.name.as_bytes(), name);
        if is("content-length") {
            let n = parse_length(h.value)?;
            if length.is_some_and(|l| l != n) {
                return Err(invalid("conflicting Content-Length headers"));
            }
            length = Some(n);
        } else if is("transfer-encoding") {
            transfer_encoding = true;
            // Chunked must be the last coding; whatever else is there only the close can end.
            chunked = last_token(h.value).is_some_and(|t| t.eq_ignore_ascii_case(b"chunked"));
        } else if is("connection") {
            for token in h.value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if is("set-cookie") {
            set_cookie = true;
        }
    }
    let close = if http10 { !keep_alive || close } else { close };
    let no_body = head_request || status < 200 || status == 204 || status == 304;
    // RFC 9112 6.3: Transfer-Encoding overrides Content-Length; a response without either
    // runs until the close.
    let framing = match (no_body, transfer_encoding, chunked, length) {
        (true, ..) => Framing::Empty,
        (false, true, true, _) => Framing::Chunked,
        (false, true, false, _) => Framing::UntilClose,
        (false, false, _, Some(0)) => Framing::Empty,
        (false, false, _, Some(n)) => Framing::Length(n),
        (false, false, _, None) => Framing::UntilClose,
    };
    Ok(Some(Head {
        status,
        http10,
        close: close || framing == Framing::UntilClose,
        framing,
        len,
        set_cookie,
    }))
}

/// `name` (a valid token, as httparse checked) equals `lower` (lower-case letters and `-`) but
/// for case. Setting bit 5 lower-cases a letter and maps no other token byte to a letter or `-`,
/// and unlike `eq_ignore_ascii_case` this vectorises.
fn lower_eq(name: &[u8], lower: &str) -> bool {
    name.iter()
        .zip(lower.as_bytes())
        .all(|(a, b)| a | 0x20 == *b)
}

fn parse_length(value: &[u8]) -> io::Result<u64> {
    let digits = value.trim_ascii();
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid("invalid Content-Length"));
    }
    Ok(digits
        .iter()
        .fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

fn last_token(value: &[u8]) -> Option<&[u8]> {
    value.rsplit(|&b| b == b',').next().map(<[u8]>::trim_ascii)
}

/// A response read to its end.
#[derive(Debug)]
pub(crate) struct Response {
    pub status: u16,
    pub http10: bool,
    /// When the first response byte arrived.
    pub first_byte: Instant,
    /// Bytes of the response as on the wire (interim responses and chunk framing included).
    pub received: u64,
    /// The connection ends after this response (the server said so, or it sent more than the
    /// response).
    pub close: bool,
    /// The first body bytes, when the caller asked for them.
    pub sample: Option<Vec<u8>>,
    /// The head's bytes, when the caller asked for them.
    pub head: Option<Vec<u8>>,
}

/// Why an exchange failed, and whether any of the response had arrived: a kept connection that
/// the server closed before answering most likely closed before the request arrived.
#[derive(Debug)]
pub(crate) struct ExchangeError {
    pub error: io::Error,
    pub answered: bool,
}

impl ExchangeError {
    fn before_answer(error: io::Error) -> ExchangeError {
        ExchangeError {
            error,
            answered: false,
        }
    }

    fn after_answer(error: io::Error) -> ExchangeError {
        ExchangeError {
            error,
            answered: true,
        }
    }

    /// The server closed or reset the connection before any of the response.
    pub fn closed_unanswered(&self) -> bool {
        !self.answered
            && matches!(
                self.error.kind(),
                io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
            )
    }
}

fn closed_early() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "connection closed before the response ended",
    )
}

/// A plain-http keep-alive connection (generic for the tests' scripted streams).
pub(crate) struct H1Conn<S = TcpStream> {
    stream: S,
    /// Bytes read and not yet parsed; empty, often without capacity, between requests.
    buf: Vec<u8>,
    closed: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> H1Conn<S> {
    pub fn new(stream: S) -> H1Conn<S> {
        H1Conn {
            stream,
            buf: Vec::new(),
            closed: false,
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    #[cfg(test)]
    pub fn stream_ref(&self) -> &S {
        &self.stream
    }

    /// Frees the read buffer: an idle keep-alive connection then costs its socket only.
    pub fn park(&mut self) {
        self.buf = Vec::new();
    }

    /// Sends `request` (fully serialised) and reads the response to its end. `sample` says, given
    /// the status, how many body bytes to keep for a failure sample (0: none).
    #[inline]
    pub async fn exchange(
        &mut self,
        request: &[u8],
        head_request: bool,
        sample: impl FnOnce(u16) -> usize,
    ) -> Result<Response, ExchangeError> {
        self.exchange_keep(request, head_request, |head| Keep {
            head: false,
            body: sample(head.status),
        })
        .await
    }

    /// [`Self::exchange`], keeping what `keep` asks for once the head is parsed.
    pub async fn exchange_keep(
        &mut self,
        request: &[u8],
        head_request: bool,
        keep: impl FnOnce(&Head) -> Keep,
    ) -> Result<Response, ExchangeError> {
        // Marked until the response ends: a future dropped halfway (timeout) leaves the
        // connection unusable, whoever still holds it.
        self.closed = true;
        self.stream
            .write_all(request)
            .await
            .map_err(ExchangeError::before_answer)?;
        self.buf.clear();
        if self.buf.capacity() < INITIAL_BUF {
            self.buf.reserve_exact(INITIAL_BUF);
        }
        let mut first_byte = None;
        let mut received = 0u64;
        let head = loop {
            if let Some(head) =
                parse_head(&self.buf, head_request).map_err(ExchangeError::after_answer)?
            {
                received += head.len as u64;
                if (100..200).contains(&head.status) {
                    if head.status == 101 {
                        return Err(ExchangeError::after_answer(invalid(
                            "101 Switching Protocols to a request that asked for no upgrade",
                        )));
                    }
                    // Interim (100 Continue, 103 Early Hints): the final response follows.
                    self.buf.drain(..head.len);
                    continue;
                }
                break head;
            }
            if self.buf.len() == self.buf.capacity() {
                let room = self.buf.capacity().min(MAX_HEAD + 1 - self.buf.len());
                self.buf.reserve_exact(room);
            }
            let n = self
                .stream
                .read_buf(&mut self.buf)
                .await
                .map_err(|e| ExchangeError {
                    error: e,
                    answered: first_byte.is_some(),
                })?;
            if n == 0 {
                return Err(ExchangeError {
                    error: closed_early(),
                    answered: first_byte.is_some(),
                });
            }
            first_byte.get_or_insert_with(Instant::now);
        };
        let first_byte = first_byte.unwrap_or_else(Instant::now);
        let wanted = keep(&head);
        let head_bytes = wanted.head.then(|| self.buf[..head.len].to_vec());
        let keep = wanted.body;
        let mut kept: Option<Vec<u8>> = (keep > 0).then(Vec::new);
        let mut body = Body::new(head.framing);
        let mut on_data = |data: &[u8]| {
            if let Some(kept) = kept.as_mut() {
                let room = keep.saturating_sub(kept.len());
                kept.extend_from_slice(&data[..room.min(data.len())]);
            }
        };
        let mut start = head.len;
        let mut leftover = false;
        loop {
            let used = body
                .decode(&self.buf[start..], &mut on_data)
                .map_err(ExchangeError::after_answer)?;
            received += used as u64;
            if body.is_done() {
                leftover = start + used < self.buf.len();
                break;
            }
            self.buf.clear();
            start = 0;
            if self.buf.capacity() < MAX_BUF && self.buf.capacity() <= used {
                // The last read filled the buffer: the body is large, read it in larger pieces.
                self.buf
                    .reserve_exact((self.buf.capacity() * 2).min(MAX_BUF));
            }
            let n = self
                .stream
                .read_buf(&mut self.buf)
                .await
                .map_err(ExchangeError::after_answer)?;
            if n == 0 {
                body.finish().map_err(ExchangeError::after_answer)?;
                break;
            }
        }
        self.buf.clear();
        if self.buf.capacity() > MAX_HEAD {
            // Only a huge head got here: do not keep its buffer.
            self.buf = Vec::new();
        }
        // Bytes after the response were not asked for: the connection's framing is lost.
        let close = head.close || leftover;
        self.closed = close;
        Ok(Response {
            status: head.status,
            http10: head.http10,
            first_byte,
            received,
            close,
            sample: kept,
            head: head_bytes,
        })
    }
}
