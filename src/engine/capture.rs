//! What a per-user request looks at in its response: the body decoded (gzip, deflate, br), the
//! checks of `expect`, and the values `capture` takes. Runs only for requests that have them.

use std::borrow::Cow;
use std::io::Read;

use serde_json::Value;

use crate::plan::{CaptureSource, CheckPlan, DynamicPlan};

use super::send::Reply;
use super::user::{ReqExtra, MAX_CAPTURE_BODY};

/// Why a response failed its checks or captures: the kind and what a failure sample says.
pub(crate) enum Verdict {
    Check(String),
    Capture(String),
}

/// The body as the checks see it: decoded per `Content-Encoding`, at most
/// [`MAX_CAPTURE_BODY`] bytes (more is an error rather than a partial answer).
pub(crate) fn decoded(reply: &Reply) -> Result<Cow<'_, [u8]>, String> {
    let raw = reply.body.as_deref().unwrap_or_default();
    if raw.len() > MAX_CAPTURE_BODY {
        return Err(format!(
            "the body is larger than {} KiB, the most a check or capture reads",
            MAX_CAPTURE_BODY / 1024
        ));
    }
    let encoding = reply
        .header("content-encoding")
        .map(|e| e.trim().to_ascii_lowercase());
    let limit = MAX_CAPTURE_BODY as u64 + 1;
    let mut out = Vec::new();
    let read = match encoding.as_deref() {
        None | Some("") | Some("identity") => return Ok(Cow::Borrowed(raw)),
        Some("gzip") | Some("x-gzip") => flate2::read::MultiGzDecoder::new(raw)
            .take(limit)
            .read_to_end(&mut out),
        Some("deflate") => {
            // RFC 9110 says zlib-wrapped; some servers send raw deflate.
            let zlib = flate2::read::ZlibDecoder::new(raw)
                .take(limit)
                .read_to_end(&mut out);
            if zlib.is_err() {
                out.clear();
                flate2::read::DeflateDecoder::new(raw)
                    .take(limit)
                    .read_to_end(&mut out)
            } else {
                zlib
            }
        }
        Some("br") => brotli_decompressor::Decompressor::new(raw, 4096)
            .take(limit)
            .read_to_end(&mut out),
        Some(other) => {
            return Err(format!(
                "the body's Content-Encoding `{other}` is not supported"
            ))
        }
    };
    match read {
        Ok(_) if out.len() > MAX_CAPTURE_BODY => Err(format!(
            "the decoded body is larger than {} KiB, the most a check or capture reads",
            MAX_CAPTURE_BODY / 1024
        )),
        Ok(_) => Ok(Cow::Owned(out)),
        Err(e) => Err(format!(
            "the body could not be decoded ({}): {e}",
            encoding.unwrap_or_default()
        )),
    }
}

/// The body parsed as JSON, once, when a check or capture asks.
struct Json<'a> {
    body: &'a [u8],
    parsed: Option<Result<Value, String>>,
}

impl Json<'_> {
    fn get(&mut self) -> Result<&Value, String> {
        let body = self.body;
        self.parsed
            .get_or_insert_with(|| {
                serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// Runs the checks, then the captures (into `captures`); the first failure decides.
pub(crate) fn evaluate(
    d: &DynamicPlan,
    extra: &ReqExtra,
    reply: &Reply,
    captures: &mut [Option<String>],
) -> Result<(), Verdict> {
    let needs_body = extra.reads_body;
    let body = if needs_body {
        match decoded(reply) {
            Ok(b) => b,
            Err(e) => {
                return Err(
                    if d.checks
                        .iter()
                        .any(|c| !matches!(c, CheckPlan::Header { .. }))
                    {
                        Verdict::Check(e)
                    } else {
                        Verdict::Capture(e)
                    },
                )
            }
        }
    } else {
        Cow::Borrowed(&[][..])
    };
    let mut json = Json {
        body: &body,
        parsed: None,
    };
    for (i, check) in d.checks.iter().enumerate() {
        match check {
            CheckPlan::BodyContains(text) => {
                if !contains(&body, text.as_bytes()) {
                    return Err(Verdict::Check(format!(
                        "expected the body to contain `{text}`"
                    )));
                }
            }
            CheckPlan::Json { pointer, value } => {
                let doc = json.get().map_err(Verdict::Check)?;
                match doc.pointer(pointer) {
                    Some(v) if v == value => {}
                    Some(v) => {
                        return Err(Verdict::Check(format!(
                            "expected {value} at `{pointer}`, got {}",
                            short(&v.to_string())
                        )))
                    }
                    None => {
                        return Err(Verdict::Check(format!(
                            "expected {value} at `{pointer}`, found nothing there"
                        )))
                    }
                }
            }
            CheckPlan::Header { name, pattern } => {
                let re = extra.check_res.get(i).and_then(Option::as_ref);
                match reply.header(name) {
                    Some(v) if re.is_some_and(|re| re.is_match(v)) => {}
                    Some(v) => {
                        return Err(Verdict::Check(format!(
                            "expected header `{name}` to match `{pattern}`, got `{}`",
                            short(v)
                        )))
                    }
                    None => {
                        return Err(Verdict::Check(format!(
                            "expected header `{name}` (matching `{pattern}`), the response has none"
                        )))
                    }
                }
            }
        }
    }
    for (i, c) in d.captures.iter().enumerate() {
        let value = match &c.source {
            CaptureSource::Status => Ok(reply.status.to_string()),
            CaptureSource::Header(name) => reply
                .header(name)
                .map(str::to_string)
                .ok_or_else(|| format!("the response has no header `{name}`")),
            CaptureSource::Json(pointer) => json.get().and_then(|doc| match doc.pointer(pointer) {
                None | Some(Value::Null) => {
                    Err(format!("no value at `{pointer}` in the JSON body"))
                }
                Some(Value::String(s)) => Ok(s.clone()),
                Some(v) => Ok(v.to_string()),
            }),
            CaptureSource::Regex { pattern, group } => {
                let text = String::from_utf8_lossy(&body);
                extra
                    .capture_res
                    .get(i)
                    .and_then(Option::as_ref)
                    .and_then(|re| re.captures(&text))
                    .and_then(|m| m.get(*group))
                    .map(|m| m.as_str().to_string())
                    .ok_or_else(|| format!("`{pattern}` does not match the body"))
            }
        };
        match value {
            Ok(v) => captures[c.slot] = Some(v),
            Err(e) => return Err(Verdict::Capture(format!("capture `{}`: {e}", c.name))),
        }
    }
    Ok(())
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

fn short(s: &str) -> String {
    if s.chars().count() > 100 {
        let cut: String = s.chars().take(100).collect();
        format!("{cut}...")
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::time::Instant;

    use super::*;

    fn reply(headers: &[(&str, &str)], body: Vec<u8>) -> Reply {
        Reply {
            status: 200,
            sent: Instant::now(),
            first_byte: Instant::now(),
            received: 0,
            headers: Some(
                headers
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect(),
            ),
            body: Some(body),
        }
    }

    #[test]
    fn gzip_and_deflate_bodies_are_decoded() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"{\"a\":1}").unwrap();
        let r = reply(&[("content-encoding", "gzip")], gz.finish().unwrap());
        assert_eq!(&decoded(&r).unwrap()[..], b"{\"a\":1}");
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(b"zz").unwrap();
        let r = reply(&[("content-encoding", "deflate")], z.finish().unwrap());
        assert_eq!(&decoded(&r).unwrap()[..], b"zz");
        let r = reply(&[("content-encoding", "gzip")], b"not gzip".to_vec());
        assert!(decoded(&r).is_err());
        // `{"id": 7}` as Python's brotli 1.2 compresses it.
        let br = vec![11, 4, 128, 123, 34, 105, 100, 34, 58, 32, 55, 125, 3];
        let r = reply(&[("content-encoding", "br")], br);
        assert_eq!(&decoded(&r).unwrap()[..], b"{\"id\": 7}");
        let r = reply(&[("content-encoding", "zstd")], b"x".to_vec());
        assert!(decoded(&r).unwrap_err().contains("not supported"));
    }

    #[test]
    fn a_bomb_is_refused_not_inflated() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&vec![b'a'; MAX_CAPTURE_BODY + 10]).unwrap();
        let r = reply(&[("content-encoding", "gzip")], gz.finish().unwrap());
        assert!(decoded(&r).unwrap_err().contains("larger"));
    }
}
