//! The contract between gathering and judging.
//!
//! `gather` (in the binary) fills a [`Facts`] value from AWS, IMDS and the
//! network; the checks in this crate read it and nothing else. Facts are
//! serialized into the JSON report, so `tidbpe analyze` can judge them again
//! offline: keep every type here plain data (strings, numbers, CIDRs), never
//! SDK types, and only ever add optional fields.
//!
//! Each fact that comes from one call is a [`Fact`]: `Ok` with what was seen,
//! or `Err` naming the call that failed, so only the checks that need it
//! become `unknown`. A fact that was not asked for at all (no VPC known, no
//! endpoint yet) is `None`.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

use crate::check::Need;
use crate::probe_facts::ProbeFacts;

/// One gathered fact: what was seen, or why it could not be seen.
pub type Fact<T> = Result<T, FactError>;

/// Why a fact could not be gathered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FactError {
    pub kind: FactErrorKind,
    /// The call that failed, as an IAM action (`ec2:DescribeNetworkAcls`),
    /// or the probe (`imds`, `dns`).
    pub action: String,
    /// The service's error code (`UnauthorizedOperation`), when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FactErrorKind {
    /// The caller lacks the IAM permission for `action`.
    AccessDenied,
    /// Credentials are missing, invalid or expired.
    Credentials,
    /// The run's deadline (`--timeout`) passed before an answer came.
    Timeout,
    /// The service could not be reached.
    Network,
    /// The service answered with an error.
    Api,
    /// AWS throttled the call (`RequestLimitExceeded`, `Throttling`), still
    /// after retries within the deadline.
    Throttled,
    /// AWS failed on its side (HTTP 5xx), still after retries within the
    /// deadline.
    ServerError,
}

/// The `code` of a credential failure whose cause is an SSO profile
/// without a cached (or with an expired) token: the fix is `aws sso login`.
pub const SSO_TOKEN_MISSING: &str = "SsoTokenMissing";

impl FactError {
    /// An error of a probe or of another source named by `action` (`imds`).
    pub fn new(kind: FactErrorKind, action: &str, message: impl Into<String>) -> Self {
        FactError {
            kind,
            action: action.to_string(),
            code: None,
            message: message.into(),
        }
    }

    /// An error of the AWS call behind `need` (named by its IAM action).
    pub fn of_call(need: Need, kind: FactErrorKind, message: impl Into<String>) -> Self {
        Self::new(kind, need.action(), message)
    }

    /// The AWS call that failed, when it was one.
    pub fn need(&self) -> Option<Need> {
        Need::from_action(&self.action)
    }

    /// Does the error say that the resource it asked for does not exist
    /// (`InvalidVpcID.NotFound`, `InvalidInstanceID.NotFound`,
    /// `InvalidVpcEndpointId.NotFound`)?
    pub fn is_not_found(&self) -> bool {
        self.kind == FactErrorKind::Api
            && self
                .code
                .as_deref()
                .is_some_and(|c| c.ends_with(".NotFound"))
    }
}

/// What the user asked for, after validation and defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Inputs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    /// AZ IDs the TiDB Cloud console shows (`use1-az1`); empty: the service's own.
    #[serde(default)]
    pub az_ids: Vec<String>,
    pub region: String,
    /// `--host` (or the cluster JSON's host): what the user gave. `None`:
    /// the host is the service's private DNS name, known only after the
    /// service lookup (read it with `read::host`, never from here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<IpAddr>,
    /// The AWS profile (`--profile`, else `AWS_PROFILE`), for the fix of
    /// an SSO profile without a token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Checks not run, with the reason: deselected with `--only` /
    /// `--skip`, or not applicable to the cluster `--cluster-json`
    /// describes (one on another cloud): (ID, reason).
    #[serde(default)]
    pub deselected: BTreeMap<String, String>,
    /// What `--cluster-json` said, as read: the flags beside it win in the
    /// fields above, and INP001 names every disagreement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<Cluster>,
}

/// A TiDB Cloud cluster as `ticloud serverless describe -c ID` describes
/// it, reduced to what a private endpoint depends on. Both shapes of that
/// output (2024 and current) read to the same value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Cluster {
    /// `clusterId` (digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    /// `displayName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `state`, as TiDB Cloud gives it: `ACTIVE`, `PAUSED`, `MAINTENANCE`…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The cloud, lower-case: `aws`, `gcp`, `azure`, `alicloud`.
    pub cloud_provider: String,
    /// The region as its cloud names it (`us-east-1`, `us-central1`); an AWS
    /// region code when the cloud is `aws`.
    pub region: String,
    /// `endpoints.private.host`, lower-case, without a final dot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// `endpoints.private.port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `endpoints.private.aws` is present: the cluster offers an AWS
    /// PrivateLink endpoint service.
    #[serde(default)]
    pub aws_private_endpoint: bool,
    /// `endpoints.private.aws.serviceName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    /// `endpoints.private.aws.availabilityZone`: AZ IDs, not names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub az_ids: Vec<String>,
}

impl Cluster {
    /// The cluster runs on AWS.
    pub fn is_aws(&self) -> bool {
        self.cloud_provider.eq_ignore_ascii_case("aws")
    }

    /// AWS PrivateLink can reach it: on AWS, with `endpoints.private.aws`.
    pub fn via_privatelink(&self) -> bool {
        self.is_aws() && self.aws_private_endpoint
    }

    /// The cloud's name for people (`Google Cloud`), else as given.
    pub fn cloud_name(&self) -> &str {
        match self.cloud_provider.to_ascii_lowercase().as_str() {
            "aws" => "AWS",
            "gcp" => "Google Cloud",
            "azure" => "Microsoft Azure",
            "alicloud" => "Alibaba Cloud",
            _ => self.cloud_provider.as_str(),
        }
    }
}

/// Everything the checks judge.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct Facts {
    pub inputs: Inputs,
    /// `sts:GetCallerIdentity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Fact<Identity>>,
    /// `ec2:DescribeVpcEndpointServices` for the service name; `Ok(None)`: no
    /// such service in the region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Fact<Option<EndpointService>>>,
    /// `ec2:DescribeAvailabilityZones`: zone names and IDs of the region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zones: Option<Fact<Vec<Zone>>>,
    /// How the VPC under test was chosen; `None`: no VPC could be chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_choice: Option<VpcChoice>,
    /// Why no VPC could be chosen, when a call that would have named it
    /// failed (the region's endpoint listing, `--instance-id`'s
    /// `DescribeInstances`): the checks that need the VPC are `unknown`
    /// naming it, not `skip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_choice_error: Option<FactError>,
    /// The client (this instance, `--instance-id`, or `--client-ip`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<Fact<Client>>,
    /// `ec2:DescribeVpcs` of the VPC under test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc: Option<Fact<Vpc>>,
    /// `ec2:DescribeVpcAttribute enableDnsSupport`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_support: Option<Fact<bool>>,
    /// `ec2:DescribeVpcAttribute enableDnsHostnames`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_hostnames: Option<Fact<bool>>,
    /// `ec2:DescribeDhcpOptions` of the VPC's option set; `Ok(None)`: no set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dhcp_options: Option<Fact<Option<DhcpOptions>>>,
    /// `route53:ListHostedZonesByVPC`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosted_zones: Option<Fact<Vec<HostedZone>>>,
    /// `route53:GetHostedZone` of each hosted zone that covers the host:
    /// the VPCs it is associated with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosted_zone_vpcs: Option<Fact<Vec<ZoneVpcs>>>,
    /// `route53:ListResourceRecordSets` of each hosted zone that covers the
    /// host: the records that could answer it (named the host, under it, or
    /// a wildcard over it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosted_zone_records: Option<Fact<Vec<ZoneRecords>>>,
    /// `ec2:DescribeVpcEndpoints` of every endpoint in the VPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<Fact<Vec<Endpoint>>>,
    /// `ec2:DescribeSubnets` of every subnet in the VPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnets: Option<Fact<Vec<Subnet>>>,
    /// `ec2:DescribeNetworkInterfaces` of the endpoint's interfaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_interfaces: Option<Fact<Vec<NetworkInterface>>>,
    /// `ec2:DescribeSecurityGroups` of every group in the VPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_groups: Option<Fact<Vec<SecurityGroup>>>,
    /// `ec2:GetManagedPrefixListEntries` of the prefix lists that rules name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_lists: Option<Fact<Vec<PrefixList>>>,
    /// `ec2:DescribeNetworkAcls` of every network ACL in the VPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_acls: Option<Fact<Vec<NetworkAcl>>>,
    /// `route53resolver:ListResolverRuleAssociations` of the VPC, each rule
    /// read with `route53resolver:GetResolverRule`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolver_rules: Option<Fact<Vec<ResolverRule>>>,
    /// What the live probes (DNS, TCP, the MySQL greeting) saw from this
    /// machine, or why they did not run; `None`: a report made without them,
    /// or every probe check deselected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probes: Option<ProbeFacts>,
    // Keyed by `Need`, written as its IAM action (the slowest call, when a
    // need is called more than once); an action this version does not know
    // is dropped when a report is read.
    /// Milliseconds each call took, by IAM action.
    #[serde(default, deserialize_with = "known_calls")]
    #[schemars(with = "BTreeMap<String, u64>")]
    pub timings_ms: BTreeMap<Need, u64>,
}

impl Facts {
    /// Every call that failed, each error once per fact (both VPC attributes
    /// are one call each), in the order of the fields.
    pub fn errors(&self) -> Vec<&FactError> {
        fn err<T>(f: &Option<Fact<T>>) -> Option<&FactError> {
            f.as_ref().and_then(|f| f.as_ref().err())
        }
        [
            err(&self.identity),
            err(&self.service),
            err(&self.zones),
            self.vpc_choice_error.as_ref(),
            err(&self.client),
            err(&self.vpc),
            err(&self.dns_support),
            err(&self.dns_hostnames),
            err(&self.dhcp_options),
            err(&self.hosted_zones),
            err(&self.endpoints),
            err(&self.subnets),
            err(&self.endpoint_interfaces),
            err(&self.security_groups),
            err(&self.prefix_lists),
            err(&self.network_acls),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Identity {
    pub account: String,
    pub arn: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EndpointService {
    pub service_name: String,
    #[serde(default)]
    pub service_id: Option<String>,
    /// `Interface`, `GatewayLoadBalancer`, …
    #[serde(default)]
    pub service_type: Vec<String>,
    /// AZ names as the caller's account sees them.
    #[serde(default)]
    pub availability_zones: Vec<String>,
    #[serde(default)]
    pub private_dns_names: Vec<String>,
    #[serde(default)]
    pub owner: Option<String>,
    /// `PrivateDnsNameVerificationState`: `verified`, `pendingVerification`,
    /// `failed`. `None`: AWS did not say (or a report of an older tidbpe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_dns_name_verification_state: Option<String>,
    /// `AcceptanceRequired`: the owner accepts each endpoint (TiDB Cloud's
    /// exclusive model: after the endpoint ID is registered in its console).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acceptance_required: Option<bool>,
    /// `SupportedIpAddressTypes` (`ipv4`, `ipv6`); `None`: not reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_ip_address_types: Option<Vec<String>>,
    /// `ServiceRegion`: where the service lives (cross-region PrivateLink).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_region: Option<String>,
}

/// One availability zone: the name is per-account, the ID is global.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Zone {
    pub zone_name: String,
    pub zone_id: String,
}

fn known_calls<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<Need, u64>, D::Error> {
    let raw = BTreeMap::<String, u64>::deserialize(d)?;
    Ok(raw
        .into_iter()
        .filter_map(|(action, ms)| Need::from_action(&action).map(|n| (n, ms)))
        .collect())
}

/// How the VPC under test was chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct VpcChoice {
    pub vpc_id: String,
    /// `flag`, `imds`, `instance`, `endpoint`, `unique-endpoint`.
    #[schemars(with = "String")]
    pub source: VpcSource,
}

/// Where the VPC under test came from (serialized as in reports of v1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VpcSource {
    /// `--vpc-id`.
    Flag,
    /// This instance's metadata.
    Imds,
    /// `--instance-id`'s VPC.
    Instance,
    /// `--endpoint-id`'s VPC.
    Endpoint,
    /// The VPC of the only live endpoint for the service in the region.
    UniqueEndpoint,
}

impl VpcSource {
    /// The name a report gives it (`flag`, `imds`, `instance`, `endpoint`,
    /// `unique-endpoint`).
    pub fn as_str(self) -> &'static str {
        match self {
            VpcSource::Flag => "flag",
            VpcSource::Imds => "imds",
            VpcSource::Instance => "instance",
            VpcSource::Endpoint => "endpoint",
            VpcSource::UniqueEndpoint => "unique-endpoint",
        }
    }
}

/// Where the client's description came from (serialized as in reports of v1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientSource {
    /// This instance's metadata (IMDSv2).
    Imds,
    /// `--instance-id`, read with `ec2:DescribeInstances`.
    InstanceId,
    /// `--client-ip`: an address, nothing more (hence the default).
    #[default]
    ClientIp,
}

impl ClientSource {
    /// The name a report gives it (`imds`, `instance-id`, `client-ip`).
    pub fn as_str(self) -> &'static str {
        match self {
            ClientSource::Imds => "imds",
            ClientSource::InstanceId => "instance-id",
            ClientSource::ClientIp => "client-ip",
        }
    }

    /// Does the source name the client's security groups? (`--client-ip`
    /// names only an address.)
    pub fn knows_groups(self) -> bool {
        !matches!(self, ClientSource::ClientIp)
    }
}

/// The machine that must connect.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Client {
    /// `imds`, `instance-id` (DescribeInstances) or `client-ip`.
    #[schemars(with = "String")]
    pub source: ClientSource,
    #[serde(default)]
    pub instance_id: Option<String>,
    #[serde(default)]
    pub vpc_id: Option<String>,
    #[serde(default)]
    pub subnet_id: Option<String>,
    #[serde(default)]
    pub availability_zone: Option<String>,
    #[serde(default)]
    pub az_id: Option<String>,
    #[serde(default)]
    pub private_ip: Option<IpAddr>,
    #[serde(default)]
    pub security_group_ids: Vec<String>,
    /// The ports this machine's connections leave from
    /// (`/proc/sys/net/ipv4/ip_local_port_range`), read on the instance
    /// itself; `None` elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_port_range: Option<(u16, u16)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Vpc {
    pub vpc_id: String,
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub cidr_blocks: Vec<IpNet>,
    #[serde(default)]
    pub dhcp_options_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DhcpOptions {
    pub dhcp_options_id: String,
    /// Values of `domain-name-servers` (`AmazonProvidedDNS` or addresses).
    #[serde(default)]
    pub domain_name_servers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HostedZone {
    pub id: String,
    /// As Route 53 gives it, with or without the final dot.
    pub name: String,
    /// The AWS service that owns the zone, if any (it cannot be disassociated then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owning_service: Option<String>,
}

impl HostedZone {
    /// The zone's ID without the `/hostedzone/` prefix Route 53 sometimes adds.
    pub fn bare_id(&self) -> &str {
        self.id.trim_start_matches("/hostedzone/")
    }

    /// The zone's name in lower case, without the final dot.
    pub fn domain(&self) -> String {
        self.name.trim_end_matches('.').to_ascii_lowercase()
    }

    /// Does the zone answer for `host`: is it named the host or one of its
    /// parents?
    pub fn covers(&self, host: &str) -> bool {
        let zone = self.domain();
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        !zone.is_empty() && (host == zone || host.ends_with(&format!(".{zone}")))
    }
}

/// The VPCs one private hosted zone is associated with (`GetHostedZone`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ZoneVpcs {
    /// The zone's ID, bare (`Z0123…`).
    pub zone_id: String,
    #[serde(default)]
    pub vpcs: Vec<ZoneVpc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ZoneVpc {
    pub vpc_id: String,
    pub region: String,
}

/// Records of one hosted zone that bear on the host (`ListResourceRecordSets`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ZoneRecords {
    /// The zone's ID, bare (`Z0123…`).
    pub zone_id: String,
    #[serde(default)]
    pub records: Vec<DnsRecord>,
}

/// One Route 53 record set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DnsRecord {
    /// As Route 53 gives it: final dot, `\052` for a leading `*`.
    pub name: String,
    /// `A`, `AAAA`, `CNAME`, `SOA`, `NS`, …
    pub record_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
    #[serde(default)]
    pub values: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias_target: Option<AliasTarget>,
    /// Set for weighted, latency, failover… records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_identifier: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AliasTarget {
    pub dns_name: String,
    pub hosted_zone_id: String,
    #[serde(default)]
    pub evaluate_target_health: bool,
}

impl DnsRecord {
    /// The record's name in lower case, without the final dot, `*` decoded.
    pub fn domain(&self) -> String {
        self.name
            .trim_end_matches('.')
            .replace("\\052", "*")
            .to_ascii_lowercase()
    }

    /// Does Route 53 answer `host` from this record: named exactly the host,
    /// or a wildcard (`*.parent`) over it?
    pub fn answers(&self, host: &str) -> bool {
        let name = self.domain();
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        match name.strip_prefix("*.") {
            Some(parent) => host.ends_with(&format!(".{parent}")),
            None => name == host,
        }
    }

    /// Does the record bear on `host`: it answers it, or it is named under it?
    pub fn bears_on(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.answers(&host) || self.domain().ends_with(&format!(".{host}"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Endpoint {
    pub endpoint_id: String,
    pub vpc_id: String,
    pub service_name: String,
    /// `Interface`, `Gateway`, …
    pub endpoint_type: String,
    /// As AWS sends it (`available`, `pendingAcceptance`, …; any case).
    pub state: String,
    pub private_dns_enabled: bool,
    #[serde(default)]
    pub subnet_ids: Vec<String>,
    #[serde(default)]
    pub security_group_ids: Vec<String>,
    #[serde(default)]
    pub network_interface_ids: Vec<String>,
    /// `IpAddressType`: `ipv4`, `dualstack`, `ipv6`; `None`: not reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address_type: Option<String>,
    /// The endpoint's DNS names (`DnsEntries`): regional, zonal, and the
    /// private DNS name when it is on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_entries: Vec<DnsEntry>,
}

/// One DNS name of an endpoint, with the Route 53 zone that serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DnsEntry {
    pub dns_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosted_zone_id: Option<String>,
}

impl Endpoint {
    /// The endpoint's regional DNS name
    /// (`vpce-0a1b…-x1y2z3.vpce-svc-….us-east-1.vpce.amazonaws.com`): the
    /// entry under `vpce.amazonaws.com` whose first label is the endpoint ID
    /// and one suffix (a zonal name adds the AZ: `…-x1y2z3-us-east-1a`).
    pub fn regional_dns_name(&self) -> Option<&str> {
        self.dns_entries
            .iter()
            .map(|e| e.dns_name.trim_end_matches('.'))
            .find(|name| {
                let Some((first, rest)) = name.split_once('.') else {
                    return false;
                };
                rest.ends_with(".vpce.amazonaws.com")
                    && first
                        .strip_prefix(&format!("{}-", self.endpoint_id))
                        .is_some_and(|suffix| {
                            !suffix.is_empty() && suffix.chars().all(|c| c.is_ascii_alphanumeric())
                        })
            })
    }

    /// Was the endpoint deleted? AWS keeps listing it for a while; it is not
    /// an endpoint any more.
    pub fn is_deleted(&self) -> bool {
        self.state.eq_ignore_ascii_case("deleted")
    }

    /// Is the endpoint gone (or going) for good: a state it will never carry
    /// traffic from again?
    pub fn is_gone(&self) -> bool {
        ["deleted", "deleting", "rejected", "failed", "expired"]
            .iter()
            .any(|s| self.state.eq_ignore_ascii_case(s))
    }

    /// Is the endpoint `available` (any case, as AWS and moto differ)?
    pub fn is_available(&self) -> bool {
        self.state.eq_ignore_ascii_case("available")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Subnet {
    pub subnet_id: String,
    pub vpc_id: String,
    pub availability_zone: String,
    pub az_id: String,
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub cidr_block: Option<IpNet>,
    /// `Ipv6Native`: an IPv6-only subnet (no IPv4 addresses at all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_native: Option<bool>,
    /// The subnet's associated IPv6 CIDR blocks (dual stack when it has an
    /// IPv4 CIDR too).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<String>")]
    pub ipv6_cidr_blocks: Vec<IpNet>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NetworkInterface {
    pub network_interface_id: String,
    pub subnet_id: String,
    #[serde(default)]
    pub availability_zone: Option<String>,
    #[serde(default)]
    pub private_ip: Option<IpAddr>,
    #[serde(default)]
    pub security_group_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SecurityGroup {
    pub group_id: String,
    #[serde(default)]
    pub group_name: String,
    #[serde(default)]
    pub vpc_id: Option<String>,
    #[serde(default)]
    pub ingress: Vec<SgRule>,
    #[serde(default)]
    pub egress: Vec<SgRule>,
}

/// One security-group rule with one peer, as `DescribeSecurityGroupRules`
/// lists them (a grouped `IpPermission` is split into one rule per peer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SgRule {
    /// `-1` (all), `tcp`, `udp`, `icmp`, `icmpv6` or a protocol number.
    pub protocol: String,
    /// Port range, inclusive; `None` for all ports (or ICMP type/code).
    #[serde(default)]
    pub from_port: Option<i32>,
    #[serde(default)]
    pub to_port: Option<i32>,
    pub peer: SgPeer,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SgPeer {
    Cidr(#[schemars(with = "String")] IpNet),
    PrefixList(String),
    Group(String),
}

/// A customer-managed prefix list and its entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PrefixList {
    pub prefix_list_id: String,
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub cidrs: Vec<IpNet>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NetworkAcl {
    pub network_acl_id: String,
    #[serde(default)]
    pub is_default: bool,
    /// Subnets associated with this ACL.
    #[serde(default)]
    pub subnet_ids: Vec<String>,
    #[serde(default)]
    pub entries: Vec<AclEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AclEntry {
    /// 1–32766; the implicit final deny is 32767 (`*`).
    pub rule_number: i32,
    pub egress: bool,
    /// `-1` (all), `6` (tcp), `17` (udp), … as the API gives it.
    pub protocol: String,
    pub allow: bool,
    #[schemars(with = "String")]
    pub cidr: IpNet,
    /// Port range, inclusive; `None`: all ports.
    #[serde(default)]
    pub port_range: Option<(u16, u16)>,
}

/// A Route 53 Resolver rule associated with the VPC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ResolverRule {
    /// `rslvr-rr-…`.
    pub rule_id: String,
    /// As Resolver gives it, usually with the final dot (`tidbcloud.com.`,
    /// `.` for every name).
    pub domain_name: String,
    /// `FORWARD`, `SYSTEM` or `RECURSIVE`.
    pub rule_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Where a FORWARD rule sends queries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<String>")]
    pub target_ips: Vec<std::net::SocketAddr>,
    /// The outbound endpoint that forwards (`rslvr-out-…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolver_endpoint_id: Option<String>,
    /// The owner's account (a rule shared through AWS RAM has another).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    /// `rslvr-rrassoc-…`: the association with the VPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub association_id: Option<String>,
    /// `COMPLETE`, `CREATING`, `DELETING`, `FAILED`, `OVERRIDDEN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub association_status: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sources serialize to the strings reports of v1 carry, and `as_str`
    /// says the same.
    #[test]
    fn sources_keep_their_v1_names() {
        for (source, name) in [
            (VpcSource::Flag, "flag"),
            (VpcSource::Imds, "imds"),
            (VpcSource::Instance, "instance"),
            (VpcSource::Endpoint, "endpoint"),
            (VpcSource::UniqueEndpoint, "unique-endpoint"),
        ] {
            assert_eq!(serde_json::to_value(source).unwrap(), name);
            assert_eq!(source.as_str(), name);
            assert_eq!(
                serde_json::from_value::<VpcSource>(name.into()).unwrap(),
                source
            );
        }
        for (source, name) in [
            (ClientSource::Imds, "imds"),
            (ClientSource::InstanceId, "instance-id"),
            (ClientSource::ClientIp, "client-ip"),
        ] {
            assert_eq!(serde_json::to_value(source).unwrap(), name);
            assert_eq!(source.as_str(), name);
            assert_eq!(
                serde_json::from_value::<ClientSource>(name.into()).unwrap(),
                source
            );
        }
        assert!(serde_json::from_value::<ClientSource>("instance".into()).is_err());
    }

    /// Timings are read by action; an action this version does not know is
    /// dropped, not an error.
    #[test]
    fn timings_read_by_action() {
        let facts: Facts = serde_json::from_value(serde_json::json!({
            "inputs": {"region": "us-east-1", "host": "h", "port": 4000},
            "timings_ms": {"ec2:DescribeVpcs": 12, "ec2:DescribeSomethingNew": 3}
        }))
        .unwrap();
        assert_eq!(facts.timings_ms, BTreeMap::from([(Need::Vpc, 12)]));
        let back = serde_json::to_value(&facts).unwrap();
        assert_eq!(
            back["timings_ms"],
            serde_json::json!({"ec2:DescribeVpcs": 12})
        );
    }

    #[test]
    fn gone_and_available_states_in_any_case() {
        let mut e = crate::testing::endpoint("vpce-00000001", "Available", true, &[]);
        assert!(e.is_available() && !e.is_gone());
        for state in ["deleted", "Deleting", "rejected", "FAILED", "expired"] {
            e.state = state.into();
            assert!(e.is_gone() && !e.is_available(), "{state}");
        }
        for state in ["pending", "pendingAcceptance"] {
            e.state = state.into();
            assert!(!e.is_gone() && !e.is_available(), "{state}");
        }
    }
}
