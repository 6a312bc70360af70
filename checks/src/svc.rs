//! SVC001 endpoint-service: does the endpoint service exist in the region,
//! and is it offered in the AZ IDs the console shows?

use crate::check::{explain, Check, Fix, Judged, Need, Outcome};
use crate::commands::describe_vpc_endpoint_services;
use crate::facts::Facts;
use crate::read::{az_label, fact, join, ok, service_az_ids, target_az_ids};

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
            let az_ids = target_az_ids(facts).unwrap_or_default();
            let zones = ok(&facts.zones);
            let labels: Vec<String> = match zones {
                Some(zones) => az_ids.iter().map(|id| az_label(zones, id)).collect(),
                None => svc.availability_zones.clone(),
            };
            // --az-id should repeat what the console shows; a mismatch means
            // a wrong copy (or an AZ name taken for an ID somewhere).
            let service_az_ids = zones.map(|z| service_az_ids(svc, z)).unwrap_or_default();
            let stray: Vec<String> = facts
                .inputs
                .az_ids
                .iter()
                .filter(|id| !service_az_ids.is_empty() && !service_az_ids.contains(id))
                .cloned()
                .collect();
            let outcome = if stray.is_empty() {
                Outcome::pass(format!(
                    "{name} exists in {region} ({}, in {})",
                    svc.service_type.join("/"),
                    join(&labels)
                ))
            } else {
                Outcome::warn(format!(
                    "{name} exists in {region}, but it is offered in {}, not in --az-id {}",
                    join(&service_az_ids),
                    join(&stray)
                ))
                .with_fix(Fix {
                    text: "Copy the Availability Zone ID again from the TiDB Cloud console; the doctor judges AZs against the IDs you give.".into(),
                    commands: vec![],
                })
            };
            Ok(outcome
            .with("service_name", name)
            .with("service_id", &svc.service_id)
            .with("service_type", &svc.service_type)
            .with("availability_zones", &svc.availability_zones)
            .with("az_ids", az_ids)
            .with("private_dns_names", &svc.private_dns_names))
        }
    }
}

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
