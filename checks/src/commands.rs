//! Every AWS CLI command a fix prints, built from validated values.
//!
//! Each builder returns one line to paste. The region is added in one
//! place ([`aws`]), at the end, so no command forgets it. Placeholders in
//! capitals (`SUBNET_ID`, `FREE_CIDR`) stand where the doctor could not
//! know the value. No verdicts here: the checks decide what to print.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::facts::Facts;

/// `aws SERVICE ARGS --region R`: the one place the region is added.
fn aws(facts: &Facts, service: &str, args: String) -> String {
    format!("aws {service} {args} --region {}", facts.inputs.region)
}

/// `aws sts get-caller-identity`: does the identity work, and whose is it?
pub(crate) fn get_caller_identity() -> String {
    "aws sts get-caller-identity".to_string()
}

/// A profile name as a command may carry it unquoted; any other name
/// becomes the placeholder `PROFILE` (a profile is a free-form name).
fn profile_arg(profile: Option<&str>) -> &str {
    profile
        .filter(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._@+-".contains(&b))
        })
        .unwrap_or("PROFILE")
}

/// `aws sso login --profile P`: a new SSO token for the profile.
pub(crate) fn sso_login(profile: Option<&str>) -> String {
    format!("aws sso login --profile {}", profile_arg(profile))
}

/// `aws sts get-caller-identity --profile P`, or without a profile.
pub(crate) fn get_caller_identity_as(profile: Option<&str>) -> String {
    match profile {
        Some(_) => format!(
            "{} --profile {}",
            get_caller_identity(),
            profile_arg(profile)
        ),
        None => get_caller_identity(),
    }
}

/// Turn a VPC DNS attribute on (`flag`: `--enable-dns-support` or `--enable-dns-hostnames`).
pub(crate) fn modify_vpc_attribute(facts: &Facts, vpc: &str, flag: &str) -> String {
    aws(
        facts,
        "ec2",
        format!("modify-vpc-attribute --vpc-id {vpc} {flag} '{{\"Value\":true}}'"),
    )
}

/// Read a VPC DNS attribute (`enableDnsSupport`, `enableDnsHostnames`).
pub(crate) fn describe_vpc_attribute(facts: &Facts, vpc: &str, attribute: &str) -> String {
    aws(
        facts,
        "ec2",
        format!("describe-vpc-attribute --vpc-id {vpc} --attribute {attribute}"),
    )
}

/// Take a private hosted zone off a VPC. Route 53 is global: the VPC's
/// region goes into `--vpc`, not into `--region`.
pub(crate) fn disassociate_vpc_from_hosted_zone(facts: &Facts, zone_id: &str, vpc: &str) -> String {
    format!(
        "aws route53 disassociate-vpc-from-hosted-zone --hosted-zone-id {} --vpc VPCRegion={},VPCId={vpc}",
        zone_id.trim_start_matches("/hostedzone/"),
        facts.inputs.region
    )
}

/// Take a Route 53 Resolver rule off a VPC (the rule stays for other VPCs).
pub(crate) fn disassociate_resolver_rule(facts: &Facts, rule_id: &str, vpc: &str) -> String {
    aws(
        facts,
        "route53resolver",
        format!("disassociate-resolver-rule --resolver-rule-id {rule_id} --vpc-id {vpc}"),
    )
}

/// `'text'` for a POSIX shell, whatever `text` holds.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Apply a change batch to a hosted zone (Route 53 is global: no region).
pub(crate) fn change_resource_record_sets(zone_id: &str, batch: &serde_json::Value) -> String {
    format!(
        "aws route53 change-resource-record-sets --hosted-zone-id {} --change-batch {}",
        zone_id.trim_start_matches("/hostedzone/"),
        shell_quote(&batch.to_string())
    )
}

/// Delete a hosted zone (Route 53 refuses while it holds records other than
/// its SOA and NS).
pub(crate) fn delete_hosted_zone(zone_id: &str) -> String {
    format!(
        "aws route53 delete-hosted-zone --id {}",
        zone_id.trim_start_matches("/hostedzone/")
    )
}

/// The records of a hosted zone.
pub(crate) fn list_resource_record_sets(zone_id: &str) -> String {
    format!(
        "aws route53 list-resource-record-sets --hosted-zone-id {}",
        zone_id.trim_start_matches("/hostedzone/")
    )
}

/// What AWS sees of an endpoint service name in the region.
pub(crate) fn describe_vpc_endpoint_services(facts: &Facts, service_name: &str) -> String {
    aws(
        facts,
        "ec2",
        format!("describe-vpc-endpoint-services --service-names {service_name}"),
    )
}

/// The service's private DNS name and its verification state.
pub(crate) fn describe_private_dns_name(facts: &Facts, service_name: &str) -> String {
    aws(
        facts,
        "ec2",
        format!("describe-vpc-endpoint-services --service-names {service_name} --query 'ServiceDetails[].[PrivateDnsName,PrivateDnsNameVerificationState]'"),
    )
}

/// The endpoints of a VPC.
pub(crate) fn describe_vpc_endpoints_in(facts: &Facts, vpc: &str) -> String {
    aws(
        facts,
        "ec2",
        format!("describe-vpc-endpoints --filters Name=vpc-id,Values={vpc}"),
    )
}

/// The state of one endpoint.
pub(crate) fn describe_vpc_endpoint_state(facts: &Facts, endpoint_id: &str) -> String {
    aws(
        facts,
        "ec2",
        format!("describe-vpc-endpoints --vpc-endpoint-ids {endpoint_id} --query 'VpcEndpoints[].State'"),
    )
}

/// The DNS names of one endpoint (the regional one first).
pub(crate) fn describe_vpc_endpoint_dns_names(facts: &Facts, endpoint_id: &str) -> String {
    aws(
        facts,
        "ec2",
        format!("describe-vpc-endpoints --vpc-endpoint-ids {endpoint_id} --query 'VpcEndpoints[].DnsEntries[].DnsName'"),
    )
}

/// The `create-vpc-endpoint` command, with only the flags that have values
/// (`SUBNET_ID` when no subnet could be chosen).
pub(crate) fn create_vpc_endpoint(
    facts: &Facts,
    vpc: &str,
    service_name: &str,
    subnets: &[&str],
    groups: &[&str],
) -> String {
    let mut args = format!(
        "create-vpc-endpoint --vpc-id {vpc} --service-name {service_name} --vpc-endpoint-type Interface --subnet-ids {}",
        if subnets.is_empty() { "SUBNET_ID".to_string() } else { subnets.join(" ") }
    );
    if !groups.is_empty() {
        args.push_str(&format!(" --security-group-ids {}", groups.join(" ")));
    }
    args.push_str(" --private-dns-enabled");
    aws(facts, "ec2", args)
}

pub(crate) fn delete_vpc_endpoints(facts: &Facts, endpoint_ids: &[&str]) -> String {
    aws(
        facts,
        "ec2",
        format!(
            "delete-vpc-endpoints --vpc-endpoint-ids {}",
            endpoint_ids.join(" ")
        ),
    )
}

pub(crate) fn enable_private_dns(facts: &Facts, endpoint_id: &str) -> String {
    aws(
        facts,
        "ec2",
        format!("modify-vpc-endpoint --vpc-endpoint-id {endpoint_id} --private-dns-enabled"),
    )
}

/// Give an endpoint the IP families of `ip_address_type` (`dualstack`),
/// for its addresses and its DNS records alike.
pub(crate) fn modify_vpc_endpoint_ip_address_type(
    facts: &Facts,
    endpoint_id: &str,
    ip_address_type: &str,
) -> String {
    aws(
        facts,
        "ec2",
        format!("modify-vpc-endpoint --vpc-endpoint-id {endpoint_id} --ip-address-type {ip_address_type} --dns-options DnsRecordIpType={ip_address_type}"),
    )
}

/// Move an endpoint between subnets; an empty list leaves its flag out.
pub(crate) fn modify_vpc_endpoint_subnets(
    facts: &Facts,
    endpoint_id: &str,
    add: &[&str],
    remove: &[&str],
) -> String {
    let mut args = format!("modify-vpc-endpoint --vpc-endpoint-id {endpoint_id}");
    if !add.is_empty() {
        args.push_str(&format!(" --add-subnet-ids {}", add.join(" ")));
    }
    if !remove.is_empty() {
        args.push_str(&format!(" --remove-subnet-ids {}", remove.join(" ")));
    }
    aws(facts, "ec2", args)
}

/// A new subnet in an AZ (by ID), printing its ID; `FREE_CIDR` when no
/// free block of the VPC is known.
pub(crate) fn create_subnet(facts: &Facts, vpc: &str, az_id: &str, cidr: Option<IpNet>) -> String {
    let cidr = cidr.map_or_else(|| "FREE_CIDR".to_string(), |c| c.to_string());
    aws(
        facts,
        "ec2",
        format!(
            "create-subnet --vpc-id {vpc} --availability-zone-id {az_id} --cidr-block {cidr} --query Subnet.SubnetId --output text"
        ),
    )
}

/// The other side of a security-group rule to add.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SgPeerArg<'a> {
    /// Members of this security group.
    Group(&'a str),
    /// This network (an address is its /32 or /128).
    Net(IpNet),
    /// Not known: a capitalized placeholder (`VPC_CIDR` in, `ENDPOINT_IP` out).
    Placeholder,
}

impl From<IpAddr> for SgPeerArg<'_> {
    fn from(ip: IpAddr) -> Self {
        SgPeerArg::Net(IpNet::from(ip))
    }
}

/// Allow inbound TCP `port` from `peer` on `group`.
pub(crate) fn authorize_sg_ingress(
    facts: &Facts,
    group: &str,
    port: u16,
    peer: SgPeerArg,
) -> String {
    let source = match peer {
        SgPeerArg::Group(g) => format!("--protocol tcp --port {port} --source-group {g}"),
        SgPeerArg::Net(net @ IpNet::V4(_)) => format!("--protocol tcp --port {port} --cidr {net}"),
        SgPeerArg::Net(net @ IpNet::V6(_)) => format!(
            "--ip-permissions 'IpProtocol=tcp,FromPort={port},ToPort={port},Ipv6Ranges=[{{CidrIpv6={net}}}]'"
        ),
        SgPeerArg::Placeholder => format!("--protocol tcp --port {port} --cidr VPC_CIDR"),
    };
    aws(
        facts,
        "ec2",
        format!("authorize-security-group-ingress --group-id {group} {source}"),
    )
}

/// Allow outbound TCP `port` to `peer` from `group`.
pub(crate) fn authorize_sg_egress(
    facts: &Facts,
    group: &str,
    port: u16,
    peer: SgPeerArg,
) -> String {
    let target = match peer {
        SgPeerArg::Group(g) => format!("UserIdGroupPairs=[{{GroupId={g}}}]"),
        SgPeerArg::Net(net @ IpNet::V4(_)) => format!("IpRanges=[{{CidrIp={net}}}]"),
        SgPeerArg::Net(net @ IpNet::V6(_)) => format!("Ipv6Ranges=[{{CidrIpv6={net}}}]"),
        SgPeerArg::Placeholder => "IpRanges=[{CidrIp=ENDPOINT_IP/32}]".to_string(),
    };
    aws(
        facts,
        "ec2",
        format!(
            "authorize-security-group-egress --group-id {group} --ip-permissions 'IpProtocol=tcp,FromPort={port},ToPort={port},{target}'"
        ),
    )
}

/// Add an allow entry for TCP `ports` to/from `peer` to a network ACL
/// (`RULE_NUMBER` when no free number lies below the blocking one).
pub(crate) fn create_network_acl_entry(
    facts: &Facts,
    acl_id: &str,
    egress: bool,
    rule_number: Option<i32>,
    ports: (u16, u16),
    peer: IpNet,
) -> String {
    let direction = if egress { "--egress" } else { "--ingress" };
    let number = rule_number
        .map(|n| n.to_string())
        .unwrap_or_else(|| "RULE_NUMBER".into());
    let cidr_flag = match peer {
        IpNet::V4(_) => "--cidr-block",
        IpNet::V6(_) => "--ipv6-cidr-block",
    };
    aws(
        facts,
        "ec2",
        format!(
            "create-network-acl-entry --network-acl-id {acl_id} {direction} --rule-number {number} --protocol tcp --port-range From={},To={} {cidr_flag} {peer} --rule-action allow",
            ports.0, ports.1
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::healthy;

    #[test]
    fn every_ec2_command_names_the_region_once_at_the_end() {
        let f = healthy();
        let net: IpNet = "10.0.10.4/32".parse().unwrap();
        let v6: IpNet = "fd00::4/128".parse().unwrap();
        let all = [
            modify_vpc_attribute(&f, "vpc-1", "--enable-dns-support"),
            describe_vpc_attribute(&f, "vpc-1", "enableDnsSupport"),
            describe_vpc_endpoint_services(&f, "svc"),
            describe_vpc_endpoints_in(&f, "vpc-1"),
            describe_vpc_endpoint_state(&f, "vpce-1"),
            create_vpc_endpoint(&f, "vpc-1", "svc", &[], &[]),
            delete_vpc_endpoints(&f, &["vpce-1", "vpce-2"]),
            enable_private_dns(&f, "vpce-1"),
            modify_vpc_endpoint_subnets(&f, "vpce-1", &["subnet-1"], &[]),
            create_subnet(&f, "vpc-1", "use1-az1", None),
            authorize_sg_ingress(&f, "sg-1", 4000, SgPeerArg::Group("sg-2")),
            authorize_sg_ingress(&f, "sg-1", 4000, SgPeerArg::Net(v6)),
            authorize_sg_egress(&f, "sg-1", 4000, SgPeerArg::Net(net)),
            authorize_sg_egress(&f, "sg-1", 4000, SgPeerArg::Placeholder),
            create_network_acl_entry(&f, "acl-1", true, None, (1024, 65535), net),
        ];
        for command in all {
            assert!(command.starts_with("aws ec2 "), "{command}");
            assert!(command.ends_with(" --region us-east-1"), "{command}");
            assert_eq!(command.matches("--region").count(), 1, "{command}");
        }
    }

    #[test]
    fn placeholders_and_address_families() {
        let f = healthy();
        assert!(create_vpc_endpoint(&f, "vpc-1", "svc", &[], &[])
            .contains("--subnet-ids SUBNET_ID --private-dns-enabled"));
        assert!(
            create_network_acl_entry(&f, "acl-1", false, None, (4000, 4000), "fd00::/64".parse().unwrap())
                .contains("--ingress --rule-number RULE_NUMBER --protocol tcp --port-range From=4000,To=4000 --ipv6-cidr-block fd00::/64")
        );
        assert!(authorize_sg_egress(
            &f,
            "sg-1",
            4000,
            "fd00::4".parse::<IpAddr>().unwrap().into()
        )
        .contains("Ipv6Ranges=[{CidrIpv6=fd00::4/128}]"));
        assert!(
            authorize_sg_ingress(&f, "sg-1", 4000, SgPeerArg::Placeholder)
                .contains("--cidr VPC_CIDR")
        );
        assert_eq!(
            change_resource_record_sets("/hostedzone/Z1", &serde_json::json!({"Comment": "it's"})),
            r#"aws route53 change-resource-record-sets --hosted-zone-id Z1 --change-batch '{"Comment":"it'\''s"}'"#
        );
        assert_eq!(
            disassociate_vpc_from_hosted_zone(&f, "/hostedzone/Z1", "vpc-1"),
            "aws route53 disassociate-vpc-from-hosted-zone --hosted-zone-id Z1 --vpc VPCRegion=us-east-1,VPCId=vpc-1"
        );
    }
}
