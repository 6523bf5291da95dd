//! A worker's id: its ECS task id, read from the task metadata endpoint, so the controller can
//! match `ready/<id>` with the task it started (and name its log stream); a random id where there
//! is no endpoint (a worker started by hand).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The variable ECS sets in every container: the task metadata endpoint, version 4.
pub const METADATA_ENV: &str = "ECS_CONTAINER_METADATA_URI_V4";

/// The task id from the metadata endpoint, or `local-<random>`.
pub async fn worker_id() -> String {
    if let Ok(base) = std::env::var(METADATA_ENV) {
        let asked = tokio::time::timeout(Duration::from_secs(5), task_arn(&base)).await;
        if let Ok(Some(arn)) = asked {
            if let Some(id) = arn.rsplit('/').next().filter(|id| valid_id(id)) {
                return id.to_string();
            }
        }
    }
    format!("local-{:08x}", fastrand::u32(..))
}

/// Ids become S3 keys: letters, digits and `-` only.
fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// `GET <base>/task` -> `TaskARN`. The endpoint is plain HTTP on a link-local address, so a
/// one-shot HTTP/1.0 request is all it takes.
async fn task_arn(base: &str) -> Option<String> {
    let url = url::Url::parse(&format!("{}/task", base.trim_end_matches('/'))).ok()?;
    if url.scheme() != "http" {
        return None;
    }
    let host = url.host_str()?;
    let port = url.port().unwrap_or(80);
    let mut stream = TcpStream::connect((host, port)).await.ok()?;
    let request = format!(
        "GET {} HTTP/1.0\r\nHost: {host}\r\nAccept: application/json\r\n\r\n",
        url.path()
    );
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut answer = Vec::new();
    stream.take(1 << 20).read_to_end(&mut answer).await.ok()?;
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text.split_once("\r\n\r\n")?;
    if head.split_whitespace().nth(1) != Some("200") {
        return None;
    }
    let doc: serde_json::Value = serde_json::from_str(body).ok()?;
    doc.get("TaskARN")?.as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_task_arn_comes_from_the_metadata_endpoint() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.expect("accept");
            let mut buf = [0u8; 1024];
            let n = s.read(&mut buf).await.expect("read");
            let asked = String::from_utf8_lossy(&buf[..n]).to_string();
            let body = r#"{"TaskARN":"arn:aws:ecs:us-east-1:1:task/lg/0123abcd"}"#;
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            s.write_all(answer.as_bytes()).await.expect("write");
            asked
        });
        let arn = task_arn(&format!("http://{addr}/v4/abc")).await;
        assert_eq!(
            arn.as_deref(),
            Some("arn:aws:ecs:us-east-1:1:task/lg/0123abcd")
        );
        let asked = server.await.expect("server");
        assert!(asked.starts_with("GET /v4/abc/task "), "{asked}");
    }

    #[test]
    fn ids_are_safe_keys() {
        assert!(valid_id("0123abcd-ef"));
        assert!(!valid_id("a/b"));
        assert!(!valid_id(""));
    }
}
