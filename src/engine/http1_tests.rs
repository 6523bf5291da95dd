//! The plain-http client against scripted byte streams: every framing, reads split anywhere,
//! and malformed or truncated responses as errors rather than panics.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use proptest::prelude::*;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::http1::{parse_head, ExchangeError, Framing, H1Conn, Response, MAX_HEAD};
use super::http1_body::Body;

/// A server's side of a connection as a script: each read returns (at most) the next piece, then
/// end of stream, or a reset when `reset` is set. Writes are kept.
struct Script {
    pieces: VecDeque<Vec<u8>>,
    reset: bool,
    written: Vec<u8>,
}

impl Script {
    fn new(pieces: Vec<Vec<u8>>) -> Script {
        Script {
            pieces: pieces.into(),
            reset: false,
            written: Vec::new(),
        }
    }
}

impl AsyncRead for Script {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let Some(mut piece) = self.pieces.pop_front() else {
            if self.reset {
                return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
            }
            return Poll::Ready(Ok(()));
        };
        let n = piece.len().min(buf.remaining());
        buf.put_slice(&piece[..n]);
        if n < piece.len() {
            self.pieces.push_front(piece.split_off(n));
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Script {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.written.extend_from_slice(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// One exchange over `pieces`, keeping up to 1,000 body bytes.
fn exchange_on(
    pieces: Vec<Vec<u8>>,
    head_request: bool,
) -> (Result<Response, ExchangeError>, H1Conn<Script>) {
    let mut conn = H1Conn::new(Script::new(pieces));
    let result = block_on(conn.exchange(b"GET / HTTP/1.1\r\n\r\n", head_request, |_| 1000));
    (result, conn)
}

fn exchange(response: &[u8]) -> Result<Response, ExchangeError> {
    exchange_on(vec![response.to_vec()], false).0
}

/// `bytes` cut at the given offsets (sorted, deduplicated, within bounds).
fn split(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut pieces = Vec::new();
    let mut from = 0;
    for cut in cuts.into_iter().chain([bytes.len()]) {
        if cut > from {
            pieces.push(bytes[from..cut].to_vec());
            from = cut;
        }
    }
    pieces
}

const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n\
    5;name=value;other=\"x;y\"\r\nhello\r\n1 \r\n,\r\n6\r\n world\r\n0;last\r\n\
    Expires: never\r\nX-Trailer: 1\r\n\r\n";

#[test]
fn a_content_length_response_is_read_and_counted_whole() {
    let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: x\r\n\r\nhello";
    let r = exchange(raw).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.received, raw.len() as u64);
    assert_eq!(r.sample.as_deref(), Some(&b"hello"[..]));
    assert!(!r.close);
}

#[test]
fn the_request_goes_out_as_given() {
    let (_, conn) = exchange_on(vec![b"HTTP/1.1 204 No Content\r\n\r\n".to_vec()], false);
    assert_eq!(conn_written(&conn), b"GET / HTTP/1.1\r\n\r\n");
}

fn conn_written(conn: &H1Conn<Script>) -> &[u8] {
    &conn.stream_ref().written
}

#[test]
fn chunked_with_extensions_and_trailers_yields_the_payload_only() {
    let r = exchange(CHUNKED).unwrap();
    assert_eq!(r.sample.as_deref(), Some(&b"hello, world"[..]));
    assert_eq!(r.received, CHUNKED.len() as u64);
    assert!(!r.close);
}

#[test]
fn chunked_split_at_every_byte_gives_the_same_result() {
    let whole = exchange(CHUNKED).unwrap();
    for cut in 0..=CHUNKED.len() {
        let (r, _) = exchange_on(split(CHUNKED, &[cut]), false);
        let r = r.unwrap();
        assert_eq!(r.sample, whole.sample, "cut at {cut}");
        assert_eq!(r.received, whole.received, "cut at {cut}");
    }
    // And one byte per read.
    let bytes: Vec<Vec<u8>> = CHUNKED.iter().map(|&b| vec![b]).collect();
    let r = exchange_on(bytes, false).0.unwrap();
    assert_eq!(r.sample, whole.sample);
}

#[test]
fn a_close_delimited_body_ends_at_the_close_and_closes() {
    let raw = b"HTTP/1.1 200 OK\r\nServer: x\r\n\r\nuntil the end";
    let r = exchange(raw).unwrap();
    assert_eq!(r.sample.as_deref(), Some(&b"until the end"[..]));
    assert_eq!(r.received, raw.len() as u64);
    assert!(r.close);
}

#[test]
fn connection_close_and_http10_defaults_close_the_connection() {
    let r = exchange(b"HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n").unwrap();
    assert!(r.close);
    let r = exchange(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").unwrap();
    assert!(r.close && r.http10);
    let r = exchange(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n")
        .unwrap();
    assert!(!r.close);
    let (r, conn) = exchange_on(
        vec![
            b"HTTP/1.1 200 OK\r\nConnection: upgrade, close\r\nContent-Length: 0\r\n\r\n".to_vec(),
        ],
        false,
    );
    assert!(r.unwrap().close && conn.is_closed());
}

#[test]
fn interim_responses_are_skipped() {
    let raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n\
        HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
    for cut in 0..=raw.len() {
        let r = exchange_on(split(raw, &[cut]), false).0.unwrap();
        assert_eq!(r.status, 201, "cut at {cut}");
        assert_eq!(r.received, raw.len() as u64, "cut at {cut}");
    }
}

#[test]
fn head_204_and_304_have_no_body_whatever_they_say() {
    let (r, conn) = exchange_on(
        vec![b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n".to_vec()],
        true,
    );
    let r = r.unwrap();
    assert_eq!(r.sample.as_deref(), Some(&b""[..]));
    assert!(!conn.is_closed());
    for status in ["204 No Content", "304 Not Modified"] {
        let raw = format!("HTTP/1.1 {status}\r\nContent-Length: 10\r\n\r\n");
        let r = exchange(raw.as_bytes()).unwrap();
        assert_eq!(r.received, raw.len() as u64);
        assert!(!r.close);
    }
}

#[test]
fn bytes_after_the_response_close_the_connection_but_keep_the_response() {
    let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokGARBAGE\r\n";
    let (r, conn) = exchange_on(vec![raw.to_vec()], false);
    let r = r.unwrap();
    assert_eq!(r.status, 200);
    assert!(r.close && conn.is_closed());
}

#[test]
fn a_premature_close_is_an_error_and_says_whether_anything_came() {
    let err = exchange(b"").unwrap_err();
    assert!(err.closed_unanswered(), "{err:?}");
    let mut conn = H1Conn::new(Script {
        reset: true,
        ..Script::new(vec![])
    });
    let err = block_on(conn.exchange(b"GET / HTTP/1.1\r\n\r\n", false, |_| 0)).unwrap_err();
    assert!(err.closed_unanswered());
    for truncated in [
        &b"HTTP/1.1 200 OK\r\nContent-Le"[..],
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: 1\r\n",
    ] {
        let err = exchange(truncated).unwrap_err();
        assert!(!err.closed_unanswered(), "{err:?}");
        assert_eq!(err.error.kind(), io::ErrorKind::UnexpectedEof);
        assert!(conn_is_unusable(truncated));
    }
}

fn conn_is_unusable(raw: &[u8]) -> bool {
    exchange_on(vec![raw.to_vec()], false).1.is_closed()
}

#[test]
fn oversized_and_malformed_heads_are_io_errors() {
    let mut huge = b"HTTP/1.1 200 OK\r\nX-Filler: ".to_vec();
    huge.resize(MAX_HEAD + 100, b'a');
    huge.extend_from_slice(b"\r\n\r\n");
    let err = exchange(&huge).unwrap_err();
    assert_eq!(err.error.kind(), io::ErrorKind::InvalidData);
    assert!(
        err.error.to_string().contains("larger than"),
        "{}",
        err.error
    );

    let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..200 {
        many.extend_from_slice(format!("X-{i}: 1\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    assert_eq!(
        exchange(&many).unwrap_err().error.kind(),
        io::ErrorKind::InvalidData
    );

    for bad in [
        &b"garbage\r\n\r\n"[..],
        b"HTTP/1.1 2x0 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
    ] {
        let err = exchange(bad).unwrap_err();
        assert!(
            !err.closed_unanswered(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
        assert_eq!(
            err.error.kind(),
            io::ErrorKind::InvalidData,
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn a_large_body_is_read_through_a_growing_buffer() {
    let body = vec![b'x'; 300_000];
    let mut raw = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    let head = raw.len();
    raw.extend_from_slice(&body);
    let r = exchange(&raw).unwrap();
    assert_eq!(r.received, raw.len() as u64);
    assert_eq!(r.sample.map(|s| s.len()), Some(1000));
    assert_eq!(head + body.len(), raw.len());
}

#[test]
fn parse_head_reads_framing() {
    let head = |raw: &[u8]| parse_head(raw, false).unwrap().unwrap();
    assert_eq!(
        head(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n").framing,
        Framing::Length(7)
    );
    assert_eq!(
        head(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").framing,
        Framing::Empty
    );
    // Transfer-Encoding wins over Content-Length; a coding other than chunked last runs to the close.
    let h = head(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert_eq!(h.framing, Framing::Chunked);
    let h = head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n");
    assert_eq!((h.framing, h.close), (Framing::UntilClose, true));
    assert_eq!(
        parse_head(b"HTTP/1.1 200 OK\r\nContent-Len", false).unwrap(),
        None
    );
    // Names match whatever their case, and only whole.
    let h = head(b"HTTP/1.1 200 OK\r\nCONTENT-LENGTH: 3\r\ncOnNeCtIoN: Close\r\n\r\n");
    assert_eq!((h.framing, h.close), (Framing::Length(3), true));
    let h = head(b"HTTP/1.1 200 OK\r\nContent-Lengthy: 3\r\nConnectio: close\r\n\r\n");
    assert_eq!((h.framing, h.close), (Framing::UntilClose, true));
    let h = head(b"HTTP/1.1 200 OK\r\nX-Connection: close\r\nContent-Length: 1\r\n\r\n");
    assert!(!h.close);
}

#[test]
fn a_connection_is_reusable_for_the_next_exchange_and_parks_empty() {
    let one = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na".to_vec();
    let two = b"HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nb".to_vec();
    let mut conn = H1Conn::new(Script::new(vec![one, two]));
    let first = block_on(conn.exchange(b"GET /1 HTTP/1.1\r\n\r\n", false, |_| 0)).unwrap();
    assert_eq!(first.sample, None);
    conn.park();
    let second =
        block_on(conn.exchange(b"GET /2 HTTP/1.1\r\n\r\n", false, |s| usize::from(s == 404)))
            .unwrap();
    assert_eq!(
        (second.status, second.sample.as_deref()),
        (404, Some(&b"b"[..]))
    );
    assert_eq!(
        conn_written(&conn),
        b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n"
    );
}

/// A valid response with a random framing and body, and its payload.
fn response() -> impl Strategy<Value = (Vec<u8>, Vec<u8>, bool)> {
    (
        proptest::collection::vec(any::<u8>(), 0..300),
        0..3u8,
        proptest::collection::vec(1..40usize, 0..8),
        any::<bool>(),
    )
        .prop_map(|(body, framing, chunk_sizes, extras)| {
            let mut raw = b"HTTP/1.1 200 OK\r\nServer: proptest\r\n".to_vec();
            let until_close = framing == 2;
            match framing {
                0 => raw.extend_from_slice(
                    format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes(),
                ),
                1 => {
                    raw.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                    let mut rest = &body[..];
                    let mut sizes = chunk_sizes.iter().cycle();
                    while !rest.is_empty() {
                        let n = sizes.next().copied().unwrap_or(rest.len()).min(rest.len());
                        let ext = if extras { ";e=1" } else { "" };
                        raw.extend_from_slice(format!("{n:X}{ext}\r\n").as_bytes());
                        raw.extend_from_slice(&rest[..n]);
                        raw.extend_from_slice(b"\r\n");
                        rest = &rest[n..];
                    }
                    raw.extend_from_slice(b"0\r\n");
                    if extras {
                        raw.extend_from_slice(b"Trailer-A: x\r\n");
                    }
                    raw.extend_from_slice(b"\r\n");
                }
                _ => raw.extend_from_slice(b"\r\n"),
            }
            if framing != 1 {
                raw.extend_from_slice(&body);
            }
            (raw, body, until_close)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_splits_of_valid_responses_read_the_same(
        (raw, body, until_close) in response(),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let (r, conn) = exchange_on(split(&raw, &cuts), false);
        let r = r.unwrap();
        prop_assert_eq!(r.status, 200);
        prop_assert_eq!(r.sample.as_deref(), Some(&body[..body.len().min(1000)]));
        prop_assert_eq!(r.close, until_close);
        prop_assert_eq!(conn.is_closed(), until_close);
        prop_assert_eq!(r.received, raw.len() as u64);
    }

    #[test]
    fn the_body_decoder_never_panics_on_random_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
        cut in any::<usize>(),
    ) {
        let mut body = Body::new(Framing::Chunked);
        let mut seen = 0usize;
        let (a, b) = bytes.split_at(cut % (bytes.len() + 1));
        // Payload is handed out only from bytes consumed, errors or not.
        let consumed = body.decode(a, &mut |d: &[u8]| seen += d.len()).and_then(|n| {
            let m = body.decode(b, &mut |d: &[u8]| seen += d.len())?;
            Ok(n + m)
        });
        prop_assert!(seen <= bytes.len());
        if let Ok(consumed) = consumed {
            prop_assert!(seen <= consumed && consumed <= bytes.len());
        }
    }

    #[test]
    fn parse_head_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_head(&bytes, false);
    }
}
