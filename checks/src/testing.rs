//! Test fixtures for every crate's tests (`cfg(test)` here, the `testing`
//! feature for the binary's tests): one healthy world and the helpers that
//! break it one fact at a time.
//!
//! The world: vpc-0a1b2c3d (10.0.0.0/16) in us-east-1 with subnets in
//! use1-az6 (a), use1-az1 (b) and use1-az2 (c); the service is offered in
//! use1-az1 and use1-az2. [`healthy`] adds the endpoint vpce-00000001
//! (subnet b, interface 10.0.1.10, group sg-0000000e admitting members of
//! sg-0000000c on 4000), the client i-0000000d (10.0.10.4 in its own
//! subnet-0000000d, use1-az1, group sg-0000000c with all egress), and a
//! default network ACL that allows everything, [`probes`]: what the live
//! probes see from the client (the VPC resolver 10.0.0.2 answers 10.0.1.10,
//! which connects and greets as TiDB), and the ACTIVE cluster
//! `--cluster-json` described ([`cluster`]). [`world`] is the same VPC
//! before any of that: no client, no groups, no ACLs, no probes, no cluster.

use crate::check::{Finding, Need, Status};
use crate::facts::{
    AclEntry, Client, ClientSource, Cluster, DhcpOptions, DnsEntry, Endpoint, EndpointService,
    FactError, FactErrorKind, Facts, Identity, Inputs, NetworkAcl, NetworkInterface, SecurityGroup,
    SgPeer, SgRule, Subnet, Vpc, VpcChoice, VpcSource, Zone,
};
use crate::probe_facts::{
    AddressProbe, AfterGreeting, DnsAnswer, DnsLookup, DnsProbe, DnsResolverUsed, FileContent,
    FileFact, Greeting, GreetingRead, Handshake, ProbeFacts, ResolvConf, ResolverPath,
    ResolverSource, TcpConnect, TcpOutcome, Vantage, VantageReason, CLIENT_PLUGIN_AUTH,
    CLIENT_PROTOCOL_41, CLIENT_SSL,
};

pub const SVC: &str = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0";
pub const HOST: &str = "gateway01-privatelink.us-east-1.prod.aws.tidbcloud.com";
pub const VPC: &str = "vpc-0a1b2c3d";
/// The endpoint of [`healthy`], its group and its interface's address.
pub const ENDPOINT: &str = "vpce-00000001";
pub const ENDPOINT_SG: &str = "sg-0000000e";
pub const ENDPOINT_SUBNET: &str = "subnet-0000000b";
/// The client of [`healthy`], its group and its subnet.
pub const CLIENT_SG: &str = "sg-0000000c";
pub const CLIENT_SUBNET: &str = "subnet-0000000d";

/// An interface endpoint for [`SVC`] in [`VPC`] with group sg-00000001.
pub fn endpoint(id: &str, state: &str, private_dns: bool, subnets: &[&str]) -> Endpoint {
    Endpoint {
        endpoint_id: id.into(),
        vpc_id: VPC.into(),
        service_name: SVC.into(),
        endpoint_type: "Interface".into(),
        state: state.into(),
        private_dns_enabled: private_dns,
        subnet_ids: subnets.iter().map(|s| s.to_string()).collect(),
        security_group_ids: vec!["sg-00000001".into()],
        network_interface_ids: vec![],
        ip_address_type: None,
        dns_entries: vec![],
    }
}

pub fn subnet(id: &str, az_name: &str, az_id: &str) -> Subnet {
    Subnet {
        subnet_id: id.into(),
        vpc_id: VPC.into(),
        availability_zone: az_name.into(),
        az_id: az_id.into(),
        cidr_block: None,
        ipv6_native: None,
        ipv6_cidr_blocks: vec![],
    }
}

pub fn zone(name: &str, id: &str) -> Zone {
    Zone {
        zone_name: name.into(),
        zone_id: id.into(),
    }
}

/// The VPC with its subnets, the service and the zones, and `endpoints`.
pub fn world(endpoints: Vec<Endpoint>) -> Facts {
    Facts {
        inputs: Inputs {
            service_name: Some(SVC.into()),
            host: Some(HOST.into()),
            region: "us-east-1".into(),
            port: 4000,
            ..Inputs::default()
        },
        vpc_choice: Some(VpcChoice {
            vpc_id: VPC.into(),
            source: VpcSource::Flag,
        }),
        service: Some(Ok(Some(EndpointService {
            service_name: SVC.into(),
            service_id: None,
            service_type: vec!["Interface".into()],
            availability_zones: vec!["us-east-1b".into(), "us-east-1c".into()],
            private_dns_names: vec![HOST.into()],
            owner: None,
            private_dns_name_verification_state: Some("verified".into()),
            acceptance_required: Some(false),
            supported_ip_address_types: Some(vec!["ipv4".into()]),
            service_region: Some("us-east-1".into()),
        }))),
        zones: Some(Ok(vec![
            zone("us-east-1a", "use1-az6"),
            zone("us-east-1b", "use1-az1"),
            zone("us-east-1c", "use1-az2"),
        ])),
        endpoints: Some(Ok(endpoints)),
        subnets: Some(Ok(vec![
            subnet("subnet-0000000a", "us-east-1a", "use1-az6"),
            subnet(ENDPOINT_SUBNET, "us-east-1b", "use1-az1"),
            subnet("subnet-0000000c", "us-east-1c", "use1-az2"),
        ])),
        ..Facts::default()
    }
}

/// A security-group rule; `ports` inclusive, `None` for all.
pub fn sg_rule(protocol: &str, ports: Option<(i32, i32)>, peer: SgPeer) -> SgRule {
    SgRule {
        protocol: protocol.into(),
        from_port: ports.map(|p| p.0),
        to_port: ports.map(|p| p.1),
        peer,
        description: None,
    }
}

pub fn cidr(s: &str) -> SgPeer {
    SgPeer::Cidr(s.parse().unwrap())
}

/// A network ACL; with no subnets it is the VPC's default.
pub fn acl(id: &str, subnets: &[&str], entries: Vec<AclEntry>) -> NetworkAcl {
    NetworkAcl {
        network_acl_id: id.into(),
        is_default: subnets.is_empty(),
        subnet_ids: subnets.iter().map(|s| s.to_string()).collect(),
        entries,
    }
}

/// An ACL entry for 0.0.0.0/0.
pub fn acl_entry(
    number: i32,
    egress: bool,
    allow: bool,
    protocol: &str,
    ports: Option<(u16, u16)>,
) -> AclEntry {
    AclEntry {
        rule_number: number,
        egress,
        protocol: protocol.into(),
        allow,
        cidr: "0.0.0.0/0".parse().unwrap(),
        port_range: ports,
    }
}

/// Rule 100 allows everything, both ways.
pub fn allow_all() -> Vec<AclEntry> {
    vec![
        acl_entry(100, false, true, "-1", None),
        acl_entry(100, true, true, "-1", None),
    ]
}

/// The client [`healthy`] describes: i-0000000d from `--instance-id`.
pub fn client() -> Client {
    Client {
        source: ClientSource::InstanceId,
        instance_id: Some("i-0000000d".into()),
        vpc_id: Some(VPC.into()),
        subnet_id: Some(CLIENT_SUBNET.into()),
        availability_zone: Some("us-east-1b".into()),
        az_id: Some("use1-az1".into()),
        private_ip: Some("10.0.10.4".parse().unwrap()),
        security_group_ids: vec![CLIENT_SG.into()],
        local_port_range: None,
    }
}

/// The cluster [`healthy`] was described with (`--cluster-json`): ACTIVE,
/// on AWS, with the world's host, port and service (no AZ list, as a
/// description may lack one).
pub fn cluster() -> Cluster {
    Cluster {
        cluster_id: Some("10058425682284910921".into()),
        display_name: Some("orders-prod".into()),
        state: Some("ACTIVE".into()),
        cloud_provider: "aws".into(),
        region: "us-east-1".into(),
        host: Some(HOST.into()),
        port: Some(4000),
        aws_private_endpoint: true,
        service_name: Some(SVC.into()),
        az_ids: vec![],
    }
}

/// Every fact gathered and healthy: every implemented check passes.
pub fn healthy() -> Facts {
    let mut endpoint = endpoint(ENDPOINT, "available", true, &[ENDPOINT_SUBNET]);
    endpoint.security_group_ids = vec![ENDPOINT_SG.into()];
    endpoint.network_interface_ids = vec!["eni-0000000b".into()];
    endpoint.ip_address_type = Some("ipv4".into());
    endpoint.dns_entries = vec![
        DnsEntry {
            dns_name: format!("{ENDPOINT}-a1b2c3d4.vpce-svc-0123456789abcdef0.us-east-1.vpce.amazonaws.com"),
            hosted_zone_id: Some("Z7HUB22UULQXV".into()),
        },
        DnsEntry {
            dns_name: format!("{ENDPOINT}-a1b2c3d4-us-east-1b.vpce-svc-0123456789abcdef0.us-east-1.vpce.amazonaws.com"),
            hosted_zone_id: Some("Z7HUB22UULQXV".into()),
        },
        DnsEntry {
            dns_name: HOST.into(),
            hosted_zone_id: Some("ZPRIVATEDNS00".into()),
        },
    ];
    let mut facts = world(vec![endpoint]);
    facts.inputs.cluster = Some(cluster());
    if let Some(Ok(subnets)) = &mut facts.subnets {
        let mut client = subnet(CLIENT_SUBNET, "us-east-1b", "use1-az1");
        client.cidr_block = Some("10.0.10.0/24".parse().unwrap());
        subnets.push(client);
    }
    Facts {
        identity: Some(Ok(Identity {
            account: "123456789012".into(),
            arn: "arn:aws:iam::123456789012:user/me".into(),
        })),
        vpc: Some(Ok(Vpc {
            vpc_id: VPC.into(),
            cidr_blocks: vec!["10.0.0.0/16".parse().unwrap()],
            dhcp_options_id: Some("dopt-00000001".into()),
        })),
        dns_support: Some(Ok(true)),
        dns_hostnames: Some(Ok(true)),
        dhcp_options: Some(Ok(Some(DhcpOptions {
            dhcp_options_id: "dopt-00000001".into(),
            domain_name_servers: vec!["AmazonProvidedDNS".into()],
        }))),
        hosted_zones: Some(Ok(vec![])),
        hosted_zone_vpcs: Some(Ok(vec![])),
        hosted_zone_records: Some(Ok(vec![])),
        client: Some(Ok(client())),
        endpoint_interfaces: Some(Ok(vec![NetworkInterface {
            network_interface_id: "eni-0000000b".into(),
            subnet_id: ENDPOINT_SUBNET.into(),
            availability_zone: Some("us-east-1b".into()),
            private_ip: Some("10.0.1.10".parse().unwrap()),
            security_group_ids: vec![ENDPOINT_SG.into()],
        }])),
        security_groups: Some(Ok(vec![
            SecurityGroup {
                group_id: ENDPOINT_SG.into(),
                group_name: "endpoint".into(),
                vpc_id: Some(VPC.into()),
                ingress: vec![sg_rule(
                    "tcp",
                    Some((4000, 4000)),
                    SgPeer::Group(CLIENT_SG.into()),
                )],
                egress: vec![],
            },
            SecurityGroup {
                group_id: CLIENT_SG.into(),
                group_name: "client".into(),
                vpc_id: Some(VPC.into()),
                ingress: vec![],
                egress: vec![sg_rule("-1", None, cidr("0.0.0.0/0"))],
            },
        ])),
        prefix_lists: Some(Ok(vec![])),
        network_acls: Some(Ok(vec![acl("acl-00000001", &[], allow_all())])),
        resolver_rules: Some(Ok(vec![])),
        probes: Some(probes()),
        ..facts
    }
}

/// The probes of [`healthy`], from the client inside the VPC: resolv.conf
/// names the VPC resolver 10.0.0.2, which answers the endpoint's 10.0.1.10
/// (A; no AAAA), and 10.0.1.10:4000 connects and greets as TiDB with TLS.
pub fn probes() -> ProbeFacts {
    let ip = "10.0.1.10".parse().expect("an address");
    ProbeFacts {
        vantage: Vantage {
            probed: true,
            reason: VantageReason::InsideVpc { vpc_id: VPC.into() },
        },
        resolver_path: Some(ResolverPath {
            resolv_conf: FileFact {
                path: "/etc/resolv.conf".into(),
                content: FileContent::Read(ResolvConf {
                    nameservers: vec!["10.0.0.2".parse().expect("an address")],
                    search: vec!["ec2.internal".into()],
                    options: vec![],
                }),
            },
            systemd_resolved: None,
            dns_server: None,
            hosts: FileFact {
                path: "/etc/hosts".into(),
                content: FileContent::Read(vec![]),
            },
        }),
        dns: Some(DnsProbe {
            name: format!("{HOST}."),
            resolver: DnsResolverUsed {
                source: ResolverSource::System,
                servers: vec!["10.0.0.2:53".parse().expect("a socket address")],
                config_error: None,
            },
            a: DnsLookup {
                ms: 2,
                answer: DnsAnswer::Addresses {
                    addresses: vec![ip],
                    cnames: vec![],
                },
            },
            aaaa: DnsLookup {
                ms: 2,
                answer: DnsAnswer::NoRecords,
            },
        }),
        addresses: vec![AddressProbe {
            address: std::net::SocketAddr::new(ip, 4000),
            connect: TcpConnect {
                ms: 1,
                outcome: TcpOutcome::Connected,
            },
            greeting: Some(GreetingRead {
                ms: 1,
                greeting: Greeting::Handshake(Handshake {
                    protocol: 10,
                    server_version: "8.0.11-TiDB-v7.5.2-serverless".into(),
                    connection_id: 42,
                    capabilities: CLIENT_SSL | CLIENT_PROTOCOL_41 | CLIENT_PLUGIN_AUTH,
                    tls_offered: true,
                    charset: Some(46),
                    status_flags: Some(2),
                    auth_plugin: Some("mysql_native_password".into()),
                    after: AfterGreeting::Waited,
                }),
            }),
        }],
    }
}

/// The probe facts of `facts`, to change.
pub fn probes_mut(facts: &mut Facts) -> &mut ProbeFacts {
    match &mut facts.probes {
        Some(p) => p,
        None => panic!("the fixture has no probe facts"),
    }
}

/// The client of `facts`, to change (panics when there is none: a test bug).
pub fn client_mut(facts: &mut Facts) -> &mut Client {
    match &mut facts.client {
        Some(Ok(c)) => c,
        _ => panic!("the fixture has no client"),
    }
}

/// The first endpoint of `facts`, to change.
pub fn endpoint_mut(facts: &mut Facts) -> &mut Endpoint {
    match &mut facts.endpoints {
        Some(Ok(eps)) if !eps.is_empty() => &mut eps[0],
        _ => panic!("the fixture has no endpoint"),
    }
}

/// Replace a security group's ingress and/or egress rules.
pub fn set_group(
    facts: &mut Facts,
    id: &str,
    ingress: Option<Vec<SgRule>>,
    egress: Option<Vec<SgRule>>,
) {
    let Some(Ok(groups)) = &mut facts.security_groups else {
        panic!("the fixture has no security groups");
    };
    let g = groups.iter_mut().find(|g| g.group_id == id).unwrap();
    if let Some(i) = ingress {
        g.ingress = i;
    }
    if let Some(e) = egress {
        g.egress = e;
    }
}

/// The error of a call that `AccessDenied` refused.
pub fn denied(need: Need) -> FactError {
    let mut e = FactError::of_call(need, FactErrorKind::AccessDenied, "denied");
    e.code = Some("UnauthorizedOperation".into());
    e
}

/// Make the call behind one need fail in `facts` with `err`.
pub fn fail_need(facts: &mut Facts, need: Need, err: FactError) {
    let e = err;
    match need {
        Need::Identity => facts.identity = Some(Err(e)),
        Need::Service => facts.service = Some(Err(e)),
        Need::Zones => facts.zones = Some(Err(e)),
        Need::Instance => facts.client = Some(Err(e)),
        Need::Vpc => facts.vpc = Some(Err(e)),
        Need::VpcAttributes => {
            facts.dns_support = Some(Err(e.clone()));
            facts.dns_hostnames = Some(Err(e));
        }
        Need::DhcpOptions => facts.dhcp_options = Some(Err(e)),
        Need::HostedZones => facts.hosted_zones = Some(Err(e)),
        Need::HostedZoneVpcs => facts.hosted_zone_vpcs = Some(Err(e)),
        Need::HostedZoneRecords => facts.hosted_zone_records = Some(Err(e)),
        Need::Endpoints => facts.endpoints = Some(Err(e)),
        Need::Subnets => facts.subnets = Some(Err(e)),
        Need::NetworkInterfaces => facts.endpoint_interfaces = Some(Err(e)),
        Need::SecurityGroups => facts.security_groups = Some(Err(e)),
        Need::PrefixLists => facts.prefix_lists = Some(Err(e)),
        Need::NetworkAcls => facts.network_acls = Some(Err(e)),
        Need::ResolverRuleAssociations | Need::ResolverRules => facts.resolver_rules = Some(Err(e)),
    }
}

/// Forget the fact behind one need, as when its call is not made.
pub fn forget_need(facts: &mut Facts, need: Need) {
    match need {
        Need::Identity => facts.identity = None,
        Need::Service => facts.service = None,
        Need::Zones => facts.zones = None,
        Need::Instance => facts.client = None,
        Need::Vpc => facts.vpc = None,
        Need::VpcAttributes => {
            facts.dns_support = None;
            facts.dns_hostnames = None;
        }
        Need::DhcpOptions => facts.dhcp_options = None,
        Need::HostedZones => facts.hosted_zones = None,
        Need::HostedZoneVpcs => facts.hosted_zone_vpcs = None,
        Need::HostedZoneRecords => facts.hosted_zone_records = None,
        Need::Endpoints => facts.endpoints = None,
        Need::Subnets => facts.subnets = None,
        Need::NetworkInterfaces => facts.endpoint_interfaces = None,
        Need::SecurityGroups => facts.security_groups = None,
        Need::PrefixLists => facts.prefix_lists = None,
        Need::NetworkAcls => facts.network_acls = None,
        Need::ResolverRuleAssociations | Need::ResolverRules => facts.resolver_rules = None,
    }
}

/// Deny the call behind one need in `facts`.
pub fn deny(facts: &mut Facts, need: Need) {
    fail_need(facts, need, denied(need));
}

/// One row of a family's table of fail cases: a change to [`healthy`] that
/// must give check `id` the verdict `expect` (`Fail`; `Warn` for a check
/// whose worst verdict is a warning).
pub struct FailCase {
    pub id: &'static str,
    pub name: &'static str,
    pub expect: Status,
    pub mutate: fn(&mut Facts),
}

impl FailCase {
    /// The healthy world with this case's change.
    pub fn facts(&self) -> Facts {
        let mut facts = healthy();
        (self.mutate)(&mut facts);
        facts
    }

    /// Run the case's check on its facts.
    pub fn run(&self) -> Finding {
        match crate::catalog::find(self.id) {
            Some(check) => check.run(&self.facts()),
            None => panic!("fail case {:?} names no check {}", self.name, self.id),
        }
    }
}

/// Every case gives its check the expected verdict.
pub fn assert_fail_cases(cases: &[FailCase]) {
    for case in cases {
        let finding = case.run();
        assert_eq!(
            finding.status, case.expect,
            "{} {}: {}",
            case.id, case.name, finding.summary
        );
    }
}
