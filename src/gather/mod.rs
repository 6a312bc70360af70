//! Gathering: talk to the world and fill a [`Facts`] value.
//!
//! Calls that do not depend on each other run concurrently, and each call
//! starts as soon as what it needs is known:
//! - identity, service and zones start at once;
//! - the VPC's calls start at once with `--vpc-id`, else as soon as IMDS,
//!   `--instance-id` or the endpoint listing names the VPC;
//! - DHCP options follow `DescribeVpcs`, endpoint interfaces follow
//!   `DescribeVpcEndpoints`, prefix lists follow `DescribeSecurityGroups`.
//!
//! Every call is bounded by the run's deadline: what has not answered by
//! then becomes a `Timeout` fact, so the report always comes out.

pub mod aws;
pub mod imds;
pub mod probe;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_ec2::types::VpcAttributeName;
use tidbpe_checks::facts::{Client, Endpoint, Fact, Facts, Inputs, SgPeer, VpcChoice};
use tidbpe_checks::{FactError, FactErrorKind};
use tokio::time::Instant;

use self::aws::Aws;

/// Why gathering could not even choose what to inspect.
#[derive(Debug, thiserror::Error)]
pub enum GatherError {
    #[error("--vpc-id is required: {0}")]
    NoVpc(String),
}

/// Runs calls against the deadline and records how long each took.
struct Bounded {
    deadline: Instant,
    timings: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl Bounded {
    async fn call<T>(&self, action: &str, fut: impl Future<Output = Fact<T>>) -> Fact<T> {
        let start = Instant::now();
        let result = match tokio::time::timeout_at(self.deadline, fut).await {
            Ok(result) => result,
            Err(_) => Err(FactError::new(
                FactErrorKind::Timeout,
                action,
                "no answer before the deadline (--timeout)",
            )),
        };
        let ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        if let Ok(mut t) = self.timings.lock() {
            let slot = t.entry(action.to_string()).or_insert(0);
            *slot = (*slot).max(ms);
        }
        result
    }
}

/// Gather every fact the catalog needs.
pub async fn gather(inputs: Inputs, aws: &Aws, deadline: Instant) -> Result<Facts, GatherError> {
    let b = Bounded {
        deadline,
        timings: Arc::default(),
    };
    let service_name = inputs.service_name.clone().unwrap_or_default();

    let region_facts = async {
        tokio::join!(
            b.call("sts:GetCallerIdentity", aws.identity()),
            b.call(
                "ec2:DescribeVpcEndpointServices",
                aws.service(&service_name)
            ),
            b.call("ec2:DescribeAvailabilityZones", aws.zones()),
        )
    };
    let vpc_facts = async {
        match &inputs.vpc_id {
            // The VPC is known: its calls need not wait for the client.
            Some(vpc) => {
                let (client, round) = tokio::join!(
                    client(&b, aws, &inputs),
                    vpc_round(&b, aws, vpc, &service_name, None)
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
                    Some(
                        b.call("ec2:DescribeVpcEndpoints", aws.endpoints(filter, value))
                            .await,
                    )
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
                    Some(c) => vpc_round(&b, aws, &c.vpc_id, &service_name, listed).await,
                    None => VpcRound::default(),
                };
                Ok((client, choice, round))
            }
        }
    };
    let ((identity, service, zones), vpc_facts) = tokio::join!(region_facts, vpc_facts);
    let (mut client, vpc_choice, round) = vpc_facts?;

    // A machine outside the VPC under test is not its client.
    if let (Some(Ok(c)), Some(choice)) = (&client, &vpc_choice) {
        if c.source == "imds" && c.vpc_id.as_deref() != Some(choice.vpc_id.as_str()) {
            client = None;
        }
    }

    // Fill in what the client's own source did not say.
    if let Some(Ok(c)) = &mut client {
        if let Some(Ok(subnets)) = &round.subnets {
            if c.subnet_id.is_none() {
                if let Some(ip) = c.private_ip {
                    c.subnet_id = subnets
                        .iter()
                        .find(|s| s.cidr_block.is_some_and(|n| n.contains(&ip)))
                        .map(|s| s.subnet_id.clone());
                }
            }
            if let Some(s) = subnets
                .iter()
                .find(|s| Some(&s.subnet_id) == c.subnet_id.as_ref())
            {
                c.az_id.get_or_insert_with(|| s.az_id.clone());
                c.availability_zone
                    .get_or_insert_with(|| s.availability_zone.clone());
                c.vpc_id.get_or_insert_with(|| s.vpc_id.clone());
            }
        }
        if c.az_id.is_none() {
            if let (Some(name), Ok(zones)) = (&c.availability_zone, &zones) {
                c.az_id = zones
                    .iter()
                    .find(|z| &z.zone_name == name)
                    .map(|z| z.zone_id.clone());
            }
        }
    }

    let timings = b.timings.lock().map(|t| t.clone()).unwrap_or_default();
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
        endpoints: round.endpoints,
        subnets: round.subnets,
        endpoint_interfaces: round.endpoint_interfaces,
        security_groups: round.security_groups,
        prefix_lists: round.prefix_lists,
        network_acls: round.network_acls,
        timings_ms: timings,
    })
}

/// The VPC under test, and where it came from.
fn choose_vpc(
    inputs: &Inputs,
    client: Option<&Fact<Client>>,
    found: Option<&Fact<Vec<Endpoint>>>,
) -> Result<Option<VpcChoice>, GatherError> {
    let choice = |vpc_id: &str, source: &str| {
        Ok(Some(VpcChoice {
            vpc_id: vpc_id.to_string(),
            source: source.to_string(),
        }))
    };
    if let Some(vpc) = &inputs.vpc_id {
        return choice(vpc, "flag");
    }
    if let Some(Ok(Client {
        vpc_id: Some(vpc),
        source,
        ..
    })) = client
    {
        if source == "imds" || source == "instance-id" {
            return choice(vpc, if source == "imds" { "imds" } else { "instance" });
        }
    }
    if let Some(Err(_)) = client {
        // --instance-id could not be read: its error is reported by the
        // checks that need the client; the VPC checks say what to pass.
        return Ok(None);
    }
    match found {
        Some(Ok(endpoints)) => {
            if let Some(id) = &inputs.endpoint_id {
                return match endpoints.iter().find(|e| &e.endpoint_id == id) {
                    Some(e) => choice(&e.vpc_id, "endpoint"),
                    None => Err(GatherError::NoVpc(format!(
                        "{id} was not found in {}",
                        inputs.region
                    ))),
                };
            }
            // Endpoints on their way out do not make a VPC ambiguous.
            let live: Vec<&Endpoint> = endpoints
                .iter()
                .filter(|e| !tidbpe_checks::is_gone(&e.state))
                .collect();
            let vpcs: BTreeSet<&str> = live.iter().map(|e| e.vpc_id.as_str()).collect();
            match vpcs.len() {
                1 => choice(live[0].vpc_id.as_str(), "unique-endpoint"),
                0 => Err(GatherError::NoVpc(format!(
                    "not running on an EC2 instance, and no endpoint for the service exists in {} to find the VPC by",
                    inputs.region
                ))),
                _ => Err(GatherError::NoVpc(format!(
                    "not running on an EC2 instance, and {} endpoints for the service exist in {} (VPCs {})",
                    live.len(),
                    inputs.region,
                    vpcs.into_iter().collect::<Vec<_>>().join(", ")
                ))),
            }
        }
        // The listing failed (denied, unreachable, deadline): report what
        // could be seen rather than refuse; the VPC checks say what to pass.
        Some(Err(_)) => Ok(None),
        None => Ok(None),
    }
}

/// The facts of one VPC.
#[derive(Default)]
struct VpcRound {
    vpc: Option<Fact<tidbpe_checks::facts::Vpc>>,
    dns_support: Option<Fact<bool>>,
    dns_hostnames: Option<Fact<bool>>,
    dhcp_options: Option<Fact<Option<tidbpe_checks::facts::DhcpOptions>>>,
    hosted_zones: Option<Fact<Vec<tidbpe_checks::facts::HostedZone>>>,
    endpoints: Option<Fact<Vec<Endpoint>>>,
    subnets: Option<Fact<Vec<tidbpe_checks::facts::Subnet>>>,
    endpoint_interfaces: Option<Fact<Vec<tidbpe_checks::facts::NetworkInterface>>>,
    security_groups: Option<Fact<Vec<tidbpe_checks::facts::SecurityGroup>>>,
    prefix_lists: Option<Fact<Vec<tidbpe_checks::facts::PrefixList>>>,
    network_acls: Option<Fact<Vec<tidbpe_checks::facts::NetworkAcl>>>,
}

/// The client: `--client-ip`, `--instance-id`, or this instance (IMDS).
async fn client(b: &Bounded, aws: &Aws, inputs: &Inputs) -> Option<Fact<Client>> {
    if let Some(ip) = inputs.client_ip {
        return Some(Ok(Client {
            source: "client-ip".into(),
            private_ip: Some(ip),
            ..Client::default()
        }));
    }
    if let Some(id) = &inputs.instance_id {
        return Some(b.call("ec2:DescribeInstances", aws.instance(id)).await);
    }
    // IMDS is local: a tight bound of its own, inside the deadline.
    let bound = Instant::now() + Duration::from_millis(1000);
    tokio::time::timeout_at(bound.min(b.deadline), imds::discover())
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
    listed: Option<Vec<Endpoint>>,
) -> VpcRound {
    // Each chain starts its second call as soon as its first one answers.
    let vpc_chain = async {
        let vpc = b.call("ec2:DescribeVpcs", aws.vpc(vpc_id)).await;
        let dhcp = match &vpc {
            Ok(v) => match &v.dhcp_options_id {
                Some(id) => {
                    b.call("ec2:DescribeDhcpOptions", aws.dhcp_options(id))
                        .await
                }
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
                b.call("ec2:DescribeVpcEndpoints", aws.endpoints("vpc-id", vpc_id))
                    .await
            }
        };
        let interfaces = match &endpoints {
            Ok(eps) => {
                // Only the service's endpoints: an unrelated endpoint's stale
                // interface must not fail the call.
                let ids: Vec<String> = eps
                    .iter()
                    .filter(|e| e.service_name == service_name)
                    .flat_map(|e| e.network_interface_ids.iter().cloned())
                    .collect();
                Some(
                    b.call(
                        "ec2:DescribeNetworkInterfaces",
                        aws.network_interfaces(&ids),
                    )
                    .await,
                )
            }
            Err(_) => None,
        };
        (endpoints, interfaces)
    };
    let group_chain = async {
        let groups = b
            .call("ec2:DescribeSecurityGroups", aws.security_groups(vpc_id))
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
                .map(|id| b.call("ec2:GetManagedPrefixListEntries", aws.prefix_list(id))),
        )
        .await;
        (groups, lists.into_iter().collect::<Result<Vec<_>, _>>())
    };
    let (
        (vpc, dhcp_options),
        (endpoints, endpoint_interfaces),
        (groups, prefix_lists),
        dns_support,
        dns_hostnames,
        hosted_zones,
        subnets,
        acls,
    ) = tokio::join!(
        vpc_chain,
        endpoint_chain,
        group_chain,
        b.call(
            "ec2:DescribeVpcAttribute",
            aws.vpc_attribute(vpc_id, VpcAttributeName::EnableDnsSupport)
        ),
        b.call(
            "ec2:DescribeVpcAttribute",
            aws.vpc_attribute(vpc_id, VpcAttributeName::EnableDnsHostnames)
        ),
        b.call("route53:ListHostedZonesByVPC", aws.hosted_zones(vpc_id)),
        b.call("ec2:DescribeSubnets", aws.subnets(vpc_id)),
        b.call("ec2:DescribeNetworkAcls", aws.network_acls(vpc_id)),
    );

    VpcRound {
        vpc: Some(vpc),
        dns_support: Some(dns_support),
        dns_hostnames: Some(dns_hostnames),
        dhcp_options: Some(dhcp_options),
        hosted_zones: Some(hosted_zones),
        endpoints: Some(endpoints),
        subnets: Some(subnets),
        endpoint_interfaces,
        security_groups: Some(groups),
        prefix_lists: Some(prefix_lists),
        network_acls: Some(acls),
    }
}
