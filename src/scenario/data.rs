//! `data:` feeds: each CSV file is read and checked (header, quoting, UTF-8, the columns the
//! scenario names) while the scenario is resolved, so a bad file is exit 2 before any load.

use std::sync::Arc;

use indexmap::IndexMap;
use serde_saphyr::Spanned;

use crate::plan::{Exhausted, FeedMode, FeedPer, FeedPlan, Table};

use super::diagnostic::nearest;
use super::model_users::Feed;
use super::resolve::{Resolver, Result};

impl Resolver<'_> {
    pub(super) fn feeds(
        &mut self,
        data: &IndexMap<Spanned<String>, Spanned<Feed>>,
    ) -> Result<Vec<FeedPlan>> {
        let mut feeds = Vec::with_capacity(data.len());
        for (name_node, feed_node) in data {
            let name = name_node.value.trim().to_string();
            if !is_feed_name(&name) {
                return Err(self
                    .error(
                        &name_node.referenced,
                        format!("`{name}` is not a valid feed name"),
                    )
                    .label("expected letters, digits and `_`, not starting with a digit")
                    .with_help("templates name a column as `{{ feed.column }}`"));
            }
            let feed = &feed_node.value;
            let mode = match &feed.mode {
                None => FeedMode::Sequential,
                Some(m) => match self.word(m, &["sequential", "random", "unique"], "mode")? {
                    "random" => FeedMode::Random,
                    "unique" => FeedMode::Unique,
                    _ => FeedMode::Sequential,
                },
            };
            let on_exhausted = match &feed.on_exhausted {
                None => Exhausted::Stop,
                Some(m) => match self.word(m, &["stop", "recycle"], "on_exhausted")? {
                    "recycle" => Exhausted::Recycle,
                    _ => Exhausted::Stop,
                },
            };
            let per = match &feed.per {
                None => FeedPer::Iteration,
                Some(m) => match self.word(m, &["iteration", "user"], "per")? {
                    "user" => FeedPer::User,
                    _ => FeedPer::Iteration,
                },
            };
            let path = self.base_dir.join(feed.file.value.trim());
            let file = feed.file.value.trim().to_string();
            let bytes = std::fs::read(&path).map_err(|e| {
                self.error(
                    &feed.file.referenced,
                    format!("cannot read data feed `{name}` from `{file}`: {e}"),
                )
                .label("this file")
                .with_help(format!(
                    "paths are relative to the scenario file's directory (`{}`)",
                    self.base_dir_text()
                ))
            })?;
            let table = Table::parse(bytes).map_err(|e| {
                self.error(
                    &feed.file.referenced,
                    format!("data feed `{name}`: `{file}` is not valid CSV: {e}"),
                )
                .label("this file")
                .with_help("a feed is CSV (RFC 4180) in UTF-8: a header row naming the columns, then one row per record, `\"` around fields holding `,` or line breaks")
            })?;
            let columns = table.header().to_vec();
            if let Some(dup) = columns
                .iter()
                .enumerate()
                .find(|(i, c)| columns[..*i].contains(c) || c.is_empty())
            {
                return Err(self
                    .error(
                        &feed.file.referenced,
                        format!("data feed `{name}`: the header of `{file}` has an empty or repeated column name `{}`", dup.1),
                    )
                    .label("this file")
                    .with_help("each column needs a name of its own in the first row"));
            }
            if table.rows() == 0 {
                return Err(self
                    .error(
                        &feed.file.referenced,
                        format!("data feed `{name}`: `{file}` has a header but no rows"),
                    )
                    .label("this file"));
            }
            let mut secret_columns = Vec::new();
            for col in feed.secret.iter().flatten() {
                let c = col.value.trim();
                match columns.iter().position(|h| h == c) {
                    Some(i) => secret_columns.push(i),
                    None => {
                        return Err(self
                            .error(
                                &col.referenced,
                                format!("feed `{name}` has no column `{c}`"),
                            )
                            .label("not in the file's header")
                            .maybe_help(
                                nearest(c, columns.iter().map(String::as_str))
                                    .map(|n| format!("did you mean `{n}`?"))
                                    .or_else(|| {
                                        Some(format!("its columns: {}", columns.join(", ")))
                                    }),
                            ))
                    }
                }
            }
            let rows = table.rows();
            feeds.push(FeedPlan {
                name,
                file,
                path: path.display().to_string(),
                mode,
                on_exhausted,
                per,
                columns,
                secret_columns,
                rows,
                range: None,
                asset: None,
                table: Some(Arc::new(table)),
            });
        }
        Ok(feeds)
    }

    /// One of `words`, as written in `node` (case-insensitive).
    fn word(
        &self,
        node: &Spanned<String>,
        words: &[&'static str],
        what: &str,
    ) -> Result<&'static str> {
        let v = node.value.trim().to_ascii_lowercase();
        if let Some(w) = words.iter().find(|w| **w == v) {
            return Ok(w);
        }
        Err(self
            .error(
                &node.referenced,
                format!("`{}` is not a valid `{what}`", node.value.trim()),
            )
            .label(format!("expected one of {}", words.join(", ")))
            .maybe_help(nearest(&v, words.iter().copied()).map(|n| format!("did you mean `{n}`?"))))
    }
}

fn is_feed_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
