//! A CSV data feed in memory: RFC 4180 (header row, `"` quoting with `""` escapes, CRLF or LF),
//! UTF-8. Every field's decoded text is kept in one string and found by its end offset, so a file
//! takes about its own size plus 4 bytes a field, and a million rows load in a fraction of a second.

use std::sync::atomic::AtomicU64;

/// Largest feed file: offsets are 32-bit.
pub const MAX_FEED_BYTES: usize = 1 << 30;

/// A malformed feed, with the 1-based line and column of the problem.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct CsvError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Rows of a feed (without the header).
#[derive(Debug)]
pub struct Table {
    columns: usize,
    header: Vec<String>,
    text: String,
    /// End offset in `text` of field `row * columns + column`.
    ends: Vec<u32>,
    /// Next row for `sequential` and `unique` feeds, shared by every engine thread of the process.
    pub cursor: AtomicU64,
}

impl Table {
    pub fn header(&self) -> &[String] {
        &self.header
    }

    pub fn rows(&self) -> u64 {
        self.ends
            .len()
            .checked_div(self.columns)
            .map_or(0, |rows| rows as u64)
    }

    /// The text of `column` in `row` (both in range: the caller took them from this table).
    #[inline]
    pub fn field(&self, row: u64, column: usize) -> &str {
        let i = row as usize * self.columns + column;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        let end = self.ends[i] as usize;
        self.text.get(start..end).unwrap_or("")
    }

    /// Bytes held (text and offsets), for the benchmark's figure.
    pub fn heap_bytes(&self) -> usize {
        self.text.capacity() + self.ends.capacity() * 4
    }

    /// Parses a whole file, decoding the fields in place in its own buffer (unquoting only ever
    /// shortens them), so the file is held once. An empty file, a missing header, a row with
    /// another number of fields than the header, an unclosed quote or invalid UTF-8 is an error.
    pub fn parse(bytes: Vec<u8>) -> Result<Table, CsvError> {
        if bytes.len() > MAX_FEED_BYTES {
            return Err(CsvError {
                line: 1,
                column: 1,
                message: format!("the file is larger than {} MiB", MAX_FEED_BYTES / (1 << 20)),
            });
        }
        if let Err(e) = std::str::from_utf8(&bytes) {
            let (line, column) = position(&bytes, e.valid_up_to());
            return Err(CsvError {
                line,
                column,
                message: "the file is not valid UTF-8".to_string(),
            });
        }
        let bom = if bytes.starts_with("\u{feff}".as_bytes()) {
            3
        } else {
            0
        };
        let lines = bytes.iter().filter(|&&b| b == b'\n').count() + 1;
        let mut parser = Parser {
            buf: bytes,
            at: bom,
            w: 0,
            line: 1,
            line_start: bom,
        };
        let mut ends: Vec<u32> = Vec::new();
        let mut header_ends: Vec<u32> = Vec::new();
        let mut columns = 0usize;
        let mut record_line;
        loop {
            if parser.at >= parser.buf.len() {
                break;
            }
            // An empty line at the end (or anywhere) is not a record.
            if matches!(parser.buf[parser.at], b'\n' | b'\r') {
                parser.newline();
                continue;
            }
            record_line = parser.line;
            let target = if columns == 0 {
                &mut header_ends
            } else {
                &mut ends
            };
            let before = target.len();
            parser.record(target)?;
            let fields = target.len() - before;
            if columns == 0 {
                columns = fields;
                // One slot per field of every line: no doubling, no copy when it is full.
                ends.reserve_exact(lines.saturating_mul(columns));
            } else if fields != columns {
                return Err(CsvError {
                    line: record_line,
                    column: 1,
                    message: format!("this row has {fields} field(s) but the header has {columns}"),
                });
            }
        }
        if columns == 0 {
            return Err(CsvError {
                line: 1,
                column: 1,
                message: "the file is empty: a feed needs a header row naming its columns"
                    .to_string(),
            });
        }
        // Header fields come first in the buffer; they move out and row offsets shift to follow.
        let mut out = parser.buf;
        out.truncate(parser.w);
        let header_len = header_ends.last().copied().unwrap_or(0) as usize;
        let mut header = Vec::with_capacity(columns);
        let mut start = 0usize;
        for &end in &header_ends {
            header.push(
                String::from_utf8_lossy(&out[start..end as usize])
                    .trim()
                    .to_string(),
            );
            start = end as usize;
        }
        out.drain(..header_len);
        // Valid UTF-8 with only ASCII bytes (quotes, separators) taken out: this cannot fail.
        let body = String::from_utf8(out).map_err(|_| CsvError {
            line: 1,
            column: 1,
            message: "the file is not valid UTF-8".to_string(),
        })?;
        for end in ends.iter_mut() {
            *end -= header_len as u32;
        }
        ends.shrink_to_fit();
        Ok(Table {
            columns,
            header,
            text: body,
            ends,
            cursor: AtomicU64::new(0),
        })
    }
}

fn position(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    (line, offset - start + 1)
}

/// Reads at `at` and writes decoded field bytes at `w` (never past `at`) in the same buffer.
struct Parser {
    buf: Vec<u8>,
    at: usize,
    w: usize,
    line: usize,
    line_start: usize,
}

impl Parser {
    fn error(&self, message: &str) -> CsvError {
        CsvError {
            line: self.line,
            column: self.at - self.line_start + 1,
            message: message.to_string(),
        }
    }

    /// Consumes one CR, LF or CRLF.
    fn newline(&mut self) {
        if self.buf[self.at] == b'\r' {
            self.at += 1;
        }
        if self.at < self.buf.len() && self.buf[self.at] == b'\n' {
            self.at += 1;
        }
        self.line += 1;
        self.line_start = self.at;
    }

    fn push(&mut self, b: u8) {
        self.buf[self.w] = b;
        self.w += 1;
    }

    /// One record up to and including its line end.
    fn record(&mut self, ends: &mut Vec<u32>) -> Result<(), CsvError> {
        loop {
            self.field()?;
            ends.push(self.w as u32);
            if self.at >= self.buf.len() {
                return Ok(());
            }
            match self.buf[self.at] {
                b',' => self.at += 1,
                b'\r' | b'\n' => {
                    self.newline();
                    return Ok(());
                }
                _ => {
                    return Err(
                        self.error("expected `,` or the end of the line after a quoted field")
                    )
                }
            }
        }
    }

    fn field(&mut self) -> Result<(), CsvError> {
        if self.at < self.buf.len() && self.buf[self.at] == b'"' {
            let (open_line, open_col) = (self.line, self.at - self.line_start + 1);
            self.at += 1;
            loop {
                let Some(&b) = self.buf.get(self.at) else {
                    return Err(CsvError {
                        line: open_line,
                        column: open_col,
                        message: "this quoted field is never closed".to_string(),
                    });
                };
                self.at += 1;
                match b {
                    b'"' if self.buf.get(self.at) == Some(&b'"') => {
                        self.push(b'"');
                        self.at += 1;
                    }
                    b'"' => return Ok(()),
                    b'\n' => {
                        self.push(b);
                        self.line += 1;
                        self.line_start = self.at;
                    }
                    _ => self.push(b),
                }
            }
        }
        let start = self.at;
        while self.at < self.buf.len() {
            match self.buf[self.at] {
                b',' | b'\r' | b'\n' => break,
                b'"' => {
                    return Err(self.error(
                        "a `\"` inside an unquoted field: quote the whole field and double the quote (`\"a\"\"b\"`)",
                    ))
                }
                _ => self.at += 1,
            }
        }
        self.buf.copy_within(start..self.at, self.w);
        self.w += self.at - start;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_quotes_crlf_and_bom() {
        let t = Table::parse(
            b"\xef\xbb\xbfemail,password\r\na@x,\"p,1\"\r\n\"b\"\"q\",\"multi\nline\"\n\n".to_vec(),
        )
        .unwrap();
        assert_eq!(t.header(), ["email", "password"]);
        assert_eq!(t.rows(), 2);
        assert_eq!(t.field(0, 0), "a@x");
        assert_eq!(t.field(0, 1), "p,1");
        assert_eq!(t.field(1, 0), "b\"q");
        assert_eq!(t.field(1, 1), "multi\nline");
    }

    #[test]
    fn malformed_files_say_where() {
        let e = Table::parse(b"a,b\n1,2\n3\n".to_vec()).unwrap_err();
        assert_eq!((e.line, e.column), (3, 1));
        assert!(e.message.contains("1 field(s)"), "{e}");
        let e = Table::parse(b"a\n\"open\n".to_vec()).unwrap_err();
        assert_eq!((e.line, e.column), (2, 1));
        let e = Table::parse(b"a\nx\"y\n".to_vec()).unwrap_err();
        assert_eq!((e.line, e.column), (2, 2));
        let e = Table::parse(b"a\n\xff\n".to_vec()).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(Table::parse(b"".to_vec()).is_err());
        assert!(Table::parse(b"\n\n".to_vec()).is_err());
    }

    #[test]
    fn fields_after_unquoting_stay_in_place() {
        let t =
            Table::parse(b"a,b,c\n\"x\"\"y\",plain,\"\"\n\"\",\"q,\"\"\",z\n".to_vec()).unwrap();
        let rows: Vec<Vec<&str>> = (0..t.rows())
            .map(|r| (0..3).map(|c| t.field(r, c)).collect())
            .collect();
        assert_eq!(rows, [["x\"y", "plain", ""], ["", "q,\"", "z"]]);
    }

    #[test]
    fn a_header_only_file_has_no_rows() {
        let t = Table::parse(b"a,b\n".to_vec()).unwrap();
        assert_eq!(t.rows(), 0);
    }
}
