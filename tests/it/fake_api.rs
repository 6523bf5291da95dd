//! Fakes of the GitHub and GitLab APIs for the CI tests: comment and note stores that behave like
//! the real ones (ids, pages, updates), served by wiremock while a test blocks on the binary.

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use wiremock::{MockServer, Request, Respond, ResponseTemplate};

/// A scenario whose one threshold holds.
pub const PASSING: &str = "name: checkout\ntarget: \"{target}\"\nload: { concurrency: 1, hold_for: 300ms }\nrequests:\n  - { name: home, path: / }\nthresholds:\n  - requests >= 1\n";
/// `requests < 1` fails whenever anything was sent; it is on line 7.
pub const FAILING: &str = "name: checkout\ntarget: \"{target}\"\nload: { concurrency: 1, hold_for: 300ms }\nrequests:\n  - { name: home, path: / }\nthresholds:\n  - requests < 1\n  - error_rate < 50%\n";

/// The GitHub API's issue comments of PR #7 in octo/shop, stateful like the real one.
#[derive(Clone, Default)]
pub struct Comments(pub Arc<Mutex<Vec<(u64, String)>>>);

impl Comments {
    pub fn seeded(n: usize) -> Comments {
        let c = Comments::default();
        for i in 0..n {
            c.push(format!("comment {i} by a human"));
        }
        c
    }

    pub fn push(&self, body: String) -> u64 {
        let mut list = self.0.lock().expect("lock");
        let id = 1000 + list.len() as u64;
        list.push((id, body));
        id
    }

    pub fn all(&self) -> Vec<(u64, String)> {
        self.0.lock().expect("lock").clone()
    }

    pub fn ours(&self) -> Vec<(u64, String)> {
        self.all()
            .into_iter()
            .filter(|(_, b)| b.contains("<!-- loadgate:checkout -->"))
            .collect()
    }
}

pub fn as_json(id: u64, body: &str) -> Value {
    json!({ "id": id, "body": body, "user": { "login": "someone" } })
}

pub struct List {
    pub comments: Comments,
    pub base: String,
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

pub struct Create(pub Comments);

impl Respond for Create {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).expect("JSON body");
        let text = body["body"].as_str().expect("body").to_string();
        let id = self.0.push(text.clone());
        ResponseTemplate::new(201).set_body_json(as_json(id, &text))
    }
}

pub struct Update(pub Comments);

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
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

pub fn requests(rt: &tokio::runtime::Runtime, server: &MockServer) -> Vec<(String, String)> {
    rt.block_on(server.received_requests())
        .unwrap_or_default()
        .iter()
        .map(|r| {
            let q = r.url.query().map(|q| format!("?{q}")).unwrap_or_default();
            (r.method.to_string(), format!("{}{q}", r.url.path()))
        })
        .collect()
}

/// The notes of merge request !5 in project 42, stateful, paged by X-Next-Page.
#[derive(Clone, Default)]
pub struct Notes(pub Comments);

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
