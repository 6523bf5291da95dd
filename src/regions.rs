//! Several regions in one run: the `REGION=WORKERS,...` spec of `--regions` / `LOADGATE_REGIONS`
//! and the region-name check shared with the scenario's `fargate.regions`.

/// Workers per region, in the order given.
pub type RegionWorkers = Vec<(String, u32)>;

/// Most workers one region may have (the scenario's `workers` bound).
pub const MAX_REGION_WORKERS: u32 = 1000;

/// An AWS region name as AWS spells them (`us-east-1`, `ap-southeast-2`, `us-gov-west-1`): lowercase
/// words joined by `-`, ending in a number. Checked so that a typo is exit 2, not an SDK error.
pub fn valid_name(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts.len() <= 5
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
        && parts[parts.len() - 1].len() <= 2
}

/// Parses `us-east-1=6,eu-west-1=4`. Each region once, each with 1 to [`MAX_REGION_WORKERS`].
pub fn parse_spec(spec: &str) -> Result<RegionWorkers, String> {
    let mut out: RegionWorkers = Vec::new();
    if spec.trim().is_empty() {
        return Err(
            "expected REGION=WORKERS[,REGION=WORKERS...], e.g. us-east-1=6,eu-west-1=4".into(),
        );
    }
    for item in spec.split(',') {
        let item = item.trim();
        let Some((region, n)) = item.split_once('=') else {
            return Err(format!(
                "`{item}`: expected REGION=WORKERS, e.g. us-east-1=6"
            ));
        };
        let (region, n) = (region.trim(), n.trim());
        if !valid_name(region) {
            return Err(format!(
                "`{region}` is not an AWS region name (expected e.g. us-east-1, eu-west-1)"
            ));
        }
        let workers: u32 = n
            .parse()
            .ok()
            .filter(|w| (1..=MAX_REGION_WORKERS).contains(w))
            .ok_or_else(|| {
                format!(
                    "`{region}={n}`: workers must be a whole number from 1 to {MAX_REGION_WORKERS}"
                )
            })?;
        if out.iter().any(|(r, _)| r == region) {
            return Err(format!("region `{region}` is given twice"));
        }
        out.push((region.to_string(), workers));
    }
    Ok(out)
}

/// The regions with the home region first, the others in their order: a run divides the load
/// over its workers in this order (so an uneven share lands as it does in a run). A home
/// region without workers is not added.
pub fn home_first(mut regions: RegionWorkers, home: &str) -> RegionWorkers {
    if let Some(i) = regions.iter().position(|(r, _)| r == home) {
        let h = regions.remove(i);
        regions.insert(0, h);
    }
    regions
}

/// clap's value of `--regions` / `LOADGATE_REGIONS`.
#[derive(Clone, Debug, PartialEq)]
pub struct RegionsArg(pub RegionWorkers);

impl std::str::FromStr for RegionsArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse_spec(s).map(RegionsArg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_names_are_checked() {
        for ok in [
            "us-east-1",
            "eu-west-1",
            "ap-southeast-2",
            "us-gov-west-1",
            "il-central-1",
        ] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in [
            "",
            "us-east",
            "US-EAST-1",
            "us_east_1",
            "us-east-1a",
            "east-1",
            "us--1",
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn a_spec_keeps_its_order_and_refuses_what_is_wrong() {
        assert_eq!(
            parse_spec("us-east-1=6, eu-west-1=4").unwrap(),
            vec![("us-east-1".to_string(), 6), ("eu-west-1".to_string(), 4)]
        );
        for (bad, says) in [
            ("us-east-1", "REGION=WORKERS"),
            ("us-east-1=0", "from 1 to"),
            ("us-east-1=x", "whole number"),
            ("useast=2", "not an AWS region"),
            ("us-east-1=1,us-east-1=2", "twice"),
            ("", "expected"),
        ] {
            let err = parse_spec(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
