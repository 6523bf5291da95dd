//! Thresholds, TLS and Fargate sections.

use std::time::Duration;

use serde_saphyr::Spanned;

use crate::plan::{FargatePlan, ThresholdPlan, TlsPlan};
use crate::threshold::{self, Metric, Op, ParseError, Threshold, Unit};

use super::diagnostic::{nearest, Pos, ScenarioError};
use super::model::{Fargate, ThresholdEntry, Tls};
use super::resolve::{Resolver, Result};

const THRESHOLD_HELP: &str = "a threshold is `[LABEL:] METRIC OP VALUE`, e.g. `p95 < 300ms`, \
    `error_rate < 1%` or `create-order: p99 < 1s`";

/// vCPU units Fargate offers.
const FARGATE_CPUS: [u32; 7] = [256, 512, 1024, 2048, 4096, 8192, 16384];

/// Memory sizes (MiB) Fargate allows for a cpu, and how to say so.
fn fargate_memory(cpu: u32) -> Option<(Vec<u32>, String)> {
    let stepped = |first: u32, last: u32, step: u32| {
        (
            (first..=last).step_by(step as usize).collect(),
            format!("{first} to {last} in steps of {step}"),
        )
    };
    Some(match cpu {
        256 => (vec![512, 1024, 2048], "512, 1024 or 2048".to_string()),
        512 => stepped(1024, 4096, 1024),
        1024 => stepped(2048, 8192, 1024),
        2048 => stepped(4096, 16384, 1024),
        4096 => stepped(8192, 30720, 1024),
        8192 => stepped(16384, 61440, 4096),
        16384 => stepped(32768, 122880, 8192),
        _ => return None,
    })
}

impl Resolver<'_> {
    pub(super) fn thresholds(
        &mut self,
        entries: &[Spanned<ThresholdEntry>],
        labels: &[String],
    ) -> Result<(Vec<ThresholdPlan>, bool)> {
        if entries.is_empty() {
            self.warnings.push(
                "the scenario has no thresholds, so the run is gated on `error_rate < 1%`: a gate \
                 without conditions would pass a run in which every request failed"
                    .to_string(),
            );
            return Ok((vec![default_threshold()], true));
        }
        let mut plans = Vec::with_capacity(entries.len());
        for entry in entries {
            let (pos, text, abort, after) = match &entry.value {
                ThresholdEntry::Expr(text) => (Pos::of(&entry.referenced), text, false, None),
                ThresholdEntry::Full(full) => (
                    Pos::of(&full.expr.referenced),
                    &full.expr.value,
                    full.abort.unwrap_or(false),
                    full.after.as_ref(),
                ),
            };
            let after_value = self.optional_duration(after)?;
            if after.is_some() && !abort {
                self.warnings.push(format!(
                    "threshold `{}` (line {}): `after` has an effect only with `abort: true`",
                    text.trim(),
                    pos.line
                ));
            }
            let threshold =
                threshold::parse(text).map_err(|err| self.threshold_error(pos, text, &err))?;
            if let Some(label) = &threshold.label {
                if !labels.contains(label) {
                    return Err(self.unknown_label(pos, text, label, labels));
                }
            }
            if abort && threshold.region.is_some() {
                return Err(self
                    .src
                    .error(pos, format!("threshold `{}`: `abort: true` with a `{{region:...}}` tag is not supported", text.trim()))
                    .with_help("a region's threshold is checked when the run ends; drop `abort`, or the tag"));
            }
            plans.push(ThresholdPlan {
                threshold,
                abort,
                after: after_value,
                line: pos.line,
                column: pos.column,
            });
        }
        Ok((plans, false))
    }

    /// Puts the caret under the offending character inside the YAML line.
    fn threshold_error(&self, node: Pos, text: &str, err: &ParseError) -> ScenarioError {
        let quoted = matches!(self.src.char_at(node), Some('"' | '\''));
        let chars_before = text
            .get(..err.offset)
            .map_or_else(|| text.chars().count(), |s| s.chars().count());
        let pos = node.shifted(usize::from(quoted) + chars_before, 1);
        self.src
            .error(pos, format!("invalid threshold `{}`", text.trim()))
            .label(err.message.clone())
            .with_help(THRESHOLD_HELP)
    }

    fn unknown_label(
        &self,
        node: Pos,
        text: &str,
        label: &str,
        labels: &[String],
    ) -> ScenarioError {
        let quoted = matches!(self.src.char_at(node), Some('"' | '\''));
        let offset = text.find(label).unwrap_or(0);
        let chars_before = text.get(..offset).map_or(0, |s| s.chars().count());
        let pos = node.shifted(usize::from(quoted) + chars_before, label.chars().count());
        let known = labels
            .iter()
            .map(|l| format!("`{l}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let help = match nearest(label, labels.iter().map(String::as_str)) {
            Some(close) => format!("did you mean `{close}`?"),
            None => {
                "a threshold's label is a request's `name` (or `METHOD path` when it has no name)"
                    .to_string()
            }
        };
        self.src
            .error(
                pos,
                format!("threshold names request `{label}`, which is not in `requests`"),
            )
            .label(format!("expected one of {known}"))
            .with_help(help)
    }

    pub(super) fn tls(&mut self, tls: &Tls) -> Result<TlsPlan> {
        let insecure = tls.insecure.unwrap_or(false);
        let ca_pem = match &tls.ca_file {
            Some(node) => {
                let pem = self.read_file(node, "tls.ca_file", crate::input::MAX_CA_FILE_BYTES)?;
                if !pem.contains("-----BEGIN CERTIFICATE-----") {
                    return Err(self
                        .error(&node.referenced, format!("`{}` holds no PEM certificate", node.value.trim()))
                        .label("expected a PEM file of CA certificates")
                        .with_help("the file must contain `-----BEGIN CERTIFICATE-----` blocks, as a CA bundle does"));
                }
                Some(pem)
            }
            None => None,
        };
        if insecure {
            self.warnings.push(
                "`tls.insecure: true`: certificates are not verified; use it for test environments only"
                    .to_string(),
            );
        }
        Ok(TlsPlan { ca_pem, insecure })
    }

    pub(super) fn fargate(&self, fargate: &Fargate, workers: u32) -> Result<FargatePlan> {
        let defaults = FargatePlan::default();
        let cpu = match &fargate.cpu {
            Some(node) => u32::try_from(node.value)
                .ok()
                .filter(|c| FARGATE_CPUS.contains(c))
                .ok_or_else(|| {
                    let list = FARGATE_CPUS.map(|c| c.to_string()).join(", ");
                    self.error(
                        &node.referenced,
                        format!("Fargate has no cpu size {}", node.value),
                    )
                    .label(format!("expected one of {list}"))
                    .with_help("cpu is in vCPU units: 1024 is one vCPU")
                })?,
            None => defaults.cpu,
        };
        let (sizes, said) = fargate_memory(cpu)
            .unwrap_or_else(|| (vec![defaults.memory], defaults.memory.to_string()));
        let memory = match &fargate.memory {
            Some(node) => {
                let fits = u32::try_from(node.value).ok().filter(|m| sizes.contains(m));
                fits.ok_or_else(|| {
                    self.error(&node.referenced, format!("memory {} MiB does not fit cpu {cpu}", node.value))
                        .label(format!("expected {said} for cpu {cpu}"))
                        .with_help("Fargate pairs each cpu size with a range of memory; change `memory` or `cpu`")
                })?
            }
            None => sizes.first().copied().unwrap_or(defaults.memory),
        };
        let min_workers = match &fargate.min_workers {
            Some(node) => {
                let n = self.int_in(node, 1, i64::from(u32::MAX), "min_workers")?;
                if n > workers {
                    return Err(self
                        .error(&node.referenced, format!("`min_workers` ({n}) is more than `workers` ({workers})"))
                        .label(format!("expected at most {workers}"))
                        .with_help("`min_workers` is how many of the `workers` must run for the result to count"));
                }
                n
            }
            None => workers,
        };
        let max_cost_usd = match &fargate.max_cost_usd {
            Some(node) if !(node.value.is_finite() && node.value > 0.0) => {
                return Err(self
                    .error(&node.referenced, "`max_cost_usd` must be a positive amount")
                    .label("expected a number of US dollars above zero, e.g. `5`"))
            }
            Some(node) => Some(node.value),
            None => None,
        };
        Ok(FargatePlan {
            cpu,
            memory,
            spot: fargate.spot.unwrap_or(false),
            min_workers,
            max_cost_usd,
            regions: Vec::new(),
        })
    }
}

/// `error_rate < 1%`, built directly: the gate every scenario without thresholds gets.
pub(super) fn default_threshold() -> ThresholdPlan {
    ThresholdPlan {
        threshold: Threshold {
            expr: "error_rate < 1%".to_string(),
            label: None,
            region: None,
            metric: Metric::ErrorRate,
            op: Op::Lt,
            limit: 1.0,
            unit: Unit::Percent,
            relative: None,
        },
        abort: false,
        after: Duration::ZERO,
        line: 0,
        column: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fargate_memory_table() {
        let sizes = |cpu| fargate_memory(cpu).map(|(sizes, _)| sizes);
        assert_eq!(sizes(1024), Some((2..=8).map(|g| g * 1024).collect()));
        assert_eq!(sizes(256), Some(vec![512, 1024, 2048]));
        assert_eq!(sizes(8192).map(|s| s.len()), Some(12));
        assert_eq!(sizes(300), None);
        for cpu in FARGATE_CPUS {
            assert!(fargate_memory(cpu).is_some(), "{cpu}");
        }
    }
}
