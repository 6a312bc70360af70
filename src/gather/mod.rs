//! Gathering: talk to the world and fill a [`Facts`] value. This file is
//! the concurrency graph only: which call waits for which.
//!
//! Calls that do not depend on each other run concurrently, and each call
//! starts as soon as what it needs is known:
//! - identity, service and zones start at once;
//! - the VPC's calls start at once with `--vpc-id`, else as soon as IMDS,
//!   `--instance-id` or the endpoint listing names the VPC;
//! - DHCP options follow `DescribeVpcs`, endpoint interfaces follow
//!   `DescribeVpcEndpoints`, prefix lists follow `DescribeSecurityGroups`,
//!   the VPCs and records of the hosted zones that cover the host follow
//!   `ListHostedZonesByVPC`.
//!
//! Every AWS call goes through [`bounded::Bounded`], named by its
//! [`Need`]: bounded by the run's deadline (what has not answered by then
//! becomes a `Timeout` fact, so the report always comes out) and timed.
//! Choosing the VPC and completing the client are pure: [`discover`].

pub mod aws;
pub mod bounded;
pub mod discover;
pub mod imds;
pub mod probe;

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_ec2::types::VpcAttributeName;
use tidbpe_checks::facts::{
    Client, ClientSource, DhcpOptions, Endpoint, Fact, Facts, HostedZone, Inputs, NetworkAcl,
    NetworkInterface, PrefixList, SecurityGroup, SgPeer, Subnet, Vpc, ZoneRecords, ZoneVpcs,
};
use tidbpe_checks::Need;
use tokio::time::Instant;

use self::aws::Aws;
use self::bounded::Bounded;
pub use self::discover::GatherError;
use self::discover::{choose_vpc, complete_client, keep_client_in_vpc};

/// Gather every fact the catalog needs.
pub async fn gather(inputs: Inputs, aws: &Aws, deadline: Instant) -> Result<Facts, GatherError> {
    let b = Bounded::new(deadline);
    let service_name = inputs.service_name.clone().unwrap_or_default();

    let region_facts = async {
        tokio::join!(
            b.call(Need::Identity, aws.identity()),
            b.call(Need::Service, aws.service(&service_name)),
            b.call(Need::Zones, aws.zones()),
        )
    };
    let vpc_facts = async {
        match &inputs.vpc_id {
            // The VPC is known: its calls need not wait for the client.
            Some(vpc) => {
                let (client, round) = tokio::join!(
                    client(&b, aws, &inputs),
                    vpc_round(&b, aws, vpc, &service_name, &inputs.host, None)
                );
                let choice = choose_vpc(&inputs, client.as_ref(), None)?;
                Ok((client, choice, round))
            }
            None => {
                // The endpoint listing only matters when the client does not
                // name the VPC: start it at once, wait for it only then.
                let listing = async {
                    if inputs.instance_id.is_some() {
                        return None;
                    }
                    let (filter, value) = match &inputs.endpoint_id {
                        Some(id) => ("vpc-endpoint-id", id.as_str()),
                        None => ("service-name", service_name.as_str()),
                    };
                    Some(b.call(Need::Endpoints, aws.endpoints(filter, value)).await)
                };
                let client_fut = client(&b, aws, &inputs);
                tokio::pin!(listing, client_fut);
                let (client, found) = tokio::select! {
                    client = &mut client_fut => {
                        let names_vpc = matches!(&client, Some(Ok(Client { vpc_id: Some(_), .. })));
                        let found = if names_vpc { None } else { listing.await };
                        (client, found)
                    }
                    found = &mut listing => (client_fut.await, found),
                };
                let choice = choose_vpc(&inputs, client.as_ref(), found.as_ref())?;
                // The region's endpoints for the service, when listed, already
                // hold the VPC's: no second call.
                let listed = match (&inputs.endpoint_id, found) {
                    (None, Some(Ok(endpoints))) => Some(endpoints),
                    _ => None,
                };
                let round = match &choice {
                    Some(c) => {
                        vpc_round(&b, aws, &c.vpc_id, &service_name, &inputs.host, listed).await
                    }
                    None => VpcRound::default(),
                };
                Ok((client, choice, round))
            }
        }
    };
    let ((identity, service, zones), vpc_facts) = tokio::join!(region_facts, vpc_facts);
    let (client, vpc_choice, round) = vpc_facts?;

    let mut client = keep_client_in_vpc(client, vpc_choice.as_ref());
    if let Some(Ok(c)) = &mut client {
        complete_client(c, round.subnets.as_ref(), &zones);
    }
    Ok(Facts {
        inputs,
        identity: Some(identity),
        service: Some(service),
        zones: Some(zones),
        vpc_choice,
        client,
        vpc: round.vpc,
        dns_support: round.dns_support,
        dns_hostnames: round.dns_hostnames,
        dhcp_options: round.dhcp_options,
        hosted_zones: round.hosted_zones,
        hosted_zone_vpcs: round.hosted_zone_vpcs,
        hosted_zone_records: round.hosted_zone_records,
        endpoints: round.endpoints,
        subnets: round.subnets,
        endpoint_interfaces: round.endpoint_interfaces,
        security_groups: round.security_groups,
        prefix_lists: round.prefix_lists,
        network_acls: round.network_acls,
        timings_ms: b.timings(),
    })
}

/// The facts of one VPC.
#[derive(Default)]
struct VpcRound {
    vpc: Option<Fact<Vpc>>,
    dns_support: Option<Fact<bool>>,
    dns_hostnames: Option<Fact<bool>>,
    dhcp_options: Option<Fact<Option<DhcpOptions>>>,
    hosted_zones: Option<Fact<Vec<HostedZone>>>,
    hosted_zone_vpcs: Option<Fact<Vec<ZoneVpcs>>>,
    hosted_zone_records: Option<Fact<Vec<ZoneRecords>>>,
    endpoints: Option<Fact<Vec<Endpoint>>>,
    subnets: Option<Fact<Vec<Subnet>>>,
    endpoint_interfaces: Option<Fact<Vec<NetworkInterface>>>,
    security_groups: Option<Fact<Vec<SecurityGroup>>>,
    prefix_lists: Option<Fact<Vec<PrefixList>>>,
    network_acls: Option<Fact<Vec<NetworkAcl>>>,
}

/// The client: `--client-ip`, `--instance-id`, or this instance (IMDS).
async fn client(b: &Bounded, aws: &Aws, inputs: &Inputs) -> Option<Fact<Client>> {
    if let Some(ip) = inputs.client_ip {
        return Some(Ok(Client {
            source: ClientSource::ClientIp,
            private_ip: Some(ip),
            ..Client::default()
        }));
    }
    if let Some(id) = &inputs.instance_id {
        return Some(b.call(Need::Instance, aws.instance(id)).await);
    }
    // IMDS is local: a tight bound of its own, inside the deadline.
    let bound = Instant::now() + Duration::from_millis(1000);
    tokio::time::timeout_at(bound.min(b.deadline()), imds::discover())
        .await
        .ok()
        .flatten()
        .map(Ok)
}

/// The facts of one VPC. `listed`: the region's endpoints for the service,
/// when discovery already fetched them.
async fn vpc_round(
    b: &Bounded,
    aws: &Aws,
    vpc_id: &str,
    service_name: &str,
    host: &str,
    listed: Option<Vec<Endpoint>>,
) -> VpcRound {
    // Each chain starts its second call as soon as its first one answers.
    let vpc_chain = async {
        let vpc = b.call(Need::Vpc, aws.vpc(vpc_id)).await;
        let dhcp = match &vpc {
            Ok(v) => match &v.dhcp_options_id {
                Some(id) => b.call(Need::DhcpOptions, aws.dhcp_options(id)).await,
                None => Ok(None),
            },
            Err(e) => Err(e.clone()),
        };
        (vpc, dhcp)
    };
    let endpoint_chain = async {
        let endpoints = match listed {
            Some(all) => Ok(all.into_iter().filter(|e| e.vpc_id == vpc_id).collect()),
            None => {
                b.call(Need::Endpoints, aws.endpoints("vpc-id", vpc_id))
                    .await
            }
        };
        let interfaces = match &endpoints {
            Ok(eps) => {
                // Only the service's endpoints that still exist; the call asks
                // by filter, so a stale ID is skipped, never fails it.
                let ids: Vec<String> = eps
                    .iter()
                    .filter(|e| e.service_name == service_name && !e.is_deleted())
                    .flat_map(|e| e.network_interface_ids.iter().cloned())
                    .collect();
                Some(
                    b.call(Need::NetworkInterfaces, aws.network_interfaces(&ids))
                        .await,
                )
            }
            Err(_) => None,
        };
        (endpoints, interfaces)
    };
    let group_chain = async {
        let groups = b
            .call(Need::SecurityGroups, aws.security_groups(vpc_id))
            .await;
        let ids: BTreeSet<String> = groups
            .as_ref()
            .map(|gs| {
                gs.iter()
                    .flat_map(|g| g.ingress.iter().chain(&g.egress))
                    .filter_map(|r| match &r.peer {
                        SgPeer::PrefixList(id) => Some(id.clone()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let lists = futures::future::join_all(
            ids.iter()
                .map(|id| b.call(Need::PrefixLists, aws.prefix_list(id))),
        )
        .await;
        (groups, lists.into_iter().collect::<Result<Vec<_>, _>>())
    };
    // The zones that cover the host: their VPCs and their records (VPC004).
    let zone_chain = async {
        let zones = b.call(Need::HostedZones, aws.hosted_zones(vpc_id)).await;
        let covering: Vec<&HostedZone> = zones
            .as_ref()
            .map(|zs| zs.iter().filter(|z| z.covers(host)).collect())
            .unwrap_or_default();
        let (vpcs, records) = tokio::join!(
            futures::future::join_all(
                covering
                    .iter()
                    .map(|z| b.call(Need::HostedZoneVpcs, aws.hosted_zone_vpcs(&z.id)))
            ),
            futures::future::join_all(
                covering
                    .iter()
                    .map(|z| b.call(Need::HostedZoneRecords, aws.zone_records(&z.id, host)))
            ),
        );
        let (vpcs, records) = match &zones {
            Ok(_) => (
                Some(vpcs.into_iter().collect::<Result<Vec<_>, _>>()),
                Some(records.into_iter().collect::<Result<Vec<_>, _>>()),
            ),
            Err(_) => (None, None),
        };
        (zones, vpcs, records)
    };
    let (
        (vpc, dhcp_options),
        (endpoints, endpoint_interfaces),
        (groups, prefix_lists),
        (hosted_zones, hosted_zone_vpcs, hosted_zone_records),
        dns_support,
        dns_hostnames,
        subnets,
        acls,
    ) = tokio::join!(
        vpc_chain,
        endpoint_chain,
        group_chain,
        zone_chain,
        b.call(
            Need::VpcAttributes,
            aws.vpc_attribute(vpc_id, VpcAttributeName::EnableDnsSupport)
        ),
        b.call(
            Need::VpcAttributes,
            aws.vpc_attribute(vpc_id, VpcAttributeName::EnableDnsHostnames)
        ),
        b.call(Need::Subnets, aws.subnets(vpc_id)),
        b.call(Need::NetworkAcls, aws.network_acls(vpc_id)),
    );

    VpcRound {
        vpc: Some(vpc),
        dns_support: Some(dns_support),
        dns_hostnames: Some(dns_hostnames),
        dhcp_options: Some(dhcp_options),
        hosted_zones: Some(hosted_zones),
        hosted_zone_vpcs,
        hosted_zone_records,
        endpoints: Some(endpoints),
        subnets: Some(subnets),
        endpoint_interfaces,
        security_groups: Some(groups),
        prefix_lists: Some(prefix_lists),
        network_acls: Some(acls),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    use tidbpe_checks::{Need, CATALOG};

    /// Every `.rs` file under `dir`.
    fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir)
            .expect("src/gather is readable")
            .flatten()
        {
            let path = entry.path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|x| x == "rs") {
                out.push(path);
            }
        }
    }

    /// Every call gather makes belongs to a `Need` some check declares, and
    /// every declared `Need` is gathered. Each AWS call goes through
    /// `Bounded::call(Need::…, …)` and names its `Need` in its errors, so
    /// the needs gather's sources name are the calls it makes: a call added
    /// without a check that needs it, or a need declared without its call,
    /// fails here.
    #[test]
    fn gather_calls_exactly_the_needs_the_catalog_declares() {
        let mut files = Vec::new();
        sources(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/gather"),
            &mut files,
        );
        let text: String = files
            .iter()
            .map(|f| std::fs::read_to_string(f).expect("a gather source"))
            .collect();
        let by_name = |name: &str| Need::ALL.iter().copied().find(|n| format!("{n:?}") == name);
        let named: BTreeSet<Need> = text
            .split("Need::")
            .skip(1)
            .filter_map(|rest| {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect();
                by_name(&name)
            })
            .collect();
        let declared: BTreeSet<Need> = CATALOG.iter().flat_map(|c| c.needs).copied().collect();
        let not_declared: Vec<_> = named.difference(&declared).collect();
        let not_gathered: Vec<_> = declared.difference(&named).collect();
        assert!(
            not_declared.is_empty() && not_gathered.is_empty(),
            "gather calls {not_declared:?} that no check needs; checks need {not_gathered:?} that gather never calls"
        );
    }
}
