//! INP001 target-host: is the target an AWS PrivateLink host of TiDB Cloud,
//! in the same region as the service name and the region inspected?

use crate::check::{explain, Check, Fix, Judged, Outcome};
use crate::facts::{Facts, Inputs};
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

    let mut regions = vec![("host", host_region.clone())];
    if let Some(name) = &inputs.service_name {
        if let Some(r) = region_of_service_name(name) {
            regions.push(("service name", r.to_string()));
        }
    }
    regions.push(("inspected region", inputs.region.clone()));
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
    ];

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
}
