//! Name resolution for the engine: asynchronous and bounded (hickory), not glibc's
//! `getaddrinfo`, which tokio runs on a blocking thread and which retries an unanswered query
//! after 5 s — far past a request's timeout, so that an unresolvable host showed as `timeout`
//! errors (exit 1) instead of `connect` errors (unreachable: exit 3).
//!
//! One resolver per engine thread, built when the first name (not an IP literal) is looked up,
//! from the system's configuration (`/etc/resolv.conf`, `/etc/hosts`). Each lookup is bounded to
//! well within the request's timeout, so a resolver that never answers is a `connect` error too.

use std::cell::OnceCell;
use std::io;
use std::net::IpAddr;
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::TokioResolver;

/// A test's override of the system's name server (`127.0.0.1:53`): nothing else reads it.
const SERVER_ENV: &str = "LOADGATE_DNS_SERVER";

pub(crate) struct Dns {
    resolver: OnceCell<Result<TokioResolver, String>>,
    /// Per query attempt; two attempts stay under the request's timeout.
    attempt: Duration,
}

impl Dns {
    pub fn new(request_timeout: Duration) -> Dns {
        Dns {
            resolver: OnceCell::new(),
            attempt: (request_timeout / 3).clamp(Duration::from_millis(50), Duration::from_secs(5)),
        }
    }

    /// The addresses of `host` (an IP literal is its own address).
    pub async fn lookup(&self, host: &str) -> io::Result<Vec<IpAddr>> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        let resolver = self
            .resolver
            .get_or_init(|| build(self.attempt))
            .as_ref()
            .map_err(|e| io::Error::other(e.clone()))?;
        // Search domains and retries multiply the per-query timeout: the whole lookup is bounded
        // too, by two of its attempts, so it ends before the request's timeout does.
        let found = tokio::time::timeout(self.attempt * 2, resolver.lookup_ip(host))
            .await
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "dns: {host}: no answer from the name server within {} ms",
                        (self.attempt * 2).as_millis()
                    ),
                )
            })?
            .map_err(|e| io::Error::new(io::ErrorKind::NotFound, format!("dns: {host}: {e}")))?;
        let addrs: Vec<IpAddr> = found.iter().collect();
        if addrs.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("dns: {host} has no address"),
            ));
        }
        Ok(addrs)
    }
}

fn build(attempt: Duration) -> Result<TokioResolver, String> {
    let mut builder = match std::env::var(SERVER_ENV)
        .ok()
        .and_then(|s| s.parse::<std::net::SocketAddr>().ok())
    {
        Some(server) => {
            let mut name_server = NameServerConfig::udp(server.ip());
            for connection in &mut name_server.connections {
                connection.port = server.port();
            }
            let config = ResolverConfig::from_name_servers(vec![name_server]);
            TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
        }
        None => TokioResolver::builder_tokio()
            .map_err(|e| format!("dns: cannot read the system's resolver configuration: {e}"))?,
    };
    let options = builder.options_mut();
    options.timeout = attempt;
    options.attempts = 2;
    builder
        .build()
        .map_err(|e| format!("dns: cannot start the resolver: {e}"))
}
