//! SVC001 endpoint-service: does the endpoint service exist in the region,
//! and is it offered in the AZ IDs the console shows? SVC002
//! service-private-dns: is the service's private DNS name verified, and is
//! it the host the client connects to?

use crate::check::{explain, Check, Fix, Judged, Need, Outcome};
use crate::commands::{describe_private_dns_name, describe_vpc_endpoint_services};
use crate::facts::Facts;
use crate::read::{
    az_label, cluster_az_ids, covers, dns_name, fact, join, ok, private_dns_names, service,
    service_az_ids,
};

pub(crate) const ENDPOINT_SERVICE: Check = Check {
    id: "SVC001",
    slug: "endpoint-service",
    title: "The endpoint service exists in the region",
    needs: &[Need::Service, Need::Zones],
    explain: explain!("SVC001"),
    judge: Some(endpoint_service),
};

fn endpoint_service(facts: &Facts) -> Judged {
    let Some(name) = &facts.inputs.service_name else {
        return Ok(Outcome::skip("no --service-name given"));
    };
    let region = &facts.inputs.region;
    match fact(&facts.service, "the endpoint service was not looked up")? {
        None => Ok(Outcome::fail(format!("no endpoint service named {name} is visible in {region}"))
            .with("service_name", name)
            .with("region", region)
            .with_fix(Fix {
                text: "Copy the Service Name again from the TiDB Cloud console (cluster overview, Connect, Connection Type \"Private\"); it must belong to the region you inspect. Check what AWS sees:".into(),
                commands: vec![describe_vpc_endpoint_services(facts, name)],
            })),
        Some(svc) => {
            let zones = ok(&facts.zones);
            let offered = zones.map(|z| service_az_ids(svc, z)).unwrap_or_default();
            let labels: Vec<String> = match zones {
                Some(zones) => offered.iter().map(|id| az_label(zones, id)).collect(),
                None => svc.availability_zones.clone(),
            };
            // --az-id is where the cluster runs, and its service is offered
            // there: an AZ ID the service does not offer is a wrong copy.
            let (_, stray) = if offered.is_empty() {
                (vec![], vec![])
            } else {
                cluster_az_ids(facts, &offered)
            };
            let outcome = if stray.is_empty() {
                Outcome::pass(format!(
                    "{name} exists in {region} ({}, in {})",
                    svc.service_type.join("/"),
                    join(&labels)
                ))
            } else {
                Outcome::warn(format!(
                    "{name} exists in {region}, but it is offered in {}, not in --az-id {}: a Service Name, region or AZ ID of another cluster?",
                    join(&labels),
                    join(&stray)
                ))
                .with_why(STRAY_AZ_WHY)
                .with_fix(Fix {
                    text: format!(
                        "Copy the Service Name, the region and the Availability Zone ID again from the same cluster in the TiDB Cloud console (Connect, Connection Type \"Private Endpoint\"). Meanwhile the doctor ignores --az-id {} and judges the endpoint's subnets against the service's AZ IDs alone (AZ001). Check what AWS offers:",
                        join(&stray)
                    ),
                    commands: vec![describe_vpc_endpoint_services(facts, name)],
                })
            };
            Ok(outcome
                .with("service_name", name)
                .with("service_id", &svc.service_id)
                .with("service_type", &svc.service_type)
                .with("availability_zones", &svc.availability_zones)
                .with("az_ids", offered)
                .with_items("stray_az_ids", &stray)
                .with("private_dns_names", &svc.private_dns_names))
        }
    }
}

// ---------------------------------------------------------------- SVC002

pub(crate) const SERVICE_PRIVATE_DNS: Check = Check {
    id: "SVC002",
    slug: "service-private-dns",
    title: "The service's private DNS name is verified and is the host",
    needs: &[Need::Service],
    explain: explain!("SVC002"),
    judge: Some(service_private_dns),
};

/// The service's private DNS name is what the endpoint's private DNS
/// answers (AWS creates a private zone of that name in the VPC), so it is
/// the host; AWS lets endpoints use it only once the owner has verified it.
fn service_private_dns(facts: &Facts) -> Judged {
    let svc = service(facts)?;
    let label = svc.service_id.as_deref().unwrap_or(&svc.service_name);
    let names = private_dns_names(svc);
    let given = facts.inputs.host.as_deref().map(dns_name);
    let state = svc.private_dns_name_verification_state.as_deref();
    let evidence = |o: Outcome| {
        o.with("service_name", &svc.service_name)
            .with("private_dns_names", &names)
            .with("verification_state", state)
            .with("host_given", &given)
            .with("acceptance_required", svc.acceptance_required)
            .with(
                "supported_ip_address_types",
                &svc.supported_ip_address_types,
            )
            .with("service_region", &svc.service_region)
    };
    if names.is_empty() {
        let host = given.as_deref().unwrap_or("the host");
        return Ok(evidence(Outcome::warn(format!(
            "{label} has no private DNS name: the endpoint's private DNS cannot answer {host}"
        )))
        .with_fix(Fix {
            text: "TiDB Cloud's endpoint services carry a private DNS name: check that the Service Name is the one the console shows (Connect, Connection Type \"Private\"). Without one, only a private hosted zone of your own can give the host the endpoint's addresses. What AWS sees:".into(),
            commands: vec![describe_vpc_endpoint_services(facts, &svc.service_name)],
        }));
    }
    let shown = join(&names);
    if let Some(host) = &given {
        if !names.iter().any(|n| covers(n, host)) {
            let private = names
                .iter()
                .find(|n| !n.starts_with("*."))
                .unwrap_or(&names[0]);
            // The host came from --host, or from the cluster description.
            let from_file = facts
                .inputs
                .cluster
                .as_ref()
                .and_then(|c| c.host.as_deref())
                .is_some_and(|h| dns_name(h) == *host);
            let said = if from_file {
                "the cluster's endpoints.private.host"
            } else {
                "--host"
            };
            return Ok(evidence(Outcome::fail(format!(
                "{said} {host} is not the private DNS name of {label} ({shown}): the endpoint's private DNS never answers {host}"
            )))
            .with_fix(Fix {
                text: format!(
                    "Connect to {private}, the host TiDB Cloud shows under Connection Type \"Private\" for this service. If {host} is right, the Service Name is another cluster's: copy both from the same cluster's Connect dialog. Check the name AWS holds for the service:"
                ),
                commands: vec![describe_private_dns_name(facts, &svc.service_name)],
            }));
        }
    }
    let host = given.clone().unwrap_or_else(|| names[0].clone());
    match state {
        Some(s) if s.eq_ignore_ascii_case("verified") => Ok(evidence(Outcome::pass(format!(
            "{host} is the private DNS name of {label}, verified"
        )))),
        None => Ok(evidence(Outcome::skip(format!(
            "{host} is the private DNS name of {label}; AWS did not report whether it is verified (a report of an older tidbpe?)"
        )))),
        Some(s) => Ok(evidence(Outcome::fail(format!(
            "the private DNS name {shown} of {label} is {s}, not verified: endpoints cannot enable private DNS for it"
        )))
        .with_fix(Fix {
            text: format!(
                "Only the service owner (TiDB Cloud) can verify the domain: contact TiDB Cloud support with the Service Name {}. Until it is verified, enabling private DNS on the endpoint fails and {host} does not resolve to it (EP003). Follow the state:",
                svc.service_name
            ),
            commands: vec![describe_private_dns_name(facts, &svc.service_name)],
        })),
    }
}

/// Why a stray `--az-id` matters (the explain page's paragraph is about a
/// service that does not exist).
const STRAY_AZ_WHY: &str = "The console's Availability Zone ID is where the cluster runs, and the endpoint service behind its Service Name is offered there. An AZ ID the service does not offer means one of the three values was copied from another cluster or region: an endpoint built from them may reach the wrong service.";

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::check::Status;
    use crate::testing::{assert_fail_cases, denied, healthy, FailCase, HOST};

    /// Changes to the healthy world that make SVC001 fail (or warn).
    pub(crate) const FAIL_CASES: &[FailCase] = &[
        FailCase {
            id: "SVC001",
            name: "no such service in the region",
            expect: Status::Fail,
            mutate: |f| f.service = Some(Ok(None)),
        },
        FailCase {
            id: "SVC001",
            name: "--az-id the service does not offer",
            expect: Status::Warn,
            mutate: |f| f.inputs.az_ids = vec!["use1-az6".into()],
        },
        FailCase {
            id: "SVC002",
            name: "--host is not the service's private DNS name",
            expect: Status::Fail,
            mutate: |f| {
                f.inputs.host =
                    Some("gateway02-privatelink.us-east-1.prod.aws.tidbcloud.com".into())
            },
        },
        FailCase {
            id: "SVC002",
            name: "private DNS name pending verification",
            expect: Status::Fail,
            mutate: |f| {
                service_mut(f).private_dns_name_verification_state =
                    Some("pendingVerification".into())
            },
        },
        FailCase {
            id: "SVC002",
            name: "private DNS name failed verification",
            expect: Status::Fail,
            mutate: |f| service_mut(f).private_dns_name_verification_state = Some("failed".into()),
        },
    ];

    fn service_mut(f: &mut Facts) -> &mut crate::facts::EndpointService {
        match &mut f.service {
            Some(Ok(Some(s))) => s,
            _ => panic!("the fixture has no service"),
        }
    }

    #[test]
    fn svc002_host_and_verification() {
        let mut f = healthy();
        let pass = SERVICE_PRIVATE_DNS.run(&f);
        assert_eq!(pass.status, Status::Pass, "{}", pass.summary);
        assert_eq!(pass.evidence["verification_state"], "verified");

        // The host the user gave, any case, with the final dot: the same name.
        f.inputs.host = Some(format!("{}.", HOST.to_uppercase()));
        assert_eq!(SERVICE_PRIVATE_DNS.run(&f).status, Status::Pass);

        // Another host: fail naming both.
        f.inputs.host = Some("gateway02-privatelink.us-east-1.prod.aws.tidbcloud.com".into());
        let wrong = SERVICE_PRIVATE_DNS.run(&f);
        assert_eq!(wrong.status, Status::Fail);
        assert!(
            wrong.summary.contains("gateway02-privatelink") && wrong.summary.contains(HOST),
            "{}",
            wrong.summary
        );
        let fix = wrong.fix.unwrap();
        assert!(
            fix.text.contains(&format!("Connect to {HOST}")),
            "{}",
            fix.text
        );
        assert!(
            fix.commands[0].contains(
                "--query 'ServiceDetails[].[PrivateDnsName,PrivateDnsNameVerificationState]'"
            ),
            "{}",
            fix.commands[0]
        );

        // The cluster description's host, said so.
        if let Some(c) = &mut f.inputs.cluster {
            c.host = f.inputs.host.clone();
            let from_file = SERVICE_PRIVATE_DNS.run(&f);
            assert!(
                from_file
                    .summary
                    .starts_with("the cluster's endpoints.private.host gateway02-privatelink"),
                "{}",
                from_file.summary
            );
        }

        // No --host: the host is the service's name.
        f.inputs.host = None;
        assert_eq!(SERVICE_PRIVATE_DNS.run(&f).status, Status::Pass);

        // A wildcard name covers the hosts under it.
        service_mut(&mut f).private_dns_names =
            vec!["*.c1.us-east-1.prod.aws.tidbcloud.com".into()];
        f.inputs.host = Some("tidb.c1.us-east-1.prod.aws.tidbcloud.com".into());
        assert_eq!(SERVICE_PRIVATE_DNS.run(&f).status, Status::Pass);

        // Not verified: fail, whatever the host.
        let mut f = healthy();
        service_mut(&mut f).private_dns_name_verification_state =
            Some("pendingVerification".into());
        let pending = SERVICE_PRIVATE_DNS.run(&f);
        assert_eq!(pending.status, Status::Fail);
        assert!(
            pending.summary.contains("pendingVerification"),
            "{}",
            pending.summary
        );

        // An older report without the state: never a pass.
        service_mut(&mut f).private_dns_name_verification_state = None;
        assert_eq!(SERVICE_PRIVATE_DNS.run(&f).status, Status::Skip);

        // No private DNS name at all: a warning.
        service_mut(&mut f).private_dns_names = vec![];
        assert_eq!(SERVICE_PRIVATE_DNS.run(&f).status, Status::Warn);

        // The service lookup failed or found nothing.
        f.service = Some(Err(denied(Need::Service)));
        assert_eq!(SERVICE_PRIVATE_DNS.run(&f).status, Status::Unknown);
        f.service = Some(Ok(None));
        assert_eq!(SERVICE_PRIVATE_DNS.run(&f).status, Status::Skip);
    }

    #[test]
    fn svc001_fail_cases_fail() {
        assert_fail_cases(FAIL_CASES);
    }

    #[test]
    fn svc001_service_lookup() {
        let mut f = healthy();
        assert_eq!(ENDPOINT_SERVICE.run(&f).status, Status::Pass);
        f.inputs.az_ids = vec!["use1-az1".into()];
        assert_eq!(ENDPOINT_SERVICE.run(&f).status, Status::Pass);
        f.inputs.az_ids = vec!["use1-az6".into()];
        let stray = ENDPOINT_SERVICE.run(&f);
        assert_eq!(stray.status, Status::Warn);
        assert!(
            stray.summary.contains("not in --az-id use1-az6"),
            "{}",
            stray.summary
        );
        // Its own why, not the page's paragraph about InvalidServiceName.
        let why = stray.why.as_deref().unwrap_or_default();
        assert!(why.contains("Availability Zone ID"), "{why}");
        assert!(!why.contains("InvalidServiceName"), "{why}");
        let fix = stray.fix.unwrap();
        assert!(fix.text.contains("service's AZ IDs alone"), "{}", fix.text);
        // One offered, one not: only the stray one is named.
        f.inputs.az_ids = vec!["use1-az1".into(), "use1-az4".into()];
        let stray = ENDPOINT_SERVICE.run(&f);
        assert_eq!(stray.status, Status::Warn);
        assert!(
            stray.summary.ends_with(
                "not in --az-id use1-az4: a Service Name, region or AZ ID of another cluster?"
            ),
            "{}",
            stray.summary
        );
        f.inputs.az_ids = vec![];
        f.service = Some(Ok(None));
        let missing = ENDPOINT_SERVICE.run(&f);
        assert_eq!(missing.status, Status::Fail);
        assert!(missing.fix.unwrap().commands[0].starts_with(
            "aws ec2 describe-vpc-endpoint-services --service-names com.amazonaws.vpce.us-east-1."
        ));
        f.service = Some(Err(denied(Need::Service)));
        assert_eq!(ENDPOINT_SERVICE.run(&f).status, Status::Unknown);
    }
}
