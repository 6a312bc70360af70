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
use aws_config::imds::client::error::ImdsError;
use tidbpe_checks::facts::{Client, ClientSource};
use tidbpe_checks::names::{is_aws_token, is_client_address, is_resource_id};

/// Why this machine gave no client: the probes say it, and "not an EC2
/// instance" only when nothing answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Miss {
    /// `AWS_EC2_METADATA_DISABLED=true`.
    Disabled,
    /// Nothing answered: not an EC2 instance (or its IMDS is off).
    NoAnswer,
    /// Something answered, but no instance ID came of it: what it did, in
    /// words of our own (never the answer's text), after "the instance
    /// metadata".
    Unusable(&'static str),
}

impl Miss {
    /// Why, for the probes' vantage.
    pub fn detail(&self) -> String {
        match self {
            Miss::Disabled => {
                "the instance metadata is turned off (AWS_EC2_METADATA_DISABLED=true)".to_string()
            }
            Miss::NoAnswer => "not an EC2 instance (no instance metadata answered)".to_string(),
            Miss::Unusable(why) => format!("the instance metadata {why}"),
        }
    }
}

/// Off EC2 nothing answers at 169.254.169.254: the connection is refused or
/// times out after this, which keeps the cost of asking small.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(250);

/// This machine as IMDS describes it, or why not.
pub async fn discover() -> Result<Client, Miss> {
    let started = std::time::Instant::now();
    let disabled = std::env::var("AWS_EC2_METADATA_DISABLED")
        .map(|v| v.eq_ignore_ascii_case("true"))
        .unwrap_or(false);
    if disabled {
        return Err(Miss::Disabled);
    }
    let client = imds::Client::builder()
        .max_attempts(1)
        .connect_timeout(CONNECT_TIMEOUT)
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
                .map(|v| v.as_ref().trim().to_string())
        }
    };
    let leaf = |path: String| {
        let got = get(path);
        async move { got.await.ok().filter(|v| !v.is_empty()) }
    };
    let meta = |name: &str| leaf(format!("/latest/meta-data/{name}"));
    // One token for all (the client fetches it once), then every read that
    // needs nothing else at once; a machine without IMDS stops here.
    let (instance_id, mac, az, az_id, ip) = tokio::join!(
        get("/latest/meta-data/instance-id".to_string()),
        meta("mac"),
        meta("placement/availability-zone"),
        meta("placement/availability-zone-id"),
        meta("local-ipv4"),
    );
    let instance_id = match instance_id {
        Ok(id) if is_resource_id(&id, "i") => id,
        Ok(_) => {
            return Err(Miss::Unusable(
                "answered an instance ID not of the form i-…",
            ))
        }
        Err(e) => return Err(miss(&e, started.elapsed())),
    };
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
    Ok(Client {
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

/// Why reading the instance ID failed. A connection that could not be made
/// (refused, or no answer to the connect within its timeout) is no IMDS;
/// anything else means something answered.
fn miss(e: &ImdsError, took: Duration) -> Miss {
    match e {
        // The connection is made within CONNECT_TIMEOUT or not at all: a
        // failure later than that is a connection that did not answer.
        ImdsError::FailedToLoadToken(t) if t.is_dispatch_failure() => {
            if took > CONNECT_TIMEOUT + Duration::from_millis(100) {
                Miss::Unusable(
                    "accepted the connection but did not answer the session-token request in time",
                )
            } else {
                Miss::NoAnswer
            }
        }
        ImdsError::FailedToLoadToken(_) => {
            Miss::Unusable("answered, but refused a session token (IMDSv2: PUT /latest/api/token)")
        }
        ImdsError::ErrorResponse(_) => {
            Miss::Unusable("answered the instance ID with an HTTP error")
        }
        _ => Miss::Unusable("answered, but the instance ID could not be read"),
    }
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
