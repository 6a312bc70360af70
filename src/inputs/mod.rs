//! Turning the validated flags into [`Inputs`]: the cluster description
//! (`--cluster-json`, read by [`ticloud`]), defaults (the region from the
//! service name or host; the host itself is left to the service's private
//! DNS name), checks between flags, the deselected checks. Values were validated by `cli.rs` already.

pub mod ticloud;

use std::collections::BTreeMap;
use std::path::PathBuf;

use tidbpe_checks::facts::{Cluster, Inputs};
use tidbpe_checks::names::{host_kind, region_of_service_name, HostKind};

use crate::cli::DoctorArgs;

/// An input error found after parsing (flags that depend on each other).
#[derive(Debug, thiserror::Error)]
#[error("{flag}: {message}")]
pub struct InputError {
    pub flag: &'static str,
    pub message: String,
}

/// The port TiDB Cloud listens on.
const DEFAULT_PORT: u16 = 4000;

/// The checks that still mean something for a cluster AWS PrivateLink
/// cannot reach: the target (INP001 says why) and the cluster's state.
const OFF_PRIVATELINK_CHECKS: &[&str] = &["INP001", "TDB001"];

/// Everything the gatherer and the checks need to know about the request.
/// Reads `--cluster-json` (a file or standard input) first: a flag beside
/// it wins, INP001 names the disagreement.
pub fn inputs(args: &DoctorArgs) -> Result<Inputs, InputError> {
    let cluster = match &args.cluster_json {
        Some(path) => Some(
            ticloud::read(path, Some(args.timeout)).map_err(|e| InputError {
                flag: "--cluster-json",
                message: e.to_string(),
            })?,
        ),
        None => None,
    };
    let reachable = cluster.as_ref().is_none_or(Cluster::via_privatelink);
    let file = cluster.as_ref().filter(|c| c.via_privatelink());

    let service_name = args
        .service_name
        .clone()
        .or_else(|| file.and_then(|c| c.service_name.clone()));
    if service_name.is_none() && reachable {
        return Err(InputError {
            flag: "--service-name",
            message: match &cluster {
                Some(_) => "required: the cluster description has no endpoints.private.aws.serviceName; pass the Service Name from the TiDB Cloud console (com.amazonaws.vpce.<region>.vpce-svc-…)".into(),
                None => "required: the Service Name from the TiDB Cloud console (com.amazonaws.vpce.<region>.vpce-svc-…), or --cluster-json".into(),
            },
        });
    }
    let host_flag = args
        .host
        .clone()
        .or_else(|| cluster.as_ref().and_then(|c| c.host.clone()));
    let service_region = service_name
        .as_deref()
        .and_then(region_of_service_name)
        .map(str::to_string);
    let host_region = match host_flag.as_deref().map(host_kind) {
        Some(HostKind::AwsPrivateLink { region }) | Some(HostKind::AwsPublic { region }) => {
            Some(region)
        }
        _ => None,
    };
    let cluster_region = cluster.as_ref().map(|c| c.region.clone());
    // The flag wins; then the region of the service the doctor looks up
    // (flag or file); then the cluster's; then the host's.
    let region = args
        .region
        .clone()
        .or(service_region)
        .or(cluster_region)
        .or(host_region)
        .ok_or_else(|| InputError {
            flag: "--region",
            message: "required when the service name carries none (e.g. us-east-1)".into(),
        })?;
    // Without a host (flag or file), the host is the endpoint service's
    // private DNS name, known after the service lookup
    // (`tidbpe_checks::effective_host`): none is assumed here.
    let host = host_flag;
    let port = args
        .port
        .or_else(|| cluster.as_ref().and_then(|c| c.port))
        .unwrap_or(DEFAULT_PORT);
    let mut az_ids = if args.az_ids.is_empty() {
        file.map(|c| c.az_ids.clone()).unwrap_or_default()
    } else {
        args.az_ids.clone()
    };
    // `--az-id use1-az1 --az-id use1-az1` names one AZ: keep the first of each.
    let mut seen = std::collections::BTreeSet::new();
    az_ids.retain(|az| seen.insert(az.clone()));
    if let Some(profile) = &args.profile {
        if profile_files_lack(profile) {
            return Err(InputError {
                flag: "--profile",
                message: format!(
                    "no profile {profile} in the AWS config or credentials file (see `aws configure list-profiles`)"
                ),
            });
        }
    }
    let selected = |id: &str| {
        (args.only.is_empty() || args.only.iter().any(|o| o == id))
            && !args.skip.iter().any(|s| s == id)
    };
    if !tidbpe_checks::CATALOG.iter().any(|c| selected(c.id)) {
        return Err(InputError {
            flag: "--skip",
            message: if args.only.is_empty() {
                "no check is left to run: it deselects every check".into()
            } else {
                "no check is left to run: it deselects every check that --only selects".into()
            },
        });
    }
    let mut deselected = BTreeMap::new();
    for check in tidbpe_checks::CATALOG {
        if !args.only.is_empty() && !args.only.iter().any(|id| id == check.id) {
            deselected.insert(check.id.to_string(), "deselected (--only)".to_string());
        }
        if args.skip.iter().any(|id| id == check.id) {
            deselected.insert(check.id.to_string(), "deselected (--skip)".to_string());
        }
        if let Some(c) = cluster.as_ref().filter(|_| !reachable) {
            if !OFF_PRIVATELINK_CHECKS.contains(&check.id) {
                deselected.entry(check.id.to_string()).or_insert_with(|| {
                    format!(
                        "not applicable: AWS PrivateLink does not reach this cluster ({}, see INP001)",
                        if c.is_aws() {
                            "no endpoints.private.aws".to_string()
                        } else {
                            format!("on {}", c.cloud_name())
                        }
                    )
                });
            }
        }
    }
    Ok(Inputs {
        service_name,
        az_ids,
        region,
        host,
        port,
        vpc_id: args.vpc_id.clone(),
        endpoint_id: args.endpoint_id.clone(),
        instance_id: args.instance_id.clone(),
        client_ip: args.client_ip,
        // Only for the fix of an SSO profile without a token: the SDK reads
        // AWS_PROFILE itself.
        profile: args
            .profile
            .clone()
            .or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty())),
        deselected,
        cluster,
    })
}

/// Nothing to gather from AWS: the cluster is out of AWS PrivateLink's
/// reach (another cloud, no AWS endpoint service), which INP001 reports.
pub fn off_privatelink(inputs: &Inputs) -> bool {
    inputs
        .cluster
        .as_ref()
        .is_some_and(|c| !c.via_privatelink())
}

/// True when the AWS config and credentials files can be read and neither
/// names `profile` (`[profile NAME]`, `[NAME]`). Unreadable files decide
/// nothing: the SDK will say what is wrong.
fn profile_files_lack(profile: &str) -> bool {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let file = |var: &str, default: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(default)))
    };
    let files = [
        file("AWS_CONFIG_FILE", ".aws/config"),
        file("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials"),
    ];
    let mut read_any = false;
    for path in files.into_iter().flatten() {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        read_any = true;
        let named = text.lines().any(|line| {
            let line = line.trim();
            line.strip_prefix('[')
                .and_then(|l| l.strip_suffix(']'))
                .map(|section| section.trim())
                .is_some_and(|section| {
                    section == profile
                        || section.strip_prefix("profile").is_some_and(|rest| {
                            rest.trim() == profile && rest.starts_with(char::is_whitespace)
                        })
                })
        });
        if named {
            return false;
        }
    }
    read_any
}
