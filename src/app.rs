//! `main` -> `app::main` -> exit code: the one place that maps errors to codes.

use std::ffi::OsString;
use std::io::Write;

use clap::Parser;

use crate::baseline::Tracking;
use crate::cli::{
    Cli, Command, ExecutorKind, ImageArgs, ImageCommand, RunArgs, StackArgs, StackCommand,
};
use crate::error::{EXIT_INVALID_INPUT, EXIT_PASSED};
use crate::executor::Local;
use crate::run::RunConfig;
use crate::{ci, cloud, commands, demo, history, report, run, scenario, Error, Result};

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
                Error::Input(message) => {
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
        Command::Validate { scenario } => {
            let loaded = scenario::load(&scenario, &scenario::ProcessEnv)?;
            let mut out = std::io::stdout().lock();
            for w in &loaded.warnings {
                let _ = writeln!(std::io::stderr(), "warning: {w}");
            }
            let parts = std::thread::available_parallelism().map_or(1, |n| n.get());
            let _ = write!(out, "{}", scenario::describe(&loaded.plan, parts));
            Ok(EXIT_PASSED)
        }
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
            commands::history(&history::LocalStore::new(history), scenario.as_deref())
        }
        Command::Stack(args) => stack_command(args),
        Command::Image(args) => image_command(args),
    }
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
    match args.command {
        StackCommand::Policy(policy) => {
            let scope = cloud::policy::Scope::new(
                &args.stack_name,
                args.region.as_deref(),
                policy.account.as_deref(),
            )?;
            let document = if policy.kind.deploy {
                let _ = writeln!(
                    std::io::stderr(),
                    "note: this policy creates IAM roles and writes their policies: grant it to \
                     the one-time deployment, and `loadgate stack policy --run` to everyday runs"
                );
                cloud::policy::deploy_policy(&scope)
            } else {
                cloud::policy::run_policy(&scope)
            };
            let _ = std::io::stdout().write_all(cloud::policy::render(&document).as_bytes());
            Ok(EXIT_PASSED)
        }
    }
}

fn run_command(args: RunArgs) -> Result<i32> {
    let loaded = scenario::load(&args.scenario, &scenario::ProcessEnv)?;
    ci::mask_secrets(&loaded.plan.secrets);
    let executor = match args.executor {
        ExecutorKind::Local => Local {
            threads: args.threads.map(|t| t as usize),
        },
    };
    let config = RunConfig {
        out: args.out,
        print_summary: !args.quiet,
        progress: true,
    };
    // Before any load: a --baseline PATH that cannot be read is invalid input (exit 2).
    let tracking = Tracking::prepare(&args.history, &loaded.plan.name, &scenario::ProcessEnv)?;
    let outcome = run::run_tracked(
        &loaded.plan,
        loaded.warnings,
        &executor,
        &config,
        Some(&tracking),
    )?;
    ci::publish(&ci::Publish {
        plan: &loaded.plan,
        results: &outcome.results,
        written: &outcome.written,
        exit_code: outcome.exit_code,
        comment: !args.no_comment,
    });
    Ok(outcome.exit_code)
}
