//! What the live probes saw from where the doctor ran: the DNS answers for
//! the host, the resolver path of this machine, a TCP connect to every
//! address and the server's first packet, and why the probes ran at all.
//!
//! Plain data, like [`crate::facts`]: `gather::probe` fills it, the checks
//! DNS001–DNS003, NET001, NET002 and TDB002 judge it, and the report carries
//! it so `tidbpe analyze` can judge it again. No I/O here; the few methods are
//! pure readings of the data that more than one check needs.
//!
//! Every outcome that needs a different fix is its own variant: NXDOMAIN is
//! not "no records", a dropped SYN is not a refused one, an ERR packet is not
//! garbage.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::IpNet;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `CLIENT_SSL`: the server can switch the connection to TLS.
pub const CLIENT_SSL: u32 = 0x0000_0800;
/// `CLIENT_PROTOCOL_41`: the 4.1 protocol (SQL states in ERR packets).
pub const CLIENT_PROTOCOL_41: u32 = 0x0000_0200;
/// `CLIENT_PLUGIN_AUTH`: the greeting names its authentication plugin.
pub const CLIENT_PLUGIN_AUTH: u32 = 0x0008_0000;

/// systemd-resolved's stub listener: when `/etc/resolv.conf` names it, the
/// servers that matter are systemd-resolved's upstreams.
pub const SYSTEMD_RESOLVED_STUB: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 53));
/// The Amazon-provided resolver's link-local IPv4 address, in every VPC.
pub const VPC_RESOLVER_V4: IpAddr = IpAddr::V4(Ipv4Addr::new(169, 254, 169, 253));
/// The Amazon-provided resolver's IPv6 address (Nitro instances).
pub const VPC_RESOLVER_V6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x253));

/// The checks that judge the probe facts: when `--only` / `--skip` leave
/// none of them, nothing is probed (a catalog test keeps the list whole).
pub const PROBE_CHECKS: &[&str] = &["DNS001", "DNS002", "DNS003", "NET001", "NET002", "TDB002"];

/// Everything the probes produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProbeFacts {
    /// Why the probes ran, or why not.
    pub vantage: Vantage,
    /// How this machine resolves names; `None`: not probed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolver_path: Option<ResolverPath>,
    /// The DNS answers for the host; `None`: not probed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<DnsProbe>,
    /// One entry per address probed: the TCP connect, then the greeting.
    #[serde(default)]
    pub addresses: Vec<AddressProbe>,
}

// ---------------------------------------------------------------- vantage

/// Whether the probes ran, and why: they mean something only from where
/// the client stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Vantage {
    pub probed: bool,
    pub reason: VantageReason,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum VantageReason {
    /// `--probe`: the user says this machine stands where the client does
    /// (peered VPC, VPN, a container without IMDS).
    ProbeFlag,
    /// `--no-probe`.
    NoProbeFlag,
    /// IMDS: this instance is in the VPC under test.
    InsideVpc { vpc_id: String },
    /// IMDS: this instance is in another VPC than the one under test.
    OtherVpc {
        instance_vpc_id: String,
        vpc_id: String,
    },
    /// IMDS did not answer (not an EC2 instance, or IMDS is off).
    NotAnInstance {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        vpc_id: Option<String>,
        /// Why IMDS gave no VPC.
        detail: String,
    },
}

impl Vantage {
    /// Decide whether to probe: a flag wins; otherwise only an instance
    /// inside the VPC under test probes (`vpc_under_test` `None`: the VPC is
    /// the instance's own, as discovery defaults to it).
    /// `instance_vpc`: the VPC IMDS names, or why IMDS named none.
    pub fn decide(
        flag: Option<bool>,
        instance_vpc: Result<&str, &str>,
        vpc_under_test: Option<&str>,
    ) -> Vantage {
        let (probed, reason) = match (flag, instance_vpc, vpc_under_test) {
            (Some(true), _, _) => (true, VantageReason::ProbeFlag),
            (Some(false), _, _) => (false, VantageReason::NoProbeFlag),
            (None, Err(detail), vpc) => (
                false,
                VantageReason::NotAnInstance {
                    vpc_id: vpc.map(str::to_string),
                    detail: detail.to_string(),
                },
            ),
            (None, Ok(mine), Some(target)) if mine != target => (
                false,
                VantageReason::OtherVpc {
                    instance_vpc_id: mine.to_string(),
                    vpc_id: target.to_string(),
                },
            ),
            (None, Ok(mine), _) => (
                true,
                VantageReason::InsideVpc {
                    vpc_id: mine.to_string(),
                },
            ),
        };
        Vantage { probed, reason }
    }

    /// One line: why the probes ran or not ("not running inside vpc-…").
    pub fn summary(&self) -> String {
        match &self.reason {
            VantageReason::ProbeFlag => "probed from this machine (--probe)".to_string(),
            VantageReason::NoProbeFlag => "probes turned off (--no-probe)".to_string(),
            VantageReason::InsideVpc { vpc_id } => {
                format!("probed from this instance, inside {vpc_id}")
            }
            VantageReason::OtherVpc {
                instance_vpc_id,
                vpc_id,
            } => format!("not running inside {vpc_id}: this instance is in {instance_vpc_id}"),
            VantageReason::NotAnInstance { vpc_id, detail } => format!(
                "not running inside {}: {detail}",
                vpc_id.as_deref().unwrap_or("the VPC under test")
            ),
        }
    }
}

// ---------------------------------------------------------- resolver path

/// How this machine resolves names, read from its files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ResolverPath {
    /// `/etc/resolv.conf`.
    pub resolv_conf: FileFact<ResolvConf>,
    /// systemd-resolved's upstream servers (`/run/systemd/resolve/resolv.conf`),
    /// read only when `/etc/resolv.conf` names the stub 127.0.0.53.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd_resolved: Option<FileFact<ResolvConf>>,
    /// `--dns-server`: the probes asked it instead of the system's servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_server: Option<SocketAddr>,
    /// The lines of `/etc/hosts` that name the host.
    pub hosts: FileFact<Vec<HostsEntry>>,
}

impl ResolverPath {
    /// The servers this machine's DNS queries end up at: systemd-resolved's
    /// upstreams when the stub is configured and they could be read, else
    /// what `/etc/resolv.conf` names. Empty when neither file could be read.
    pub fn system_servers(&self) -> Vec<IpAddr> {
        let FileContent::Read(conf) = &self.resolv_conf.content else {
            return vec![];
        };
        if conf.nameservers.contains(&SYSTEMD_RESOLVED_STUB) {
            if let Some(FileFact {
                content: FileContent::Read(upstream),
                ..
            }) = &self.systemd_resolved
            {
                return upstream.nameservers.clone();
            }
        }
        conf.nameservers.clone()
    }

    /// Addresses `/etc/hosts` gives the host (the C library answers from
    /// there before asking DNS).
    pub fn pinned(&self) -> Vec<IpAddr> {
        match &self.hosts.content {
            FileContent::Read(entries) => entries.iter().map(|e| e.address).collect(),
            _ => vec![],
        }
    }
}

/// A file read for the probes, with the path it was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FileFact<T> {
    pub path: String,
    pub content: FileContent<T>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FileContent<T> {
    Read(T),
    /// The file does not exist (no resolv.conf: the C library asks 127.0.0.1).
    Missing,
    /// It exists but could not be read.
    Unreadable {
        error: String,
    },
}

/// The parts of a resolv.conf that decide where queries go.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ResolvConf {
    /// `nameserver` lines, in order (an IPv6 zone `%eth0` is dropped).
    #[serde(default)]
    pub nameservers: Vec<IpAddr>,
    /// The last `search` or `domain` line's domains.
    #[serde(default)]
    pub search: Vec<String>,
    /// `options` (`timeout:2`, `attempts:3`, `edns0`, …).
    #[serde(default)]
    pub options: Vec<String>,
}

/// One line of a hosts file that names the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HostsEntry {
    /// 1-based line number.
    pub line: u32,
    pub address: IpAddr,
    /// Every name on the line (the host among them).
    pub names: Vec<String>,
}

/// The VPC resolver's addresses for a VPC: 169.254.169.253, fd00:ec2::253,
/// and the base of each IPv4 CIDR plus two.
pub fn vpc_resolver_addresses(vpc_cidrs: &[IpNet]) -> Vec<IpAddr> {
    let mut out = vec![VPC_RESOLVER_V4, VPC_RESOLVER_V6];
    for cidr in vpc_cidrs {
        if let IpNet::V4(net) = cidr {
            let base = u32::from(net.network());
            if let Some(plus_two) = base.checked_add(2) {
                let ip = IpAddr::V4(Ipv4Addr::from(plus_two));
                if !out.contains(&ip) {
                    out.push(ip);
                }
            }
        }
    }
    out
}

// -------------------------------------------------------------------- DNS

/// The host's A and AAAA answers, asked separately and concurrently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DnsProbe {
    /// The name asked, fully qualified (trailing dot: no search list).
    pub name: String,
    pub resolver: DnsResolverUsed,
    pub a: DnsLookup,
    pub aaaa: DnsLookup,
}

impl DnsProbe {
    /// Every address answered, A first, without repeats.
    pub fn addresses(&self) -> Vec<IpAddr> {
        let mut out: Vec<IpAddr> = Vec::new();
        for lookup in [&self.a, &self.aaaa] {
            if let DnsAnswer::Addresses { addresses, .. } = &lookup.answer {
                for a in addresses {
                    if !out.contains(a) {
                        out.push(*a);
                    }
                }
            }
        }
        out
    }
}

/// Which servers the probe asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DnsResolverUsed {
    pub source: ResolverSource,
    /// The servers asked, in order (UDP, then TCP on the same port).
    #[serde(default)]
    pub servers: Vec<SocketAddr>,
    /// The system's configuration could not be used (no resolv.conf, no
    /// `nameserver` line): then both lookups are `error` too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ResolverSource {
    /// `/etc/resolv.conf`, as the resolver library reads it.
    System,
    /// `--dns-server`.
    DnsServer,
}

/// One query (A or AAAA) and what came of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DnsLookup {
    /// From the question to the answer, or to giving up.
    pub ms: u64,
    pub answer: DnsAnswer,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum DnsAnswer {
    /// At least one address of the family.
    Addresses {
        addresses: Vec<IpAddr>,
        /// CNAMEs followed on the way, in order.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        cnames: Vec<String>,
    },
    /// NXDOMAIN: the name does not exist for this resolver.
    #[serde(rename = "nxdomain")]
    NxDomain,
    /// The name exists, with no record of this type (NOERROR, empty).
    NoRecords,
    /// The server answered with an error code: `SERVFAIL`, `REFUSED`, …
    ServerError { code: String },
    /// No answer in time (the resolver's timeouts or the run's deadline).
    Timeout,
    /// Anything else (no usable server, a malformed answer, a socket error).
    Error { message: String },
}

// ------------------------------------------------------------ TCP, MySQL

/// One address: connect, then read the first packet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AddressProbe {
    pub address: SocketAddr,
    pub connect: TcpConnect,
    /// `None`: not connected, nothing to read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub greeting: Option<GreetingRead>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TcpConnect {
    /// Until connected, or until the failure (for `no-answer`: the time waited).
    pub ms: u64,
    pub outcome: TcpOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum TcpOutcome {
    Connected,
    /// A reset came back (no listener, or a REJECT rule): MySQL's `(111)`.
    Refused,
    /// Nothing came back before the deadline: dropped on the way (security
    /// group, network ACL, host firewall). MySQL's `(110)`.
    NoAnswer,
    /// "No route to host" / "network unreachable": an ICMP error or no route.
    Unreachable {
        error: String,
    },
    /// This machine's own firewall refused to send (EPERM/EACCES).
    LocalFirewall {
        error: String,
    },
    Error {
        error: String,
    },
}

/// The server's first packet, read without logging in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GreetingRead {
    /// From connected to the whole packet (or to giving up).
    pub ms: u64,
    pub greeting: Greeting,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Greeting {
    /// A HandshakeV10 packet.
    Handshake(Handshake),
    /// An ERR packet instead of a greeting (first payload byte 0xff).
    Err {
        code: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sql_state: Option<String>,
        message: String,
    },
    /// Bytes that are not a MySQL greeting.
    Garbage {
        reason: String,
        /// The first bytes received (at most 32), in hex.
        first_bytes_hex: String,
    },
    /// The server closed (or reset) the connection before a whole packet.
    Closed { received: u32, reset: bool },
    /// Reading failed otherwise.
    ReadError { error: String },
    /// Nothing at all before the deadline: MySQL's `ERROR 2013 … reading
    /// initial communication packet`.
    Silent,
}

/// What a HandshakeV10 says about the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Handshake {
    /// 10.
    pub protocol: u8,
    /// As sent, with control characters escaped.
    pub server_version: String,
    pub connection_id: u32,
    /// `low | high << 16`; 0 for the high half when the packet ends early.
    pub capabilities: u32,
    /// `CLIENT_SSL` is set.
    pub tls_offered: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charset: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_flags: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_plugin: Option<String>,
    /// What the server did in the short moment after its greeting, while
    /// the probe said nothing (a server waits for the client; one that hangs
    /// up at once may not accept this endpoint: TDB002).
    pub after: AfterGreeting,
}

impl Handshake {
    /// TiDB identifies itself with `-TiDB-` in the version
    /// (`8.0.11-TiDB-v7.5.2-serverless`, `8.0.11-TiDB-CLOUD.202603.9`).
    pub fn is_tidb(&self) -> bool {
        self.server_version.contains("-TiDB-")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AfterGreeting {
    /// It kept the connection open, waiting for the client (normal).
    Waited,
    /// It closed the connection.
    Closed,
    /// It reset the connection.
    Reset,
    /// It sent more bytes unasked.
    SentMore,
    /// Not watched (the deadline had come).
    NotWatched,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vantage_flags_win_then_imds_decides() {
        let v = Vantage::decide(Some(true), Err("no IMDS"), Some("vpc-1"));
        assert!(v.probed);
        assert_eq!(v.reason, VantageReason::ProbeFlag);
        let v = Vantage::decide(Some(false), Ok("vpc-1"), Some("vpc-1"));
        assert!(!v.probed);
        let v = Vantage::decide(None, Ok("vpc-1"), None);
        assert!(v.probed, "discovery defaults to the instance's own VPC");
        let v = Vantage::decide(None, Ok("vpc-1"), Some("vpc-1"));
        assert!(v.probed);
        let v = Vantage::decide(None, Ok("vpc-2"), Some("vpc-1"));
        assert!(!v.probed);
        assert_eq!(
            v.summary(),
            "not running inside vpc-1: this instance is in vpc-2"
        );
        let v = Vantage::decide(None, Err("IMDS did not answer"), Some("vpc-1"));
        assert!(!v.probed);
        assert!(
            v.summary().starts_with("not running inside vpc-1"),
            "{}",
            v.summary()
        );
    }

    #[test]
    fn vpc_resolver_is_link_local_and_cidr_base_plus_two() {
        let cidrs: Vec<IpNet> = vec!["10.0.0.0/16".parse().unwrap(), "fd00::/56".parse().unwrap()];
        let r = vpc_resolver_addresses(&cidrs);
        assert_eq!(
            r,
            vec![
                VPC_RESOLVER_V4,
                VPC_RESOLVER_V6,
                "10.0.0.2".parse::<IpAddr>().unwrap()
            ]
        );
        assert_eq!(VPC_RESOLVER_V6.to_string(), "fd00:ec2::253");
    }

    fn conf(servers: &[&str]) -> FileFact<ResolvConf> {
        FileFact {
            path: "/etc/resolv.conf".into(),
            content: FileContent::Read(ResolvConf {
                nameservers: servers.iter().map(|s| s.parse().unwrap()).collect(),
                ..ResolvConf::default()
            }),
        }
    }

    #[test]
    fn the_systemd_stub_is_seen_through() {
        let mut path = ResolverPath {
            resolv_conf: conf(&["127.0.0.53"]),
            systemd_resolved: Some(conf(&["10.0.0.2"])),
            dns_server: None,
            hosts: FileFact {
                path: "/etc/hosts".into(),
                content: FileContent::Read(vec![]),
            },
        };
        assert_eq!(
            path.system_servers(),
            vec!["10.0.0.2".parse::<IpAddr>().unwrap()]
        );
        path.systemd_resolved = Some(FileFact {
            path: "/run/systemd/resolve/resolv.conf".into(),
            content: FileContent::Missing,
        });
        assert_eq!(path.system_servers(), vec![SYSTEMD_RESOLVED_STUB]);
        path.resolv_conf = conf(&["169.254.169.253"]);
        assert_eq!(path.system_servers(), vec![VPC_RESOLVER_V4]);
        assert!(path.pinned().is_empty());
    }

    #[test]
    fn facts_round_trip_through_json() {
        let facts = ProbeFacts {
            vantage: Vantage::decide(Some(true), Err("x"), None),
            resolver_path: None,
            dns: Some(DnsProbe {
                name: "h.example.".into(),
                resolver: DnsResolverUsed {
                    source: ResolverSource::DnsServer,
                    servers: vec!["127.0.0.1:53".parse().unwrap()],
                    config_error: None,
                },
                a: DnsLookup {
                    ms: 3,
                    answer: DnsAnswer::Addresses {
                        addresses: vec!["10.0.1.5".parse().unwrap()],
                        cnames: vec![],
                    },
                },
                aaaa: DnsLookup {
                    ms: 2,
                    answer: DnsAnswer::NxDomain,
                },
            }),
            addresses: vec![AddressProbe {
                address: "10.0.1.5:4000".parse().unwrap(),
                connect: TcpConnect {
                    ms: 1,
                    outcome: TcpOutcome::Connected,
                },
                greeting: Some(GreetingRead {
                    ms: 1,
                    greeting: Greeting::Handshake(Handshake {
                        protocol: 10,
                        server_version: "8.0.11-TiDB-v7.5.2-serverless".into(),
                        connection_id: 7,
                        capabilities: CLIENT_SSL | CLIENT_PROTOCOL_41,
                        tls_offered: true,
                        charset: Some(46),
                        status_flags: Some(2),
                        auth_plugin: Some("mysql_native_password".into()),
                        after: AfterGreeting::Waited,
                    }),
                }),
            }],
        };
        let json = serde_json::to_value(&facts).unwrap();
        assert_eq!(json["dns"]["aaaa"]["answer"]["outcome"], "nxdomain");
        assert_eq!(
            json["addresses"][0]["greeting"]["greeting"]["kind"],
            "handshake"
        );
        assert_eq!(json["addresses"][0]["address"], "10.0.1.5:4000");
        let back: ProbeFacts = serde_json::from_value(json).unwrap();
        assert_eq!(back, facts);
        assert_eq!(
            back.dns.as_ref().map(DnsProbe::addresses),
            Some(vec!["10.0.1.5".parse::<IpAddr>().unwrap()])
        );
        let schema = schemars::schema_for!(ProbeFacts);
        assert!(serde_json::to_string(&schema)
            .unwrap()
            .contains("no-answer"));
    }
}
