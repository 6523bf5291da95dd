//! The text of a pull-request comment, merge-request note or check-run summary, and fitting any
//! of them under the size limit of the API that receives it.

use crate::report::escape::truncate;

/// The hidden line that finds this scenario's comment among all others on a pull request.
pub fn marker(name: &str) -> String {
    // `--` inside an HTML comment ends it early on some renderers, and `>` could close it.
    let safe = name.replace("--", "-").replace('>', "");
    format!("<!-- loadgate:{safe} -->")
}

/// How an API counts the size of a text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    /// UTF-8 bytes (GitHub's job summary).
    Bytes,
    /// UTF-16 code units, as JavaScript counts (GitHub's 65,536-character body limit): an emoji
    /// counts twice, so counting `char`s would overshoot.
    Utf16,
}

impl Measure {
    fn of(self, text: &str) -> usize {
        match self {
            Measure::Bytes => text.len(),
            Measure::Utf16 => text.encode_utf16().count(),
        }
    }
}

/// Said where sections were left out.
const LEFT_OUT: &str =
    "\n_Some details were left out to fit the size limit: summary.md in the report has them all._\n";

/// `markdown` cut to at most `max` (as `measure` counts). Detail blocks go first, then whole
/// `###` sections from the end (the thresholds stay, they are the verdict), and only then is the
/// text cut at a line.
pub fn fit(markdown: &str, max: usize, measure: Measure) -> String {
    if measure.of(markdown) <= max {
        return markdown.to_string();
    }
    let budget = max.saturating_sub(measure.of(LEFT_OUT));
    let without_details = drop_details(markdown);
    let (head, mut sections) = split_sections(&without_details);
    let joined = |head: &str, sections: &[&str]| {
        let mut text = head.to_string();
        for s in sections {
            text.push_str(s);
        }
        text
    };
    loop {
        let text = joined(head, &sections);
        if measure.of(&text) <= budget {
            return format!("{}{LEFT_OUT}", text.trim_end_matches('\n'));
        }
        let last_optional = sections
            .iter()
            .rposition(|s| !s.starts_with("### Thresholds"));
        match last_optional {
            Some(i) => {
                sections.remove(i);
            }
            None => return cut_at_line(&text, budget, measure),
        }
    }
}

/// Removes every `<details>…</details>` block (sample failures and the like).
fn drop_details(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len());
    let mut rest = markdown;
    while let Some(start) = rest.find("<details>") {
        out.push_str(&rest[..start]);
        match rest[start..].find("</details>") {
            Some(end) => rest = &rest[start + end + "</details>".len()..],
            // An unclosed block: drop the rest rather than leave a dangling tag.
            None => rest = "",
        }
    }
    out.push_str(rest);
    out
}

/// The text before the first `### ` heading, and each section from its heading on.
fn split_sections(markdown: &str) -> (&str, Vec<&str>) {
    let starts: Vec<usize> = line_starts(markdown)
        .filter(|&i| markdown[i..].starts_with("### "))
        .collect();
    let Some(&first) = starts.first() else {
        return (markdown, Vec::new());
    };
    let mut sections = Vec::with_capacity(starts.len());
    for (k, &start) in starts.iter().enumerate() {
        let end = starts.get(k + 1).copied().unwrap_or(markdown.len());
        sections.push(&markdown[start..end]);
    }
    (&markdown[..first], sections)
}

fn line_starts(text: &str) -> impl Iterator<Item = usize> + '_ {
    std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1))
}

/// The longest run of whole lines that fits, then the note.
fn cut_at_line(text: &str, budget: usize, measure: Measure) -> String {
    // Bytes bound UTF-16 units from above, so a byte cut at `budget` is always small enough.
    let mut cut = truncate(text, budget);
    if let Some(nl) = cut.rfind('\n') {
        cut = &cut[..nl];
    }
    debug_assert!(measure.of(cut) <= budget);
    format!("{cut}{LEFT_OUT}")
}

/// Where a comment comes from, shown under it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Origin {
    pub commit: Option<String>,
    pub run_url: Option<String>,
    /// What to call the link: "workflow run", "job".
    pub run_label: &'static str,
}

/// Marker + summary (fitted) + a line saying which commit and run produced it.
pub(crate) fn comment(name: &str, summary: &str, origin: &Origin, max: usize) -> String {
    let mut footer = String::from("\n---\n<sub>");
    let mut parts = Vec::new();
    if let Some(sha) = &origin.commit {
        let short: String = sha.chars().take(7).collect();
        parts.push(format!("commit `{short}`"));
    }
    if let Some(url) = &origin.run_url {
        parts.push(format!("[{}]({url})", origin.run_label));
    }
    parts.push(format!("loadgate {}", env!("CARGO_PKG_VERSION")));
    footer.push_str(&parts.join(" · "));
    footer.push_str("</sub>\n");
    let head = format!("{}\n", marker(name));
    let room = max.saturating_sub(Measure::Utf16.of(&head) + Measure::Utf16.of(&footer));
    format!(
        "{head}{}{footer}",
        fit(summary.trim_end(), room, Measure::Utf16)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUMMARY: &str = "## ❌ loadgate: api failed\n\nrun `x`\n\n### Thresholds\n\n| ❌ | `p95 < 1ms` |\n\n### Totals\n\ntotals\n\n### By label\n\nlabels\n\n<details><summary>Sample failures</summary>\n\nlots of text\n\n</details>\n\n### Response time over time\n\nchart\n";

    #[test]
    fn marker_cannot_close_the_comment_early() {
        assert_eq!(marker("api"), "<!-- loadgate:api -->");
        assert_eq!(marker("a-->b"), "<!-- loadgate:a-b -->");
    }

    #[test]
    fn text_under_the_limit_is_unchanged() {
        assert_eq!(fit(SUMMARY, 10_000, Measure::Bytes), SUMMARY);
    }

    #[test]
    fn details_go_first() {
        let long = SUMMARY.replace("lots of text", &"lots of text ".repeat(50));
        let fitted = fit(&long, SUMMARY.len() + 50, Measure::Bytes);
        assert!(!fitted.contains("lots of text"), "{fitted}");
        assert!(fitted.contains("### Response time over time"), "{fitted}");
        assert!(fitted.ends_with(LEFT_OUT));
    }

    #[test]
    fn sections_go_from_the_end_but_thresholds_stay() {
        let fitted = fit(SUMMARY, 80 + LEFT_OUT.len(), Measure::Bytes);
        assert!(fitted.contains("### Thresholds"), "{fitted}");
        assert!(!fitted.contains("### Totals"), "{fitted}");
        assert!(!fitted.contains("chart"), "{fitted}");
        assert!(fitted.len() <= 80 + LEFT_OUT.len());
    }

    #[test]
    fn a_huge_thresholds_table_is_cut_at_a_line() {
        let huge = format!("## v\n\n### Thresholds\n\n{}", "| row |\n".repeat(10_000));
        let fitted = fit(&huge, 1_000, Measure::Bytes);
        assert!(fitted.len() <= 1_000);
        assert!(fitted.contains("| row |\n"));
        assert!(fitted.ends_with(LEFT_OUT));
    }

    #[test]
    fn emoji_count_twice_in_utf16() {
        let text = "✅😀".repeat(100);
        assert_eq!(Measure::Utf16.of(&text), 300);
        let fitted = fit(&text, 150, Measure::Utf16);
        assert!(Measure::Utf16.of(&fitted) <= 150);
    }

    #[test]
    fn comment_has_marker_summary_and_origin() {
        let origin = Origin {
            commit: Some("0123456789abcdef".into()),
            run_url: Some("https://github.com/o/r/actions/runs/7".into()),
            run_label: "workflow run",
        };
        let body = comment("api", SUMMARY, &origin, 65_536);
        assert!(body.starts_with("<!-- loadgate:api -->\n## ❌"));
        assert!(body.contains(
            "<sub>commit `0123456` · [workflow run](https://github.com/o/r/actions/runs/7) · loadgate "
        ));
        let small = comment("api", SUMMARY, &origin, 300);
        assert!(Measure::Utf16.of(&small) <= 300, "{small}");
        assert!(small.starts_with("<!-- loadgate:api -->"));
        assert!(small.contains("<sub>commit"));
    }
}
