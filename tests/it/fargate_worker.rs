//! `loadgate worker` on its own, with the test playing the controller through the library's
//! protocol types: SIGTERM flushes the result; a heartbeat that stops stops the worker.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use loadgate::cloud::run::store::Store;
use loadgate::protocol::{
    self, Heartbeat, PlanDoc, RunLocation, StartDoc, Timing, WorkerResult, VERSION,
};
use loadgate::target::{Route, Target};

use crate::fake_fargate::{aws_for, runtime, BUCKET};
use crate::moto::Moto;

struct Controller {
    moto: Moto,
    store: Store,
    loc: RunLocation,
    target: Target,
    rt: tokio::runtime::Runtime,
}

/// A run with one worker's plan in the bucket; `hold_for` long enough to be interrupted.
fn controller(timing: Timing) -> Controller {
    let moto = Moto::start();
    let rt = runtime();
    let target = Target::start(vec![Route::ok("/a")]).expect("target");
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("loadgate.yaml");
    let yaml = format!(
        "name: w\ntarget: \"{}\"\nload: {{ concurrency: 2, hold_for: 60s }}\nrequests:\n  - {{ name: a, path: /a }}\n",
        target.url()
    );
    std::fs::write(&path, yaml).expect("scenario");
    let plan = loadgate::scenario::load(&path, &loadgate::scenario::ProcessEnv)
        .expect("scenario loads")
        .plan;
    let loc = RunLocation::new(BUCKET, "r1");
    let store = rt.block_on(async {
        let aws = aws_for(&moto.endpoint).await;
        aws.s3()
            .create_bucket()
            .bucket(BUCKET)
            .send()
            .await
            .expect("bucket");
        let store = Store::new(&aws, BUCKET);
        let beat = Heartbeat {
            version: VERSION,
            at_ms: 0,
        };
        store
            .put_json(&loc.heartbeat(), &beat)
            .await
            .expect("heartbeat");
        let doc = PlanDoc {
            version: VERSION,
            run_id: loc.run_id.clone(),
            plan: serde_json::to_value(&plan).expect("plan"),
            secrets: Vec::new(),
            workers: 1,
            deadline_ms: store.clock().now_ms() + 300_000,
            timing,
        };
        store.put_json(&loc.plan(), &doc).await.expect("plan.json");
        store
    });
    let _ = dir;
    Controller {
        moto,
        store,
        loc,
        target,
        rt,
    }
}

impl Controller {
    fn worker(&self) -> Child {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_loadgate"));
        cmd.arg("worker")
            .env(protocol::RUN_ENV, self.loc.url())
            .env_remove("ECS_CONTAINER_METADATA_URI_V4")
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        for (k, v) in self.moto.env() {
            cmd.env(k, v);
        }
        cmd.spawn().expect("worker starts")
    }

    /// Waits for the worker's ready/ and starts it; its id.
    fn start(&self) -> String {
        self.rt.block_on(async {
            let deadline = Instant::now() + Duration::from_secs(60);
            let prefix = self.loc.ready_prefix();
            let id = loop {
                let keys = self.store.list(&prefix).await.expect("list");
                if let Some(id) = keys.iter().find_map(|k| protocol::worker_of(k, &prefix)) {
                    break id;
                }
                assert!(Instant::now() < deadline, "the worker never said ready");
                tokio::time::sleep(Duration::from_millis(100)).await;
            };
            let plan: PlanDoc = self
                .store
                .get_json(&self.loc.plan())
                .await
                .expect("get")
                .expect("plan");
            let load = serde_json::from_value(plan.plan["load"].clone()).expect("load");
            let start = StartDoc {
                version: VERSION,
                start_at_ms: self.store.clock().now_ms() + 500,
                shares: BTreeMap::from([(id.clone(), load)]),
                users: BTreeMap::new(),
            };
            self.store
                .put_json(&self.loc.start(), &start)
                .await
                .expect("start.json");
            id
        })
    }

    fn result(&self, id: &str) -> WorkerResult {
        self.rt
            .block_on(self.store.get_json(&self.loc.result(id)))
            .expect("read")
            .expect("the worker wrote its result")
    }
}

/// Waits for the child to exit (bounded: a worker that never exits fails the test).
fn exit_code(child: &mut Child) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the worker did not exit by itself");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn fast(heartbeat_timeout: Duration) -> Timing {
    Timing {
        heartbeat_every: Duration::from_secs(1),
        heartbeat_timeout,
        live_every: Duration::from_secs(1),
        start_delay: Duration::from_millis(500),
        ready_timeout: Duration::from_secs(60),
    }
}

#[test]
fn sigterm_stops_the_load_and_flushes_the_result() {
    let c = controller(fast(Duration::from_secs(600)));
    let mut worker = c.worker();
    let id = c.start();
    // Until the target has observably served its load, refresh the heartbeat as a controller
    // would (a fixed wait would say nothing about whether the load had started).
    let deadline = Instant::now() + Duration::from_secs(60);
    while c.target.count("/a") == 0 {
        assert!(Instant::now() < deadline, "the worker never sent load");
        let beat = Heartbeat {
            version: VERSION,
            at_ms: 0,
        };
        c.rt.block_on(c.store.put_json(&c.loc.heartbeat(), &beat))
            .expect("beat");
        std::thread::sleep(Duration::from_millis(200));
    }
    // SAFETY: a plain kill(2) of our own child.
    unsafe { libc::kill(worker.id() as i32, libc::SIGTERM) };
    assert_eq!(exit_code(&mut worker), Some(0));
    let result = c.result(&id);
    assert_eq!(result.stopped.as_deref(), Some("SIGTERM"));
    assert!(result.error.is_none());
    let counted = result.results.expect("figures").total.requests;
    let served = c.target.count("/a");
    assert!(counted > 0);
    assert!(
        counted <= served && served - counted <= 2,
        "{counted} of {served}"
    );
}

#[test]
fn a_stale_heartbeat_stops_the_worker_by_itself() {
    let c = controller(fast(Duration::from_secs(3)));
    let mut worker = c.worker();
    let id = c.start();
    // Nobody refreshes the heartbeat: the controller is gone. The load was planned for 60 s.
    let code = exit_code(&mut worker);
    assert_eq!(code, Some(0));
    let result = c.result(&id);
    let stopped = result.stopped.unwrap_or_default();
    assert!(stopped.contains("heartbeat"), "{stopped}");
    assert!(result.results.expect("figures").total.requests > 0);
}
