//! `main` -> `app::main` -> exit code: the one place that maps errors to codes.

use std::ffi::OsString;
use std::io::Write;

use clap::Parser;

use crate::baseline::Tracking;
use crate::cli::{
    Cli, Command, ExecutorKind, ImageArgs, ImageCommand, RunArgs, StackArgs, StackCommand,
};
use crate::error::{EXIT_INVALID_INPUT, EXIT_PASSED};
use crate::executor::{ops, timing_from_env, Executor, Fargate, Local};
use crate::run::RunConfig;
use crate::{
    ci, cloud, commands, cost, demo, history, report, run, scenario, worker, Error, Result,
};

/// Where the AWS SDK reads the region from, in its order.
const AWS_REGION_VARS: [&str; 2] = ["AWS_REGION", "AWS_DEFAULT_REGION"];

/// Parses `args` (with the program name first), runs the command, and returns the exit code.
pub fn main(args: impl IntoIterator<Item = OsString>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                EXIT_INVALID_INPUT
            } else {
                EXIT_PASSED
            };
        }
    };
    match dispatch(cli.command) {
        Ok(code) => code,
        Err(e) => {
            let mut err = std::io::stderr().lock();
            match &e {
                Error::Input(message) | Error::Cancelled(message) => {
                    let _ = writeln!(err, "{}", message.trim_end());
                }
                Error::Infrastructure { message, help } => {
                    let _ = writeln!(err, "error: {message}");
                    if let Some(help) = help {
                        let _ = writeln!(err, "help: {help}");
                    }
                }
            }
            e.exit_code()
        }
    }
}

fn dispatch(command: Command) -> Result<i32> {
    match command {
        Command::Run(args) => run_command(args),
        Command::Validate {
            scenario,
            region,
            regions,
        } => validate(&scenario, region, regions),
        Command::Schema => {
            let _ = std::io::stdout().write_all(scenario::json_schema().as_bytes());
            Ok(EXIT_PASSED)
        }
        Command::Report { results, out } => {
            let results = report::read_results(&results)?;
            run::write_reports(&results, &out)?;
            let _ = std::io::stdout().write_all(report::markdown(&results).as_bytes());
            Ok(EXIT_PASSED)
        }
        Command::Demo { out, hold_for } => demo::run(&out, hold_for.as_deref()),
        Command::Compare { base, new, noise } => commands::compare(&base, &new, &noise),
        Command::History { scenario, history } => {
            commands::history(history::open(&history)?.as_ref(), scenario.as_deref())
        }
        Command::Stack(args) => stack_command(args),
        Command::Runs(cloud) => ops::runs(&cloud.stack_name, cloud.region.as_deref()),
        Command::Stop { run_id, cloud } => {
            ops::stop(&cloud.stack_name, cloud.region.as_deref(), &run_id)
        }
        Command::Worker => worker::main(),
        Command::Image(args) => image_command(args),
    }
}

/// `loadgate validate`: the plan in words and, for a Fargate scenario, what a run would cost,
/// refused (exit 2) above `fargate.max_cost_usd` as `run` would refuse it. Several regions
/// (`--regions` > `LOADGATE_REGIONS` > `fargate.regions`, as in `run`) are priced each at its own
/// rates, and the budget is checked against their sum.
fn validate(
    scenario: &std::path::Path,
    region: Option<String>,
    regions: Option<crate::regions::RegionsArg>,
) -> Result<i32> {
    let loaded = scenario::load(scenario, &scenario::ProcessEnv)?;
    let mut out = std::io::stdout().lock();
    for w in &loaded.warnings {
        let _ = writeln!(std::io::stderr(), "warning: {w}");
    }
    let mut plan = loaded.plan;
    let regions = regions.map_or_else(|| plan.fargate.regions.clone(), |r| r.0);
    if !regions.is_empty() {
        // As `run` does: the regions' workers replace the scenario's `workers`.
        plan.workers = regions.iter().map(|(_, n)| n).sum();
    }
    let plan = &plan;
    let parts = std::thread::available_parallelism().map_or(1, |n| n.get());
    let _ = write!(out, "{}", scenario::describe(plan, parts));
    let region = region
        .or_else(|| history::first_set(&scenario::ProcessEnv, &AWS_REGION_VARS))
        .unwrap_or_default();
    // The worker image's architecture is chosen at run time; x86_64 is the default.
    let arch = cost::CpuArch::X86_64;
    let estimate = if !regions.is_empty() {
        let regions = crate::regions::home_first(regions, &region);
        let (total, each) = cost::estimate_regions(plan, &regions, arch);
        let _ = write!(
            out,
            "{}",
            scenario::regions_words(plan, &regions, &each, &total)
        );
        total
    } else if scenario::wants_cost(plan) {
        let estimate = cost::estimate(plan, plan.workers, &region, arch, plan.fargate.spot);
        let _ = write!(out, "{}", scenario::cost_words(plan, &estimate));
        estimate
    } else {
        return Ok(EXIT_PASSED);
    };
    // What `run --executor fargate` would refuse is invalid here too.
    cost::check_budget(plan, &estimate)?;
    Ok(EXIT_PASSED)
}

fn image_command(args: ImageArgs) -> Result<i32> {
    let ImageCommand::Push(push) = args.command;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::infra(format!("cannot start the async runtime: {e}"), None))?;
    let pushed = runtime.block_on(cloud::image::push_command(&push))?;
    let what = if pushed.report.already_present {
        "already present, nothing uploaded".to_string()
    } else {
        format!(
            "{} blob(s), {:.1} MiB uploaded",
            pushed.report.blobs_uploaded,
            pushed.report.bytes_uploaded as f64 / (1024.0 * 1024.0)
        )
    };
    let _ = writeln!(
        std::io::stderr(),
        "image: {} ({}) in {:.1}s: {what}",
        pushed.image.uri,
        pushed.image.arch.oci(),
        pushed.elapsed.as_secs_f64()
    );
    let _ = writeln!(std::io::stdout(), "{}", pushed.image.uri);
    Ok(EXIT_PASSED)
}

fn stack_command(args: StackArgs) -> Result<i32> {
    // Only a policy covers several regions; a stack is in one.
    if args.region.len() > 1 && !matches!(args.command, StackCommand::Policy(_)) {
        return Err(Error::input(format!(
            "--region is given {} times: only `stack policy` covers several regions; the other \
             stack commands act on one stack, in one region",
            args.region.len()
        )));
    }
    let region = args.region.first().cloned();
    match args.command {
        StackCommand::Deploy(deploy) => {
            let spec = cloud::stack::StackSpec {
                name: args.stack_name,
                params: deploy.params,
                wait: deploy.wait.wait_timeout,
            };
            // Before any AWS call: a bad --param is exit 2 without credentials.
            cloud::stack::template::stack_parameters(&spec.name, &spec.params)?;
            let (outputs, action) = block_on_aws(async {
                let aws = cloud::aws::Aws::load(region.as_deref()).await?;
                cloud::stack::deploy(&aws, &spec).await
            })?;
            let done = match action {
                cloud::stack::Action::Created => "created".to_string(),
                cloud::stack::Action::Updated => "updated".to_string(),
                cloud::stack::Action::Unchanged => "up to date".to_string(),
                cloud::stack::Action::Kept(why) => format!("left as it is ({why})"),
            };
            let _ = writeln!(
                std::io::stdout(),
                "stack {} {done}: cluster {}, bucket {}, repository {}",
                outputs.stack_name,
                outputs.cluster_name,
                outputs.bucket,
                outputs.repository_uri
            );
            Ok(EXIT_PASSED)
        }
        StackCommand::Status => {
            cloud::validate_stack_name(&args.stack_name)?;
            let report = block_on_aws(async {
                let aws = cloud::aws::Aws::load(region.as_deref()).await?;
                cloud::stack::status(&aws, &args.stack_name).await
            })?;
            let mut out = std::io::stdout().lock();
            match report {
                Some(report) => {
                    let _ = write!(out, "{report}");
                }
                None => {
                    let _ = writeln!(
                        out,
                        "stack {} does not exist (`loadgate stack deploy` creates it; so does the \
                         first `loadgate run --executor fargate`)",
                        args.stack_name
                    );
                }
            }
            Ok(EXIT_PASSED)
        }
        StackCommand::Destroy(destroy) => {
            cloud::validate_stack_name(&args.stack_name)?;
            if !destroy.yes {
                confirm_destroy(&args.stack_name)?;
            }
            let destroyed = block_on_aws(async {
                let aws = cloud::aws::Aws::load(region.as_deref()).await?;
                cloud::stack::destroy(&aws, &args.stack_name, destroy.wait.wait_timeout).await
            })?;
            let text = match destroyed {
                cloud::stack::Destroyed::Absent => {
                    format!(
                        "stack {} does not exist: nothing to destroy",
                        args.stack_name
                    )
                }
                cloud::stack::Destroyed::Deleted { objects, images } => format!(
                    "stack {} deleted ({objects} object(s) and {images} image(s) removed first)",
                    args.stack_name
                ),
            };
            let _ = writeln!(std::io::stdout(), "{text}");
            Ok(EXIT_PASSED)
        }
        StackCommand::Policy(policy) => {
            let regions: Vec<Option<&str>> = if args.region.is_empty() {
                vec![None]
            } else {
                args.region.iter().map(|r| Some(r.as_str())).collect()
            };
            let scopes = regions
                .into_iter()
                .map(|r| {
                    cloud::stack::policy::Scope::new(&args.stack_name, r, policy.account.as_deref())
                })
                .collect::<Result<Vec<_>>>()?;
            let document = if policy.kind.deploy {
                let _ = writeln!(
                    std::io::stderr(),
                    "note: this policy creates IAM roles and writes their policies: grant it to \
                     the one-time deployment, and `loadgate stack policy --run` to everyday runs"
                );
                cloud::stack::policy_regions::merged(&scopes, cloud::stack::policy::deploy_policy)
            } else {
                cloud::stack::policy_regions::merged(&scopes, cloud::stack::policy::run_policy)
            };
            let _ = std::io::stdout().write_all(cloud::stack::policy::render(&document).as_bytes());
            Ok(EXIT_PASSED)
        }
    }
}

/// The stack commands' AWS calls run on one current-thread runtime: they are sequential.
fn block_on_aws<T>(future: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::infra(format!("cannot start the async runtime: {e}"), None))?
        .block_on(future)
}

/// `stack destroy` deletes run files and history: a person types the stack name to confirm, and a
/// script must say `--yes`.
fn confirm_destroy(stack: &str) -> Result<()> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return Err(Error::input(format!(
            "`loadgate stack destroy` deletes stack {stack} with every run file, result history \
             and worker image in it; stdin is not a terminal, so pass --yes to confirm"
        )));
    }
    eprint!(
        "This deletes stack {stack} with every run file, result history and worker image in it.\n\
         Type the stack name to confirm: "
    );
    let mut answer = String::new();
    let _ = std::io::stdin().read_line(&mut answer);
    if answer.trim() == stack {
        Ok(())
    } else {
        Err(Error::input("not confirmed: nothing was deleted"))
    }
}

fn run_command(args: RunArgs) -> Result<i32> {
    let loaded = scenario::load(&args.scenario, &scenario::ProcessEnv)?;
    ci::mask_secrets(&loaded.plan.secrets);
    if args.executor == ExecutorKind::Fargate {
        cloud::validate_stack_name(&args.fargate.stack_name)?;
    }
    // Before any load: a --baseline PATH that cannot be read is invalid input (exit 2).
    let tracking = match fargate_history(&args) {
        Some(store) => Tracking::prepare_with(
            store,
            &args.history,
            &loaded.plan.name,
            &scenario::ProcessEnv,
        )?,
        None => Tracking::prepare(&args.history, &loaded.plan.name, &scenario::ProcessEnv)?,
    };
    // Several regions: the flag (or LOADGATE_REGIONS) beats the scenario's `fargate.regions`.
    let regions = match &args.fargate.regions {
        Some(r) => r.0.clone(),
        None => loaded.plan.fargate.regions.clone(),
    };
    if args.executor == ExecutorKind::Fargate
        && !regions.is_empty()
        && args.fargate.workers.is_some()
    {
        return Err(Error::input(
            "--workers (LOADGATE_WORKERS) and regions (--regions, LOADGATE_REGIONS or \
             fargate.regions) both say how many workers to run: give the workers per region only",
        ));
    }
    // Before any load too: an unwritable --out would lose the whole run's reports at its end.
    run::check_out(&args.out)?;
    let fargate_stack = (args.executor == ExecutorKind::Fargate)
        .then(|| (args.fargate.stack_name.clone(), args.fargate.region.clone()));
    let executor: Box<dyn Executor> = match args.executor {
        ExecutorKind::Local => Box::new(Local {
            threads: args.threads.map(|t| t as usize),
        }),
        ExecutorKind::Fargate => Box::new(Fargate {
            stack_name: args.fargate.stack_name,
            region: args.fargate.region,
            image: args.fargate.image,
            workers: if regions.is_empty() {
                args.fargate.workers.unwrap_or(loaded.plan.workers)
            } else {
                regions.iter().map(|(_, n)| n).sum()
            },
            timing: timing_from_env(),
            regions,
        }),
    };
    let config = RunConfig {
        out: args.out,
        print_summary: !args.quiet,
        progress: true,
    };
    let outcome = run::run_tracked(
        &loaded.plan,
        loaded.warnings,
        executor.as_ref(),
        &config,
        Some(&tracking),
    )?;
    if let (Some((stack, region)), Some(_)) = (&fargate_stack, &outcome.results.distributed) {
        upload_report(stack, region.as_deref(), &outcome);
    }
    ci::publish(&ci::Publish {
        plan: &loaded.plan,
        results: &outcome.results,
        written: &outcome.written,
        exit_code: outcome.exit_code,
        comment: !args.no_comment,
    });
    Ok(outcome.exit_code)
}

/// A Fargate run keeps its history in the stack's bucket (under `history/`, which the bucket keeps
/// long after `runs/` expire), unless `--history` names a place. Before the stack exists there is
/// no history to compare with, and the first run records locally.
fn fargate_history(args: &RunArgs) -> Option<Box<dyn history::HistoryStore>> {
    if args.executor != ExecutorKind::Fargate
        || args.history.history != std::path::Path::new(history::DEFAULT_DIR)
    {
        return None;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    let found = runtime.block_on(async {
        let aws = cloud::aws::Aws::load(args.fargate.region.as_deref()).await?;
        let outputs = cloud::outputs::describe(&aws, &args.fargate.stack_name).await?;
        history::s3_history(&aws, &outputs.bucket)
    });
    match found {
        Ok(store) => Some(Box::new(store)),
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "note: history stays in {} for this run: {e}",
                history::DEFAULT_DIR
            );
            None
        }
    }
}

/// A Fargate run's merged reports also go to `runs/<run_id>/report/` in the stack's bucket, beside
/// the run's protocol files, so they outlive the CI job's artifacts. Best effort: the reports are
/// already on disk, and a failed upload only warns.
fn upload_report(stack_name: &str, region: Option<&str>, outcome: &run::Outcome) {
    let w = &outcome.written;
    let files = [
        (&w.summary, "text/markdown; charset=utf-8"),
        (&w.junit, "application/xml"),
        (&w.json, "application/json"),
        (&w.html, "text/html; charset=utf-8"),
    ];
    let upload = async {
        let aws = cloud::aws::Aws::load(region).await?;
        let outputs = cloud::outputs::describe(&aws, stack_name).await?;
        let store = cloud::run::store::Store::new(&aws, &outputs.bucket);
        let run = crate::protocol::RunLocation::new(&outputs.bucket, &outcome.results.run_id);
        for (path, content_type) in files {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("report");
            let body = std::fs::read(path)
                .map_err(|e| Error::infra(format!("cannot read {}: {e}", path.display()), None))?;
            store
                .put_typed(&run.report(name), body, content_type)
                .await?;
        }
        Ok::<_, Error>(format!("s3://{}/{}", outputs.bucket, run.report("")))
    };
    let done = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::infra(format!("cannot start the async runtime: {e}"), None))
        .and_then(|rt| rt.block_on(upload));
    let _ = match done {
        Ok(place) => writeln!(std::io::stderr(), "reports also in {place}"),
        Err(e) => writeln!(
            std::io::stderr(),
            "warning: the reports were not copied to the bucket: {e}"
        ),
    };
}
