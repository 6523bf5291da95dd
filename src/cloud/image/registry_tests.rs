use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::cloud::image::oci::Layer;
use crate::cloud::image::CpuArch;

fn credentials() -> Credentials {
    Credentials {
        user: "AWS".into(),
        password: "tok3n".into(),
    }
}

async fn registry(server: &MockServer) -> Registry {
    let host = server.uri().trim_start_matches("http://").to_string();
    let repository = Repository::parse(&format!("{host}/lg")).expect("repository");
    Registry::new(repository, Some(&credentials())).expect("registry")
}

#[tokio::test]
async fn an_immutable_tag_pushed_meanwhile_counts_as_pushed() {
    let server = MockServer::start().await;
    // base64("AWS:tok3n"): Basic auth on every request, without a challenge first.
    let auth = header("authorization", "Basic QVdTOnRvazNu");
    Mock::given(method("HEAD"))
        .and(auth)
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/v2/lg/manifests/t1"))
        .respond_with(ResponseTemplate::new(400).set_body_string(
            r#"{"errors":[{"code":"TAG_INVALID","message":"The image tag 't1' already exists in the 'lg' repository and cannot be overwritten because the repository is immutable."}]}"#,
        ))
        .expect(1)
        .mount(&server)
        .await;
    let mut image = Image::new(&Layer::new(b"x"), CpuArch::X86_64);
    image.tag = "t1".into();
    let report = registry(&server).await.push(&image).await.expect("push");
    assert_eq!(report.blobs_uploaded, 0, "both blobs were there");
}

#[tokio::test]
async fn a_registry_error_names_the_repository_and_status_but_no_secret() {
    let server = MockServer::start().await;
    Mock::given(method("HEAD"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let err = registry(&server)
        .await
        .has_manifest("t1")
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), crate::error::EXIT_INFRASTRUCTURE);
    let text = format!("{err} {}", err.help().unwrap_or(""));
    assert!(text.contains("/lg") && text.contains("HTTP 500"), "{text}");
    assert!(
        !text.contains("tok3n") && !text.contains("QVdTOnRvazNu"),
        "{text}"
    );
}

#[tokio::test]
async fn an_upload_follows_the_locations_it_is_given() {
    let server = MockServer::start().await;
    Mock::given(method("HEAD"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/lg/blobs/uploads/"))
        .respond_with(
            ResponseTemplate::new(202)
                .insert_header("location", "/v2/lg/blobs/uploads/u1?_state=s"),
        )
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/v2/lg/blobs/uploads/u1"))
        .respond_with(
            ResponseTemplate::new(202)
                .insert_header("location", "/v2/lg/blobs/uploads/u1?_state=t"),
        )
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/v2/lg/blobs/uploads/u1"))
        .respond_with(ResponseTemplate::new(201))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/v2/lg/manifests/t2"))
        .and(header("content-type", MANIFEST_MEDIA_TYPE))
        .respond_with(ResponseTemplate::new(201))
        .expect(1)
        .mount(&server)
        .await;
    let mut image = Image::new(&Layer::new(b"y"), CpuArch::Arm64);
    image.tag = "t2".into();
    let report = registry(&server).await.push(&image).await.expect("push");
    assert_eq!(report.blobs_uploaded, 2);
    assert_eq!(
        report.bytes_uploaded,
        (image.layer.bytes.len() + image.config.bytes.len()) as u64
    );
    // The closing PUTs carried the state the PATCH handed back, and the digest.
    let requests = server.received_requests().await.expect("recorded");
    let closing: Vec<String> = requests
        .iter()
        .filter(|r| r.method.as_str() == "PUT" && r.url.path().contains("/uploads/"))
        .map(|r| r.url.query().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        closing,
        [
            format!("_state=t&digest={}", image.layer.digest),
            format!("_state=t&digest={}", image.config.digest)
        ]
    );
}

/// Registries backed by object storage answer a blob HEAD (or GET) with a 307 to a pre-signed
/// URL on another host (OCI distribution spec, "Pulling blobs"). The storage here is a second
/// local server that refuses any request carrying the registry's credentials, as S3 does with a
/// second authorization besides the signature.
#[tokio::test]
async fn a_blob_head_redirected_to_storage_is_followed_without_the_credentials() {
    let registry_server = MockServer::start().await;
    let storage = MockServer::start().await;
    Mock::given(method("HEAD"))
        .and(header("authorization", "Basic QVdTOnRvazNu"))
        .and(path("/v2/lg/blobs/sha256:present"))
        .respond_with(ResponseTemplate::new(307).insert_header(
            "location",
            format!("{}/bucket/present?X-Amz-Signature=s", storage.uri()).as_str(),
        ))
        .mount(&registry_server)
        .await;
    Mock::given(method("HEAD"))
        .and(path("/v2/lg/blobs/sha256:absent"))
        .respond_with(ResponseTemplate::new(307).insert_header("location", "/storage/absent"))
        .mount(&registry_server)
        .await;
    Mock::given(method("HEAD"))
        .and(path("/storage/absent"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&registry_server)
        .await;
    Mock::given(method("HEAD"))
        .and(path("/bucket/present"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&storage)
        .await;
    let registry = registry(&registry_server).await;
    let blob = |digest: &str| Blob {
        digest: digest.to_string(),
        bytes: Vec::new(),
    };
    assert!(registry
        .has_blob(&blob("sha256:present"))
        .await
        .expect("head"));
    assert!(!registry
        .has_blob(&blob("sha256:absent"))
        .await
        .expect("head"));
    let at_storage = storage.received_requests().await.expect("recorded");
    assert_eq!(at_storage.len(), 1);
    assert!(
        !at_storage[0].headers.contains_key("authorization"),
        "the registry's credentials went to the storage host"
    );
}

#[tokio::test]
async fn a_redirect_loop_is_an_error() {
    let server = MockServer::start().await;
    Mock::given(method("HEAD"))
        .respond_with(ResponseTemplate::new(307).insert_header("location", "/v2/lg/manifests/t1"))
        .mount(&server)
        .await;
    let err = registry(&server)
        .await
        .has_manifest("t1")
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("redirected more than 5 times"),
        "{err}"
    );
}

#[test]
fn registry_requests_are_recorded_as_the_ecr_actions_that_authorise_them() {
    let base = "https://1.dkr.ecr.eu-west-1.amazonaws.com/v2/lg";
    for (method, url, action) in [
        (
            Method::HEAD,
            format!("{base}/manifests/t1"),
            "BatchGetImage",
        ),
        (
            Method::HEAD,
            format!("{base}/blobs/sha256:a"),
            "BatchCheckLayerAvailability",
        ),
        (
            Method::POST,
            format!("{base}/blobs/uploads/"),
            "InitiateLayerUpload",
        ),
        (
            Method::PATCH,
            format!("{base}/blobs/uploads/u1"),
            "UploadLayerPart",
        ),
        (
            Method::PUT,
            format!("{base}/blobs/uploads/u1"),
            "CompleteLayerUpload",
        ),
        (Method::PUT, format!("{base}/manifests/t1"), "PutImage"),
    ] {
        assert_eq!(ecr_action(&method, &url), action, "{method} {url}");
    }
}
