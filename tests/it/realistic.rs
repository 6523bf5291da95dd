//! Realistic users end to end (issue 13): per-user logins checked by the server, cookie sessions
//! with redirects, gzip JSON captures, unique feeds used exactly once, weighted flows, and the
//! documented outcome of each failure. The server side decides what is right; nothing here
//! assumes timing.

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::harness::Test;
use crate::users_server::{start, Req, Resp};

fn users_csv(n: usize) -> String {
    let mut csv = String::from("email,password\n");
    for i in 0..n {
        csv.push_str(&format!("user{i}@example.com,pw-{i}\n"));
    }
    csv
}

fn query(target: &str, key: &str) -> Option<String> {
    let q = target.split_once('?')?.1;
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.replace("%40", "@"))
}

#[derive(Default)]
struct Logins {
    /// token -> email
    tokens: Mutex<HashMap<String, String>>,
    logins: AtomicU64,
    good: AtomicU64,
    wrong: AtomicU64,
}

#[test]
fn each_user_logs_in_once_and_carries_its_own_token() {
    let state = Arc::new(Logins::default());
    let s = state.clone();
    let url = start(Arc::new(move |req: Req| {
        if req.method == "POST" && req.target == "/login" {
            let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or_default();
            let email = body["email"].as_str().unwrap_or("").to_string();
            let password = body["password"].as_str().unwrap_or("");
            let expected = format!(
                "pw-{}",
                email
                    .trim_start_matches("user")
                    .split('@')
                    .next()
                    .unwrap_or("")
            );
            if email.is_empty() || password != expected {
                return Resp::new(401, "bad credentials");
            }
            let n = s.logins.fetch_add(1, Ordering::SeqCst);
            let token = format!("tok-{n}-{}", email.len());
            s.tokens.lock().unwrap().insert(token.clone(), email);
            return Resp::new(200, format!("{{\"token\": \"{token}\"}}"))
                .header("content-type", "application/json");
        }
        if req.target.starts_with("/orders") {
            let auth = req
                .header("authorization")
                .unwrap_or("")
                .trim_start_matches("Bearer ")
                .to_string();
            let claimed = query(&req.target, "me").unwrap_or_default();
            let owner = s.tokens.lock().unwrap().get(&auth).cloned();
            if owner.as_deref() == Some(claimed.as_str()) {
                s.good.fetch_add(1, Ordering::SeqCst);
                return Resp::new(200, "{\"ok\": true}");
            }
            s.wrong.fetch_add(1, Ordering::SeqCst);
            return Resp::new(403, "not your token");
        }
        Resp::new(404, "")
    }));
    let ran = Test::new()
        .file("users.csv", &users_csv(8))
        .scenario(&format!(
            r#"name: login
target: {url}
seed: 42
data:
  users: {{ file: users.csv, mode: unique, per: user }}
load: {{ concurrency: 8, hold_for: 1s }}
setup:
  - name: login
    method: POST
    path: /login
    headers: {{ Content-Type: application/json }}
    body: '{{"email": "{{{{ users.email }}}}", "password": "{{{{ users.password }}}}"}}'
    capture: {{ token: {{ json: /token }} }}
requests:
  - name: orders
    path: /orders?me={{{{ users.email }}}}&n={{{{ iteration }}}}
    headers: {{ Authorization: "Bearer {{{{ token }}}}" }}
    expect: {{ json: {{ /ok: true }} }}
thresholds: [error_rate < 1%]
"#
        ))
        .args(&["run"])
        .run();
    ran.code(0);
    let r = ran.results();
    // One login per user, every loop request with its own user's token.
    assert_eq!(state.logins.load(Ordering::SeqCst), 8);
    assert_eq!(r["labels"]["login"]["requests"], 8);
    assert_eq!(state.wrong.load(Ordering::SeqCst), 0);
    let good = state.good.load(Ordering::SeqCst);
    assert!(good > 8, "{good}");
    assert_eq!(r["labels"]["orders"]["requests"].as_u64(), Some(good));
    assert_eq!(r["total"]["errors"], 0);
}

#[test]
fn a_cookie_session_login_with_a_redirect_works_per_user() {
    let sessions: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    let mismatched = Arc::new(AtomicU64::new(0));
    let pages = Arc::new(AtomicU64::new(0));
    let (s, m, p) = (sessions.clone(), mismatched.clone(), pages.clone());
    let url = start(Arc::new(move |req: Req| {
        let cookie = req
            .header("cookie")
            .and_then(|c| c.split("; ").find_map(|kv| kv.strip_prefix("sid=")))
            .map(str::to_string);
        match (
            req.method.as_str(),
            req.target.split('?').next().unwrap_or(""),
        ) {
            ("POST", "/session") => {
                let user = req.body_text().trim_start_matches("user=").to_string();
                let sid = format!("sid{}x{}", s.lock().unwrap().len(), user.len());
                s.lock().unwrap().insert(sid.clone(), user);
                Resp::new(302, "")
                    .header("location", "/home")
                    .header("set-cookie", &format!("sid={sid}; Path=/; HttpOnly"))
            }
            ("GET", "/home") | ("GET", "/account") => {
                let owner = cookie.and_then(|c| s.lock().unwrap().get(&c).cloned());
                let claimed = query(&req.target, "u");
                match (owner, claimed) {
                    (Some(o), Some(c)) if o != c => {
                        m.fetch_add(1, Ordering::SeqCst);
                        Resp::new(403, "someone else's session")
                    }
                    (Some(o), _) => {
                        p.fetch_add(1, Ordering::SeqCst);
                        Resp::new(200, format!("welcome {o}"))
                    }
                    (None, _) => Resp::new(401, "log in first"),
                }
            }
            _ => Resp::new(404, ""),
        }
    }));
    let ran = Test::new()
        .scenario(&format!(
            r#"name: cookies
target: {url}
load: {{ concurrency: 4, hold_for: 1s }}
setup:
  - name: log in
    method: POST
    path: /session
    body: user=u{{{{ user }}}}
    expect: {{ body_contains: welcome }}
requests:
  - name: account
    path: /account?u=u{{{{ user }}}}
    expect: {{ body_contains: welcome }}
"#
        ))
        .args(&["run"])
        .run();
    ran.code(0);
    let r = ran.results();
    assert_eq!(mismatched.load(Ordering::SeqCst), 0);
    // The 302 and the page it leads to: two requests under the login's label, per user.
    assert_eq!(r["labels"]["log in"]["requests"], 8);
    assert_eq!(r["labels"]["log in"]["status"]["302"], 4);
    assert!(r["labels"]["account"]["requests"].as_u64().unwrap() > 4);
    assert_eq!(sessions.lock().unwrap().len(), 4);
    assert!(pages.load(Ordering::SeqCst) > 8);
}

#[test]
fn a_gzip_json_body_is_captured_and_used() {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let s = seen.clone();
    let url = start(Arc::new(move |req: Req| {
        if req.target == "/new" {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(b"{\"order\": {\"id\": 4217}}").unwrap();
            return Resp::new(201, gz.finish().unwrap())
                .header("content-encoding", "gzip")
                .header("content-type", "application/json");
        }
        s.lock().unwrap().push(req.target.clone());
        Resp::new(200, "")
    }));
    let ran = Test::new()
        .scenario(&format!(
            r#"name: gzip
target: {url}
load: {{ concurrency: 1, hold_for: 300ms }}
requests:
  - {{ name: new, method: POST, path: /new, capture: {{ id: {{ json: "$.order.id" }} }} }}
  - {{ name: get, path: "/orders/{{{{ id }}}}" }}
"#
        ))
        .args(&["run"])
        .run();
    ran.code(0);
    let seen = seen.lock().unwrap();
    assert!(!seen.is_empty());
    assert!(seen.iter().all(|t| t == "/orders/4217"), "{seen:?}");
    // Labels are the unrendered template: they do not multiply.
    assert!(ran.results()["labels"]["GET /orders/{{ id }}"].is_null());
    assert!(ran.results()["labels"]["get"]["requests"].as_u64().unwrap() >= 1);
}

fn row_server() -> (String, Arc<Mutex<HashMap<String, u64>>>) {
    let rows: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
    let r = rows.clone();
    let url = start(Arc::new(move |req: Req| {
        if let Some(id) = req.target.strip_prefix("/row/") {
            *r.lock().unwrap().entry(id.to_string()).or_default() += 1;
        }
        Resp::new(200, "ok")
    }));
    (url, rows)
}

fn ids_csv(n: usize) -> String {
    let mut csv = String::from("id\n");
    for i in 0..n {
        csv.push_str(&format!("a{i}\n"));
    }
    csv
}

#[test]
fn a_unique_feed_gives_each_row_once_then_stops_or_recycles() {
    for (exhausted, users) in [("stop", 3), ("recycle", 2)] {
        let (url, rows) = row_server();
        let ran = Test::new()
            .file("ids.csv", &ids_csv(150))
            .scenario(&format!(
                r#"name: unique
target: {url}
data: {{ accounts: {{ file: ids.csv, mode: unique, on_exhausted: {exhausted} }} }}
load: {{ concurrency: {users}, hold_for: 2s }}
requests: [{{ name: row, path: "/row/{{{{ accounts.id }}}}" }}]
"#
            ))
            .args(&["run", "--threads", "2"])
            .run();
        ran.code(0);
        let rows = rows.lock().unwrap();
        assert_eq!(rows.len(), 150, "{exhausted}: every row used");
        if exhausted == "stop" {
            assert!(rows.values().all(|&n| n == 1), "no row twice: {rows:?}");
            assert_eq!(ran.results()["total"]["requests"], 150);
        } else {
            assert!(rows.values().any(|&n| n > 1), "recycled");
        }
    }
}

#[test]
fn weighted_flows_follow_their_weights_with_a_fixed_seed() {
    let counts: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
    let c = counts.clone();
    let url = start(Arc::new(move |req: Req| {
        *c.lock().unwrap().entry(req.target.clone()).or_default() += 1;
        Resp::new(200, "")
    }));
    let scenario = format!(
        r#"name: mix
target: {url}
seed: 7
load: {{ concurrency: 4, hold_for: 1s }}
flows:
  - {{ name: browse, weight: 3, requests: [{{ path: /browse }}] }}
  - {{ name: buy, weight: 1, requests: [{{ path: /buy }}, {{ path: /pay }}] }}
"#
    );
    let ran = Test::new().scenario(&scenario).args(&["run"]).run();
    ran.code(0);
    let r = ran.results();
    let browse = r["flows"]["browse"].as_u64().unwrap();
    let buy = r["flows"]["buy"].as_u64().unwrap();
    let share = browse as f64 / (browse + buy) as f64;
    assert!(browse + buy > 400, "{browse} {buy}");
    assert!((share - 0.75).abs() < 0.05, "{share}");
    let counts = counts.lock().unwrap();
    assert_eq!(counts["/browse"], browse);
    assert_eq!(counts["/buy"], buy);
    let summary = ran.read("loadgate-report/summary.md");
    assert!(summary.contains("### Flow mix"), "{summary}");
}

#[test]
fn a_failed_capture_skips_the_rest_of_the_iteration_and_is_masked() {
    let url = start(Arc::new(|req: Req| match req.target.as_str() {
        "/token" => Resp::new(200, "{\"token\": \"s3cret-tok\", \"other\": 1}"),
        "/missing" => Resp::new(200, "{\"nothing\": \"echo s3cret-tok\"}"),
        _ => Resp::new(200, "page"),
    }));
    let ran = Test::new()
        .scenario(&format!(
            r#"name: fails
target: {url}
load: {{ concurrency: 1, hold_for: 300ms }}
requests:
  - {{ name: token, path: /token, capture: {{ tok: {{ json: /token }} }} }}
  - {{ name: missing, path: /missing, capture: {{ id: {{ json: /id }} }} }}
  - {{ name: after, path: "/x/{{{{ id }}}}" }}
  - {{ name: check, path: /page, expect: {{ body_contains: "not there" }} }}
"#
        ))
        .args(&["run"])
        .run();
    ran.code(1);
    let r = ran.results();
    let captures = r["total"]["error_kinds"]["capture"].as_u64().unwrap();
    assert!(captures >= 1);
    assert_eq!(r["labels"]["missing"]["errors"].as_u64(), Some(captures));
    assert_eq!(r["labels"]["after"]["skipped"].as_u64(), Some(captures));
    assert_eq!(r["labels"]["check"]["skipped"].as_u64(), Some(captures));
    assert!(r["labels"]["after"]["requests"].as_u64().unwrap_or(0) == 0);
    let sample = r["failures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "capture")
        .expect("a capture sample");
    assert!(
        sample["message"].as_str().unwrap().contains("/id"),
        "{sample}"
    );
    let body = sample["body"].as_str().unwrap();
    assert!(
        !body.contains("s3cret-tok") && body.contains("***"),
        "{body}"
    );
    let summary = ran.read("loadgate-report/summary.md");
    assert!(summary.contains("skipped"), "{summary}");
}

#[test]
fn a_failed_check_is_its_own_error_kind_with_what_was_expected() {
    let url = start(Arc::new(|_req: Req| Resp::new(200, "{\"ok\": false}")));
    let ran = Test::new()
        .scenario(&format!(
            r#"name: checks
target: {url}
load: {{ concurrency: 1, hold_for: 200ms }}
requests:
  - {{ name: c, path: /, expect: {{ json: {{ /ok: true }} }} }}
"#
        ))
        .args(&["run"])
        .run();
    ran.code(1);
    let r = ran.results();
    assert_eq!(r["total"]["error_kinds"]["check"], r["total"]["requests"]);
    let f = &r["failures"][0];
    assert_eq!(f["kind"], "check");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("expected true at `/ok`, got false"),
        "{f}"
    );
    assert!(ran
        .read("loadgate-report/junit.xml")
        .contains("Failed checks"));
}

#[test]
fn a_value_that_looks_like_template_syntax_is_sent_as_data() {
    let bodies: Arc<Mutex<Vec<String>>> = Arc::default();
    let b = bodies.clone();
    let url = start(Arc::new(move |req: Req| {
        b.lock().unwrap().push(req.body_text());
        Resp::new(200, "")
    }));
    let ran = Test::new()
        .file("data.csv", "v\n\"{{ user }} and {{ uuid() }}\"\n")
        .scenario(&format!(
            r#"name: data
target: {url}
data: {{ d: {{ file: data.csv }} }}
load: {{ concurrency: 1, hold_for: 200ms }}
requests: [{{ method: POST, path: /, body: "[{{{{ d.v }}}}]" }}]
"#
        ))
        .args(&["run"])
        .run();
    ran.code(0);
    let bodies = bodies.lock().unwrap();
    assert!(!bodies.is_empty());
    assert!(
        bodies.iter().all(|b| b == "[{{ user }} and {{ uuid() }}]"),
        "{bodies:?}"
    );
}

#[test]
fn bad_names_and_bad_feeds_are_exit_2_before_any_load() {
    let cases = [
        ("requests: [{ path: \"/a/{{ nope }}\" }]\n", "", "loadgate.yaml:5:", "`nope` is not defined"),
        (
            "requests: [{ path: \"/a/{{ tok }}\" }, { path: /b, capture: { tok: { header: X-T } } }]\n",
            "",
            "loadgate.yaml:5:",
            "by no earlier request",
        ),
        (
            "data: { u: { file: u.csv } }\nrequests: [{ path: \"/a/{{ u.phone }}\" }]\n",
            "id\n1\n",
            "loadgate.yaml:6:",
            "no column `phone`",
        ),
        (
            "data: { u: { file: u.csv } }\nrequests: [{ path: \"/a/{{ u.id }}\" }]\n",
            "id,x\n1,2\n3\n",
            "loadgate.yaml:5:",
            "line 3",
        ),
        (
            "data: { u: { file: missing.csv } }\nrequests: [{ path: \"/a/{{ u.id }}\" }]\n",
            "",
            "loadgate.yaml:5:",
            "cannot read data feed",
        ),
        (
            "requests: [{ url: \"http://{{ host }}/\" }]\n",
            "",
            "loadgate.yaml:5:",
            "cannot be templated",
        ),
    ];
    for (tail, csv, at, message) in cases {
        let mut t = Test::new();
        if !csv.is_empty() {
            t = t.file("u.csv", csv);
        }
        let ran = t
            .scenario(&format!(
                "name: x\ntarget: http://127.0.0.1:9\nload: {{ concurrency: 1, hold_for: 1s }}\nvariables: {{ v: \"1\" }}\n{tail}"
            ))
            .args(&["run"])
            .run();
        ran.code(2);
        assert!(ran.stderr.contains(at), "{tail}: {}", ran.stderr);
        assert!(ran.stderr.contains(message), "{tail}: {}", ran.stderr);
        assert!(!ran.path("loadgate-report").exists(), "no load, no report");
    }
}

#[test]
fn validate_shows_what_is_templated_captured_and_checked() {
    let ran = Test::new()
        .file("u.csv", "email\na@x\n")
        .scenario(
            "name: x\ntarget: http://127.0.0.1:9\nload: { concurrency: 1, hold_for: 1s }\n\
             data: { users: { file: u.csv, per: user } }\n\
             setup: [{ name: login, method: POST, path: /login, body: '{\"e\": \"{{ users.email }}\"}', capture: { token: { json: /token } } }]\n\
             flows:\n  - { name: browse, weight: 3, requests: [{ path: \"/items/{{ random_int(1, 9) }}\", headers: { Authorization: \"Bearer {{ token }}\" } }] }\n",
        )
        .args(&["validate"])
        .run();
    ran.code(0);
    for needle in [
        "data        users: u.csv (1 rows",
        "setup       1 request(s), once per user:",
        "captures token from JSON /token",
        "flow        browse (weight 3, 100% of iterations)",
        "/items/{{ random_int(1, 9) }}",
        "templated: path, header Authorization",
    ] {
        assert!(ran.stdout.contains(needle), "{needle}:\n{}", ran.stdout);
    }
}

#[test]
fn the_login_example_is_valid() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/login.yaml");
    let ran = Test::new().args(&["validate", path]).run();
    ran.code(0);
    assert!(
        ran.stdout
            .contains("flow        browse (weight 3, 75% of iterations)"),
        "{}",
        ran.stdout
    );
    // The secret column's values never show.
    assert!(!ran.stdout.contains("correct-horse"), "{}", ran.stdout);
}

#[test]
fn in_the_open_model_each_arrival_is_a_new_user_and_an_exhausted_feed_drops() {
    let logins = Arc::new(AtomicU64::new(0));
    let rows: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
    let (l, r) = (logins.clone(), rows.clone());
    let url = start(Arc::new(move |req: Req| {
        if req.target == "/login" {
            let n = l.fetch_add(1, Ordering::SeqCst);
            return Resp::new(200, format!("{{\"token\": \"t{n}\"}}"));
        }
        if let Some(id) = req.target.strip_prefix("/row/") {
            // Each arrival's own login token comes with its row.
            let token = req.header("x-token").unwrap_or("").to_string();
            *r.lock()
                .unwrap()
                .entry(format!("{id}:{}", token.is_empty()))
                .or_default() += 1;
        }
        Resp::new(200, "")
    }));
    let ran = Test::new()
        .file("ids.csv", &ids_csv(40))
        .scenario(&format!(
            r#"name: open
target: {url}
data: {{ accounts: {{ file: ids.csv, mode: unique }} }}
load: {{ rate: 100/s, hold_for: 1s }}
setup: [{{ name: login, path: /login, capture: {{ token: {{ json: /token }} }} }}]
requests: [{{ name: row, path: "/row/{{{{ accounts.id }}}}", headers: {{ X-Token: "{{{{ token }}}}" }} }}]
"#
        ))
        .args(&["run"])
        .run();
    ran.code(0);
    let r = ran.results();
    let rows = rows.lock().unwrap();
    assert_eq!(rows.len(), 40, "{rows:?}");
    assert!(
        rows.iter().all(|(k, &n)| n == 1 && k.ends_with(":false")),
        "{rows:?}"
    );
    // One login per arrival that got a row; the others were dropped.
    assert_eq!(logins.load(Ordering::SeqCst), 40);
    assert_eq!(r["labels"]["row"]["requests"], 40);
    assert!(
        r["total"]["dropped"].as_u64().unwrap() > 0,
        "{}",
        r["total"]
    );
}

#[test]
fn a_redirect_to_another_origin_drops_the_scenarios_headers_and_each_hop_counts() {
    /// Target and Authorization header of each request the other origin saw.
    type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let other = start(Arc::new(move |req: Req| {
        s.lock().unwrap().push((
            req.target.clone(),
            req.header("authorization").map(str::to_string),
        ));
        Resp::new(200, "landed")
    }));
    let first = start(Arc::new(move |req: Req| {
        assert_eq!(req.header("authorization"), Some("Bearer t"));
        Resp::new(307, "").header("location", &format!("{other}/landing?x=1"))
    }));
    let ran = Test::new()
        .scenario(&format!(
            r#"name: hops
target: {first}
defaults: {{ follow_redirects: 3, headers: {{ Authorization: Bearer t }} }}
load: {{ concurrency: 1, hold_for: 200ms }}
requests: [{{ name: go, path: /start, expect: {{ status: 200, body_contains: landed }} }}]
"#
        ))
        .args(&["run"])
        .run();
    ran.code(0);
    let r = ran.results();
    let seen = seen.lock().unwrap();
    assert!(!seen.is_empty());
    assert!(
        seen.iter()
            .all(|(t, auth)| t == "/landing?x=1" && auth.is_none()),
        "{seen:?}"
    );
    // Both hops of every request, under the one label.
    let go = &r["labels"]["go"];
    assert_eq!(go["status"]["307"].as_u64(), Some(seen.len() as u64));
    assert_eq!(go["status"]["200"].as_u64(), Some(seen.len() as u64));
    assert_eq!(go["errors"], 0);
}
