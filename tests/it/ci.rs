//! CI integration through the built binary: a simulated GitHub Actions runner (its variables, an
//! event payload, the summary and output files) and a GitLab job, with wiremock as both APIs.

use std::path::Path;
use std::sync::{Arc, Mutex};

use loadgate::report::format;
use loadgate::target::Route;
use loadgate::threshold::{Op, Unit};
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::harness::{Ran, Test};

const TOKEN: &str = "ghs_fake_token_value_123";
const PASSING: &str = "name: checkout\ntarget: \"{target}\"\nload: { concurrency: 1, hold_for: 300ms }\nrequests:\n  - { name: home, path: / }\nthresholds:\n  - requests >= 1\n";
/// `requests < 1` fails whenever anything was sent; it is on line 7.
const FAILING: &str = "name: checkout\ntarget: \"{target}\"\nload: { concurrency: 1, hold_for: 300ms }\nrequests:\n  - { name: home, path: / }\nthresholds:\n  - requests < 1\n  - error_rate < 50%\n";

/// The GitHub API's issue comments of PR #7 in octo/shop, stateful like the real one.
#[derive(Clone, Default)]
struct Comments(Arc<Mutex<Vec<(u64, String)>>>);

impl Comments {
    fn seeded(n: usize) -> Comments {
        let c = Comments::default();
        for i in 0..n {
            c.push(format!("comment {i} by a human"));
        }
        c
    }

    fn push(&self, body: String) -> u64 {
        let mut list = self.0.lock().expect("lock");
        let id = 1000 + list.len() as u64;
        list.push((id, body));
        id
    }

    fn all(&self) -> Vec<(u64, String)> {
        self.0.lock().expect("lock").clone()
    }

    fn ours(&self) -> Vec<(u64, String)> {
        self.all()
            .into_iter()
            .filter(|(_, b)| b.contains("<!-- loadgate:checkout -->"))
            .collect()
    }
}

fn as_json(id: u64, body: &str) -> Value {
    json!({ "id": id, "body": body, "user": { "login": "someone" } })
}

struct List {
    comments: Comments,
    base: String,
}

impl Respond for List {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let query = |k: &str| {
            req.url
                .query_pairs()
                .find(|(key, _)| key == k)
                .and_then(|(_, v)| v.parse::<usize>().ok())
        };
        let per_page = query("per_page").unwrap_or(30);
        let page = query("page").unwrap_or(1);
        let all = self.comments.all();
        let items: Vec<Value> = all
            .iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .map(|(id, b)| as_json(*id, b))
            .collect();
        let mut response = ResponseTemplate::new(200).set_body_json(items);
        if page * per_page < all.len() {
            // wiremock's request URL has no port: the link is built on the server's address.
            let next = format!(
                "{}{}?per_page={per_page}&page={}",
                self.base,
                req.url.path(),
                page + 1
            );
            response = response.insert_header("link", format!("<{next}>; rel=\"next\"").as_str());
        }
        response
    }
}

struct Create(Comments);

impl Respond for Create {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).expect("JSON body");
        let text = body["body"].as_str().expect("body").to_string();
        let id = self.0.push(text.clone());
        ResponseTemplate::new(201).set_body_json(as_json(id, &text))
    }
}

struct Update(Comments);

impl Respond for Update {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let id: u64 = req
            .url
            .path_segments()
            .and_then(|mut s| s.next_back())
            .and_then(|s| s.parse().ok())
            .expect("comment id");
        let body: Value = serde_json::from_slice(&req.body).expect("JSON body");
        let text = body["body"].as_str().expect("body").to_string();
        let mut list = self.0 .0.lock().expect("lock");
        match list.iter_mut().find(|(i, _)| *i == id) {
            Some(entry) => {
                entry.1 = text.clone();
                ResponseTemplate::new(200).set_body_json(as_json(id, &text))
            }
            None => ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})),
        }
    }
}

/// A runtime whose worker threads serve the fake APIs while a test blocks on the binary.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

fn fake_github(rt: &tokio::runtime::Runtime, comments: &Comments) -> MockServer {
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
fn on_github(test: Test, api: &str) -> Test {
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

fn requests(rt: &tokio::runtime::Runtime, server: &MockServer) -> Vec<(String, String)> {
    rt.block_on(server.received_requests())
        .unwrap_or_default()
        .iter()
        .map(|r| {
            let q = r.url.query().map(|q| format!("?{q}")).unwrap_or_default();
            (r.method.to_string(), format!("{}{q}", r.url.path()))
        })
        .collect()
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
        total["rps"].as_f64().expect("rps"),
        total["error_rate"].as_f64().expect("error rate"),
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

/// The notes of merge request !5 in project 42, stateful, paged by X-Next-Page.
#[derive(Clone, Default)]
struct Notes(Comments);

impl Respond for Notes {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let c = &self.0;
        match req.method.as_str() {
            "GET" => {
                let page: usize = req
                    .url
                    .query_pairs()
                    .find(|(k, _)| k == "page")
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(1);
                let all = c.all();
                let items: Vec<Value> = all
                    .iter()
                    .skip((page - 1) * 100)
                    .take(100)
                    .map(|(id, b)| as_json(*id, b))
                    .collect();
                let next = if page * 100 < all.len() {
                    (page + 1).to_string()
                } else {
                    String::new()
                };
                ResponseTemplate::new(200)
                    .set_body_json(items)
                    .insert_header("x-next-page", next.as_str())
            }
            "POST" => Create(c.clone()).respond(req),
            "PUT" => Update(c.clone()).respond(req),
            _ => ResponseTemplate::new(405),
        }
    }
}

fn on_gitlab(test: Test, api: &str) -> Test {
    test.env("GITLAB_CI", "true")
        .env("CI_API_V4_URL", api)
        .env("CI_PROJECT_ID", "42")
        .env("CI_MERGE_REQUEST_IID", "5")
        .env("CI_COMMIT_SHA", "fedcba9876543210")
        .env("CI_JOB_URL", "https://gitlab.example/g/p/-/jobs/3")
}

#[test]
fn gitlab_note_is_created_then_updated() {
    let rt = runtime();
    let notes = Notes(Comments::seeded(120));
    let server = rt.block_on(async {
        let server = MockServer::start().await;
        Mock::given(path_regex(
            r"^/api/v4/projects/42/merge_requests/5/notes(/\d+)?$",
        ))
        .and(header("private-token", "glpat-fake-token"))
        .respond_with(notes.clone())
        .mount(&server)
        .await;
        server
    });
    let api = format!("{}/api/v4", server.uri());
    for (round, scenario, code) in [(1, PASSING, 0), (2, FAILING, 1)] {
        let ran = on_gitlab(Test::new(), &api)
            .env("LOADGATE_GITLAB_TOKEN", "glpat-fake-token")
            .scenario(scenario)
            .target(vec![Route::ok("/")])
            .args(&["run", "--threads", "1"])
            .run();
        ran.code(code);
        assert!(!ran.stderr.contains("glpat-fake-token"));
        assert!(!ran.stderr.contains("warning: cannot"), "{}", ran.stderr);
        let ours = notes.0.ours();
        assert_eq!(ours.len(), 1, "round {round}");
        assert!(ours[0]
            .1
            .contains("[job](https://gitlab.example/g/p/-/jobs/3)"));
    }
    assert!(notes.0.ours()[0].1.contains("checkout failed"));
    assert_eq!(notes.0.all().len(), 121);
    let methods: Vec<String> = requests(&rt, &server)
        .into_iter()
        .map(|(m, p)| format!("{m} {p}"))
        .collect();
    let base = "/api/v4/projects/42/merge_requests/5/notes";
    let list = |page| format!("GET {base}?per_page=100&page={page}&sort=asc&order_by=created_at");
    assert_eq!(
        methods,
        [
            list(1),
            list(2),
            format!("POST {base}"),
            list(1),
            list(2),
            format!("PUT {base}/1120"),
        ]
    );
}

#[test]
fn gitlab_without_a_token_says_how_to_add_one() {
    let ran = on_gitlab(Test::new(), "http://127.0.0.1:9/api/v4")
        .scenario(PASSING)
        .target(vec![Route::ok("/")])
        .args(&["run", "--threads", "1"])
        .run();
    ran.code(0);
    assert!(
        ran.stderr
            .contains("warning: no merge-request note: GitLab's job token cannot write notes")
            && ran.stderr.contains("GITLAB_TOKEN"),
        "{}",
        ran.stderr
    );
}
