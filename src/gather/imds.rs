//! What the EC2 instance metadata service (IMDSv2) says about this machine.
//!
//! Off EC2 this must cost next to nothing: one attempt, tight timeouts, and
//! `AWS_EC2_METADATA_DISABLED=true` turns it off. The endpoint follows
//! `AWS_EC2_METADATA_SERVICE_ENDPOINT` (the lab points it at loopback).
//!
//! What it answers is text from outside the process (a spoofed metadata
//! service, a container's stand-in, a captive portal's HTML page): each
//! leaf is held to its form here, and one that is not is dropped, as if
//! IMDS had not answered it, so one bad leaf does not cost the rest of the
//! client.

use std::net::IpAddr;
use std::time::Duration;

use aws_config::imds;
use tidbpe_checks::facts::{Client, ClientSource};
use tidbpe_checks::names::{is_aws_token, is_client_address, is_resource_id};

/// `None`: not on EC2 (or IMDS is disabled / unreachable).
pub async fn discover() -> Option<Client> {
    let disabled = std::env::var("AWS_EC2_METADATA_DISABLED")
        .map(|v| v.eq_ignore_ascii_case("true"))
        .unwrap_or(false);
    if disabled {
        return None;
    }
    let client = imds::Client::builder()
        .max_attempts(1)
        .connect_timeout(Duration::from_millis(250))
        // Off EC2 the connection fails (the connect timeout bounds that);
        // once connected, a busy instance may take a while to answer.
        .read_timeout(Duration::from_millis(1000))
        .build();
    let get = |path: String| {
        let client = client.clone();
        async move {
            client
                .get(&path)
                .await
                .ok()
                .map(|v| v.as_ref().trim().to_string())
                .filter(|v| !v.is_empty())
        }
    };
    let meta = |leaf: &str| get(format!("/latest/meta-data/{leaf}"));
    // One token for all (the client fetches it once), then every read that
    // needs nothing else at once; a machine without IMDS stops here.
    let (instance_id, mac, az, az_id, ip) = tokio::join!(
        meta("instance-id"),
        meta("mac"),
        meta("placement/availability-zone"),
        meta("placement/availability-zone-id"),
        meta("local-ipv4"),
    );
    let instance_id = instance_id.filter(|id| is_resource_id(id, "i"))?;
    let (vpc_id, subnet_id, groups) = match mac.filter(|m| is_mac(m)) {
        Some(mac) => {
            let interface = |leaf: &str| meta(&format!("network/interfaces/macs/{mac}/{leaf}"));
            tokio::join!(
                interface("vpc-id"),
                interface("subnet-id"),
                interface("security-group-ids")
            )
        }
        None => (None, None, None),
    };
    Some(Client {
        source: ClientSource::Imds,
        instance_id: Some(instance_id),
        vpc_id: vpc_id.filter(|id| is_resource_id(id, "vpc")),
        subnet_id: subnet_id.filter(|id| is_resource_id(id, "subnet")),
        // Names and IDs of Local Zones and Wavelength Zones too
        // (`us-west-2-lax-1a`, `usw2-lax1-az1`): held to the form the
        // checks accept for zones.
        availability_zone: az.filter(|z| is_aws_token(z)),
        az_id: az_id.filter(|z| is_aws_token(z)),
        private_ip: ip.and_then(|ip| client_address(&ip)),
        security_group_ids: groups.and_then(|g| security_groups(&g)).unwrap_or_default(),
        local_port_range: local_port_range(),
    })
}

/// A MAC address as IMDS gives it (`0e:1a:2b:3c:4d:5e`): it goes into the
/// path of the next reads.
fn is_mac(value: &str) -> bool {
    let parts: Vec<&str> = value.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `local-ipv4`: an address a client can have, else nothing.
fn client_address(value: &str) -> Option<IpAddr> {
    value.parse().ok().filter(|ip| is_client_address(*ip))
}

/// `security-group-ids`: one ID a line. All or nothing: a partial list
/// would judge the client by some of its groups only.
fn security_groups(value: &str) -> Option<Vec<String>> {
    let ids: Vec<String> = value.split_whitespace().map(str::to_string).collect();
    ids.iter().all(|id| is_resource_id(id, "sg")).then_some(ids)
}

/// The ports this machine's outgoing connections leave from, hence the
/// ports the endpoint's replies come back to: Linux's
/// `net.ipv4.ip_local_port_range` ("32768\t60999"). `None` when it cannot
/// be read or makes no sense.
pub fn local_port_range() -> Option<(u16, u16)> {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    parse_port_range(&text)
}

fn parse_port_range(text: &str) -> Option<(u16, u16)> {
    let mut words = text.split_whitespace().map(|w| w.parse::<u16>().ok());
    let (lo, hi) = (words.next()??, words.next()??);
    (words.next().is_none() && lo >= 1 && lo <= hi).then_some((lo, hi))
}

#[cfg(test)]
mod tests {
    use super::{client_address, is_mac, parse_port_range, security_groups};

    #[test]
    fn a_leaf_of_the_wrong_form_is_as_if_unanswered() {
        assert!(is_mac("0e:1a:2b:3c:4d:5e"));
        for bad in ["", "0e:1a:2b:3c:4d", "0e:1a:2b:3c:4d:5e/../x", "<html>"] {
            assert!(!is_mac(bad), "{bad:?}");
        }
        assert_eq!(
            client_address("10.0.10.4"),
            Some("10.0.10.4".parse().unwrap())
        );
        for bad in ["", "127.0.0.1", "0.0.0.0", "10.0.10.4;x", "<html>"] {
            assert_eq!(client_address(bad), None, "{bad:?}");
        }
        assert_eq!(
            security_groups("sg-0a1b2c3d\nsg-0123456789abcdef0\n"),
            Some(vec!["sg-0a1b2c3d".into(), "sg-0123456789abcdef0".into()])
        );
        assert_eq!(security_groups("sg-0a1b2c3d sg-`id`"), None);
    }

    #[test]
    fn the_local_port_range_is_two_ordered_ports() {
        assert_eq!(parse_port_range("32768\t60999\n"), Some((32768, 60999)));
        assert_eq!(parse_port_range("1024 65535"), Some((1024, 65535)));
        for bad in [
            "",
            "32768",
            "60999 32768",
            "0 100",
            "1 2 3",
            "a b",
            "1024 70000",
        ] {
            assert_eq!(parse_port_range(bad), None, "{bad:?}");
        }
    }
}
