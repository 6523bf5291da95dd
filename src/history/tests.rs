use super::*;
use crate::report::fixtures;

fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |k| {
        pairs
            .iter()
            .find(|(key, _)| *key == k)
            .map(|(_, v)| v.to_string())
            .filter(|v| !v.trim().is_empty())
    }
}

fn run(started_at: &str, run_id: &str) -> Results {
    let mut r = fixtures::passing();
    r.started_at = started_at.to_string();
    r.run_id = run_id.to_string();
    r
}

fn info(branch: &str) -> RunInfo {
    RunInfo {
        branch: branch.to_string(),
        commit: Some("0123456789abcdef".to_string()),
    }
}

#[test]
fn records_under_scenario_branch_and_time_and_reads_back() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = LocalStore::new(dir.path());
    let entry = store
        .record(&run("2026-11-26T18:00:00Z", "r1"), &info("feature/x"))
        .expect("recorded");
    assert_eq!(
        entry.key,
        "checkout-api/feature%2Fx/20261126T180000Z-r1.json"
    );
    assert!(dir.path().join(&entry.key).is_file());
    let loaded = store.load(&entry).expect("loads");
    assert_eq!(loaded.run_id, "r1");
    assert_eq!(loaded.branch.as_deref(), Some("feature/x"));
    assert_eq!(loaded.commit.as_deref(), Some("0123456789abcdef"));
    assert_eq!(loaded.total, fixtures::passing().total);
    assert_eq!(store.scenarios().expect("lists"), ["checkout-api"]);
    assert_eq!(
        store.branches("checkout-api").expect("lists"),
        ["feature/x"]
    );
    assert_eq!(
        store.list("checkout-api", "feature/x").expect("lists"),
        [entry]
    );
}

#[test]
fn lists_newest_first_and_only_the_branch_asked_for() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = LocalStore::new(dir.path());
    for (time, id, branch) in [
        ("2026-11-26T18:00:00Z", "a", "main"),
        ("2026-11-26T19:00:00Z", "c", "main"),
        ("2026-11-26T18:30:00Z", "b", "main"),
        ("2026-11-26T20:00:00Z", "pr", "feature"),
    ] {
        store
            .record(&run(time, id), &info(branch))
            .expect("recorded");
    }
    let ids: Vec<String> = store
        .list("checkout-api", "main")
        .expect("lists")
        .into_iter()
        .map(|e| e.run_id)
        .collect();
    assert_eq!(ids, ["c", "b", "a"]);
    assert!(store
        .list("checkout-api", "nope")
        .expect("lists")
        .is_empty());
    assert!(store.list("other", "main").expect("lists").is_empty());
    assert_eq!(
        store.branches("checkout-api").expect("lists"),
        ["feature", "main"]
    );
}

#[test]
fn a_missing_directory_is_an_empty_history() {
    let store = LocalStore::new("/nonexistent/loadgate-history");
    assert!(store.scenarios().expect("empty").is_empty());
    assert!(store.list("s", "main").expect("empty").is_empty());
}

#[test]
fn segments_are_encoded_reversibly_and_never_climb() {
    for name in [
        "main",
        "feature/x",
        "a b",
        "..",
        ".hidden",
        "ünï",
        "%41",
        "",
    ] {
        let enc = encode(name);
        assert!(
            !enc.contains('/') && !enc.starts_with('.'),
            "{name} -> {enc}"
        );
        assert_eq!(decode(&enc).as_deref(), Some(name), "{enc}");
    }
    assert_eq!(encode("feature/x"), "feature%2Fx");
    assert_eq!(encode("release-1.2"), "release-1.2");
    assert_eq!(decode("%zz"), None);
}

/// (CI variables, --branch, the branch expected).
type Case = (
    &'static [(&'static str, &'static str)],
    Option<&'static str>,
    &'static str,
);

#[test]
fn the_own_branch_comes_from_ci_then_the_flag() {
    let cases: [Case; 7] = [
        (
            &[
                ("GITHUB_HEAD_REF", "feature"),
                ("GITHUB_REF_NAME", "12/merge"),
            ],
            Some("x"),
            "feature",
        ),
        (
            &[
                ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "mr"),
                ("CI_COMMIT_BRANCH", "main"),
            ],
            None,
            "mr",
        ),
        (
            &[("GITHUB_HEAD_REF", ""), ("GITHUB_REF_NAME", "main")],
            Some("x"),
            "main",
        ),
        (&[("CI_COMMIT_BRANCH", "develop")], None, "develop"),
        (&[], Some("mine"), "mine"),
        (&[], Some("  "), "local"),
        (&[], None, "local"),
    ];
    for (pairs, flag, expected) in cases {
        let env = env_of(pairs);
        assert_eq!(
            resolve_branch(&env, flag, false),
            expected,
            "{pairs:?} {flag:?}"
        );
    }
}

#[test]
fn the_commit_comes_from_ci() {
    let env = env_of(&[("GITHUB_SHA", "abc"), ("CI_COMMIT_SHA", "def")]);
    assert_eq!(resolve_commit(&env, false).as_deref(), Some("abc"));
    let env = env_of(&[("CI_COMMIT_SHA", "def")]);
    assert_eq!(resolve_commit(&env, false).as_deref(), Some("def"));
    assert_eq!(resolve_commit(&env_of(&[]), false), None);
}
