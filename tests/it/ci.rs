//! GitHub Actions through the built binary: a simulated runner (its variables, an event payload,
//! the summary and output files) with wiremock as the API behind the real octocrab client.

use std::path::Path;

use loadgate::report::format;
use loadgate::target::Route;
use loadgate::threshold::{Op, Unit};
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::fake_api::{requests, runtime, Comments, Create, List, Update, FAILING, PASSING};
use crate::harness::{Ran, Test};

const TOKEN: &str = "ghs_fake_token_value_123";

pub(crate) fn fake_github(rt: &tokio::runtime::Runtime, comments: &Comments) -> MockServer {
    rt.block_on(async {
        let server = MockServer::start().await;
        let bearer = format!("Bearer {TOKEN}");
        let auth = || header("authorization", bearer.as_str());
        Mock::given(method("GET"))
            .and(path("/repos/octo/shop/issues/7/comments"))
            .and(auth())
            .respond_with(List {
                comments: comments.clone(),
                base: server.uri(),
            })
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/repos/octo/shop/issues/7/comments"))
            .and(auth())
            .respond_with(Create(comments.clone()))
            .mount(&server)
            .await;
        Mock::given(method("PATCH"))
            .and(path_regex(r"^/repos/octo/shop/issues/comments/\d+$"))
            .and(auth())
            .respond_with(Update(comments.clone()))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/repos/octo/shop/check-runs"))
            .and(auth())
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 1})))
            .mount(&server)
            .await;
        server
    })
}

/// What a runner sets for a step of a `pull_request` workflow on PR #7.
pub(crate) fn on_github(test: Test, api: &str) -> Test {
    let dir = test.dir();
    let file = |name: &str| dir.join(name).display().to_string();
    let event = json!({
        "action": "synchronize",
        "number": 7,
        "pull_request": { "number": 7, "head": { "sha": "0123456789abcdef0123456789abcdef01234567" } }
    });
    test.file("event.json", &event.to_string())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_API_URL", api)
        .env("GITHUB_TOKEN", TOKEN)
        .env("GITHUB_REPOSITORY", "octo/shop")
        .env("GITHUB_EVENT_NAME", "pull_request")
        .env("GITHUB_EVENT_PATH", &file("event.json"))
        .env("GITHUB_SHA", "mergemergemergemergemergemergemergemerge")
        .env("GITHUB_SERVER_URL", "https://github.example")
        .env("GITHUB_RUN_ID", "99")
        .env("GITHUB_WORKSPACE", &dir.display().to_string())
        .env("GITHUB_STEP_SUMMARY", &file("step-summary.md"))
        .env("GITHUB_OUTPUT", &file("github-output"))
}

fn check_runs(rt: &tokio::runtime::Runtime, server: &MockServer) -> Vec<Value> {
    rt.block_on(server.received_requests())
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path().ends_with("/check-runs"))
        .map(|r| serde_json::from_slice(&r.body).expect("JSON"))
        .collect()
}

/// What the annotations say about the first threshold, `requests < 1`.
fn failure_message(results: &Value) -> String {
    let actual = results["thresholds"][0]["actual"].as_f64().expect("actual");
    assert!(actual >= 1.0);
    format!(
        "threshold `requests < 1` failed: actual {}, limit {}",
        format::in_unit(actual, Unit::Count),
        format::limit(Op::Lt, 1.0, Unit::Count)
    )
}

fn assert_no_token(ran: &Ran) {
    assert!(!ran.stdout.contains(TOKEN), "{}", ran.stdout);
    assert!(!ran.stderr.contains(TOKEN), "{}", ran.stderr);
}

#[test]
fn two_runs_make_one_comment_updated_in_place_past_the_first_page() {
    let rt = runtime();
    // 150 comments of others: the second run finds ours on page 2.
    let comments = Comments::seeded(150);
    let before = comments.all();
    let server = fake_github(&rt, &comments);

    let first = on_github(Test::new(), &server.uri())
        .scenario(PASSING)
        .target(vec![Route::ok("/")])
        .args(&["run", "--threads", "1"])
        .run();
    first.code(0);
    assert_no_token(&first);
    assert!(first
        .stderr
        .contains("loadgate: posted the comment on pull request #7"));
    let ours = comments.ours();
    assert_eq!(
        ours.len(),
        1,
        "one comment after the first run\n{}",
        first.stdout
    );
    let (id, body) = &ours[0];
    assert!(body.starts_with("<!-- loadgate:checkout -->\n## ✅ loadgate: checkout passed"));
    assert!(body.contains(
        "<sub>commit `0123456` · [workflow run](https://github.example/octo/shop/actions/runs/99)"
    ));
    assert_eq!(
        requests(&rt, &server),
        [
            (
                "GET".into(),
                "/repos/octo/shop/issues/7/comments?per_page=100".into()
            ),
            (
                "GET".into(),
                "/repos/octo/shop/issues/7/comments?per_page=100&page=2".into()
            ),
            ("POST".into(), "/repos/octo/shop/issues/7/comments".into()),
            ("POST".into(), "/repos/octo/shop/check-runs".into()),
        ]
    );
    let seen = requests(&rt, &server).len();

    let second = on_github(Test::new(), &server.uri())
        .scenario(FAILING)
        .target(vec![Route::ok("/")])
        .args(&["run", "--threads", "1"])
        .run();
    second.code(1);
    assert!(second
        .stderr
        .contains("loadgate: updated the comment on pull request #7"));
    assert!(second
        .stderr
        .contains("loadgate: created the check run `loadgate / checkout`"));
    let ours = comments.ours();
    assert_eq!(ours.len(), 1, "still one comment after the second run");
    assert_eq!(ours[0].0, *id, "the same comment, updated");
    assert!(ours[0]
        .1
        .contains("## ❌ loadgate: checkout failed (1 of 2 thresholds)"));
    assert_eq!(
        requests(&rt, &server)[seen..],
        [
            (
                "GET".into(),
                "/repos/octo/shop/issues/7/comments?per_page=100".into()
            ),
            (
                "GET".into(),
                "/repos/octo/shop/issues/7/comments?per_page=100&page=2".into()
            ),
            (
                "PATCH".into(),
                format!("/repos/octo/shop/issues/comments/{id}")
            ),
            ("POST".into(), "/repos/octo/shop/check-runs".into()),
        ]
    );
    let all = comments.all();
    assert_eq!(all.len(), 151);
    assert_eq!(all[..150], before[..], "the others' comments are untouched");
}

#[test]
fn summary_outputs_and_annotations_on_a_failed_run() {
    let rt = runtime();
    let comments = Comments::default();
    let server = fake_github(&rt, &comments);
    let test = on_github(Test::new(), &server.uri());
    let dir = test.dir();
    std::fs::write(dir.join("step-summary.md"), "earlier step\n").expect("write");
    let ran = test
        .scenario(FAILING)
        .target(vec![Route::ok("/")])
        .args(&["run", "--threads", "1", "--out", "out dir"])
        .run();
    ran.code(1);

    let summary = ran.read("step-summary.md");
    assert!(summary.starts_with("earlier step\n## ❌ loadgate: checkout failed"));
    assert_eq!(
        summary,
        format!("earlier step\n{}", ran.read("out dir/summary.md"))
    );

    let results = ran.json("out dir/results.json");
    let outputs = ran.read("github-output");
    let total = &results["total"];
    let canonical = |p: &Path| {
        std::path::absolute(p)
            .expect("absolute")
            .display()
            .to_string()
    };
    let expected = format!(
        "passed=false\np95-ms={}\np99-ms={}\nrps={}\nerror-rate={}\nrequests={}\nreport-dir={}\nresults-json={}\n",
        total["response_time_ms"]["p95"].as_f64().expect("p95"),
        total["response_time_ms"]["p99"].as_f64().expect("p99"),
        (total["rps"].as_f64().expect("rps") * 1e3).round() / 1e3,
        (total["error_rate"].as_f64().expect("error rate") * 1e6).round() / 1e6,
        total["requests"],
        canonical(&dir.join("out dir")),
        canonical(&dir.join("out dir/results.json")),
    );
    assert_eq!(outputs, expected);

    let errors: Vec<&str> = ran
        .stdout
        .lines()
        .filter(|l| l.starts_with("::error"))
        .collect();
    let message = failure_message(&results);
    assert_eq!(
        errors,
        [format!(
            "::error file=loadgate.yaml,line=7,title=loadgate%3A checkout::{message}"
        )]
    );
    let group = ran.stdout.find("::group::loadgate: checkout (live)");
    let end = ran.stdout.find("::endgroup::");
    assert!(group.is_some() && end > group, "{}", ran.stdout);

    let checks = check_runs(&rt, &server);
    assert_eq!(checks.len(), 1);
    let check = &checks[0];
    assert_eq!(check["name"], "loadgate / checkout");
    assert_eq!(
        check["head_sha"],
        "0123456789abcdef0123456789abcdef01234567"
    );
    assert_eq!(check["status"], "completed");
    assert_eq!(check["conclusion"], "failure");
    assert_eq!(
        check["details_url"],
        "https://github.example/octo/shop/actions/runs/99"
    );
    assert!(check["output"]["title"]
        .as_str()
        .is_some_and(|t| t.starts_with("1 of 2 thresholds failed · p95 ")));
    assert_eq!(
        check["output"]["summary"].as_str(),
        Some(ran.read("out dir/summary.md").as_str())
    );
    assert_eq!(
        check["output"]["annotations"],
        json!([{
            "path": "loadgate.yaml", "start_line": 7, "end_line": 7,
            "annotation_level": "failure", "title": "loadgate: checkout",
            "message": message,
        }])
    );
}

#[test]
fn a_read_only_token_is_a_warning_and_the_verdict_stands() {
    let rt = runtime();
    let server = rt.block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(403).set_body_json(json!({
                "message": "Resource not accessible by integration",
                "documentation_url": "https://docs.github.com/rest"
            })))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(403).set_body_json(json!({
                "message": "Resource not accessible by integration"
            })))
            .mount(&server)
            .await;
        server
    });
    let ran = on_github(Test::new(), &server.uri())
        .scenario(PASSING)
        .target(vec![Route::ok("/")])
        .args(&["run", "--threads", "1"])
        .run();
    ran.code(0);
    assert_no_token(&ran);
    let warning = ran
        .stdout
        .lines()
        .find(|l| l.starts_with("::warning title=loadgate::cannot comment on pull request #7"))
        .unwrap_or_else(|| panic!("no warning in\n{}", ran.stdout));
    assert!(warning.contains("Resource not accessible by integration"));
    assert!(warning.contains("`permissions: pull-requests: write`"));
    assert!(warning.contains("`workflow_run`"));
    assert!(ran
        .stdout
        .lines()
        .any(|l| l.starts_with("::notice title=loadgate::no check run")
            && l.contains("`permissions: checks: write`")));
    assert_eq!(
        requests(&rt, &server)
            .iter()
            .map(|(m, _)| m.as_str())
            .collect::<Vec<_>>(),
        ["GET", "POST"],
        "no retry, no create after the denied read"
    );
}

#[test]
fn no_comment_keeps_the_check_run_and_secrets_are_masked_first() {
    let rt = runtime();
    let comments = Comments::default();
    let server = fake_github(&rt, &comments);
    let scenario = "name: checkout\ntarget: \"{target}\"\ndefaults:\n  headers: { Authorization: \"Bearer ${API_KEY}\" }\nload: { concurrency: 1, hold_for: 300ms }\nrequests:\n  - { name: home, path: / }\n";
    let ran = on_github(Test::new(), &server.uri())
        .scenario(scenario)
        .env("API_KEY", "sk-very-secret-42")
        .env("LOADGATE_NO_COMMENT", "true")
        .target(vec![Route::ok("/")])
        .args(&["run", "--threads", "1"])
        .run();
    ran.code(0);
    assert_eq!(
        ran.stdout.lines().next(),
        Some("::add-mask::sk-very-secret-42")
    );
    assert_eq!(ran.stdout.matches("sk-very-secret-42").count(), 1);
    assert!(comments.all().is_empty());
    let sent = requests(&rt, &server);
    assert_eq!(
        sent,
        [("POST".into(), "/repos/octo/shop/check-runs".into())]
    );
    // The default threshold's warning is an annotation as well.
    assert!(ran
        .stdout
        .lines()
        .any(|l| l.starts_with("::warning title=loadgate::") && l.contains("error_rate < 1%")));
    assert_eq!(check_runs(&rt, &server)[0]["conclusion"], "success");
}
