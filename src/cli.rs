//! Command-line definitions. Every flag that CI sets also reads a `LOADGATE_*` variable.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "loadgate",
    version,
    about = "Load testing as a gate in CI: run a scenario, check percentile thresholds, report on the pull request",
    after_help = "Exit codes: 0 passed, 1 a threshold failed, 2 invalid input, 3 infrastructure or runtime failure, 130 cancelled."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario and check its thresholds
    Run(RunArgs),
    /// Parse and check a scenario, and print the resolved plan
    Validate {
        /// The scenario file
        #[arg(default_value = "loadgate.yaml", env = "LOADGATE_SCENARIO")]
        scenario: PathBuf,
    },
    /// Print the JSON Schema of the scenario file
    Schema,
    /// Render the reports again from a saved results.json
    Report {
        /// A results.json written by `loadgate run`
        results: PathBuf,
        /// Where to write summary.md, junit.xml and results.json
        #[arg(long, default_value = "loadgate-report", env = "LOADGATE_OUT")]
        out: PathBuf,
    },
    /// Start a built-in target on 127.0.0.1 and run the demo scenario against it
    Demo {
        /// Where to write the reports
        #[arg(long, default_value = "loadgate-report", env = "LOADGATE_OUT")]
        out: PathBuf,
        /// Length of the demo's hold phase, e.g. 5s
        #[arg(long, value_name = "DURATION")]
        hold_for: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The scenario file
    #[arg(default_value = "loadgate.yaml", env = "LOADGATE_SCENARIO")]
    pub scenario: PathBuf,
    /// Where the load runs
    #[arg(long, value_enum, default_value_t = ExecutorKind::Local, env = "LOADGATE_EXECUTOR")]
    pub executor: ExecutorKind,
    /// Where to write summary.md, junit.xml and results.json
    #[arg(long, default_value = "loadgate-report", env = "LOADGATE_OUT")]
    pub out: PathBuf,
    /// Engine threads of the local executor (default: one per core)
    #[arg(long, env = "LOADGATE_THREADS", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: Option<u32>,
    /// Do not print the Markdown summary on stdout at the end
    #[arg(long, short, env = "LOADGATE_QUIET")]
    pub quiet: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExecutorKind {
    /// On this machine, one engine thread per core
    Local,
}
