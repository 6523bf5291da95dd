//! `fargate.regions`: workers per AWS region. It replaces the top-level `workers` (both is exit 2),
//! and the plan's `workers` becomes their sum.

use serde_saphyr::Spanned;

use super::model::Fargate;
use super::resolve::{Resolver, Result};
use crate::regions::{self, RegionWorkers, MAX_REGION_WORKERS};

impl Resolver<'_> {
    pub(super) fn regions(
        &self,
        fargate: Option<&Fargate>,
        workers: Option<&Spanned<i64>>,
    ) -> Result<RegionWorkers> {
        let Some(map) = fargate.and_then(|f| f.regions.as_ref()) else {
            return Ok(Vec::new());
        };
        if let Some(node) = workers {
            return Err(self
                .error(
                    &node.referenced,
                    "`workers` and `fargate.regions` both say how many workers to run",
                )
                .label("remove this, or `fargate.regions`")
                .with_help(
                    "with `fargate.regions`, each region's number is its workers and the load is \
                     divided among all of them",
                ));
        }
        let mut out: RegionWorkers = Vec::new();
        for (name, n) in &map.value {
            let region = name.value.trim();
            if !regions::valid_name(region) {
                return Err(self
                    .error(
                        &name.referenced,
                        format!("`{region}` is not an AWS region name"),
                    )
                    .label("expected a region such as us-east-1 or eu-west-1"));
            }
            if out.iter().any(|(r, _)| r == region) {
                return Err(self
                    .error(
                        &name.referenced,
                        format!("region `{region}` is given twice"),
                    )
                    .label("each region once"));
            }
            let workers = self.int_in(n, 1, i64::from(MAX_REGION_WORKERS), "workers")?;
            out.push((region.to_string(), workers));
        }
        if out.is_empty() {
            return Err(self
                .error(&map.referenced, "`fargate.regions` is empty")
                .label("expected at least one `REGION: WORKERS`")
                .with_help("give each region its workers, e.g. `regions: { us-east-1: 2 }`"));
        }
        Ok(out)
    }
}
