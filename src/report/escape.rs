//! Making untrusted text (labels, error messages, response bodies) harmless in Markdown and XML.
//!
//! A response body or an error message is written by the system under test, and a PR comment is
//! rendered by GitHub: nothing in it may open an HTML tag, a link, or break out of a table or a
//! code block.

/// Plain text for a Markdown paragraph or table cell: Markdown punctuation escaped, HTML
/// neutralised, newlines folded so that a table row stays one row.
pub fn md_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '~' | '!' | '$' => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' | '\t' => out.push(' '),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// An inline code span, safe in a table cell: a fence longer than any run of backticks inside,
/// and `|` escaped (GitHub splits cells on it even inside code).
pub fn md_code(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| match c {
            '\r' | '\n' | '\t' => ' ',
            c if c.is_control() => '\u{FFFD}',
            c => c,
        })
        .collect();
    let clean = clean.replace('|', "\\|");
    let fence = "`".repeat(longest_run(&clean, '`') + 1);
    // A space on each side when the content starts or ends with a backtick, per CommonMark.
    let pad = if clean.starts_with('`') || clean.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{clean}{pad}{fence}")
}

/// A fenced code block whose fence no line of `body` can close. `body` is cut at `max_bytes` (on
/// a character boundary) and control characters other than newlines and tabs are replaced.
pub fn md_code_block(body: &str, max_bytes: usize) -> String {
    let cut = truncate(body, max_bytes);
    let mut clean: String = cut
        .chars()
        .map(|c| match c {
            '\n' | '\t' => c,
            '\r' => '\n',
            c if c.is_control() => '\u{FFFD}',
            c => c,
        })
        .collect();
    if cut.len() < body.len() {
        clean.push('…');
    }
    let fence = "`".repeat(longest_run(&clean, '`').max(2) + 1);
    format!("{fence}text\n{}\n{fence}", clean.trim_end_matches('\n'))
}

/// Text that XML 1.0 can carry: quick-junit escapes markup, but characters XML forbids
/// outright (most control characters) would make the file unreadable.
pub fn xml_safe(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            '\u{0}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}' => '\u{FFFD}',
            c => c,
        })
        .collect()
}

/// Text for SVG and HTML content and attributes.
pub fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// At most `max_bytes` of `text`, cut on a character boundary.
pub fn truncate(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn longest_run(text: &str, ch: char) -> usize {
    let (mut best, mut run) = (0, 0);
    for c in text.chars() {
        run = if c == ch { run + 1 } else { 0 };
        best = best.max(run);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_cannot_open_tags_links_or_cells() {
        assert_eq!(
            md_text("<script>a|b</script> [x](y) *z*\nnext"),
            "&lt;script&gt;a\\|b&lt;/script&gt; \\[x\\](y) \\*z\\* next"
        );
        assert_eq!(md_text("a\u{7}b"), "a\u{FFFD}b");
    }

    #[test]
    fn code_spans_outlast_backticks_inside() {
        assert_eq!(md_code("p95 < 300ms"), "`p95 < 300ms`");
        assert_eq!(md_code("a`b"), "``a`b``");
        assert_eq!(md_code("`x"), "`` `x ``");
        assert_eq!(md_code("a|b"), "`a\\|b`");
    }

    #[test]
    fn code_blocks_cannot_be_closed_from_inside() {
        let block = md_code_block("before\n```\n<img src=x>\n", 200);
        assert!(block.starts_with("````text\n"), "{block}");
        assert!(block.ends_with("\n````"), "{block}");
        assert!(block.contains("<img src=x>"));
    }

    #[test]
    fn code_blocks_are_cut_on_a_character_boundary() {
        let body = "é".repeat(150); // 300 bytes
        let block = md_code_block(&body, 201);
        assert!(block.contains(&format!("{}…", "é".repeat(100))));
        assert!(!block.contains(&"é".repeat(101)));
    }

    #[test]
    fn xml_forbidden_characters_are_replaced() {
        assert_eq!(xml_safe("a\u{1}b\tc\u{FFFF}"), "a\u{FFFD}b\tc\u{FFFD}");
    }
}
