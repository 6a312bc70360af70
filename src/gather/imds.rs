//! What the EC2 instance metadata service (IMDSv2) says about this machine.
//!
//! Off EC2 this must cost next to nothing: one attempt, tight timeouts, and
//! `AWS_EC2_METADATA_DISABLED=true` turns it off. The endpoint follows
//! `AWS_EC2_METADATA_SERVICE_ENDPOINT` (the lab points it at loopback).

use std::time::Duration;

use aws_config::imds;
use tidbpe_checks::facts::{Client, ClientSource};

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
    let instance_id = instance_id?;
    let (vpc_id, subnet_id, groups) = match &mac {
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
        vpc_id,
        subnet_id,
        availability_zone: az,
        az_id,
        private_ip: ip.and_then(|ip| ip.parse().ok()),
        security_group_ids: groups
            .map(|g| g.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default(),
        local_port_range: local_port_range(),
    })
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
    use super::parse_port_range;

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
