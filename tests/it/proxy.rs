//! A recording proxy in front of moto: every AWS call the binary or the library makes passes
//! through it, so a test can count calls and read their bodies (how many keys one DeleteObjects
//! carried), answer one call itself (a Service Quotas value moto does not hold) or edit moto's
//! answer (a stack held in CREATE_IN_PROGRESS, which moto leaves at once). Everything else is
//! moto's own behaviour, unlike an aws-smithy-mocks client, which replaces every answer and
//! cannot be given to the binary.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

use crate::moto::{Moto, REGION};

/// One request as it reached the proxy.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    /// Path and query.
    pub path: String,
    /// `X-Amz-Target` (JSON protocols: ECS, ECR, Service Quotas, SSM), else "".
    pub target: String,
    /// The region the request was signed for (SigV4's credential scope), "" when unsigned.
    pub region: String,
    /// The service it was signed for (`s3`, `ecs`, `ssm`...: the credential scope's next part).
    pub service: String,
    /// The SDK's attempt number (`amz-sdk-request: attempt=N; max=M`): 1, then each retry.
    pub attempt: u32,
    pub body: Vec<u8>,
}

impl Seen {
    /// The operation: `RunTask` from `X-Amz-Target: AmazonEC2ContainerServiceV20141113.RunTask`,
    /// `DescribeStacks` from a query-protocol body `Action=DescribeStacks&...`; "" for S3's REST.
    pub fn action(&self) -> String {
        if let Some((_, op)) = self.target.rsplit_once('.') {
            return op.to_string();
        }
        let body = String::from_utf8_lossy(&self.body);
        body.split('&')
            .find_map(|kv| kv.strip_prefix("Action="))
            .unwrap_or_default()
            .to_string()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }
}

/// What the proxy does with a request.
pub enum Reply {
    Forward,
    /// Forward, then give the client moto's answer as edited by this function.
    Edit(Box<dyn FnOnce(String) -> String + Send>),
    /// Answer without asking moto.
    Answer {
        status: u16,
        body: String,
    },
    /// Answer with an XML body (the query protocol's `<ErrorResponse>`: CloudFormation, EC2).
    Xml {
        status: u16,
        body: String,
    },
    /// Answer with an S3 error document (`<Error><Code>SlowDown</Code>…`), as S3 does.
    S3Error {
        status: u16,
        code: &'static str,
    },
}

type Hook = dyn Fn(&Seen) -> Reply + Send + Sync;

struct State {
    upstream: String,
    hook: Box<Hook>,
    seen: Mutex<Vec<Seen>>,
    client: Client<HttpConnector, Full<Bytes>>,
}

pub struct Proxy {
    pub endpoint: String,
    state: Arc<State>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    /// A proxy that forwards everything.
    pub fn start(moto: &Moto) -> Proxy {
        Proxy::with(moto, |_| Reply::Forward)
    }

    pub fn with(moto: &Moto, hook: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Proxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        listener.set_nonblocking(true).expect("nonblocking");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(State {
            upstream: moto.endpoint.clone(),
            hook: Box::new(hook),
            seen: Mutex::new(Vec::new()),
            client: Client::builder(TokioExecutor::new()).build_http(),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shared = state.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("proxy runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let accept = async {
                    loop {
                        let Ok((stream, _)) = listener.accept().await else {
                            continue;
                        };
                        let state = shared.clone();
                        tokio::spawn(async move {
                            let service =
                                hyper::service::service_fn(move |req| handle(req, state.clone()));
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        });
                    }
                };
                tokio::select! {
                    _ = accept => {}
                    _ = stopped => {}
                }
            });
        });
        Proxy {
            endpoint,
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The environment that points the binary at the proxy (and so at moto).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_REGION", REGION.to_string()),
            ("AWS_ACCESS_KEY_ID", "testing".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
        ]
    }

    /// The library's configuration, through the proxy.
    pub async fn aws(&self) -> loadgate::cloud::aws::Aws {
        crate::fake_fargate::aws_for(&self.endpoint).await
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().expect("lock").clone()
    }

    /// The requests of one operation (see [`Seen::action`]).
    pub fn calls(&self, action: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.action() == action)
            .collect()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn header<'a>(headers: &'a hyper::HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

async fn handle(
    req: Request<Incoming>,
    state: Arc<State>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/".to_string(), |p| p.to_string());
    let seen = Seen {
        method: parts.method.to_string(),
        path: path.clone(),
        target: header(&parts.headers, "x-amz-target").to_string(),
        region: header(&parts.headers, "authorization")
            .split_once("Credential=")
            .and_then(|(_, c)| c.split('/').nth(2))
            .unwrap_or_default()
            .to_string(),
        service: header(&parts.headers, "authorization")
            .split_once("Credential=")
            .and_then(|(_, c)| c.split('/').nth(3))
            .unwrap_or_default()
            .to_string(),
        attempt: header(&parts.headers, "amz-sdk-request")
            .split(';')
            .find_map(|kv| kv.trim().strip_prefix("attempt="))
            .and_then(|n| n.parse().ok())
            .unwrap_or(1),
        body: body.to_vec(),
    };
    let reply = (state.hook)(&seen);
    state.seen.lock().expect("lock").push(seen);
    let edit = match reply {
        Reply::Answer { status, body } => {
            let answer = Response::builder()
                .status(status)
                .header("content-type", "application/x-amz-json-1.1")
                .body(Full::new(Bytes::from(body)))
                .expect("answer");
            return Ok(answer);
        }
        Reply::Xml { status, body } => {
            let answer = Response::builder()
                .status(status)
                .header("content-type", "text/xml")
                .body(Full::new(Bytes::from(body)))
                .expect("answer");
            return Ok(answer);
        }
        Reply::S3Error { status, code } => {
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
                 <Message>injected by the test proxy</Message><RequestId>proxy</RequestId></Error>"
            );
            let answer = Response::builder()
                .status(status)
                .header("content-type", "application/xml")
                .body(Full::new(Bytes::from(body)))
                .expect("answer");
            return Ok(answer);
        }
        Reply::Edit(edit) => Some(edit),
        Reply::Forward => None,
    };
    let mut forward = Request::builder()
        .method(parts.method)
        .uri(format!("{}{path}", state.upstream));
    for (name, value) in &parts.headers {
        // The body was read whole: its length is set anew.
        if !matches!(
            name.as_str(),
            "transfer-encoding" | "content-length" | "connection"
        ) {
            forward = forward.header(name, value);
        }
    }
    let forward = forward
        .header("content-length", body.len())
        .body(Full::new(body))
        .expect("request");
    let answer = match state.client.request(forward).await {
        Ok(answer) => answer,
        Err(e) => {
            let failed = Response::builder()
                .status(502)
                .body(Full::new(Bytes::from(format!("proxy: {e}"))))
                .expect("502");
            return Ok(failed);
        }
    };
    let (parts, body) = answer.into_parts();
    let mut bytes = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if let Some(edit) = edit {
        bytes = Bytes::from(edit(String::from_utf8_lossy(&bytes).into_owned()));
    }
    let mut out = Response::builder().status(parts.status);
    for (name, value) in &parts.headers {
        if !matches!(
            name.as_str(),
            "transfer-encoding" | "content-length" | "connection"
        ) {
            out = out.header(name, value);
        }
    }
    Ok(out.body(Full::new(bytes)).expect("response"))
}
