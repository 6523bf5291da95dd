//! The scenario file's JSON Schema, derived from the same structs the parser uses so the two
//! cannot drift apart.

use serde_json::{json, Value};

use super::model::Scenario;

/// The JSON Schema of the scenario file: pretty JSON with a trailing newline.
pub fn json_schema() -> String {
    let schema = sorted(align(schemars::schema_for!(Scenario).to_value()));
    // Serialising a schema (plain JSON values) cannot fail; fall back to an empty object
    // rather than panic if it ever did.
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_else(|_| "{}".to_string());
    text.push('\n');
    text
}

/// A whole number as YAML writes one, which the parser also takes quoted (`'10'`, `0x10`, `1_000`).
const YAML_INT: &str = r"^\s*[-+]?(0x[0-9a-fA-F_]+|0o[0-7_]+|[0-9][0-9_]*)\s*$";
/// A whole number above zero, likewise.
const YAML_POSITIVE_INT: &str =
    r"^\s*\+?(0x[0-9a-fA-F_]*[1-9a-fA-F][0-9a-fA-F_]*|0o[0-7_]*[1-7][0-7_]*|0*[1-9][0-9_]*)\s*$";
/// A duration of zero (`0`, `0s`, `0ms`, `0m0s`).
const ZERO_DURATION: &str = r"^\s*(0|(0+(\.0+)?(us|µs|ms|s|m|h))+)\s*$";
/// An absolute http(s) URL with a host (any case of the scheme), or text holding a `${VAR}`
/// whose value only the run knows.
const URL: &str = r"^\s*([hH][tT][tT][pP][sS]?://[^/?#\s]+.*|.*\$\{.*)$";
/// The same without a query or fragment: a base URL.
const BASE_URL: &str = r"^\s*([hH][tT][tT][pP][sS]?://[^/?#\s]+[^?#]*|.*\$\{.*)$";

/// What the structs alone cannot say, so that the schema accepts what the binary accepts and
/// refuses what it refuses (tests/it/schema_alignment.rs checks both over a corpus):
/// - the parser takes any scalar where text is expected (`X-Count: 5`, `name: 5`), whole numbers
///   written as strings (`concurrency: '10'`), and `'true'` for a boolean;
/// - a request has `path` or `url` (not both), and `body` or `body_file` (not both);
/// - a load of no time at all (`hold_for: 0s` without a ramp-up) is refused;
/// - `target` is a base URL and `url` an absolute URL (or hold a `${VAR}`).
fn align(mut schema: Value) -> Value {
    let any_scalar = json!({ "type": ["string", "number", "boolean"] });
    let int_like = |minimum: Option<i64>| {
        let pattern = if minimum == Some(1) {
            YAML_POSITIVE_INT
        } else {
            YAML_INT
        };
        json!({ "type": "string", "pattern": pattern })
    };
    let bool_like =
        json!({ "type": "string", "enum": ["true", "false", "True", "False", "TRUE", "FALSE"] });
    // Text fields that take any scalar.
    if let Some(name) = schema.pointer_mut("/properties/name") {
        name["type"] = json!(["string", "number", "boolean"]);
    }
    for path in [
        "/$defs/Defaults/properties/headers",
        "/$defs/Request/properties/headers",
    ] {
        if let Some(headers) = schema.pointer_mut(path) {
            headers["additionalProperties"] = any_scalar.clone();
        }
    }
    for path in [
        "/$defs/Request/properties/body",
        "/$defs/Request/properties/body_file",
        "/$defs/Tls/properties/ca_file",
    ] {
        if let Some(field) = schema.pointer_mut(path) {
            field["type"] = json!(["string", "number", "boolean", "null"]);
        }
    }
    // Whole numbers, also as strings.
    for path in [
        "/properties/workers",
        "/$defs/ClosedLoad/properties/concurrency",
        "/$defs/OpenLoad/properties/max_in_flight",
        "/$defs/Fargate/properties/memory",
        "/$defs/Fargate/properties/min_workers",
    ] {
        if let Some(field) = schema.pointer_mut(path) {
            let minimum = field.get("minimum").and_then(Value::as_i64);
            let original = field.take();
            let description = original.get("description").cloned();
            let mut widened = json!({ "anyOf": [original, int_like(minimum)] });
            if let Some(d) = description {
                widened["description"] = d;
                widened["anyOf"][0]
                    .as_object_mut()
                    .map(|o| o.remove("description"));
            }
            *field = widened;
        }
    }
    if let Some(cpu) = schema.pointer_mut("/$defs/FargateCpu") {
        let values: Vec<String> = cpu["enum"]
            .as_array()
            .map(|a| a.iter().map(|v| v.to_string()).collect())
            .unwrap_or_default();
        let original = cpu.take();
        *cpu = json!({
            "description": original["description"].clone(),
            "anyOf": [
                { "type": "integer", "enum": original["enum"].clone() },
                { "type": "string", "enum": values }
            ]
        });
    }
    if let Some(cost) = schema.pointer_mut("/$defs/Fargate/properties/max_cost_usd") {
        cost["type"] = json!(["number", "string", "null"]);
        cost["pattern"] = json!(r"^\s*[+]?([0-9][0-9_]*)?(\.[0-9]+)?([eE][-+]?[0-9]+)?\s*$");
    }
    for path in [
        "/$defs/Tls/properties/insecure",
        "/$defs/Fargate/properties/spot",
        "/$defs/FullThreshold/properties/abort",
    ] {
        if let Some(field) = schema.pointer_mut(path) {
            let original = field.take();
            let description = original.get("description").cloned();
            *field = json!({
                "description": description,
                "anyOf": [{ "type": ["boolean", "null"] }, bool_like.clone()]
            });
        }
    }
    // URLs.
    if let Some(target) = schema.pointer_mut("/properties/target") {
        target["pattern"] = json!(BASE_URL);
    }
    if let Some(url) = schema.pointer_mut("/$defs/Request/properties/url") {
        url["pattern"] = json!(URL);
    }
    if let Some(path) = schema.pointer_mut("/$defs/Request/properties/path") {
        path["pattern"] = json!(r"^(/|.*\$\{)");
    }
    // One of `path` and `url`, at most one of `body` and `body_file`.
    if let Some(request) = schema.pointer_mut("/$defs/Request") {
        request["allOf"] = json!([
            { "anyOf": [{ "required": ["path"] }, { "required": ["url"] }] },
            { "not": { "required": ["path", "url"] } },
            { "not": { "required": ["body", "body_file"] } }
        ]);
    }
    // A load that lasts some time: `hold_for: 0s` needs a ramp-up above zero.
    for model in ["ClosedLoad", "OpenLoad"] {
        if let Some(load) = schema.pointer_mut(&format!("/$defs/{model}")) {
            load["if"] = json!({
                "properties": { "hold_for": { "type": "string", "pattern": ZERO_DURATION } }
            });
            load["then"] = json!({
                "required": ["ramp_up"],
                "properties": { "ramp_up": { "type": "string", "not": { "pattern": ZERO_DURATION } } }
            });
        }
    }
    schema
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
