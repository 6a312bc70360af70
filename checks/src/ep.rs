//! The VPC's interface endpoint for the service: EP001 endpoint-exists
//! (with the pre-flight create command), EP002 endpoint-state, EP003
//! endpoint-private-dns, EP004 private-dns-conflict.

use crate::check::{explain, Check, Fix, Judged, Need, Outcome};
use crate::commands::{
    create_vpc_endpoint, delete_vpc_endpoints, describe_vpc_endpoint_state,
    describe_vpc_endpoints_in, enable_private_dns,
};
use crate::facts::{Endpoint, Facts};
use crate::read::{
    best_endpoint, cluster_az_ids, fact, group_admitting_client, join, main_endpoint,
    offered_az_ids, ok, service_endpoints, subnet, vpc_id, NO_VPC,
};

pub(crate) const ENDPOINT_EXISTS: Check = Check {
    id: "EP001",
    slug: "endpoint-exists",
    title: "An interface endpoint for the service exists in the VPC",
    needs: &[
        Need::Endpoints,
        Need::Subnets,
        Need::SecurityGroups,
        Need::Service,
    ],
    explain: explain!("EP001"),
    judge: Some(endpoint_exists),
};

fn endpoint_exists(facts: &Facts) -> Judged {
    let vpc = vpc_id(facts)?;
    if let Some(Ok(None)) = &facts.service {
        return Ok(Outcome::skip(
            "the endpoint service does not exist in this region (see SVC001)",
        ));
    }
    let endpoints = service_endpoints(facts)?;
    // A deleted endpoint stays listed for a while; it is not an endpoint.
    let (deleted, present): (Vec<&Endpoint>, Vec<&Endpoint>) =
        endpoints.iter().partition(|e| e.is_deleted());
    let deleted_ids: Vec<&str> = deleted.iter().map(|e| e.endpoint_id.as_str()).collect();
    if let Some(id) = &facts.inputs.endpoint_id {
        let other = fact(&facts.endpoints, NO_VPC)?.iter().find(|e| {
            &e.endpoint_id == id && !endpoints.iter().any(|m| m.endpoint_id == e.endpoint_id)
        });
        if let Some(other) = other {
            return Ok(Outcome::fail(format!(
                "{id} is an endpoint for {}, not for {}",
                other.service_name,
                facts.inputs.service_name.as_deref().unwrap_or("the service")
            ))
            .with("vpc_id", vpc)
            .with_fix(Fix {
                text: "Name the endpoint of the TiDB Cloud service with --endpoint-id, or leave the flag out and let the doctor find it.".into(),
                commands: vec![],
            }));
        }
        if deleted_ids.contains(&id.as_str()) {
            let outcome = Outcome::fail(format!(
                "{id} was deleted: {vpc} has no such endpoint any more"
            ))
            .with("vpc_id", vpc)
            .with_items("deleted_endpoint_ids", &deleted_ids);
            return Ok(match &facts.inputs.service_name {
                Some(name) => outcome.with_fix(preflight_fix(facts, vpc, name)),
                None => outcome,
            });
        }
        if !endpoints.iter().any(|e| &e.endpoint_id == id) {
            return Ok(Outcome::fail(format!("{id} is not an endpoint in {vpc}"))
                .with("vpc_id", vpc)
                .with_fix(Fix {
                    text: "Check the endpoint ID and the VPC; list the VPC's endpoints:".into(),
                    commands: vec![describe_vpc_endpoints_in(facts, vpc)],
                }));
        }
    }
    if !present.is_empty() {
        let labels: Vec<String> = present
            .iter()
            .map(|e| format!("{} ({})", e.endpoint_id, e.state))
            .collect();
        let ids: Vec<&str> = present.iter().map(|e| e.endpoint_id.as_str()).collect();
        return Ok(Outcome::pass(format!("{} in {vpc}", join(&labels)))
            .with("vpc_id", vpc)
            .with("endpoint_ids", ids)
            .with_items("deleted_endpoint_ids", &deleted_ids));
    }
    let Some(service_name) = &facts.inputs.service_name else {
        return Ok(Outcome::fail(format!(
            "no endpoint for the service in {vpc}"
        )));
    };
    let gone = if deleted_ids.is_empty() {
        String::new()
    } else {
        format!(
            " ({} was deleted)",
            join(
                &deleted_ids
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
            )
        )
    };
    Ok(Outcome::fail(format!(
        "no interface endpoint for {service_name} in {vpc}{gone}"
    ))
    .with("vpc_id", vpc)
    .with_items("deleted_endpoint_ids", &deleted_ids)
    .with_fix(preflight_fix(facts, vpc, service_name)))
}

/// The `create-vpc-endpoint` command for a VPC without an endpoint: subnets
/// only in the service's AZ IDs (one per AZ: the cluster's AZ ID first, then
/// the client's), a security group that admits the client, private DNS on.
fn preflight_fix(facts: &Facts, vpc: &str, service_name: &str) -> Fix {
    let mut notes = Vec::new();
    let offered = offered_az_ids(facts).unwrap_or_default();
    let (cluster, _) = cluster_az_ids(facts, &offered);
    let client = ok(&facts.client);
    let subnets = ok(&facts.subnets).map(Vec::as_slice).unwrap_or_default();
    let mut chosen: Vec<&str> = Vec::new();
    for az in &offered {
        let mut in_az: Vec<_> = subnets.iter().filter(|s| &s.az_id == az).collect();
        in_az.sort_by_key(|s| {
            (
                client.and_then(|c| c.subnet_id.as_deref()) != Some(s.subnet_id.as_str()),
                s.subnet_id.clone(),
            )
        });
        if let Some(s) = in_az.first() {
            chosen.push(&s.subnet_id);
        }
    }
    let client_az = client.and_then(|c| c.az_id.clone());
    // The cluster's AZ first (the guide's step 2.7), then the client's: no
    // cross-AZ hop.
    chosen.sort_by_key(|id| {
        let az = subnet(subnets, id).map(|s| &s.az_id);
        (
            !az.is_some_and(|az| cluster.contains(az)),
            az != client_az.as_ref(),
        )
    });
    if ok(&facts.subnets).is_none() || offered.is_empty() {
        notes.push(format!(
            "The subnets of {vpc} or the service's AZ IDs could not be read: pick one subnet per AZ ID the TiDB Cloud console shows."
        ));
    } else if chosen.is_empty() {
        notes.push(format!(
            "{vpc} has no subnet in the service's AZ IDs ({}): create one first (AZ001 prints the command).",
            join(&offered)
        ));
    }
    let bare: Vec<String> = cluster
        .iter()
        .filter(|az| !subnets.iter().any(|s| &s.az_id == *az))
        .cloned()
        .collect();
    if !bare.is_empty() && ok(&facts.subnets).is_some() {
        notes.push(format!(
            "{vpc} has no subnet in the cluster's AZ ID {}: create one (AZ001 prints the command) and add it.",
            join(&bare)
        ));
    }
    let group = group_admitting_client(facts);
    if group.is_none() {
        notes.push(format!(
            "No security group in {vpc} allows TCP {} from the client yet: create one (aws ec2 create-security-group, then authorize-security-group-ingress --protocol tcp --port {}) and add --security-group-ids.",
            facts.inputs.port, facts.inputs.port
        ));
    }
    let groups: Vec<&str> = group.iter().map(String::as_str).collect();
    let command = create_vpc_endpoint(facts, vpc, service_name, &chosen, &groups);
    let mut text = format!(
        "Create the interface endpoint (pre-flight: this is the command for {vpc}, with subnets only in the service's AZ IDs {}).",
        join(&offered)
    );
    for n in notes {
        text.push(' ');
        text.push_str(&n);
    }
    Fix {
        text,
        commands: vec![command],
    }
}

pub(crate) const ENDPOINT_STATE: Check = Check {
    id: "EP002",
    slug: "endpoint-state",
    title: "The endpoint is available",
    needs: &[Need::Endpoints],
    explain: explain!("EP002"),
    judge: Some(endpoint_state),
};

/// What each endpoint state means, and what to do about it.
fn state_advice(state: &str) -> (&'static str, &'static str) {
    match state.to_ascii_lowercase().as_str() {
        "pendingacceptance" => (
            "the endpoint is waiting for the service owner to accept the connection",
            "TiDB Cloud accepts endpoints of its Serverless service automatically; if it stays pendingAcceptance, check that the Service Name is the one the console shows and contact TiDB Cloud support with the endpoint ID.",
        ),
        "pending" => (
            "AWS is still creating the endpoint",
            "Wait a minute or two, then run the doctor again; it becomes available on its own.",
        ),
        "rejected" => (
            "the service owner rejected the connection",
            "Delete this endpoint and create a new one with the Service Name from the TiDB Cloud console; if it is rejected again, contact TiDB Cloud support with the endpoint ID.",
        ),
        "failed" => (
            "AWS could not create the endpoint",
            "Delete the endpoint and create it again (check that its subnets are in the service's AZ IDs, see AZ001).",
        ),
        "deleting" => (
            "the endpoint is being deleted",
            "Wait until it is gone, then create a new endpoint.",
        ),
        "deleted" => ("the endpoint was deleted", "Create a new endpoint."),
        "expired" => (
            "the endpoint's connection request expired before it was accepted",
            "Delete it and create a new endpoint.",
        ),
        _ => (
            "the endpoint is in a state that does not carry traffic",
            "Check the endpoint in the VPC console.",
        ),
    }
}

fn endpoint_state(facts: &Facts) -> Judged {
    let ep = main_endpoint(facts)?;
    let id = &ep.endpoint_id;
    if ep.is_available() {
        // Dead endpoints beside the live one carry nothing: name them, no more.
        let dead: Vec<String> = service_endpoints(facts)?
            .into_iter()
            .filter(|e| e.is_gone() && !e.is_deleted())
            .map(|e| format!("{} is {}", e.endpoint_id, e.state))
            .collect();
        let summary = if dead.is_empty() {
            format!("{id} is available")
        } else {
            format!(
                "{id} is available ({}: it carries no traffic and may be deleted)",
                join(&dead)
            )
        };
        return Ok(Outcome::pass(summary)
            .with("state", &ep.state)
            .with_items("dead_endpoints", &dead));
    }
    let (meaning, todo) = state_advice(&ep.state);
    let mut commands = vec![describe_vpc_endpoint_state(facts, id)];
    if ep.is_gone() && !ep.state.eq_ignore_ascii_case("deleting") {
        if !ep.state.eq_ignore_ascii_case("deleted") {
            commands.push(delete_vpc_endpoints(facts, &[id]));
        }
        let subnets: Vec<&str> = ep.subnet_ids.iter().map(String::as_str).collect();
        let groups: Vec<&str> = ep.security_group_ids.iter().map(String::as_str).collect();
        commands.push(create_vpc_endpoint(
            facts,
            &ep.vpc_id,
            &ep.service_name,
            &subnets,
            &groups,
        ));
    }
    Ok(Outcome::fail(format!("{id} is {}: {meaning}", ep.state))
        .with("state", &ep.state)
        .with_fix(Fix {
            text: todo.to_string(),
            commands,
        }))
}

pub(crate) const ENDPOINT_PRIVATE_DNS: Check = Check {
    id: "EP003",
    slug: "endpoint-private-dns",
    title: "The endpoint has private DNS enabled",
    needs: &[Need::Endpoints],
    explain: explain!("EP003"),
    judge: Some(endpoint_private_dns),
};

fn endpoint_private_dns(facts: &Facts) -> Judged {
    let ep = main_endpoint(facts)?;
    let id = &ep.endpoint_id;
    let outcome = if ep.private_dns_enabled {
        Outcome::pass(format!("{id} has PrivateDnsEnabled = true"))
    } else {
        Outcome::fail(format!("{id} has PrivateDnsEnabled = false")).with_fix(Fix {
            text: format!(
                "Enable private DNS on the endpoint (\"Enable DNS name\" in the console), so {} resolves to its private IPs. The VPC needs DNS resolution and DNS hostnames on first (VPC001, VPC002).",
                facts.inputs.host
            ),
            commands: vec![enable_private_dns(facts, id)],
        })
    };
    Ok(outcome
        .with("endpoint_id", id)
        .with("private_dns_enabled", ep.private_dns_enabled))
}

pub(crate) const PRIVATE_DNS_CONFLICT: Check = Check {
    id: "EP004",
    slug: "private-dns-conflict",
    title: "One endpoint for the gateway domain in the VPC",
    needs: &[Need::Endpoints],
    explain: explain!("EP004"),
    judge: Some(private_dns_conflict),
};

fn private_dns_conflict(facts: &Facts) -> Judged {
    let vpc = vpc_id(facts)?;
    let live: Vec<_> = service_endpoints(facts)?
        .into_iter()
        .filter(|e| !e.is_gone())
        .collect();
    match live.as_slice() {
        [] => Ok(Outcome::skip(
            "there is no live endpoint for the service in the VPC (see EP001)",
        )),
        [one] => Ok(Outcome::pass(format!(
            "{} is the only endpoint for the service in {vpc}",
            one.endpoint_id
        ))
        .with("endpoint_ids", [&one.endpoint_id])),
        many => {
            // Keep the one that carries private DNS, whatever --endpoint-id names.
            let Some(keep) = best_endpoint(many.iter().copied()) else {
                return Err(Outcome::skip("no endpoint to keep"));
            };
            let extra: Vec<&str> = many
                .iter()
                .filter(|e| e.endpoint_id != keep.endpoint_id)
                .map(|e| e.endpoint_id.as_str())
                .collect();
            let labels: Vec<String> = many
                .iter()
                .map(|e| {
                    format!(
                        "{} (private DNS {})",
                        e.endpoint_id,
                        if e.private_dns_enabled { "on" } else { "off" }
                    )
                })
                .collect();
            let ids: Vec<&str> = many.iter().map(|e| e.endpoint_id.as_str()).collect();
            Ok(Outcome::fail(format!(
                "{} endpoints for the service in {vpc}: {}; only one can carry the private DNS name",
                many.len(),
                join(&labels)
            ))
            .with("endpoint_ids", ids)
            .with_fix(Fix {
                text: format!(
                    "One endpoint per VPC serves every TiDB Cloud Serverless cluster of the region. Keep {} and delete the redundant one(s); creating another endpoint with private DNS fails with \"private-dns-enabled cannot be set because there is already a conflicting DNS domain\".",
                    keep.endpoint_id
                ),
                commands: vec![delete_vpc_endpoints(facts, &extra)],
            }))
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::check::Status;
    use crate::testing::{
        assert_fail_cases, denied, endpoint_mut, healthy, world as facts, FailCase, ENDPOINT,
    };

    fn endpoint(id: &str, state: &str, private_dns: bool) -> Endpoint {
        crate::testing::endpoint(id, state, private_dns, &["subnet-00000001"])
    }

    /// Changes to the healthy world that make an EP check fail.
    pub(crate) const FAIL_CASES: &[FailCase] = &[
        FailCase {
            id: "EP001",
            name: "no endpoint (pre-flight)",
            expect: Status::Fail,
            mutate: |f| f.endpoints = Some(Ok(vec![])),
        },
        FailCase {
            id: "EP001",
            name: "--endpoint-id not in the VPC",
            expect: Status::Fail,
            mutate: |f| f.inputs.endpoint_id = Some("vpce-0000000f".into()),
        },
        FailCase {
            id: "EP002",
            name: "pendingAcceptance",
            expect: Status::Fail,
            mutate: |f| endpoint_mut(f).state = "pendingAcceptance".into(),
        },
        FailCase {
            id: "EP002",
            name: "rejected",
            expect: Status::Fail,
            mutate: |f| endpoint_mut(f).state = "rejected".into(),
        },
        FailCase {
            id: "EP003",
            name: "private DNS off",
            expect: Status::Fail,
            mutate: |f| endpoint_mut(f).private_dns_enabled = false,
        },
        FailCase {
            id: "EP004",
            name: "a second live endpoint for the service",
            expect: Status::Fail,
            mutate: |f| {
                if let Some(Ok(eps)) = &mut f.endpoints {
                    let mut second = eps[0].clone();
                    second.endpoint_id = "vpce-00000002".into();
                    second.private_dns_enabled = false;
                    eps.push(second);
                }
            },
        },
    ];

    #[test]
    fn ep_fail_cases_fail() {
        assert_fail_cases(FAIL_CASES);
    }

    #[test]
    fn ep001_preflight_command_uses_only_supported_azs() {
        let f = facts(vec![]);
        let finding = ENDPOINT_EXISTS.run(&f);
        assert_eq!(finding.status, Status::Fail);
        let cmd = &finding.fix.unwrap().commands[0];
        assert!(
            cmd.contains("--subnet-ids subnet-0000000b subnet-0000000c "),
            "{cmd}"
        );
        assert!(!cmd.contains("subnet-0000000a"));
        assert!(cmd.contains("--vpc-endpoint-type Interface"));
        assert!(cmd.contains("--private-dns-enabled"));
        for check in [
            &ENDPOINT_STATE,
            &ENDPOINT_PRIVATE_DNS,
            &PRIVATE_DNS_CONFLICT,
        ] {
            assert_eq!(check.run(&f).status, Status::Skip, "{}", check.id);
        }
    }

    /// Pre-flight in the healthy world: the client's own group admits it,
    /// so the command names that group and puts the client's AZ first.
    #[test]
    fn ep001_preflight_names_a_group_that_admits_the_client() {
        let mut f = healthy();
        f.endpoints = Some(Ok(vec![]));
        let finding = ENDPOINT_EXISTS.run(&f);
        let cmd = &finding.fix.unwrap().commands[0];
        assert!(
            cmd.contains("--subnet-ids subnet-0000000d subnet-0000000c --security-group-ids sg-0000000e --private-dns-enabled"),
            "{cmd}"
        );
    }

    /// Pre-flight with --az-id: the cluster's AZ comes first in the command.
    #[test]
    fn ep001_preflight_puts_the_cluster_az_first() {
        let mut f = facts(vec![]);
        f.inputs.az_ids = vec!["use1-az2".into()];
        let cmd = &ENDPOINT_EXISTS.run(&f).fix.unwrap().commands[0];
        assert!(
            cmd.contains("--subnet-ids subnet-0000000c subnet-0000000b "),
            "{cmd}"
        );
        // An AZ ID the service does not offer changes nothing.
        f.inputs.az_ids = vec!["use1-az6".into()];
        let cmd = &ENDPOINT_EXISTS.run(&f).fix.unwrap().commands[0];
        assert!(
            cmd.contains("--subnet-ids subnet-0000000b subnet-0000000c "),
            "{cmd}"
        );
    }

    #[test]
    fn ep001_ep002_states() {
        let f = facts(vec![endpoint(ENDPOINT, "available", true)]);
        assert_eq!(ENDPOINT_EXISTS.run(&f).status, Status::Pass);
        assert_eq!(ENDPOINT_STATE.run(&f).status, Status::Pass);
        for state in [
            "pendingAcceptance",
            "pending",
            "rejected",
            "failed",
            "deleting",
            "expired",
        ] {
            let f = facts(vec![endpoint(ENDPOINT, &state.to_lowercase(), true)]);
            let finding = ENDPOINT_STATE.run(&f);
            assert_eq!(finding.status, Status::Fail, "{state}");
            assert!(!finding.fix.unwrap().text.is_empty());
        }
        let mut f = facts(vec![]);
        f.endpoints = Some(Err(denied(Need::Endpoints)));
        assert_eq!(ENDPOINT_STATE.run(&f).status, Status::Unknown);
        assert_eq!(ENDPOINT_EXISTS.run(&f).status, Status::Unknown);
    }

    #[test]
    fn ep002_a_gone_endpoint_gets_delete_and_create_commands() {
        let f = facts(vec![endpoint(ENDPOINT, "rejected", true)]);
        let commands = ENDPOINT_STATE.run(&f).fix.unwrap().commands;
        assert_eq!(commands.len(), 3, "{commands:?}");
        assert!(commands[1]
            .starts_with("aws ec2 delete-vpc-endpoints --vpc-endpoint-ids vpce-00000001 "));
        assert!(commands[2].starts_with("aws ec2 create-vpc-endpoint --vpc-id vpc-0a1b2c3d "));
    }

    /// A deleted endpoint is not an endpoint: EP001 fails with the
    /// pre-flight command, the others do not judge it.
    #[test]
    fn ep001_only_a_deleted_endpoint_is_no_endpoint() {
        let mut f = healthy();
        endpoint_mut(&mut f).state = "deleted".into();
        let exists = ENDPOINT_EXISTS.run(&f);
        assert_eq!(exists.status, Status::Fail, "{}", exists.summary);
        assert!(
            exists.summary.ends_with("(vpce-00000001 was deleted)"),
            "{}",
            exists.summary
        );
        let fix = exists.fix.unwrap();
        assert!(
            fix.commands[0].starts_with("aws ec2 create-vpc-endpoint --vpc-id vpc-0a1b2c3d "),
            "{:?}",
            fix.commands
        );
        for check in [
            &ENDPOINT_STATE,
            &ENDPOINT_PRIVATE_DNS,
            &PRIVATE_DNS_CONFLICT,
        ] {
            assert_eq!(check.run(&f).status, Status::Skip, "{}", check.id);
        }
        // Named with --endpoint-id: the same.
        f.inputs.endpoint_id = Some(ENDPOINT.into());
        let named = ENDPOINT_EXISTS.run(&f);
        assert_eq!(named.status, Status::Fail);
        assert!(named.summary.contains("was deleted"), "{}", named.summary);
        assert!(named.fix.unwrap().commands[0].contains("create-vpc-endpoint"));
    }

    /// A deleted endpoint beside a live one: the live one is judged, and a
    /// rejected one beside it is named, not failed.
    #[test]
    fn ep001_ep002_a_deleted_or_dead_endpoint_beside_a_live_one() {
        let f = facts(vec![
            endpoint("vpce-00000003", "deleted", true),
            endpoint("vpce-00000004", "rejected", true),
            endpoint(ENDPOINT, "available", true),
        ]);
        let exists = ENDPOINT_EXISTS.run(&f);
        assert_eq!(exists.status, Status::Pass);
        assert!(
            !exists.summary.contains("vpce-00000003"),
            "{}",
            exists.summary
        );
        let state = ENDPOINT_STATE.run(&f);
        assert_eq!(state.status, Status::Pass);
        assert!(
            state.summary.contains("vpce-00000004 is rejected"),
            "{}",
            state.summary
        );
        assert_eq!(PRIVATE_DNS_CONFLICT.run(&f).status, Status::Pass);
    }

    #[test]
    fn ep003_ep004_private_dns_and_conflicts() {
        let f = facts(vec![endpoint(ENDPOINT, "available", false)]);
        let finding = ENDPOINT_PRIVATE_DNS.run(&f);
        assert_eq!(finding.status, Status::Fail);
        assert!(finding.fix.unwrap().commands[0]
            .contains("modify-vpc-endpoint --vpc-endpoint-id vpce-00000001 --private-dns-enabled"));
        assert_eq!(PRIVATE_DNS_CONFLICT.run(&f).status, Status::Pass);

        let f = facts(vec![
            endpoint("vpce-00000002", "available", false),
            endpoint(ENDPOINT, "available", true),
        ]);
        assert_eq!(
            ENDPOINT_PRIVATE_DNS.run(&f).status,
            Status::Pass,
            "the private-DNS one is under test"
        );
        let conflict = PRIVATE_DNS_CONFLICT.run(&f);
        assert_eq!(conflict.status, Status::Fail);
        assert!(conflict.fix.unwrap().commands[0].contains("--vpc-endpoint-ids vpce-00000002 "));
    }
}
