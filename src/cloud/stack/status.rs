//! `loadgate stack status`: what the stack is, whether this loadgate would change it, and whether
//! workers are running in it.

use std::fmt::{self, Write as _};

use super::{describe, is_newer, output, running_tasks, status_of, tag, Clients, VERSION};
use crate::cloud::aws::Aws;
use crate::cloud::stack::template;
use crate::Result;

/// One stack as `stack status` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackReport {
    pub name: String,
    pub status: String,
    pub reason: Option<String>,
    /// The loadgate version that last deployed it (its tag).
    pub version: Option<String>,
    /// The stack's template is this loadgate's.
    pub template_current: bool,
    /// A newer loadgate deployed it: this one will not update it.
    pub newer: bool,
    pub outputs: Vec<(String, String)>,
    pub parameters: Vec<(String, String)>,
    /// Tasks running in its cluster; `None` when it has no cluster yet.
    pub running_tasks: Option<usize>,
}

/// The stack's report, or `None` when there is no such stack.
pub async fn status(aws: &Aws, name: &str) -> Result<Option<StackReport>> {
    status_with(&Clients::new(aws), name).await
}

pub(crate) async fn status_with(clients: &Clients, name: &str) -> Result<Option<StackReport>> {
    let Some(stack) = describe(&clients.cfn, name).await? else {
        return Ok(None);
    };
    let running = match output(&stack, "ClusterName") {
        Some(cluster) => Some(running_tasks(&clients.ecs, cluster).await?),
        None => None,
    };
    let version = tag(&stack, template::TAG_VERSION).map(str::to_string);
    Ok(Some(StackReport {
        name: name.to_string(),
        status: status_of(&stack).to_string(),
        reason: stack.stack_status_reason().map(str::to_string),
        newer: version.as_deref().is_some_and(|v| is_newer(v, VERSION)),
        version,
        template_current: tag(&stack, template::TAG_TEMPLATE_SHA256) == Some(template::sha256()),
        outputs: stack
            .outputs()
            .iter()
            .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
            .collect(),
        parameters: stack
            .parameters()
            .iter()
            .filter_map(|p| {
                Some((
                    p.parameter_key()?.to_string(),
                    p.parameter_value().unwrap_or_default().to_string(),
                ))
            })
            .collect(),
        running_tasks: running,
    }))
}

impl fmt::Display for StackReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::new();
        let _ = writeln!(text, "stack:     {}", self.name);
        let _ = write!(text, "status:    {}", self.status);
        if let Some(reason) = &self.reason {
            let _ = write!(text, " ({reason})");
        }
        text.push('\n');
        let version = self.version.as_deref().unwrap_or("unknown");
        let template = if self.template_current {
            "current".to_string()
        } else if self.newer {
            format!("newer than this loadgate {VERSION}'s (left as it is)")
        } else {
            format!("differs from this loadgate {VERSION}'s (`loadgate stack deploy` updates it)")
        };
        let _ = writeln!(text, "version:   loadgate {version}");
        let _ = writeln!(text, "template:  {template}");
        match self.running_tasks {
            Some(n) => {
                let _ = writeln!(text, "tasks:     {n} running");
            }
            None => {
                let _ = writeln!(text, "tasks:     no cluster yet");
            }
        }
        if !self.outputs.is_empty() {
            let _ = writeln!(text, "outputs:");
            let width = self.outputs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
            for (key, value) in &self.outputs {
                let _ = writeln!(text, "  {key:<width$}  {value}");
            }
        }
        let set: Vec<_> = self
            .parameters
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .collect();
        if !set.is_empty() {
            let _ = writeln!(text, "parameters:");
            let width = set.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
            for (key, value) in set {
                let _ = writeln!(text, "  {key:<width$}  {value}");
            }
        }
        f.write_str(&text)
    }
}
