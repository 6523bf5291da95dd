//! The run index in the home region's bucket (`runs/index/<run_id>.json`): written before the
//! first launch and again, `ended`, when the controller is done, so that `loadgate runs` and
//! `loadgate stop` in the home region reach a run in every region it runs in.

use super::Site;
use crate::cloud::aws::Aws;
use crate::cloud::run::store::Store;
use crate::protocol::{index_key, IndexedRegion, RunIndex, VERSION};

/// The home region's bucket: a site's when the home region has workers, else its stack's
/// (`None`, with a warning, when the home region has no stack).
pub(super) async fn home_store(home: &Aws, stack_name: &str, sites: &[Site]) -> Option<Store> {
    if let Some(site) = sites.iter().find(|s| s.region == home.region()) {
        return Some(site.store.clone());
    }
    match crate::cloud::outputs::describe(home, stack_name).await {
        Ok(outputs) => Some(Store::new(home, &outputs.bucket)),
        Err(e) => {
            eprintln!(
                "warning: the home region {} has no stack {stack_name} ({e}): `loadgate runs` and \
                 `loadgate stop` there will not see this run; use --region with one of its regions",
                home.region()
            );
            None
        }
    }
}

pub(super) fn entry(home: &str, run_id: &str, sites: &[Site], ended: bool) -> RunIndex {
    RunIndex {
        version: VERSION,
        run_id: run_id.to_string(),
        home: home.to_string(),
        regions: sites
            .iter()
            .map(|s| IndexedRegion {
                region: s.region.clone(),
                bucket: s.outputs.bucket.clone(),
                cluster: s.outputs.cluster_name.clone(),
                workers: s.workers,
            })
            .collect(),
        ended,
    }
}

pub(super) async fn write(store: &Store, index: &RunIndex) {
    if let Err(e) = store.put_json(&index_key(&index.run_id), index).await {
        eprintln!(
            "warning: cannot write the run index {} in the home region: {e}",
            index_key(&index.run_id)
        );
    }
}
