//! The CloudFormation template of the stack, embedded in the binary, and the checks on
//! `--param Key=Value` that can be made without asking AWS.
//!
//! The template's sha256 is what the bootstrapper records in a stack tag: a stack whose tag and
//! parameters match is used as it is, with no Create/Update call.

use std::sync::OnceLock;

use indexmap::IndexMap;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// `templates/stack.yaml`, as sent in CreateStack/UpdateStack's TemplateBody.
pub const TEMPLATE: &str = include_str!("../../../templates/stack.yaml");

/// The most a TemplateBody passed inline may hold; past it, a template must go through S3.
pub const MAX_INLINE_BYTES: usize = 51_200;

/// The template's `TemplateVersion` output: raised when an output the controller reads changes
/// meaning, so that a controller can tell a stack it does not understand.
pub const TEMPLATE_VERSION: &str = "1";

/// Stack and resource tag: the stack a resource belongs to.
pub const TAG_STACK: &str = "loadgate:stack";
/// Stack tag: the sha256 of the template the stack was last deployed with.
pub const TAG_TEMPLATE_SHA256: &str = "loadgate:template-sha256";
/// Stack tag: the loadgate version that last deployed the stack (no downgrades).
pub const TAG_VERSION: &str = "loadgate:version";

/// The outputs the controller reads from DescribeStacks.
pub const REQUIRED_OUTPUTS: &[&str] = &[
    "TemplateVersion",
    "ClusterName",
    "ClusterArn",
    "SubnetIds",
    "PublicSubnets",
    "SecurityGroupId",
    "BucketName",
    "LogGroupName",
    "RepositoryName",
    "RepositoryUri",
    "TaskRoleArn",
    "ExecutionRoleArn",
];

/// The parameter that names the ECR repository; see [`stack_parameters`].
pub const REPOSITORY_PARAMETER: &str = "RepositoryName";

/// One parameter the template declares.
#[derive(Clone, Debug, PartialEq)]
pub struct Parameter {
    pub name: String,
    /// CloudFormation's type: `String`, `Number`, `CommaDelimitedList`...
    pub kind: String,
    pub default: Option<String>,
    pub allowed_values: Vec<String>,
    pub min_value: Option<f64>,
    pub description: String,
}

/// The hex sha256 of [`TEMPLATE`].
pub fn sha256() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hex_sha256(TEMPLATE.as_bytes()))
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The parameters the template declares, in its order.
pub fn declared_parameters() -> Result<&'static [Parameter]> {
    declared().map(|d| d.parameters.as_slice())
}

/// The outputs the template declares, in its order.
pub fn declared_outputs() -> Result<&'static [String]> {
    declared().map(|d| d.outputs.as_slice())
}

/// Checks `--param` overrides against the template: every key must be one of its parameters,
/// given once, with a value it accepts. Returns them in the template's order; parameters not given
/// keep their defaults (or, on update, their previous values: that is the bootstrapper's choice).
pub fn parameters(overrides: &[(String, String)]) -> Result<Vec<(String, String)>> {
    let declared = declared_parameters()?;
    for (i, (key, value)) in overrides.iter().enumerate() {
        let Some(param) = declared.iter().find(|p| &p.name == key) else {
            return Err(unknown_parameter(key, declared));
        };
        if overrides[..i].iter().any(|(k, _)| k == key) {
            return Err(Error::input(format!(
                "stack parameter `{key}` is given twice"
            )));
        }
        check_value(param, value)?;
    }
    Ok(declared
        .iter()
        .filter_map(|p| overrides.iter().find(|(k, _)| *k == p.name).cloned())
        .collect())
}

/// [`parameters`] for a given stack: the repository is named after the stack unless
/// `RepositoryName` is given, since the template's default fits only the default stack name.
pub fn stack_parameters(
    stack_name: &str,
    overrides: &[(String, String)],
) -> Result<Vec<(String, String)>> {
    crate::cloud::validate_stack_name(stack_name)?;
    let mut all = overrides.to_vec();
    if !all.iter().any(|(k, _)| k == REPOSITORY_PARAMETER) {
        all.push((
            REPOSITORY_PARAMETER.to_string(),
            crate::cloud::repository_name(stack_name),
        ));
    }
    parameters(&all)
}

/// Parses one `--param Key=Value` (clap's value parser). The value may be empty, which is how a
/// parameter is set back to "none" (e.g. `SubnetIds=`).
pub fn parse_param(arg: &str) -> std::result::Result<(String, String), String> {
    match arg.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_string(), value.to_string()))
        }
        _ => Err(format!("`{arg}` is not Key=Value")),
    }
}

fn unknown_parameter(key: &str, declared: &[Parameter]) -> Error {
    let names: Vec<&str> = declared.iter().map(|p| p.name.as_str()).collect();
    let hint = nearest(key, &names)
        .map(|n| format!(" (did you mean `{n}`?)"))
        .unwrap_or_default();
    Error::input(format!(
        "unknown stack parameter `{key}`{hint}; the stack's parameters are: {}",
        names.join(", ")
    ))
}

/// The closest name, if close enough to be a likely typo; case differences count for nothing,
/// since CloudFormation names are PascalCase and people type them otherwise.
fn nearest<'a>(word: &str, names: &[&'a str]) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    names
        .iter()
        .map(|n| {
            (
                strsim::damerau_levenshtein(&word, &n.to_ascii_lowercase()),
                *n,
            )
        })
        .filter(|(distance, n)| *distance <= (n.len() / 3).max(2))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, n)| n)
}

/// The checks CloudFormation would make anyway, made here so that a bad value is exit 2 before
/// any AWS call. Patterns are left to CloudFormation, whose message names them.
fn check_value(param: &Parameter, value: &str) -> Result<()> {
    let name = &param.name;
    if !param.allowed_values.is_empty() && !param.allowed_values.iter().any(|a| a == value) {
        return Err(Error::input(format!(
            "stack parameter `{name}` cannot be `{value}`: allowed values are {}",
            param.allowed_values.join(", ")
        )));
    }
    if param.kind == "Number" {
        let number = value
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .ok_or_else(|| {
                Error::input(format!(
                    "stack parameter `{name}` must be a number, not `{value}`"
                ))
            })?;
        if let Some(min) = param.min_value.filter(|min| number < *min) {
            return Err(Error::input(format!(
                "stack parameter `{name}` must be at least {min}, not `{value}`"
            )));
        }
    }
    Ok(())
}

struct Declared {
    parameters: Vec<Parameter>,
    outputs: Vec<String>,
}

/// The template parsed once. It is a constant of the build, so a failure is a loadgate bug; it
/// is still an error rather than a panic, and a unit test keeps it from shipping.
fn declared() -> Result<&'static Declared> {
    static DECLARED: OnceLock<std::result::Result<Declared, String>> = OnceLock::new();
    DECLARED
        .get_or_init(|| parse(TEMPLATE))
        .as_ref()
        .map_err(|e| {
            Error::infra(
                format!("the embedded stack template does not parse: {e}"),
                "this is a bug in loadgate; please report it".to_string(),
            )
        })
}

/// Only the sections loadgate reads; resources, conditions and intrinsic functions (`!Ref`...)
/// are CloudFormation's business and are skipped unparsed.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Document {
    #[serde(default)]
    parameters: IndexMap<String, ParameterSpec>,
    #[serde(default)]
    outputs: IndexMap<String, serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ParameterSpec {
    #[serde(rename = "Type")]
    kind: String,
    default: Option<Scalar>,
    #[serde(default)]
    allowed_values: Vec<Scalar>,
    min_value: Option<f64>,
    #[serde(default)]
    description: String,
}

/// CloudFormation takes `Default: 30` and `Default: "30"` alike; parameter values are strings.
#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(String),
}

impl Scalar {
    fn into_string(self) -> String {
        match self {
            Scalar::Int(n) => n.to_string(),
            Scalar::Float(n) => n.to_string(),
            Scalar::Bool(b) => b.to_string(),
            Scalar::Text(s) => s,
        }
    }
}

fn parse(text: &str) -> std::result::Result<Declared, String> {
    let doc: Document = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
    let parameters = doc
        .parameters
        .into_iter()
        .map(|(name, spec)| Parameter {
            name,
            kind: spec.kind,
            default: spec.default.map(Scalar::into_string),
            allowed_values: spec
                .allowed_values
                .into_iter()
                .map(Scalar::into_string)
                .collect(),
            min_value: spec.min_value,
            description: spec.description.trim().to_string(),
        })
        .collect();
    Ok(Declared {
        parameters,
        outputs: doc.outputs.into_keys().collect(),
    })
}

#[cfg(test)]
#[path = "template_tests.rs"]
mod tests;
