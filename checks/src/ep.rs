//! The VPC's interface endpoint for the service: EP001 endpoint-exists
//! (with the pre-flight create command), EP002 endpoint-state, EP003
//! endpoint-private-dns, EP004 private-dns-conflict.

use crate::check::{explain, Check, Fix, Judged, Need, Outcome, Status};
use crate::commands::{
    create_vpc_endpoint, delete_vpc_endpoints, describe_vpc_endpoint_state,
    describe_vpc_endpoints_in, enable_private_dns,
};
use crate::facts::{Endpoint, Facts};
use crate::read::{
    best_endpoint, client_outside_vpc, cluster_az_ids, dns_name, effective_host, fact,
    group_admitting_client, join, main_endpoint, offered_az_ids, ok, outside_vpc_fix,
    private_dns_domain, service_endpoints, subnet, vpc_id, NO_VPC,
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
    // The service only words the pendingAcceptance advice (AcceptanceRequired).
    needs: &[Need::Endpoints, Need::Service],
    explain: explain!("EP002"),
    judge: Some(endpoint_state),
};

/// The states AWS documents for an interface endpoint that the doctor can
/// explain. Another state (AWS added `partial`) is judged `unknown`.
const KNOWN_STATES: &[&str] = &[
    "available",
    "pendingacceptance",
    "pending",
    "rejected",
    "failed",
    "deleting",
    "deleted",
    "expired",
];

/// What each endpoint state means, and what to do about it.
fn state_advice(state: &str) -> (&'static str, &'static str) {
    match state.to_ascii_lowercase().as_str() {
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

/// `pendingAcceptance`: TiDB Cloud's two models differ. A service that
/// requires acceptance (the exclusive model: one service per cluster)
/// accepts an endpoint once its ID is registered in the console; the
/// shared regional service accepts every endpoint by itself.
fn pending_acceptance(facts: &Facts, id: &str) -> (String, String, Vec<String>) {
    let acceptance = ok(&facts.service)
        .and_then(|s| s.as_ref())
        .and_then(|s| s.acceptance_required);
    let register = format!(
        "Register {id} in TiDB Cloud (the cluster's Networking → Private endpoint connections), then enable private DNS on it once it is accepted"
    );
    let describe = describe_vpc_endpoint_state(facts, id);
    match acceptance {
        Some(true) => (
            "the service accepts an endpoint only after its ID is registered in TiDB Cloud".into(),
            format!("{register}:"),
            vec![describe, enable_private_dns(facts, id)],
        ),
        Some(false) => (
            "the service accepts endpoints by itself, yet this one waits".into(),
            "TiDB Cloud's shared service accepts endpoints automatically: check that the Service Name is the one the console shows, and contact TiDB Cloud support with the endpoint ID if it stays pendingAcceptance.".into(),
            vec![describe],
        ),
        None => (
            "the endpoint is waiting for the service owner to accept the connection".into(),
            format!(
                "If the cluster has its own endpoint service (it then requires acceptance): {register}. A shared regional service accepts endpoints by itself: if that is this one, contact TiDB Cloud support with the endpoint ID."
            ),
            vec![describe, enable_private_dns(facts, id)],
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
    let state = ep.state.to_ascii_lowercase();
    if !KNOWN_STATES.contains(&state.as_str()) {
        // Never a pass on a state this version cannot read.
        let mut unknown = Outcome::fail(format!(
            "{id} is in state {}, which this version of tidbpe does not know: it cannot tell whether the endpoint carries traffic",
            ep.state
        ))
        .with("state", &ep.state)
        .with_fix(Fix {
            text: "Check the endpoint's state in the VPC console (AWS documents each state in \"Interface endpoint lifecycle\"), and use a newer tidbpe if there is one.".into(),
            commands: vec![describe_vpc_endpoint_state(facts, id)],
        });
        unknown.status = Status::Unknown;
        return Ok(unknown);
    }
    let (meaning, todo, commands) = if state == "pendingacceptance" {
        pending_acceptance(facts, id)
    } else {
        let (meaning, todo) = state_advice(&ep.state);
        let mut commands = vec![describe_vpc_endpoint_state(facts, id)];
        if ep.is_gone() && state != "deleting" {
            if state != "deleted" {
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
        (meaning.to_string(), todo.to_string(), commands)
    };
    Ok(Outcome::fail(format!("{id} is {}: {meaning}", ep.state))
        .with("state", &ep.state)
        .with_fix(Fix {
            text: todo,
            commands,
        }))
}

pub(crate) const ENDPOINT_PRIVATE_DNS: Check = Check {
    id: "EP003",
    slug: "endpoint-private-dns",
    title: "The endpoint has private DNS enabled",
    // The client and the VPC only tell whether the client is outside the VPC.
    needs: &[Need::Endpoints, Need::Instance, Need::Vpc],
    explain: explain!("EP003"),
    judge: Some(endpoint_private_dns),
};

fn endpoint_private_dns(facts: &Facts) -> Judged {
    let ep = main_endpoint(facts)?;
    let id = &ep.endpoint_id;
    let host = effective_host(facts).unwrap_or_else(|| "the host".into());
    // The private DNS name answers only inside the endpoint's VPC: a client
    // elsewhere needs one of three other ways (issue 13, item 5).
    let elsewhere = client_outside_vpc(facts);
    let outcome = match (ep.private_dns_enabled, &elsewhere) {
        (true, None) => Outcome::pass(format!("{id} has PrivateDnsEnabled = true")),
        (true, Some(where_)) => Outcome::warn(format!(
            "{id} has PrivateDnsEnabled = true, but {where_}: the private DNS name answers only inside the VPC"
        ))
        .with_fix(outside_vpc_fix(facts, Some(ep), &host)),
        (false, _) => {
            let mut text = format!(
                "Enable private DNS on the endpoint (\"Enable DNS name\" in the console), so {host} resolves to its private IPs. The VPC needs DNS resolution and DNS hostnames on first (VPC001, VPC002)."
            );
            if let Some(where_) = &elsewhere {
                text = format!(
                    "{where_}. {} Or, with private DNS on, the clients inside the VPC get it.",
                    outside_vpc_fix(facts, Some(ep), &host).text
                );
            }
            Outcome::fail(format!("{id} has PrivateDnsEnabled = false")).with_fix(Fix {
                text,
                commands: vec![enable_private_dns(facts, id)],
            })
        }
    };
    let mut outcome = outcome
        .with("endpoint_id", id)
        .with("private_dns_enabled", ep.private_dns_enabled);
    if let Some(regional) = ep.regional_dns_name() {
        outcome = outcome.with("regional_dns_name", regional);
    }
    if let Some(where_) = elsewhere {
        outcome = outcome.with("client_outside_vpc", where_);
    }
    Ok(outcome)
}

pub(crate) const PRIVATE_DNS_CONFLICT: Check = Check {
    id: "EP004",
    slug: "private-dns-conflict",
    title: "One endpoint for the private DNS name in the VPC",
    // The service names the private DNS name (else the host) and the model.
    needs: &[Need::Endpoints, Need::Service],
    explain: explain!("EP004"),
    judge: Some(private_dns_conflict),
};

/// A VPC may hold several TiDB endpoints (one per service, in the
/// exclusive model): they conflict only when they claim the same private
/// DNS name. So: the service's own live endpoints (only one can carry its
/// name), plus any other live endpoint whose DNS entries already carry it.
fn private_dns_conflict(facts: &Facts) -> Judged {
    let vpc = vpc_id(facts)?;
    let ours: Vec<_> = service_endpoints(facts)?
        .into_iter()
        .filter(|e| !e.is_gone())
        .collect();
    let domain = effective_host(facts).map(|h| private_dns_domain(facts, &h));
    let others: Vec<_> = fact(&facts.endpoints, NO_VPC)?
        .iter()
        .filter(|e| !e.is_gone() && e.private_dns_enabled)
        .filter(|e| !ours.iter().any(|o| o.endpoint_id == e.endpoint_id))
        .filter(|e| {
            domain
                .as_deref()
                .is_some_and(|d| e.dns_entries.iter().any(|n| dns_name(&n.dns_name) == d))
        })
        .collect();
    let name = domain
        .as_deref()
        .unwrap_or("the service's private DNS name");
    let many: Vec<_> = ours.iter().chain(&others).copied().collect();
    match many.as_slice() {
        [] => Ok(Outcome::skip(
            "there is no live endpoint for the service in the VPC (see EP001)",
        )),
        [one] => Ok(Outcome::pass(format!(
            "{} is the only endpoint for {name} in {vpc}",
            one.endpoint_id
        ))
        .with("endpoint_ids", [&one.endpoint_id])
        .with("private_dns_name", name)),
        many => {
            // Keep the service's endpoint that carries private DNS, whatever
            // --endpoint-id names; another service's endpoint is never deleted
            // by a printed command (it may serve something else).
            let keep =
                best_endpoint(ours.iter().copied()).or_else(|| best_endpoint(many.iter().copied()));
            let Some(keep) = keep else {
                return Err(Outcome::skip("no endpoint to keep"));
            };
            let extra: Vec<&str> = ours
                .iter()
                .filter(|e| e.endpoint_id != keep.endpoint_id)
                .map(|e| e.endpoint_id.as_str())
                .collect();
            let labels: Vec<String> = many
                .iter()
                .map(|e| {
                    let whose = if ours.iter().any(|o| o.endpoint_id == e.endpoint_id) {
                        String::new()
                    } else {
                        format!(", for {}", e.service_name)
                    };
                    format!(
                        "{} (private DNS {}{whose})",
                        e.endpoint_id,
                        if e.private_dns_enabled { "on" } else { "off" }
                    )
                })
                .collect();
            let ids: Vec<&str> = many.iter().map(|e| e.endpoint_id.as_str()).collect();
            let exclusive = ok(&facts.service)
                .and_then(|s| s.as_ref())
                .and_then(|s| s.acceptance_required)
                == Some(true);
            let model = if exclusive {
                "This cluster has its own endpoint service: one endpoint per VPC for it is enough."
            } else {
                "One endpoint per VPC serves every TiDB Cloud cluster of the region on the shared service."
            };
            let mut text = format!(
                "Only one endpoint in a VPC can carry {name}. {model} Keep {} and delete the redundant one(s); creating another endpoint with private DNS fails with \"private-dns-enabled cannot be set because there is already a conflicting DNS domain\".",
                keep.endpoint_id
            );
            let foreign: Vec<String> = others.iter().map(|e| e.endpoint_id.clone()).collect();
            if !foreign.is_empty() {
                text.push_str(&format!(
                    " {} belong(s) to another service yet carry {name}: turn private DNS off there (or delete it) only if nothing uses it.",
                    join(&foreign)
                ));
            }
            let commands = if extra.is_empty() {
                vec![]
            } else {
                vec![delete_vpc_endpoints(facts, &extra)]
            };
            Ok(Outcome::fail(format!(
                "{} endpoints for {name} in {vpc}: {}; only one can carry the private DNS name",
                many.len(),
                join(&labels)
            ))
            .with("endpoint_ids", ids)
            .with("private_dns_name", name)
            .with_fix(Fix { text, commands }))
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::check::Status;
    use crate::testing::{
        assert_fail_cases, client_mut, denied, endpoint_mut, healthy, world as facts, FailCase,
        ENDPOINT, HOST,
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
            name: "pendingAcceptance on a service that requires acceptance",
            expect: Status::Fail,
            mutate: |f| {
                endpoint_mut(f).state = "pendingAcceptance".into();
                if let Some(Ok(Some(s))) = &mut f.service {
                    s.acceptance_required = Some(true);
                }
            },
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

    fn acceptance(f: &mut Facts, required: Option<bool>) {
        if let Some(Ok(Some(s))) = &mut f.service {
            s.acceptance_required = required;
        }
    }

    #[test]
    fn ep002_pending_acceptance_names_the_registration_step_when_the_service_requires_it() {
        let mut f = healthy();
        endpoint_mut(&mut f).state = "pendingAcceptance".into();
        acceptance(&mut f, Some(true));
        let finding = ENDPOINT_STATE.run(&f);
        assert_eq!(finding.status, Status::Fail);
        let fix = finding.fix.unwrap();
        assert!(
            fix.text.starts_with(&format!(
                "Register {ENDPOINT} in TiDB Cloud (the cluster's Networking → Private endpoint connections), then enable private DNS"
            )),
            "{}",
            fix.text
        );
        assert!(fix.commands[1]
            .contains("modify-vpc-endpoint --vpc-endpoint-id vpce-00000001 --private-dns-enabled"));
        // The shared service accepts by itself: no registration step.
        acceptance(&mut f, Some(false));
        let fix = ENDPOINT_STATE.run(&f).fix.unwrap();
        assert!(!fix.text.contains("Register"), "{}", fix.text);
        assert!(fix.text.contains("support"), "{}", fix.text);
        // Unknown service: both models are named.
        f.service = Some(Err(denied(Need::Service)));
        let finding = ENDPOINT_STATE.run(&f);
        assert_eq!(finding.status, Status::Fail);
        assert!(finding.fix.unwrap().text.contains("Register vpce-00000001"));
    }

    #[test]
    fn ep002_a_state_it_does_not_know_is_unknown_never_pass() {
        for state in ["partial", "Partial", "somethingNew"] {
            let mut f = healthy();
            endpoint_mut(&mut f).state = state.into();
            let finding = ENDPOINT_STATE.run(&f);
            assert_eq!(finding.status, Status::Unknown, "{state}");
            assert!(
                finding.summary.contains("does not know"),
                "{}",
                finding.summary
            );
        }
    }

    #[test]
    fn ep004_conflicts_are_per_private_dns_name_not_per_vpc() {
        // Another TiDB service's endpoint with its own name: no conflict.
        let mut f = healthy();
        if let Some(Ok(eps)) = &mut f.endpoints {
            let mut other = eps[0].clone();
            other.endpoint_id = "vpce-00000002".into();
            other.service_name = "com.amazonaws.vpce.us-east-1.vpce-svc-0fedcba9876543210".into();
            other.dns_entries = vec![crate::facts::DnsEntry {
                dns_name: "tidb-c2-privatelink.us-east-1.prod.aws.tidbcloud.com".into(),
                hosted_zone_id: None,
            }];
            eps.push(other);
        }
        let pass = PRIVATE_DNS_CONFLICT.run(&f);
        assert_eq!(pass.status, Status::Pass, "{}", pass.summary);
        assert!(pass.summary.contains(HOST), "{}", pass.summary);
        // One that carries this service's name conflicts, and is never deleted.
        if let Some(Ok(eps)) = &mut f.endpoints {
            eps[1].dns_entries[0].dns_name = format!("{}.", HOST.to_uppercase());
        }
        let conflict = PRIVATE_DNS_CONFLICT.run(&f);
        assert_eq!(conflict.status, Status::Fail, "{}", conflict.summary);
        assert!(conflict.summary.contains("vpce-00000002 (private DNS on, for com.amazonaws.vpce.us-east-1.vpce-svc-0fedcba9876543210)"), "{}", conflict.summary);
        let fix = conflict.fix.unwrap();
        assert!(fix.commands.is_empty(), "{:?}", fix.commands);
        assert!(fix.text.contains("Keep vpce-00000001"), "{}", fix.text);
    }

    #[test]
    fn ep003_a_client_outside_the_vpc_gets_the_three_ways() {
        let mut f = healthy();
        f.client = Some(Ok(crate::facts::Client {
            private_ip: Some("192.168.7.9".parse().unwrap()),
            ..crate::facts::Client::default()
        }));
        let finding = ENDPOINT_PRIVATE_DNS.run(&f);
        assert_eq!(finding.status, Status::Warn, "{}", finding.summary);
        assert!(
            finding
                .summary
                .contains("192.168.7.9 is outside vpc-0a1b2c3d (10.0.0.0/16)"),
            "{}",
            finding.summary
        );
        let fix = finding.fix.unwrap().text;
        for way in [
            "Resolver inbound endpoint",
            "private hosted zone",
            "Route 53 Profile",
        ] {
            assert!(fix.contains(way), "{way}: {fix}");
        }
        assert!(
            fix.contains(
                "vpce-00000001-a1b2c3d4.vpce-svc-0123456789abcdef0.us-east-1.vpce.amazonaws.com"
            ),
            "the regional name: {fix}"
        );
        assert!(
            !fix.contains("us-east-1b.vpce-svc"),
            "not a zonal name: {fix}"
        );
        // Inside the VPC: the plain pass.
        client_mut(&mut f).private_ip = Some("10.0.10.4".parse().unwrap());
        assert_eq!(ENDPOINT_PRIVATE_DNS.run(&f).status, Status::Pass);
        // An instance in another VPC is elsewhere too; private DNS off keeps the fail.
        let mut f = healthy();
        client_mut(&mut f).vpc_id = Some("vpc-0fffffff".into());
        assert_eq!(ENDPOINT_PRIVATE_DNS.run(&f).status, Status::Warn);
        endpoint_mut(&mut f).private_dns_enabled = false;
        let off = ENDPOINT_PRIVATE_DNS.run(&f);
        assert_eq!(off.status, Status::Fail);
        assert!(off
            .fix
            .unwrap()
            .text
            .contains("the client is in vpc-0fffffff"));
    }
}
