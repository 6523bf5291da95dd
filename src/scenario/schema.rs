//! The scenario file's JSON Schema, derived from the same structs the parser uses so the two
//! cannot drift apart.

use super::model::Scenario;

/// The JSON Schema of the scenario file: pretty JSON with a trailing newline.
pub fn json_schema() -> String {
    let schema = sorted(schemars::schema_for!(Scenario).to_value());
    // Serialising a schema (plain JSON values) cannot fail; fall back to an empty object
    // rather than panic if it ever did.
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_else(|_| "{}".to_string());
    text.push('\n');
    text
}

/// Keys in sorted order at every level, whether or not a dependency turned on serde_json's
/// `preserve_order` (the AWS test utilities do, in test builds): the file must not depend on it.
fn sorted(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHECKED_IN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/loadgate.schema.json");

    #[test]
    fn checked_in_schema_is_current() {
        let current = json_schema();
        if std::env::var_os("UPDATE_SCHEMA").is_some() {
            std::fs::write(CHECKED_IN, &current).expect("write schema/loadgate.schema.json");
            return;
        }
        let saved = std::fs::read_to_string(CHECKED_IN).unwrap_or_default();
        assert!(
            saved == current,
            "schema/loadgate.schema.json is out of date: run `UPDATE_SCHEMA=1 cargo test --lib scenario::schema` to rewrite it"
        );
    }

    #[test]
    fn schema_describes_the_top_level_keys() {
        let schema: serde_json::Value = serde_json::from_str(&json_schema()).expect("valid JSON");
        let properties = &schema["properties"];
        for key in [
            "name",
            "target",
            "defaults",
            "tls",
            "load",
            "workers",
            "requests",
            "thresholds",
            "fargate",
        ] {
            assert!(properties.get(key).is_some(), "missing {key}");
        }
        assert_eq!(
            schema["additionalProperties"],
            serde_json::Value::Bool(false)
        );
        let required = schema["required"].as_array().expect("required list");
        assert!(required.contains(&serde_json::Value::from("name")));
        assert!(properties["name"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("reports")));
    }
}
