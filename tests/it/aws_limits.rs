//! The real-AWS limits the code keeps (RunTask 10 tasks a call, DescribeTasks 100, DeleteObjects
//! 1,000 keys, BatchDeleteImage 100 images), shown against moto: it serves these calls as AWS does
//! but enforces none of the limits, so tests/it/proxy.rs reads each call's size on the way.
//! Only what moto cannot answer (throttling, capacity failures) stays with aws-smithy-mocks
//! (src/cloud/run/tasks_tests.rs).

use std::time::Duration;

use loadgate::cloud::run::tasks;

use crate::fake_fargate;
use crate::moto::Moto;
use crate::proxy::Proxy;

/// The harness's stack, and a task definition registered in it.
fn launch_spec(moto: &Moto, run_id: &str) -> tasks::Launch {
    moto.keep_tasks_running();
    fake_fargate::deploy(moto);
    fake_fargate::runtime().block_on(async {
        let aws = moto.aws().await;
        let outputs = loadgate::cloud::outputs::describe(&aws, fake_fargate::STACK)
            .await
            .expect("outputs");
        let spec = tasks::TaskSpec {
            family: "loadgate-worker".into(),
            image: "x".into(),
            cpu: 1024,
            memory: 2048,
            arm64: false,
            execution_role_arn: outputs.execution_role_arn.clone(),
            task_role_arn: outputs.task_role_arn.clone(),
            log_group: outputs.log_group.clone(),
            region: crate::moto::REGION.into(),
        };
        let def = tasks::ensure_task_definition(&aws.ecs(), &spec)
            .await
            .expect("task definition");
        tasks::Launch {
            cluster: outputs.cluster_name.clone(),
            task_definition: def,
            subnets: outputs.subnet_ids.clone(),
            security_group: outputs.security_group_id.clone(),
            public_ip: true,
            run_id: run_id.into(),
            run_url: format!("s3://{}/runs/{run_id}", outputs.bucket),
            spot: false,
            rounds: 0,
            backoff: Duration::from_millis(10),
        }
    })
}

#[test]
fn twenty_five_tasks_take_three_run_task_calls_of_at_most_ten() {
    let moto = Moto::start();
    let launch = launch_spec(&moto, "r25");
    let proxy = Proxy::start(&moto);
    let out = fake_fargate::runtime()
        .block_on(async { tasks::launch(&proxy.aws().await.ecs(), &launch, 25).await });
    assert_eq!(out.arns.len(), 25, "{:?}", out.failures);
    assert!(out.failures.is_empty(), "{:?}", out.failures);
    assert_eq!(out.calls, 3);
    let mut counts: Vec<u64> = proxy
        .calls("RunTask")
        .iter()
        .map(|c| c.json()["count"].as_u64().unwrap_or(1))
        .collect();
    counts.sort_unstable();
    assert_eq!(counts, [5, 10, 10]);
    // Every task carries the run: `loadgate runs` and `stop` find them by it.
    let listed = fake_fargate::runtime().block_on(async {
        tasks::list(&moto.aws().await.ecs(), &launch.cluster, Some("r25"))
            .await
            .expect("list")
    });
    assert_eq!(listed.len(), 25);
}

#[test]
fn describe_takes_a_hundred_tasks_per_call() {
    let moto = Moto::start();
    let launch = launch_spec(&moto, "r150");
    let (arns, states, proxy) = fake_fargate::runtime().block_on(async {
        let launched = tasks::launch(&moto.aws().await.ecs(), &launch, 150).await;
        assert_eq!(launched.arns.len(), 150, "{:?}", launched.failures);
        let proxy = Proxy::start(&moto);
        let states = tasks::describe(&proxy.aws().await.ecs(), &launch.cluster, &launched.arns)
            .await
            .expect("described");
        (launched.arns, states, proxy)
    });
    assert_eq!(states.len(), 150);
    assert!(states.iter().all(|s| s.last_status == "RUNNING"));
    let last = tasks::task_id(arns.last().expect("arns"));
    assert!(states.iter().any(|s| s.id == last));
    let mut sizes: Vec<usize> = proxy
        .calls("DescribeTasks")
        .iter()
        .map(|c| c.json()["tasks"].as_array().map_or(0, Vec::len))
        .collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [50, 100]);
}

#[test]
fn destroy_deletes_a_thousand_keys_and_a_hundred_images_per_call() {
    const OBJECTS: usize = 1_234;
    const IMAGES: usize = 150;
    let moto = Moto::start();
    let mut deploy = crate::harness::Test::new().args(&["stack", "deploy"]);
    for (k, v) in moto.env() {
        deploy = deploy.env(k, &v);
    }
    deploy.run().code(0);
    let outputs = fake_fargate::runtime().block_on(async {
        let aws = moto.aws().await;
        let outputs = loadgate::cloud::outputs::describe(&aws, "loadgate")
            .await
            .expect("outputs");
        let s3 = aws.s3();
        for chunk in (0..OBJECTS).collect::<Vec<_>>().chunks(50) {
            let mut puts = tokio::task::JoinSet::new();
            for i in chunk {
                let put = s3
                    .put_object()
                    .bucket(&outputs.bucket)
                    .key(format!("runs/r{}/results/w{i}.json", i % 7))
                    .body(b"{}".to_vec().into());
                puts.spawn(async move { put.send().await.map(|_| ()) });
            }
            while let Some(done) = puts.join_next().await {
                done.expect("joined").expect("put object");
            }
        }
        let ecr = aws.ecr();
        // moto derives an image's digest from its layers: one distinct layer per image.
        for i in 0..IMAGES {
            let digest = format!("sha256:{i:064x}");
            let manifest = format!(
                r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{digest}","size":1}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{digest}","size":1}}]}}"#
            );
            ecr.put_image()
                .repository_name(&outputs.repository_name)
                .image_manifest(manifest)
                .image_tag(format!("0.1.{i}-abcd"))
                .send()
                .await
                .expect("put image");
        }
        outputs
    });
    let proxy = Proxy::start(&moto);
    let mut destroy = crate::harness::Test::new().args(&["stack", "destroy", "--yes"]);
    for (k, v) in proxy.env() {
        destroy = destroy.env(k, &v);
    }
    let ran = destroy.run();
    assert!(
        ran.stderr.contains(&format!(
            "deleted {OBJECTS} object(s) and {IMAGES} image(s)"
        )),
        "{}",
        ran.stderr
    );
    let mut keys: Vec<usize> = proxy
        .seen()
        .iter()
        .filter(|s| s.method == "POST" && s.path.contains("?delete"))
        .map(|s| s.text().matches("<Object>").count())
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, [OBJECTS - 1_000, 1_000]);
    let mut images: Vec<usize> = proxy
        .calls("BatchDeleteImage")
        .iter()
        .map(|c| c.json()["imageIds"].as_array().map_or(0, Vec::len))
        .collect();
    images.sort_unstable();
    assert_eq!(images, [IMAGES - 100, 100]);
    // moto pages object versions by 1,000, as S3 does: the rest was listed in a second round.
    let listings = proxy
        .seen()
        .iter()
        .filter(|s| s.method == "GET" && s.path.contains("versions"))
        .count();
    assert!(listings >= 2, "{listings} ListObjectVersions call(s)");
    let left = fake_fargate::runtime().block_on(async {
        let s3 = moto.aws().await.s3();
        match s3.list_objects_v2().bucket(&outputs.bucket).send().await {
            Ok(objects) => objects.key_count().unwrap_or(0),
            // moto's DeleteStack removes the bucket before it fails on the VPC.
            Err(e) => {
                let code = loadgate::cloud::aws::error_code(&e);
                assert_eq!(code, Some("NoSuchBucket"), "{e:?}");
                0
            }
        }
    });
    assert_eq!(left, 0);
}
