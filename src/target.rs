//! A built-in HTTP target on 127.0.0.1: the `demo` command's server, and the real server the tests
//! load. Each route has a status, a latency and a body size; the server counts what it served, so
//! a test can compare its count with the client's, and can freeze (pause) to play a stalled target.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How long a route takes to answer.
#[derive(Clone, Copy, Debug)]
pub enum Latency {
    Fixed(Duration),
    /// Uniformly distributed between the two.
    Uniform(Duration, Duration),
}

impl Latency {
    fn sample(&self) -> Duration {
        match *self {
            Latency::Fixed(d) => d,
            Latency::Uniform(lo, hi) if hi > lo => {
                let span = (hi - lo).as_micros() as u64;
                lo + Duration::from_micros(fastrand::u64(0..=span))
            }
            Latency::Uniform(lo, _) => lo,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Route {
    pub path: String,
    pub status: u16,
    pub latency: Latency,
    /// Body size in bytes.
    pub body: usize,
    /// Fraction (0 to 1) of requests answered with 500 instead of `status`.
    pub error_rate: f64,
    /// A header (name, value) the request must carry; without it the answer is 401.
    pub require_header: Option<(String, String)>,
}

impl Route {
    /// 200, no latency, a small body.
    pub fn ok(path: &str) -> Route {
        Route {
            path: path.to_string(),
            status: 200,
            latency: Latency::Fixed(Duration::ZERO),
            body: 16,
            error_rate: 0.0,
            require_header: None,
        }
    }

    pub fn status(mut self, status: u16) -> Route {
        self.status = status;
        self
    }

    pub fn latency(mut self, latency: Latency) -> Route {
        self.latency = latency;
        self
    }

    pub fn body(mut self, bytes: usize) -> Route {
        self.body = bytes;
        self
    }

    pub fn error_rate(mut self, rate: f64) -> Route {
        self.error_rate = rate;
        self
    }

    /// Answers 401 to requests without this header value (a test sees that a secret arrived).
    pub fn require_header(mut self, name: &str, value: &str) -> Route {
        self.require_header = Some((name.to_string(), value.to_string()));
        self
    }
}

struct Served {
    route: Route,
    body: Bytes,
    count: AtomicU64,
}

struct Shared {
    routes: HashMap<String, Served>,
    unknown: AtomicU64,
    paused: watch::Sender<bool>,
}

/// A running target; it stops when dropped.
pub struct Target {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Target {
    /// Starts the server on an ephemeral 127.0.0.1 port, on its own thread. Unknown paths get 404.
    pub fn start(routes: Vec<Route>) -> std::io::Result<Target> {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let shared = Arc::new(Shared {
            routes: routes
                .into_iter()
                .map(|r| {
                    let body = Bytes::from(filler(r.body));
                    let served = Served {
                        route: r,
                        body,
                        count: AtomicU64::new(0),
                    };
                    (served.route.path.clone(), served)
                })
                .collect(),
            unknown: AtomicU64::new(0),
            paused: watch::channel(false).0,
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let for_thread = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("target-{}", addr.port()))
            .spawn(move || runtime.block_on(serve(std_listener, for_thread, rx)))?;
        Ok(Target {
            addr,
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests served on `path` (404s are counted under any unknown path as a whole).
    pub fn count(&self, path: &str) -> u64 {
        match self.shared.routes.get(path) {
            Some(s) => s.count.load(Ordering::Relaxed),
            None => self.shared.unknown.load(Ordering::Relaxed),
        }
    }

    /// Every request received, on every path.
    pub fn total(&self) -> u64 {
        self.shared
            .routes
            .values()
            .map(|s| s.count.load(Ordering::Relaxed))
            .sum::<u64>()
            + self.shared.unknown.load(Ordering::Relaxed)
    }

    /// Freezes responses: requests are received and counted, and answered after `resume`.
    pub fn pause(&self) {
        self.shared.paused.send_replace(true);
    }

    pub fn resume(&self) {
        self.shared.paused.send_replace(false);
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        self.resume();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn filler(n: usize) -> Vec<u8> {
    b"loadgate target. "
        .iter()
        .copied()
        .cycle()
        .take(n)
        .collect()
}

async fn serve(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    mut shutdown: tokio::sync::oneshot::Receiver<()>,
) {
    let Ok(listener) = TcpListener::from_std(listener) else {
        return;
    };
    loop {
        let stream = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| respond(shared.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn respond(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let Some(served) = shared.routes.get(req.uri().path()) else {
        shared.unknown.fetch_add(1, Ordering::Relaxed);
        return Ok(response(404, Bytes::from_static(b"not found\n")));
    };
    served.count.fetch_add(1, Ordering::Relaxed);
    let authorised = served
        .route
        .require_header
        .as_ref()
        .is_none_or(|(name, value)| {
            req.headers()
                .get(name.as_str())
                .and_then(|v| v.to_str().ok())
                == Some(value.as_str())
        });
    // Drain the request body so keep-alive stays usable.
    let _ = http_body_util::BodyExt::collect(req.into_body()).await;
    let delay = served.route.latency.sample();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut paused = shared.paused.subscribe();
    let _ = paused.wait_for(|p| !*p).await;
    let route = &served.route;
    if !authorised {
        return Ok(response(401, Bytes::from_static(b"unauthorised\n")));
    }
    if route.error_rate > 0.0 && fastrand::f64() < route.error_rate {
        return Ok(response(
            500,
            Bytes::from_static(b"{\"error\":\"internal\",\"detail\":\"injected failure\"}"),
        ));
    }
    Ok(response(route.status, served.body.clone()))
}

fn response(status: u16, body: Bytes) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(body));
    *res.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn get(addr: SocketAddr, path: &str) -> String {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn serves_routes_and_counts_them() {
        let t = Target::start(vec![Route::ok("/a").body(5), Route::ok("/b").status(201)]).unwrap();
        assert!(get(t.addr(), "/a").starts_with("HTTP/1.1 200"));
        assert!(get(t.addr(), "/b").starts_with("HTTP/1.1 201"));
        assert!(get(t.addr(), "/nope").starts_with("HTTP/1.1 404"));
        assert_eq!(t.count("/a"), 1);
        assert_eq!(t.count("/b"), 1);
        assert_eq!(t.total(), 3);
    }

    #[test]
    fn error_rate_one_always_fails() {
        let t = Target::start(vec![Route::ok("/x").error_rate(1.0)]).unwrap();
        assert!(get(t.addr(), "/x").starts_with("HTTP/1.1 500"));
    }
}
