//! A region that fails a run from several regions, end to end: the binary talks to moto through
//! the proxy (tests/it/proxy.rs), which answers for one region as AWS does when that region
//! cannot be used, by the region each request is signed for. Whatever fails, the failing region
//! is named, and no task is left running in any region (none launched when the failure comes
//! before the launch).

use loadgate::target::Route;

use crate::fake_fargate::{self, task_statuses, FAST};
use crate::fargate_regions::{fargates, routes, scenario, secrets_left, setup, EU, SECRET};
use crate::harness::{Ran, Test};
use crate::moto::{Moto, REGION};
use crate::proxy::{Proxy, Reply, Seen};

fn controller(proxy: &Proxy, regions: &str) -> Test {
    fake_fargate::fargate_run(proxy.env(), &["--regions", regions])
        .scenario(&scenario(
            "{ concurrency: 2, hold_for: 30s }",
            // min_workers 1 of 2 would let the run go on without one worker; never without a region.
            "fargate: { min_workers: 1 }\n",
        ))
        .target(routes())
        .env("API_TOKEN", SECRET)
}

/// The calls of one operation signed for one region they were signed for.
fn calls_in(proxy: &Proxy, action: &str, region: &str) -> Vec<Seen> {
    proxy
        .calls(action)
        .into_iter()
        .filter(|s| s.region == region)
        .collect()
}

/// The run refused before any launch, naming `region`: exit 3, no RunTask in any region; its
/// stderr for the test's own checks.
fn refused_before_any_launch(ran: &Ran, proxy: &Proxy, region: &str) -> String {
    ran.code(3);
    let err = ran.stderr.clone();
    assert!(
        err.contains(&format!("the run cannot use region(s) {region};")),
        "{err}"
    );
    assert!(err.contains("no task was started in any region"), "{err}");
    assert!(proxy.calls("RunTask").is_empty(), "a task was launched");
    assert_eq!(ran.target().total(), 0);
    err
}

/// The keys of a run in one region's bucket.
fn keys(moto: &Moto, region: &str, bucket: &str, run_id: &str) -> Vec<String> {
    fake_fargate::runtime().block_on(async {
        let s3 = fake_fargate::aws_in(&moto.endpoint, None, region)
            .await
            .s3();
        s3.list_objects_v2()
            .bucket(bucket)
            .prefix(format!("runs/{run_id}/"))
            .send()
            .await
            .expect("list")
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_string))
            .collect()
    })
}

/// What AWS answers any call into an opt-in region the account has not enabled: the credentials
/// are not recognised there (AWS re:Post, "iam-validate-access-credentials").
fn not_enabled(seen: &Seen) -> Reply {
    let message = "The security token included in the request is invalid.";
    if !seen.target.is_empty() {
        Reply::Answer {
            status: 400,
            body: format!(r#"{{"__type":"UnrecognizedClientException","message":"{message}"}}"#),
        }
    } else if !seen.action().is_empty() {
        Reply::Xml {
            status: 403,
            body: format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code>\
                 <Message>{message}</Message></Error><RequestId>proxy</RequestId></ErrorResponse>"
            ),
        }
    } else {
        Reply::S3Error {
            status: 403,
            code: "InvalidAccessKeyId",
        }
    }
}

#[test]
fn an_opt_in_region_the_account_has_not_enabled_is_named_and_nothing_starts() {
    let (moto, us, _eu) = setup();
    let proxy = Proxy::with(&moto, |seen| {
        if seen.region == "ap-east-1" {
            not_enabled(seen)
        } else {
            Reply::Forward
        }
    });
    let ran = controller(&proxy, "us-east-1=1,ap-east-1=1").run();
    let err = refused_before_any_launch(&ran, &proxy, "ap-east-1");
    assert!(err.contains("InvalidClientTokenId"), "{err}");
    assert!(err.contains("enable it for the account"), "{err}");
    assert!(
        proxy.seen().iter().any(|s| s.region == "ap-east-1"),
        "ap-east-1 was never asked"
    );
    assert!(task_statuses(&moto, REGION, &us.cluster).is_empty());
    assert_eq!(secrets_left(&moto, REGION), 0);
}

const VPC_LIMIT: &str = "The maximum number of VPCs has been reached.";

/// A stack whose first create fails in one region (a resource CloudFormation could not create),
/// while the other region's stack is in place.
#[test]
fn a_region_whose_stack_fails_to_deploy_is_named_and_nothing_starts() {
    let moto = Moto::start();
    moto.keep_tasks_running();
    let us = crate::fake_fargate::deploy(&moto);
    // moto creates the stack at once; eu-west-1's DescribeStacks shows it rolled back instead.
    let proxy = Proxy::with(&moto, |seen| {
        if seen.region != EU {
            return Reply::Forward;
        }
        if seen.action() == "DescribeStacks" {
            Reply::Edit(Box::new(|body| {
                body.replace("CREATE_COMPLETE", "ROLLBACK_COMPLETE")
            }))
        } else if seen.action() == "DescribeStackEvents" {
            Reply::Edit(Box::new(|body| {
                body.replacen(
                    "<ResourceStatus>CREATE_COMPLETE</ResourceStatus>",
                    &format!(
                        "<ResourceStatus>CREATE_FAILED</ResourceStatus>\
                         <ResourceStatusReason>{VPC_LIMIT}</ResourceStatusReason>"
                    ),
                    1,
                )
            }))
        } else {
            Reply::Forward
        }
    });
    let ran = controller(&proxy, "us-east-1=1,eu-west-1=1").run();
    let err = refused_before_any_launch(&ran, &proxy, EU);
    assert!(err.contains("ROLLBACK_COMPLETE"), "{err}");
    assert!(
        err.contains(VPC_LIMIT),
        "the cause CloudFormation gave: {err}"
    );
    assert_eq!(
        calls_in(&proxy, "CreateStack", EU).len(),
        1,
        "one create in eu-west-1"
    );
    assert!(calls_in(&proxy, "CreateStack", REGION).is_empty());
    assert!(task_statuses(&moto, REGION, &us.cluster).is_empty());
    for name in [REGION, EU] {
        assert_eq!(secrets_left(&moto, name), 0, "{name}");
    }
}

#[test]
fn a_region_whose_vcpu_quota_is_too_low_is_named_and_nothing_starts() {
    let (moto, us, eu) = setup();
    let proxy = Proxy::with(&moto, |seen| {
        if seen.region == EU && seen.action() == "GetServiceQuota" {
            let code = seen.json()["QuotaCode"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            Reply::Answer {
                status: 200,
                body: format!(
                    r#"{{"Quota":{{"ServiceCode":"fargate","QuotaCode":"{code}","Value":0.5,"Unit":"None","Adjustable":true,"GlobalQuota":false}}}}"#
                ),
            }
        } else {
            Reply::Forward
        }
    });
    let ran = controller(&proxy, "us-east-1=1,eu-west-1=1").run();
    let err = refused_before_any_launch(&ran, &proxy, EU);
    assert!(
        err.contains("the account's Fargate quota in eu-west-1 is 0.5 vCPU"),
        "{err}"
    );
    assert!(err.contains("Service Quotas"), "{err}");
    assert_eq!(calls_in(&proxy, "GetServiceQuota", EU).len(), 1);
    for (name, cluster) in [(REGION, &us.cluster), (EU, &eu.cluster)] {
        assert!(task_statuses(&moto, name, cluster).is_empty(), "{name}");
        assert_eq!(secrets_left(&moto, name), 0, "{name}");
    }
}

/// No Fargate capacity in one region shows only at the launch, when the other region's tasks
/// are already running: they are stopped, and the run fails naming the short region, although
/// `min_workers` alone would have let one worker of two go on.
#[test]
fn a_region_without_capacity_fails_the_run_and_the_tasks_started_elsewhere_are_stopped() {
    let (moto, us, eu) = setup();
    let proxy = Proxy::with(&moto, |seen| {
        if seen.region == EU && seen.action() == "RunTask" {
            let count = seen.json()["count"].as_u64().unwrap_or(1);
            let failure = r#"{"arn":"arn:aws:ec2:eu-west-1:123456789012:subnet/subnet-1","reason":"Capacity is unavailable at this time. Please try again later or in a different availability zone"}"#;
            let failures = vec![failure; count as usize].join(",");
            Reply::Answer {
                status: 200,
                body: format!(r#"{{"tasks":[],"failures":[{failures}]}}"#),
            }
        } else {
            Reply::Forward
        }
    });
    let (f_us, f_eu) = fargates(&moto);
    // RunTask's retry rounds 50 ms apart, not the 2 s (doubling) of a real run.
    let timing = FAST.replace('}', r#","launch_backoff":50}"#);
    let ran = controller(&proxy, "us-east-1=1,eu-west-1=1")
        .env("LOADGATE_FARGATE_TIMING", &timing)
        .run();
    let codes_us = f_us.finish();
    let codes_eu = f_eu.finish();
    ran.code(3);
    let err = &ran.stderr;
    assert!(err.contains("only 1 of 2 Fargate tasks started"), "{err}");
    assert!(err.contains("eu-west-1: 0 of 1 started ("), "{err}");
    assert!(err.contains("ECS said: \"Capacity is unavailable"), "{err}");
    assert!(err.contains("every region needs at least one"), "{err}");
    // Capacity is retried before the region counts as short.
    let tries = calls_in(&proxy, "RunTask", EU).len();
    assert!(tries > 1, "eu-west-1 was asked {tries} time(s)");
    eprintln!("eu-west-1 without capacity: {tries} RunTask calls");
    // The task that started in us-east-1 was stopped by the controller, by its ARN.
    assert_eq!(codes_us.len(), 1, "{codes_us:?}");
    assert!(codes_eu.is_empty(), "{codes_eu:?}");
    let stopped = calls_in(&proxy, "StopTask", REGION);
    assert_eq!(stopped.len(), 1, "StopTask in us-east-1");
    let id = codes_us.keys().next().expect("the us-east-1 task");
    assert!(
        stopped[0].text().contains(id.as_str()),
        "{}",
        stopped[0].text()
    );
    assert!(calls_in(&proxy, "StopTask", EU).is_empty());
    let statuses = task_statuses(&moto, REGION, &us.cluster);
    assert_eq!(statuses, ["STOPPED"]);
    assert!(task_statuses(&moto, EU, &eu.cluster).is_empty());
    for name in [REGION, EU] {
        assert_eq!(secrets_left(&moto, name), 0, "{name}: secrets left in SSM");
    }
    assert_eq!(ran.target().total(), 0, "no load without every region");
}

/// A breached `abort` threshold stops the load in every region: abort.json in each region's
/// bucket, every task stopped, the secrets gone from each region, and what was measured kept.
#[test]
fn an_abort_threshold_stops_every_task_in_every_region() {
    let (moto, us, eu) = setup();
    let (f_us, f_eu) = fargates(&moto);
    let test = fake_fargate::fargate_run(moto.env(), &["--regions", "us-east-1=1,eu-west-1=1"])
        .scenario(&scenario(
            "{ concurrency: 2, hold_for: 60s }",
            "thresholds:\n  - { expr: \"error_rate < 1%\", abort: true }\n",
        ))
        .target(vec![
            Route::ok("/a").status(500),
            Route::ok("/b").status(500),
        ])
        .env("API_TOKEN", SECRET);
    let ran = test.run();
    let codes = [f_us.finish(), f_eu.finish()];
    ran.code(1);
    let results = ran.results();
    assert_eq!(results["partial"], true, "{}", results["stopped"]);
    let run_id = results["run_id"].as_str().expect("run id");
    for (name, d) in [(REGION, &us), (EU, &eu)] {
        let keys = keys(&moto, name, &d.bucket, run_id);
        assert!(
            keys.iter().any(|k| k.ends_with("/abort.json")),
            "{name}: no abort.json in {keys:?}"
        );
        let statuses = task_statuses(&moto, name, &d.cluster);
        assert_eq!(statuses, ["STOPPED"], "{name}");
        assert_eq!(secrets_left(&moto, name), 0, "{name}: secrets left in SSM");
    }
    // Each worker stopped on abort.json or StopTask's SIGTERM and flushed its result: the merge
    // holds what every worker sent, never more than the target served.
    assert!(codes
        .iter()
        .all(|c| c.len() == 1 && c.values().all(|c| c.is_some())));
    let counted = results["total"]["requests"].as_u64().expect("requests");
    assert!(counted > 0 && counted <= ran.target().total(), "{counted}");
    assert_eq!(results["distributed"]["contributed"], 2, "{}", ran.stderr);
}

/// A worker lost in one region is named with its region, and fails the run when `min_workers`
/// does not allow the loss; what it had sent is not in the merge, what the others sent is.
#[test]
fn a_worker_lost_in_one_region_is_named_with_its_region() {
    let (moto, us, _eu) = setup();
    let (f_us, f_eu) = fargates(&moto);
    let mut lost = String::new();
    let ran = crate::fargate_regions::controller(
        &moto,
        &scenario("{ concurrency: 3, hold_for: 8s }", ""),
        &["--regions", "us-east-1=2,eu-west-1=1"],
    )
    .run_with(|_child| {
        fake_fargate::wait_for_load(&moto, REGION, &us.bucket, 2);
        lost = f_us.kill_one(&moto);
    });
    f_us.finish();
    f_eu.finish();
    ran.code(3);
    // The summary on stdout names it, with its region and ECS's reason.
    assert!(
        ran.stdout
            .contains(&format!("{lost} (us-east-1: task stopped without a result")),
        "{lost} not named: {}",
        ran.stdout
    );
    let results = ran.results();
    let warnings = results["warnings"].to_string();
    assert!(
        warnings.contains("region us-east-1 lost 1 of 2 workers") && warnings.contains(&lost),
        "{warnings}"
    );
    assert_eq!(results["distributed"]["contributed"], 2);
    let us_row = &results["distributed"]["regions"][0];
    assert_eq!(us_row["region"], REGION);
    assert_eq!(us_row["contributed"], 1);
    assert!(results["total"]["requests"].as_u64() < Some(ran.target().total()));
}
