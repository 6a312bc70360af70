//! `--redact`: mask account IDs and IP addresses in a report, consistently,
//! so a redacted report can still be attached to a ticket and replayed.
//!
//! Addresses are mapped prefix-preservingly (in the manner of Crypto-PAn): the
//! first n bits of a mapped address depend only on the first n bits of the
//! original, so "address in CIDR" and "CIDR in CIDR" hold after the mapping
//! exactly when they held before, and every check judges the same. The first
//! octet (the whole private prefix for 172.16/12, 192.168/16, 100.64/10,
//! 169.254/16) is kept, so private addresses stay private. The key is random
//! for each run: two reports cannot be correlated.
//!
//! Account IDs (12 digits) become `100000000001`, `100000000002`, … in order
//! of appearance.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use serde_json::Value;

pub struct Redactor {
    key: RandomState,
    accounts: HashMap<String, String>,
}

impl Redactor {
    pub fn new() -> Self {
        Redactor {
            key: RandomState::new(),
            accounts: HashMap::new(),
        }
    }

    /// Redact every string (and object key) of a JSON document.
    pub fn value(&mut self, value: &mut Value) {
        match value {
            Value::String(s) => *s = self.text(s),
            Value::Array(items) => items.iter_mut().for_each(|v| self.value(v)),
            Value::Object(map) => {
                let old = std::mem::take(map);
                for (k, mut v) in old {
                    self.value(&mut v);
                    map.insert(self.text(&k), v);
                }
            }
            _ => {}
        }
    }

    /// Replace the addresses, CIDRs and account IDs inside a piece of text.
    pub fn text(&mut self, text: &str) -> String {
        let addresses = self.addresses(text);
        self.accounts(&addresses)
    }

    /// 12-digit runs (not part of a longer number) are account IDs, wherever
    /// they stand (`arn:aws:iam::123456789012:user/me`).
    fn accounts(&mut self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find(|c: char| c.is_ascii_digit()) {
            out.push_str(&rest[..start]);
            let len = rest[start..]
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len() - start);
            let digits = &rest[start..start + len];
            if len == 12 {
                let next = format!("1{:011}", self.accounts.len() + 1);
                out.push_str(self.accounts.entry(digits.to_string()).or_insert(next));
            } else {
                out.push_str(digits);
            }
            rest = &rest[start + len..];
        }
        out.push_str(rest);
        out
    }

    fn addresses(&mut self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find(|c: char| c.is_ascii_hexdigit() || c == ':') {
            out.push_str(&rest[..start]);
            let token_len = rest[start..]
                .find(|c: char| !(c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '/')))
                .unwrap_or(rest.len() - start);
            let token = &rest[start..start + token_len];
            // A token glued to a word (vpc-0a1b…, sg-…) is an ID, not an address.
            let glued = out.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '-');
            out.push_str(&if glued {
                token.to_string()
            } else {
                self.token(token)
            });
            rest = &rest[start + token_len..];
        }
        out.push_str(rest);
        out
    }

    fn token(&self, token: &str) -> String {
        // Trailing punctuation of a sentence is not part of the token.
        let core = token.trim_end_matches(['.', ':']);
        let tail = &token[core.len()..];
        let mapped = if let Some(net) = core
            .contains('/')
            .then(|| core.parse::<IpNet>().ok())
            .flatten()
        {
            let addr = self.ip(net.network());
            IpNet::new(addr, net.prefix_len())
                .map(|n| n.trunc().to_string())
                .unwrap_or_else(|_| core.to_string())
        } else if let Some(ip) = self.parse_ip(core) {
            self.ip(ip).to_string()
        } else {
            return token.to_string();
        };
        mapped + tail
    }

    fn parse_ip(&self, s: &str) -> Option<IpAddr> {
        if s.contains(':') {
            // Only well-formed IPv6 with at least two groups' worth of colons.
            (s.matches(':').count() >= 2)
                .then(|| s.parse::<Ipv6Addr>().ok().map(IpAddr::V6))
                .flatten()
        } else {
            (s.matches('.').count() == 3)
                .then(|| s.parse::<Ipv4Addr>().ok().map(IpAddr::V4))
                .flatten()
        }
    }

    fn ip(&self, ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(v4) => {
                let bits = u32::from(v4);
                let keep = kept_prefix_v4(v4);
                IpAddr::V4(Ipv4Addr::from(
                    self.permute(u128::from(bits), 32, keep) as u32
                ))
            }
            IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(self.permute(u128::from(v6), 128, 16))),
        }
    }

    /// Flip each bit after the first `keep` by a keyed function of the bits
    /// before it: a bijection that preserves common prefixes.
    fn permute(&self, bits: u128, width: u32, keep: u32) -> u128 {
        let mut out = bits;
        for i in keep..width {
            let shift = width - i;
            let prefix = if i == 0 { 0 } else { bits >> shift };
            let flip = self.key.hash_one((i, prefix)) & 1;
            out ^= u128::from(flip) << (shift - 1);
        }
        out
    }
}

/// How many leading bits stay as they are: the first octet, or the whole
/// special-purpose prefix the address is in.
fn kept_prefix_v4(ip: Ipv4Addr) -> u32 {
    let [a, b, ..] = ip.octets();
    match (a, b) {
        (172, 16..=31) => 12,
        (192, 168) | (169, 254) => 16,
        (100, 64..=127) => 10,
        _ => 8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_cidrs_keep_their_containment() {
        let mut r = Redactor::new();
        let ip = r.text("10.0.10.4");
        let net = r.text("10.0.10.0/24");
        let vpc = r.text("10.0.0.0/16");
        let other = r.text("10.0.2.0/24");
        assert_ne!(ip, "10.0.10.4");
        let ip: IpAddr = ip.parse().unwrap();
        let net: IpNet = net.parse().unwrap();
        let vpc: IpNet = vpc.parse().unwrap();
        let other: IpNet = other.parse().unwrap();
        assert!(net.contains(&ip) && vpc.contains(&net) && vpc.contains(&ip));
        assert!(!other.contains(&ip));
        assert!(ip.to_string().starts_with("10."), "private stays private");
        assert_eq!(r.text("0.0.0.0/0"), "0.0.0.0/0");
    }

    #[test]
    fn same_value_same_placeholder_inside_text() {
        let mut r = Redactor::new();
        let a = r.text(
            "TCP 4000 from i-0a1b2c3d (10.0.10.4) is allowed: sg-0ab: tcp 4000 from 10.0.10.0/24.",
        );
        let b = r.text("10.0.10.4");
        assert!(a.contains(&format!("({b})")), "{a} / {b}");
        assert!(a.contains("i-0a1b2c3d") && a.contains("sg-0ab"), "{a}");
        assert!(a.ends_with('.'));
        let arn = r.text("account 123456789012, principal arn:aws:iam::123456789012:user/me");
        assert_eq!(
            arn,
            "account 100000000001, principal arn:aws:iam::100000000001:user/me"
        );
        assert_eq!(
            r.text("vpc-0a1b2c3d4e5f60718 tidbpe 0.1.0 4000 1024-65535"),
            "vpc-0a1b2c3d4e5f60718 tidbpe 0.1.0 4000 1024-65535"
        );
    }
}
