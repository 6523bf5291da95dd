//! The part of the OCI distribution API a push needs, on the hyper client already in the tree (no
//! second HTTP stack): HEAD manifest, HEAD blob, chunked upload in one chunk, PUT manifest. Basic
//! auth only, which both ECR (user `AWS`, password from GetAuthorizationToken) and a registry with
//! htpasswd take without the token dance. Plain http only for loopback registries (tests).

use std::fmt;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::oci::{Blob, Image, MANIFEST_MEDIA_TYPE};
use crate::{Error, Result};

/// Small requests; a layer gets longer (an 11 MB upload over a slow CI uplink).
const TIMEOUT: Duration = Duration::from_secs(60);
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(600);

/// `REGISTRY/REPOSITORY`, e.g. `123.dkr.ecr.eu-west-1.amazonaws.com/loadgate` or
/// `127.0.0.1:5000/loadgate`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repository {
    pub registry: String,
    pub name: String,
}

impl Repository {
    /// Parses a repository reference without tag or digest (loadgate picks the tag). The registry
    /// must be explicit: a bare `user/name` would mean Docker Hub, where loadgate has no business.
    pub fn parse(reference: &str) -> Result<Repository> {
        let invalid = |why: &str| {
            Error::input(format!(
                "invalid image repository `{reference}`: {why} (expected REGISTRY/REPOSITORY, \
                 e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/loadgate or 127.0.0.1:5000/loadgate)"
            ))
        };
        let (registry, name) = reference
            .split_once('/')
            .ok_or_else(|| invalid("no registry host"))?;
        let host_like = registry.contains('.') || registry.contains(':') || registry == "localhost";
        if !host_like {
            return Err(invalid("the first part is not a registry host"));
        }
        if name.contains('@') || name.rsplit('/').next().is_some_and(|l| l.contains(':')) {
            return Err(invalid("give the repository without a tag or digest"));
        }
        let valid_name = !name.is_empty()
            && name.split('/').all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
            });
        if !valid_name {
            return Err(invalid(
                "a repository name has lowercase letters, digits, `.`, `_`, `-` and `/`",
            ));
        }
        Ok(Repository {
            registry: registry.to_string(),
            name: name.to_string(),
        })
    }

    /// True for registries on this machine, the only ones spoken to over plain http.
    pub fn is_loopback(&self) -> bool {
        let host = match self.registry.rsplit_once(':') {
            Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
            _ => self.registry.as_str(),
        };
        matches!(host, "127.0.0.1" | "localhost" | "[::1]")
    }

    /// An ECR registry (`<account>.dkr.ecr.<region>.amazonaws.com[.cn]`): its credentials come
    /// from GetAuthorizationToken.
    pub fn is_ecr(&self) -> bool {
        self.registry.contains(".dkr.ecr.") && self.registry.contains(".amazonaws.com")
    }

    fn base(&self) -> String {
        let scheme = if self.is_loopback() { "http" } else { "https" };
        format!("{scheme}://{}", self.registry)
    }
}

impl fmt::Display for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.name)
    }
}

/// Registry credentials. Debug never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Credentials {{ user: {:?}, password: <redacted> }}",
            self.user
        )
    }
}

/// What a push did: the client's own count, for the output and the tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PushReport {
    /// The tag was already there: one HEAD, nothing else.
    pub already_present: bool,
    pub blobs_uploaded: usize,
    pub bytes_uploaded: u64,
}

pub struct Registry {
    repository: Repository,
    authorization: Option<String>,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Registry {
    pub fn new(repository: Repository, credentials: Option<&Credentials>) -> Result<Registry> {
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        // The system's roots first (a registry of one's own may have a company CA installed
        // there; in the scratch image SSL_CERT_FILE names the bundle), Mozilla's built in
        // otherwise: ECR's certificates chain to Amazon's roots, which are in both.
        let connector = match hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(provider.clone())
        {
            Ok(builder) => builder.https_or_http().enable_http1().build(),
            Err(_) => {
                let roots = rustls::RootCertStore::from_iter(
                    webpki_roots::TLS_SERVER_ROOTS.iter().cloned(),
                );
                let tls = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(|e| Error::infra(format!("TLS setup: {e}"), None))?
                    .with_root_certificates(roots)
                    .with_no_client_auth();
                hyper_rustls::HttpsConnectorBuilder::new()
                    .with_tls_config(tls)
                    .https_or_http()
                    .enable_http1()
                    .build()
            }
        };
        let authorization = credentials.map(|c| {
            let pair = format!("{}:{}", c.user, c.password);
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            )
        });
        Ok(Registry {
            repository,
            authorization,
            client: Client::builder(TokioExecutor::new()).build(connector),
        })
    }

    /// `<registry>/<repository>:<tag>`, what a task definition names.
    pub fn uri(&self, tag: &str) -> String {
        format!("{}:{tag}", self.repository)
    }

    /// True when the tag exists (one HEAD).
    pub async fn has_manifest(&self, tag: &str) -> Result<bool> {
        let url = format!(
            "{}/v2/{}/manifests/{tag}",
            self.repository.base(),
            self.repository.name
        );
        let answer = self
            .head_following(&url, &[("accept", MANIFEST_MEDIA_TYPE)])
            .await?;
        match answer.status {
            StatusCode::OK => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.refused("look up the image tag", &answer)),
        }
    }

    /// Pushes the image: the blobs the registry lacks, then the manifest under the image's tag.
    /// The caller has found the tag missing (HEAD here, DescribeImages for ECR).
    pub async fn push(&self, image: &Image) -> Result<PushReport> {
        let mut report = PushReport::default();
        for blob in [&image.layer, &image.config] {
            if !self.has_blob(blob).await? {
                self.upload(blob).await?;
                report.blobs_uploaded += 1;
                report.bytes_uploaded += blob.bytes.len() as u64;
            }
        }
        self.put_manifest(&image.tag, &image.manifest).await?;
        Ok(report)
    }

    async fn has_blob(&self, blob: &Blob) -> Result<bool> {
        let url = format!(
            "{}/v2/{}/blobs/{}",
            self.repository.base(),
            self.repository.name,
            blob.digest
        );
        let answer = self.head_following(&url, &[]).await?;
        match answer.status {
            StatusCode::OK => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.refused("check a layer", &answer)),
        }
    }

    /// POST opens an upload, one PATCH sends the whole blob, PUT with the digest closes it: the
    /// sequence Docker itself uses, which ECR accepts (it does not take a monolithic PUT body).
    async fn upload(&self, blob: &Blob) -> Result<()> {
        let url = format!(
            "{}/v2/{}/blobs/uploads/",
            self.repository.base(),
            self.repository.name
        );
        let answer = self
            .send(Method::POST, &url, &[], Bytes::new(), TIMEOUT)
            .await?;
        if answer.status != StatusCode::ACCEPTED {
            return Err(self.refused("start a layer upload", &answer));
        }
        let location = self.location(&answer)?;
        let length = blob.bytes.len().to_string();
        let headers = [
            ("content-type", "application/octet-stream"),
            ("content-length", length.as_str()),
        ];
        let body = Bytes::copy_from_slice(&blob.bytes);
        let answer = self
            .send(Method::PATCH, &location, &headers, body, UPLOAD_TIMEOUT)
            .await?;
        if answer.status != StatusCode::ACCEPTED {
            return Err(self.refused("upload a layer", &answer));
        }
        let location = self.location(&answer)?;
        let separator = if location.contains('?') { '&' } else { '?' };
        let url = format!("{location}{separator}digest={}", blob.digest);
        let answer = self
            .send(
                Method::PUT,
                &url,
                &[("content-length", "0")],
                Bytes::new(),
                TIMEOUT,
            )
            .await?;
        if answer.status != StatusCode::CREATED {
            return Err(self.refused("finish a layer upload", &answer));
        }
        Ok(())
    }

    async fn put_manifest(&self, tag: &str, manifest: &Blob) -> Result<()> {
        let url = format!(
            "{}/v2/{}/manifests/{tag}",
            self.repository.base(),
            self.repository.name
        );
        let body = Bytes::copy_from_slice(&manifest.bytes);
        let answer = self
            .send(
                Method::PUT,
                &url,
                &[("content-type", MANIFEST_MEDIA_TYPE)],
                body,
                TIMEOUT,
            )
            .await?;
        if answer.status == StatusCode::CREATED {
            return Ok(());
        }
        // ECR's tags are immutable: another controller pushed the same tag (so the same content,
        // the tag being the content's digest) between our HEAD and PUT.
        let text = String::from_utf8_lossy(&answer.body);
        if text.contains("already exists") {
            return Ok(());
        }
        Err(self.refused("put the image manifest", &answer))
    }

    /// A HEAD that follows redirects. The distribution API lets a registry answer a blob (or
    /// manifest) request with a redirect to where the content is stored (OCI distribution spec,
    /// "Pulling blobs": 307), as registries backed by object storage do. The target is
    /// usually a pre-signed URL on another host: the registry's credentials are not sent there
    /// (they would leak, and storage refuses a second authorization besides the signature).
    async fn head_following(&self, url: &str, headers: &[(&str, &str)]) -> Result<Answer> {
        const MAX_REDIRECTS: usize = 5;
        let origin = self.repository.base();
        let mut url = url.to_string();
        for _ in 0..=MAX_REDIRECTS {
            let authorize = same_origin(&url, &origin);
            let answer = self
                .send_as(
                    Method::HEAD,
                    &url,
                    headers,
                    Bytes::new(),
                    TIMEOUT,
                    authorize,
                )
                .await?;
            let redirected = matches!(answer.status.as_u16(), 301 | 302 | 303 | 307 | 308);
            let Some(location) = answer
                .headers
                .get("location")
                .and_then(|v| v.to_str().ok())
                .filter(|_| redirected)
            else {
                return Ok(answer);
            };
            let next = resolve(&url, location);
            // Recorded for the real-AWS check (scripts/aws-e2e.sh): does ECR redirect a HEAD?
            eprintln!(
                "loadgate: registry {} answered HEAD with {} to {}; following it",
                self.repository.registry,
                answer.status.as_u16(),
                next.split('?').next().unwrap_or_default()
            );
            url = next;
        }
        Err(Error::infra(
            format!(
                "registry {} redirected more than {MAX_REDIRECTS} times",
                self.repository.registry
            ),
            "the registry or a proxy in front of it loops: check its configuration".to_string(),
        ))
    }

    /// An upload's next URL: absolute, or a path on the registry.
    fn location(&self, answer: &Answer) -> Result<String> {
        let location = answer
            .headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                Error::infra(
                    format!(
                        "registry {} answered an upload without a Location",
                        self.repository.registry
                    ),
                    "the registry does not follow the OCI distribution API".to_string(),
                )
            })?;
        if location.starts_with("http://") || location.starts_with("https://") {
            Ok(location.to_string())
        } else {
            Ok(format!("{}{location}", self.repository.base()))
        }
    }

    /// Exit 3 with the registry's own words (they never hold our credentials).
    fn refused(&self, doing: &str, answer: &Answer) -> Error {
        let text = String::from_utf8_lossy(&answer.body);
        let text: String = text.trim().chars().take(300).collect();
        let help = match answer.status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN if self.repository.is_ecr() => {
                "the credentials lack a permission: `loadgate stack policy --run` prints the \
                 policy runs need (ecr:GetAuthorizationToken and the push actions)"
            }
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                "set LOADGATE_REGISTRY_USER and LOADGATE_REGISTRY_PASSWORD to credentials that \
                 may push to this repository"
            }
            _ => "check that the repository exists and that the registry is reachable",
        };
        Error::infra(
            format!(
                "cannot {doing} in {}: HTTP {}{}",
                self.repository,
                answer.status.as_u16(),
                if text.is_empty() {
                    String::new()
                } else {
                    format!(": {text}")
                }
            ),
            help.to_string(),
        )
    }

    async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Bytes,
        timeout: Duration,
    ) -> Result<Answer> {
        self.send_as(method, url, headers, body, timeout, true)
            .await
    }

    async fn send_as(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Bytes,
        timeout: Duration,
        authorize: bool,
    ) -> Result<Answer> {
        // Errors name the method and the URL without its query: upload URLs carry state tokens.
        let shown = url.split('?').next().unwrap_or(url).to_string();
        if self.repository.is_ecr() && authorize {
            crate::cloud::record::call("ecr", ecr_action(&method, &shown));
        }
        let unreachable = |why: String| {
            Error::infra(
                format!("{method} {shown}: {why}"),
                "check that the registry is reachable from here".to_string(),
            )
        };
        let mut request = Request::builder().method(method.clone()).uri(url).header(
            "user-agent",
            concat!("loadgate/", env!("CARGO_PKG_VERSION")),
        );
        if let Some(authorization) = self.authorization.as_ref().filter(|_| authorize) {
            request = request.header("authorization", authorization);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(body))
            .map_err(|e| unreachable(format!("invalid request: {e}")))?;
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| {
                let cause = std::error::Error::source(&e)
                    .map(|c| format!(": {c}"))
                    .unwrap_or_default();
                unreachable(format!("{e}{cause}"))
            })?;
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| unreachable(format!("reading the answer: {e}")))?
                .to_bytes();
            Ok(Answer {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| unreachable(format!("no answer within {}s", timeout.as_secs())))?
    }
}

/// The ECR action that authorises a registry API request ("Amazon ECR required IAM permissions
/// for pushing an image", Amazon ECR User Guide), for the record of calls.
fn ecr_action(method: &Method, url: &str) -> &'static str {
    let upload = url.contains("/blobs/uploads/");
    match (method.as_str(), url.contains("/manifests/"), upload) {
        ("HEAD" | "GET", true, _) => "BatchGetImage",
        ("HEAD", false, false) => "BatchCheckLayerAvailability",
        ("GET", false, false) => "GetDownloadUrlForLayer",
        ("POST", _, true) => "InitiateLayerUpload",
        ("PATCH", _, _) => "UploadLayerPart",
        ("PUT", false, true) => "CompleteLayerUpload",
        ("PUT", true, _) => "PutImage",
        _ => "UnknownRegistryCall",
    }
}

/// Whether `url` is on `origin` (`scheme://host[:port]`): only there do credentials go.
fn same_origin(url: &str, origin: &str) -> bool {
    url.strip_prefix(origin)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// A Location against the URL it answered: absolute, absolute path, or relative path.
fn resolve(base: &str, location: &str) -> String {
    match url::Url::parse(base).and_then(|b| b.join(location)) {
        Ok(u) => u.to_string(),
        Err(_) => location.to_string(),
    }
}

#[cfg(test)]
#[path = "registry_tests.rs"]
mod tests;
