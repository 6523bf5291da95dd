//! A small JSON-over-HTTPS client for the APIs octocrab does not speak (GitLab), built on the
//! hyper client octocrab already brings, so it adds no dependency.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) struct Http {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

#[derive(Debug)]
pub(crate) struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Response {
    pub(crate) fn json(&self) -> Result<Value, String> {
        serde_json::from_slice(&self.body).map_err(|e| format!("the answer is not JSON: {e}"))
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The API's own words about an error, cut short.
    pub(crate) fn message(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        crate::report::escape::truncate(text.trim(), 300).to_string()
    }
}

impl Http {
    pub(crate) fn new() -> Result<Http, String> {
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let builder = hyper_rustls::HttpsConnectorBuilder::new();
        // The system's roots first: a self-managed GitLab often has a company CA installed there.
        let connector = match builder.with_provider_and_native_roots(provider.clone()) {
            Ok(b) => b.https_or_http().enable_http1().build(),
            Err(_) => {
                let roots = rustls::RootCertStore::from_iter(
                    webpki_roots::TLS_SERVER_ROOTS.iter().cloned(),
                );
                let config = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(|e| format!("TLS setup: {e}"))?
                    .with_root_certificates(roots)
                    .with_no_client_auth();
                hyper_rustls::HttpsConnectorBuilder::new()
                    .with_tls_config(config)
                    .https_or_http()
                    .enable_http1()
                    .build()
            }
        };
        Ok(Http {
            client: Client::builder(TokioExecutor::new()).build(connector),
        })
    }

    /// Sends one request; `body` is sent as JSON. Errors name the method and URL, never a header.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Response, String> {
        let mut request = Request::builder()
            .method(method.clone())
            .uri(url)
            .header("accept", "application/json")
            .header(
                "user-agent",
                concat!("loadgate/", env!("CARGO_PKG_VERSION")),
            );
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let payload = match body {
            Some(v) => {
                request = request.header("content-type", "application/json");
                Bytes::from(v.to_string())
            }
            None => Bytes::new(),
        };
        let request = request
            .body(Full::new(payload))
            .map_err(|e| format!("{method} {url}: invalid request: {e}"))?;
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| {
                let cause = std::error::Error::source(&e)
                    .map(|c| format!(": {c}"))
                    .unwrap_or_default();
                format!("{method} {url}: {e}{cause}")
            })?;
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| format!("{method} {url}: reading the answer: {e}"))?
                .to_bytes();
            Ok(Response {
                status: parts.status.as_u16(),
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(TIMEOUT, exchange)
            .await
            .map_err(|_| format!("{method} {url}: no answer within {}s", TIMEOUT.as_secs()))?
    }
}
