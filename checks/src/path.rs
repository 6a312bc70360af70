//! The three-way view of the one connection path: what TiDB Cloud expects
//! (the cluster description, else the flags), what AWS holds (the service,
//! the endpoint, its subnets and addresses) and what the client saw (its
//! address and AZ, and the probes' answers when they ran:
//! [`ClientSide::with_probes`]), side by side so
//! that a mismatch shows in one place. A reading of the facts, no verdict:
//! the report's `context.path`, and a few lines above the human table.

use std::net::{IpAddr, SocketAddr};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::facts::Facts;
use crate::probe_facts::{Greeting, ProbeFacts, TcpOutcome};
use crate::read::{effective_host, endpoint_addresses, main_endpoint, ok, service_az_ids, subnet};

/// The connection path, three ways. Every field is optional: what was not
/// gathered is left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Path {
    /// What TiDB Cloud expects the client to connect to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tidb: Option<TidbSide>,
    /// What AWS holds for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<AwsSide>,
    /// What the client is, and what it saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientSide>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TidbSide {
    /// `cluster-json` (the description `--cluster-json` gave) or `flags`
    /// (the flags and their defaults).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// AZ IDs (`use1-az1`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub az_ids: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AwsSide {
    /// The AZ IDs the endpoint service is offered in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_az_ids: Vec<String>,
    /// The service's private DNS name: the host its endpoints answer for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_private_dns_name: Option<String>,
    /// The endpoint under test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_dns_enabled: Option<bool>,
    /// The endpoint's subnets, with their AZ IDs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subnets: Vec<PathSubnet>,
    /// The private addresses of the endpoint's network interfaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<IpAddr>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PathSubnet {
    pub subnet_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub az_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ClientSide {
    /// The client's private address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<IpAddr>,
    /// The client's AZ ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub az_id: Option<String>,
    /// The addresses the host resolved to from where the doctor ran.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resolved: Vec<IpAddr>,
    /// A TCP connect to each resolved address, and what the server said.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connections: Vec<PathConnection>,
    /// Why the probes did not run (`not running inside vpc-…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_probed: Option<String>,
}

impl ClientSide {
    /// What the probes saw: the host's addresses, a TCP connect to each and
    /// the server's first packet; or why they did not run.
    pub fn with_probes(mut self, probes: &ProbeFacts) -> Self {
        if !probes.vantage.probed {
            self.not_probed = Some(probes.vantage.summary());
            return self;
        }
        if let Some(dns) = &probes.dns {
            self.resolved = dns.addresses();
        }
        self.connections = probes
            .addresses
            .iter()
            .map(|a| PathConnection {
                address: a.address,
                tcp: tcp_word(&a.connect.outcome).to_string(),
                greeting: a.greeting.as_ref().map(|g| greeting_words(&g.greeting)),
            })
            .collect();
        self
    }
}

fn tcp_word(outcome: &TcpOutcome) -> &'static str {
    match outcome {
        TcpOutcome::Connected => "connected",
        TcpOutcome::Refused => "refused",
        TcpOutcome::NoAnswer => "no-answer",
        TcpOutcome::Unreachable { .. } => "unreachable",
        TcpOutcome::LocalFirewall { .. } => "local-firewall",
        TcpOutcome::Error { .. } => "error",
    }
}

fn greeting_words(greeting: &Greeting) -> String {
    match greeting {
        Greeting::Handshake(h) => {
            let server = if h.is_tidb() { "TiDB" } else { "MySQL" };
            let tls = if h.tls_offered { ", TLS offered" } else { "" };
            format!("{server} {}{tls}", h.server_version)
        }
        Greeting::Err { code, .. } => format!("ERR {code}"),
        Greeting::Garbage { .. } => "not MySQL".to_string(),
        Greeting::Closed { .. } => "closed".to_string(),
        Greeting::ReadError { .. } => "read error".to_string(),
        Greeting::Silent => "silent".to_string(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PathConnection {
    pub address: SocketAddr,
    /// `connected`, `refused`, `no-answer`, `unreachable`, …
    pub tcp: String,
    /// `TiDB 8.0.11-TiDB-v7.5.2-serverless`, `MySQL …`, `closed`, `silent`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub greeting: Option<String>,
}

impl Path {
    /// The path as far as `facts` know it.
    pub fn of(facts: &Facts) -> Path {
        Path {
            tidb: Some(tidb_side(facts)),
            aws: aws_side(facts),
            client: client_side(facts),
        }
    }
}

fn tidb_side(facts: &Facts) -> TidbSide {
    let inputs = &facts.inputs;
    match &inputs.cluster {
        Some(c) => TidbSide {
            source: Some("cluster-json".into()),
            cluster_id: c.cluster_id.clone(),
            state: c.state.clone(),
            host: c.host.clone(),
            port: c.port,
            service_name: c.service_name.clone(),
            region: Some(c.region.clone()),
            az_ids: c.az_ids.clone(),
        },
        None => TidbSide {
            source: Some("flags".into()),
            cluster_id: None,
            state: None,
            // Without --host, the host is the service's private DNS name.
            host: inputs.host.clone().or_else(|| effective_host(facts)),
            port: Some(inputs.port),
            service_name: inputs.service_name.clone(),
            region: Some(inputs.region.clone()),
            az_ids: inputs.az_ids.clone(),
        },
    }
}

fn aws_side(facts: &Facts) -> Option<AwsSide> {
    let mut side = AwsSide::default();
    if let Some(Some(service)) = ok(&facts.service) {
        let zones = ok(&facts.zones).map(Vec::as_slice).unwrap_or_default();
        side.service_az_ids = service_az_ids(service, zones);
        side.service_private_dns_name = service.private_dns_names.first().cloned();
    }
    if let Ok(endpoint) = main_endpoint(facts) {
        side.endpoint_id = Some(endpoint.endpoint_id.clone());
        side.endpoint_state = Some(endpoint.state.clone());
        side.private_dns_enabled = Some(endpoint.private_dns_enabled);
        let subnets = ok(&facts.subnets).map(Vec::as_slice).unwrap_or_default();
        side.subnets = endpoint
            .subnet_ids
            .iter()
            .map(|id| PathSubnet {
                subnet_id: id.clone(),
                az_id: subnet(subnets, id).map(|s| s.az_id.clone()),
            })
            .collect();
        side.addresses = endpoint_addresses(facts, endpoint)
            .map(|found| found.iter().map(|a| a.ip).collect())
            .unwrap_or_default();
    }
    (side != AwsSide::default()).then_some(side)
}

fn client_side(facts: &Facts) -> Option<ClientSide> {
    let client = ok(&facts.client);
    let mut side = ClientSide {
        address: client.and_then(|c| c.private_ip),
        az_id: client.and_then(|c| c.az_id.clone()),
        ..ClientSide::default()
    };
    if let Some(probes) = &facts.probes {
        side = side.with_probes(probes);
    }
    (side != ClientSide::default()).then_some(side)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{healthy, world, ENDPOINT, ENDPOINT_SUBNET, HOST, SVC};

    #[test]
    fn the_healthy_path_three_ways() {
        let path = Path::of(&healthy());
        let tidb = path.tidb.expect("the TiDB side");
        assert_eq!(tidb.source.as_deref(), Some("cluster-json"));
        assert_eq!(tidb.state.as_deref(), Some("ACTIVE"));
        assert_eq!(tidb.host.as_deref(), Some(HOST));
        assert_eq!(tidb.service_name.as_deref(), Some(SVC));
        let aws = path.aws.expect("the AWS side");
        assert_eq!(aws.service_az_ids, ["use1-az1", "use1-az2"]);
        assert_eq!(aws.endpoint_id.as_deref(), Some(ENDPOINT));
        assert_eq!(aws.endpoint_state.as_deref(), Some("available"));
        assert_eq!(
            aws.subnets,
            [PathSubnet {
                subnet_id: ENDPOINT_SUBNET.into(),
                az_id: Some("use1-az1".into())
            }]
        );
        assert_eq!(aws.addresses, ["10.0.1.10".parse::<IpAddr>().unwrap()]);
        let client = path.client.expect("the client side");
        assert_eq!(client.address, Some("10.0.10.4".parse().unwrap()));
        assert_eq!(client.az_id.as_deref(), Some("use1-az1"));
    }

    #[test]
    fn without_a_cluster_the_flags_are_what_tidb_expects() {
        let mut f = world(vec![]);
        f.inputs.az_ids = vec!["use1-az1".into()];
        f.service = None;
        let path = Path::of(&f);
        let tidb = path.tidb.expect("the TiDB side");
        assert_eq!(tidb.source.as_deref(), Some("flags"));
        assert_eq!(tidb.port, Some(4000));
        assert_eq!(tidb.az_ids, ["use1-az1"]);
        assert_eq!(path.aws, None, "no service looked up, no endpoint");
        assert_eq!(path.client, None);
        let json = serde_json::to_value(Path::of(&Facts::default())).unwrap();
        assert!(
            json.get("aws").is_none() && json.get("client").is_none(),
            "{json}"
        );
    }

    #[test]
    fn the_probes_say_what_the_client_saw() {
        use crate::probe_facts::*;
        let lookup = |answer| DnsLookup { ms: 1, answer };
        let probes = ProbeFacts {
            vantage: Vantage::decide(Some(true), Err("no IMDS"), None),
            resolver_path: None,
            dns: Some(DnsProbe {
                name: format!("{HOST}."),
                resolver: DnsResolverUsed {
                    source: ResolverSource::System,
                    servers: vec![],
                    config_error: None,
                },
                a: lookup(DnsAnswer::Addresses {
                    addresses: vec!["10.0.1.10".parse().unwrap(), "10.0.2.10".parse().unwrap()],
                    cnames: vec![],
                }),
                aaaa: lookup(DnsAnswer::NoRecords),
            }),
            addresses: vec![
                AddressProbe {
                    address: "10.0.1.10:4000".parse().unwrap(),
                    connect: TcpConnect {
                        ms: 1,
                        outcome: TcpOutcome::Connected,
                    },
                    greeting: Some(GreetingRead {
                        ms: 1,
                        greeting: Greeting::Handshake(Handshake {
                            protocol: 10,
                            server_version: "8.0.11-TiDB-v7.5.2-serverless".into(),
                            connection_id: 1,
                            capabilities: CLIENT_SSL,
                            tls_offered: true,
                            charset: None,
                            status_flags: None,
                            auth_plugin: None,
                            after: AfterGreeting::Waited,
                        }),
                    }),
                },
                AddressProbe {
                    address: "10.0.2.10:4000".parse().unwrap(),
                    connect: TcpConnect {
                        ms: 3000,
                        outcome: TcpOutcome::NoAnswer,
                    },
                    greeting: None,
                },
            ],
        };
        let side = ClientSide::default().with_probes(&probes);
        assert_eq!(side.resolved.len(), 2);
        assert_eq!(
            side.connections,
            [
                PathConnection {
                    address: "10.0.1.10:4000".parse().unwrap(),
                    tcp: "connected".into(),
                    greeting: Some("TiDB 8.0.11-TiDB-v7.5.2-serverless, TLS offered".into()),
                },
                PathConnection {
                    address: "10.0.2.10:4000".parse().unwrap(),
                    tcp: "no-answer".into(),
                    greeting: None,
                },
            ]
        );
        let away = ProbeFacts {
            vantage: Vantage::decide(None, Ok("vpc-00000002"), Some("vpc-0a1b2c3d")),
            ..probes
        };
        let side = ClientSide::default().with_probes(&away);
        assert!(side.connections.is_empty() && side.resolved.is_empty());
        assert_eq!(
            side.not_probed.as_deref(),
            Some("not running inside vpc-0a1b2c3d: this instance is in vpc-00000002")
        );
    }
}
