//! The account's Fargate vCPU quota, checked before launching: a run that cannot fit is said so
//! up front, not discovered as a stream of RunTask failures. An unknown quota (no permission, an
//! emulator) is not a reason to refuse the run: it proceeds with a note.

use crate::cloud::aws;

/// Service Quotas codes of the Fargate vCPU quotas (service `fargate`).
pub const ON_DEMAND_VCPU: &str = "L-3032A538";
pub const SPOT_VCPU: &str = "L-36FBB829";

/// What the quota says about a run.
#[derive(Clone, Debug, PartialEq)]
pub enum QuotaCheck {
    Fits { quota: f64, needed: f64 },
    TooSmall { quota: f64, needed: f64 },
    Unknown(String),
}

/// vCPUs that `workers` tasks of `cpu` units need.
pub fn needed_vcpu(workers: u32, cpu: u32) -> f64 {
    f64::from(workers) * f64::from(cpu) / 1024.0
}

pub async fn check(
    quotas: &aws_sdk_servicequotas::Client,
    spot: bool,
    workers: u32,
    cpu: u32,
) -> QuotaCheck {
    let code = if spot { SPOT_VCPU } else { ON_DEMAND_VCPU };
    let needed = needed_vcpu(workers, cpu);
    match quotas
        .get_service_quota()
        .service_code("fargate")
        .quota_code(code)
        .send()
        .await
    {
        Ok(out) => match out.quota().and_then(|q| q.value()) {
            Some(quota) if quota >= needed => QuotaCheck::Fits { quota, needed },
            Some(quota) => QuotaCheck::TooSmall { quota, needed },
            None => QuotaCheck::Unknown(format!("quota {code} has no value")),
        },
        Err(e) => {
            QuotaCheck::Unknown(aws::error(format!("read Fargate quota {code}"), e).to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vcpus_follow_cpu_units() {
        assert_eq!(needed_vcpu(50, 1024), 50.0);
        assert_eq!(needed_vcpu(3, 512), 1.5);
    }
}
