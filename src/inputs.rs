//! Turning the validated flags into [`Inputs`]: defaults (the region from
//! the service name or host, the host from the region), checks between
//! flags, the deselected checks. Values were validated by `cli.rs` already.

use std::collections::BTreeMap;
use std::path::PathBuf;

use tidbpe_checks::facts::Inputs;
use tidbpe_checks::names::{host_kind, region_of_service_name, HostKind};

use crate::cli::DoctorArgs;

/// An input error found after parsing (flags that depend on each other).
#[derive(Debug, thiserror::Error)]
#[error("{flag}: {message}")]
pub struct InputError {
    pub flag: &'static str,
    pub message: String,
}

/// Everything the gatherer and the checks need to know about the request.
pub fn inputs(args: &DoctorArgs) -> Result<Inputs, InputError> {
    let service_name = args.service_name.clone().ok_or_else(|| InputError {
        flag: "--service-name",
        message: "required: the Service Name from the TiDB Cloud console (com.amazonaws.vpce.<region>.vpce-svc-…)".into(),
    })?;
    let service_region = region_of_service_name(&service_name).map(str::to_string);
    let host_region = match args.host.as_deref().map(host_kind) {
        Some(HostKind::AwsPrivateLink { region }) | Some(HostKind::AwsPublic { region }) => {
            Some(region)
        }
        _ => None,
    };
    let region = args
        .region
        .clone()
        .or(service_region)
        .or(host_region)
        .ok_or_else(|| InputError {
            flag: "--region",
            message: "required when the service name carries none (e.g. us-east-1)".into(),
        })?;
    let host = args
        .host
        .clone()
        .unwrap_or_else(|| format!("gateway01-privatelink.{region}.prod.aws.tidbcloud.com"));
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
    let mut deselected = BTreeMap::new();
    for check in tidbpe_checks::CATALOG {
        if !args.only.is_empty() && !args.only.iter().any(|id| id == check.id) {
            deselected.insert(check.id.to_string(), "deselected (--only)".to_string());
        }
        if args.skip.iter().any(|id| id == check.id) {
            deselected.insert(check.id.to_string(), "deselected (--skip)".to_string());
        }
    }
    Ok(Inputs {
        service_name: Some(service_name),
        az_ids: args.az_ids.clone(),
        region,
        host,
        port: args.port,
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
    })
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
