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
