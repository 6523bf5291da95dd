//! Rendering compiled templates ([`Template`]) for one user: text is copied, values are inserted
//! as data. In a request target, bytes a URL cannot hold are percent-encoded; in a header value,
//! control characters become spaces (a value can never end the header); a body gets values as
//! they are.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::plan::{Expr, Segment, Template};

use super::user::User;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Escape {
    Target,
    Header,
    Body,
}

/// Appends `t` rendered for `user` to `out`.
pub(crate) fn render(t: &Template, user: &mut User, esc: Escape, out: &mut Vec<u8>) {
    for segment in &t.0 {
        match segment {
            Segment::Text(text) => out.extend_from_slice(text.as_bytes()),
            Segment::Value(e) => value(e, user, esc, out),
        }
    }
}

fn value(e: &Expr, user: &mut User, esc: Escape, out: &mut Vec<u8>) {
    let num = |n: i128, out: &mut Vec<u8>| {
        use std::io::Write;
        let _ = write!(out, "{n}");
    };
    match e {
        Expr::Column { feed, column } => {
            let text = user.column(*feed, *column);
            push(text.as_bytes(), esc, out);
        }
        Expr::Capture(slot) => {
            let text = user
                .captures
                .get(*slot)
                .and_then(|c| c.as_deref())
                .unwrap_or("");
            push(text.as_bytes(), esc, out);
        }
        Expr::User => num(i128::from(user.number), out),
        Expr::Iteration => num(i128::from(user.iteration), out),
        Expr::NowMs => num(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i128),
            out,
        ),
        Expr::RandomInt(a, b) => {
            let n = user.rng.i64(*a..=*b);
            num(i128::from(n), out);
        }
        Expr::RandomChoice(items) => {
            if !items.is_empty() {
                let i = user.rng.usize(..items.len());
                push(items[i].as_bytes(), esc, out);
            }
        }
        Expr::Uuid => uuid(user.rng.u128(..), out),
    }
}

/// A version 4 UUID from 128 random bits.
fn uuid(bits: u128, out: &mut Vec<u8>) {
    let mut b = bits.to_be_bytes();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push(b'-');
        }
        out.push(HEX[usize::from(byte >> 4)]);
        out.push(HEX[usize::from(byte & 0xf)]);
    }
}

fn push(value: &[u8], esc: Escape, out: &mut Vec<u8>) {
    match esc {
        Escape::Body => out.extend_from_slice(value),
        Escape::Header => out.extend(value.iter().map(|&b| {
            if b < 0x20 && b != b'\t' || b == 0x7f {
                b' '
            } else {
                b
            }
        })),
        Escape::Target => {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            for &b in value {
                if b <= 0x20 || b >= 0x7f || b"\"#<>\\^`{|}".contains(&b) {
                    out.extend_from_slice(&[
                        b'%',
                        HEX[usize::from(b >> 4)],
                        HEX[usize::from(b & 0xf)],
                    ]);
                } else {
                    out.push(b);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_per_place() {
        let mut out = Vec::new();
        push("a b#ü\r\n".as_bytes(), Escape::Target, &mut out);
        assert_eq!(out, b"a%20b%23%C3%BC%0D%0A");
        out.clear();
        push(b"x\r\nInjected: 1", Escape::Header, &mut out);
        assert_eq!(out, b"x  Injected: 1");
        out.clear();
        push(b"{{ user }}", Escape::Body, &mut out);
        assert_eq!(out, b"{{ user }}");
    }

    #[test]
    fn uuids_are_version_4() {
        let mut out = Vec::new();
        uuid(u128::MAX, &mut out);
        let s = String::from_utf8(out).unwrap();
        assert_eq!(s.len(), 36);
        assert_eq!(&s[14..15], "4");
        assert!(matches!(&s[19..20], "8" | "9" | "a" | "b"), "{s}");
    }
}
