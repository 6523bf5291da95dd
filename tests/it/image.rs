//! The worker image pushed by loadgate's own code to a real registry (Debian's docker-registry
//! with basic auth), pulled back and checked; the ECR side (token, DescribeImages) against moto.

use std::io::Read;
use std::path::{Path, PathBuf};

use loadgate::cloud::image::oci::{sha256_digest, MANIFEST_MEDIA_TYPE};
use loadgate::cloud::image::{ecr_credentials, ensure_pushed_binary, CpuArch};
use loadgate::cloud::outputs::StackOutputs;
use serde_json::Value;

use crate::harness::{Ran, Test};
use crate::moto::Moto;
use crate::registry::Registry;

/// A minimal static 64-bit ELF (x86_64 or aarch64): the header, a PT_LOAD program header and a
/// payload. What `image push` checks is the header; a registry does not run what it stores, and a
/// real binary would make the test push tens of MB.
fn static_elf(dir: &Path, machine: u16, payload: &[u8]) -> PathBuf {
    let mut elf = vec![0u8; 64];
    elf[..4].copy_from_slice(b"\x7fELF");
    elf[4] = 2;
    elf[5] = 1;
    elf[6] = 1;
    elf[0x12..0x14].copy_from_slice(&machine.to_le_bytes());
    elf[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
    elf[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
    elf[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
    let mut ph = [0u8; 56];
    ph[..4].copy_from_slice(&1u32.to_le_bytes());
    elf.extend_from_slice(&ph);
    elf.extend_from_slice(payload);
    let path = dir.join(format!("loadgate-{machine}"));
    std::fs::write(&path, elf).expect("write binary");
    path
}

fn push(registry: &Registry, binary: &Path, password: &str) -> Ran {
    Test::new()
        .env("LOADGATE_REGISTRY_USER", "ci")
        .env("LOADGATE_REGISTRY_PASSWORD", password)
        .args(&[
            "image",
            "push",
            "--image",
            &registry.repository("loadgate"),
            "--binary",
            &binary.display().to_string(),
        ])
        .run()
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("JSON")
}

/// Pulls `<repo>:<tag>` back: the manifest, then each blob, checked against its digest.
fn pull(registry: &Registry, repo: &str, tag: &str) -> (Value, Value, Vec<u8>) {
    let manifest = registry.get(&format!("/v2/{repo}/manifests/{tag}"), MANIFEST_MEDIA_TYPE);
    assert_eq!(manifest.status, 200, "{}", manifest.headers);
    let manifest = json(&manifest.body);
    assert_eq!(manifest["mediaType"], MANIFEST_MEDIA_TYPE);
    let blob = |digest: &str| {
        let got = registry.get(&format!("/v2/{repo}/blobs/{digest}"), "*/*");
        assert_eq!(got.status, 200, "{}", got.headers);
        assert_eq!(
            sha256_digest(&got.body),
            digest,
            "the blob is what its digest says"
        );
        got.body
    };
    let config = json(&blob(
        manifest["config"]["digest"].as_str().expect("config"),
    ));
    let layers = manifest["layers"].as_array().expect("layers");
    assert_eq!(layers.len(), 1, "one layer");
    let layer = blob(layers[0]["digest"].as_str().expect("layer digest"));
    assert_eq!(layers[0]["size"], layer.len());
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(layer.as_slice())
        .read_to_end(&mut tar)
        .expect("the layer is gzip");
    (manifest, config, tar)
}

#[test]
fn push_to_a_local_registry_pull_back_and_skip_when_the_tag_exists() {
    let registry = Registry::start("ci", "pw-4f9a");
    let dir = tempfile::tempdir().expect("temp dir");
    let binary = static_elf(dir.path(), 62, b"loadgate under test");

    let first = push(&registry, &binary, "pw-4f9a");
    assert_eq!(first.code, 0, "{}", first.stderr);
    let uri = first.stdout.trim();
    let tag = uri
        .strip_prefix(&format!("{}:", registry.repository("loadgate")))
        .expect("the URI names the repository");
    assert!(
        tag.starts_with(concat!(env!("CARGO_PKG_VERSION"), "-")),
        "{tag}"
    );
    assert!(!first.stderr.contains("pw-4f9a") && !first.stdout.contains("pw-4f9a"));
    assert!(first.stderr.contains("2 blob(s)"), "{}", first.stderr);

    let (_, config, tar) = pull(&registry, "loadgate", tag);
    assert_eq!(config["architecture"], "amd64");
    assert_eq!(config["os"], "linux");
    assert_eq!(
        config["config"]["Entrypoint"],
        serde_json::json!(["/loadgate"])
    );
    assert_eq!(config["config"]["User"], "65532:65532");
    assert_eq!(
        config["rootfs"]["diff_ids"][0],
        sha256_digest(&tar).as_str()
    );
    let pushed = std::fs::read(&binary).expect("binary");
    assert!(
        tar.windows(pushed.len()).any(|w| w == pushed),
        "the layer holds the binary"
    );
    // The tag is the content's: `<version>-` and the diff id's first 12 hex digits.
    let short = tag.rsplit('-').next().expect("short digest");
    assert!(sha256_digest(&tar).starts_with(&format!("sha256:{short}")));

    // Second push: one HEAD on the manifest, no upload.
    registry.wait_for_requests("PUT", "/manifests/", 1);
    let uploads = registry.requests("POST", "/blobs/uploads/");
    assert_eq!(uploads, 2, "the layer and the config");
    assert_eq!(registry.requests("HEAD", "/manifests/"), 1);
    let second = push(&registry, &binary, "pw-4f9a");
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(second.stdout.trim(), uri);
    assert!(
        second.stderr.contains("already present"),
        "{}",
        second.stderr
    );
    registry.wait_for_requests("HEAD", "/manifests/", 2);
    assert_eq!(registry.requests("POST", "/blobs/uploads/"), uploads);
    assert_eq!(registry.requests("PATCH", "/blobs/uploads/"), uploads);
    assert_eq!(registry.requests("PUT", "/manifests/"), 1);
}

#[test]
fn a_wrong_password_is_exit_3_and_never_printed() {
    let registry = Registry::start("ci", "right-pw");
    let dir = tempfile::tempdir().expect("temp dir");
    let binary = static_elf(dir.path(), 62, b"x");
    let ran = push(&registry, &binary, "wrong-pw-77");
    assert_eq!(ran.code, 3, "{}", ran.stderr);
    assert!(ran.stderr.contains("HTTP 401"), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("LOADGATE_REGISTRY_USER"),
        "{}",
        ran.stderr
    );
    assert!(!ran.stderr.contains("wrong-pw-77"), "{}", ran.stderr);
}

#[cfg(all(target_os = "linux", not(target_env = "musl")))]
#[test]
fn a_dynamically_linked_loadgate_says_what_to_do_instead() {
    // The test build is glibc: it cannot be a scratch image's entrypoint. Refused before any
    // network call (port 1 would fail otherwise).
    let ran = Test::new()
        .args(&["image", "push", "--image", "127.0.0.1:1/loadgate"])
        .run();
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    assert!(ran.stderr.contains("dynamically linked"), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("static Linux release binary"),
        "{}",
        ran.stderr
    );
}

#[tokio::test]
async fn the_ecr_token_decodes_against_moto() {
    let moto = Moto::start();
    let credentials = ecr_credentials(&moto.aws().await).await.expect("token");
    assert_eq!(credentials.user, "AWS");
    // moto's password for its default account.
    assert_eq!(credentials.password, "123456789012-auth-token");
}

fn outputs(repository_uri: &str) -> StackOutputs {
    StackOutputs::from_pairs(
        "lg",
        [
            ("ClusterName", "lg"),
            (
                "ClusterArn",
                "arn:aws:ecs:us-east-1:123456789012:cluster/lg",
            ),
            ("SubnetIds", "subnet-1"),
            ("PublicSubnets", "true"),
            ("SecurityGroupId", "sg-1"),
            ("BucketName", "b"),
            ("LogGroupName", "/loadgate/lg"),
            ("RepositoryName", "loadgate"),
            ("RepositoryUri", repository_uri),
            ("TaskRoleArn", "arn:task"),
            ("ExecutionRoleArn", "arn:exec"),
        ],
    )
    .expect("outputs")
}

#[tokio::test]
async fn ensure_pushed_uses_the_ecr_token_then_one_describe_images_when_warm() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    aws.ecr()
        .create_repository()
        .repository_name("loadgate")
        .send()
        .await
        .expect("create repository");
    // The registry behind the "ECR" repository takes ECR's credentials, as ECR would.
    let registry = Registry::start("AWS", "123456789012-auth-token");
    let dir = tempfile::tempdir().expect("temp dir");
    let binary = static_elf(dir.path(), 183, b"graviton");
    let stack = outputs(&registry.repository("loadgate"));

    let image = ensure_pushed_binary(&aws, &stack, &binary)
        .await
        .expect("cold push");
    assert_eq!(image.arch, CpuArch::Arm64);
    assert_eq!(image.arch.ecs(), "ARM64");
    let tag = image
        .uri
        .rsplit_once(':')
        .map(|(_, tag)| tag.to_string())
        .expect("tag");
    let (manifest, config, _) = pull(&registry, "loadgate", &tag);
    assert_eq!(config["architecture"], "arm64");

    // Warm: ECR knows the tag (as after a real push); the registry is gone, so any call to it
    // would fail. DescribeImages alone answers.
    aws.ecr()
        .put_image()
        .repository_name("loadgate")
        .image_tag(&tag)
        .image_manifest(manifest.to_string())
        .send()
        .await
        .expect("put image");
    drop(registry);
    let warm = ensure_pushed_binary(&aws, &stack, &binary)
        .await
        .expect("warm path");
    assert_eq!(warm, image);
}

#[test]
fn pushing_to_a_stack_that_does_not_exist_says_how_to_deploy_it() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let binary = static_elf(dir.path(), 62, b"x");
    let mut test = Test::new().args(&[
        "image",
        "push",
        "--stack-name",
        "nostack",
        "--binary",
        &binary.display().to_string(),
    ]);
    for (k, v) in moto.env() {
        test = test.env(k, &v);
    }
    let ran = test.run();
    assert_eq!(ran.code, 3, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("stack nostack does not exist"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr
            .contains("loadgate stack deploy --stack-name nostack"),
        "{}",
        ran.stderr
    );
}
