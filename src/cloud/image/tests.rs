use super::*;
use crate::error::{EXIT_INFRASTRUCTURE, EXIT_INVALID_INPUT};

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[test]
fn arch_names_for_ecs_and_the_image_config() {
    assert_eq!(CpuArch::X86_64.ecs(), "X86_64");
    assert_eq!(CpuArch::Arm64.ecs(), "ARM64");
    assert_eq!(CpuArch::X86_64.oci(), "amd64");
    assert_eq!(CpuArch::Arm64.oci(), "arm64");
}

#[test]
fn ecr_tokens_decode_to_user_and_password() {
    let c = decode_token(&b64("AWS:eyJwYXlsb2FkIjoi:with:colons")).expect("token");
    assert_eq!(c.user, "AWS");
    assert_eq!(c.password, "eyJwYXlsb2FkIjoi:with:colons");
}

#[test]
fn malformed_tokens_are_infra_errors_that_do_not_repeat_them() {
    for token in [
        "not base64!".to_string(),
        b64("no-colon"),
        b64(":nouser"),
        b64("AWS:"),
    ] {
        let err = decode_token(&token).unwrap_err();
        assert_eq!(err.exit_code(), EXIT_INFRASTRUCTURE, "{token}");
        assert!(!err.to_string().contains(&token), "{err}");
    }
}

#[test]
fn credentials_never_show_the_password() {
    let c = Credentials {
        user: "AWS".into(),
        password: "s3cret".into(),
    };
    let shown = format!("{c:?}");
    assert!(
        shown.contains("AWS") && !shown.contains("s3cret"),
        "{shown}"
    );
}

#[test]
fn registry_credentials_from_the_environment_come_in_pairs() {
    let env = |user: Option<&str>, password: Option<&str>| {
        let (user, password) = (user.map(str::to_string), password.map(str::to_string));
        credentials_from_env(move |name| match name {
            "LOADGATE_REGISTRY_USER" => user.clone(),
            "LOADGATE_REGISTRY_PASSWORD" => password.clone(),
            _ => None,
        })
    };
    let both = env(Some("u"), Some("p")).expect("both").expect("some");
    assert_eq!((both.user.as_str(), both.password.as_str()), ("u", "p"));
    assert_eq!(env(None, None).expect("neither"), None);
    assert_eq!(env(Some(""), None).expect("empty is unset"), None);
    let err = env(Some("u"), None).unwrap_err();
    assert_eq!(err.exit_code(), EXIT_INVALID_INPUT);
    assert!(!err.to_string().contains("=u"), "{err}");
}

#[test]
fn repositories_need_an_explicit_registry_and_no_tag() {
    let ecr =
        Repository::parse("123456789012.dkr.ecr.eu-west-1.amazonaws.com/loadgate").expect("ecr");
    assert!(ecr.is_ecr() && !ecr.is_loopback());
    assert_eq!(ecr.name, "loadgate");
    let local = Repository::parse("127.0.0.1:5000/team/loadgate").expect("local");
    assert!(local.is_loopback() && !local.is_ecr());
    assert_eq!(local.to_string(), "127.0.0.1:5000/team/loadgate");
    assert!(Repository::parse("localhost/x")
        .expect("localhost")
        .is_loopback());
    // Only loopback is plain http.
    assert!(!Repository::parse("127.0.0.1.example.com/x")
        .expect("host")
        .is_loopback());
    for bad in [
        "loadgate",
        "user/loadgate",
        "127.0.0.1:5000/loadgate:1.0",
        "127.0.0.1:5000/loadgate@sha256:00",
        "127.0.0.1:5000/LoadGate",
        "127.0.0.1:5000/",
        "127.0.0.1:5000/a//b",
    ] {
        let err = Repository::parse(bad).unwrap_err();
        assert_eq!(err.exit_code(), EXIT_INVALID_INPUT, "{bad}");
    }
}

#[test]
fn a_dynamic_binary_is_refused_before_any_aws_call() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("loadgate");
    std::fs::write(
        &path,
        crate::cloud::image::oci::tests::fake_elf(62, true, b"glibc"),
    )
    .expect("write");
    let err = read_layer(&path).unwrap_err();
    assert_eq!(err.exit_code(), EXIT_INVALID_INPUT);
    let text = err.to_string();
    assert!(
        text.contains("dynamically linked") && text.contains("--image"),
        "{text}"
    );

    std::fs::write(&path, b"#!/bin/sh\n").expect("write");
    let err = read_layer(&path).unwrap_err();
    assert!(
        err.to_string().contains("not a Linux (ELF) binary"),
        "{err}"
    );
}

#[test]
fn a_static_binary_gives_its_layer_and_arch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("loadgate");
    let elf = crate::cloud::image::oci::tests::fake_elf(183, false, b"musl");
    std::fs::write(&path, &elf).expect("write");
    let (layer, arch) = read_layer(&path).expect("static");
    assert_eq!(arch, CpuArch::Arm64);
    assert_eq!(layer.diff_id, Layer::new(&elf).diff_id);
}

#[cfg(target_os = "linux")]
#[test]
fn the_test_binary_is_static_only_in_a_musl_build() {
    assert_eq!(current_binary_is_static(), cfg!(target_env = "musl"));
}
