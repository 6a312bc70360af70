//! Discovery, pure: which VPC to inspect and who the client is, from what
//! the flags, IMDS, `--instance-id` and the endpoint listing said. No I/O
//! here: `mod.rs` makes the calls and hands their facts in.

use std::collections::BTreeSet;

use tidbpe_checks::facts::{
    Client, ClientSource, Endpoint, Fact, FactError, Inputs, Subnet, VpcChoice, VpcSource, Zone,
};

/// Why gathering could not even choose what to inspect: an input error
/// (exit 2), before any report.
#[derive(Debug, thiserror::Error)]
pub enum GatherError {
    #[error("--vpc-id is required: {0}")]
    NoVpc(String),
    /// Flags that name things which do not go together.
    #[error("{0}")]
    Conflict(String),
    /// A VPC, endpoint or instance named on the command line does not exist.
    #[error("{flag}: {id} was not found in {region}")]
    NotFound {
        flag: &'static str,
        id: String,
        region: String,
    },
}

impl GatherError {
    fn not_found(flag: &'static str, id: &str, inputs: &Inputs) -> Self {
        GatherError::NotFound {
            flag,
            id: id.to_string(),
            region: inputs.region.clone(),
        }
    }
}

/// What discovery concluded: the VPC and where it came from, or the failed
/// call that would have named it (kept as a fact: the VPC's checks are then
/// `unknown`, naming that call).
pub type Chosen = Result<VpcChoice, FactError>;

/// The VPC under test, and where it came from: `--vpc-id`, else the
/// client's VPC (IMDS, `--instance-id`), else the VPC of `--endpoint-id` or
/// of the only live endpoint for the service in the region (`found`: the
/// region's listing). A named instance or endpoint that does not exist is
/// an input error; a call that failed otherwise is kept as the reason.
pub fn choose_vpc(
    inputs: &Inputs,
    client: Option<&Fact<Client>>,
    found: Option<&Fact<Vec<Endpoint>>>,
) -> Result<Chosen, GatherError> {
    let choice = |vpc_id: &str, source: VpcSource| {
        Ok(Ok(VpcChoice {
            vpc_id: vpc_id.to_string(),
            source,
        }))
    };
    // What the command line names must exist, whichever way the VPC is chosen.
    if let (Some(id), Some(Err(e))) = (&inputs.instance_id, client) {
        if e.is_not_found() {
            return Err(GatherError::not_found("--instance-id", id, inputs));
        }
    }
    let named_endpoint = match (&inputs.endpoint_id, found) {
        (Some(id), Some(Err(e))) if e.is_not_found() => {
            return Err(GatherError::not_found("--endpoint-id", id, inputs))
        }
        (Some(id), Some(Ok(endpoints))) => match endpoints.iter().find(|e| &e.endpoint_id == id) {
            Some(e) => Some(e),
            None => return Err(GatherError::not_found("--endpoint-id", id, inputs)),
        },
        _ => None,
    };
    if let (Some(vpc), Some(e)) = (&inputs.vpc_id, named_endpoint) {
        if &e.vpc_id != vpc {
            return Err(GatherError::Conflict(format!(
                "--endpoint-id: {} is in {}, not in --vpc-id {vpc}",
                e.endpoint_id, e.vpc_id
            )));
        }
    }
    if let Some(vpc) = &inputs.vpc_id {
        return choice(vpc, VpcSource::Flag);
    }
    match client {
        Some(Ok(Client {
            vpc_id: Some(vpc),
            source: ClientSource::Imds,
            ..
        })) => return choice(vpc, VpcSource::Imds),
        Some(Ok(Client {
            vpc_id: Some(vpc),
            source: ClientSource::InstanceId,
            ..
        })) => return choice(vpc, VpcSource::Instance),
        // --instance-id could not be read: the VPC checks name the call.
        Some(Err(e)) => return Ok(Err(e.clone())),
        _ => {}
    }
    if let Some(id) = &inputs.instance_id {
        return Err(GatherError::NoVpc(format!("{id} is in no VPC")));
    }
    if let Some(e) = named_endpoint {
        return choice(&e.vpc_id, VpcSource::Endpoint);
    }
    match found {
        Some(Ok(endpoints)) => {
            // Endpoints on their way out do not make a VPC ambiguous.
            let live: Vec<&Endpoint> = endpoints.iter().filter(|e| !e.is_gone()).collect();
            let vpcs: BTreeSet<&str> = live.iter().map(|e| e.vpc_id.as_str()).collect();
            match (vpcs.len(), live.first()) {
                (1, Some(only)) => choice(only.vpc_id.as_str(), VpcSource::UniqueEndpoint),
                (0, _) => Err(GatherError::NoVpc(format!(
                    "not running on an EC2 instance, and no endpoint for the service exists in {} to find the VPC by",
                    inputs.region
                ))),
                _ => Err(GatherError::NoVpc(format!(
                    "not running on an EC2 instance, and {} endpoints for the service exist in {} (VPCs {})",
                    live.len(),
                    inputs.region,
                    vpcs.into_iter().collect::<Vec<_>>().join(", ")
                ))),
            }
        }
        // The listing failed (denied, throttled, unreachable, deadline):
        // kept, so the VPC's checks are unknown naming it, never "Healthy".
        Some(Err(e)) => Ok(Err(e.clone())),
        None => Err(GatherError::NoVpc(
            "not running on an EC2 instance, and the endpoints were not listed".into(),
        )),
    }
}

/// A VPC named with `--vpc-id` that AWS does not know: any call about it
/// answered `InvalidVpcID.NotFound` (or `DescribeVpcs` answered nothing).
pub fn check_named_vpc(
    inputs: &Inputs,
    choice: Option<&VpcChoice>,
    errors: &[&FactError],
) -> Result<(), GatherError> {
    match choice {
        Some(c) if c.source == VpcSource::Flag => {
            let missing = errors
                .iter()
                .any(|e| e.is_not_found() && e.code.as_deref() == Some(VPC_NOT_FOUND));
            if missing {
                return Err(GatherError::not_found("--vpc-id", &c.vpc_id, inputs));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// EC2's error code for a VPC that does not exist.
pub const VPC_NOT_FOUND: &str = "InvalidVpcID.NotFound";

/// A machine found by IMDS outside the VPC under test is not its client
/// (a named instance stays: its checks say it is elsewhere).
pub fn keep_client_in_vpc(
    client: Option<Fact<Client>>,
    choice: Option<&VpcChoice>,
) -> Option<Fact<Client>> {
    match (&client, choice) {
        (Some(Ok(c)), Some(choice))
            if c.source == ClientSource::Imds
                && c.vpc_id.as_deref() != Some(choice.vpc_id.as_str()) =>
        {
            None
        }
        _ => client,
    }
}

/// Fill in what the client's own source did not say: its subnet (by its
/// address, for `--client-ip`), then the subnet's AZ and VPC, then the AZ ID
/// from the region's zones.
pub fn complete_client(
    client: &mut Client,
    subnets: Option<&Fact<Vec<Subnet>>>,
    zones: &Fact<Vec<Zone>>,
) {
    if let Some(Ok(subnets)) = subnets {
        if client.subnet_id.is_none() {
            if let Some(ip) = client.private_ip {
                client.subnet_id = subnets
                    .iter()
                    .find(|s| s.cidr_block.is_some_and(|n| n.contains(&ip)))
                    .map(|s| s.subnet_id.clone());
            }
        }
        if let Some(s) = subnets
            .iter()
            .find(|s| Some(&s.subnet_id) == client.subnet_id.as_ref())
        {
            client.az_id.get_or_insert_with(|| s.az_id.clone());
            client
                .availability_zone
                .get_or_insert_with(|| s.availability_zone.clone());
            client.vpc_id.get_or_insert_with(|| s.vpc_id.clone());
        }
    }
    if client.az_id.is_none() {
        if let (Some(name), Ok(zones)) = (&client.availability_zone, zones) {
            client.az_id = zones
                .iter()
                .find(|z| &z.zone_name == name)
                .map(|z| z.zone_id.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidbpe_checks::testing::{self, endpoint, healthy, ENDPOINT, VPC};
    use tidbpe_checks::Need;

    fn inputs() -> Inputs {
        healthy().inputs
    }

    fn listed(endpoints: Vec<Endpoint>) -> Option<Fact<Vec<Endpoint>>> {
        Some(Ok(endpoints))
    }

    fn in_vpc(id: &str, vpc: &str, state: &str) -> Endpoint {
        let mut e = endpoint(id, state, true, &[]);
        e.vpc_id = vpc.into();
        e
    }

    fn chosen(result: Result<Chosen, GatherError>) -> Option<(String, VpcSource)> {
        result
            .expect("a choice or a failed call")
            .ok()
            .map(|c| (c.vpc_id, c.source))
    }

    #[test]
    fn the_flag_wins() {
        let mut inputs = inputs();
        inputs.vpc_id = Some("vpc-0f0f0f0f".into());
        let client = Some(Ok(testing::client()));
        assert_eq!(
            chosen(choose_vpc(&inputs, client.as_ref(), None)),
            Some(("vpc-0f0f0f0f".into(), VpcSource::Flag))
        );
    }

    #[test]
    fn the_clients_vpc_by_its_source() {
        let mut client = testing::client();
        assert_eq!(
            chosen(choose_vpc(&inputs(), Some(&Ok(client.clone())), None)),
            Some((VPC.into(), VpcSource::Instance))
        );
        client.source = ClientSource::Imds;
        assert_eq!(
            chosen(choose_vpc(&inputs(), Some(&Ok(client.clone())), None)),
            Some((VPC.into(), VpcSource::Imds))
        );
        // --client-ip names no VPC: the listing decides.
        client.source = ClientSource::ClientIp;
        let found = listed(vec![in_vpc(ENDPOINT, "vpc-0b0b0b0b", "available")]);
        assert_eq!(
            chosen(choose_vpc(&inputs(), Some(&Ok(client)), found.as_ref())),
            Some(("vpc-0b0b0b0b".into(), VpcSource::UniqueEndpoint))
        );
    }

    #[test]
    fn an_unreadable_instance_is_kept_as_the_reason() {
        let mut inputs = inputs();
        inputs.instance_id = Some("i-0000000d".into());
        let client = Some(Err(testing::denied(Need::Instance)));
        let found = listed(vec![in_vpc(ENDPOINT, VPC, "available")]);
        let err = choose_vpc(&inputs, client.as_ref(), found.as_ref())
            .unwrap()
            .unwrap_err();
        assert_eq!(err.need(), Some(Need::Instance));
    }

    #[test]
    fn a_failed_listing_is_kept_as_the_reason() {
        let found = Some(Err(testing::denied(Need::Endpoints)));
        let err = choose_vpc(&inputs(), None, found.as_ref())
            .unwrap()
            .unwrap_err();
        assert_eq!(err.need(), Some(Need::Endpoints));
        assert!(choose_vpc(&inputs(), None, None).is_err());
    }

    fn not_found(need: Need, code: &str) -> FactError {
        let mut e = FactError::of_call(need, tidbpe_checks::FactErrorKind::Api, "not found");
        e.code = Some(code.into());
        e
    }

    /// A named instance or endpoint that does not exist is an input error
    /// naming it and the region.
    #[test]
    fn named_things_that_do_not_exist_are_input_errors() {
        let mut inputs = inputs();
        inputs.instance_id = Some("i-12345678".into());
        let client = Some(Err(not_found(Need::Instance, "InvalidInstanceID.NotFound")));
        let err = choose_vpc(&inputs, client.as_ref(), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--instance-id: i-12345678 was not found in us-east-1"
        );
        let mut inputs = self::inputs();
        inputs.endpoint_id = Some("vpce-12345678".into());
        let found = Some(Err(not_found(
            Need::Endpoints,
            "InvalidVpcEndpointId.NotFound",
        )));
        let err = choose_vpc(&inputs, None, found.as_ref()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--endpoint-id: vpce-12345678 was not found in us-east-1"
        );
        let mut inputs = self::inputs();
        inputs.vpc_id = Some("vpc-12345678".into());
        let choice = chosen(choose_vpc(&inputs, None, None))
            .map(|(vpc_id, source)| VpcChoice { vpc_id, source });
        let missing = not_found(Need::Vpc, VPC_NOT_FOUND);
        let err = check_named_vpc(&inputs, choice.as_ref(), &[&missing]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--vpc-id: vpc-12345678 was not found in us-east-1"
        );
        let denied = testing::denied(Need::Vpc);
        assert!(check_named_vpc(&inputs, choice.as_ref(), &[&denied]).is_ok());
    }

    #[test]
    fn an_empty_listing_asks_for_the_vpc() {
        let err = choose_vpc(&inputs(), None, listed(vec![]).as_ref()).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "--vpc-id is required: not running on an EC2 instance, and no endpoint"
            ),
            "{err}"
        );
    }

    #[test]
    fn one_vpc_with_live_endpoints_is_chosen() {
        let found = listed(vec![
            in_vpc("vpce-00000001", VPC, "available"),
            in_vpc("vpce-00000002", VPC, "pendingAcceptance"),
            // Gone endpoints elsewhere do not make it ambiguous.
            in_vpc("vpce-00000003", "vpc-0b0b0b0b", "deleted"),
        ]);
        assert_eq!(
            chosen(choose_vpc(&inputs(), None, found.as_ref())),
            Some((VPC.into(), VpcSource::UniqueEndpoint))
        );
    }

    #[test]
    fn two_vpcs_ask_for_the_vpc_and_name_both() {
        let found = listed(vec![
            in_vpc("vpce-00000001", VPC, "available"),
            in_vpc("vpce-00000002", "vpc-0b0b0b0b", "available"),
        ]);
        let err = choose_vpc(&inputs(), None, found.as_ref()).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(
                "2 endpoints for the service exist in us-east-1 (VPCs vpc-0a1b2c3d, vpc-0b0b0b0b)"
            ),
            "{text}"
        );
    }

    #[test]
    fn the_endpoint_ids_vpc_or_not_found() {
        let mut inputs = inputs();
        inputs.endpoint_id = Some("vpce-00000002".into());
        let found = listed(vec![
            in_vpc("vpce-00000001", VPC, "available"),
            in_vpc("vpce-00000002", "vpc-0b0b0b0b", "available"),
        ]);
        assert_eq!(
            chosen(choose_vpc(&inputs, None, found.as_ref())),
            Some(("vpc-0b0b0b0b".into(), VpcSource::Endpoint))
        );
        inputs.endpoint_id = Some("vpce-0000000f".into());
        let err = choose_vpc(&inputs, None, found.as_ref()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--endpoint-id: vpce-0000000f was not found in us-east-1"
        );
    }

    #[test]
    fn an_imds_client_in_another_vpc_is_not_the_client() {
        let choice = VpcChoice {
            vpc_id: "vpc-0b0b0b0b".into(),
            source: VpcSource::Flag,
        };
        let mut client = testing::client();
        client.source = ClientSource::Imds;
        assert!(keep_client_in_vpc(Some(Ok(client.clone())), Some(&choice)).is_none());
        // A named instance stays: its checks say it is elsewhere.
        client.source = ClientSource::InstanceId;
        assert!(keep_client_in_vpc(Some(Ok(client.clone())), Some(&choice)).is_some());
        // In the VPC under test, it is the client.
        client.source = ClientSource::Imds;
        let here = VpcChoice {
            vpc_id: VPC.into(),
            source: VpcSource::Imds,
        };
        assert!(keep_client_in_vpc(Some(Ok(client)), Some(&here)).is_some());
    }

    #[test]
    fn the_client_subnet_is_found_by_its_ip() {
        let facts = healthy();
        let mut client = Client {
            source: ClientSource::ClientIp,
            private_ip: Some("10.0.10.99".parse().unwrap()),
            ..Client::default()
        };
        complete_client(
            &mut client,
            facts.subnets.as_ref(),
            facts.zones.as_ref().unwrap(),
        );
        assert_eq!(client.subnet_id.as_deref(), Some(testing::CLIENT_SUBNET));
        assert_eq!(client.az_id.as_deref(), Some("use1-az1"));
        assert_eq!(client.availability_zone.as_deref(), Some("us-east-1b"));
        assert_eq!(client.vpc_id.as_deref(), Some(VPC));
        // An address in no subnet stays without one.
        let mut outside = Client {
            source: ClientSource::ClientIp,
            private_ip: Some("192.0.2.1".parse().unwrap()),
            ..Client::default()
        };
        complete_client(
            &mut outside,
            facts.subnets.as_ref(),
            facts.zones.as_ref().unwrap(),
        );
        assert_eq!(outside.subnet_id, None);
        assert_eq!(outside.az_id, None);
    }

    #[test]
    fn the_az_id_comes_from_the_zone_name_when_subnets_are_unknown() {
        let facts = healthy();
        let mut client = Client {
            source: ClientSource::Imds,
            availability_zone: Some("us-east-1c".into()),
            ..Client::default()
        };
        let denied = Some(Err(testing::denied(Need::Subnets)));
        complete_client(&mut client, denied.as_ref(), facts.zones.as_ref().unwrap());
        assert_eq!(client.az_id.as_deref(), Some("use1-az2"));
    }
}
