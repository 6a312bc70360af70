//! The network path: SG001 endpoint-sg-ingress, SG002 client-sg-egress,
//! ACL001 endpoint-subnet-acl, ACL002 client-subnet-acl, and the probes
//! DNS001, DNS002, NET001, NET002 (not implemented yet).

use crate::facts::Facts;
use crate::{explain, Check, Need};

/// A security group of the VPC that admits the client on the port, for the
/// pre-flight create command.
pub(crate) fn group_admitting_client(_facts: &Facts) -> Option<String> {
    None
}

pub(crate) const ENDPOINT_SG_INGRESS: Check = Check {
    id: "SG001",
    slug: "endpoint-sg-ingress",
    title: "The endpoint's security groups admit the client on the port",
    needs: &[
        Need::Endpoints,
        Need::SecurityGroups,
        Need::PrefixLists,
        Need::NetworkInterfaces,
    ],
    explain: explain!("SG001"),
    judge: None,
};

pub(crate) const CLIENT_SG_EGRESS: Check = Check {
    id: "SG002",
    slug: "client-sg-egress",
    title: "The client's security groups let it out to the endpoint",
    needs: &[
        Need::Instance,
        Need::SecurityGroups,
        Need::PrefixLists,
        Need::NetworkInterfaces,
    ],
    explain: explain!("SG002"),
    judge: None,
};

pub(crate) const ENDPOINT_SUBNET_ACL: Check = Check {
    id: "ACL001",
    slug: "endpoint-subnet-acl",
    title: "Network ACLs of the endpoint's subnets pass the traffic both ways",
    needs: &[
        Need::Endpoints,
        Need::NetworkAcls,
        Need::NetworkInterfaces,
        Need::Subnets,
    ],
    explain: explain!("ACL001"),
    judge: None,
};

pub(crate) const CLIENT_SUBNET_ACL: Check = Check {
    id: "ACL002",
    slug: "client-subnet-acl",
    title: "The network ACL of the client's subnet passes the traffic both ways",
    needs: &[Need::Instance, Need::NetworkAcls, Need::NetworkInterfaces],
    explain: explain!("ACL002"),
    judge: None,
};

pub(crate) const DNS_RESOLVES: Check = Check {
    id: "DNS001",
    slug: "dns-resolves",
    title: "The host resolves from this machine",
    needs: &[],
    explain: explain!("DNS001"),
    judge: None,
};

pub(crate) const DNS_PRIVATE_ANSWER: Check = Check {
    id: "DNS002",
    slug: "dns-private-answer",
    title: "The host resolves to the endpoint's private IPs",
    needs: &[Need::NetworkInterfaces],
    explain: explain!("DNS002"),
    judge: None,
};

pub(crate) const TCP_CONNECT: Check = Check {
    id: "NET001",
    slug: "tcp-connect",
    title: "TCP connects to the port on every resolved address",
    needs: &[],
    explain: explain!("NET001"),
    judge: None,
};

pub(crate) const MYSQL_HANDSHAKE: Check = Check {
    id: "NET002",
    slug: "mysql-handshake",
    title: "The server greets with the MySQL protocol as TiDB",
    needs: &[],
    explain: explain!("NET002"),
    judge: None,
};
