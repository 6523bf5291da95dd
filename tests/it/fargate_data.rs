//! Data feeds on the Fargate path (issue 13): the CSV is shipped once per run through the
//! bucket (gzip, under `runs/<run_id>/assets/`), never inside plan.json, and a `unique` feed's rows
//! are split among the ready workers so that each row is used exactly once in the whole run.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};

use crate::fake_fargate::{self, FakeFargate, FAST};
use crate::harness::Test;
use crate::moto::Moto;
use crate::users_server::{start, Req, Resp};

#[test]
fn three_workers_use_each_unique_row_exactly_once() {
    let moto = Moto::start();
    moto.keep_tasks_running();
    fake_fargate::deploy(&moto);
    let rows: Arc<Mutex<HashMap<String, Vec<String>>>> = Arc::default();
    let r = rows.clone();
    let url = start(Arc::new(move |req: Req| {
        if let Some(id) = req.target.strip_prefix("/row/") {
            let user = req.header("x-user").unwrap_or("").to_string();
            r.lock()
                .unwrap()
                .entry(id.to_string())
                .or_default()
                .push(user);
        }
        Resp::new(200, "")
    }));
    let mut csv = String::from("id,secret\n");
    for i in 0..120 {
        csv.push_str(&format!("row-{i},pw-zq{i}\n"));
    }
    let fargate = FakeFargate::start(&moto);
    let mut test = Test::new()
        .file("rows.csv", &csv)
        .scenario(&format!(
            r#"name: dist-data
target: {url}
data: {{ accounts: {{ file: rows.csv, mode: unique, secret: [secret] }} }}
load: {{ concurrency: 6, hold_for: 3s }}
requests:
  - name: row
    path: "/row/{{{{ accounts.id }}}}"
    headers: {{ X-User: "{{{{ user }}}}", X-Pass: "{{{{ accounts.secret }}}}" }}
"#
        ))
        .env("LOADGATE_FARGATE_TIMING", FAST)
        .args(&[
            "run",
            "--executor",
            "fargate",
            "--workers",
            "3",
            "--image",
            "x",
            "--baseline",
            "none",
        ]);
    for (k, v) in moto.env() {
        test = test.env(k, &v);
    }
    let ran = test.run();
    let codes = fargate.finish();
    ran.code(0);
    assert_eq!(codes.len(), 3);
    let results = ran.results();
    assert_eq!(results["distributed"]["contributed"], 3, "{}", ran.stderr);
    let rows = rows.lock().unwrap();
    assert_eq!(rows.len(), 120, "every row used");
    assert!(
        rows.values().all(|users| users.len() == 1),
        "no row twice: {rows:?}"
    );
    assert_eq!(results["total"]["requests"], 120);
    // User numbers are unique across the workers: 6 users numbered 1..=6.
    let mut users: Vec<String> = rows.values().flatten().cloned().collect();
    users.sort();
    users.dedup();
    assert!(users.len() <= 6 && users.len() >= 3, "{users:?}");
    assert!(
        users
            .iter()
            .all(|u| (1..=6).contains(&u.parse::<u32>().unwrap())),
        "{users:?}"
    );

    // The file went through the bucket once, compressed; plan.json holds no row.
    let bucket = fake_fargate::outputs(&moto).bucket;
    let objects = fake_fargate::runtime().block_on(async {
        let s3 = moto.aws().await.s3();
        let list = s3
            .list_objects_v2()
            .bucket(&bucket)
            .send()
            .await
            .expect("list");
        let mut out = Vec::new();
        for o in list.contents() {
            let key = o.key().unwrap_or_default().to_string();
            let got = s3
                .get_object()
                .bucket(&bucket)
                .key(&key)
                .send()
                .await
                .expect("get");
            out.push((
                key,
                got.body
                    .collect()
                    .await
                    .expect("body")
                    .into_bytes()
                    .to_vec(),
            ));
        }
        out
    });
    let assets: Vec<&(String, Vec<u8>)> = objects
        .iter()
        .filter(|(k, _)| k.contains("/assets/"))
        .collect();
    assert_eq!(
        assets.len(),
        1,
        "{:?}",
        objects.iter().map(|o| &o.0).collect::<Vec<_>>()
    );
    assert!(assets[0].0.ends_with(".csv.gz"));
    let mut unzipped = String::new();
    flate2::read::GzDecoder::new(assets[0].1.as_slice())
        .read_to_string(&mut unzipped)
        .expect("gzip");
    assert_eq!(unzipped, csv);
    for (key, body) in &objects {
        if key.contains("/assets/") {
            continue;
        }
        let text = String::from_utf8_lossy(body);
        assert!(!text.contains("row-7,"), "{key} holds rows");
        assert!(
            !text.contains("pw-zq"),
            "{key} holds a secret column's value"
        );
    }
}
