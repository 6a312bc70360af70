//! Availability zones: AZ001 endpoint-az, AZ002 client-az. Zones are
//! compared by AZ ID (`use1-az1`), never by name: names are shuffled per
//! AWS account, IDs are the same everywhere.

use crate::check::{explain, Check, Fix, Judged, Need, Outcome};
use crate::commands::{create_subnet, modify_vpc_endpoint_subnets};
use crate::facts::Facts;
use crate::read::{
    az_label, client_elsewhere, fact, join, main_endpoint, subnet, target_az_ids, vpc_id,
    NO_CLIENT, NO_VPC, NO_ZONES,
};

pub(crate) const ENDPOINT_AZ: Check = Check {
    id: "AZ001",
    slug: "endpoint-az",
    title: "The endpoint's subnets are in the service's AZ IDs",
    needs: &[Need::Service, Need::Zones, Need::Subnets, Need::Endpoints],
    explain: explain!("AZ001"),
    judge: Some(endpoint_az),
};

fn endpoint_az(facts: &Facts) -> Judged {
    let vpc = vpc_id(facts)?;
    let az_ids = target_az_ids(facts)?;
    let zones = fact(&facts.zones, NO_ZONES)?;
    let subnets = fact(&facts.subnets, NO_VPC)?;
    let wanted: Vec<String> = az_ids.iter().map(|id| az_label(zones, id)).collect();
    let label = |id: &str| match subnet(subnets, id) {
        Some(s) => format!("{} in {} ({})", s.subnet_id, s.az_id, s.availability_zone),
        None => format!("{id} (not in {vpc})"),
    };
    let in_service_az = |id: &str| subnet(subnets, id).is_some_and(|s| az_ids.contains(&s.az_id));

    let endpoint = match main_endpoint(facts) {
        Ok(ep) => ep,
        Err(_) => {
            // Pre-flight: which subnets could carry the endpoint?
            fact(&facts.endpoints, NO_VPC)?;
            let eligible: Vec<String> = subnets
                .iter()
                .filter(|s| az_ids.contains(&s.az_id))
                .map(|s| label(&s.subnet_id))
                .collect();
            let outcome = if eligible.is_empty() {
                Outcome::fail(format!(
                    "no subnet of {vpc} is in the service's AZ IDs {}",
                    join(&wanted)
                ))
                .with_fix(Fix {
                    text: "Create a subnet in one of the service's AZ IDs (the AZ ID, not the name: names differ between AWS accounts), then create the endpoint there:".into(),
                    commands: az_ids
                        .iter()
                        .take(1)
                        .map(|az| create_subnet(facts, vpc, az))
                        .collect(),
                })
            } else {
                Outcome::pass(format!(
                    "pre-flight: eligible subnets for the endpoint: {}",
                    join(&eligible)
                ))
            };
            return Ok(outcome
                .with("service_az_ids", &az_ids)
                .with("eligible_subnets", eligible));
        }
    };

    let id = &endpoint.endpoint_id;
    let (good, bad): (Vec<&String>, Vec<&String>) =
        endpoint.subnet_ids.iter().partition(|s| in_service_az(s));
    let seen: Vec<String> = endpoint.subnet_ids.iter().map(|s| label(s)).collect();
    let outcome = if bad.is_empty() && !good.is_empty() {
        Outcome::pass(format!("{id} is in {}", join(&seen)))
    } else {
        let bad_labels: Vec<String> = bad.iter().map(|s| label(s)).collect();
        // An endpoint holds one subnet per AZ: add only AZs it does not cover yet.
        let covered: Vec<&str> = good
            .iter()
            .filter_map(|s| subnet(subnets, s))
            .map(|s| s.az_id.as_str())
            .collect();
        let replacements: Vec<&str> = az_ids
            .iter()
            .filter(|az| !covered.contains(&az.as_str()))
            .filter_map(|az| subnets.iter().find(|s| &s.az_id == az))
            .map(|s| s.subnet_id.as_str())
            .collect();
        let bad_ids: Vec<&str> = bad.iter().map(|s| s.as_str()).collect();
        let command = modify_vpc_endpoint_subnets(facts, id, &replacements, &bad_ids);
        Outcome::fail(format!(
            "{id} has subnet(s) outside the service's AZ IDs {}: {}",
            join(&wanted),
            join(&bad_labels)
        ))
        .with_fix(Fix {
            text: format!(
                "Put the endpoint in subnets of the service's AZ IDs ({}). Compare AZ IDs, not names: us-east-1a in your account need not be us-east-1a in another.",
                join(&wanted)
            ),
            commands: vec![command],
        })
    };
    Ok(outcome
        .with("endpoint_id", id)
        .with("service_az_ids", &az_ids)
        .with("endpoint_subnets", seen))
}

pub(crate) const CLIENT_AZ: Check = Check {
    id: "AZ002",
    slug: "client-az",
    title: "The client's AZ has an endpoint network interface",
    needs: &[Need::Instance, Need::Subnets, Need::Endpoints, Need::Zones],
    explain: explain!("AZ002"),
    judge: Some(client_az),
};

fn client_az(facts: &Facts) -> Judged {
    let client = fact(&facts.client, NO_CLIENT)?;
    client_elsewhere(facts)?;
    let Some(client_az) = &client.az_id else {
        return Err(Outcome::skip(
            "the client's AZ is unknown (its address is in no subnet of the VPC): pass --instance-id",
        ));
    };
    let endpoint = main_endpoint(facts)?;
    let subnets = fact(&facts.subnets, NO_VPC)?;
    let zones = fact(&facts.zones, NO_ZONES)?;
    let mut endpoint_azs: Vec<String> = endpoint
        .subnet_ids
        .iter()
        .filter_map(|s| subnet(subnets, s))
        .map(|s| s.az_id.clone())
        .collect();
    endpoint_azs.sort();
    endpoint_azs.dedup();
    let labels: Vec<String> = endpoint_azs.iter().map(|a| az_label(zones, a)).collect();
    let who = client.instance_id.as_deref().unwrap_or("the client");
    let outcome = if endpoint_azs.contains(client_az) {
        Outcome::pass(format!(
            "{who} is in {}, where {} has a network interface",
            az_label(zones, client_az),
            endpoint.endpoint_id
        ))
    } else {
        let service_azs = target_az_ids(facts).unwrap_or_default();
        let same_az_subnet = subnets
            .iter()
            .find(|s| &s.az_id == client_az)
            .map(|s| s.subnet_id.clone());
        let fix = if service_azs.contains(client_az) {
            Fix {
                text:
                    "Add a subnet in the client's AZ to the endpoint, so traffic stays in the zone:"
                        .into(),
                commands: vec![modify_vpc_endpoint_subnets(
                    facts,
                    &endpoint.endpoint_id,
                    &[same_az_subnet.as_deref().unwrap_or("SUBNET_ID")],
                    &[],
                )],
            }
        } else {
            Fix {
                text: format!(
                    "The service is not offered in the client's AZ {}; to avoid the cross-AZ hop, run the client in one of {}.",
                    az_label(zones, client_az),
                    join(&service_azs)
                ),
                commands: vec![],
            }
        };
        Outcome::warn(format!(
            "{who} is in {}, but {} has interfaces only in {}: traffic crosses AZs (works, with more latency and cost)",
            az_label(zones, client_az),
            endpoint.endpoint_id,
            join(&labels)
        ))
        .with_fix(fix)
    };
    Ok(outcome
        .with("client_az_id", client_az)
        .with("endpoint_az_ids", endpoint_azs))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::check::Status;
    use crate::facts::{Client, ClientSource};
    use crate::testing::{assert_fail_cases, client_mut, endpoint, endpoint_mut, world, FailCase};

    /// Changes to the healthy world that make an AZ check fail (AZ002 warns at worst).
    pub(crate) const FAIL_CASES: &[FailCase] = &[
        FailCase {
            id: "AZ001",
            name: "endpoint in an AZ the service does not offer",
            expect: Status::Fail,
            mutate: |f| endpoint_mut(f).subnet_ids = vec!["subnet-0000000a".into()],
        },
        FailCase {
            id: "AZ001",
            name: "--az-id the endpoint does not cover",
            expect: Status::Fail,
            mutate: |f| f.inputs.az_ids = vec!["use1-az6".into()],
        },
        FailCase {
            id: "AZ002",
            name: "client in an AZ without an endpoint interface",
            expect: Status::Warn,
            mutate: |f| client_mut(f).az_id = Some("use1-az2".into()),
        },
    ];

    #[test]
    fn az_fail_cases_fail() {
        assert_fail_cases(FAIL_CASES);
    }

    fn facts(endpoint_subnets: &[&str], client_az: Option<&str>) -> Facts {
        let endpoints = match endpoint_subnets {
            [] => vec![],
            subnets => vec![endpoint("vpce-00000001", "available", true, subnets)],
        };
        Facts {
            client: client_az.map(|az| {
                Ok(Client {
                    source: ClientSource::Imds,
                    az_id: Some(az.into()),
                    ..Client::default()
                })
            }),
            ..world(endpoints)
        }
    }

    #[test]
    fn az001_endpoint_azs_by_id() {
        assert_eq!(
            ENDPOINT_AZ
                .run(&facts(&["subnet-0000000b", "subnet-0000000c"], None))
                .status,
            Status::Pass
        );
        let wrong = ENDPOINT_AZ.run(&facts(&["subnet-0000000a"], None));
        assert_eq!(wrong.status, Status::Fail);
        assert!(
            wrong.summary.contains("use1-az6 (us-east-1a)"),
            "{}",
            wrong.summary
        );
        let command = &wrong.fix.unwrap().commands[0];
        assert!(
            command.contains("--add-subnet-ids subnet-0000000b subnet-0000000c --remove-subnet-ids subnet-0000000a"),
            "{command}"
        );
        let preflight = ENDPOINT_AZ.run(&facts(&[], None));
        assert_eq!(preflight.status, Status::Pass);
        assert!(
            preflight.summary.contains("subnet-0000000b")
                && !preflight.summary.contains("subnet-0000000a")
        );
    }

    #[test]
    fn az002_client_azs() {
        assert_eq!(
            CLIENT_AZ
                .run(&facts(&["subnet-0000000b"], Some("use1-az1")))
                .status,
            Status::Pass
        );
        let cross = CLIENT_AZ.run(&facts(&["subnet-0000000c"], Some("use1-az1")));
        assert_eq!(cross.status, Status::Warn);
        assert!(cross.fix.unwrap().commands[0].contains(
            "modify-vpc-endpoint --vpc-endpoint-id vpce-00000001 --add-subnet-ids subnet-0000000b "
        ));
        assert_eq!(
            CLIENT_AZ.run(&facts(&["subnet-0000000c"], None)).status,
            Status::Skip
        );
    }
}
