//! Read-only AWS calls, each turned into one plain fact of `tidbpe_checks`.
//!
//! Every function here makes one call (or one paginated listing) and maps the
//! SDK's types to the facts' plain data; errors become [`FactError`]s that
//! name the call's [`Need`], so only the checks that need the fact go
//! `unknown`. Loading the AWS configuration lives here too ([`Aws::load`]).

use std::error::Error;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{future, ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use futures::future::{BoxFuture, FutureExt, Shared};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};

use aws_sdk_ec2::config::http::HttpResponse;
use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types::{Filter, VpcAttributeName};
use tidbpe_checks::facts::{
    AclEntry, AliasTarget, Client, ClientSource, DhcpOptions, DnsEntry, DnsRecord, Endpoint,
    EndpointService, HostedZone, Identity, NetworkAcl, NetworkInterface, PrefixList, SecurityGroup,
    SgPeer, SgRule, Subnet, Vpc, Zone, ZoneRecords, ZoneVpc, ZoneVpcs, SSO_TOKEN_MISSING,
};
use tidbpe_checks::{Fact, FactError, FactErrorKind, Need};
use tokio::time::Instant;

/// The SDK clients of one run.
#[derive(Clone)]
pub struct Aws {
    pub ec2: aws_sdk_ec2::Client,
    pub sts: aws_sdk_sts::Client,
    pub route53: aws_sdk_route53::Client,
    pub route53resolver: aws_sdk_route53resolver::Client,
    pub region: String,
}

const DENIED: &[&str] = &[
    "UnauthorizedOperation",
    "AccessDenied",
    "AccessDeniedException",
    "AccessDeniedFault",
];
const BAD_CREDENTIALS: &[&str] = &[
    "AuthFailure",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
    "IncompleteSignature",
];

/// Error codes of a throttled call (EC2, Route 53, STS and the SDK's own list).
const THROTTLED: &[&str] = &[
    "RequestLimitExceeded",
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "PriorRequestNotComplete",
    "SlowDown",
    "EC2ThrottledException",
    "BandwidthLimitExceeded",
];

/// Error codes of a failure on AWS's side, whatever the HTTP status.
const SERVER_FAILED: &[&str] = &[
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
    "Unavailable",
];

/// Map an SDK error to a fact error that names the call of `need`.
pub fn fact_error<E>(need: Need, err: &SdkError<E, HttpResponse>) -> FactError
where
    E: ProvideErrorMetadata + Error + Send + Sync + 'static,
{
    let code = err.code().map(str::to_string);
    let full = DisplayErrorContext(err).to_string();
    let cause = root_cause(err);
    let status = err.raw_response().map(|r| r.status().as_u16());
    // The SDK reports a failed credential lookup as a dispatch failure: tell
    // it apart from the network by what the chain of errors says.
    let no_credentials = full.contains("credentials") && code.is_none();
    let kind = match err {
        SdkError::TimeoutError(_) => FactErrorKind::Timeout,
        _ if no_credentials => FactErrorKind::Credentials,
        SdkError::DispatchFailure(d) if d.is_timeout() => FactErrorKind::Timeout,
        SdkError::DispatchFailure(_) => FactErrorKind::Network,
        _ => match code.as_deref() {
            Some(c) if DENIED.contains(&c) => FactErrorKind::AccessDenied,
            Some(c) if BAD_CREDENTIALS.contains(&c) => FactErrorKind::Credentials,
            Some(c) if THROTTLED.contains(&c) => FactErrorKind::Throttled,
            Some(c) if SERVER_FAILED.contains(&c) => FactErrorKind::ServerError,
            _ if status.is_some_and(|s| s >= 500) => FactErrorKind::ServerError,
            _ if matches!(err, SdkError::ResponseError(_)) => FactErrorKind::Network,
            _ => FactErrorKind::Api,
        },
    };
    // One line: AWS messages and error chains can run over many.
    let first_line = |s: &str| s.lines().next().unwrap_or_default().trim().to_string();
    let message = match (err.code(), err.message()) {
        (Some(c), Some(m)) => format!("{c}: {}", first_line(m)),
        (Some(c), None) => c.to_string(),
        _ => match (kind, status) {
            // An answer without an error code (an empty 500 from a load
            // balancer): its status says more than the parser's complaint.
            (FactErrorKind::ServerError, Some(s)) => format!("HTTP {s}, without an error code"),
            (FactErrorKind::Timeout, _) => "the AWS API did not answer in time".to_string(),
            (FactErrorKind::Network, _) => {
                format!("cannot reach the AWS API: {}", first_line(&cause))
            }
            // The credential chain lists each provider it tried, one a line.
            (FactErrorKind::Credentials, _) => credentials_message(&error_chain(err)),
            (_, Some(s)) if s >= 400 => format!("HTTP {s}: {}", first_line(&cause)),
            _ => first_line(&cause),
        },
    };
    let code = match kind {
        FactErrorKind::Credentials if code.is_none() && sso_token_missing(&full) => {
            Some(SSO_TOKEN_MISSING.to_string())
        }
        _ => code,
    };
    // Capped: a server that echoes the request, or a `credential_process`
    // that prints a page, must not fill the report.
    let cap =
        |s: &str| tidbpe_checks::text::quoted(s, tidbpe_checks::text::FACT_ERROR_MESSAGE_CHARS);
    FactError {
        kind,
        action: need.action().to_string(),
        code: code.as_deref().map(cap),
        message: cap(&message),
    }
}

/// Does the credential chain's error say that an SSO profile has no
/// cached token (or an expired one)? The SDK says "failed to read
/// `~/.aws/sso/cache/….json`" for a legacy SSO profile, "failed to load
/// the cached SSO token" or "the SSO token has expired" for an
/// `sso-session` one.
fn sso_token_missing(chain: &str) -> bool {
    ["/sso/cache/", "\\sso\\cache\\", "SSO token"]
        .iter()
        .any(|m| chain.contains(m))
}

/// Every layer of an error, outermost first, joined with ": ", without the
/// layers that only repeat the next one and without the SDK's debug dump.
fn error_chain(err: &(dyn Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(err);
    while let Some(e) = current {
        let text = e.to_string();
        let text = text.trim();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(text)) {
            parts.push(text.to_string());
        }
        current = e.source();
    }
    parts.join(": ")
}

/// The credential chain's error on one line; an SSO profile without a
/// token said plainly (the SDK's innermost cause is only "No such file or
/// directory" for the missing token file).
fn credentials_message(chain: &str) -> String {
    let one_line = chain
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if sso_token_missing(chain) {
        format!("the SSO profile has no cached token, or it expired: run `aws sso login --profile NAME` ({one_line})")
    } else {
        one_line
    }
}

/// The innermost error's message ("Connection refused (os error 111)"): the
/// layers above it only repeat it with SDK internals.
fn root_cause(err: &(dyn Error + 'static)) -> String {
    let mut current = err;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

/// Every item of a paginated listing, or the fact error naming `need`'s call.
macro_rules! all_items {
    ($request:expr, $need:expr) => {
        $request
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| fact_error($need, &e))?
    };
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// How AWS describes an interface endpoint's network interface
/// (`VPC Endpoint Interface vpce-…`), as an EC2 filter value (`*` matches).
pub const ENDPOINT_INTERFACE_DESCRIPTION: &str = "VPC Endpoint Interface vpce-*";

/// The page size to ask a listing for, within the call's range `min..=max`.
/// `None` (release builds, and debug builds without `TIDBPE_PAGE_SIZE`):
/// AWS's own, the most a page holds, so a listing is one call wherever AWS
/// allows it. Debug builds read `TIDBPE_PAGE_SIZE` so that end-to-end tests
/// cross pages on worlds of a few hundred resources; a release binary never
/// reads it.
pub fn page_size(min: i32, max: i32) -> Option<i32> {
    if !cfg!(debug_assertions) {
        return None;
    }
    let n: i32 = std::env::var("TIDBPE_PAGE_SIZE")
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(n.clamp(min, max))
}

/// EC2's `MaxResults` range for most `Describe*` listings.
const EC2_PAGE: (i32, i32) = (5, 1000);

fn opt(s: Option<&str>) -> Option<String> {
    s.map(str::to_string)
}

/// An answer of `need`'s call holding a value that does not parse as what
/// it must be (`what`: where, and the form expected; never the value).
fn wrong_form(need: Need, what: &str) -> FactError {
    tidbpe_checks::validate::wrong_form(need.action(), &what)
}

/// A value that must parse (an address, a CIDR block), where AWS gave one:
/// one that does not makes the whole answer of the wrong form, as
/// `validate::gathered` makes an answer with an ID of the wrong form. It is
/// never dropped: a security group or network ACL rule left out reads as
/// a deny (a false `fail`), a deny rule left out as an allow, an address
/// left out as an interface without one.
fn parsed<T: std::str::FromStr>(
    need: Need,
    what: &str,
    value: Option<&str>,
) -> Result<Option<T>, FactError> {
    value
        .map(|v| v.parse().map_err(|_| wrong_form(need, what)))
        .transpose()
}

/// The run's credential chain, asked until it first fails, then never
/// again: every later call gets the same failure at once.
///
/// The four clients share one identity cache (the `SdkConfig`'s, one
/// partition for this one provider), so credentials that load are loaded
/// once a run. A failure is not cached there: each call loads again, one
/// after the other (aws-smithy-runtime 1.16.2, src/expiring_cache.rs:72,
/// `get_or_try_init` behind the cache's lock), so a `credential_process`
/// or SSO profile that fails after a second ran once per call and held
/// the run to the deadline. Within one run, credentials that failed do not
/// come back.
///
/// One load at a time, shared: a call that the cache cuts short (its own
/// load timeout) leaves the load running for the next call, which waits
/// for it instead of starting another (a `credential_process` that hangs
/// was started three times in a run, each left running).
struct UntilItFails {
    chain: SharedCredentialsProvider,
    failed: OnceLock<CredentialsError>,
    loading: Mutex<Option<Load>>,
}

/// A load of the chain that several calls can wait for.
type Load = Shared<BoxFuture<'static, Result<Credentials, Arc<CredentialsError>>>>;

impl UntilItFails {
    fn new(chain: SharedCredentialsProvider) -> Self {
        UntilItFails {
            chain,
            failed: OnceLock::new(),
            loading: Mutex::new(None),
        }
    }

    async fn credentials(&self) -> aws_credential_types::provider::Result {
        if let Some(e) = self.failed.get() {
            return Err(same_failure(e));
        }
        let load = {
            let mut slot = self.loading.lock().unwrap_or_else(|e| e.into_inner());
            slot.get_or_insert_with(|| {
                let chain = self.chain.clone();
                async move { chain.provide_credentials().await.map_err(Arc::new) }
                    .boxed()
                    .shared()
            })
            .clone()
        };
        let result = load.clone().await;
        // Done: a later call (credentials about to expire) loads anew.
        {
            let mut slot = self.loading.lock().unwrap_or_else(|e| e.into_inner());
            if slot.as_ref().is_some_and(|l| l.ptr_eq(&load)) {
                *slot = None;
            }
        }
        result.map_err(|e| {
            let _ = self.failed.set(same_failure(&e));
            same_failure(&e)
        })
    }
}

impl std::fmt::Debug for UntilItFails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UntilItFails")
            .field("chain", &self.chain)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl ProvideCredentials for UntilItFails {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.credentials())
    }

    fn fallback_on_interrupt(&self) -> Option<aws_credential_types::Credentials> {
        self.chain.fallback_on_interrupt()
    }
}

/// A credential error again, of the same kind and saying the same (its
/// causes kept as one line of text: the SDK's errors cannot be cloned).
fn same_failure(e: &CredentialsError) -> CredentialsError {
    let causes = e.source().map(error_chain);
    match (e, causes) {
        (CredentialsError::ProviderTimedOut(t), _) => {
            CredentialsError::provider_timed_out(t.timeout_duration())
        }
        (CredentialsError::CredentialsNotLoaded(_), None) => {
            CredentialsError::not_loaded_no_source()
        }
        (CredentialsError::CredentialsNotLoaded(_), Some(c)) => CredentialsError::not_loaded(c),
        (CredentialsError::InvalidConfiguration(_), c) => {
            CredentialsError::invalid_configuration(c.unwrap_or_default())
        }
        (CredentialsError::ProviderError(_), c) => {
            CredentialsError::provider_error(c.unwrap_or_default())
        }
        (_, c) => CredentialsError::unhandled(c.unwrap_or_else(|| e.to_string())),
    }
}

impl Aws {
    pub fn from_conf(conf: &aws_config::SdkConfig, region: &str) -> Self {
        Aws {
            ec2: aws_sdk_ec2::Client::new(conf),
            sts: aws_sdk_sts::Client::new(conf),
            route53: aws_sdk_route53::Client::new(conf),
            route53resolver: aws_sdk_route53resolver::Client::new(conf),
            region: region.to_string(),
        }
    }

    /// The run's clients from the standard AWS configuration (environment,
    /// `--profile`, SSO, instance role), within the deadline. Loading that
    /// hangs (a profile's SSO, say) gives default clients instead: every call
    /// then times out at the deadline, and the report still comes out. The
    /// credential chain is asked until it first fails (`UntilItFails`).
    pub async fn load(region: &str, profile: Option<&str>, deadline: Instant) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            // One attempt per call: `Bounded` retries, and knows the deadline.
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(2))
                    .build(),
            );
        if let Some(p) = profile {
            loader = loader.profile_name(p);
        }
        match tokio::time::timeout_at(deadline, loader.load()).await {
            Ok(conf) => {
                let conf = match conf.credentials_provider() {
                    Some(chain) => conf
                        .into_builder()
                        .credentials_provider(SharedCredentialsProvider::new(UntilItFails::new(
                            chain,
                        )))
                        .build(),
                    None => conf,
                };
                Aws::from_conf(&conf, region)
            }
            Err(_) => {
                let conf = aws_config::SdkConfig::builder()
                    .behavior_version(BehaviorVersion::latest())
                    .region(Region::new(region.to_string()))
                    .build();
                Aws::from_conf(&conf, region)
            }
        }
    }

    pub async fn identity(&self) -> Fact<Identity> {
        let out = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| fact_error(Need::Identity, &e))?;
        match (out.account(), out.arn()) {
            (Some(account), Some(arn)) if !account.is_empty() => Ok(Identity {
                account: account.to_string(),
                arn: arn.to_string(),
            }),
            _ => Err(FactError::of_call(
                Need::Identity,
                FactErrorKind::Api,
                "the answer names no account",
            )),
        }
    }

    /// `Ok(None)` when the region has no such service.
    pub async fn service(&self, name: &str) -> Fact<Option<EndpointService>> {
        let need = Need::Service;
        let out = match self
            .ec2
            .describe_vpc_endpoint_services()
            .service_names(name)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if e.code() == Some("InvalidServiceName") => return Ok(None),
            Err(e) => return Err(fact_error(need, &e)),
        };
        Ok(out
            .service_details()
            .iter()
            .find(|d| d.service_name() == Some(name))
            .map(|d| {
                let mut private_dns_names: Vec<String> = d
                    .private_dns_names()
                    .iter()
                    .filter_map(|p| opt(p.private_dns_name()))
                    .collect();
                if let Some(n) = d.private_dns_name() {
                    if !private_dns_names.iter().any(|p| p == n) {
                        private_dns_names.push(n.to_string());
                    }
                }
                EndpointService {
                    service_name: name.to_string(),
                    service_id: opt(d.service_id()),
                    service_type: d
                        .service_type()
                        .iter()
                        .filter_map(|t| t.service_type().map(|t| t.as_str().to_string()))
                        .collect(),
                    availability_zones: d.availability_zones().to_vec(),
                    private_dns_names,
                    owner: opt(d.owner()),
                    private_dns_name_verification_state: d
                        .private_dns_name_verification_state()
                        .map(|s| s.as_str().to_string()),
                    acceptance_required: d.acceptance_required(),
                    supported_ip_address_types: Some(
                        d.supported_ip_address_types()
                            .iter()
                            .map(|t| t.as_str().to_string())
                            .collect::<Vec<_>>(),
                    )
                    .filter(|t| !t.is_empty()),
                    service_region: opt(d.service_region()),
                }
            }))
    }

    pub async fn zones(&self) -> Fact<Vec<Zone>> {
        let out = self
            .ec2
            .describe_availability_zones()
            .send()
            .await
            .map_err(|e| fact_error(Need::Zones, &e))?;
        Ok(out
            .availability_zones()
            .iter()
            .filter_map(|z| {
                Some(Zone {
                    zone_name: z.zone_name()?.to_string(),
                    zone_id: z.zone_id()?.to_string(),
                })
            })
            .collect())
    }

    pub async fn instance(&self, instance_id: &str) -> Fact<Client> {
        let need = Need::Instance;
        let out = self
            .ec2
            .describe_instances()
            .instance_ids(instance_id)
            .send()
            .await
            .map_err(|e| fact_error(need, &e))?;
        let instance = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .find(|i| i.instance_id() == Some(instance_id))
            .ok_or_else(|| FactError {
                code: Some("InvalidInstanceID.NotFound".into()),
                ..FactError::of_call(
                    need,
                    FactErrorKind::Api,
                    format!("{instance_id} was not found"),
                )
            })?;
        Ok(Client {
            source: ClientSource::InstanceId,
            instance_id: Some(instance_id.to_string()),
            vpc_id: opt(instance.vpc_id()),
            subnet_id: opt(instance.subnet_id()),
            availability_zone: opt(instance.placement().and_then(|p| p.availability_zone())),
            az_id: opt(instance.placement().and_then(|p| p.availability_zone_id())),
            private_ip: parsed(
                need,
                "Reservations.Instances.PrivateIpAddress: not an IP address",
                instance.private_ip_address(),
            )?,
            security_group_ids: instance
                .security_groups()
                .iter()
                .filter_map(|g| opt(g.group_id()))
                .collect(),
            local_port_range: None,
        })
    }

    pub async fn vpc(&self, vpc_id: &str) -> Fact<Vpc> {
        let need = Need::Vpc;
        let out = self
            .ec2
            .describe_vpcs()
            .vpc_ids(vpc_id)
            .send()
            .await
            .map_err(|e| fact_error(need, &e))?;
        let vpc = out.vpcs().first().ok_or_else(|| FactError {
            code: Some(super::discover::VPC_NOT_FOUND.into()),
            ..FactError::of_call(need, FactErrorKind::Api, format!("{vpc_id} was not found"))
        })?;
        const CIDR: &str = "Vpcs.CidrBlock: not a CIDR block";
        let mut cidr_blocks = Vec::new();
        for a in vpc.cidr_block_association_set() {
            cidr_blocks.extend(parsed::<ipnet::IpNet>(need, CIDR, a.cidr_block())?);
        }
        if cidr_blocks.is_empty() {
            cidr_blocks.extend(parsed::<ipnet::IpNet>(need, CIDR, vpc.cidr_block())?);
        }
        Ok(Vpc {
            vpc_id: vpc_id.to_string(),
            cidr_blocks,
            dhcp_options_id: opt(vpc.dhcp_options_id()).filter(|d| d != "default"),
        })
    }

    pub async fn vpc_attribute(&self, vpc_id: &str, attribute: VpcAttributeName) -> Fact<bool> {
        let out = self
            .ec2
            .describe_vpc_attribute()
            .vpc_id(vpc_id)
            .attribute(attribute.clone())
            .send()
            .await
            .map_err(|e| fact_error(Need::VpcAttributes, &e))?;
        let value = match attribute {
            VpcAttributeName::EnableDnsHostnames => out.enable_dns_hostnames(),
            _ => out.enable_dns_support(),
        };
        value.and_then(|v| v.value()).ok_or_else(|| {
            FactError::of_call(
                Need::VpcAttributes,
                FactErrorKind::Api,
                format!("the answer for {vpc_id} carries no value"),
            )
        })
    }

    /// One DHCP option set, by ID (when the account's listing lacks it).
    pub async fn dhcp_options(&self, id: &str) -> Fact<Option<DhcpOptions>> {
        let out = self
            .ec2
            .describe_dhcp_options()
            .dhcp_options_ids(id)
            .send()
            .await
            .map_err(|e| fact_error(Need::DhcpOptions, &e))?;
        Ok(out.dhcp_options().first().map(|d| dhcp_option_set(d, id)))
    }

    /// Every DHCP option set of the account in the region: few (one per
    /// distinct configuration), and asked at once, without waiting for
    /// `DescribeVpcs` to name the VPC's.
    pub async fn dhcp_option_sets(&self) -> Fact<Vec<DhcpOptions>> {
        let (min, max) = EC2_PAGE;
        let items: Vec<_> = all_items!(
            self.ec2
                .describe_dhcp_options()
                .set_max_results(page_size(min, max)),
            Need::DhcpOptions
        );
        Ok(items.iter().map(|d| dhcp_option_set(d, "")).collect())
    }

    pub async fn hosted_zones(&self, vpc_id: &str) -> Fact<Vec<HostedZone>> {
        let need = Need::HostedZones;
        let mut zones = Vec::new();
        let mut token: Option<String> = None;
        // Bounded: a VPC has at most a few hundred associated zones.
        for _ in 0..100 {
            let out = self
                .route53
                .list_hosted_zones_by_vpc()
                .vpc_id(vpc_id)
                .vpc_region(aws_sdk_route53::types::VpcRegion::from(
                    self.region.as_str(),
                ))
                .set_next_token(token.clone())
                .set_max_items(page_size(1, 100))
                .send()
                .await
                .map_err(|e| fact_error(need, &e))?;
            zones.extend(out.hosted_zone_summaries().iter().map(|z| {
                HostedZone {
                    id: z.hosted_zone_id().to_string(),
                    name: z.name().to_string(),
                    owning_service: z
                        .owner()
                        .and_then(|o| o.owning_service())
                        .map(str::to_string),
                }
            }));
            token = opt(out.next_token()).filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
        Ok(zones)
    }

    /// The VPCs a private hosted zone is associated with (`GetHostedZone`).
    pub async fn hosted_zone_vpcs(&self, zone_id: &str) -> Fact<ZoneVpcs> {
        let id = zone_id.trim_start_matches("/hostedzone/");
        let out = self
            .route53
            .get_hosted_zone()
            .id(id)
            .send()
            .await
            .map_err(|e| fact_error(Need::HostedZoneVpcs, &e))?;
        Ok(ZoneVpcs {
            zone_id: id.to_string(),
            vpcs: out
                .vpcs()
                .iter()
                .filter_map(|v| {
                    Some(ZoneVpc {
                        vpc_id: v.vpc_id()?.to_string(),
                        region: v
                            .vpc_region()
                            .map(|r| r.as_str().to_string())
                            .unwrap_or_default(),
                    })
                })
                .collect(),
        })
    }

    /// The records of a hosted zone that bear on `host` (named it, under
    /// it, or a wildcard over it), from `ListResourceRecordSets`.
    pub async fn zone_records(&self, zone_id: &str, host: &str) -> Fact<ZoneRecords> {
        let need = Need::HostedZoneRecords;
        let id = zone_id.trim_start_matches("/hostedzone/");
        let mut records = Vec::new();
        let mut next: Option<(String, aws_sdk_route53::types::RrType, Option<String>)> = None;
        // Bounded: 20 pages of 300 records; a zone that covers a TiDB Cloud
        // host holds a handful.
        for _ in 0..20 {
            let mut request = self.route53.list_resource_record_sets().hosted_zone_id(id);
            if let Some((name, kind, identifier)) = next.take() {
                request = request
                    .start_record_name(name)
                    .start_record_type(kind)
                    .set_start_record_identifier(identifier);
            }
            let out = request.send().await.map_err(|e| fact_error(need, &e))?;
            records.extend(
                out.resource_record_sets()
                    .iter()
                    .map(|r| DnsRecord {
                        name: r.name().to_string(),
                        record_type: r.r#type().as_str().to_string(),
                        ttl: r.ttl(),
                        values: r
                            .resource_records()
                            .iter()
                            .map(|v| v.value().to_string())
                            .collect(),
                        alias_target: r.alias_target().map(|a| AliasTarget {
                            dns_name: a.dns_name().to_string(),
                            hosted_zone_id: a.hosted_zone_id().to_string(),
                            evaluate_target_health: a.evaluate_target_health(),
                        }),
                        set_identifier: opt(r.set_identifier()),
                    })
                    .filter(|r| r.bears_on(host)),
            );
            next = match (
                out.is_truncated(),
                out.next_record_name(),
                out.next_record_type(),
            ) {
                (true, Some(name), Some(kind)) => Some((
                    name.to_string(),
                    kind.clone(),
                    opt(out.next_record_identifier()),
                )),
                _ => None,
            };
            if next.is_none() {
                break;
            }
        }
        Ok(ZoneRecords {
            zone_id: id.to_string(),
            records,
        })
    }

    /// Interface endpoints matching `filter_name = value` (`vpc-id`, `service-name`)
    /// or the given IDs.
    pub async fn endpoints(&self, filter_name: &str, value: &str) -> Fact<Vec<Endpoint>> {
        let request = self.ec2.describe_vpc_endpoints();
        let request = if filter_name == "vpc-endpoint-id" {
            request.vpc_endpoint_ids(value)
        } else {
            request
                .filters(filter(filter_name, value))
                .set_max_results(page_size(1, 1000))
        };
        let pages: Vec<_> = all_items!(request, Need::Endpoints);
        Ok(pages
            .iter()
            .map(|e| Endpoint {
                endpoint_id: e.vpc_endpoint_id().unwrap_or_default().to_string(),
                vpc_id: e.vpc_id().unwrap_or_default().to_string(),
                service_name: e.service_name().unwrap_or_default().to_string(),
                endpoint_type: e
                    .vpc_endpoint_type()
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_default(),
                state: e
                    .state()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                private_dns_enabled: e.private_dns_enabled().unwrap_or(false),
                subnet_ids: e.subnet_ids().to_vec(),
                security_group_ids: e
                    .groups()
                    .iter()
                    .filter_map(|g| opt(g.group_id()))
                    .collect(),
                network_interface_ids: e.network_interface_ids().to_vec(),
                ip_address_type: e.ip_address_type().map(|t| t.as_str().to_string()),
                dns_entries: e
                    .dns_entries()
                    .iter()
                    .filter_map(|d| {
                        Some(DnsEntry {
                            dns_name: d.dns_name()?.to_string(),
                            hosted_zone_id: opt(d.hosted_zone_id()),
                        })
                    })
                    .collect(),
            })
            .collect())
    }

    pub async fn subnets(&self, vpc_id: &str) -> Fact<Vec<Subnet>> {
        let items: Vec<_> = all_items!(
            self.ec2
                .describe_subnets()
                .filters(filter("vpc-id", vpc_id))
                .set_max_results(page_size(EC2_PAGE.0, EC2_PAGE.1)),
            Need::Subnets
        );
        let need = Need::Subnets;
        items
            .iter()
            .map(|s| {
                Ok(Subnet {
                    subnet_id: s.subnet_id().unwrap_or_default().to_string(),
                    vpc_id: s.vpc_id().unwrap_or_default().to_string(),
                    availability_zone: s.availability_zone().unwrap_or_default().to_string(),
                    az_id: s.availability_zone_id().unwrap_or_default().to_string(),
                    cidr_block: parsed(
                        need,
                        "Subnets.CidrBlock: not a CIDR block",
                        s.cidr_block(),
                    )?,
                    ipv6_native: s.ipv6_native(),
                    ipv6_cidr_blocks: s
                        .ipv6_cidr_block_association_set()
                        .iter()
                        .filter_map(|a| {
                            parsed(
                                need,
                                "Subnets.Ipv6CidrBlockAssociationSet.Ipv6CidrBlock: not a CIDR block",
                                a.ipv6_cidr_block(),
                            )
                            .transpose()
                        })
                        .collect::<Result<_, _>>()?,
                })
            })
            .collect()
    }

    /// The network interfaces named by `ids`, asked by the
    /// `network-interface-id` filter: an ID that no longer exists (a deleted
    /// endpoint's) is skipped instead of failing the whole call
    /// (`InvalidNetworkInterfaceID.NotFound`), as asking by IDs would.
    pub async fn network_interfaces(&self, ids: &[String]) -> Fact<Vec<NetworkInterface>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let by_id = Filter::builder()
            .name("network-interface-id")
            .set_values(Some(ids.to_vec()))
            .build();
        let items: Vec<_> = all_items!(
            self.ec2
                .describe_network_interfaces()
                .filters(by_id)
                .set_max_results(page_size(EC2_PAGE.0, EC2_PAGE.1)),
            Need::NetworkInterfaces
        );
        items.iter().map(network_interface).collect()
    }

    /// Every interface endpoint's network interface in the VPC, by AWS's
    /// description of them: asked at once, beside `DescribeVpcEndpoints`
    /// rather than after it (a VPC holds at most a few hundred; one page).
    pub async fn endpoint_interfaces(&self, vpc_id: &str) -> Fact<Vec<NetworkInterface>> {
        let items: Vec<_> = all_items!(
            self.ec2
                .describe_network_interfaces()
                .filters(filter("vpc-id", vpc_id))
                .filters(filter("description", ENDPOINT_INTERFACE_DESCRIPTION))
                .set_max_results(page_size(EC2_PAGE.0, EC2_PAGE.1)),
            Need::NetworkInterfaces
        );
        items.iter().map(network_interface).collect()
    }

    pub async fn security_groups(&self, vpc_id: &str) -> Fact<Vec<SecurityGroup>> {
        let items: Vec<_> = all_items!(
            self.ec2
                .describe_security_groups()
                .filters(filter("vpc-id", vpc_id))
                .set_max_results(page_size(EC2_PAGE.0, EC2_PAGE.1)),
            Need::SecurityGroups
        );
        let rules = |permissions: &[aws_sdk_ec2::types::IpPermission]| {
            permissions
                .iter()
                .map(split_permission)
                .collect::<Result<Vec<_>, _>>()
                .map(|r| r.concat())
        };
        items
            .iter()
            .map(|g| {
                Ok(SecurityGroup {
                    group_id: g.group_id().unwrap_or_default().to_string(),
                    group_name: g.group_name().unwrap_or_default().to_string(),
                    vpc_id: opt(g.vpc_id()),
                    ingress: rules(g.ip_permissions())?,
                    egress: rules(g.ip_permissions_egress())?,
                })
            })
            .collect()
    }

    pub async fn prefix_list(&self, id: &str) -> Fact<PrefixList> {
        let items: Vec<_> = all_items!(
            self.ec2
                .get_managed_prefix_list_entries()
                .prefix_list_id(id)
                .set_max_results(page_size(1, 100)),
            Need::PrefixLists
        );
        Ok(PrefixList {
            prefix_list_id: id.to_string(),
            cidrs: items
                .iter()
                .filter_map(|e| {
                    parsed(
                        Need::PrefixLists,
                        "Entries.Cidr: not a CIDR block",
                        e.cidr(),
                    )
                    .transpose()
                })
                .collect::<Result<_, _>>()?,
        })
    }

    pub async fn network_acls(&self, vpc_id: &str) -> Fact<Vec<NetworkAcl>> {
        let items: Vec<_> = all_items!(
            self.ec2
                .describe_network_acls()
                .filters(filter("vpc-id", vpc_id))
                .set_max_results(page_size(5, 100)),
            Need::NetworkAcls
        );
        items
            .iter()
            .map(|acl| {
                Ok(NetworkAcl {
                    network_acl_id: acl.network_acl_id().unwrap_or_default().to_string(),
                    is_default: acl.is_default().unwrap_or(false),
                    subnet_ids: acl
                        .associations()
                        .iter()
                        .filter_map(|a| opt(a.subnet_id()))
                        .collect(),
                    entries: acl
                        .entries()
                        .iter()
                        .map(acl_entry)
                        .collect::<Result<_, _>>()?,
                })
            })
            .collect()
    }
}

fn dhcp_option_set(d: &aws_sdk_ec2::types::DhcpOptions, id: &str) -> DhcpOptions {
    DhcpOptions {
        dhcp_options_id: d.dhcp_options_id().unwrap_or(id).to_string(),
        domain_name_servers: d
            .dhcp_configurations()
            .iter()
            .filter(|c| c.key() == Some("domain-name-servers"))
            .flat_map(|c| c.values())
            .filter_map(|v| opt(v.value()))
            .collect(),
    }
}

/// One entry of a network ACL. Every entry counts in the evaluation: one
/// without its rule number, CIDR block or a port range of ports is an
/// answer of the wrong form, not an entry left out.
fn acl_entry(e: &aws_sdk_ec2::types::NetworkAclEntry) -> Result<AclEntry, FactError> {
    let need = Need::NetworkAcls;
    let cidr = parsed(
        need,
        "NetworkAcls.Entries.CidrBlock: not a CIDR block",
        e.cidr_block().or(e.ipv6_cidr_block()),
    )?
    .ok_or_else(|| wrong_form(need, "NetworkAcls.Entries: an entry without a CIDR block"))?;
    let rule_number = e
        .rule_number()
        .ok_or_else(|| wrong_form(need, "NetworkAcls.Entries: an entry without a rule number"))?;
    let port = |p: Option<i32>| p.and_then(|p| u16::try_from(p).ok());
    let port_range = match e.port_range() {
        None => None,
        Some(p) => match (port(p.from()), port(p.to())) {
            (Some(from), Some(to)) => Some((from, to)),
            _ => {
                return Err(wrong_form(
                    need,
                    "NetworkAcls.Entries.PortRange: not two ports (0 to 65535)",
                ))
            }
        },
    };
    Ok(AclEntry {
        rule_number,
        egress: e.egress().unwrap_or(false),
        protocol: e.protocol().unwrap_or("-1").to_string(),
        allow: e.rule_action().map(|a| a.as_str()) == Some("allow"),
        cidr,
        port_range,
    })
}

fn network_interface(
    n: &aws_sdk_ec2::types::NetworkInterface,
) -> Result<NetworkInterface, FactError> {
    Ok(NetworkInterface {
        network_interface_id: n.network_interface_id().unwrap_or_default().to_string(),
        subnet_id: n.subnet_id().unwrap_or_default().to_string(),
        availability_zone: opt(n.availability_zone()),
        private_ip: parsed(
            Need::NetworkInterfaces,
            "NetworkInterfaces.PrivateIpAddress: not an IP address",
            n.private_ip_address(),
        )?,
        security_group_ids: n
            .groups()
            .iter()
            .filter_map(|g| opt(g.group_id()))
            .collect(),
    })
}

/// One `IpPermission` names many peers; a rule has one. A peer that is not
/// a CIDR block where it must be one is an answer of the wrong form.
fn split_permission(p: &aws_sdk_ec2::types::IpPermission) -> Result<Vec<SgRule>, FactError> {
    let need = Need::SecurityGroups;
    let rule = |peer: SgPeer, description: Option<&str>| SgRule {
        protocol: p.ip_protocol().unwrap_or("-1").to_string(),
        from_port: p.from_port(),
        to_port: p.to_port(),
        peer,
        description: opt(description),
    };
    let mut rules = Vec::new();
    for r in p.ip_ranges() {
        let cidr = parsed(
            need,
            "SecurityGroups.IpPermissions.IpRanges.CidrIp: not a CIDR block",
            r.cidr_ip(),
        )?;
        if let Some(net) = cidr {
            rules.push(rule(SgPeer::Cidr(net), r.description()));
        }
    }
    for r in p.ipv6_ranges() {
        let cidr = parsed(
            need,
            "SecurityGroups.IpPermissions.Ipv6Ranges.CidrIpv6: not a CIDR block",
            r.cidr_ipv6(),
        )?;
        if let Some(net) = cidr {
            rules.push(rule(SgPeer::Cidr(net), r.description()));
        }
    }
    for r in p.prefix_list_ids() {
        if let Some(id) = r.prefix_list_id() {
            rules.push(rule(SgPeer::PrefixList(id.to_string()), r.description()));
        }
    }
    for r in p.user_id_group_pairs() {
        if let Some(id) = r.group_id() {
            rules.push(rule(SgPeer::Group(id.to_string()), r.description()));
        }
    }
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aws_credential_types::provider::error::CredentialsError;

    use super::{error_chain, same_failure};

    /// A failure given again says what the first said, layer by layer, so
    /// the report reads the same whichever call met it first.
    #[test]
    fn a_failure_given_again_says_the_same() {
        let chain = CredentialsError::not_loaded(CredentialsError::provider_error(
            "no credentials found in chain. Attempted: Environment",
        ));
        let timed_out = CredentialsError::provider_timed_out(Duration::from_secs(5));
        let bare = CredentialsError::not_loaded_no_source();
        let sso = CredentialsError::provider_error("failed to read `/h/.aws/sso/cache/x.json`");
        for e in [chain, timed_out, bare, sso] {
            let again = same_failure(&e);
            assert_eq!(error_chain(&again), error_chain(&e));
            assert_eq!(std::mem::discriminant(&again), std::mem::discriminant(&e));
        }
    }
}
