//! Gathering: talk to the world and fill a [`Facts`] value.
//!
//! Calls that do not depend on each other run concurrently, in rounds:
//! 1. identity, service, zones, IMDS, `--instance-id`, endpoint discovery
//!    (and, when `--vpc-id` is given, the whole VPC round at once);
//! 2. the VPC: attributes, endpoints, subnets, groups, ACLs, hosted zones;
//! 3. what those name: DHCP options, endpoint interfaces, prefix lists.
//!
//! Every call is bounded by the run's deadline: what has not answered by
//! then becomes a `Timeout` fact, so the report always comes out.

pub mod aws;
pub mod imds;

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
    let use_imds = inputs.instance_id.is_none() && inputs.client_ip.is_none();
    let discover_endpoints = inputs.vpc_id.is_none() && inputs.instance_id.is_none();

    let first_round = async {
        tokio::join!(
            b.call("sts:GetCallerIdentity", aws.identity()),
            b.call(
                "ec2:DescribeVpcEndpointServices",
                aws.service(&service_name)
            ),
            b.call("ec2:DescribeAvailabilityZones", aws.zones()),
            async {
                if !use_imds {
                    return None;
                }
                // IMDS is local: a tight bound of its own, inside the deadline.
                let bound = Instant::now() + Duration::from_millis(1000);
                tokio::time::timeout_at(bound.min(deadline), imds::discover())
                    .await
                    .ok()
                    .flatten()
            },
            async {
                match &inputs.instance_id {
                    Some(id) => Some(b.call("ec2:DescribeInstances", aws.instance(id)).await),
                    None => None,
                }
            },
            async {
                if !discover_endpoints {
                    return None;
                }
                Some(match &inputs.endpoint_id {
                    Some(id) => {
                        b.call(
                            "ec2:DescribeVpcEndpoints",
                            aws.endpoints("vpc-endpoint-id", id),
                        )
                        .await
                    }
                    None => {
                        b.call(
                            "ec2:DescribeVpcEndpoints",
                            aws.endpoints("service-name", &service_name),
                        )
                        .await
                    }
                })
            },
        )
    };
    let early_vpc = inputs.vpc_id.clone();
    let ((identity, service, zones, imds_client, instance, found_endpoints), early) =
        tokio::join!(first_round, async {
            match &early_vpc {
                Some(vpc) => Some(vpc_round(&b, aws, vpc).await),
                None => None,
            }
        });

    // The client: --client-ip, --instance-id, or this instance.
    let mut client: Option<Fact<Client>> = if let Some(ip) = inputs.client_ip {
        Some(Ok(Client {
            source: "client-ip".into(),
            private_ip: Some(ip),
            ..Client::default()
        }))
    } else if let Some(instance) = instance {
        Some(instance)
    } else {
        imds_client.map(Ok)
    };

    let vpc_choice = choose_vpc(&inputs, client.as_ref(), found_endpoints.as_ref())?;
    // A machine outside the VPC under test is not its client.
    if let (Some(Ok(c)), Some(choice)) = (&client, &vpc_choice) {
        if c.source == "imds" && c.vpc_id.as_deref() != Some(choice.vpc_id.as_str()) {
            client = None;
        }
    }
    let round = match (early, &vpc_choice) {
        (Some(round), _) => round,
        (None, Some(choice)) => vpc_round(&b, aws, &choice.vpc_id).await,
        (None, None) => VpcRound::default(),
    };

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
            let vpcs: BTreeSet<&str> = endpoints.iter().map(|e| e.vpc_id.as_str()).collect();
            match vpcs.len() {
                1 if endpoints.len() == 1 => choice(&endpoints[0].vpc_id, "unique-endpoint"),
                0 => Err(GatherError::NoVpc(format!(
                    "not running on an EC2 instance, and no endpoint for the service exists in {} to find the VPC by",
                    inputs.region
                ))),
                _ => Err(GatherError::NoVpc(format!(
                    "not running on an EC2 instance, and {} endpoints for the service exist in {} (VPCs {})",
                    endpoints.len(),
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

async fn vpc_round(b: &Bounded, aws: &Aws, vpc_id: &str) -> VpcRound {
    let (vpc, dns_support, dns_hostnames, hosted_zones, endpoints, subnets, groups, acls) = tokio::join!(
        b.call("ec2:DescribeVpcs", aws.vpc(vpc_id)),
        b.call(
            "ec2:DescribeVpcAttribute",
            aws.vpc_attribute(vpc_id, VpcAttributeName::EnableDnsSupport)
        ),
        b.call(
            "ec2:DescribeVpcAttribute",
            aws.vpc_attribute(vpc_id, VpcAttributeName::EnableDnsHostnames)
        ),
        b.call("route53:ListHostedZonesByVPC", aws.hosted_zones(vpc_id)),
        b.call("ec2:DescribeVpcEndpoints", aws.endpoints("vpc-id", vpc_id)),
        b.call("ec2:DescribeSubnets", aws.subnets(vpc_id)),
        b.call("ec2:DescribeSecurityGroups", aws.security_groups(vpc_id)),
        b.call("ec2:DescribeNetworkAcls", aws.network_acls(vpc_id)),
    );

    // Round 3: what the first answers name.
    let dhcp_id = vpc.as_ref().ok().and_then(|v| v.dhcp_options_id.clone());
    let interface_ids: Vec<String> = endpoints
        .as_ref()
        .map(|eps| {
            eps.iter()
                .flat_map(|e| e.network_interface_ids.iter().cloned())
                .collect()
        })
        .unwrap_or_default();
    let prefix_list_ids: BTreeSet<String> = groups
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
    let (dhcp_options, endpoint_interfaces, prefix_lists) = tokio::join!(
        async {
            match (&vpc, &dhcp_id) {
                (Ok(_), Some(id)) => Some(
                    b.call("ec2:DescribeDhcpOptions", aws.dhcp_options(id))
                        .await,
                ),
                (Ok(_), None) => Some(Ok(None)),
                (Err(e), _) => Some(Err(e.clone())),
            }
        },
        async {
            match &endpoints {
                Ok(_) => Some(
                    b.call(
                        "ec2:DescribeNetworkInterfaces",
                        aws.network_interfaces(&interface_ids),
                    )
                    .await,
                ),
                Err(_) => None,
            }
        },
        async {
            let lists = futures::future::join_all(
                prefix_list_ids
                    .iter()
                    .map(|id| b.call("ec2:GetManagedPrefixListEntries", aws.prefix_list(id))),
            )
            .await;
            Some(lists.into_iter().collect::<Result<Vec<_>, _>>())
        },
    );

    VpcRound {
        vpc: Some(vpc),
        dns_support: Some(dns_support),
        dns_hostnames: Some(dns_hostnames),
        dhcp_options,
        hosted_zones: Some(hosted_zones),
        endpoints: Some(endpoints),
        subnets: Some(subnets),
        endpoint_interfaces,
        security_groups: Some(groups),
        prefix_lists,
        network_acls: Some(acls),
    }
}
