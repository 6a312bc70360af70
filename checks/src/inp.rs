//! INP001 target-host: is the target an AWS PrivateLink host of TiDB Cloud,
//! in the same region as the service name and the region inspected? With
//! `--cluster-json`: is the cluster on AWS with a private endpoint, and do
//! the flags beside the file say what it says?

use serde_json::json;

use crate::check::{explain, Check, Fix, Judged, Outcome};
use crate::facts::{Cluster, Facts, Inputs};
use crate::names::{host_kind, region_of_service_name, HostKind};
use crate::read::{covers, host, join, ok, private_dns_names};

pub(crate) const TARGET_HOST: Check = Check {
    id: "INP001",
    slug: "target-host",
    title: "Target is a TiDB Cloud PrivateLink host in this region",
    needs: &[],
    explain: explain!("INP001"),
    judge: Some(target_host),
};

fn target_host(facts: &Facts) -> Judged {
    let inputs = &facts.inputs;
    if let Some(cluster) = &inputs.cluster {
        not_on_privatelink(cluster)?;
    }
    // `--host`, else the service's private DNS name (no host is assumed).
    let host = host(facts)?;
    let host = host.as_str();
    let service_names = ok(&facts.service)
        .and_then(|s| s.as_ref())
        .map(private_dns_names)
        .unwrap_or_default();
    let host_region = match host_kind(host) {
        HostKind::AwsPrivateLink { region } => region,
        HostKind::Gcp => {
            return Ok(Outcome::fail(format!(
                "{host} is on Google Cloud: private endpoints via AWS PrivateLink do not apply to clusters on Google Cloud"
            ))
            .with("host", host)
            .with_fix(Fix {
                text: "Private endpoints via AWS PrivateLink only serve TiDB Cloud Serverless clusters hosted on AWS. Connect to this cluster through its public endpoint, or use a cluster in an AWS region.".into(),
                commands: vec![],
            }))
        }
        HostKind::AwsPublic { region } => {
            // The private host is the service's private DNS name (SVC002).
            let private = service_names.iter().find(|n| !n.starts_with("*."));
            let (text, commands) = match private {
                Some(private) => (
                    format!("Use the private host, the endpoint service's private DNS name {private} (Connection Type \"Private\" in the TiDB Cloud console)."),
                    vec![rerun(inputs, private, &region)],
                ),
                None => (
                    "Use the private host shown under Connection Type \"Private\" in the TiDB Cloud console (the endpoint service's private DNS name).".to_string(),
                    vec![],
                ),
            };
            return Ok(Outcome::fail(format!(
                "{host} is the public endpoint of the cluster, not its private one"
            ))
            .with("host", host)
            .with_fix(Fix { text, commands }));
        }
        // Newer clusters have their own service and host: the service's
        // private DNS name is a PrivateLink host whatever its shape.
        HostKind::Other if service_names.iter().any(|n| covers(n, host)) => inputs
            .service_name
            .as_deref()
            .and_then(region_of_service_name)
            .unwrap_or(&inputs.region)
            .to_string(),
        HostKind::Other => {
            return Ok(Outcome::fail(format!(
                "{host} is not a TiDB Cloud PrivateLink host (the endpoint service's private DNS name, e.g. gatewayNN-privatelink.<region>.prod.aws.tidbcloud.com)"
            ))
            .with("host", host)
            .with_fix(Fix {
                text: "Copy the host from the TiDB Cloud console (Connect, Connection Type \"Private\").".into(),
                commands: vec![],
            }))
        }
    };

    if let Some(cluster) = &inputs.cluster {
        disagreements(inputs, cluster)?;
    }

    let mut regions = vec![("host", host_region.clone())];
    if let Some(name) = &inputs.service_name {
        if let Some(r) = region_of_service_name(name) {
            regions.push(("service name", r.to_string()));
        }
    }
    regions.push(("inspected region", inputs.region.clone()));
    if let Some(cluster) = &inputs.cluster {
        regions.push(("cluster", cluster.region.clone()));
    }
    let outcome = if regions.iter().all(|(_, r)| *r == host_region) {
        Outcome::pass(format!(
            "{host} is an AWS PrivateLink host in {host_region}"
        ))
    } else {
        let seen: Vec<String> = regions
            .iter()
            .map(|(what, r)| format!("{what}: {r}"))
            .collect();
        Outcome::fail(format!(
            "regions disagree ({}): cross-region private endpoint connections are not supported",
            join(&seen)
        ))
        .with_fix(Fix {
            text: format!(
                "The endpoint must be created in the cluster's region ({host_region}), in a VPC of that region. Check the Service Name, Region ID and host in the TiDB Cloud console, and inspect that region."
            ),
            commands: vec![rerun(inputs, host, &host_region)],
        })
    };
    let mut outcome = outcome.with("host", host);
    for (what, r) in regions {
        outcome = outcome.with(&format!("region ({what})"), r);
    }
    Ok(outcome)
}

/// A cluster on another cloud, or on AWS without a private endpoint
/// service, cannot be reached through AWS PrivateLink (seed, Restrictions).
fn not_on_privatelink(cluster: &Cluster) -> Result<(), Outcome> {
    let with_cluster = |o: Outcome| {
        o.with("cluster_id", &cluster.cluster_id)
            .with("cloud_provider", &cluster.cloud_provider)
            .with("cluster_region", &cluster.region)
    };
    if !cluster.is_aws() {
        let cloud = cluster.cloud_name();
        return Err(with_cluster(Outcome::fail(format!(
            "the cluster is on {cloud} ({}): private endpoints via AWS PrivateLink do not apply to clusters on {cloud}",
            cluster.region
        )))
        .with_fix(Fix {
            text: format!("Private endpoints via AWS PrivateLink only serve TiDB Cloud clusters hosted on AWS. Connect to this cluster through its public endpoint or a private endpoint of {cloud}, or use a cluster in an AWS region."),
            commands: vec![],
        }));
    }
    if !cluster.aws_private_endpoint {
        return Err(with_cluster(Outcome::fail(
            "the cluster description has no AWS private endpoint (endpoints.private.aws): TiDB Cloud offers no endpoint service for it",
        ))
        .with_fix(Fix {
            text: "Private endpoints via AWS PrivateLink serve TiDB Cloud Starter and Essential clusters on AWS. Check the cluster's plan and region in the TiDB Cloud console (Connect, Connection Type \"Private Endpoint\"), and describe it again with a current ticloud.".into(),
            commands: vec![describe(cluster)],
        }));
    }
    Ok(())
}

/// Every flag that says something else than the cluster description: the
/// flag wins (it is what the doctor inspected), and the finding names both.
fn disagreements(inputs: &Inputs, cluster: &Cluster) -> Result<(), Outcome> {
    let mut found: Vec<(&str, &str, String, String)> = Vec::new();
    if let (Some(host), Some(flag)) = (&cluster.host, &inputs.host) {
        if !host.eq_ignore_ascii_case(flag) {
            found.push((
                "--host",
                "endpoints.private.host",
                flag.clone(),
                host.clone(),
            ));
        }
    }
    if let Some(port) = cluster.port {
        if port != inputs.port {
            found.push((
                "--port",
                "endpoints.private.port",
                inputs.port.to_string(),
                port.to_string(),
            ));
        }
    }
    if let (Some(file), Some(flag)) = (&cluster.service_name, &inputs.service_name) {
        if file != flag {
            found.push((
                "--service-name",
                "endpoints.private.aws.serviceName",
                flag.clone(),
                file.clone(),
            ));
        }
    }
    if !cluster.az_ids.is_empty() {
        let sorted = |v: &[String]| {
            let mut v = v.to_vec();
            v.sort();
            v.dedup();
            v
        };
        if sorted(&cluster.az_ids) != sorted(&inputs.az_ids) {
            found.push((
                "--az-id",
                "endpoints.private.aws.availabilityZone",
                inputs.az_ids.join(","),
                cluster.az_ids.join(","),
            ));
        }
    }
    if found.is_empty() {
        return Ok(());
    }
    let said: Vec<String> = found
        .iter()
        .map(|(flag, field, ours, theirs)| {
            format!("{flag} {ours}, but the cluster's {field} is {theirs}")
        })
        .collect();
    let evidence: Vec<serde_json::Value> = found
        .iter()
        .map(|(flag, field, ours, theirs)| {
            json!({"flag": flag, "flag_value": ours, "field": field, "cluster_value": theirs})
        })
        .collect();
    let flags: Vec<&str> = found.iter().map(|(flag, ..)| *flag).collect();
    Err(Outcome::fail(format!(
        "the flags disagree with --cluster-json: {}",
        join(&said)
    ))
    .with("host", &inputs.host)
    .with("disagreements", evidence)
    .with_fix(Fix {
        text: format!(
            "The doctor inspected what the flags say. Drop {} to inspect what TiDB Cloud describes, or describe the cluster the flags are meant for.",
            join(&flags.iter().map(|f| f.to_string()).collect::<Vec<_>>())
        ),
        commands: vec![describe(cluster)],
    }))
}

/// `ticloud serverless describe` of the cluster, piped into the doctor.
fn describe(cluster: &Cluster) -> String {
    let id = cluster.cluster_id.as_deref().unwrap_or("CLUSTER_ID");
    format!("ticloud serverless describe -c {id} | tidbpe doctor --cluster-json -")
}

/// The doctor's command line again, with the host and region to use.
fn rerun(inputs: &Inputs, host: &str, region: &str) -> String {
    let service = inputs
        .service_name
        .clone()
        .unwrap_or_else(|| "SERVICE_NAME".to_string());
    format!("tidbpe doctor --service-name {service} --region {region} --host {host}")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::check::Status;
    use crate::testing::{assert_fail_cases, healthy, FailCase, HOST, SVC};

    /// Changes to the healthy world that make INP001 fail.
    pub(crate) const FAIL_CASES: &[FailCase] = &[
        FailCase {
            id: "INP001",
            name: "host in another region",
            expect: Status::Fail,
            mutate: |f| {
                f.inputs.host =
                    Some("gateway01-privatelink.eu-central-1.prod.aws.tidbcloud.com".into())
            },
        },
        FailCase {
            id: "INP001",
            name: "inspected region differs",
            expect: Status::Fail,
            mutate: |f| f.inputs.region = "us-west-2".into(),
        },
        FailCase {
            id: "INP001",
            name: "GCP host",
            expect: Status::Fail,
            mutate: |f| f.inputs.host = Some("gateway01.us-central1.prod.gcp.tidbcloud.com".into()),
        },
        FailCase {
            id: "INP001",
            name: "public host",
            expect: Status::Fail,
            mutate: |f| f.inputs.host = Some("gateway01.us-east-1.prod.aws.tidbcloud.com".into()),
        },
        FailCase {
            id: "INP001",
            name: "unrelated host",
            expect: Status::Fail,
            mutate: |f| f.inputs.host = Some("db.example.com".into()),
        },
        FailCase {
            id: "INP001",
            name: "cluster on Google Cloud",
            expect: Status::Fail,
            mutate: |f| cluster_mut(f).cloud_provider = "gcp".into(),
        },
        FailCase {
            id: "INP001",
            name: "cluster without endpoints.private.aws",
            expect: Status::Fail,
            mutate: |f| cluster_mut(f).aws_private_endpoint = false,
        },
        FailCase {
            id: "INP001",
            name: "--port disagrees with the cluster",
            expect: Status::Fail,
            mutate: |f| f.inputs.port = 4001,
        },
        FailCase {
            id: "INP001",
            name: "cluster in another region",
            expect: Status::Fail,
            mutate: |f| cluster_mut(f).region = "us-west-2".into(),
        },
    ];

    fn cluster_mut(f: &mut Facts) -> &mut Cluster {
        f.inputs
            .cluster
            .as_mut()
            .expect("the healthy world has a cluster")
    }

    #[test]
    fn inp001_fail_cases_fail() {
        assert_fail_cases(FAIL_CASES);
    }

    fn facts(host: &str, service: Option<&str>, region: &str) -> Facts {
        Facts {
            inputs: Inputs {
                host: Some(host.into()),
                service_name: service.map(String::from),
                region: region.into(),
                port: 4000,
                ..Inputs::default()
            },
            ..Facts::default()
        }
    }

    fn status(f: &Facts) -> Status {
        TARGET_HOST.run(f).status
    }

    #[test]
    fn inp001_same_region_passes() {
        let f = facts(
            "gateway01-privatelink.us-east-1.prod.aws.tidbcloud.com",
            Some(SVC),
            "us-east-1",
        );
        assert_eq!(status(&f), Status::Pass);
    }

    #[test]
    fn inp001_host_in_other_region_fails_as_cross_region() {
        let f = facts(
            "gateway01-privatelink.eu-central-1.prod.aws.tidbcloud.com",
            Some(SVC),
            "us-east-1",
        );
        let finding = TARGET_HOST.run(&f);
        assert_eq!(finding.status, Status::Fail);
        assert!(finding
            .summary
            .contains("cross-region private endpoint connections are not supported"));
    }

    #[test]
    fn inp001_gcp_host_fails() {
        let f = facts(
            "gateway01.us-central1.prod.gcp.tidbcloud.com",
            None,
            "us-east-1",
        );
        let finding = TARGET_HOST.run(&f);
        assert_eq!(finding.status, Status::Fail);
        assert!(finding.summary.contains(
            "private endpoints via AWS PrivateLink do not apply to clusters on Google Cloud"
        ));
    }

    #[test]
    fn inp001_public_host_fails_with_private_hint() {
        let mut f = healthy();
        f.inputs.host = Some("gateway01.us-east-1.prod.aws.tidbcloud.com".into());
        let finding = TARGET_HOST.run(&f);
        assert_eq!(finding.status, Status::Fail);
        let fix = finding.fix.unwrap();
        assert!(fix.text.contains(HOST), "{}", fix.text);
        assert!(fix.commands[0].ends_with(&format!("--host {HOST}")));
        // Without the service, no host is assumed.
        f.service = None;
        let fix = TARGET_HOST.run(&f).fix.unwrap();
        assert!(!fix.text.contains("gateway01"), "{}", fix.text);
        assert!(fix.commands.is_empty());
    }

    /// The host defaults to the service's private DNS name, whatever its
    /// shape; nothing assumes `gateway01`.
    #[test]
    fn inp001_the_default_host_is_the_services_private_dns_name() {
        let mut f = healthy();
        f.inputs.host = None;
        let finding = TARGET_HOST.run(&f);
        assert_eq!(finding.status, Status::Pass, "{}", finding.summary);
        assert_eq!(finding.evidence["host"], HOST);
        let new_host = "tidb-0a1b2c-privatelink.us-east-1.prod.aws.tidbcloud.com";
        let other_shape = "db.c1234.us-east-1.clusters.tidbcloud.com";
        for name in [new_host, other_shape] {
            if let Some(Ok(Some(svc))) = &mut f.service {
                svc.private_dns_names = vec![name.into()];
            }
            let finding = TARGET_HOST.run(&f);
            assert_eq!(finding.status, Status::Pass, "{name}: {}", finding.summary);
            assert_eq!(finding.evidence["host"], name);
        }
        // No host and no service: skipped, never a guess.
        f.service = None;
        assert_eq!(TARGET_HOST.run(&f).status, Status::Skip);
        f.service = Some(Err(crate::testing::denied(crate::check::Need::Service)));
        assert_eq!(TARGET_HOST.run(&f).status, Status::Unknown);
    }

    #[test]
    fn inp001_unrelated_host_fails() {
        let f = facts("db.example.com", None, "us-east-1");
        assert_eq!(status(&f), Status::Fail);
    }

    #[test]
    fn inp001_a_cluster_that_agrees_passes() {
        let f = healthy();
        let finding = TARGET_HOST.run(&f);
        assert_eq!(finding.status, Status::Pass, "{}", finding.summary);
        assert_eq!(finding.evidence["region (cluster)"], "us-east-1");
    }

    #[test]
    fn inp001_a_gcp_cluster_fails_before_anything_else() {
        let mut f = healthy();
        let c = cluster_mut(&mut f);
        c.cloud_provider = "gcp".into();
        c.region = "us-central1".into();
        c.aws_private_endpoint = false;
        c.service_name = None;
        f.inputs.host = Some("gateway01-privatelink.us-central1.prod.gcp.tidbcloud.com".into());
        let finding = TARGET_HOST.run(&f);
        assert_eq!(finding.status, Status::Fail);
        assert_eq!(
            finding.summary,
            "the cluster is on Google Cloud (us-central1): private endpoints via AWS PrivateLink do not apply to clusters on Google Cloud"
        );
        assert_eq!(finding.evidence["cloud_provider"], "gcp");
    }

    #[test]
    fn inp001_an_aws_cluster_without_a_private_endpoint_fails() {
        let mut f = healthy();
        cluster_mut(&mut f).aws_private_endpoint = false;
        let finding = TARGET_HOST.run(&f);
        assert_eq!(finding.status, Status::Fail);
        assert!(
            finding.summary.contains("endpoints.private.aws"),
            "{}",
            finding.summary
        );
        assert_eq!(
            finding.fix.unwrap().commands,
            ["ticloud serverless describe -c 10058425682284910921 | tidbpe doctor --cluster-json -"]
        );
    }

    #[test]
    fn inp001_flags_that_disagree_with_the_cluster_name_both_values() {
        let mut f = healthy();
        let other = "com.amazonaws.vpce.us-east-1.vpce-svc-0fffffffffffffff0";
        f.inputs.service_name = Some(other.into());
        f.inputs.port = 4001;
        f.inputs.az_ids = vec!["use1-az2".into()];
        cluster_mut(&mut f).az_ids = vec!["use1-az1".into()];
        let finding = TARGET_HOST.run(&f);
        assert_eq!(finding.status, Status::Fail);
        let s = &finding.summary;
        assert!(
            s.starts_with("the flags disagree with --cluster-json: "),
            "{s}"
        );
        assert!(
            s.contains("--port 4001, but the cluster's endpoints.private.port is 4000"),
            "{s}"
        );
        assert!(s.contains(&format!("--service-name {other}, but the cluster's endpoints.private.aws.serviceName is {SVC}")), "{s}");
        assert!(s.contains("--az-id use1-az2, but the cluster's endpoints.private.aws.availabilityZone is use1-az1"), "{s}");
        assert_eq!(
            finding.evidence["disagreements"].as_array().map(Vec::len),
            Some(3)
        );
        assert!(finding
            .fix
            .unwrap()
            .text
            .contains("Drop --port, --service-name and --az-id"));
    }

    #[test]
    fn inp001_the_same_values_in_another_order_or_case_agree() {
        let mut f = healthy();
        f.inputs.az_ids = vec!["use1-az2".into(), "use1-az1".into()];
        let c = cluster_mut(&mut f);
        c.az_ids = vec!["use1-az1".into(), "use1-az2".into()];
        c.host = Some(HOST.to_ascii_uppercase());
        assert_eq!(status(&f), Status::Pass);
        // A field the description lacks is no disagreement.
        let c = cluster_mut(&mut f);
        c.host = None;
        c.port = None;
        c.service_name = None;
        c.az_ids = vec![];
        f.inputs.port = 4001;
        assert_eq!(status(&f), Status::Pass);
    }

    #[test]
    fn inp001_a_host_flag_that_disagrees_fails() {
        let mut f = healthy();
        f.inputs.host = Some("gateway02-privatelink.us-east-1.prod.aws.tidbcloud.com".into());
        let finding = TARGET_HOST.run(&f);
        assert_eq!(finding.status, Status::Fail);
        assert!(finding.summary.contains(&format!(
            "--host gateway02-privatelink.us-east-1.prod.aws.tidbcloud.com, but the cluster's endpoints.private.host is {HOST}"
        )), "{}", finding.summary);
    }
}
