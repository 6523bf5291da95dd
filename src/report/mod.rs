//! Reports rendered from results: Markdown summary, JUnit, JSON, HTML.
//!
//! Reports read [`Results`] only; they know nothing of the engine, AWS or CI. `loadgate report`
//! renders them again from a saved results.json through [`read_results`].

mod chart;
mod comparison;
pub mod escape;
pub mod format;
mod html;
mod junit;
mod markdown;
mod regions;
mod svg;

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod html_tests;
#[cfg(test)]
mod tests;

use std::fs;
use std::path::{Path, PathBuf};

use crate::results::{Results, SCHEMA};
use crate::Error;

/// Where [`write_all`] put the reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    pub summary: PathBuf,
    pub junit: PathBuf,
    pub json: PathBuf,
    pub html: PathBuf,
}

/// summary.md: the job summary and the PR comment.
pub fn markdown(results: &Results) -> String {
    markdown::render(results).unwrap_or_else(|e| {
        // The embedded template is tested; should it still fail, the verdict must get through.
        format!(
            "## {}\n\nThe summary could not be rendered ({e}); see results.json.\n",
            markdown::verdict(results)
        )
    })
}

/// The baseline comparison alone, as `loadgate compare` prints it.
pub fn comparison_markdown(results: &Results) -> String {
    comparison::markdown(results)
}

/// report.html: one self-contained page with charts, for a CI artifact or a browser.
pub fn html(results: &Results) -> String {
    html::render(results)
}

/// junit.xml: one test case per threshold.
pub fn junit(results: &Results) -> String {
    junit::render(results)
}

/// results.json: pretty-printed, with a trailing newline.
pub fn json(results: &Results) -> String {
    // Results has string keys only and serde_json writes non-finite floats as null: this
    // cannot fail.
    let mut text = serde_json::to_string_pretty(results).unwrap_or_else(|e| {
        serde_json::json!({ "schema": SCHEMA, "error": e.to_string() }).to_string()
    });
    text.push('\n');
    text
}

/// Creates `out` (and its parents) and writes summary.md, junit.xml, results.json and
/// report.html into it.
pub fn write_all(results: &Results, out: &Path) -> std::io::Result<Written> {
    fs::create_dir_all(out)?;
    let written = Written {
        summary: out.join("summary.md"),
        junit: out.join("junit.xml"),
        json: out.join("results.json"),
        html: out.join("report.html"),
    };
    fs::write(&written.summary, markdown(results))?;
    fs::write(&written.junit, junit(results))?;
    fs::write(&written.json, json(results))?;
    fs::write(&written.html, html(results))?;
    Ok(written)
}

/// Reads a results.json written by [`write_all`] (or by a worker). A file that is not JSON, is
/// not a loadgate results file, or has another schema version is an input error naming the
/// file and what is wrong with it.
pub fn read_results(path: &Path) -> Result<Results, Error> {
    let shown = path.display();
    let text = crate::input::read_text_limited(path, crate::input::MAX_RESULTS_BYTES)
        .map_err(|e| Error::input(format!("{shown}: cannot read results: {e}")))?;
    parse_results(&text, &shown.to_string())
}

/// Parses the text of a results.json; `shown` names it in errors (a path, an S3 URL).
pub fn parse_results(text: &str, shown: &str) -> Result<Results, Error> {
    // The schema is checked first, so that a foreign JSON file or a future version gets a
    // message about what it is, not about the first field this version happens to miss.
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| Error::input(format!("{shown}: not valid JSON: {e}")))?;
    match value.get("schema") {
        Some(serde_json::Value::String(s)) if s == SCHEMA => {}
        Some(serde_json::Value::String(s)) => {
            return Err(Error::input(format!(
                "{shown}: results schema is \"{s}\", but this loadgate reads \"{SCHEMA}\"; \
                 render it with the loadgate version that wrote it"
            )))
        }
        Some(other) => {
            return Err(Error::input(format!(
                "{shown}: \"schema\" is {other}, expected \"{SCHEMA}\""
            )))
        }
        None => {
            return Err(Error::input(format!(
                "{shown}: not a loadgate results file (no \"schema\": \"{SCHEMA}\" key)"
            )))
        }
    }
    // Parsed again from the text, not the value: only then do errors carry line and column.
    let results: Results = serde_json::from_str(text)
        .map_err(|e| Error::input(format!("{shown}: invalid results: {e}")))?;
    // Every histogram is decoded once here, so that `report`, `compare` and `--baseline` refuse
    // the same files, and nothing later meets a histogram it cannot read.
    results
        .to_aggregate()
        .map_err(|e| Error::input(format!("{shown}: invalid results: {e}")))?;
    Ok(results)
}
