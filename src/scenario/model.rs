//! The scenario file as written: serde structs that keep each node's position, and from which
//! the JSON Schema is derived (doc comments become the descriptions editors show).
//!
//! Values stay close to the text here (durations and rates are strings); `resolve` gives them
//! meaning, so every message can quote what the user wrote.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use indexmap::IndexMap;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::model_users::{Captures, Feed, Flow, JsonChecks};

/// A loadgate scenario: what to call, how hard, and what must hold for the run to pass.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "loadgate scenario")]
pub(crate) struct Scenario {
    /// Names the run in reports, history and the pull-request comment.
    #[schemars(with = "String", length(min = 1, max = 100))]
    pub name: Spanned<String>,
    /// Base URL that request paths join, e.g. `https://staging.example.com` or
    /// `https://host/api`. `${VAR}` takes a value from the environment. Optional when every
    /// request has an absolute `url`.
    #[schemars(with = "Option<String>")]
    pub target: Option<Spanned<String>>,
    /// Settings every request inherits.
    pub defaults: Option<Defaults>,
    /// TLS settings for private targets.
    pub tls: Option<Tls>,
    /// How much load: closed model (`concurrency`) or open model (`rate`).
    #[schemars(with = "LoadSchema")]
    pub load: Spanned<Load>,
    /// Fargate tasks for a distributed run (1 to 1000, default 1); the local executor uses one
    /// engine thread per core whatever this says.
    #[schemars(with = "Option<u32>", range(min = 1, max = 1000))]
    pub workers: Option<Spanned<i64>>,
    /// One iteration of a virtual user walks this list in order. Give `requests` or `flows`.
    #[schemars(with = "Option<Vec<Request>>", length(min = 1))]
    pub requests: Option<Spanned<Vec<Spanned<Request>>>>,
    /// Named journeys with weights: each iteration picks one. Instead of `requests`.
    #[schemars(with = "Option<Vec<Flow>>", length(min = 1))]
    pub flows: Option<Spanned<Vec<Spanned<Flow>>>>,
    /// Requests each virtual user sends once, before its first iteration (a login); what they
    /// capture is available to every flow. Their labels are their own.
    #[schemars(with = "Option<Vec<Request>>")]
    pub setup: Option<Spanned<Vec<Spanned<Request>>>>,
    /// Constants for templates: `{{ name }}` in a path, URL, header value or body.
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub variables: Option<IndexMap<Spanned<String>, Spanned<String>>>,
    /// CSV data feeds by name; `{{ name.column }}` takes a value from the user's current row.
    #[schemars(with = "Option<BTreeMap<String, Feed>>")]
    pub data: Option<IndexMap<Spanned<String>, Spanned<Feed>>>,
    /// Seed of every random choice (flow picks, `random` feeds, `random_int`...), for
    /// reproducible runs. Default: random.
    pub seed: Option<u64>,
    /// Conditions that must hold for the run to pass, e.g. `p95 < 300ms`. Without any, the
    /// run is gated on `error_rate < 1%`.
    #[schemars(with = "Option<Vec<ThresholdSchema>>")]
    pub thresholds: Option<Vec<Spanned<ThresholdEntry>>>,
    /// Fargate task size and limits, used by `--executor fargate`. Every key has a default.
    pub fargate: Option<Fargate>,
}

/// Settings every request inherits.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Defaults {
    /// Headers sent with every request; a request's own header of the same name wins.
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub headers: Option<Headers>,
    /// How long a request may take before it counts as a `timeout` error (default `10s`).
    #[schemars(with = "Option<DurationSchema>")]
    pub timeout: Option<Spanned<String>>,
    /// Redirects followed per request on the per-user path (default 10; 0: none). Each hop is
    /// measured and counted as a request of its own under the original label.
    #[schemars(with = "Option<u32>", range(min = 0, max = 100))]
    pub follow_redirects: Option<Spanned<i64>>,
    /// Each virtual user keeps a cookie jar on the per-user path (default true).
    pub cookies: Option<bool>,
}

/// Header names (case-insensitive) to values; `${VAR}` is substituted in values.
pub(crate) type Headers = IndexMap<Spanned<String>, Spanned<String>>;

/// TLS settings for private targets.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Tls {
    /// PEM file of extra CA certificates to trust, relative to the scenario file.
    #[schemars(with = "Option<String>")]
    pub ca_file: Option<Spanned<String>>,
    /// Skip certificate verification (for test environments only).
    pub insecure: Option<bool>,
}

/// The load model. Give `concurrency` (closed model) or `rate` (open model), not both.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Load {
    pub concurrency: Option<Spanned<i64>>,
    pub rate: Option<Spanned<String>>,
    pub ramp_up: Option<Spanned<String>>,
    pub hold_for: Option<Spanned<String>>,
    pub think_time: Option<Spanned<String>>,
    pub max_in_flight: Option<Spanned<i64>>,
}

/// The load model: `concurrency` (closed) or `rate` (open).
#[derive(JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "Load")]
#[allow(dead_code)] // only its schema is used
enum LoadSchema {
    Closed(ClosedLoad),
    Open(OpenLoad),
}

/// Closed model: virtual users, each walking the request list in a loop.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct ClosedLoad {
    /// Virtual users in total, divided among workers.
    #[schemars(range(min = 1))]
    concurrency: u32,
    /// Time to start all users, linearly (default `0s`).
    ramp_up: Option<DurationSchema>,
    /// How long the full load runs after the ramp-up.
    hold_for: DurationSchema,
    /// Pause of each user between two requests (default `0s`): a duration, or a range
    /// `1s..3s` drawn uniformly for each pause.
    think_time: Option<ThinkTimeSchema>,
}

/// Open model: arrivals per second, independent of how slow the target is.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct OpenLoad {
    /// Arrivals per second (`1000/s`), minute (`60/m`) or hour (`500/h`); a bare number is per
    /// second.
    rate: RateSchema,
    /// Time to reach the rate from 0, linearly (default `0s`).
    ramp_up: Option<DurationSchema>,
    /// How long the full rate runs after the ramp-up.
    hold_for: DurationSchema,
    /// Bound on concurrent requests; arrivals past it are counted as dropped (default: the
    /// larger of 1000 and rate x timeout).
    #[schemars(range(min = 1))]
    max_in_flight: Option<u32>,
}

/// One request of the list a virtual user walks.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Request {
    /// Label in reports and thresholds (`create-order: p95 < 500ms`); default `METHOD path`.
    /// Requests with the same name share one label.
    #[schemars(with = "Option<String>")]
    pub name: Option<Spanned<String>>,
    /// HTTP method (default `GET`).
    #[schemars(with = "Option<MethodSchema>")]
    pub method: Option<Spanned<String>>,
    /// Path joined to `target`, starting with `/`. Give `path` or `url`.
    #[schemars(with = "Option<String>", regex(pattern = r"^/"))]
    pub path: Option<Spanned<String>>,
    /// Absolute `http://` or `https://` URL, instead of `path`.
    #[schemars(with = "Option<String>", regex(pattern = r"^https?://"))]
    pub url: Option<Spanned<String>>,
    /// Headers of this request, over `defaults.headers`.
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub headers: Option<Headers>,
    /// Request body; `${VAR}` is substituted.
    #[schemars(with = "Option<String>")]
    pub body: Option<Spanned<String>>,
    /// File whose text is the body, relative to the scenario file; `${VAR}` is substituted.
    #[schemars(with = "Option<String>")]
    pub body_file: Option<Spanned<String>>,
    /// What counts as success; by default any status below 400.
    pub expect: Option<Expect>,
    /// Values to take from the response for later requests of the same user:
    /// `{ token: { json: /token } }`.
    #[schemars(with = "Option<BTreeMap<String, super::model_users::Capture>>")]
    pub capture: Option<Captures>,
    /// Redirects to follow for this request (over `defaults.follow_redirects`).
    #[schemars(with = "Option<u32>", range(min = 0, max = 100))]
    pub follow_redirects: Option<Spanned<i64>>,
}

/// What counts as a successful response.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Expect {
    /// Expected status code(s): `201` or `[200, 204]`; any other is an error of kind `status`.
    #[schemars(with = "Option<StatusSchema>")]
    pub status: Option<Spanned<StatusCodes>>,
    /// Text the (decoded) body must contain; otherwise an error of kind `check`.
    #[schemars(with = "Option<String>")]
    pub body_contains: Option<Spanned<String>>,
    /// JSON Pointer -> the value the body must hold there: `{ "/ok": true }`.
    #[schemars(with = "Option<BTreeMap<String, serde_json::Value>>")]
    pub json: Option<JsonChecks>,
    /// Header name -> a regular expression its value must match.
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub headers: Option<Headers>,
}

/// Status codes as written: one number or a list.
#[derive(Debug)]
pub(crate) struct StatusCodes(pub Vec<i64>);

impl<'de> Deserialize<'de> for StatusCodes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StatusCodes;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a status code such as 201, or a list such as [200, 204]")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StatusCodes, E> {
                Ok(StatusCodes(vec![v]))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StatusCodes, E> {
                Ok(StatusCodes(vec![i64::try_from(v).unwrap_or(i64::MAX)]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StatusCodes, A::Error> {
                let mut codes = Vec::new();
                while let Some(code) = seq.next_element::<i64>()? {
                    codes.push(code);
                }
                Ok(StatusCodes(codes))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A threshold: an expression, or a mapping with `expr` and live-check settings.
#[derive(Debug)]
pub(crate) enum ThresholdEntry {
    Expr(String),
    Full(FullThreshold),
}

/// A threshold with live-check settings.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FullThreshold {
    /// The condition, e.g. `p99 < 2s` or `create-order: p95 < 500ms`.
    #[schemars(with = "String")]
    pub expr: Spanned<String>,
    /// Check on live data during the run; a breach stops the run early (default false).
    pub abort: Option<bool>,
    /// Live checks start this long after the start (default `0s`), so a cold start does not
    /// stop the run.
    #[schemars(with = "Option<DurationSchema>")]
    pub after: Option<Spanned<String>>,
}

impl<'de> Deserialize<'de> for ThresholdEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // A hand-written visitor rather than `#[serde(untagged)]`: untagged buffering would
        // lose the positions of `expr` and `after`, and its error says nothing useful.
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ThresholdEntry;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a threshold such as `p95 < 300ms`, or a mapping with `expr`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ThresholdEntry, E> {
                Ok(ThresholdEntry::Expr(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ThresholdEntry, A::Error> {
                FullThreshold::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(ThresholdEntry::Full)
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A threshold: an expression, or a mapping with `expr` and live-check settings.
#[derive(JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "Threshold")]
#[allow(dead_code)] // only its schema is used
pub(crate) enum ThresholdSchema {
    /// `[LABEL:] METRIC OP VALUE`, e.g. `p95 < 300ms`, `error_rate < 1%`, `rps > 150`.
    Expr(String),
    Full(FullThreshold),
}

/// Fargate task size and limits.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Fargate {
    /// vCPU units per task (1024 = 1 vCPU): 256, 512, 1024, 2048, 4096, 8192 or 16384
    /// (default 1024).
    #[schemars(with = "Option<CpuSchema>")]
    pub cpu: Option<Spanned<i64>>,
    /// Memory per task in MiB, valid for the `cpu` per Fargate's table (default: the smallest
    /// for the cpu).
    #[schemars(with = "Option<u32>")]
    pub memory: Option<Spanned<i64>>,
    /// Use FARGATE_SPOT, retried on FARGATE when Spot has no capacity (default false).
    pub spot: Option<bool>,
    /// Fewer workers than this at the start or at the end fails the run (default: `workers`).
    #[schemars(with = "Option<u32>", range(min = 1))]
    pub min_workers: Option<Spanned<i64>>,
    /// Refuse a run whose cost estimate is higher (USD).
    #[schemars(with = "Option<f64>", range(min = 0))]
    pub max_cost_usd: Option<Spanned<f64>>,
    /// Load from several AWS regions: workers per region, e.g. `{ us-east-1: 6, eu-west-1: 4 }`.
    /// Replaces the top-level `workers`; the load is divided among all of them.
    #[schemars(with = "Option<RegionsSchema>")]
    pub regions: Option<Spanned<IndexMap<Spanned<String>, Spanned<i64>>>>,
}

/// Writes a schema-only type whose schema is given as JSON.
macro_rules! schema_only {
    ($name:ident, $title:literal, $schema:tt) => {
        pub(crate) struct $name;
        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                $title.into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!($schema)
            }
        }
    };
}

schema_only!(RegionsSchema, "FargateRegions", {
    "description": "Workers per AWS region, e.g. `{ us-east-1: 6, eu-west-1: 4 }`.",
    "type": "object",
    "minProperties": 1,
    "propertyNames": { "pattern": "^[a-z]+(-[a-z]+)+-[0-9]{1,2}$" },
    "additionalProperties": { "type": "integer", "minimum": 1, "maximum": 1000 }
});

schema_only!(DurationSchema, "Duration", {
    "description": "A duration with a unit: `250us`, `500ms`, `30s`, `5m`, `1h`, or combined as `1m30s`.",
    "type": "string",
    "pattern": "^\\s*(0|([0-9]+(\\.[0-9]+)?(us|µs|ms|s|m|h))+)\\s*$",
    "examples": ["30s", "500ms", "1m30s"]
});

schema_only!(ThinkTimeSchema, "ThinkTime", {
    "description": "A duration (`500ms`), or a range `1s..3s` drawn uniformly for each pause.",
    "type": "string",
    "pattern": "^\\s*(0|([0-9]+(\\.[0-9]+)?(us|µs|ms|s|m|h))+)\\s*(\\.\\.\\s*(0|([0-9]+(\\.[0-9]+)?(us|µs|ms|s|m|h))+)\\s*)?$",
    "examples": ["0s", "1s..3s"]
});

schema_only!(RateSchema, "Rate", {
    "description": "Arrivals per second (`1000/s`), minute (`60/m`) or hour (`500/h`); a bare number is per second.",
    "type": ["string", "number"],
    "pattern": "^\\s*[0-9]+(\\.[0-9]+)?\\s*(/\\s*[smh])?\\s*$",
    "examples": ["1000/s", "60/m"]
});

schema_only!(StatusSchema, "StatusCodes", {
    "description": "One status code or a list of them.",
    "anyOf": [
        { "type": "integer", "minimum": 100, "maximum": 599 },
        { "type": "array", "items": { "type": "integer", "minimum": 100, "maximum": 599 }, "minItems": 1 }
    ]
});

schema_only!(MethodSchema, "Method", {
    "description": "HTTP method (case-insensitive).",
    "type": "string",
    "pattern": "^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS|get|post|put|patch|delete|head|options)$",
    "examples": ["GET", "POST"]
});

schema_only!(CpuSchema, "FargateCpu", {
    "description": "vCPU units per task (1024 = 1 vCPU).",
    "type": "integer",
    "enum": [256, 512, 1024, 2048, 4096, 8192, 16384]
});
