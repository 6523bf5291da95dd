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
        /// AWS region whose Fargate rates price the estimate; with several regions, the home
        /// region (its workers take the first shares) [default: AWS_REGION, else us-east-1]
        #[arg(long, value_name = "REGION")]
        region: Option<String>,
        /// Estimate a run from several regions, e.g. `us-east-1=6,eu-west-1=4` (workers per
        /// region), each at its own rates; beats the scenario's `fargate.regions`, as in `run`
        #[arg(long, env = "LOADGATE_REGIONS", value_name = "REGION=N,...")]
        regions: Option<crate::regions::RegionsArg>,
    },
    /// Print the JSON Schema of the scenario file
    Schema,
    /// Render the reports again from a saved results.json
    Report {
        /// A results.json written by `loadgate run`
        results: PathBuf,
        /// Where to write summary.md, junit.xml, results.json and report.html
        #[arg(long, default_value = "loadgate-report", env = "LOADGATE_OUT")]
        out: PathBuf,
    },
    /// Compare two results.json figure by figure, as the summary does against a baseline
    Compare {
        /// The baseline's results.json
        base: PathBuf,
        /// The new run's results.json
        new: PathBuf,
        #[command(flatten)]
        noise: NoiseArgs,
    },
    /// List past runs and their headline figures
    History {
        /// Only this scenario (its `name`)
        scenario: Option<String>,
        /// Where past runs are kept: a directory, or s3://BUCKET[/PREFIX] (PREFIX defaults to
        /// `history`, the stack bucket's layout)
        #[arg(long, default_value = crate::history::DEFAULT_DIR, env = "LOADGATE_HISTORY",
              value_name = "DIR|s3://BUCKET[/PREFIX]")]
        history: PathBuf,
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
    /// The AWS stack of distributed runs: deploy, status, destroy, IAM policies
    Stack(StackArgs),
    /// List the stack's active distributed runs and their tasks
    Runs(CloudArgs),
    /// Stop a distributed run: abort its workers and stop its tasks
    Stop {
        /// The run id (`loadgate runs` lists them)
        run_id: String,
        #[command(flatten)]
        cloud: CloudArgs,
    },
    /// The entry point of a Fargate worker task (started by `run --executor fargate`)
    #[command(hide = true)]
    Worker,
    /// The worker image: push this (static Linux) binary as an image, without Docker
    Image(ImageArgs),
}

/// Which stack, in which region.
#[derive(Debug, Args)]
pub struct CloudArgs {
    /// Name of the CloudFormation stack
    #[arg(long, default_value = crate::cloud::DEFAULT_STACK_NAME, env = "LOADGATE_STACK_NAME",
          value_name = "NAME")]
    pub stack_name: String,
    /// AWS region [default: the standard AWS configuration's]
    #[arg(long, env = "LOADGATE_REGION", value_name = "REGION")]
    pub region: Option<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The scenario file
    #[arg(default_value = "loadgate.yaml", env = "LOADGATE_SCENARIO")]
    pub scenario: PathBuf,
    /// Where the load runs
    #[arg(long, value_enum, default_value_t = ExecutorKind::Local, env = "LOADGATE_EXECUTOR")]
    pub executor: ExecutorKind,
    /// Where to write summary.md, junit.xml, results.json and report.html
    #[arg(long, default_value = "loadgate-report", env = "LOADGATE_OUT")]
    pub out: PathBuf,
    /// Engine threads of the local executor (default: one per core)
    #[arg(long, env = "LOADGATE_THREADS", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: Option<u32>,
    /// Do not print the Markdown summary on stdout at the end
    #[arg(long, short, env = "LOADGATE_QUIET")]
    pub quiet: bool,
    /// Do not post or update the pull-request comment (GitHub) or merge-request note (GitLab)
    #[arg(long, env = "LOADGATE_NO_COMMENT")]
    pub no_comment: bool,
    #[command(flatten)]
    pub history: HistoryArgs,
    #[command(flatten)]
    pub fargate: FargateArgs,
}

/// Where a distributed run goes (`--executor fargate`).
#[derive(Debug, Args)]
pub struct FargateArgs {
    /// Fargate tasks of a distributed run; the load is divided among them [default: the
    /// scenario's `workers`]
    #[arg(long, env = "LOADGATE_WORKERS", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub workers: Option<u32>,
    /// Name of the CloudFormation stack of distributed runs
    #[arg(long, default_value = crate::cloud::DEFAULT_STACK_NAME, env = "LOADGATE_STACK_NAME",
          value_name = "NAME")]
    pub stack_name: String,
    /// AWS region of the stack [default: the standard AWS configuration's]
    #[arg(long, env = "LOADGATE_REGION", value_name = "REGION")]
    pub region: Option<String>,
    /// The workers' container image
    #[arg(long, env = "LOADGATE_IMAGE", value_name = "URI")]
    pub image: Option<String>,
    /// Load from several regions, e.g. `us-east-1=6,eu-west-1=4` (workers per region); beats
    /// the scenario's `fargate.regions`. History and the run index stay in --region (the home
    /// region) [default: the scenario's `fargate.regions`, else one region]
    #[arg(long, env = "LOADGATE_REGIONS", value_name = "REGION=N,...")]
    pub regions: Option<crate::regions::RegionsArg>,
}

/// Run history and the baseline comparison (see src/baseline.rs for how a baseline is chosen).
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The run to compare with: auto (newest run on the target branch), none, or a results.json
    #[arg(
        long,
        default_value = "auto",
        env = "LOADGATE_BASELINE",
        value_name = "auto|none|PATH"
    )]
    pub baseline: crate::baseline::BaselineArg,
    /// The branch compared against outside a pull request [default: main]
    #[arg(long, env = "LOADGATE_BASELINE_BRANCH", value_name = "NAME")]
    pub baseline_branch: Option<String>,
    /// Where past runs are kept: a directory, or s3://BUCKET[/PREFIX] (PREFIX defaults to
    /// `history`, the stack bucket's layout, so local runs share history with Fargate runs)
    #[arg(long, default_value = crate::history::DEFAULT_DIR, env = "LOADGATE_HISTORY",
          value_name = "DIR|s3://BUCKET[/PREFIX]")]
    pub history: PathBuf,
    /// The branch this run is recorded under, when CI does not say
    #[arg(long, env = "LOADGATE_BRANCH", value_name = "NAME")]
    pub branch: Option<String>,
    #[command(flatten)]
    pub noise: NoiseArgs,
}

/// A change counts only beyond both floors.
#[derive(Debug, Args)]
pub struct NoiseArgs {
    /// Relative noise floor of comparisons, in percent of the baseline's value
    #[arg(long, default_value_t = 10.0, env = "LOADGATE_NOISE_PCT", value_name = "PCT",
          value_parser = non_negative)]
    pub noise_pct: f64,
    /// Absolute noise floor of latency comparisons, in ms
    #[arg(long, default_value_t = 5.0, env = "LOADGATE_NOISE_MS", value_name = "MS",
          value_parser = non_negative)]
    pub noise_ms: f64,
}

fn non_negative(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("`{s}` is not a number of at least 0")),
    }
}

/// `loadgate stack ...`: the CloudFormation stack of distributed runs (DESIGN.md, "The stack").
#[derive(Debug, Args)]
pub struct StackArgs {
    /// Name of the CloudFormation stack
    #[arg(long, global = true, default_value = crate::cloud::DEFAULT_STACK_NAME,
          env = "LOADGATE_STACK_NAME", value_name = "NAME", display_order = 100)]
    pub stack_name: String,
    /// AWS region (for `policy`: the region the policy is limited to, by default any; given
    /// several times, the policy covers each of them, for runs from several regions)
    #[arg(long, global = true, value_name = "REGION", display_order = 101,
          action = clap::ArgAction::Append)]
    pub region: Vec<String>,
    #[command(subcommand)]
    pub command: StackCommand,
}

#[derive(Debug, Subcommand)]
pub enum StackCommand {
    /// Create the stack, or update it to this loadgate's template and the given parameters
    Deploy(DeployArgs),
    /// Show the stack's state, outputs, version, and the tasks running in it
    Status,
    /// Empty the stack's bucket and image repository, then delete the stack
    Destroy(DestroyArgs),
    /// Print the IAM policy to deploy the stack (--deploy) or to run against it (--run)
    Policy(PolicyArgs),
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// A template parameter, e.g. SubnetIds=subnet-1,subnet-2 (repeatable); parameters not given
    /// keep the stack's current values
    #[arg(long = "param", value_name = "KEY=VALUE", value_parser = crate::cloud::stack::template::parse_param)]
    pub params: Vec<(String, String)>,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// Do not ask for confirmation (required when stdin is not a terminal)
    #[arg(long, short)]
    pub yes: bool,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// How long to wait for CloudFormation, e.g. 45m
    #[arg(long, default_value = "30m", env = "LOADGATE_WAIT_TIMEOUT", value_name = "DURATION",
          value_parser = wait_timeout)]
    pub wait_timeout: std::time::Duration,
}

fn wait_timeout(s: &str) -> Result<std::time::Duration, String> {
    match humantime::parse_duration(s.trim()) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err("the wait timeout must be more than 0".to_string()),
        Err(e) => Err(format!("`{s}` is not a duration such as 30m: {e}")),
    }
}

#[derive(Debug, Args)]
pub struct PolicyArgs {
    #[command(flatten)]
    pub kind: PolicyKind,
    /// AWS account id the policy is limited to [default: any]
    #[arg(long, value_name = "ID")]
    pub account: Option<String>,
}

/// Exactly one of the two policies.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct PolicyKind {
    /// What the one-time deployment needs (create, update, delete the stack). Powerful: it
    /// creates IAM roles and writes their policies, so grant it to the deployment only
    #[arg(long)]
    pub deploy: bool,
    /// The narrow policy everyday CI runs need (start workers, exchange the run's files)
    #[arg(long)]
    pub run: bool,
}

/// `loadgate image ...` (DESIGN.md, "The worker image").
#[derive(Debug, Args)]
pub struct ImageArgs {
    #[command(subcommand)]
    pub command: ImageCommand,
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Push this binary with a CA bundle as the worker image, tagged <version>-<digest>, to the
    /// stack's ECR repository (or --image); nothing is uploaded when the tag exists
    Push(ImagePushArgs),
}

#[derive(Debug, Args)]
pub struct ImagePushArgs {
    /// Push to this repository instead of the stack's: REGISTRY/REPOSITORY. Credentials come from
    /// LOADGATE_REGISTRY_USER and LOADGATE_REGISTRY_PASSWORD (for ECR, from AWS when unset)
    #[arg(long, value_name = "REGISTRY/REPOSITORY")]
    pub image: Option<String>,
    /// Name of the CloudFormation stack whose repository receives the image
    #[arg(long, default_value = crate::cloud::DEFAULT_STACK_NAME, env = "LOADGATE_STACK_NAME",
          value_name = "NAME")]
    pub stack_name: String,
    /// AWS region
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Push this binary instead of the running one (tests)
    #[arg(long, hide = true, value_name = "PATH")]
    pub binary: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExecutorKind {
    /// On this machine, one engine thread per core
    Local,
    /// On Fargate tasks of the stack, the load divided among --workers
    Fargate,
}
