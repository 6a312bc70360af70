//! The DNS probes: DNS001 dns-resolves, DNS002 dns-private-answer. Not
//! implemented yet (reported as `skip`); the probes land here.

use crate::check::{explain, Check, Need};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Status;
    use crate::testing::healthy;

    #[test]
    fn dns001_is_not_implemented_yet_so_it_skips() {
        assert!(DNS_RESOLVES.judge.is_none());
        assert_eq!(DNS_RESOLVES.run(&healthy()).status, Status::Skip);
    }

    #[test]
    fn dns002_is_not_implemented_yet_so_it_skips() {
        assert!(DNS_PRIVATE_ANSWER.judge.is_none());
        assert_eq!(DNS_PRIVATE_ANSWER.run(&healthy()).status, Status::Skip);
    }
}
