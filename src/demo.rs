//! `loadgate demo`: the built-in target on 127.0.0.1 and the example scenario against it, so a
//! new user sees a whole run (progress, summary, reports) without a server or a cloud account.

use std::path::Path;
use std::time::Duration;

use crate::executor::Local;
use crate::plan::LoadPlan;
use crate::run::{self, RunConfig};
use crate::target::{Latency, Route, Target};
use crate::{scenario, Error, Result};

/// The scenario the demo runs; also shipped as `examples/demo.yaml`.
pub const SCENARIO: &str = include_str!("../examples/demo.yaml");
/// The address in [`SCENARIO`] that the demo replaces with its target's.
const PLACEHOLDER: &str = "http://localhost:8080";

/// A shop with realistic, varied latency and a small error rate on the cart.
pub fn routes() -> Vec<Route> {
    let ms = Duration::from_millis;
    vec![
        Route::ok("/")
            .latency(Latency::Uniform(ms(2), ms(8)))
            .body(2_000),
        Route::ok("/products")
            .latency(Latency::Uniform(ms(10), ms(40)))
            .body(12_000),
        Route::ok("/products/42")
            .latency(Latency::Uniform(ms(5), ms(25)))
            .body(1_500),
        Route::ok("/cart")
            .status(201)
            .latency(Latency::Uniform(ms(20), ms(80)))
            .error_rate(0.01)
            .body(200),
        Route::ok("/search")
            .latency(Latency::Uniform(ms(30), ms(150)))
            .body(8_000),
    ]
}

/// Runs the demo; `hold_for` (e.g. "3s") shortens or lengthens the hold phase.
pub fn run(out: &Path, hold_for: Option<&str>) -> Result<i32> {
    let target = Target::start(routes()).map_err(|e| {
        Error::infra(
            format!("cannot start the demo target on 127.0.0.1: {e}"),
            None,
        )
    })?;
    let source = SCENARIO.replace(PLACEHOLDER, &target.url());
    let mut loaded = scenario::parse_str(
        &source,
        "examples/demo.yaml",
        Path::new("."),
        &scenario::ProcessEnv,
    )?;
    if let Some(text) = hold_for {
        let wanted = humantime::parse_duration(text).map_err(|e| {
            Error::input(format!(
                "error: invalid value `{text}` for --hold-for: {e} (expected a duration like 5s)"
            ))
        })?;
        let (LoadPlan::Closed { hold_for, .. } | LoadPlan::Open { hold_for, .. }) =
            &mut loaded.plan.load;
        *hold_for = wanted;
    }
    eprintln!(
        "loadgate demo: built-in target on {}, scenario examples/demo.yaml",
        target.url()
    );
    let config = RunConfig {
        out: out.to_path_buf(),
        print_summary: true,
        progress: true,
    };
    let outcome = run::run(&loaded.plan, loaded.warnings, &Local::default(), &config)?;
    eprintln!(
        "reports: {}, {}, {}, {}",
        outcome.written.summary.display(),
        outcome.written.junit.display(),
        outcome.written.json.display(),
        outcome.written.html.display()
    );
    Ok(outcome.exit_code)
}
