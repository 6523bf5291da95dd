//! scripts/install.sh against a local file server playing the GitHub release: the right asset for
//! the OS and CPU, a checked sha256, the tool cache, and a refused download on a wrong checksum.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

/// Serves the files under `root` over HTTP/1.0 on 127.0.0.1, recording each request's path.
struct FileServer {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl FileServer {
    fn start(root: &Path) -> FileServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (root, seen) = (root.to_path_buf(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut line = String::new();
                let mut reader = BufReader::new(&stream);
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                // Skip the headers: the request has no body.
                let mut header = String::new();
                while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                    header.clear();
                }
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                seen.lock().expect("lock").push(path.clone());
                let file = root.join(path.trim_start_matches('/'));
                let response = match std::fs::read(&file) {
                    Ok(body) if !path.contains("..") => {
                        let mut r =
                            format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", body.len())
                                .into_bytes();
                        r.extend(body);
                        r
                    }
                    _ => b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
                };
                let _ = stream.write_all(&response);
            }
        });
        FileServer { url, requests }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("lock").clone()
    }
}

/// A release `v{version}` with one asset per target, each a tarball of a fake `loadgate`.
fn release(root: &Path, version: &str, targets: &[&str]) -> PathBuf {
    let dir = root.join(format!("v{version}"));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let mut sums = String::new();
    for target in targets {
        let stage = root.join(format!("stage-{target}"));
        std::fs::create_dir_all(&stage).expect("mkdir");
        let bin = stage.join("loadgate");
        std::fs::write(
            &bin,
            format!("#!/bin/sh\necho fake loadgate {version} {target}\n"),
        )
        .expect("write");
        run(Command::new("chmod").arg("+x").arg(&bin));
        let asset = format!("loadgate-{target}.tar.gz");
        run(Command::new("tar")
            .arg("-czf")
            .arg(dir.join(&asset))
            .arg("-C")
            .arg(&stage)
            .arg("loadgate"));
        let sum = run(Command::new("sha256sum").arg(dir.join(&asset)));
        let hash = String::from_utf8_lossy(&sum.stdout)
            .split_whitespace()
            .next()
            .expect("hash")
            .to_string();
        sums.push_str(&format!("{hash}  {asset}\n"));
    }
    std::fs::write(dir.join("sha256sums.txt"), sums).expect("write");
    dir
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("command runs");
    assert!(out.status.success(), "{cmd:?}: {out:?}");
    out
}

fn install(
    server: &FileServer,
    home: &Path,
    os: &str,
    arch: &str,
    version: Option<&str>,
) -> Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install.sh");
    let mut cmd = Command::new("bash");
    cmd.arg(script)
        .args(version)
        .env("LOADGATE_DOWNLOAD_URL", &server.url)
        .env("RUNNER_TOOL_CACHE", home.join("toolcache"))
        .env("GITHUB_PATH", home.join("github-path"))
        .env("LOADGATE_OS", os)
        .env("LOADGATE_ARCH", arch)
        .env("HOME", home)
        .env_remove("LOADGATE_INSTALL_DIR")
        .env_remove("LOADGATE_VERSION");
    cmd.output().expect("install.sh runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn installs_the_checked_binary_for_this_platform_and_reuses_the_cache() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path().join("releases");
    release(
        &root,
        "1.2.3",
        &["x86_64-unknown-linux-musl", "aarch64-apple-darwin"],
    );
    let server = FileServer::start(&root);

    let out = install(&server, tmp.path(), "Linux", "amd64", Some("v1.2.3"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let dir = tmp.path().join("toolcache/loadgate/1.2.3/x86_64");
    assert_eq!(
        text(&out.stdout),
        format!("{}\n", dir.join("loadgate").display())
    );
    assert!(tmp
        .path()
        .join("toolcache/loadgate/1.2.3/x86_64.complete")
        .exists());
    let ran = run(&mut Command::new(dir.join("loadgate")));
    assert_eq!(
        text(&ran.stdout),
        "fake loadgate 1.2.3 x86_64-unknown-linux-musl\n"
    );
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("github-path")).expect("GITHUB_PATH"),
        format!("{}\n", dir.display())
    );
    assert_eq!(
        server.requests(),
        [
            "/v1.2.3/sha256sums.txt",
            "/v1.2.3/loadgate-x86_64-unknown-linux-musl.tar.gz"
        ]
    );

    let again = install(&server, tmp.path(), "Linux", "x86_64", Some("1.2.3"));
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_eq!(again.stdout, out.stdout);
    assert!(text(&again.stderr).contains("from the cache"));
    assert_eq!(
        server.requests().len(),
        2,
        "nothing downloaded the second time"
    );

    let mac = install(&server, tmp.path(), "Darwin", "arm64", Some("1.2.3"));
    assert!(mac.status.success(), "{}", text(&mac.stderr));
    assert_eq!(
        server.requests()[2..],
        [
            "/v1.2.3/sha256sums.txt",
            "/v1.2.3/loadgate-aarch64-apple-darwin.tar.gz"
        ]
    );
}

#[test]
fn a_wrong_checksum_is_refused_and_nothing_is_installed() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path().join("releases");
    let dir = release(&root, "1.2.3", &["x86_64-unknown-linux-musl"]);
    // The asset is replaced after the sums were written: a tampered or corrupted download.
    std::fs::write(
        dir.join("loadgate-x86_64-unknown-linux-musl.tar.gz"),
        b"not the release",
    )
    .expect("write");
    let server = FileServer::start(&root);

    let out = install(&server, tmp.path(), "Linux", "x86_64", Some("1.2.3"));
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("checksum mismatch for loadgate-x86_64-unknown-linux-musl.tar.gz")
            && stderr.contains("refusing to install it"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
    assert!(!tmp
        .path()
        .join("toolcache/loadgate/1.2.3/x86_64/loadgate")
        .exists());
    assert!(!tmp.path().join("github-path").exists());
}

#[test]
fn the_version_file_is_the_default_and_unknown_platforms_are_named() {
    let version = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("VERSION"))
        .expect("VERSION");
    assert_eq!(
        version.trim(),
        env!("CARGO_PKG_VERSION"),
        "VERSION follows Cargo.toml"
    );

    let tmp = tempfile::tempdir().expect("temp dir");
    let server = FileServer::start(tmp.path());
    let out = install(&server, tmp.path(), "Linux", "x86_64", None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        server.requests(),
        [format!("/v{}/sha256sums.txt", version.trim())]
    );

    let out = install(&server, tmp.path(), "Windows_NT", "x86_64", None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no loadgate release for OS 'Windows_NT'"));
    let out = install(&server, tmp.path(), "Linux", "riscv64", None);
    assert!(text(&out.stderr).contains("no loadgate release for CPU 'riscv64'"));
}
