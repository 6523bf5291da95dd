//! Finding the end of an HTTP/1.1 response body without keeping it: a state machine fed whatever
//! bytes a read brought, in pieces of any size, so that it needs no buffer of its own.

use std::io;

use super::http1::{Framing, MAX_HEAD};

/// Longest chunk-size line (size and extensions) and longest trailer section accepted.
const MAX_CHUNK_LINE: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chunk {
    /// Hex digits of the size: `digits` so far.
    Size {
        size: u64,
        digits: u8,
    },
    /// After the size: whitespace and `;name=value` extensions up to the line end.
    Extension {
        size: u64,
        seen: usize,
    },
    /// CR seen at the end of the size line.
    SizeLf {
        size: u64,
    },
    Data(u64),
    DataCr,
    DataLf,
    /// At the start of a trailer line (or of the empty line that ends the body).
    TrailerStart {
        seen: usize,
    },
    TrailerLine {
        seen: usize,
    },
    /// CR of the final empty line seen.
    EndLf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Length(u64),
    UntilClose,
    Chunked(Chunk),
    Done,
}

/// The body of one response being read.
#[derive(Debug)]
pub(crate) struct Body {
    state: State,
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_string())
}

impl Body {
    pub fn new(framing: Framing) -> Body {
        let state = match framing {
            Framing::Empty | Framing::Length(0) => State::Done,
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::Chunked(Chunk::Size { size: 0, digits: 0 }),
            Framing::UntilClose => State::UntilClose,
        };
        Body { state }
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The connection closed: fine for a close-delimited body, an error for any other unfinished.
    pub fn finish(&mut self) -> io::Result<()> {
        match self.state {
            State::UntilClose | State::Done => {
                self.state = State::Done;
                Ok(())
            }
            _ => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed before the response body ended",
            )),
        }
    }

    /// Consumes body bytes from the start of `input`, handing the payload to `on_data`, and
    /// returns how many were consumed: fewer than `input.len()` only once done (what follows is
    /// not this response's).
    pub fn decode(&mut self, input: &[u8], on_data: &mut impl FnMut(&[u8])) -> io::Result<usize> {
        let mut at = 0;
        while at < input.len() {
            match self.state {
                State::Done => break,
                State::UntilClose => {
                    on_data(&input[at..]);
                    at = input.len();
                }
                State::Length(left) => {
                    let take = take(left, input.len() - at);
                    on_data(&input[at..at + take]);
                    at += take;
                    let left = left - take as u64;
                    self.state = if left == 0 {
                        State::Done
                    } else {
                        State::Length(left)
                    };
                }
                State::Chunked(Chunk::Data(left)) => {
                    let take = take(left, input.len() - at);
                    on_data(&input[at..at + take]);
                    at += take;
                    let left = left - take as u64;
                    self.state = State::Chunked(if left == 0 {
                        Chunk::DataCr
                    } else {
                        Chunk::Data(left)
                    });
                }
                State::Chunked(chunk) => {
                    self.state = step(chunk, input[at])?;
                    at += 1;
                }
            }
        }
        Ok(at)
    }
}

/// Bytes to take of `available` when `left` remain: never more than either.
fn take(left: u64, available: usize) -> usize {
    usize::try_from(left).map_or(available, |left| left.min(available))
}

/// One byte of the chunked framing (outside chunk data). Bare LF is accepted where CRLF belongs,
/// as most clients do.
fn step(chunk: Chunk, b: u8) -> io::Result<State> {
    let next = match chunk {
        Chunk::Size { size, digits } => match (b as char).to_digit(16) {
            Some(_) if digits >= 15 => return Err(invalid("chunk size too large")),
            Some(d) => Chunk::Size {
                size: size << 4 | u64::from(d),
                digits: digits + 1,
            },
            None if digits == 0 => return Err(invalid("invalid chunk size")),
            None => match b {
                b'\r' => Chunk::SizeLf { size },
                b'\n' => return Ok(size_line_end(size)),
                b';' | b' ' | b'\t' => Chunk::Extension { size, seen: 1 },
                _ => return Err(invalid("invalid chunk size")),
            },
        },
        Chunk::Extension { size, seen } => match b {
            b'\r' => Chunk::SizeLf { size },
            b'\n' => return Ok(size_line_end(size)),
            _ if seen >= MAX_CHUNK_LINE => return Err(invalid("chunk extension too long")),
            _ => Chunk::Extension {
                size,
                seen: seen + 1,
            },
        },
        Chunk::SizeLf { size } => match b {
            b'\n' => return Ok(size_line_end(size)),
            _ => return Err(invalid("invalid chunk size line")),
        },
        Chunk::Data(_) => return Err(invalid("chunk data decoded bytewise")),
        Chunk::DataCr => match b {
            b'\r' => Chunk::DataLf,
            b'\n' => Chunk::Size { size: 0, digits: 0 },
            _ => return Err(invalid("chunk data longer than its size")),
        },
        Chunk::DataLf => match b {
            b'\n' => Chunk::Size { size: 0, digits: 0 },
            _ => return Err(invalid("chunk data longer than its size")),
        },
        Chunk::TrailerStart { seen } => match b {
            b'\r' => Chunk::EndLf,
            b'\n' => return Ok(State::Done),
            _ => trailer(seen)?,
        },
        Chunk::TrailerLine { seen } => match b {
            b'\n' => Chunk::TrailerStart { seen: seen + 1 },
            _ => trailer(seen)?,
        },
        Chunk::EndLf => match b {
            b'\n' => return Ok(State::Done),
            _ => return Err(invalid("invalid end of chunked body")),
        },
    };
    Ok(State::Chunked(next))
}

fn trailer(seen: usize) -> io::Result<Chunk> {
    if seen >= MAX_HEAD {
        return Err(invalid("trailers too large"));
    }
    Ok(Chunk::TrailerLine { seen: seen + 1 })
}

fn size_line_end(size: u64) -> State {
    State::Chunked(if size == 0 {
        Chunk::TrailerStart { seen: 0 }
    } else {
        Chunk::Data(size)
    })
}
