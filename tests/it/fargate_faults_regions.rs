//! Faults of a run from several regions (issue 14): `loadgate stop` and a worker that stops
//! early by itself, on the multi-region path (src/executor/fargate/regions/drive.rs), which has
//! its own load loop and merge. One moto serves us-east-1 and eu-west-1; a fake Fargate per
//! region plays the tasks (as in tests/it/fargate_regions.rs).

use loadgate::target::Route;

use crate::fake_fargate::{self, FakeFargate, Options};
use crate::harness::{Ran, Test};
use crate::moto::{Moto, REGION};

const EU: &str = "eu-west-1";

struct Regions {
    moto: Moto,
    us: fake_fargate::Deployed,
    eu: fake_fargate::Deployed,
}

fn setup() -> Regions {
    let moto = Moto::start();
    moto.keep_tasks_running();
    let us = fake_fargate::deploy(&moto);
    let eu = fake_fargate::deploy_in(&moto, EU);
    Regions { moto, us, eu }
}

fn controller(moto: &Moto, hold_for: &str, regions: &str, extra: &str) -> Test {
    crate::fake_fargate::fargate_run(moto.env(), &["--regions", regions])
        .scenario(&format!(
            "name: regions-faults\ntarget: \"{{target}}\"\nload: {{ concurrency: 3, hold_for: {hold_for} }}\n\
             requests:\n  - {{ name: a, path: /a }}\n{extra}"
        ))
        .target(vec![Route::ok("/a")])
}

fn wait_for_load_everywhere(r: &Regions, us: usize, eu: usize) {
    fake_fargate::wait_for_load(&r.moto, REGION, &r.us.bucket, us);
    fake_fargate::wait_for_load(&r.moto, EU, &r.eu.bucket, eu);
}

/// `loadgate stop` on a run from two regions (through the run index in the home region): the
/// controller notices abort.json when its load loop ends and reports the run stopped, partial
/// and not passed (exit 1), instead of a passed run of partial figures.
#[test]
fn a_run_from_two_regions_stopped_with_loadgate_stop_is_partial_and_fails() {
    let r = setup();
    let (us, eu) = (
        FakeFargate::start_in(&r.moto, Options::default(), REGION),
        FakeFargate::start_in(&r.moto, Options::default(), EU),
    );
    let mut stopped: Option<(Ran, std::time::Instant)> = None;
    let ran = controller(&r.moto, "90s", "us-east-1=1,eu-west-1=2", "").run_with(|_| {
        wait_for_load_everywhere(&r, 1, 2);
        let run_id = fake_fargate::tasks(&r.moto)
            .first()
            .map(|t| t.started_by.clone())
            .expect("the home region's task");
        let mut stop = Test::new().args(&["stop", &run_id]);
        for (k, v) in r.moto.env() {
            stop = stop.env(k, &v);
        }
        stopped = Some((stop.run(), std::time::Instant::now()));
    });
    let (stopped, stopped_at) = stopped.expect("stop ran");
    let took = stopped_at.elapsed();
    let (us, eu) = (us.finish(), eu.finish());
    stopped.code(0);
    ran.code(1);
    let results = ran.results();
    assert_eq!(results["partial"], true);
    assert_eq!(results["passed"], false);
    assert!(
        results["stopped"]
            .as_str()
            .unwrap_or_default()
            .contains("loadgate stop"),
        "{}",
        results["stopped"]
    );
    // What the three workers measured is all there, less at most one abandoned request in
    // flight per virtual user (3).
    let counted = results["total"]["requests"].as_u64().expect("requests");
    let served = ran.target().total();
    assert!(
        counted > 0 && counted <= served && served - counted <= 3,
        "counted {counted}, served {served}"
    );
    eprintln!(
        "two regions, loadgate stop: exit {} {took:?} after `stop` returned, {counted} of {served} merged, workers {us:?} {eu:?}",
        ran.code
    );
    assert!(us.values().chain(eu.values()).all(|c| c.is_some()));
}

/// A worker of eu-west-1 stops early by itself (SIGTERM to its process, not the controller's
/// doing): its figures are merged, it is named with its region and reason among the failed
/// workers, and with every worker needed the run fails (exit 3).
#[test]
fn a_worker_of_one_region_that_stops_early_by_itself_is_named_and_fails_the_run() {
    let r = setup();
    let (us, eu) = (
        FakeFargate::start_in(&r.moto, Options::default(), REGION),
        FakeFargate::start_in(&r.moto, Options::default(), EU),
    );
    let mut early = String::new();
    let ran = controller(&r.moto, "8s", "us-east-1=1,eu-west-1=2", "").run_with(|_| {
        wait_for_load_everywhere(&r, 1, 2);
        early = eu.term_one();
    });
    let (_, eu_codes) = (us.finish(), eu.finish());
    assert_eq!(eu_codes.get(&early), Some(&Some(0)), "{eu_codes:?}");
    ran.code(3);
    let results = ran.results();
    let counted = results["total"]["requests"].as_u64().expect("requests");
    let served = ran.target().total();
    assert!(
        counted <= served && served - counted <= 1,
        "counted {counted}, served {served}"
    );
    assert_eq!(results["distributed"]["contributed"], 2, "{}", ran.stderr);
    let failed = results["distributed"]["failed"].to_string();
    assert!(
        failed.contains(&early) && failed.contains("eu-west-1") && failed.contains("SIGTERM"),
        "{failed}"
    );
    let regions = results["distributed"]["regions"]
        .as_array()
        .expect("regions");
    let eu_row = regions
        .iter()
        .find(|x| x["region"] == EU)
        .expect("eu-west-1");
    assert_eq!(eu_row["contributed"], 1);
    eprintln!(
        "two regions, early stop: exit {}, {counted} of {served} merged, failed {failed}",
        ran.code
    );
}
