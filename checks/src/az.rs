//! Availability zones: AZ001 endpoint-az, AZ002 client-az. Zones are
//! compared by AZ ID (`use1-az1`), never by name: names are shuffled per
//! AWS account, IDs are the same everywhere.

use crate::check::{explain, Check, Fix, Judged, Need, Outcome};
use crate::commands::{create_subnet, modify_vpc_endpoint_subnets};
use crate::facts::{Facts, Subnet};
use crate::read::{
    az_label, client_elsewhere, cluster_az_ids, fact, free_subnet_cidr, join, main_endpoint,
    offered_az_ids, ok, subnet, vpc_id, NO_CLIENT, NO_VPC, NO_ZONES,
};

pub(crate) const ENDPOINT_AZ: Check = Check {
    id: "AZ001",
    slug: "endpoint-az",
    title: "The endpoint's subnets are in the service's AZ IDs",
    needs: &[
        Need::Service,
        Need::Zones,
        Need::Subnets,
        Need::Endpoints,
        Need::Vpc,
    ],
    explain: explain!("AZ001"),
    judge: Some(endpoint_az),
};

/// The commands that give the endpoint (or, pre-flight, the VPC) a subnet in
/// each AZ ID of `missing`: the VPC's own subnet there, else a new one.
struct Additions<'a> {
    /// Existing subnets to add.
    subnets: Vec<&'a str>,
    /// AZ IDs with no subnet in the VPC: `create-subnet` commands.
    creates: Vec<String>,
}

fn additions<'a>(
    facts: &Facts,
    vpc: &str,
    subnets: &'a [Subnet],
    missing: &[&str],
) -> Additions<'a> {
    let mut out = Additions {
        subnets: Vec::new(),
        creates: Vec::new(),
    };
    // The client's own subnet first where it is in that AZ, as pre-flight does.
    let client_subnet = ok(&facts.client).and_then(|c| c.subnet_id.as_deref());
    for az in missing {
        let mut in_az: Vec<&Subnet> = subnets.iter().filter(|s| s.az_id == *az).collect();
        in_az.sort_by_key(|s| Some(s.subnet_id.as_str()) != client_subnet);
        match in_az.first() {
            Some(s) => out.subnets.push(&s.subnet_id),
            None => out
                .creates
                .push(create_subnet(facts, vpc, az, free_subnet_cidr(facts))),
        }
    }
    out
}

fn endpoint_az(facts: &Facts) -> Judged {
    let vpc = vpc_id(facts)?;
    let offered = offered_az_ids(facts)?;
    let zones = fact(&facts.zones, NO_ZONES)?;
    let subnets = fact(&facts.subnets, NO_VPC)?;
    // --az-id the service offers: where the cluster is, where the endpoint
    // needs a subnet (in one of them: a cluster in several AZs is reached
    // through any). The others are SVC001's warning, ignored here.
    let (cluster, _) = cluster_az_ids(facts, &offered);
    // The cluster's AZ a new subnet goes to: one the VPC has a subnet in.
    let cluster_pick: Option<&str> = cluster
        .iter()
        .find(|az| subnets.iter().any(|s| &s.az_id == *az))
        .or(cluster.first())
        .map(String::as_str);
    let wanted: Vec<String> = offered.iter().map(|id| az_label(zones, id)).collect();
    let cluster_labels: Vec<String> = cluster.iter().map(|id| az_label(zones, id)).collect();
    let label = |id: &str| match subnet(subnets, id) {
        Some(s) => format!("{} in {} ({})", s.subnet_id, s.az_id, s.availability_zone),
        None => format!("{id} (not in {vpc})"),
    };
    let in_service_az = |id: &str| subnet(subnets, id).is_some_and(|s| offered.contains(&s.az_id));

    let endpoint = match main_endpoint(facts) {
        Ok(ep) => ep,
        Err(_) => {
            // Pre-flight: which subnets could carry the endpoint? The
            // cluster's AZs first.
            fact(&facts.endpoints, NO_VPC)?;
            let mut eligible: Vec<&Subnet> = subnets
                .iter()
                .filter(|s| offered.contains(&s.az_id))
                .collect();
            eligible.sort_by_key(|s| !cluster.contains(&s.az_id));
            let eligible: Vec<String> = eligible.iter().map(|s| label(&s.subnet_id)).collect();
            // The VPC has no subnet in any of the cluster's AZs.
            let bare: Vec<&str> = match cluster_pick {
                Some(az) if !subnets.iter().any(|s| s.az_id == az) => vec![az],
                _ => vec![],
            };
            let outcome = if eligible.is_empty() || !bare.is_empty() {
                let missing: Vec<&str> = if bare.is_empty() {
                    offered.iter().take(1).map(String::as_str).collect()
                } else {
                    bare.clone()
                };
                let summary = if bare.is_empty() {
                    format!(
                        "no subnet of {vpc} is in the service's AZ IDs {}",
                        join(&wanted)
                    )
                } else {
                    let labels: Vec<String> = bare.iter().map(|id| az_label(zones, id)).collect();
                    format!(
                        "no subnet of {vpc} is in {}, the cluster's AZ ID (--az-id)",
                        join(&labels)
                    )
                };
                Outcome::fail(summary).with_fix(Fix {
                    text: "Create a subnet in that AZ ID (the AZ ID, not the name: names differ between AWS accounts), then create the endpoint there (EP001):".into(),
                    commands: additions(facts, vpc, subnets, &missing).creates,
                })
            } else {
                Outcome::pass(format!(
                    "pre-flight: eligible subnets for the endpoint: {}",
                    join(&eligible)
                ))
            };
            return Ok(outcome
                .with("service_az_ids", &offered)
                .with_items("cluster_az_ids", &cluster)
                .with("eligible_subnets", eligible));
        }
    };

    let id = &endpoint.endpoint_id;
    let (good, bad): (Vec<&String>, Vec<&String>) =
        endpoint.subnet_ids.iter().partition(|s| in_service_az(s));
    let seen: Vec<String> = endpoint.subnet_ids.iter().map(|s| label(s)).collect();
    // An endpoint holds one subnet per AZ.
    let covered: Vec<&str> = good
        .iter()
        .filter_map(|s| subnet(subnets, s))
        .map(|s| s.az_id.as_str())
        .collect();
    let uncovered_cluster: Vec<&str> = match cluster_pick {
        Some(az) if !cluster.iter().any(|c| covered.contains(&c.as_str())) => vec![az],
        _ => vec![],
    };
    if bad.is_empty() && !good.is_empty() && uncovered_cluster.is_empty() {
        let outcome = Outcome::pass(format!("{id} is in {}", join(&seen)));
        return Ok(outcome
            .with("endpoint_id", id)
            .with("service_az_ids", &offered)
            .with_items("cluster_az_ids", &cluster)
            .with("endpoint_subnets", seen));
    }
    // Never take away a subnet in an AZ the service offers: only the ones
    // outside it go, and what is added is what is missing.
    let missing: Vec<&str> = if bad.is_empty() && !good.is_empty() {
        uncovered_cluster.clone()
    } else {
        // Replacements for the subnets that go: every offered AZ not yet
        // covered, the cluster's first.
        let mut all: Vec<&str> = offered
            .iter()
            .map(String::as_str)
            .filter(|az| !covered.contains(az))
            .collect();
        all.sort_by_key(|az| !cluster.iter().any(|c| c == az));
        all
    };
    let add = additions(facts, vpc, subnets, &missing);
    let bad_ids: Vec<&str> = bad.iter().map(|s| s.as_str()).collect();
    let mut commands = add.creates.clone();
    let mut to_add = add.subnets.clone();
    if !add.creates.is_empty() {
        // The new subnet's ID is printed by create-subnet.
        to_add.push("SUBNET_ID");
    }
    if !to_add.is_empty() || !bad_ids.is_empty() {
        commands.push(modify_vpc_endpoint_subnets(facts, id, &to_add, &bad_ids));
    }
    let mut problems = Vec::new();
    if !bad.is_empty() {
        let bad_labels: Vec<String> = bad.iter().map(|s| label(s)).collect();
        problems.push(format!(
            "subnet(s) outside the service's AZ IDs {}: {}",
            join(&wanted),
            join(&bad_labels)
        ));
    }
    if good.is_empty() && bad.is_empty() {
        problems.push("no subnet".to_string());
    }
    if !uncovered_cluster.is_empty() {
        problems.push(format!(
            "no subnet in {}, where the cluster is (--az-id)",
            join(&cluster_labels)
        ));
    }
    let text = if add.creates.is_empty() {
        format!(
            "Put the endpoint in subnets of the service's AZ IDs ({}){}. Compare AZ IDs, not names: us-east-1a in your account need not be us-east-1a in another.",
            join(&wanted),
            match cluster_labels.as_slice() {
                [] => String::new(),
                [one] => format!(", one in the cluster's {one}"),
                many => format!(", one in one of the cluster's {}", join(many)),
            }
        )
    } else {
        format!(
            "{vpc} has no subnet in {}: create one (it prints the new subnet's ID), then add it to the endpoint in place of SUBNET_ID. Compare AZ IDs, not names: us-east-1a in your account need not be us-east-1a in another.",
            join(&missing.iter().filter(|az| !subnets.iter().any(|s| s.az_id == **az)).map(|az| az_label(zones, az)).collect::<Vec<_>>())
        )
    };
    Ok(Outcome::fail(format!("{id} has {}", problems.join("; ")))
        .with_fix(Fix { text, commands })
        .with("endpoint_id", id)
        .with("service_az_ids", &offered)
        .with_items("cluster_az_ids", &cluster)
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
        let service_azs = offered_az_ids(facts).unwrap_or_default();
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
            name: "--az-id the service offers and the endpoint does not cover",
            expect: Status::Fail,
            mutate: |f| f.inputs.az_ids = vec!["use1-az2".into()],
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

    /// `--az-id` is where the cluster is: one the service offers needs an
    /// endpoint subnet; a subnet in an offered AZ is never removed; one the
    /// service does not offer is ignored here (SVC001 warns). Issue 8, item 3.
    #[test]
    fn az001_az_id_is_the_cluster_never_a_reason_to_remove_a_subnet() {
        let both = || facts(&["subnet-0000000b", "subnet-0000000c"], None);
        for az in ["use1-az1", "use1-az2", "use1-az6", "use1-az4"] {
            let mut f = both();
            f.inputs.az_ids = vec![az.into()];
            let finding = ENDPOINT_AZ.run(&f);
            assert_eq!(
                finding.status,
                Status::Pass,
                "--az-id {az}: {}",
                finding.summary
            );
        }
        // Offered, not covered: add the VPC's subnet there, remove nothing.
        let mut f = facts(&["subnet-0000000b"], None);
        f.inputs.az_ids = vec!["use1-az2".into()];
        let finding = ENDPOINT_AZ.run(&f);
        assert_eq!(finding.status, Status::Fail);
        assert!(
            finding
                .summary
                .contains("no subnet in use1-az2 (us-east-1c), where the cluster is"),
            "{}",
            finding.summary
        );
        let commands = finding.fix.unwrap().commands;
        assert_eq!(
            commands,
            ["aws ec2 modify-vpc-endpoint --vpc-endpoint-id vpce-00000001 --add-subnet-ids subnet-0000000c --region us-east-1"]
        );
        // Not offered: ignored.
        f.inputs.az_ids = vec!["use1-az6".into()];
        assert_eq!(ENDPOINT_AZ.run(&f).status, Status::Pass);
        // A wrong subnet goes, replaced first in the cluster's AZ.
        let mut f = facts(&["subnet-0000000a"], None);
        f.inputs.az_ids = vec!["use1-az2".into()];
        let commands = ENDPOINT_AZ.run(&f).fix.unwrap().commands;
        assert!(
            commands[0].contains("--add-subnet-ids subnet-0000000c subnet-0000000b --remove-subnet-ids subnet-0000000a "),
            "{commands:?}"
        );
    }

    /// The cluster's AZ without a subnet in the VPC: create one (with a free
    /// CIDR), then add it.
    #[test]
    fn az001_cluster_az_without_a_vpc_subnet_creates_one() {
        let mut f = crate::testing::healthy();
        if let Some(Ok(subnets)) = &mut f.subnets {
            subnets.retain(|s| s.az_id != "use1-az2");
        }
        f.inputs.az_ids = vec!["use1-az2".into()];
        let finding = ENDPOINT_AZ.run(&f);
        assert_eq!(finding.status, Status::Fail, "{}", finding.summary);
        let commands = finding.fix.unwrap().commands;
        assert_eq!(commands.len(), 2, "{commands:?}");
        assert_eq!(
            commands[0],
            "aws ec2 create-subnet --vpc-id vpc-0a1b2c3d --availability-zone-id use1-az2 --cidr-block 10.0.0.0/24 --query Subnet.SubnetId --output text --region us-east-1"
        );
        assert!(
            commands[1].contains("--add-subnet-ids SUBNET_ID --region"),
            "{commands:?}"
        );
        // Pre-flight: the same subnet is missing, so AZ001 fails with create-subnet.
        f.endpoints = Some(Ok(vec![]));
        let finding = ENDPOINT_AZ.run(&f);
        assert_eq!(finding.status, Status::Fail, "{}", finding.summary);
        assert!(
            finding.summary.contains("the cluster's AZ ID"),
            "{}",
            finding.summary
        );
        assert!(finding.fix.unwrap().commands[0].contains("create-subnet"));
    }

    /// A cluster in several AZs (`--az-id` twice, or `--cluster-json`) is
    /// reached through a subnet in any of them.
    #[test]
    fn az001_a_cluster_in_several_azs_needs_a_subnet_in_one() {
        let mut f = facts(&["subnet-0000000b"], None);
        f.inputs.az_ids = vec!["use1-az1".into(), "use1-az2".into()];
        assert_eq!(ENDPOINT_AZ.run(&f).status, Status::Pass);
        let mut f = facts(&["subnet-0000000a"], None);
        f.inputs.az_ids = vec!["use1-az2".into(), "use1-az1".into()];
        let finding = ENDPOINT_AZ.run(&f);
        assert_eq!(finding.status, Status::Fail);
        assert!(
            finding.summary.contains("no subnet in use1-az2 (us-east-1c) and use1-az1 (us-east-1b), where the cluster is"),
            "{}",
            finding.summary
        );
    }

    #[test]
    fn az001_preflight_lists_the_cluster_az_first() {
        let mut f = facts(&[], None);
        f.inputs.az_ids = vec!["use1-az2".into()];
        let finding = ENDPOINT_AZ.run(&f);
        assert_eq!(finding.status, Status::Pass);
        assert!(
            finding
                .summary
                .starts_with("pre-flight: eligible subnets for the endpoint: subnet-0000000c"),
            "{}",
            finding.summary
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
