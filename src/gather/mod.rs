//! Gathering: talk to the world and fill a [`Facts`] value. This file is
//! the concurrency graph only: which call waits for which.
//!
//! Only the calls the selected checks need are made ([`Plan`]: their
//! `needs`, the calls those take input from, and what finding the VPC and
//! completing the client take); `--only INP001` makes none.
//!
//! Calls that do not depend on each other run concurrently, and each call
//! starts as soon as what it needs is known, so that a run waits for one
//! AWS round trip where one will do:
//! - identity, service, zones and the account's DHCP option sets start at
//!   once (the VPC's set is picked once `DescribeVpcs` names it: [`pick`]);
//! - the VPC's calls start at once with `--vpc-id`, else as soon as IMDS,
//!   `--instance-id` or the endpoint listing names the VPC; the endpoint
//!   interfaces are asked for by VPC and AWS's description of them, beside
//!   `DescribeVpcEndpoints` rather than after it;
//! - prefix lists follow `DescribeSecurityGroups`, when a rule names one;
//!   the VPCs and records of the hosted zones that cover the host follow
//!   `ListHostedZonesByVPC`, when one covers it.
//!
//! A second call follows only where a listing lacked something (a DHCP set
//! shared from another account, an endpoint interface AWS described
//! otherwise). Each kind of resource is one call (one per page), never one
//! per group or subnet.
//!
//! - the live probes (DNS, TCP, the greeting) start as soon as IMDS says
//!   where this machine stands (at once with `--probe`), beside the AWS
//!   calls: [`vantage`].
//!
//! Every AWS call goes through [`bounded::Bounded`], named by its
//! [`Need`]: retried while AWS throttles or fails, bounded by the run's
//! deadline (what has not answered by then becomes a `Timeout` fact, so the
//! report always comes out) and timed. Choosing the VPC and completing the
//! client are pure: [`discover`]. A call that would have named the VPC and
//! failed is kept (`Facts::vpc_choice_error`); a VPC, endpoint or instance
//! named on the command line that does not exist is a [`GatherError`].

pub mod aws;
pub mod bounded;
pub mod discover;
pub mod imds;
pub mod pick;
pub mod probe;
pub mod resolver;
pub mod vantage;

use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

use aws_sdk_ec2::types::VpcAttributeName;
use futures::FutureExt;
use tidbpe_checks::catalog::selected_needs;
use tidbpe_checks::facts::{
    Client, ClientSource, DhcpOptions, Endpoint, Fact, Facts, HostedZone, Inputs, NetworkAcl,
    NetworkInterface, PrefixList, ResolverRule, SecurityGroup, SgPeer, Subnet, Vpc, ZoneRecords,
    ZoneVpcs,
};
use tidbpe_checks::Need;
use tokio::time::Instant;

use self::aws::Aws;
use self::bounded::Bounded;
pub use self::discover::GatherError;
use self::discover::{check_named_vpc, choose_vpc, complete_client, keep_client_in_vpc, Chosen};
use self::pick::Pick;
use self::vantage::ProbePlan;

/// The calls a run makes: the needs of the selected checks (`--only`,
/// `--skip`), plus what choosing the VPC and completing the client take.
#[derive(Debug, Clone)]
pub struct Plan {
    needs: BTreeSet<Need>,
    /// Some selected check reads the VPC or the client: discover them.
    vpc: bool,
}

impl Plan {
    pub fn of(inputs: &Inputs) -> Self {
        let mut needs = selected_needs(inputs);
        let vpc = needs.iter().any(|n| !n.is_regional());
        if needs.contains(&Need::Instance) {
            // Completing the client: its subnet (by address, for
            // --client-ip), then its AZ and the AZ's ID.
            needs.extend([Need::Subnets, Need::Zones]);
        }
        Plan { needs, vpc }
    }

    pub fn wants(&self, need: Need) -> bool {
        self.needs.contains(&need)
    }
}

/// Gather every fact the selected checks need, and probe beside it.
pub async fn gather(
    inputs: Inputs,
    aws: &Aws,
    deadline: Instant,
    probes: &ProbePlan,
) -> Result<Facts, GatherError> {
    let b = Bounded::new(deadline);
    let plan = Plan::of(&inputs);
    let service_name = inputs.service_name.clone().unwrap_or_default();
    // Asked once, for the client and for where the probes stand.
    let this_instance = this_instance(b.deadline()).shared();

    // The service, asked once: without --host its private DNS name is the
    // host, and the probes wait for it (issue 13).
    let service_call = b
        .call_if(plan.wants(Need::Service), Need::Service, || {
            aws.service(&service_name)
        })
        .shared();
    // The host: --host, else known once the service has answered; the
    // probes and the hosted zones that cover the host wait for it.
    let host = async {
        match &inputs.host {
            Some(host) => Some(host.clone()),
            None => tidbpe_checks::host_of(&inputs, service_call.clone().await.as_ref()),
        }
    }
    .shared();
    // Needed once the VPC is known, asked now: shared by the region's
    // calls (which start it) and the VPC's (which pick from it).
    let dhcp_sets = b
        .call_if(
            plan.vpc && plan.wants(Need::DhcpOptions),
            Need::DhcpOptions,
            || aws.dhcp_option_sets(),
        )
        .shared();
    let region_facts = async {
        let (identity, service, zones, _) = tokio::join!(
            b.call_if(plan.wants(Need::Identity), Need::Identity, || aws
                .identity()),
            service_call.clone(),
            b.call_if(plan.wants(Need::Zones), Need::Zones, || aws.zones()),
            dhcp_sets.clone(),
        );
        (identity, service, zones)
    };
    let vpc_facts = async {
        if !plan.vpc {
            return Ok((None, None, VpcRound::default()));
        }
        // `--endpoint-id` is looked up by ID: it must exist, and without
        // `--vpc-id` it may name the VPC. Else, without `--vpc-id` and
        // `--instance-id`, the service's endpoints in the region may: start
        // the listing at once, wait for it only when needed.
        let listing = async {
            match (&inputs.endpoint_id, &inputs.vpc_id, &inputs.instance_id) {
                (Some(id), _, _) => Some(
                    b.call(Need::Endpoints, || aws.endpoints("vpc-endpoint-id", id))
                        .await,
                ),
                (None, None, None) => Some(
                    b.call(Need::Endpoints, || {
                        aws.endpoints("service-name", &service_name)
                    })
                    .await,
                ),
                _ => None,
            }
        };
        match &inputs.vpc_id {
            // The VPC is known: its calls need not wait for the client.
            Some(vpc) => {
                let (client, found, round) = tokio::join!(
                    client(&b, aws, &inputs, this_instance.clone()),
                    listing,
                    vpc_round(
                        &b,
                        aws,
                        &plan,
                        vpc,
                        &inputs,
                        host.clone(),
                        true,
                        Asked {
                            endpoints: None,
                            dhcp_sets: dhcp_sets.clone(),
                        }
                    )
                );
                let chosen = choose_vpc(&inputs, client.as_ref(), found.as_ref())?;
                Ok((client, Some(chosen), round))
            }
            None => {
                let client_fut = client(&b, aws, &inputs, this_instance.clone());
                // A block of its own: a listing not waited for is dropped
                // here, not left alive and unpolled for the rest of the run.
                // Half-polled, its call may hold a place in the SDK's one
                // identity cache (a tokio `OnceCell` behind a `RwLock`,
                // aws-smithy-runtime 1.16.2 src/expiring_cache.rs:72 and :91),
                // whose semaphore hands a released permit to the next waiter
                // in line whether it is polled or not: while credentials keep
                // failing to load, every later call then waited for the
                // deadline instead of failing as `credentials`.
                let (client, found) = {
                    tokio::pin!(listing, client_fut);
                    tokio::select! {
                        client = &mut client_fut => {
                            let names_vpc = matches!(&client, Some(Ok(Client { vpc_id: Some(_), .. })));
                            let found = if names_vpc && inputs.endpoint_id.is_none() {
                                None
                            } else {
                                listing.await
                            };
                            (client, found)
                        }
                        found = &mut listing => (client_fut.await, found),
                    }
                };
                let chosen = choose_vpc(&inputs, client.as_ref(), found.as_ref())?;
                // The region's endpoints for the service, when listed, already
                // hold the VPC's: no second call.
                let listed = match (&inputs.endpoint_id, found) {
                    (None, Some(Ok(endpoints))) => Some(endpoints),
                    _ => None,
                };
                let round = match &chosen {
                    Ok(c) => {
                        vpc_round(
                            &b,
                            aws,
                            &plan,
                            &c.vpc_id,
                            &inputs,
                            host.clone(),
                            false,
                            Asked {
                                endpoints: listed,
                                dhcp_sets: dhcp_sets.clone(),
                            },
                        )
                        .await
                    }
                    Err(_) => VpcRound::default(),
                };
                Ok((client, Some(chosen), round))
            }
        }
    };
    let probing = vantage::run(
        probes,
        &inputs,
        host.clone(),
        this_instance.clone(),
        deadline,
    );
    let ((identity, service, zones), vpc_facts, probes) =
        tokio::join!(region_facts, vpc_facts, probing);
    // Done with the shared host (it borrows the inputs).
    drop(host);
    let (client, chosen, round): (_, Option<Chosen>, _) = vpc_facts?;
    let (vpc_choice, vpc_choice_error) = match chosen {
        Some(Ok(c)) => (Some(c), None),
        Some(Err(e)) => (None, Some(e)),
        None => (None, None),
    };
    let probes = vantage::settle(probes, vpc_choice.as_ref());

    let mut client = keep_client_in_vpc(client, vpc_choice.as_ref());
    if let (Some(Ok(c)), Some(zones)) = (&mut client, &zones) {
        complete_client(c, round.subnets.as_ref(), zones);
    }
    let facts = Facts {
        inputs,
        identity,
        service,
        zones,
        vpc_choice,
        vpc_choice_error,
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
        resolver_rules: round.resolver_rules,
        probes,
        timings_ms: b.timings(),
    };
    check_named_vpc(&facts.inputs, facts.vpc_choice.as_ref(), &facts.errors())?;
    Ok(facts)
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
    resolver_rules: Option<Fact<Vec<ResolverRule>>>,
}

/// This machine as IMDS describes it, or why not. IMDS is local: a tight
/// bound of its own, inside the deadline.
async fn this_instance(deadline: Instant) -> Result<Client, imds::Miss> {
    let bound = Instant::now() + Duration::from_millis(2000);
    tokio::time::timeout_at(bound.min(deadline), imds::discover())
        .await
        .unwrap_or(Err(imds::Miss::Unusable("did not answer in time")))
}

/// The client: `--client-ip`, `--instance-id`, or this instance (IMDS).
async fn client(
    b: &Bounded,
    aws: &Aws,
    inputs: &Inputs,
    this_instance: impl Future<Output = Result<Client, imds::Miss>>,
) -> Option<Fact<Client>> {
    if let Some(ip) = inputs.client_ip {
        return Some(Ok(Client {
            source: ClientSource::ClientIp,
            private_ip: Some(ip),
            ..Client::default()
        }));
    }
    if let Some(id) = &inputs.instance_id {
        return Some(b.call(Need::Instance, || aws.instance(id)).await);
    }
    this_instance.await.ok().map(Ok)
}

/// What the run asked for before it knew the VPC.
struct Asked<F> {
    /// The region's endpoints for the service, when discovery listed them.
    endpoints: Option<Vec<Endpoint>>,
    /// The account's DHCP option sets, asked at the start of the run
    /// (`None`: not wanted).
    dhcp_sets: F,
}

/// The facts of one VPC that `plan` wants. `host`: the host, once known
/// (the hosted zones that cover it get their VPCs and records read).
/// `named`: the VPC comes from `--vpc-id`, so it must be shown to exist.
/// `asked`: what the run asked for before it knew the VPC.
#[allow(clippy::too_many_arguments)]
async fn vpc_round(
    b: &Bounded,
    aws: &Aws,
    plan: &Plan,
    vpc_id: &str,
    inputs: &Inputs,
    host: impl Future<Output = Option<String>>,
    named: bool,
    asked: Asked<impl Future<Output = Option<Fact<Vec<DhcpOptions>>>>>,
) -> VpcRound {
    let Asked {
        endpoints: listed,
        dhcp_sets,
    } = asked;
    let service_name = inputs.service_name.as_deref().unwrap_or_default();
    let wants = |n| plan.wants(n);
    // A VPC named with --vpc-id must exist: DescribeVpcs is how we know
    // (filtered calls answer empty lists for a VPC that does not exist).
    let want_vpc = wants(Need::Vpc) || wants(Need::DhcpOptions) || named;
    let vpc_chain = async {
        if !want_vpc {
            return (None, None);
        }
        let (vpc, sets) = tokio::join!(b.call(Need::Vpc, || aws.vpc(vpc_id)), dhcp_sets);
        let dhcp = match sets {
            None => None,
            Some(sets) => Some(match pick::dhcp_options(&vpc, sets) {
                Pick::Done(dhcp) => dhcp,
                Pick::AskById(id) => b.call(Need::DhcpOptions, || aws.dhcp_options(&id)).await,
            }),
        };
        (Some(vpc), dhcp)
    };
    let endpoint_chain = async {
        if !wants(Need::Endpoints) {
            return (None, None);
        }
        let endpoints = async {
            match listed {
                Some(all) => Ok(all.into_iter().filter(|e| e.vpc_id == vpc_id).collect()),
                None => {
                    b.call(Need::Endpoints, || aws.endpoints("vpc-id", vpc_id))
                        .await
                }
            }
        };
        // Beside the endpoints, not after them: every endpoint interface of
        // the VPC, the service's picked out once the endpoints are known.
        let (endpoints, listing) = tokio::join!(
            endpoints,
            b.call_if(
                wants(Need::NetworkInterfaces),
                Need::NetworkInterfaces,
                || aws.endpoint_interfaces(vpc_id)
            )
        );
        let interfaces = match (&endpoints, listing) {
            (Ok(eps), Some(listing)) => Some(
                match pick::endpoint_interfaces(eps, service_name, listing) {
                    Ok((found, missing)) if missing.is_empty() => Ok(found),
                    // Asked by filter: a stale ID is skipped, never fails it.
                    Ok((mut found, missing)) => b
                        .call(Need::NetworkInterfaces, || aws.network_interfaces(&missing))
                        .await
                        .map(|more| {
                            found.extend(more);
                            found
                        }),
                    Err(e) => Err(e),
                },
            ),
            // Nothing to pick from, but the listing's own failure is kept:
            // the report names every call that failed.
            (Err(_), Some(Err(e))) => Some(Err(e)),
            _ => None,
        };
        (Some(endpoints), interfaces)
    };
    let group_chain = async {
        if !wants(Need::SecurityGroups) {
            return (None, None);
        }
        let groups = b
            .call(Need::SecurityGroups, || aws.security_groups(vpc_id))
            .await;
        if !wants(Need::PrefixLists) {
            return (Some(groups), None);
        }
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
                .map(|id| b.call(Need::PrefixLists, || aws.prefix_list(id))),
        )
        .await;
        (
            Some(groups),
            Some(lists.into_iter().collect::<Result<Vec<_>, _>>()),
        )
    };
    let attribute = |name: VpcAttributeName| {
        b.call_if(wants(Need::VpcAttributes), Need::VpcAttributes, move || {
            aws.vpc_attribute(vpc_id, name.clone())
        })
    };
    // The zones that cover the host: their VPCs and their records (VPC004).
    let zone_chain = async {
        if !wants(Need::HostedZones) {
            return (None, None, None);
        }
        let (zones, host) =
            tokio::join!(b.call(Need::HostedZones, || aws.hosted_zones(vpc_id)), host);
        // No host known (no --host, and the service named none): no zone
        // covers it; VPC004 says why from the facts.
        let host = host.unwrap_or_default();
        let host = host.as_str();
        let covering: Vec<&HostedZone> = zones
            .as_ref()
            .map(|zs| {
                zs.iter()
                    .filter(|z| !host.is_empty() && z.covers(host))
                    .collect()
            })
            .unwrap_or_default();
        // Asked only when the zones were read, and only of the covering ones.
        let want_vpcs = zones.is_ok() && wants(Need::HostedZoneVpcs);
        let want_records = zones.is_ok() && wants(Need::HostedZoneRecords);
        let (vpcs, records) =
            tokio::join!(
                futures::future::join_all(
                    covering
                        .iter()
                        .filter(|_| want_vpcs)
                        .map(|z| { b.call(Need::HostedZoneVpcs, || aws.hosted_zone_vpcs(&z.id)) })
                ),
                futures::future::join_all(covering.iter().filter(|_| want_records).map(|z| {
                    b.call(Need::HostedZoneRecords, || aws.zone_records(&z.id, host))
                })),
            );
        let vpcs = want_vpcs.then(|| vpcs.into_iter().collect::<Result<Vec<_>, _>>());
        let records = want_records.then(|| records.into_iter().collect::<Result<Vec<_>, _>>());
        (Some(zones), vpcs, records)
    };
    let (
        (vpc, dhcp_options),
        (endpoints, endpoint_interfaces),
        (security_groups, prefix_lists),
        (hosted_zones, hosted_zone_vpcs, hosted_zone_records),
        dns_support,
        dns_hostnames,
        subnets,
        network_acls,
        resolver_rules,
    ) = tokio::join!(
        vpc_chain,
        endpoint_chain,
        group_chain,
        zone_chain,
        attribute(VpcAttributeName::EnableDnsSupport),
        attribute(VpcAttributeName::EnableDnsHostnames),
        b.call_if(wants(Need::Subnets), Need::Subnets, || aws.subnets(vpc_id)),
        b.call_if(wants(Need::NetworkAcls), Need::NetworkAcls, || aws
            .network_acls(vpc_id)),
        resolver::rules(b, aws, plan, vpc_id),
    );

    VpcRound {
        vpc,
        dns_support,
        dns_hostnames,
        dhcp_options,
        hosted_zones,
        hosted_zone_vpcs,
        hosted_zone_records,
        endpoints,
        subnets,
        endpoint_interfaces,
        security_groups,
        prefix_lists,
        network_acls,
        resolver_rules,
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
