//! A real registry for the image tests: Debian's `docker-registry` (distribution v2) on a free
//! 127.0.0.1 port, filesystem storage in a temp dir, htpasswd basic auth (bcrypt from `htpasswd
//! -B`, apache2-utils). One per test; killed on drop. Its access log counts the requests.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;

const BINARY: &str = "/usr/bin/docker-registry";

pub struct Registry {
    child: Child,
    pub port: u16,
    user: String,
    password: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

pub struct Got {
    pub status: u16,
    pub headers: String,
    pub body: Vec<u8>,
}

impl Registry {
    pub fn start(user: &str, password: &str) -> Registry {
        assert!(
            Path::new(BINARY).exists(),
            "{BINARY} not found: install Debian's docker-registry package (`apt-get install \
             docker-registry apache2-utils`; scripts/test.sh does it as root)"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let htpasswd = Command::new("htpasswd")
            .args(["-nbB", user, password])
            .output()
            .unwrap_or_else(|e| {
                panic!("htpasswd: {e}: install apache2-utils (`apt-get install apache2-utils`)")
            });
        assert!(htpasswd.status.success(), "htpasswd failed");
        std::fs::write(dir.path().join("htpasswd"), &htpasswd.stdout).expect("htpasswd file");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let config = format!(
            "version: 0.1\n\
             log:\n  level: warn\n  accesslog:\n    disabled: false\n\
             storage:\n  filesystem:\n    rootdirectory: {root}\n\
             http:\n  addr: 127.0.0.1:{port}\n\
             auth:\n  htpasswd:\n    realm: loadgate-test\n    path: {htpasswd}\n",
            root = dir.path().join("data").display(),
            htpasswd = dir.path().join("htpasswd").display(),
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).expect("config");
        let log = dir.path().join("registry.log");
        let log_file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(BINARY)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log file"))
            .stderr(log_file)
            .spawn()
            .expect("start docker-registry");
        let mut registry = Registry {
            child,
            port,
            user: user.to_string(),
            password: password.to_string(),
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = registry.child.try_wait() {
                panic!("docker-registry exited ({status}): {}", registry.log_text());
            }
            assert!(Instant::now() < deadline, "docker-registry did not listen");
            std::thread::sleep(Duration::from_millis(25));
        }
        registry
    }

    /// `127.0.0.1:PORT/<name>`.
    pub fn repository(&self, name: &str) -> String {
        format!("127.0.0.1:{}/{name}", self.port)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Access-log lines of requests with this method whose path contains `path_part`.
    pub fn requests(&self, method: &str, path_part: &str) -> usize {
        let start = format!("\"{method} /v2/");
        self.log_text()
            .lines()
            .filter(|l| l.contains(&start) && l.contains(path_part))
            .count()
    }

    /// Waits until the log shows `count` such requests: the registry writes a line after it
    /// answered, so a test reads the log only once the line it expects is there.
    pub fn wait_for_requests(&self, method: &str, path_part: &str, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.requests(method, path_part) < count {
            assert!(
                Instant::now() < deadline,
                "no {count} {method} {path_part} in the log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A GET with the test's credentials, over a plain socket (HTTP/1.0: no chunking, the
    /// registry closes the connection after the answer).
    pub fn get(&self, path: &str, accept: &str) -> Got {
        let auth = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", self.user, self.password));
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        write!(
            stream,
            "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{}\r\nAuthorization: Basic {auth}\r\n\
             Accept: {accept}\r\n\r\n",
            self.port
        )
        .expect("request");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).expect("answer");
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("headers end");
        let headers = String::from_utf8_lossy(&raw[..split]).to_string();
        let status = headers
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status");
        Got {
            status,
            headers,
            body: raw[split + 4..].to_vec(),
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
