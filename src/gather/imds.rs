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
        .read_timeout(Duration::from_millis(600))
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
    // The first call fetches the token; a machine without IMDS stops here.
    let instance_id = meta("instance-id").await?;
    let (mac, az, az_id, ip) = tokio::join!(
        meta("mac"),
        meta("placement/availability-zone"),
        meta("placement/availability-zone-id"),
        meta("local-ipv4"),
    );
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
    })
}
