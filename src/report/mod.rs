//! Reports rendered from results: Markdown summary, JUnit, JSON.
