//! Prepared requests and connections: everything about a request that can be computed once is
//! computed here, before the first send, so that a send clones reference-counted parts only.

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::{pin, Pin};
use std::task::Poll;
use std::time::Instant;

use bytes::Bytes;
use http::header::TRANSFER_ENCODING;
use http::header::{HeaderName, HeaderValue, CONTENT_LENGTH, HOST};
use http::{HeaderMap, Method, Request, Uri};
use http_body_util::Full;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use url::{Host, Url};

use crate::plan::RequestPlan;

use super::http1::H1Conn;
use super::EngineError;

pub(crate) type Body = Full<Bytes>;

/// One request of the plan, ready to send.
pub(crate) struct Prepared {
    pub label: usize,
    /// Index into the thread's origins.
    pub origin: usize,
    pub(crate) method: Method,
    /// Origin-form (path and query): the request line of a direct HTTP/1.1 connection.
    uri: Uri,
    /// The same, as text.
    pub(crate) target: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    /// Request line, headers and body as they go on the wire: what a plain-http connection
    /// writes, in one piece.
    pub wire: Bytes,
    /// A HEAD request: its response has no body whatever its headers say.
    pub head: bool,
    /// Request line, headers and body as they go on the wire.
    pub bytes_sent: u64,
}

impl Prepared {
    /// A fresh request; every part is a reference-counted clone except the header map, which
    /// hyper needs to own.
    #[inline]
    pub fn request(&self) -> Request<Body> {
        let mut req = Request::new(Full::new(self.body.clone()));
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.uri.clone();
        *req.headers_mut() = self.headers.clone();
        req
    }
}

/// Scheme, host and port: what a connection is good for.
pub(crate) struct Origin {
    https: bool,
    host: String,
    port: u16,
    server_name: ServerName<'static>,
    /// Resolved once and kept: a load test should not measure the resolver on every connect.
    addrs: RefCell<Vec<SocketAddr>>,
}

impl Origin {
    /// The origin of an absolute http(s) URL (a redirect's target).
    pub(crate) fn of(url: &Url) -> Option<Origin> {
        let https = match url.scheme() {
            "http" => false,
            "https" => true,
            _ => return None,
        };
        let (host, server_name) = match url.host()? {
            Host::Domain(d) => (d.to_string(), ServerName::try_from(d.to_string()).ok()?),
            Host::Ipv4(ip) => (ip.to_string(), ServerName::IpAddress(IpAddr::V4(ip).into())),
            Host::Ipv6(ip) => (ip.to_string(), ServerName::IpAddress(IpAddr::V6(ip).into())),
        };
        let port = url.port_or_known_default()?;
        Some(Origin {
            https,
            host,
            port,
            server_name,
            addrs: RefCell::new(Vec::new()),
        })
    }

    pub(crate) fn same(&self, other: &Origin) -> bool {
        self.matches(other.https, &other.host, other.port)
    }

    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    /// The `Host` header's value for this origin.
    pub(crate) fn authority(&self) -> String {
        let default = if self.https { 443 } else { 80 };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    fn matches(&self, https: bool, host: &str, port: u16) -> bool {
        self.https == https && self.host == host && self.port == port
    }

    pub fn is_https(&self) -> bool {
        self.https
    }

    async fn resolve(&self) -> io::Result<Vec<SocketAddr>> {
        {
            let cached = self.addrs.borrow();
            if !cached.is_empty() {
                return Ok(cached.clone());
            }
        }
        let found: Vec<SocketAddr> = tokio::net::lookup_host((self.host.as_str(), self.port))
            .await?
            .collect();
        if found.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{} has no address", self.host),
            ));
        }
        *self.addrs.borrow_mut() = found.clone();
        Ok(found)
    }
}

/// Prepares every request of the plan; fails on what the scenario layer should already have
/// rejected (bad URL, method or header), so a hand-made plan cannot panic the engine.
pub(crate) fn prepare(
    requests: &[RequestPlan],
    labels: usize,
) -> Result<(Vec<Prepared>, Vec<Origin>), EngineError> {
    let mut origins: Vec<Origin> = Vec::new();
    let mut prepared = Vec::with_capacity(requests.len());
    for r in requests {
        let invalid = |reason: String| EngineError::InvalidRequest {
            name: r.name.clone(),
            reason,
        };
        if r.label >= labels {
            return Err(invalid(format!(
                "label index {} of {labels} labels",
                r.label
            )));
        }
        let url = Url::parse(&r.url).map_err(|e| invalid(format!("url {:?}: {e}", r.url)))?;
        let https = match url.scheme() {
            "http" => false,
            "https" => true,
            other => return Err(invalid(format!("unsupported scheme {other:?}"))),
        };
        let (host, server_name) = match url.host() {
            Some(Host::Domain(d)) => (
                d.to_string(),
                ServerName::try_from(d.to_string()).map_err(|e| invalid(e.to_string()))?,
            ),
            Some(Host::Ipv4(ip)) => (ip.to_string(), ServerName::IpAddress(IpAddr::V4(ip).into())),
            Some(Host::Ipv6(ip)) => (ip.to_string(), ServerName::IpAddress(IpAddr::V6(ip).into())),
            None => return Err(invalid("url has no host".to_string())),
        };
        let port = url
            .port_or_known_default()
            .unwrap_or(if https { 443 } else { 80 });
        let origin = match origins.iter().position(|o| o.matches(https, &host, port)) {
            Some(i) => i,
            None => {
                origins.push(Origin {
                    https,
                    host: host.clone(),
                    port,
                    server_name,
                    addrs: RefCell::new(Vec::new()),
                });
                origins.len() - 1
            }
        };
        let method = Method::from_bytes(r.method.as_bytes())
            .map_err(|_| invalid(format!("method {:?}", r.method)))?;
        let target = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        let uri: Uri = target.parse().map_err(|e| invalid(format!("path: {e}")))?;
        let body = Bytes::from(r.body.clone().unwrap_or_default());

        let mut headers = HeaderMap::with_capacity(r.headers.len() + 2);
        for (name, value) in &r.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| invalid(format!("header name {name:?}")))?;
            // Never echo a header value: it may hold a secret.
            let value = HeaderValue::from_str(value)
                .map_err(|_| invalid(format!("value of header {name}")))?;
            headers.append(name, value);
        }
        if !headers.contains_key(HOST) {
            let authority = match (url.host_str(), url.port()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                (Some(h), None) => h.to_string(),
                (None, _) => host.clone(),
            };
            let value = HeaderValue::from_str(&authority)
                .map_err(|_| invalid(format!("host {authority:?}")))?;
            headers.insert(HOST, value);
        }
        if headers.contains_key(TRANSFER_ENCODING) {
            // The body is sent as given, with its length: a framing header of the scenario's
            // own would contradict it.
            return Err(invalid(
                "a Transfer-Encoding header (the body is sent with its length)".to_string(),
            ));
        }
        if (!body.is_empty() || expects_body(&method)) && !headers.contains_key(CONTENT_LENGTH) {
            // hyper would add it anyway; adding it here makes the byte count below exact, and
            // servers may refuse a POST without it (411).
            headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
        let wire = serialize(&method, &target, &headers, &body);
        prepared.push(Prepared {
            label: r.label,
            origin,
            head: method == Method::HEAD,
            method,
            uri,
            target,
            headers,
            body,
            bytes_sent: wire.len() as u64,
            wire,
        });
    }
    Ok((prepared, origins))
}

/// Methods whose requests carry a body by definition: they say its length even when it is empty.
pub(crate) fn expects_body(method: &Method) -> bool {
    *method == Method::POST || *method == Method::PUT || *method == Method::PATCH
}

/// `METHOD SP target SP HTTP/1.1 CRLF`, `name: value CRLF` each, CRLF, body: the request as
/// hyper writes it (lower-case names, in the map's order).
fn serialize(method: &Method, target: &str, headers: &HeaderMap, body: &[u8]) -> Bytes {
    let line = method.as_str().len() + 1 + target.len() + 1 + "HTTP/1.1\r\n".len();
    let mut wire = Vec::with_capacity(line + header_size(headers) + 2 + body.len());
    wire.extend_from_slice(method.as_str().as_bytes());
    wire.push(b' ');
    wire.extend_from_slice(target.as_bytes());
    wire.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers {
        wire.extend_from_slice(name.as_str().as_bytes());
        wire.extend_from_slice(b": ");
        wire.extend_from_slice(value.as_bytes());
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b"\r\n");
    wire.extend_from_slice(body);
    Bytes::from(wire)
}

/// Bytes of a header block on the wire, without the empty line that ends it.
#[inline]
pub(crate) fn header_size(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(n, v)| n.as_str().len() + 2 + v.len() + 2)
        .sum()
}

/// hyper's connection future: reads and writes the socket when polled.
pub(crate) type Driver = Pin<Box<dyn Future<Output = hyper::Result<()>>>>;

/// A keep-alive connection: plain http on the purpose-built client ([`H1Conn`]), https on hyper
/// over rustls.
pub(crate) enum Conn {
    Plain(H1Conn),
    Tls(HyperConn),
}

impl Conn {
    /// Whether the connection is known to be unusable.
    pub fn is_closed(&self) -> bool {
        match self {
            Conn::Plain(c) => c.is_closed(),
            Conn::Tls(c) => c.is_closed(),
        }
    }

    /// Gives back what only a busy connection needs; called when it goes idle.
    pub fn park(&mut self) {
        if let Conn::Plain(c) = self {
            c.park();
        }
    }
}

/// A keep-alive HTTP/1.1 connection on hyper. Its I/O is driven by the task that uses it (see
/// [`drive`]) rather than by a task of its own: one task and no cross-task wake-up per
/// request, and an idle connection costs no task at all.
pub(crate) struct HyperConn {
    sender: SendRequest<Body>,
    /// None once hyper's connection future has completed (closed or failed).
    driver: Option<Driver>,
}

impl HyperConn {
    /// Whether the connection is known to be unusable. A close that happened while nobody polled
    /// is found at the next send: hyper hands the unsent request back (see `try_send_request`).
    pub fn is_closed(&self) -> bool {
        self.driver.is_none() || self.sender.is_closed()
    }

    /// The sender to build a request future with, and the driver to run it with ([`drive`]).
    pub fn parts(&mut self) -> (&mut SendRequest<Body>, &mut Option<Driver>) {
        (&mut self.sender, &mut self.driver)
    }
}

/// Runs `fut` (which sends on the connection and reads the response) while driving the
/// connection's I/O in the same task.
pub(crate) async fn drive<F: Future>(driver: &mut Option<Driver>, fut: F) -> F::Output {
    let mut fut = pin!(fut);
    poll_fn(|cx| {
        if let Poll::Ready(out) = fut.as_mut().poll(cx) {
            return Poll::Ready(out);
        }
        let Some(d) = driver.as_mut() else {
            return Poll::Pending;
        };
        if d.as_mut().poll(cx).is_ready() {
            // Ended: pending requests learn why through their channel (hyper answers every
            // callback it drops). A completed future must not be polled again.
            *driver = None;
        }
        // The driver may just have delivered what `fut` waits for: save a round trip through
        // the scheduler.
        fut.as_mut().poll(cx)
    })
    .await
}

/// Why a connection could not be opened.
pub(crate) enum ConnectError {
    /// DNS, refused, unreachable.
    Connect(io::Error),
    /// Handshake or certificate.
    Tls(io::Error),
    /// hyper refused the stream (cannot happen for a fresh socket, kept for completeness).
    Io(hyper::Error),
}

/// Opens a connection: TCP (TCP_NODELAY), then for https TLS and hyper's HTTP/1.1 handshake
/// (which sends nothing). The caller bounds it with the request's timeout.
pub(crate) async fn connect(
    origin: &Origin,
    tls: Option<&TlsConnector>,
) -> Result<Conn, ConnectError> {
    let addrs = origin.resolve().await.map_err(ConnectError::Connect)?;
    let tcp = TcpStream::connect(addrs.as_slice())
        .await
        .map_err(ConnectError::Connect)?;
    // Without it a small request can wait for the previous response's delayed ACK.
    tcp.set_nodelay(true).map_err(ConnectError::Connect)?;
    match (origin.https, tls) {
        (true, Some(tls)) => {
            let stream = tls
                .connect(origin.server_name.clone(), tcp)
                .await
                .map_err(ConnectError::Tls)?;
            handshake(TokioIo::new(stream)).await
        }
        _ => Ok(Conn::Plain(H1Conn::new(tcp))),
    }
}

async fn handshake<T>(io: T) -> Result<Conn, ConnectError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
{
    let (sender, connection) = http1::handshake(io).await.map_err(ConnectError::Io)?;
    Ok(Conn::Tls(HyperConn {
        sender,
        driver: Some(Box::pin(connection)),
    }))
}

/// Microseconds from `from` to `to`, 0 if `to` is earlier.
#[inline]
pub(crate) fn micros(from: Instant, to: Instant) -> u64 {
    to.saturating_duration_since(from).as_micros() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prepare_one_label(
        requests: &[RequestPlan],
    ) -> Result<(Vec<Prepared>, Vec<Origin>), EngineError> {
        prepare(requests, 1)
    }

    fn plan(url: &str, body: Option<&str>) -> RequestPlan {
        RequestPlan {
            name: "r".to_string(),
            label: 0,
            method: "POST".to_string(),
            url: url.to_string(),
            headers: vec![("x-key".to_string(), "v".to_string())],
            body: body.map(str::to_string),
            expect_status: vec![],
            dynamic: None,
        }
    }

    #[test]
    fn prepares_origin_form_host_and_exact_size() {
        let (p, origins) =
            prepare_one_label(&[plan("http://127.0.0.1:8080/a?b=1", Some("xyz"))]).unwrap();
        assert_eq!(p[0].uri.to_string(), "/a?b=1");
        assert_eq!(p[0].headers[HOST], "127.0.0.1:8080");
        // "POST /a?b=1 HTTP/1.1\r\n" + "x-key: v\r\n" + "host: 127.0.0.1:8080\r\n"
        // + "content-length: 3\r\n" + "\r\n" + "xyz"
        assert_eq!(p[0].bytes_sent, 22 + 10 + 22 + 19 + 2 + 3);
        assert_eq!(
            &p[0].wire[..],
            b"POST /a?b=1 HTTP/1.1\r\nx-key: v\r\nhost: 127.0.0.1:8080\r\ncontent-length: 3\r\n\r\nxyz"
        );
        assert!(!p[0].head);
        assert_eq!(origins.len(), 1);
        assert_eq!(origins[0].port, 8080);
    }

    #[test]
    fn same_origin_is_shared_and_https_is_another() {
        let (p, origins) = prepare_one_label(&[
            plan("http://localhost/a", None),
            plan("http://localhost:80/b", None),
            plan("https://localhost/c", None),
        ])
        .unwrap();
        assert_eq!(origins.len(), 2);
        assert_eq!(p[0].origin, p[1].origin);
        assert_ne!(p[0].origin, p[2].origin);
        assert_eq!(p[0].headers[HOST], "localhost");
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        for url in ["ftp://x/", "not a url", "http://[::1/"] {
            assert!(prepare_one_label(&[plan(url, None)]).is_err(), "{url}");
        }
        let mut bad = plan("http://x/", None);
        bad.method = "GE T".to_string();
        assert!(prepare_one_label(&[bad]).is_err());
        let mut bad = plan("http://x/", None);
        bad.label = 1;
        assert!(prepare_one_label(&[bad]).is_err());
        let mut bad = plan("http://x/", None);
        bad.headers = vec![("x".to_string(), "a\nb".to_string())];
        let err = prepare_one_label(&[bad]).err().unwrap().to_string();
        assert!(!err.contains("a\nb"), "{err}");
    }

    #[test]
    fn a_bodyless_post_says_its_length_and_a_head_is_marked() {
        let (p, _) = prepare_one_label(&[plan("http://h/", None)]).unwrap();
        assert!(p[0].wire.ends_with(b"content-length: 0\r\n\r\n"));
        assert_eq!(p[0].bytes_sent, p[0].wire.len() as u64);
        let mut head = plan("http://h/", None);
        head.method = "HEAD".to_string();
        let (p, _) = prepare_one_label(&[head]).unwrap();
        assert!(p[0].head);
        assert!(p[0].wire.starts_with(b"HEAD / HTTP/1.1\r\n"));
        assert!(!p[0].wire.windows(14).any(|w| w == b"content-length"));
    }

    #[test]
    fn a_scenario_transfer_encoding_is_refused() {
        let mut bad = plan("http://h/", Some("x"));
        bad.headers = vec![("Transfer-Encoding".to_string(), "chunked".to_string())];
        assert!(prepare_one_label(&[bad]).is_err());
    }
}
