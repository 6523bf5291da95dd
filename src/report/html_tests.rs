//! report.html: structure, escaping, and a real browser (headless Chromium) rendering it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::fixtures;
use super::html::CHART_IDS;
use super::*;

#[test]
fn the_page_is_self_contained_and_has_every_chart() {
    for r in [
        fixtures::passing(),
        fixtures::failing(),
        fixtures::compared(),
        fixtures::minimal(),
    ] {
        let page = html(&r);
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.trim_end().ends_with("</html>"));
        for id in CHART_IDS {
            assert!(
                page.contains(&format!("<svg id=\"{id}\"")),
                "{id} in {}",
                r.run_id
            );
        }
        assert_eq!(page.matches("<svg").count(), page.matches("</svg>").count());
        assert!(
            !page.contains("<script"),
            "no script: nothing to fetch, nothing to fail"
        );
        let external = page.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
        assert!(!external.contains("http://") && !external.contains("https://"));
        assert!(
            !page.contains("NaN") && !page.contains("inf"),
            "no broken numbers"
        );
    }
}

#[test]
fn hostile_text_is_escaped() {
    let mut r = fixtures::failing();
    let summary = r.labels["home"].clone();
    r.labels
        .insert("<img src=x onerror=alert(1)>".to_string(), summary);
    let page = html(&r);
    assert!(
        !page.contains("<img"),
        "label markup must not reach the page"
    );
    assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(page.contains("Label &lt;b&gt;|weird|&lt;/b&gt; sent nothing"));
}

#[test]
fn the_baseline_is_overlaid_dashed() {
    let page = html(&fixtures::compared());
    assert!(page.contains("Baseline: run <code>20261126-180000-abc123</code> on <code>main</code>"));
    assert!(
        page.contains("<title>main p95</title>"),
        "baseline latency line"
    );
    assert!(
        page.contains("<title>main create-order</title>"),
        "baseline distribution"
    );
    assert!(page.contains("stroke-dasharray"));
    assert!(page.contains("class=\"worse\">+18% vs main"));
    assert!(page.contains(">skipped<"));
    assert!(!html(&fixtures::passing()).contains("stroke-dasharray=\"7 5\" stroke-opacity"));
}

/// The first Chromium on PATH; the test fails (not skips) without one, as CI installs it.
fn chromium() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome", "chrome"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "headless Chromium is needed to check report.html in a browser: install it \
         (Debian/Ubuntu: apt-get install chromium; scripts/test.sh does it when run as root)"
    );
}

/// Runs Chromium headless on `page` with `args`; returns (stdout, stderr).
fn run_chromium(page: &Path, profile: &Path, args: &[String]) -> (String, String) {
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    // A browser that hangs must fail the test, not hold up the suite.
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().expect("chromium status").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("chromium output");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn chromium_renders_the_page_without_console_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let page = dir.path().join("report.html");
    std::fs::write(&page, html(&fixtures::compared())).expect("write page");
    let png = dir.path().join("report.png");

    let (_, stderr) = run_chromium(
        &page,
        &dir.path().join("profile-shot"),
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1280,2000".to_string(),
        ],
    );
    let console: Vec<&str> = stderr
        .lines()
        .filter(|l| {
            l.contains("Uncaught") || l.contains("ERROR:CONSOLE") || l.contains(":CONSOLE(")
        })
        .collect();
    assert!(
        console.is_empty(),
        "console errors:\n{}",
        console.join("\n")
    );
    let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("no screenshot ({e}):\n{stderr}"));
    assert!(bytes.starts_with(b"\x89PNG"), "a PNG");
    assert!(bytes.len() > 20_000, "a page with charts, not a blank one");
    if let Some(keep) = std::env::var_os("LOADGATE_KEEP_PNG") {
        std::fs::copy(&png, keep).expect("copy the screenshot");
    }

    let (dom, _) = run_chromium(
        &page,
        &dir.path().join("profile-dom"),
        &["--dump-dom".to_string()],
    );
    for id in CHART_IDS {
        assert!(
            dom.contains(&format!("<svg id=\"{id}\"")),
            "{id} in the browser's DOM"
        );
    }
    assert!(dom.contains("<polyline"), "lines were parsed as SVG");
}
