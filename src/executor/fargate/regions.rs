//! A run from several regions (`--regions`, `fargate.regions`). Each region has its own stack
//! (same name, same template), image, task definition, bucket and SSM parameters, because a
//! region's task role can read only its own stack's bucket. The controller prepares every region
//! in parallel and refuses the run, naming the region, before any task starts anywhere; it then
//! writes the same plan.json, one start instant (the home region's S3 clock plus a margin), the
//! heartbeat and abort.json to every region's bucket, so the workers are those of a one-region
//! run. Results are merged exactly over all workers and per region. The one-region path
//! (`fargate.rs`) is untouched.

mod drive;
mod index;
mod merge;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::guard::TaskGuard;
use super::Fargate;
use crate::cloud::aws::Aws;
use crate::cloud::image::{self, CpuArch};
use crate::cloud::outputs::StackOutputs;
use crate::cloud::run::quota::{self, QuotaCheck};
use crate::cloud::run::store::Store;
use crate::cloud::run::{secrets, tasks};
use crate::cloud::stack::{self, StackSpec};
use crate::cost::{self, CostEstimate};
use crate::executor::{Execution, Observer};
use crate::plan::Plan;
use crate::protocol::{Abort, Heartbeat, RunLocation, SecretRef, VERSION};
use crate::{Error, Result};

/// Added to the start delay: start.json goes to every region's bucket after `start_at` is taken
/// on the home region's clock, and a cross-region PUT takes a fraction of a second.
pub(super) const REGION_MARGIN: Duration = Duration::from_secs(2);

/// One region of the run, once prepared.
#[derive(Clone)]
pub(super) struct Site {
    pub region: String,
    pub workers: u32,
    pub outputs: StackOutputs,
    pub task_definition: String,
    pub ecs: aws_sdk_ecs::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub store: Store,
    pub loc: RunLocation,
    /// Stack, image, quota and task definition.
    pub prepared_in: Duration,
}

impl Site {
    async fn heartbeat(&self) -> Result<()> {
        let beat = Heartbeat {
            version: VERSION,
            at_ms: self.store.clock().now_ms(),
        };
        self.store.put_json(&self.loc.heartbeat(), &beat).await
    }

    async fn abort(&self, reason: &str) {
        let doc = Abort {
            version: VERSION,
            reason: reason.to_string(),
        };
        if let Err(e) = self.store.put_json(&self.loc.abort(), &doc).await {
            eprintln!("warning: cannot write abort.json in {}: {e}", self.region);
        }
    }
}

/// Runs `f` on every item at once; the outputs in the items' order (a panicked one is `None`).
pub(super) async fn each<T, F, Fut>(items: Vec<T>, f: F) -> Vec<Option<Fut::Output>>
where
    F: Fn(T) -> Fut,
    Fut: std::future::Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    let n = items.len();
    let mut set = tokio::task::JoinSet::new();
    for (i, item) in items.into_iter().enumerate() {
        let fut = f(item);
        set.spawn(async move { (i, fut.await) });
    }
    let mut out: Vec<Option<Fut::Output>> = (0..n).map(|_| None).collect();
    while let Some(done) = set.join_next().await {
        if let Ok((i, v)) = done {
            out[i] = Some(v);
        }
    }
    out
}

/// Everything the run shares between its phases.
pub(super) struct Run<'a> {
    pub plan: &'a Plan,
    pub fargate: &'a Fargate,
    pub sites: Vec<Site>,
    pub cancelled: &'a AtomicBool,
}

impl Run<'_> {
    pub fn cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    /// The home region's site (`--region`/`AWS_REGION`), else the first: its clock is the run's.
    pub fn home(&self) -> &Site {
        &self.sites[0]
    }

    pub fn total_workers(&self) -> u32 {
        self.sites.iter().map(|s| s.workers).sum()
    }

    pub async fn heartbeat(&self) -> Result<()> {
        let out = each(self.sites.clone(), |s| async move { s.heartbeat().await }).await;
        for (site, r) in self.sites.iter().zip(out) {
            match r {
                Some(Ok(())) => {}
                Some(Err(e)) => return Err(in_region(&site.region, e)),
                None => {
                    return Err(Error::infra(
                        format!("the heartbeat to {} failed", site.region),
                        None,
                    ))
                }
            }
        }
        Ok(())
    }

    /// abort.json to every region (best effort: the tasks are stopped as well).
    pub async fn abort(&self, reason: &str) {
        let reason = reason.to_string();
        each(self.sites.clone(), |s| {
            let reason = reason.clone();
            async move { s.abort(&reason).await }
        })
        .await;
    }
}

/// Prefixes an error with the region it came from.
pub(super) fn in_region(region: &str, e: Error) -> Error {
    match e {
        Error::Infrastructure { message, help } => Error::Infrastructure {
            message: format!("{region}: {message}"),
            help,
        },
        Error::Input(m) => Error::Input(format!("{region}: {m}")),
        other => Error::infra(format!("{region}: {other}"), None),
    }
}

/// The run's regions, home first: the home region is `--region`/`AWS_REGION`, never "the first in
/// the map"; a home region without workers still holds history and the run index.
fn ordered(fargate: &Fargate, home: &str) -> Vec<(String, u32)> {
    crate::regions::home_first(fargate.regions.clone(), home)
}

struct Prepared {
    outputs: StackOutputs,
    task_definition: String,
    aws: Aws,
}

/// Stack, image, quota, task definition of one region. Any failure names the region.
async fn prepare(
    fargate: Fargate,
    region: String,
    workers: u32,
    arch: CpuArch,
    cpu: u32,
    memory: u32,
    spot: bool,
) -> Result<Prepared> {
    let aws = Aws::load(Some(&region)).await?;
    let outputs = stack::ensure(&aws, &StackSpec::new(&fargate.stack_name)).await?;
    quota_fits(&aws.service_quotas(), &region, spot, workers, cpu).await?;
    let image = match &fargate.image {
        Some(uri) => uri.clone(),
        None => image::ensure_pushed(&aws, &outputs).await?.uri,
    };
    let spec = tasks::TaskSpec {
        family: crate::cloud::task_family(&fargate.stack_name),
        image,
        cpu,
        memory,
        arm64: arch == CpuArch::Arm64,
        execution_role_arn: outputs.execution_role_arn.clone(),
        task_role_arn: outputs.task_role_arn.clone(),
        log_group: outputs.log_group.clone(),
        region: region.clone(),
    };
    let task_definition = tasks::ensure_task_definition(&aws.ecs(), &spec).await?;
    Ok(Prepared {
        outputs,
        task_definition,
        aws,
    })
}

/// The run refused before any launch: every region that cannot be used, with its error.
fn refusal(refused: &[(String, Error)]) -> Error {
    let names: Vec<&str> = refused.iter().map(|(r, _)| r.as_str()).collect();
    let details: Vec<String> = refused
        .iter()
        .map(|(r, e)| {
            let help = match e {
                Error::Infrastructure { help: Some(h), .. } => format!(" (help: {h})"),
                _ => String::new(),
            };
            format!("{r}: {e}{help}")
        })
        .collect();
    Error::infra(
        format!(
            "the run cannot use region(s) {}; no task was started in any region:\n  {}",
            names.join(", "),
            details.join("\n  ")
        ),
        "check that the region is enabled for the account (opt-in regions), that Fargate \
         runs there and that its vCPU quota fits; or leave the region out of --regions"
            .to_string(),
    )
}

/// The region's Fargate vCPU quota fits its workers (an unknown quota is a note, as in a run
/// from one region).
async fn quota_fits(
    quotas: &aws_sdk_servicequotas::Client,
    region: &str,
    spot: bool,
    workers: u32,
    cpu: u32,
) -> Result<()> {
    match quota::check(quotas, spot, workers, cpu).await {
        QuotaCheck::TooSmall { quota, needed } => {
            return Err(Error::infra(
                format!(
                    "{workers} workers of {} vCPU need {needed} vCPU, but the account's Fargate \
                     quota in {region} is {quota} vCPU",
                    f64::from(cpu) / 1024.0
                ),
                format!(
                    "give {region} fewer workers (--regions) or a smaller fargate.cpu, or ask AWS \
                     for a higher quota in {region} (Service Quotas)"
                ),
            ))
        }
        QuotaCheck::Unknown(why) => {
            eprintln!("note: the Fargate vCPU quota in {region} is unknown ({why}); proceeding")
        }
        QuotaCheck::Fits { .. } => {}
    }
    Ok(())
}

pub(super) async fn control(
    fargate: &Fargate,
    plan: &Plan,
    observer: &mut dyn Observer,
    cancelled: &AtomicBool,
) -> Result<Execution> {
    if fargate.image.is_none() && !image::current_binary_is_static() {
        return Err(Error::input(
            "this loadgate binary is not a static Linux build, so it cannot push itself as the \
             worker image: pass --image URI (or LOADGATE_IMAGE), e.g. the published \
             ghcr.io/loadgate/loadgate:<version>, or run the static release binary",
        ));
    }
    let advanced_secrets = secrets::check_sizes(&plan.secrets, std::env::vars())?;
    // The home region: --region, else the SDK's configuration (AWS_REGION).
    let home = Aws::load(fargate.region.as_deref()).await?;
    let home_region = home.region().to_string();
    let regions = ordered(fargate, &home_region);
    let arch = match &fargate.image {
        Some(_) if tasks::host_is_arm64() => CpuArch::Arm64,
        Some(_) => CpuArch::X86_64,
        None => image::current_arch(),
    };
    let (estimate, _) = cost::estimate_regions(plan, &regions, arch);
    cost::check_budget(plan, &estimate)?;

    // Every region in parallel; the run starts nowhere unless every region is ready.
    let started = Instant::now();
    let (cpu, memory, spot) = (plan.fargate.cpu, plan.fargate.memory, plan.fargate.spot);
    let prepared = each(regions.clone(), |(region, n)| {
        let f = fargate.clone();
        async move {
            let t = Instant::now();
            let r = prepare(f, region, n, arch, cpu, memory, spot).await;
            (r, t.elapsed())
        }
    })
    .await;
    let run_id = crate::run::new_run_id();
    let mut sites = Vec::new();
    let mut refused = Vec::new();
    for ((region, n), out) in regions.iter().zip(prepared) {
        match out {
            Some((Ok(p), took)) => {
                eprintln!(
                    "loadgate: {region}: stack, image and task definition ready in {:.1}s",
                    took.as_secs_f64()
                );
                sites.push(Site {
                    region: region.clone(),
                    workers: *n,
                    store: Store::new(&p.aws, &p.outputs.bucket),
                    loc: RunLocation::new(&p.outputs.bucket, &run_id),
                    ecs: p.aws.ecs(),
                    ssm: p.aws.ssm(),
                    outputs: p.outputs,
                    task_definition: p.task_definition,
                    prepared_in: took,
                })
            }
            Some((Err(e), _)) => refused.push((region.clone(), e)),
            None => refused.push((
                region.clone(),
                Error::infra("preparing the region panicked", None),
            )),
        }
    }
    if !refused.is_empty() {
        return Err(refusal(&refused));
    }
    let stack_check = started.elapsed();

    let run = Run {
        plan,
        fargate,
        sites,
        cancelled,
    };
    let mut guards: Vec<TaskGuard> = run
        .sites
        .iter()
        .map(|s| TaskGuard::new(s.ecs.clone(), s.outputs.cluster_name.clone()))
        .collect();
    let index_store = index::home_store(&home, &fargate.stack_name, &run.sites).await;
    if let Some(store) = &index_store {
        index::write(
            store,
            &index::entry(&home_region, &run_id, &run.sites, false),
        )
        .await;
    }
    let mut refs: Vec<SecretRef> = Vec::new();
    let launched = Instant::now();
    let mut out = drive::drive(&run, &mut refs, &mut guards, observer, stack_check).await;
    if let Err(e) = &out {
        run.abort(&format!("the controller failed: {e}")).await;
    }
    // Every task in every region, then the secrets in every region.
    for (site, guard) in run.sites.iter().zip(guards.iter_mut()) {
        for l in guard.stop_all("loadgate run ended").await {
            eprintln!("warning: {}: {l}", site.region);
        }
    }
    let deleted = each(run.sites.clone(), |s| {
        let refs = refs.clone();
        async move { (s.region.clone(), secrets::delete(&s.ssm, &refs).await) }
    })
    .await;
    for (region, left) in deleted.into_iter().flatten() {
        for l in left {
            eprintln!("warning: the run's secrets were not deleted in {region}: {l}");
        }
    }
    if let Some(store) = &index_store {
        index::write(
            store,
            &index::entry(&home_region, &run_id, &run.sites, true),
        )
        .await;
    }
    if let Ok(Execution {
        distributed: Some(d),
        ..
    }) = &mut out
    {
        let elapsed = launched.elapsed().as_secs_f64();
        let actuals: Vec<CostEstimate> = run
            .sites
            .iter()
            .map(|s| {
                let seconds = vec![elapsed; s.workers as usize];
                cost::actual(plan, &s.region, arch, plan.fargate.spot, &seconds)
            })
            .collect();
        for (fig, a) in d.figures.regions.iter_mut().zip(&actuals) {
            fig.cost_usd = Some(a.usd);
        }
        let mut actual = cost::sum_costs(&actuals, &regions);
        actual.assumptions.insert(
            0,
            "each task billed from the controller's launch to its stop (an upper bound)"
                .to_string(),
        );
        d.cost = Some(cost::RunCost {
            estimate,
            actual: Some(actual),
        });
        if !advanced_secrets.is_empty() {
            d.warnings.push(format!(
                "the value of {} is over {} characters, so it was stored as an SSM Advanced-tier \
                 parameter in each of the {} regions: Advanced parameters are billed, unlike \
                 Standard ones",
                advanced_secrets.join(" and "),
                secrets::STANDARD_MAX,
                run.sites.len()
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fargate(regions: &[(&str, u32)]) -> Fargate {
        Fargate {
            stack_name: "loadgate".into(),
            region: None,
            image: Some("x".into()),
            workers: regions.iter().map(|(_, n)| n).sum(),
            timing: crate::protocol::Timing::default(),
            regions: regions.iter().map(|(r, n)| (r.to_string(), *n)).collect(),
        }
    }

    #[tokio::test]
    async fn a_region_whose_quota_is_too_low_is_named_and_the_run_refused_before_any_launch() {
        use aws_sdk_servicequotas::operation::get_service_quota::GetServiceQuotaOutput;
        use aws_sdk_servicequotas::types::ServiceQuota;
        use aws_smithy_mocks::{mock, mock_client, RuleMode};
        let quota = |v: f64| {
            mock!(aws_sdk_servicequotas::Client::get_service_quota).then_output(move || {
                GetServiceQuotaOutput::builder()
                    .quota(ServiceQuota::builder().value(v).build())
                    .build()
            })
        };
        let (low, high) = (quota(8.0), quota(4000.0));
        let eu = mock_client!(aws_sdk_servicequotas, RuleMode::MatchAny, [&low]);
        let us = mock_client!(aws_sdk_servicequotas, RuleMode::MatchAny, [&high]);
        // 6 workers of 2 vCPU: 12 vCPU.
        assert!(quota_fits(&us, "us-east-1", false, 6, 2048).await.is_ok());
        let err = quota_fits(&eu, "eu-west-1", false, 6, 2048)
            .await
            .expect_err("8 vCPU < 12");
        assert_eq!(low.num_calls(), 1);
        let refused = refusal(&[("eu-west-1".to_string(), err)]);
        let text = format!("{refused}");
        assert_eq!(refused.exit_code(), 3, "{text}");
        assert!(text.contains("eu-west-1"), "{text}");
        assert!(text.contains("quota in eu-west-1 is 8 vCPU"), "{text}");
        assert!(text.contains("no task was started in any region"), "{text}");
        assert!(!text.contains("us-east-1"), "{text}");
    }

    #[test]
    fn the_home_region_comes_first_whatever_the_map_s_order() {
        let f = fargate(&[("eu-west-1", 4), ("us-east-1", 6)]);
        let order: Vec<String> = ordered(&f, "us-east-1")
            .into_iter()
            .map(|(r, _)| r)
            .collect();
        assert_eq!(order, ["us-east-1", "eu-west-1"]);
        let order: Vec<String> = ordered(&f, "ap-south-1")
            .into_iter()
            .map(|(r, _)| r)
            .collect();
        assert_eq!(order, ["eu-west-1", "us-east-1"]);
    }
}
