//! Pure: what one VPC's checks need, picked out of listings that were asked
//! for at once (the account's DHCP option sets, the VPC's endpoint
//! interfaces) instead of after the call that names it, and what is left to
//! ask for by ID. No I/O here; [`super`] makes the calls.

use tidbpe_checks::facts::{DhcpOptions, Endpoint, NetworkInterface, Vpc};
use tidbpe_checks::Fact;

/// A fact picked out of a listing, or the ID the listing lacked.
#[derive(Debug, PartialEq)]
pub enum Pick<T> {
    Done(T),
    /// Not in the listing: ask for it by this ID.
    AskById(String),
}

/// The VPC's DHCP option set out of the account's listing. No set on the
/// VPC needs no listing (its failure does not matter then); a failed
/// listing is its own error (the report names every call that failed, the
/// VPC's too when it failed as well); a set the listing lacks (shared from
/// another account, or created since) is asked for by ID.
pub fn dhcp_options(
    vpc: &Fact<Vpc>,
    sets: Fact<Vec<DhcpOptions>>,
) -> Pick<Fact<Option<DhcpOptions>>> {
    match (vpc, sets) {
        (
            Ok(Vpc {
                dhcp_options_id: None,
                ..
            }),
            _,
        ) => Pick::Done(Ok(None)),
        (_, Err(e)) => Pick::Done(Err(e)),
        (Err(e), Ok(_)) => Pick::Done(Err(e.clone())),
        (
            Ok(Vpc {
                dhcp_options_id: Some(id),
                ..
            }),
            Ok(sets),
        ) => match sets.into_iter().find(|d| &d.dhcp_options_id == id) {
            Some(set) => Pick::Done(Ok(Some(set))),
            None => Pick::AskById(id.clone()),
        },
    }
}

/// The interfaces of the service's endpoints that still exist, out of the
/// listing of every endpoint interface in the VPC, and the IDs still to ask
/// for: those the listing lacks (an interface AWS described otherwise). A
/// deleted endpoint's interfaces no longer exist: never kept nor asked for.
/// No such endpoint needs no listing.
pub fn endpoint_interfaces(
    endpoints: &[Endpoint],
    service_name: &str,
    listing: Fact<Vec<NetworkInterface>>,
) -> Fact<(Vec<NetworkInterface>, Vec<String>)> {
    let ours: Vec<&Endpoint> = endpoints
        .iter()
        .filter(|e| e.service_name == service_name && !e.is_deleted())
        .collect();
    if ours.iter().all(|e| e.network_interface_ids.is_empty()) {
        return Ok((Vec::new(), Vec::new()));
    }
    let listed = listing?;
    let wanted = |id: &String| {
        ours.iter()
            .any(|e| e.network_interface_ids.iter().any(|i| i == id))
    };
    let found: Vec<NetworkInterface> = listed
        .into_iter()
        .filter(|n| wanted(&n.network_interface_id))
        .collect();
    let mut missing: Vec<String> = ours
        .iter()
        .flat_map(|e| e.network_interface_ids.iter())
        .filter(|id| !found.iter().any(|n| &n.network_interface_id == *id))
        .cloned()
        .collect();
    missing.sort();
    missing.dedup();
    Ok((found, missing))
}

#[cfg(test)]
mod tests {
    use tidbpe_checks::{FactError, FactErrorKind, Need};

    use super::*;

    fn vpc(dhcp: Option<&str>) -> Fact<Vpc> {
        Ok(Vpc {
            vpc_id: "vpc-0a1b2c3d".into(),
            cidr_blocks: vec![],
            dhcp_options_id: dhcp.map(str::to_string),
        })
    }

    fn set(id: &str) -> DhcpOptions {
        DhcpOptions {
            dhcp_options_id: id.into(),
            domain_name_servers: vec!["AmazonProvidedDNS".into()],
        }
    }

    fn denied(need: Need) -> FactError {
        FactError::of_call(need, FactErrorKind::AccessDenied, "denied")
    }

    #[test]
    fn the_vpcs_set_is_picked_from_the_listing() {
        let sets = Ok(vec![set("dopt-00000001"), set("dopt-00000002")]);
        assert_eq!(
            dhcp_options(&vpc(Some("dopt-00000002")), sets),
            Pick::Done(Ok(Some(set("dopt-00000002"))))
        );
    }

    #[test]
    fn a_set_the_listing_lacks_is_asked_for_by_id() {
        let sets = Ok(vec![set("dopt-00000001")]);
        assert_eq!(
            dhcp_options(&vpc(Some("dopt-00000009")), sets),
            Pick::AskById("dopt-00000009".into())
        );
    }

    #[test]
    fn no_set_needs_no_listing_and_a_failed_vpc_is_its_error() {
        let failed: Fact<Vec<DhcpOptions>> = Err(denied(Need::DhcpOptions));
        assert_eq!(
            dhcp_options(&vpc(None), failed.clone()),
            Pick::Done(Ok(None))
        );
        assert_eq!(
            dhcp_options(&vpc(Some("dopt-00000001")), failed),
            Pick::Done(Err(denied(Need::DhcpOptions)))
        );
        let no_vpc: Fact<Vpc> = Err(denied(Need::Vpc));
        assert_eq!(
            dhcp_options(&no_vpc, Ok(vec![set("dopt-00000001")])),
            Pick::Done(Err(denied(Need::Vpc)))
        );
        // Both failed: the listing's own error (the VPC's is the VPC's fact).
        assert_eq!(
            dhcp_options(&no_vpc, Err(denied(Need::DhcpOptions))),
            Pick::Done(Err(denied(Need::DhcpOptions)))
        );
    }

    fn endpoint(id: &str, service: &str, state: &str, enis: &[&str]) -> Endpoint {
        Endpoint {
            endpoint_id: id.into(),
            vpc_id: "vpc-0a1b2c3d".into(),
            service_name: service.into(),
            endpoint_type: "Interface".into(),
            state: state.into(),
            private_dns_enabled: true,
            subnet_ids: vec![],
            security_group_ids: vec![],
            network_interface_ids: enis.iter().map(|s| s.to_string()).collect(),
            ip_address_type: None,
            dns_entries: vec![],
        }
    }

    fn eni(id: &str) -> NetworkInterface {
        NetworkInterface {
            network_interface_id: id.into(),
            subnet_id: "subnet-0a1b2c3d".into(),
            availability_zone: None,
            private_ip: None,
            security_group_ids: vec![],
        }
    }

    const SVC: &str = "com.amazonaws.vpce.us-east-1.vpce-svc-0a1b2c3d";

    #[test]
    fn only_the_services_interfaces_are_kept() {
        let eps = [
            endpoint(
                "vpce-00000001",
                SVC,
                "available",
                &["eni-00000001", "eni-00000002"],
            ),
            endpoint(
                "vpce-00000002",
                "com.amazonaws.us-east-1.ssm",
                "available",
                &["eni-00000003"],
            ),
        ];
        let listing = Ok(vec![
            eni("eni-00000003"),
            eni("eni-00000002"),
            eni("eni-00000001"),
        ]);
        let (found, ask) = endpoint_interfaces(&eps, SVC, listing).unwrap();
        let ids: Vec<_> = found
            .iter()
            .map(|n| n.network_interface_id.as_str())
            .collect();
        assert_eq!(ids, ["eni-00000002", "eni-00000001"]);
        assert!(ask.is_empty());
    }

    #[test]
    fn an_unlisted_interface_is_asked_for_a_deleted_endpoints_never() {
        let eps = [
            endpoint("vpce-00000001", SVC, "deleted", &["eni-00000001"]),
            endpoint(
                "vpce-00000002",
                SVC,
                "available",
                &["eni-00000002", "eni-00000003"],
            ),
        ];
        let (found, ask) = endpoint_interfaces(&eps, SVC, Ok(vec![eni("eni-00000002")])).unwrap();
        assert_eq!(found, [eni("eni-00000002")]);
        assert_eq!(ask, ["eni-00000003"]);
    }

    #[test]
    fn no_endpoint_of_the_service_needs_no_listing() {
        let eps = [endpoint(
            "vpce-00000002",
            "com.amazonaws.us-east-1.ssm",
            "available",
            &["eni-00000003"],
        )];
        let failed = Err(denied(Need::NetworkInterfaces));
        assert_eq!(
            endpoint_interfaces(&eps, SVC, failed.clone()),
            Ok((vec![], vec![]))
        );
        let ours = [endpoint(
            "vpce-00000001",
            SVC,
            "available",
            &["eni-00000001"],
        )];
        assert_eq!(
            endpoint_interfaces(&ours, SVC, failed.clone()),
            Err(denied(Need::NetworkInterfaces))
        );
    }
}
