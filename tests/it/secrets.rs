//! Secrets as a property test (issue 14): generated secrets go through every path into every
//! output, and no form of them may appear there.
//!
//! Each case draws a secret TOKEN of 8 to 24 characters from what a header value, a path, a query
//! and a body may all hold (printable ASCII but for `?`, `#`, `/`, `\` and `.`, which would
//! change a URL's structure rather than be part of a segment, and with no space at either end,
//! which a URL or header trims), and a secret HOST of 8 to 16 letters, digits and `-` in mixed
//! case. TOKEN is sent as a Bearer header, in a path, in a query, in a JSON body and as the
//! password of a URL's userinfo (Basic auth); HOST is the host of a request that cannot connect.
//! The target is an echo server answering 500 with the request it got (head and body), padded so
//! that TOKEN straddles the 200-byte cut of the failure sample. Half the cases template the path
//! (`{{ user }}`), which runs every user on the per-user loop with its own failure sample.
//!
//! Outputs checked: stdout (but for the `::add-mask::` lines, which are how GitHub learns the
//! forms) and stderr of `validate` and of `run`; every file the run leaves in its directory
//! (summary.md, junit.xml, results.json, report.html, the history entry, GitHub's step summary
//! and outputs); and every request body sent to the GitHub API (the PR comment, the check run).
//!
//! Forms checked, each computed here independently of loadgate's own masking code: as is;
//! lower-cased; percent-encoded as the `url` crate encodes a path, a query and a password;
//! the host as the `url` crate normalises it; JSON-escaped; base64 (standard and URL-safe) of the
//! value and of the Basic credential `user:TOKEN`; and, for every one of these, its first 6
//! characters anywhere (which covers a prefix left at a cut).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;

use base64::Engine;
use url::Url;

use crate::ci::{fake_github, on_github};
use crate::fake_api::{runtime, Comments};
use crate::harness::Test;

const CASES: u64 = 4;

/// An echo target: every request is answered `500` with `X-Pad` bytes of filler and then the
/// request itself as the body. Returns the port.
fn echo_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                let mut buf = [0u8; 8192];
                loop {
                    let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match stream.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&seen[..end]).to_string();
                    let header = |name: &str| {
                        head.lines().find_map(|l| {
                            let (n, v) = l.split_once(':')?;
                            n.trim()
                                .eq_ignore_ascii_case(name)
                                .then(|| v.trim().to_string())
                        })
                    };
                    let length: usize = header("content-length")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    while seen.len() < end + 4 + length {
                        match stream.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    let pad: usize = header("x-pad").and_then(|v| v.parse().ok()).unwrap_or(0);
                    let request: Vec<u8> = seen.drain(..end + 4 + length).collect();
                    let mut body = vec![b'x'; pad];
                    body.extend_from_slice(&request);
                    let mut response = format!(
                        "HTTP/1.1 500 Internal Server Error\r\ncontent-length: {}\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    response.extend_from_slice(&body);
                    if stream.write_all(&response).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

fn draw(rng: &mut fastrand::Rng, alphabet: &[char], len: usize) -> String {
    (0..len)
        .map(|_| alphabet[rng.usize(..alphabet.len())])
        .collect()
}

fn token(rng: &mut fastrand::Rng) -> String {
    let alphabet: Vec<char> = (0x20u8..0x7f)
        .map(char::from)
        .filter(|c| !"?#/\\.".contains(*c))
        .collect();
    let edge: Vec<char> = alphabet.iter().copied().filter(|c| *c != ' ').collect();
    let len = rng.usize(8..=24);
    let mut s = draw(rng, &edge, 1);
    s.push_str(&draw(rng, &alphabet, len - 2));
    s.push_str(&draw(rng, &edge, 1));
    s
}

fn host(rng: &mut fastrand::Rng) -> String {
    let letters: Vec<char> = ('a'..='z').chain('A'..='Z').collect();
    let alphabet: Vec<char> = letters
        .iter()
        .copied()
        .chain('0'..='9')
        .chain(['-'])
        .collect();
    let len = rng.usize(8..=16);
    let mut s = draw(rng, &letters, 1);
    s.push_str(&draw(rng, &alphabet, len - 2));
    s.push_str(&draw(rng, &letters, 1));
    s
}

/// Every form of `secret` that must not appear, named.
fn forms(secret: &str) -> Vec<(&'static str, String)> {
    let mut out = vec![
        ("raw", secret.to_string()),
        ("lower-cased", secret.to_lowercase()),
    ];
    let mut url = Url::parse("http://h/").expect("url");
    url.set_path(&format!("/{secret}"));
    out.push(("percent-encoded (path)", url.path()[1..].to_string()));
    url.set_query(Some(secret));
    out.push((
        "percent-encoded (query)",
        url.query().unwrap_or_default().to_string(),
    ));
    let mut auth = Url::parse("http://user@h/").expect("url");
    let _ = auth.set_password(Some(secret));
    out.push((
        "percent-encoded (userinfo)",
        auth.password().unwrap_or_default().to_string(),
    ));
    if let Ok(as_host) = Url::parse(&format!("http://{secret}/")) {
        if let Some(h) = as_host.host_str() {
            out.push(("host", h.to_string()));
        }
    }
    let json = serde_json::to_string(secret).expect("json");
    out.push(("JSON-escaped", json[1..json.len() - 1].to_string()));
    let b64 = base64::engine::general_purpose::STANDARD;
    out.push(("base64", b64.encode(secret)));
    out.push((
        "base64 (URL-safe)",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret),
    ));
    out.push((
        "base64 (Basic user:secret)",
        b64.encode(format!("user:{secret}")),
    ));
    out
}

/// Asserts that no form of any secret, nor the first 6 characters of one, is in `text`.
fn assert_clean(what: &str, text: &str, secrets: &[(&str, String)]) {
    for (name, secret) in secrets {
        for (form, value) in forms(secret) {
            let prefix: String = value.chars().take(6).collect();
            assert!(
                !text.contains(&prefix),
                "{what}: the {form} form of {name} ({value:?}), or its first 6 characters, \
                 is in the output:\n{}",
                excerpt(text, &prefix)
            );
        }
    }
}

fn excerpt(text: &str, needle: &str) -> String {
    let at = text.find(needle).unwrap_or(0);
    let mut start = at.saturating_sub(120);
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (at + needle.len() + 120).min(text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    text[start..end].to_string()
}

fn files(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            let bytes = std::fs::read(&path).unwrap_or_default();
            out.push((
                path.display().to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
        }
    }
}

#[test]
fn no_form_of_a_secret_reaches_any_output() {
    let port = echo_server();
    let rt = runtime();
    for case in 0..CASES {
        let mut rng = fastrand::Rng::with_seed(0x5ec2e7 + case);
        let token = token(&mut rng);
        let host = host(&mut rng);
        // Odd cases template the path, which puts every user on the per-user loop (issue 13's
        // flow path, with its own failure sample); even cases run the plain loop.
        let flow = case % 2 == 1;
        let (prefix, rendered) = if flow {
            ("/{{ user }}", "/1")
        } else {
            ("", "")
        };
        // The token starts 8 bytes into the echoed request ("POST /e/", or "POST /1/e/"): pad it
        // so that its middle falls on the sample's 200-byte cut.
        let mut path = Url::parse("http://h/").expect("url");
        path.set_path(&format!("/e/{token}"));
        let encoded = path.path().len() - 3;
        let pad = 200usize.saturating_sub(8 + rendered.len() + encoded / 2);
        let scenario = format!(
            r#"name: checkout
target: "http://127.0.0.1:{port}"
load: {{ concurrency: 1, hold_for: 300ms }}
requests:
  - name: echo
    method: POST
    path: "{prefix}/e/${{TOKEN}}?q=${{TOKEN}}"
    headers: {{ Authorization: "Bearer ${{TOKEN}}", X-Pad: "{pad}" }}
    body: '{{"k": "${{TOKEN}}"}}'
  - name: basic
    url: "http://user:${{TOKEN}}@127.0.0.1:{port}/b"
    headers: {{ X-Pad: "0" }}
  - name: elsewhere
    url: "http://${{HOST}}.invalid/h"
thresholds:
  - "echo: p95 < 0.001ms"
  - p95 < baseline + 10%
"#
        );
        let secrets = [("TOKEN", token.clone()), ("HOST", host.clone())];

        let validate = Test::new()
            .scenario(&scenario)
            .env("TOKEN", &token)
            .env("HOST", &host)
            .args(&["validate"])
            .run();
        validate.code(0);
        assert_clean("validate stdout", &validate.stdout, &secrets);
        assert_clean("validate stderr", &validate.stderr, &secrets);

        let comments = Comments::default();
        let server = fake_github(&rt, &comments);
        let ran = on_github(Test::new(), &server.uri())
            .scenario(&scenario)
            .env("TOKEN", &token)
            .env("HOST", &host)
            .args(&["run", "--threads", "1", "--history", "hist"])
            .run();
        assert_eq!(
            ran.code, 1,
            "stdout:\n{}\nstderr:\n{}",
            ran.stdout, ran.stderr
        );
        // The echo really carried the token back (so masking, not luck, kept it out).
        let results = ran.results();
        let sample = results["failures"]
            .as_array()
            .and_then(|f| f.iter().find(|s| s["label"] == "echo"))
            .unwrap_or_else(|| panic!("no echo sample: {results}"));
        let body = sample["body"].as_str().expect("sample body");
        // The plain loop cuts the raw body and masks the secret's prefix at the cut; the
        // per-user loop masks first (its masker knows captured values too), then cuts, so the
        // whole token is masked before the cut.
        if flow {
            assert!(body.contains("***"), "case {case}: {body}");
        } else {
            assert!(body.ends_with("***"), "case {case}: {body}");
        }
        assert!(
            body.contains(&format!("POST {rendered}/e/")),
            "case {case} (flow path: {flow}): {body}"
        );
        let stdout: String = ran
            .stdout
            .lines()
            .filter(|l| !l.starts_with("::add-mask::"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(ran.stdout.contains("::add-mask::"), "{}", ran.stdout);
        assert_clean("run stdout", &stdout, &secrets);
        assert_clean("run stderr", &ran.stderr, &secrets);
        let mut written = Vec::new();
        files(&ran.dir, &mut written);
        assert!(
            written.iter().any(|(p, _)| p.contains("/hist/")),
            "history written"
        );
        assert!(written.iter().any(|(p, _)| p.ends_with("github-output")));
        for (path, text) in &written {
            if path.ends_with("loadgate.yaml") {
                continue;
            }
            assert_clean(path, text, &secrets);
        }
        let bodies = rt.block_on(server.received_requests()).unwrap_or_default();
        assert!(!bodies.is_empty(), "the API was called");
        for request in bodies {
            let body = String::from_utf8_lossy(&request.body);
            assert_clean(&format!("API {}", request.url.path()), &body, &secrets);
        }
        assert!(!comments.all().is_empty(), "a PR comment was posted");
    }
}
