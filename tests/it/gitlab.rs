//! GitLab through the built binary: a merge-request pipeline's variables, wiremock as the API.

use loadgate::target::Route;
use wiremock::matchers::{header, path_regex};
use wiremock::{Mock, MockServer};

use crate::fake_api::{requests, runtime, Comments, Notes, FAILING, PASSING};
use crate::harness::Test;

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
        let verb = if round == 1 { "posted" } else { "updated" };
        assert!(ran
            .stderr
            .contains(&format!("loadgate: {verb} the merge-request note")));
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
