//! SVC001 endpoint-service: does the endpoint service exist in the region,
//! and is it offered in the AZ IDs the console shows?

use crate::check::{explain, Check, Fix, Judged, Need, Outcome};
use crate::commands::describe_vpc_endpoint_services;
use crate::facts::Facts;
use crate::read::{az_label, cluster_az_ids, fact, join, ok, service_az_ids};

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

/// Why a stray `--az-id` matters (the explain page's paragraph is about a
/// service that does not exist).
const STRAY_AZ_WHY: &str = "The console's Availability Zone ID is where the cluster runs, and the endpoint service behind its Service Name is offered there. An AZ ID the service does not offer means one of the three values was copied from another cluster or region: an endpoint built from them may reach the wrong service.";

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::check::Status;
    use crate::testing::{assert_fail_cases, denied, healthy, FailCase};

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
    ];

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
