//! The shapes of names tidbpe reads: AWS resource IDs, regions, AZ IDs,
//! service names and TiDB Cloud hosts. Shared by input validation (in the
//! binary) and INP001, so both agree on what a name means.

/// `prefix-` followed by 8 or 17 lowercase hex digits (`vpc-0a1b2c3d`,
/// `vpce-svc-0123456789abcdef0`).
pub fn is_resource_id(value: &str, prefix: &str) -> bool {
    value
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|hex| {
            (hex.len() == 8 || hex.len() == 17)
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// `us-east-1`, `ap-southeast-2`, `us-gov-west-1`, `cn-north-1`.
pub fn is_region(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    parts.len() >= 3
        && parts.len() <= 4
        && parts[0].len() == 2
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1]
            .parse::<u8>()
            .is_ok_and(|n| n > 0 && !parts[parts.len() - 1].starts_with('0'))
}

/// An AZ ID such as `use1-az1` (not a name such as `us-east-1a`).
pub fn is_az_id(value: &str) -> bool {
    let Some((prefix, az)) = value.split_once("-az") else {
        return false;
    };
    prefix.len() >= 4
        && prefix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && prefix.bytes().last().is_some_and(|b| b.is_ascii_digit())
        && !az.is_empty()
        && az.len() <= 2
        && az.bytes().all(|b| b.is_ascii_digit())
}

/// An AZ name such as `us-east-1a`: a region followed by one letter.
pub fn is_az_name(value: &str) -> bool {
    let Some(last) = value.chars().last() else {
        return false;
    };
    last.is_ascii_lowercase() && is_region(&value[..value.len() - 1])
}

/// The region in `com.amazonaws.vpce.<region>.vpce-svc-…`.
pub fn region_of_service_name(name: &str) -> Option<&str> {
    let rest = name.strip_prefix("com.amazonaws.vpce.")?;
    let (region, service_id) = rest.split_once('.')?;
    (is_region(region) && is_resource_id(service_id, "vpce-svc")).then_some(region)
}

/// What a host is, as far as TiDB Cloud goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKind {
    /// `gatewayNN-privatelink.<region>.prod.aws.tidbcloud.com`, or another
    /// `…-privatelink` name there (newer clusters have their own host).
    AwsPrivateLink {
        region: String,
    },
    /// `gatewayNN.<region>.prod.aws.tidbcloud.com`
    AwsPublic {
        region: String,
    },
    /// `….gcp.tidbcloud.com`
    Gcp,
    Other,
}

pub fn host_kind(host: &str) -> HostKind {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.ends_with(".gcp.tidbcloud.com") {
        return HostKind::Gcp;
    }
    let Some(rest) = host.strip_suffix(".prod.aws.tidbcloud.com") else {
        return HostKind::Other;
    };
    let Some((gateway, region)) = rest.split_once('.') else {
        return HostKind::Other;
    };
    if !is_region(region) {
        return HostKind::Other;
    }
    let region = region.to_string();
    let numbered = |s: &str| {
        s.strip_prefix("gateway")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    match gateway.strip_suffix("-privatelink") {
        Some(g) if !g.is_empty() => HostKind::AwsPrivateLink { region },
        None if numbered(gateway) => HostKind::AwsPublic { region },
        _ => HostKind::Other,
    }
}

/// A syntactically valid DNS host name (RFC 1123 labels).
pub fn is_hostname(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// A TCP port a client can connect to: 1 to 65535.
pub fn is_port(port: u16) -> bool {
    port != 0
}

/// A Route 53 hosted zone ID (`Z1D633PJN98FT9`), with or without the
/// `/hostedzone/` prefix some APIs give it.
pub fn is_hosted_zone_id(value: &str) -> bool {
    let id = value.strip_prefix("/hostedzone/").unwrap_or(value);
    !id.is_empty()
        && id.len() <= 32
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// A check ID's shape (`VPC002`, `SG001`): 2 to 4 capital letters, 3 digits.
/// The shape, not the catalog: a report from a newer tidbpe may name an ID
/// this one does not know.
pub fn is_check_id(value: &str) -> bool {
    let letters = value.bytes().take_while(u8::is_ascii_uppercase).count();
    let digits = &value[letters..];
    (2..=4).contains(&letters) && digits.len() == 3 && digits.bytes().all(|b| b.is_ascii_digit())
}

/// A short word AWS uses whose exact form varies (zone names and IDs,
/// Local Zones included; endpoint states and types; rule protocols):
/// 1 to 64 ASCII letters, digits, `-`, `_` or `.`. Nothing a shell or a
/// terminal would act on.
pub fn is_aws_token(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The name of any VPC endpoint service, ours or another endpoint's in the
/// same VPC (`com.amazonaws.us-east-1.s3`, `aws.sagemaker.us-east-1.notebook`,
/// `com.amazonaws.vpce.us-east-1.vpce-svc-…`): dot-separated
/// [`is_aws_token`] words, at most 255 bytes.
pub fn is_any_service_name(value: &str) -> bool {
    value.len() <= 255 && value.split('.').all(is_aws_token)
}

/// An address a client can send from: not unspecified (`0.0.0.0`, `::`),
/// loopback, multicast or broadcast. A fix built from one of those
/// (`--cidr 0.0.0.0/32`) would admit nothing that connects. An IPv4-mapped
/// IPv6 address is judged as the IPv4 address it carries.
pub fn is_client_address(ip: std::net::IpAddr) -> bool {
    let ip = ip.to_canonical();
    let special = ip.is_unspecified() || ip.is_loopback() || ip.is_multicast();
    let broadcast = matches!(ip, std::net::IpAddr::V4(v4) if v4.is_broadcast());
    !special && !broadcast
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_addresses_are_ones_a_client_can_have() {
        for ok in [
            "10.0.10.4",
            "192.168.1.1",
            "100.64.0.1",
            "fd00::4",
            "2600:1f18::1",
            "::ffff:10.0.10.4",
        ] {
            assert!(is_client_address(ok.parse().unwrap()), "{ok}");
        }
        for bad in [
            "0.0.0.0",
            "::",
            "127.0.0.1",
            "::1",
            "224.0.0.5",
            "ff02::1",
            "255.255.255.255",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_client_address(bad.parse().unwrap()), "{bad}");
        }
    }

    #[test]
    fn resource_ids_accept_8_and_17_hex_digits() {
        assert!(is_resource_id("vpc-0a1b2c3d", "vpc"));
        assert!(is_resource_id("vpc-0a1b2c3d4e5f60718", "vpc"));
        assert!(is_resource_id("vpce-svc-e3ba4d3b", "vpce-svc"));
        assert!(!is_resource_id("vpc-0a1b2c3", "vpc"));
        assert!(!is_resource_id("vpc-0A1B2C3D", "vpc"));
        assert!(!is_resource_id("vpc-0a1b2c3g", "vpc"));
        assert!(!is_resource_id("subnet-0a1b2c3d", "vpc"));
        assert!(!is_resource_id("vpce-svc-e3ba4d3b", "vpce"));
    }

    #[test]
    fn regions_and_zones() {
        for r in [
            "us-east-1",
            "ap-southeast-2",
            "us-gov-west-1",
            "eu-central-1",
        ] {
            assert!(is_region(r), "{r}");
        }
        for r in [
            "us-east",
            "US-EAST-1",
            "us-east-01",
            "useast1",
            "us-east-1a",
            "",
        ] {
            assert!(!is_region(r), "{r}");
        }
        assert!(is_az_id("use1-az1"));
        assert!(is_az_id("apse2-az3"));
        assert!(!is_az_id("us-east-1a"));
        assert!(is_az_name("us-east-1a"));
        assert!(!is_az_name("use1-az1"));
    }

    #[test]
    fn service_names() {
        assert_eq!(
            region_of_service_name("com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0"),
            Some("us-east-1")
        );
        assert_eq!(
            region_of_service_name("com.amazonaws.vpce.us-east-1.vpce-svc-xyz"),
            None
        );
        assert_eq!(region_of_service_name("vpce-svc-0123456789abcdef0"), None);
    }

    #[test]
    fn hosts() {
        assert_eq!(
            host_kind("gateway01-privatelink.us-east-1.prod.aws.tidbcloud.com"),
            HostKind::AwsPrivateLink {
                region: "us-east-1".into()
            }
        );
        assert_eq!(
            host_kind("gateway01.us-east-1.prod.aws.tidbcloud.com"),
            HostKind::AwsPublic {
                region: "us-east-1".into()
            }
        );
        assert_eq!(
            host_kind("gateway01.us-central1.prod.gcp.tidbcloud.com"),
            HostKind::Gcp
        );
        assert_eq!(
            host_kind("tidb-0a1b2c-privatelink.us-east-1.prod.aws.tidbcloud.com"),
            HostKind::AwsPrivateLink {
                region: "us-east-1".into()
            },
            "newer clusters have their own host"
        );
        assert_eq!(
            host_kind("-privatelink.us-east-1.prod.aws.tidbcloud.com"),
            HostKind::Other
        );
        assert_eq!(host_kind("example.com"), HostKind::Other);
        assert!(is_hostname("example.com"));
        assert!(!is_hostname("exa mple.com"));
        assert!(!is_hostname("-a.com"));
        assert!(!is_hostname(""));
    }

    #[test]
    fn names_a_replayed_report_carries() {
        assert!(is_port(4000) && !is_port(0));
        assert!(is_hosted_zone_id("Z1D633PJN98FT9"));
        assert!(is_hosted_zone_id("/hostedzone/Z1"));
        assert!(!is_hosted_zone_id("Z1; rm -rf ~"));
        assert!(!is_hosted_zone_id(""));
        assert!(is_check_id("VPC002") && is_check_id("SG001") && is_check_id("TDB001"));
        assert!(!is_check_id("vpc002") && !is_check_id("V002") && !is_check_id("VPC02"));
        for t in [
            "us-east-1-bos-1a",
            "use1-bos1-az1",
            "pendingAcceptance",
            "-1",
            "tcp",
        ] {
            assert!(is_aws_token(t), "{t}");
        }
        for t in ["", "a b", "a;b", "$(x)", "\u{1b}[2J", &"a".repeat(65)] {
            assert!(!is_aws_token(t), "{t}");
        }
        assert!(is_any_service_name("com.amazonaws.us-east-1.s3"));
        assert!(is_any_service_name(
            "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0"
        ));
        assert!(!is_any_service_name("com.amazonaws..s3"));
        assert!(!is_any_service_name("com.amazonaws.us-east-1.s3 --x"));
    }
}
