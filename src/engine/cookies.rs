//! A virtual user's cookie jar, as a browser keeps one (RFC 6265 section 5): domain and path
//! matching, host-only cookies, `Max-Age`/`Expires`, `Secure`. Bounded: a hostile target cannot
//! grow it without limit.

use std::time::SystemTime;

/// Cookies per jar; the oldest goes when a new one arrives.
const MAX_COOKIES: usize = 64;
/// Name and value together.
const MAX_COOKIE_BYTES: usize = 4096;

#[derive(Debug, Clone)]
struct Cookie {
    name: String,
    value: String,
    domain: String,
    host_only: bool,
    path: String,
    expires: Option<SystemTime>,
    secure: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Jar {
    cookies: Vec<Cookie>,
}

impl Jar {
    pub fn is_empty(&self) -> bool {
        self.cookies.is_empty()
    }

    /// Values held, for masking failure samples.
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.cookies.iter().map(|c| c.value.as_str())
    }

    /// Stores one `Set-Cookie` header value received from `host` for a request to `path`.
    pub fn store(&mut self, header: &str, host: &str, path: &str, now: SystemTime) {
        let mut parts = header.split(';');
        let Some((name, value)) = parts.next().and_then(|nv| nv.split_once('=')) else {
            return;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() || name.len() + value.len() > MAX_COOKIE_BYTES {
            return;
        }
        let host = host.to_ascii_lowercase();
        let mut cookie = Cookie {
            name: name.to_string(),
            value: value.to_string(),
            domain: host.clone(),
            host_only: true,
            path: default_path(path),
            expires: None,
            secure: false,
        };
        let mut max_age: Option<i64> = None;
        for attr in parts {
            let (key, val) = attr.split_once('=').unwrap_or((attr, ""));
            let (key, val) = (key.trim().to_ascii_lowercase(), val.trim());
            match key.as_str() {
                "domain" if !val.is_empty() => {
                    let d = val.trim_start_matches('.').to_ascii_lowercase();
                    if !domain_match(&host, &d) {
                        // A cookie for a domain the response's host does not belong to.
                        return;
                    }
                    cookie.domain = d;
                    cookie.host_only = false;
                }
                "path" if val.starts_with('/') => cookie.path = val.to_string(),
                "max-age" => max_age = val.parse().ok(),
                "expires" => {
                    if let Ok(t) = httpdate::parse_http_date(val) {
                        cookie.expires = Some(t);
                    }
                }
                "secure" => cookie.secure = true,
                _ => {}
            }
        }
        if let Some(age) = max_age {
            cookie.expires = Some(if age <= 0 {
                SystemTime::UNIX_EPOCH
            } else {
                now + std::time::Duration::from_secs(age as u64)
            });
        }
        self.cookies.retain(|c| {
            !(c.name == cookie.name && c.domain == cookie.domain && c.path == cookie.path)
        });
        if cookie.expires.is_some_and(|t| t <= now) {
            return;
        }
        if self.cookies.len() >= MAX_COOKIES {
            self.cookies.remove(0);
        }
        self.cookies.push(cookie);
    }

    /// The `Cookie` header value for a request, or None when no cookie applies. Longer paths
    /// first, as RFC 6265 5.4 asks.
    pub fn header(&self, host: &str, path: &str, https: bool, now: SystemTime) -> Option<String> {
        let host = host.to_ascii_lowercase();
        let mut matching: Vec<&Cookie> = self
            .cookies
            .iter()
            .filter(|c| {
                (if c.host_only {
                    c.domain == host
                } else {
                    domain_match(&host, &c.domain)
                }) && path_match(path, &c.path)
                    && (https || !c.secure)
                    && c.expires.is_none_or(|t| t > now)
            })
            .collect();
        if matching.is_empty() {
            return None;
        }
        matching.sort_by_key(|c| std::cmp::Reverse(c.path.len()));
        let mut out = String::new();
        for c in matching {
            if !out.is_empty() {
                out.push_str("; ");
            }
            out.push_str(&c.name);
            out.push('=');
            out.push_str(&c.value);
        }
        Some(out)
    }
}

fn domain_match(host: &str, domain: &str) -> bool {
    host == domain
        || (host.len() > domain.len()
            && host.ends_with(domain)
            && host.as_bytes()[host.len() - domain.len() - 1] == b'.'
            && host.parse::<std::net::IpAddr>().is_err())
}

/// RFC 6265 5.1.4: the request path up to its last `/` (not included), or `/`.
fn default_path(path: &str) -> String {
    let path = path.split('?').next().unwrap_or("/");
    match path.rfind('/') {
        Some(0) | None => "/".to_string(),
        Some(i) => path[..i].to_string(),
    }
}

fn path_match(request: &str, cookie: &str) -> bool {
    let request = request.split('?').next().unwrap_or("/");
    request == cookie
        || (request.starts_with(cookie)
            && (cookie.ends_with('/') || request.as_bytes().get(cookie.len()) == Some(&b'/')))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn host_only_domain_path_secure_and_expiry() {
        let now = SystemTime::now();
        let mut jar = Jar::default();
        jar.store(
            "sid=abc; Path=/app; HttpOnly",
            "shop.example.com",
            "/login",
            now,
        );
        jar.store("lang=en; Domain=.example.com", "shop.example.com", "/", now);
        jar.store("tok=s; Secure", "shop.example.com", "/x/y", now);
        jar.store("evil=1; Domain=other.com", "shop.example.com", "/", now);
        assert_eq!(
            jar.header("shop.example.com", "/app/cart", false, now)
                .as_deref(),
            Some("sid=abc; lang=en")
        );
        assert_eq!(
            jar.header("api.example.com", "/", false, now).as_deref(),
            Some("lang=en")
        );
        assert_eq!(
            jar.header("shop.example.com", "/x/z", true, now).as_deref(),
            Some("tok=s; lang=en")
        );
        assert_eq!(
            jar.header("shop.example.com", "/apples", false, now)
                .as_deref(),
            Some("lang=en")
        );
        jar.store(
            "sid=gone; Path=/app; Max-Age=0",
            "shop.example.com",
            "/",
            now,
        );
        assert_eq!(
            jar.header("shop.example.com", "/app", false, now)
                .as_deref(),
            Some("lang=en")
        );
        jar.store("t=1; Max-Age=10", "h", "/", now);
        assert!(jar
            .header("h", "/", false, now + Duration::from_secs(11))
            .is_none());
        jar.store("e=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT", "h", "/", now);
        assert!(jar
            .header("h", "/", false, now)
            .is_some_and(|h| !h.contains("e=1")));
    }

    #[test]
    fn the_jar_is_bounded() {
        let now = SystemTime::now();
        let mut jar = Jar::default();
        for i in 0..200 {
            jar.store(&format!("c{i}=v"), "h", "/", now);
        }
        assert_eq!(jar.cookies.len(), MAX_COOKIES);
        jar.store(&format!("big={}", "x".repeat(5000)), "h", "/", now);
        assert!(jar.values().all(|v| v.len() < 10));
    }
}
