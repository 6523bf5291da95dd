//! What a diagnostic quotes of the source, bounded: a window of a long line and a cap on the
//! length of messages, so that a 50 MB one-line file does not come back whole on stderr.

#[derive(Debug, Clone)]
pub(super) struct Snippet {
    /// The source line, or a window of it around the node when the line is long.
    pub text: String,
    /// 1-based column (characters) of the node within `text`.
    pub column: usize,
    pub width: usize,
}

/// Characters of a source line shown around the node: a 50 MB one-line file must not come back
/// whole on stderr.
const SNIPPET_CHARS: usize = 120;
/// Characters of a message, label or help shown: they may quote the source.
const MESSAGE_CHARS: usize = 400;

/// Replaces control characters (terminal escapes, stray `\r`) one for one, so quoted source
/// cannot drive the terminal and carets stay aligned.
pub(super) fn printable(text: &str) -> String {
    let long = text.chars().nth(MESSAGE_CHARS).is_some();
    let mut out: String = text
        .chars()
        .take(MESSAGE_CHARS)
        .map(|c| {
            if c.is_control() && c != '\t' {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect();
    if long {
        out.push('…');
    }
    out
}

/// The line for a diagnostic: whole when short, else a window of [`SNIPPET_CHARS`] around the
/// node, with `…` where it was cut.
pub(super) fn snippet(line: &str, column: usize, len: usize) -> Snippet {
    let chars = line.chars().count();
    if chars <= SNIPPET_CHARS {
        let remaining = chars.saturating_sub(column - 1);
        return Snippet {
            text: line.to_string(),
            column,
            width: len.clamp(1, remaining.max(1)),
        };
    }
    let start = column.saturating_sub(1 + SNIPPET_CHARS / 3);
    let shown: String = line.chars().skip(start).take(SNIPPET_CHARS).collect();
    let cut_end = start + SNIPPET_CHARS < chars;
    let mut text = String::with_capacity(shown.len() + 8);
    if start > 0 {
        text.push('…');
    }
    text.push_str(&shown);
    if cut_end {
        text.push('…');
    }
    let column_in = column - start + usize::from(start > 0);
    let remaining = shown.chars().count().saturating_sub(column - 1 - start);
    Snippet {
        text,
        column: column_in,
        width: len.clamp(1, remaining.max(1)),
    }
}
