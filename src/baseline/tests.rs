use super::*;
use crate::history::LocalStore;
use crate::report::fixtures;

fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |k| {
        pairs
            .iter()
            .find(|(key, _)| *key == k)
            .map(|(_, v)| v.to_string())
    }
}

fn record(store: &LocalStore, time: &str, id: &str, branch: &str) {
    let mut r = fixtures::passing();
    r.started_at = time.to_string();
    r.run_id = id.to_string();
    let info = RunInfo {
        branch: branch.to_string(),
        commit: Some(format!("sha-{id}")),
    };
    store.record(&r, &info).expect("recorded");
}

/// main: m1 (18:00), m2 (19:00); feature: f1 (20:00, the newest of all).
fn store() -> (tempfile::TempDir, LocalStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = LocalStore::new(dir.path());
    record(&store, "2026-11-26T18:00:00Z", "m1", "main");
    record(&store, "2026-11-26T19:00:00Z", "m2", "main");
    record(&store, "2026-11-26T20:00:00Z", "f1", "feature");
    (dir, store)
}

fn selected(store: &LocalStore, target: &str) -> Option<BaselineRef> {
    let mut warnings = Vec::new();
    match select(
        &BaselineArg::Auto,
        store,
        "checkout-api",
        target,
        &mut warnings,
    ) {
        Ok(Selection::Found(b)) => Some(b.reference),
        Ok(Selection::Missing(_)) => None,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn a_pr_compares_with_the_newest_run_of_its_target() {
    let (_dir, store) = store();
    let env = env_of(&[("GITHUB_HEAD_REF", "feature"), ("GITHUB_BASE_REF", "main")]);
    let target = target_branch(&env, Some("develop"));
    assert_eq!(target, "main");
    let b = selected(&store, &target).expect("found");
    assert_eq!(b.run_id, "m2");
    assert_eq!(b.branch.as_deref(), Some("main"));
    assert_eq!(b.commit.as_deref(), Some("sha-m2"));
}

#[test]
fn a_push_to_main_compares_with_the_previous_main_run_never_a_pr_run() {
    let (_dir, store) = store();
    let env = env_of(&[("GITHUB_REF_NAME", "main")]);
    let target = target_branch(&env, None);
    assert_eq!(target, "main");
    // f1 is newer, but it is a PR's run: never main's baseline.
    assert_eq!(
        selected(&store, &target).map(|b| b.run_id).as_deref(),
        Some("m2")
    );
}

#[test]
fn the_target_falls_back_to_the_flag_then_main() {
    assert_eq!(target_branch(&env_of(&[]), Some("develop")), "develop");
    assert_eq!(target_branch(&env_of(&[]), None), "main");
    let gitlab = env_of(&[("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "trunk")]);
    assert_eq!(target_branch(&gitlab, None), "trunk");
    // GitHub sets GITHUB_BASE_REF to "" on push events: that is unset, not a branch.
    let push = |k: &str| (k == "GITHUB_BASE_REF").then(String::new);
    assert_eq!(target_branch(&push, Some("develop")), "develop");
}

#[test]
fn no_run_on_the_target_is_a_reason_not_an_error() {
    let (_dir, store) = store();
    let mut warnings = Vec::new();
    match select(
        &BaselineArg::Auto,
        &store,
        "checkout-api",
        "release",
        &mut warnings,
    ) {
        Ok(Selection::Missing(why)) => assert!(why.contains("`release`"), "{why}"),
        other => panic!("{other:?}"),
    }
    match select(
        &BaselineArg::None,
        &store,
        "checkout-api",
        "main",
        &mut warnings,
    ) {
        Ok(Selection::Missing(why)) => assert!(why.contains("--baseline none"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_unreadable_entry_is_skipped_for_the_next_older() {
    let (dir, store) = store();
    let newest = &store.list("checkout-api", "main").expect("lists")[0];
    std::fs::write(dir.path().join(&newest.key), "{ not json").expect("write");
    let mut warnings = Vec::new();
    match select(
        &BaselineArg::Auto,
        &store,
        "checkout-api",
        "main",
        &mut warnings,
    ) {
        Ok(Selection::Found(b)) => assert_eq!(b.reference.run_id, "m1"),
        other => panic!("{other:?}"),
    }
    assert_eq!(warnings.len(), 1, "{warnings:?}");
}

#[test]
fn a_baseline_path_that_cannot_be_read_is_invalid_input() {
    let (dir, store) = store();
    let path = dir.path().join("missing.json");
    let err = select(
        &BaselineArg::Path(path),
        &store,
        "checkout-api",
        "main",
        &mut Vec::new(),
    )
    .expect_err("missing file");
    assert_eq!(err.exit_code(), crate::error::EXIT_INVALID_INPUT);
}

#[test]
fn baseline_arg_parses() {
    assert_eq!("auto".parse(), Ok(BaselineArg::Auto));
    assert_eq!("none".parse(), Ok(BaselineArg::None));
    assert_eq!(
        "base/results.json".parse(),
        Ok(BaselineArg::Path("base/results.json".into()))
    );
    assert!("".parse::<BaselineArg>().is_err());
}

#[test]
fn a_partial_run_is_never_a_baseline() {
    let (dir, store) = store();
    let mut partial = fixtures::partial();
    partial.started_at = "2026-11-26T21:00:00Z".to_string();
    let info = RunInfo {
        branch: "main".to_string(),
        commit: None,
    };
    store.record(&partial, &info).expect("recorded");
    assert_eq!(store.list("checkout-api", "main").expect("lists").len(), 3);
    assert_eq!(
        selected(&store, "main").map(|b| b.run_id).as_deref(),
        Some("m2")
    );
    drop(dir);
}
