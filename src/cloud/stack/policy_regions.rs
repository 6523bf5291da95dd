//! One policy for several regions (`stack policy --run --region a --region b`), for runs from
//! several regions: each region's policy, merged statement by statement. Resources are united;
//! a condition value that differs between regions becomes the list of each region's values,
//! which IAM reads as "any of" for the same key (IAM User Guide, "Creating a condition with
//! multiple keys or values": values of one key are ORed).

use serde_json::{Map, Value};

use super::policy::{Policy, Scope};

/// The policy `make` writes for each scope, merged. One scope gives exactly its own policy.
pub fn merged(scopes: &[Scope], make: impl Fn(&Scope) -> Policy) -> Policy {
    let mut policies = scopes.iter().map(make);
    let Some(mut out) = policies.next() else {
        return Policy {
            version: "2012-10-17",
            statement: Vec::new(),
        };
    };
    for p in policies {
        for s in p.statement {
            match out.statement.iter_mut().find(|o| o.sid == s.sid) {
                Some(o) => {
                    for r in s.resource {
                        if !o.resource.contains(&r) {
                            o.resource.push(r);
                        }
                    }
                    for a in s.action {
                        if !o.action.contains(&a) {
                            o.action.push(a);
                        }
                    }
                    o.condition = match (o.condition.take(), s.condition) {
                        (Some(a), Some(b)) => Some(merge_condition(a, b)),
                        (a, b) => a.or(b),
                    };
                }
                None => out.statement.push(s),
            }
        }
    }
    out
}

/// `{op: {key: value}}` of two regions: each key's values united (a single value stays single).
fn merge_condition(a: Value, b: Value) -> Value {
    let (Value::Object(mut a), Value::Object(b)) = (a, b) else {
        return Value::Null;
    };
    for (op, keys) in b {
        let Value::Object(keys) = keys else { continue };
        let into = a
            .entry(op)
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut();
        let Some(into) = into else { continue };
        for (key, value) in keys {
            let mut values = match into.remove(&key) {
                Some(Value::Array(v)) => v,
                Some(v) => vec![v],
                None => Vec::new(),
            };
            let more = match value {
                Value::Array(v) => v,
                v => vec![v],
            };
            for v in more {
                if !values.contains(&v) {
                    values.push(v);
                }
            }
            let value = if values.len() == 1 {
                values.remove(0)
            } else {
                Value::Array(values)
            };
            into.insert(key, value);
        }
    }
    Value::Object(a)
}

#[cfg(test)]
mod tests {
    use super::super::policy::{deploy_policy, render, run_policy};
    use super::*;

    fn scope(region: &str) -> Scope {
        Scope::new("loadgate", Some(region), Some("123456789012")).expect("scope")
    }

    #[test]
    fn one_region_is_exactly_its_own_policy() {
        let s = scope("eu-west-1");
        assert_eq!(merged(std::slice::from_ref(&s), run_policy), run_policy(&s));
    }

    #[test]
    fn two_regions_allow_each_region_s_resources_and_nothing_else() {
        let (us, eu) = (scope("us-east-1"), scope("eu-west-1"));
        let both = merged(&[us.clone(), eu.clone()], run_policy);
        let text = render(&both);
        // Every resource and condition value of each region's own policy is in the merged one.
        for one in [run_policy(&us), run_policy(&eu)] {
            assert_eq!(one.statement.len(), both.statement.len());
            for s in &one.statement {
                let m = both.statement.iter().find(|m| m.sid == s.sid).expect("sid");
                assert_eq!(m.action, s.action, "{}", s.sid);
                for r in &s.resource {
                    assert!(m.resource.contains(r), "{}: {r}", s.sid);
                }
            }
        }
        assert!(text.contains("arn:aws:ecs:us-east-1:123456789012:task/"));
        assert!(text.contains("arn:aws:ecs:eu-west-1:123456789012:task/"));
        assert!(!text.contains("ap-south-1"));
        // The cluster condition of StartWorkers names both clusters.
        let start = both
            .statement
            .iter()
            .find(|s| s.sid == "StartWorkers")
            .and_then(|s| s.condition.clone())
            .expect("condition");
        let clusters = start["ArnLike"]["ecs:cluster"].as_array().expect("two");
        assert_eq!(clusters.len(), 2, "{start}");
        // The deploy policy's region condition lists both regions.
        let deploy = render(&merged(&[us, eu], deploy_policy));
        assert!(deploy.contains("\"us-east-1\"") && deploy.contains("\"eu-west-1\""));
    }
}
