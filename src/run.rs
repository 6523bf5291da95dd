//! `loadgate run`: plan -> executor -> results -> thresholds -> reports -> exit code.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::baseline::Tracking;
use crate::error::{EXIT_CANCELLED, EXIT_INFRASTRUCTURE, EXIT_PASSED, EXIT_THRESHOLD_FAILED};
use crate::executor::{Execution, Executor, Observer, StopReason};
use crate::plan::{Plan, ThresholdPlan};
use crate::progress::{Progress, Snapshot};
use crate::results::{Generator, Percentiles, Results, RunMeta};
use crate::stats::{Aggregate, ErrorKind};
use crate::{report, threshold, Error, Result};

/// The settled configuration of one run.
#[derive(Clone, Debug)]
pub struct RunConfig {
    pub out: PathBuf,
    /// Print the Markdown summary on stdout at the end.
    pub print_summary: bool,
    /// Live progress on stderr.
    pub progress: bool,
}

/// What a finished run produced.
#[derive(Debug)]
pub struct Outcome {
    pub results: Results,
    pub exit_code: i32,
    pub written: report::Written,
}

/// Runs `plan` on `executor`, checks its thresholds and writes the reports. Returns the exit code
/// of the verdict; an `Err` only for failures that left nothing to report.
pub fn run(
    plan: &Plan,
    warnings: Vec<String>,
    executor: &dyn Executor,
    config: &RunConfig,
) -> Result<Outcome> {
    run_tracked(plan, warnings, executor, config, None)
}

/// [`run`], compared with a baseline and recorded in history when `tracking` is given.
pub fn run_tracked(
    plan: &Plan,
    warnings: Vec<String>,
    executor: &dyn Executor,
    config: &RunConfig,
    tracking: Option<&Tracking>,
) -> Result<Outcome> {
    let no_baseline = threshold::Baseline::Missing("no baseline run");
    let baseline = tracking.map_or(no_baseline, Tracking::thresholds);
    for w in &warnings {
        let _ = writeln!(std::io::stderr(), "warning: {w}");
    }
    let meta = RunMeta {
        scenario: plan.name.clone(),
        run_id: new_run_id(),
        executor: "local".to_string(),
        workers: 1,
        started_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        partial: false,
        load: serde_json::to_value(plan.load).ok(),
    };
    let planned = plan.load.duration();
    let mut observer = RunObserver {
        progress: if config.progress {
            Progress::for_stderr(planned)
        } else {
            Progress::Quiet
        },
        thresholds: &plan.thresholds,
        baseline,
    };
    let group = crate::ci::log_group(&format!("loadgate: {} (live)", plan.name));
    let execution = executor.execute(plan, &mut observer)?;
    observer.progress.finish();
    drop(group);
    let agg = &execution.aggregate;

    let meta = match &execution.distributed {
        Some(d) => RunMeta {
            executor: d.executor.to_string(),
            workers: d.figures.workers,
            run_id: d.run_id.clone(),
            ..meta
        },
        None => meta,
    };
    let mut results = Results::new(
        RunMeta {
            partial: execution.stopped.is_some(),
            ..meta
        },
        agg,
    );
    if let Some(d) = &execution.distributed {
        results.distributed = Some(d.figures.clone());
        results.cost = d.cost.clone();
        results.warnings.extend(d.warnings.iter().cloned());
    }
    let regions = execution
        .distributed
        .as_ref()
        .map_or(&[][..], |d| d.regions.as_slice());
    results.thresholds = threshold::evaluate_with_regions(&plan.thresholds, agg, regions, baseline);
    results.warnings.splice(0..0, warnings);
    if let Some(tracking) = tracking {
        tracking.annotate(&mut results);
    }
    let (generator, saturated) = generator(&execution);
    results.generator = Some(generator);
    results.warnings.extend(saturated);
    let unreachable = unreachable(agg);
    if unreachable {
        results.warnings.push(format!(
            "the target was unreachable for the whole run: every one of {} requests failed to connect",
            agg.total.requests
        ));
    }
    results.stopped = execution.stopped.as_ref().map(|s| match s {
        StopReason::Cancelled => format!(
            "cancelled after {:.1}s (SIGINT/SIGTERM); the figures cover what was measured until then",
            agg.duration.as_secs_f64()
        ),
        StopReason::Aborted(reason) => reason.clone(),
    });
    let lost = execution
        .distributed
        .as_ref()
        .and_then(|d| d.infra_failure.clone());
    if let Some(lost) = &lost {
        results.warnings.push(lost.clone());
    }
    results.passed = execution.stopped.is_none()
        && lost.is_none()
        && !unreachable
        && !results.thresholds.iter().any(|t| t.failed());

    let written = match write_reports(&results, &config.out) {
        Ok(written) => written,
        Err(e) => {
            // What was measured still reaches the reader, and a cancelled run still says so:
            // 130 over 3.
            if config.print_summary {
                let _ = std::io::stdout().write_all(report::markdown(&results).as_bytes());
            }
            return Err(match execution.stopped {
                Some(StopReason::Cancelled) => Error::Cancelled(format!(
                    "cancelled (SIGINT/SIGTERM), and {e}; the summary above is all that was kept"
                )),
                _ => e,
            });
        }
    };
    // After the reports: a history that cannot be written must not cost the run its reports.
    if let Some(Err(e)) = tracking.map(|t| t.record(&results)) {
        let _ = writeln!(std::io::stderr(), "warning: the run was not recorded: {e}");
    }
    if config.print_summary {
        let _ = std::io::stdout().write_all(report::markdown(&results).as_bytes());
    }
    let exit_code = match execution.stopped {
        Some(StopReason::Cancelled) => EXIT_CANCELLED,
        _ if unreachable || lost.is_some() => EXIT_INFRASTRUCTURE,
        _ if results.passed => EXIT_PASSED,
        _ => EXIT_THRESHOLD_FAILED,
    };
    Ok(Outcome {
        results,
        exit_code,
        written,
    })
}

/// Checks, before any load is sent, that the reports can be written into `out` (created if
/// missing): finding out after a long run would lose it. Exit code 2.
pub fn check_out(out: &Path) -> Result<()> {
    let fail = |e: std::io::Error| {
        Error::input(format!(
            "cannot write the reports to {}: {e}; nothing was sent. Give --out (LOADGATE_OUT) a              writable directory",
            out.display()
        ))
    };
    std::fs::create_dir_all(out).map_err(fail)?;
    let probe = out.join(format!(".loadgate-write-check-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(fail)?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Writes summary.md, junit.xml and results.json into `out`.
pub fn write_reports(results: &Results, out: &Path) -> Result<report::Written> {
    report::write_all(results, out).map_err(|e| {
        Error::infra(
            format!("cannot write the reports to {}: {e}", out.display()),
            "check that --out names a writable directory".to_string(),
        )
    })
}

/// A part busier than this fraction of a core was saturated.
const SATURATED_CPU: f64 = 0.9;
/// Arrivals sent later than this (p99) overstate the open model's latencies.
const SATURATED_LAG_MS: f64 = 5.0;

/// The generator's own figures, and a warning when they say its results overstate latency.
fn generator(execution: &Execution) -> (Generator, Option<String>) {
    let agg = &execution.aggregate;
    let cpu_max = execution.cpu.iter().copied().reduce(f64::max);
    let lag = (!agg.sched_lag.is_empty()).then(|| Percentiles::of(&agg.sched_lag));
    let warning = if let Some(cpu) = cpu_max.filter(|c| *c >= SATURATED_CPU) {
        Some(format!(
            "the load generator was saturated (a busiest part used {:.0}% of a core): results \
             from a saturated client overstate latency; spread the load over more threads or workers",
            cpu * 100.0
        ))
    } else {
        lag.as_ref().filter(|l| l.p99 > SATURATED_LAG_MS).map(|l| {
            format!(
                "the load generator fell behind its schedule (p99 {:.1} ms late): results from a \
                 saturated client overstate latency; spread the load over more threads or workers",
                l.p99
            )
        })
    };
    let generator = Generator {
        parts: execution.parts as u32,
        cpu_max: cpu_max.map(|c| (c * 1000.0).round() / 1000.0),
        sched_lag_ms: lag,
    };
    (generator, warning)
}

/// Every request failed to connect: a broken environment, not a slow target.
fn unreachable(agg: &Aggregate) -> bool {
    agg.total.requests > 0 && agg.total.error_kind(ErrorKind::Connect) == agg.total.requests
}

/// Sortable and unique enough for one scenario: `20261126T181400Z-3fa9`.
pub fn new_run_id() -> String {
    let stamp = humantime::format_rfc3339_seconds(SystemTime::now())
        .to_string()
        .replace(['-', ':'], "");
    format!("{stamp}-{:04x}", fastrand::u16(..))
}

struct RunObserver<'a> {
    progress: Progress,
    thresholds: &'a [ThresholdPlan],
    baseline: threshold::Baseline<'a>,
}

impl Observer for RunObserver<'_> {
    fn progress(
        &mut self,
        agg: &Aggregate,
        elapsed: Duration,
        planned: Duration,
    ) -> Option<String> {
        self.progress.update(&Snapshot::of(agg, elapsed), planned);
        let breach = threshold::breached_aborts(self.thresholds, agg, elapsed, self.baseline)?;
        let actual = breach
            .actual
            .map_or_else(|| "no data".to_string(), |a| format!("{a:.3}"));
        Some(format!(
            "aborted after {:.1}s: abort threshold `{}` breached (actual {} {})",
            elapsed.as_secs_f64(),
            breach.expr,
            actual,
            breach.unit
        ))
    }
}
