//! moto's server as the AWS of the tests: a real HTTP endpoint on 127.0.0.1, one per test so that
//! tests never see each other's resources. `scripts/test.sh` installs it into the tools' venv.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use loadgate::cloud::aws::Aws;

pub const REGION: &str = "us-east-1";

pub struct Moto {
    child: Child,
    pub endpoint: String,
}

fn server_path() -> PathBuf {
    if let Some(path) = std::env::var_os("LOADGATE_MOTO_SERVER") {
        return PathBuf::from(path);
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/tools/venv/bin/moto_server");
    assert!(
        path.exists(),
        "moto_server not found at {}: run the tests with scripts/test.sh, or install it with \
         `scripts/tools.sh python \"moto[server]\"` (or set LOADGATE_MOTO_SERVER)",
        path.display()
    );
    path
}

#[allow(dead_code)] // each test module uses a different part
impl Moto {
    pub fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new(server_path())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
        Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }

    /// The environment that points the loadgate binary (and the AWS SDK) at this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_REGION", REGION.to_string()),
            ("AWS_ACCESS_KEY_ID", "testing".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
        ]
    }

    /// Configuration for calling the library in-process, without touching the process environment.
    pub async fn aws(&self) -> Aws {
        let loader = aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"));
        Aws::load_from(loader).await.expect("aws config")
    }

    /// Keeps ECS tasks RUNNING until stopped (moto moves them on by itself otherwise).
    pub fn keep_tasks_running(&self) {
        self.post(
            "/moto-api/state-manager/set-transition",
            r#"{"model_name":"ecs::task","transition":{"progression":"manual","times":1000000}}"#,
        );
    }

    /// A POST to moto's own API, with std only (the tests need no HTTP client for this). A
    /// server that has just begun to listen may still reset a connection on a busy machine: a
    /// few tries, then the error.
    pub fn post(&self, path: &str, body: &str) {
        use std::io::{Read, Write};
        let addr = self.endpoint.trim_start_matches("http://");
        let send = || -> std::io::Result<String> {
            let mut stream = TcpStream::connect(addr)?;
            write!(
                stream,
                "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )?;
            let mut answer = String::new();
            stream.read_to_string(&mut answer)?;
            Ok(answer)
        };
        let mut tries = 0;
        let answer = loop {
            tries += 1;
            match send() {
                Ok(answer) => break answer,
                Err(e) if tries < 5 => {
                    eprintln!("moto {path}: {e}; trying again");
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => panic!("moto {path}: {e}"),
            }
        };
        // moto answers 200 or 201 (set-transition says CREATED).
        assert!(
            answer.starts_with("HTTP/1.1 20") || answer.starts_with("HTTP/1.0 20"),
            "moto answered {path} with {answer}"
        );
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A smoke test of the fixture itself: the SDK reaches moto through `AWS_ENDPOINT_URL`-style config.
#[tokio::test]
async fn moto_answers_the_sdk() {
    let moto = Moto::start();
    let s3 = moto.aws().await.s3();
    s3.create_bucket()
        .bucket("smoke")
        .send()
        .await
        .expect("create bucket");
    let buckets = s3.list_buckets().send().await.expect("list buckets");
    let names: Vec<_> = buckets.buckets().iter().filter_map(|b| b.name()).collect();
    assert_eq!(names, ["smoke"]);
}
