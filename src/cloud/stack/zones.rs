//! Which two availability zones the stack's public subnets go in. The template's default is the
//! region's first two zones by index, and in some regions (and some older accounts) one of those
//! has no Fargate. No API says which zones run Fargate; the Amazon ECS Developer Guide lists them
//! by zone ID ("Supported Regions for Amazon ECS on AWS Fargate", Linux containers). On a
//! stack's first deploy only, the account's zones (DescribeAvailabilityZones: zone names are
//! mapped to physical zones per account, zone IDs are not) are matched against that table and
//! passed as the `AvailabilityZone1`/`AvailabilityZone2` parameters. An update never passes them,
//! so an existing stack's subnets never move.
//!
//! DescribeAvailabilityZones is one EC2 Query API call, signed here with aws-sigv4 (already in
//! the tree for the SDK clients) rather than through aws-sdk-ec2, whose size would dominate the
//! build for one call.

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::ProvideCredentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};

use crate::cloud::aws::Aws;
use crate::{Error, Result};

/// The regions where Fargate runs in some zones only, and those zones' IDs. Copied on
/// 2026-12-02 from https://docs.aws.amazon.com/AmazonECS/latest/developerguide/AWS_Fargate-Regions.html
/// (regions not listed run Fargate in every zone).
pub const FARGATE_ZONES: &[(&str, &[&str])] = &[
    ("us-west-1", &["usw1-az1", "usw1-az3"]),
    ("ap-northeast-1", &["apne1-az1", "apne1-az2", "apne1-az4"]),
    ("cn-north-1", &["cnn1-az1", "cnn1-az2"]),
];

/// One zone as DescribeAvailabilityZones lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zone {
    pub name: String,
    pub id: String,
    pub state: String,
    pub zone_type: String,
}

/// The two zones for the subnets: available standard zones (no Local or Wavelength zones) that
/// run Fargate, in name order (the template's own order). An error when fewer than two do.
pub fn pick(region: &str, zones: &[Zone]) -> Result<(String, String)> {
    let allowed = FARGATE_ZONES
        .iter()
        .find(|(r, _)| *r == region)
        .map(|(_, ids)| *ids);
    let mut usable: Vec<&Zone> = zones
        .iter()
        .filter(|z| z.state == "available" && z.zone_type == "availability-zone")
        .filter(|z| allowed.is_none_or(|ids| ids.contains(&z.id.as_str())))
        .collect();
    usable.sort_by(|a, b| a.name.cmp(&b.name));
    match usable.as_slice() {
        [a, b, ..] => Ok((a.name.clone(), b.name.clone())),
        _ => Err(Error::infra(
            format!(
                "fewer than two availability zones of this account in {region} run Fargate \
                 (zones: {})",
                zones
                    .iter()
                    .map(|z| format!("{} = {}", z.name, z.id))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "give your own subnets (--param SubnetIds=...,VpcId=...) or two zones \
             (--param AvailabilityZone1=... --param AvailabilityZone2=...)"
                .to_string(),
        )),
    }
}

/// The zone parameters of a first create: none when the user chose zones or subnets.
pub async fn parameters(aws: &Aws, given: &[(String, String)]) -> Result<Vec<(String, String)>> {
    let chosen = given.iter().any(|(k, v)| {
        matches!(k.as_str(), "AvailabilityZone1" | "AvailabilityZone2")
            || (k == "SubnetIds" && !v.trim().is_empty())
    });
    if chosen {
        return Ok(Vec::new());
    }
    let region = aws.region();
    let restricted = FARGATE_ZONES.iter().any(|(r, _)| *r == region);
    let listed = match describe(aws).await {
        Ok(listed) => listed,
        // Where every zone runs Fargate the template's default zones are right anyway.
        Err(e) if !restricted => {
            super::warn(&format!("{e}; using the region's first two zones"));
            return Ok(Vec::new());
        }
        Err(e) => return Err(e),
    };
    let (first, second) = pick(region, &listed)?;
    super::note(&format!(
        "subnets in {first} and {second} (zones that run Fargate in {region})"
    ));
    Ok(vec![
        ("AvailabilityZone1".to_string(), first),
        ("AvailabilityZone2".to_string(), second),
    ])
}

/// The account's zones in the configured region (one DescribeAvailabilityZones call).
pub async fn describe(aws: &Aws) -> Result<Vec<Zone>> {
    let region = aws.region().to_string();
    let failed = |why: String| {
        Error::infra(
            format!("cannot list the availability zones of {region}: {why}"),
            "the deploy policy allows ec2:DescribeAvailabilityZones (`loadgate stack policy \
             --deploy`); or pass --param AvailabilityZone1=... --param AvailabilityZone2=..."
                .to_string(),
        )
    };
    let endpoint = match aws.config().endpoint_url() {
        Some(url) => url.trim_end_matches('/').to_string(),
        None if region.starts_with("cn-") => format!("https://ec2.{region}.amazonaws.com.cn"),
        None => format!("https://ec2.{region}.amazonaws.com"),
    };
    let provider = aws
        .config()
        .credentials_provider()
        .ok_or_else(|| failed("no AWS credentials are configured".to_string()))?;
    let credentials = provider
        .provide_credentials()
        .await
        .map_err(|e| failed(format!("no credentials: {e}")))?;
    let identity = credentials.into();
    crate::cloud::record::call("ec2", "DescribeAvailabilityZones");
    let body = "Action=DescribeAvailabilityZones&Version=2016-11-15";
    let url = format!("{endpoint}/");
    let host = url::Url::parse(&url)
        .ok()
        .and_then(|u| {
            u.host_str()
                .map(|h| u.port().map_or(h.to_string(), |p| format!("{h}:{p}")))
        })
        .ok_or_else(|| failed(format!("invalid endpoint {endpoint}")))?;
    let headers = [
        ("host", host.as_str()),
        (
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        ),
    ];
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&region)
        .name("ec2")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| failed(format!("cannot sign: {e}")))?
        .into();
    let signable = SignableRequest::new(
        "POST",
        url.as_str(),
        headers.iter().copied(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .map_err(|e| failed(format!("cannot sign: {e}")))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| failed(format!("cannot sign: {e}")))?
        .into_parts();
    let mut request = http::Request::builder().method("POST").uri(&url);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let mut request = request
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .map_err(|e| failed(format!("invalid request: {e}")))?;
    instructions.apply_to_request_http1x(&mut request);

    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(https()?);
    let exchange = async {
        let response = client
            .request(request)
            .await
            .map_err(|e| failed(e.to_string()))?;
        let status = response.status();
        let text = response
            .into_body()
            .collect()
            .await
            .map_err(|e| failed(e.to_string()))?
            .to_bytes();
        let text = String::from_utf8_lossy(&text).to_string();
        if !status.is_success() {
            let code = between(&text, "<Code>", "</Code>").unwrap_or("error");
            let message = between(&text, "<Message>", "</Message>").unwrap_or_default();
            return Err(failed(format!(
                "HTTP {}: {code}: {message}",
                status.as_u16()
            )));
        }
        Ok(parse(&text))
    };
    tokio::time::timeout(Duration::from_secs(30), exchange)
        .await
        .map_err(|_| failed("no answer within 30s".to_string()))?
}

fn https(
) -> Result<hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::infra(format!("TLS setup: {e}"), None))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build())
}

/// The zones of a DescribeAvailabilityZones answer. Each zone's fields follow its `zoneName`
/// (the only element that appears once per zone), so the answer is read zone by zone.
pub fn parse(xml: &str) -> Vec<Zone> {
    let mut zones = Vec::new();
    let mut rest = xml;
    while let Some(at) = rest.find("<zoneName>") {
        let block = &rest[at + "<zoneName>".len()..];
        let end = block.find("<zoneName>").unwrap_or(block.len());
        let item = &block[..end];
        let name = item.split("</zoneName>").next().unwrap_or_default();
        let field = |tag: &str| {
            between(item, &format!("<{tag}>"), &format!("</{tag}>"))
                .unwrap_or_default()
                .to_string()
        };
        zones.push(Zone {
            name: name.trim().to_string(),
            id: field("zoneId"),
            state: field("zoneState"),
            zone_type: {
                let t = field("zoneType");
                // Older answers have no zoneType: only standard zones existed then.
                if t.is_empty() {
                    "availability-zone".to_string()
                } else {
                    t
                }
            },
        });
        rest = &block[end..];
    }
    zones
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let len = text[start..].find(close)?;
    Some(&text[start..start + len])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(name: &str, id: &str) -> Zone {
        Zone {
            name: name.into(),
            id: id.into(),
            state: "available".into(),
            zone_type: "availability-zone".into(),
        }
    }

    #[test]
    fn zones_without_fargate_are_skipped_by_id_not_by_name() {
        // An older account whose ap-northeast-1a is apne1-az3, which has no Fargate.
        let zones = [
            zone("ap-northeast-1a", "apne1-az3"),
            zone("ap-northeast-1c", "apne1-az1"),
            zone("ap-northeast-1d", "apne1-az2"),
        ];
        assert_eq!(
            pick("ap-northeast-1", &zones).expect("two zones"),
            ("ap-northeast-1c".into(), "ap-northeast-1d".into())
        );
        // Elsewhere every standard zone counts, in name order; Local Zones never.
        let mut local = zone("us-east-1-bos-1a", "use1-bos1-az1");
        local.zone_type = "local-zone".into();
        let zones = [
            zone("us-east-1b", "use1-az1"),
            local,
            zone("us-east-1a", "use1-az6"),
        ];
        assert_eq!(
            pick("us-east-1", &zones).expect("two zones"),
            ("us-east-1a".into(), "us-east-1b".into())
        );
        let err = pick(
            "us-west-1",
            &[
                zone("us-west-1a", "usw1-az2"),
                zone("us-west-1b", "usw1-az1"),
            ],
        )
        .expect_err("one zone only");
        assert!(err.to_string().contains("us-west-1a = usw1-az2"), "{err}");
    }

    #[test]
    fn the_answer_is_read_zone_by_zone() {
        let xml = r#"<DescribeAvailabilityZonesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <availabilityZoneInfo>
    <item><zoneName>us-west-1a</zoneName><zoneState>available</zoneState><regionName>us-west-1</regionName>
      <messageSet><item><message>m</message></item></messageSet>
      <zoneId>usw1-az2</zoneId><zoneType>availability-zone</zoneType></item>
    <item><zoneName>us-west-1b</zoneName><zoneState>available</zoneState><zoneId>usw1-az1</zoneId></item>
  </availabilityZoneInfo></DescribeAvailabilityZonesResponse>"#;
        let zones = parse(xml);
        assert_eq!(zones.len(), 2);
        assert_eq!(zones[0].id, "usw1-az2");
        assert_eq!(zones[1], zone("us-west-1b", "usw1-az1"));
    }
}
