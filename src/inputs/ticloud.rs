//! What TiDB Cloud says the cluster expects: the output of `ticloud
//! serverless describe -c ID` (`--cluster-json FILE|-`), read as untrusted
//! input and reduced to the few values the doctor compares with AWS.
//!
//! Two shapes exist and both are read: the current one (`region.regionId`
//! = `aws-us-east-1`, `region.cloudProvider` = `aws`) and the 2024 one
//! (`region.id` = `us-east-1`, `region.provider` = `AWS`). Unknown keys are
//! ignored. A cluster on another cloud, or without
//! `endpoints.private.aws`, is not an error here: it is a finding (INP001),
//! so the provider is kept. Every value that will reach a command is
//! checked by the command line's validators; an error names the field.

use std::path::Path;
use std::time::Duration;

use serde::de::IgnoredAny;
use serde::Deserialize;
use tidbpe_checks::facts::Cluster;
use tidbpe_checks::names::{
    is_aws_token, is_az_id, is_hostname, is_port, is_region, region_of_service_name,
};
use tidbpe_checks::text::printable;

use crate::untrusted::{self, UntrustedError};

const EXPECTED: &str = "the output of `ticloud serverless describe -c CLUSTER_ID`";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", expecting = "a JSON object")]
struct Describe {
    cluster_id: Option<String>,
    display_name: Option<String>,
    state: Option<String>,
    region: Option<Region>,
    endpoints: Option<Endpoints>,
    /// `ticloud serverless list -o json` wraps clusters in this.
    clusters: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", expecting = "a JSON object")]
struct Region {
    /// Current: `aws-us-east-1`.
    region_id: Option<String>,
    /// Current: `aws`.
    cloud_provider: Option<String>,
    /// 2024: `us-east-1`.
    id: Option<String>,
    /// 2024: `AWS`.
    provider: Option<String>,
    /// Both: `regions/aws-us-east-1`.
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct Endpoints {
    private: Option<Private>,
}

#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct Private {
    host: Option<String>,
    port: Option<u16>,
    aws: Option<Aws>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", expecting = "a JSON object")]
struct Aws {
    service_name: Option<String>,
    availability_zone: Option<Vec<String>>,
}

/// The cluster described in `path` (`-`: standard input, which must end
/// within `wait`), at most 1 MiB.
pub fn read(path: &Path, wait: Option<Duration>) -> Result<Cluster, UntrustedError> {
    let text = untrusted::read_within(path, untrusted::CLUSTER_JSON_LIMIT, wait)?;
    parse(&untrusted::display_name(path), &text)
}

/// The cluster described by `text` (read from `name`).
pub fn parse(name: &str, text: &str) -> Result<Cluster, UntrustedError> {
    let d: Describe = untrusted::parse(name, text, EXPECTED)?;
    let bad =
        |field: &str, problem: &str| UntrustedError::new(format!("{name}: {field}: {problem}"));
    let Some(region) = d.region else {
        return Err(if d.clusters.is_some() {
            UntrustedError::new(format!(
                "{name} is a list of clusters (`ticloud serverless list`): expected {EXPECTED}"
            ))
        } else {
            bad("region", &format!("missing: expected {EXPECTED}"))
        });
    };

    // The cloud: `cloudProvider` (current), `provider` (2024), else the
    // prefix of `regionId` or of `name` (`regions/aws-us-east-1`).
    let from_name = region
        .name
        .as_deref()
        .and_then(|n| n.strip_prefix("regions/"));
    let (provider, provider_field) = match (&region.cloud_provider, &region.provider) {
        (Some(p), _) => (p.clone(), "region.cloudProvider"),
        (None, Some(p)) => (p.clone(), "region.provider"),
        (None, None) => match region.region_id.as_deref().or(from_name) {
            Some(id) => (
                id.split('-').next().unwrap_or_default().to_string(),
                if region.region_id.is_some() {
                    "region.regionId"
                } else {
                    "region.name"
                },
            ),
            None => {
                return Err(bad(
                    "region.cloudProvider",
                    "missing: expected aws, gcp, azure or alicloud",
                ))
            }
        },
    };
    let provider = provider.to_ascii_lowercase();
    if !is_aws_token(&provider) {
        return Err(bad(provider_field, "not a cloud provider (such as aws)"));
    }

    // The region: `id` (2024, bare), else `regionId` or `name` without the
    // cloud's prefix.
    let prefix = format!("{provider}-");
    let (region_code, region_field) = match (&region.id, &region.region_id, from_name) {
        (Some(id), _, _) => (id.clone(), "region.id"),
        (None, Some(id), _) => (strip(id, &prefix), "region.regionId"),
        (None, None, Some(n)) => (strip(n, &prefix), "region.name"),
        (None, None, None) => {
            return Err(bad(
                "region.regionId",
                "missing: expected a region such as aws-us-east-1",
            ))
        }
    };
    let region_ok = if provider == "aws" {
        is_region(&region_code)
    } else {
        is_aws_token(&region_code)
    };
    if !region_ok {
        return Err(bad(
            region_field,
            if provider == "aws" {
                "not an AWS region (such as aws-us-east-1, or us-east-1)"
            } else {
                "not a region name"
            },
        ));
    }

    if let Some(id) = &d.cluster_id {
        if !is_aws_token(id) {
            return Err(bad("clusterId", "not a cluster ID (digits)"));
        }
    }
    if let Some(state) = &d.state {
        if !is_aws_token(state) {
            return Err(bad("state", "not a cluster state (such as ACTIVE)"));
        }
    }

    let mut cluster = Cluster {
        cluster_id: d.cluster_id,
        display_name: d.display_name.map(|n| printable(&n).into_owned()),
        state: d.state,
        cloud_provider: provider,
        region: region_code,
        ..Cluster::default()
    };
    let Some(private) = d.endpoints.and_then(|e| e.private) else {
        return Ok(cluster);
    };
    if let Some(host) = private.host {
        if !is_hostname(&host) {
            return Err(bad(
                "endpoints.private.host",
                "not a host name (such as gateway01-privatelink.us-east-1.prod.aws.tidbcloud.com)",
            ));
        }
        cluster.host = Some(host.trim_end_matches('.').to_ascii_lowercase());
    }
    if let Some(port) = private.port {
        if !is_port(port) {
            return Err(bad("endpoints.private.port", "not a TCP port (1 to 65535)"));
        }
        cluster.port = Some(port);
    }
    if let Some(aws) = private.aws {
        cluster.aws_private_endpoint = true;
        if let Some(service) = aws.service_name {
            if region_of_service_name(&service).is_none() {
                return Err(bad(
                    "endpoints.private.aws.serviceName",
                    "not an endpoint service name (com.amazonaws.vpce.<region>.vpce-svc-…)",
                ));
            }
            cluster.service_name = Some(service);
        }
        for (i, az) in aws
            .availability_zone
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            if !is_az_id(&az) {
                return Err(bad(
                    &format!("endpoints.private.aws.availabilityZone[{i}]"),
                    "not an AZ ID (such as use1-az1)",
                ));
            }
            cluster.az_ids.push(az);
        }
    }
    Ok(cluster)
}

fn strip(value: &str, prefix: &str) -> String {
    value.strip_prefix(prefix).unwrap_or(value).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `describe-current.json` of the shared notes: the shape since
    /// ticloud v1.0.0-beta.2.
    const CURRENT: &str = r#"{
  "annotations": {"tidb.cloud/has-set-password": "true"},
  "automatedBackupPolicy": {"retentionDays": 14, "startTime": "07:00"},
  "clusterId": "10058425682284910921",
  "createTime": "2025-03-10T08:21:43Z",
  "createdBy": "ops@example.com",
  "displayName": "orders-prod",
  "endpoints": {
    "private": {
      "aws": {
        "availabilityZone": ["use1-az1"],
        "serviceName": "com.amazonaws.vpce.us-east-1.vpce-svc-03342995daf1bc4d4"
      },
      "host": "gateway01-privatelink.us-east-1.prod.aws.tidbcloud.com",
      "port": 4000
    },
    "public": {"disabled": false, "host": "gateway01.us-east-1.prod.aws.tidbcloud.com", "port": 4000}
  },
  "highAvailabilityType": "ZONAL",
  "labels": {"tidb.cloud/organization": "30018", "tidb.cloud/project": "163469"},
  "name": "clusters/10058425682284910921",
  "region": {
    "cloudProvider": "aws",
    "displayName": "N. Virginia (us-east-1)",
    "name": "regions/aws-us-east-1",
    "regionId": "aws-us-east-1"
  },
  "servicePlan": "Starter",
  "state": "ACTIVE",
  "updateTime": "2025-03-10T08:21:43Z",
  "userPrefix": "28cDWcUJJiewaQ7",
  "version": "v7.5.2"
}"#;

    /// `describe-2024.json`: the shape of ticloud v1.0.0-beta.1.
    const SHAPE_2024: &str = r#"{
  "clusterId": "10058425682284910921",
  "createTime": "2024-05-02T10:04:11Z",
  "displayName": "orders-prod",
  "endpoints": {
    "private": {
      "aws": {
        "availabilityZone": ["use1-az1"],
        "serviceName": "com.amazonaws.vpce.us-east-1.vpce-svc-03342995daf1bc4d4"
      },
      "host": "gateway01-privatelink.us-east-1.prod.aws.tidbcloud.com",
      "port": 4000
    },
    "public": {"disabled": false, "host": "gateway01.us-east-1.prod.aws.tidbcloud.com", "port": 4000}
  },
  "name": "clusters/10058425682284910921",
  "region": {
    "displayName": "N. Virginia (us-east-1)",
    "id": "us-east-1",
    "name": "regions/aws-us-east-1",
    "provider": "AWS"
  },
  "state": "ACTIVE",
  "version": "v7.5.2"
}"#;

    fn expected() -> Cluster {
        Cluster {
            cluster_id: Some("10058425682284910921".into()),
            display_name: Some("orders-prod".into()),
            state: Some("ACTIVE".into()),
            cloud_provider: "aws".into(),
            region: "us-east-1".into(),
            host: Some("gateway01-privatelink.us-east-1.prod.aws.tidbcloud.com".into()),
            port: Some(4000),
            aws_private_endpoint: true,
            service_name: Some("com.amazonaws.vpce.us-east-1.vpce-svc-03342995daf1bc4d4".into()),
            az_ids: vec!["use1-az1".into()],
        }
    }

    fn err(text: &str) -> String {
        parse("c.json", text)
            .expect_err("must be refused")
            .to_string()
    }

    #[test]
    fn both_shapes_read_the_same() {
        assert_eq!(parse("c.json", CURRENT).expect("current shape"), expected());
        assert_eq!(parse("c.json", SHAPE_2024).expect("2024 shape"), expected());
    }

    #[test]
    fn a_gcp_cluster_is_read_with_its_provider() {
        let gcp = r#"{
          "clusterId": "1",
          "endpoints": {"private": {
              "gcp": {"serviceAttachmentName": "projects/x/regions/us-central1/serviceAttachments/y"},
              "host": "gateway01-privatelink.us-central1.prod.gcp.tidbcloud.com", "port": 4000}},
          "region": {"cloudProvider": "gcp", "regionId": "gcp-us-central1", "name": "regions/gcp-us-central1"},
          "state": "ACTIVE"
        }"#;
        let c = parse("c.json", gcp).expect("not a parse error");
        assert_eq!(c.cloud_provider, "gcp");
        assert_eq!(c.region, "us-central1");
        assert!(!c.aws_private_endpoint);
        assert_eq!(c.service_name, None);
        assert_eq!(
            c.host.as_deref(),
            Some("gateway01-privatelink.us-central1.prod.gcp.tidbcloud.com")
        );
    }

    #[test]
    fn an_aws_cluster_without_a_private_endpoint_is_read() {
        let c = parse(
            "c.json",
            r#"{"region": {"name": "regions/aws-eu-central-1"}, "state": "PAUSED"}"#,
        )
        .expect("not a parse error");
        assert_eq!(c.cloud_provider, "aws");
        assert_eq!(c.region, "eu-central-1");
        assert_eq!(c.state.as_deref(), Some("PAUSED"));
        assert!(!c.aws_private_endpoint && c.host.is_none());
    }

    #[test]
    fn bad_values_name_their_field() {
        let swap = |from: &str, to: &str| CURRENT.replacen(from, to, 1);
        let cases = [
            (
                swap("\"port\": 4000", "\"port\": \"4000\""),
                "c.json: endpoints.private.port: invalid type: string \"4000\", expected u16",
            ),
            (
                swap("\"port\": 4000", "\"port\": 70000"),
                "c.json: endpoints.private.port: invalid value: integer `70000`, expected u16",
            ),
            (
                swap("\"port\": 4000", "\"port\": 0"),
                "c.json: endpoints.private.port: not a TCP port (1 to 65535)",
            ),
            (
                swap("vpce-svc-03342995daf1bc4d4", "vpce-svc-0334$(reboot)"),
                "c.json: endpoints.private.aws.serviceName: not an endpoint service name",
            ),
            (
                swap("\"use1-az1\"", "\"use1-az1\", \"us-east-1a\""),
                "c.json: endpoints.private.aws.availabilityZone[1]: not an AZ ID (such as use1-az1)",
            ),
            (
                swap(
                    "\"host\": \"gateway01-privatelink",
                    "\"host\": \"gateway01-privatelink;x",
                ),
                "c.json: endpoints.private.host: not a host name",
            ),
            (
                swap("\"regionId\": \"aws-us-east-1\"", "\"regionId\": \"aws-us east 1\""),
                "c.json: region.regionId: not an AWS region",
            ),
            (
                swap("\"state\": \"ACTIVE\"", "\"state\": \"\\u001b[2J\""),
                "c.json: state: not a cluster state (such as ACTIVE)",
            ),
            (
                swap("\"availabilityZone\": [", "\"availabilityZone\": {\"a\": [").replacen(
                    "],\n        \"serviceName\"",
                    "]},\n        \"serviceName\"",
                    1,
                ),
                "c.json: endpoints.private.aws.availabilityZone: invalid type: map, expected a sequence",
            ),
        ];
        for (text, expected) in cases {
            let e = err(&text);
            assert!(e.starts_with(expected), "{e}\nexpected: {expected}");
        }
    }

    #[test]
    fn garbage_and_wrong_shapes_are_refused() {
        assert!(err("").starts_with("c.json is not JSON (EOF while parsing"));
        assert!(err("ticloud: command not found").starts_with("c.json is not JSON"));
        assert_eq!(
            err("[1, 2]"),
            "c.json is not a JSON object: expected the output of `ticloud serverless describe -c CLUSTER_ID`"
        );
        assert_eq!(
            err(r#"{"foo": 1}"#),
            "c.json: region: missing: expected the output of `ticloud serverless describe -c CLUSTER_ID`"
        );
        assert_eq!(
            err(r#"{"clusters": [], "totalSize": 0}"#),
            "c.json is a list of clusters (`ticloud serverless list`): expected the output of `ticloud serverless describe -c CLUSTER_ID`"
        );
        let e = err(&format!(r#"{{"displayName": "{}"}}"#, "x".repeat(5000)));
        assert!(
            e.starts_with("c.json: displayName: a string of more than 4096 bytes"),
            "{e}"
        );
        let e = err(&format!("{}{}", CURRENT, "}"));
        assert!(e.contains("trailing characters"), "{e}");
    }

    #[test]
    fn an_oversized_file_is_refused_before_parsing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("big.json");
        let padding = " ".repeat(untrusted::CLUSTER_JSON_LIMIT as usize);
        std::fs::write(&path, format!("{CURRENT}{padding}")).expect("write");
        let e = read(&path, None).expect_err("too large").to_string();
        assert!(
            e.ends_with("is larger than 1 MiB: refused (is it the right file?)"),
            "{e}"
        );
        std::fs::write(&path, CURRENT).expect("write");
        assert_eq!(read(&path, None).expect("a small file"), expected());
    }
}
