//! The command line: commands, flags, and validation of every value before
//! any network call. A bad value is one line naming the flag and the
//! expected form (exit 2). Turning the flags into `Inputs`: `inputs.rs`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use tidbpe_checks::names::{
    is_az_id, is_az_name, is_client_address, is_hostname, is_region, is_resource_id,
    region_of_service_name,
};

#[derive(Debug, Parser)]
#[command(
    name = "tidbpe",
    version,
    about = "Troubleshoot AWS PrivateLink connections to TiDB Cloud Serverless",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Inspect the VPC, the endpoint and the network path; report every broken link and its fix.
    Doctor(Box<DoctorArgs>),
    /// Judge the facts stored in a JSON report again, offline.
    Analyze(AnalyzeArgs),
    /// Explain a check: what it inspects, why, and how to fix it.
    Explain {
        /// Check ID (e.g. VPC002) or slug (e.g. vpc-dns-hostnames).
        #[arg(value_parser = parse_check_id)]
        id: String,
    },
    /// List the check catalog.
    Checks {
        /// Output format (default: human): json lists each check's ID, slug, title, facts, IAM actions and whether it is implemented.
        #[arg(long, value_name = "human|json", value_parser = parse_format)]
        format: Option<Format>,
    },
    /// Print the least-privilege, read-only IAM policy the doctor needs.
    IamPolicy,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_name = "SHELL", value_parser = parse_shell)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output format on standard output (default: human).
    #[arg(long, value_name = "human|json", value_parser = parse_format)]
    pub format: Option<Format>,
    /// Also write the JSON report to this file.
    #[arg(long, value_name = "FILE", value_parser = parse_output)]
    pub output: Option<PathBuf>,
    /// Mask account IDs and IP addresses (consistently: the report still replays).
    #[arg(long)]
    pub redact: bool,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// A report written by `tidbpe doctor --format json`.
    #[arg(value_name = "REPORT.json")]
    pub report: PathBuf,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Endpoint service name from the TiDB Cloud console (com.amazonaws.vpce.<region>.vpce-svc-…).
    #[arg(long, value_name = "NAME", value_parser = parse_service_name)]
    pub service_name: Option<String>,
    /// AZ ID from the console (e.g. use1-az1), repeatable; default: the service's own AZs.
    #[arg(long = "az-id", value_name = "ID", value_parser = parse_az_id)]
    pub az_ids: Vec<String>,
    /// AWS region; default: the region in the service name.
    #[arg(long, value_name = "REGION", value_parser = parse_region)]
    pub region: Option<String>,
    /// Connection host; default: the endpoint service's private DNS name (e.g. gateway01-privatelink.<region>.prod.aws.tidbcloud.com).
    #[arg(long, value_name = "HOST", value_parser = parse_host)]
    pub host: Option<String>,
    /// Connection port; default: 4000.
    #[arg(long, value_name = "PORT", value_parser = parse_port, allow_negative_numbers = true)]
    pub port: Option<u16>,
    /// The output of `ticloud serverless describe -c ID` (`-`: standard input): fills the host, port, service name, AZ IDs and region; a flag beside it wins.
    #[arg(long, value_name = "FILE|-", value_parser = parse_cluster_json)]
    pub cluster_json: Option<PathBuf>,
    /// VPC to inspect (default: this instance's VPC, or the VPC of the only endpoint for the service).
    #[arg(long, value_name = "VPC_ID", value_parser = id_parser("vpc"))]
    pub vpc_id: Option<String>,
    /// Endpoint to inspect (default: the service's endpoint in the VPC).
    #[arg(long, value_name = "VPCE_ID", value_parser = id_parser("vpce"))]
    pub endpoint_id: Option<String>,
    /// The client instance (default: this instance, from its metadata).
    #[arg(long, value_name = "INSTANCE_ID", value_parser = id_parser("i"))]
    pub instance_id: Option<String>,
    /// The client's IP address, when it is not this machine or an instance.
    #[arg(long, value_name = "IP", value_parser = parse_client_ip, conflicts_with = "instance_id")]
    pub client_ip: Option<IpAddr>,
    /// Run the DNS and TCP probes from this machine even when it is not an instance in the VPC (a peered VPC, a VPN, a container).
    #[arg(long, conflicts_with = "no_probe")]
    pub probe: bool,
    /// Do not run the DNS and TCP probes.
    #[arg(long)]
    pub no_probe: bool,
    /// Resolve the host with this DNS server instead of the system's resolver.
    #[arg(long, value_name = "IP[:PORT]", value_parser = parse_dns_server, conflicts_with = "no_probe")]
    pub dns_server: Option<SocketAddr>,
    /// Bound on the whole run, in seconds.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_timeout, allow_negative_numbers = true)]
    pub timeout: Duration,
    /// Run only these checks (IDs or slugs, comma-separated or repeated).
    #[arg(long, value_name = "ID", value_delimiter = ',', value_parser = parse_check_id, num_args = 1..)]
    pub only: Vec<String>,
    /// Skip these checks (IDs or slugs, comma-separated or repeated).
    #[arg(long, value_name = "ID", value_delimiter = ',', value_parser = parse_check_id, num_args = 1..)]
    pub skip: Vec<String>,
    /// AWS profile (default: AWS_PROFILE, else the default chain).
    #[arg(long, value_name = "NAME", value_parser = parse_profile)]
    pub profile: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

fn parse_service_name(s: &str) -> Result<String, String> {
    if region_of_service_name(s).is_some() {
        Ok(s.to_string())
    } else {
        Err("expected com.amazonaws.vpce.<region>.vpce-svc-<8 or 17 hex digits>, as the TiDB Cloud console shows it".into())
    }
}

fn parse_az_id(s: &str) -> Result<String, String> {
    if is_az_id(s) {
        Ok(s.to_string())
    } else if is_az_name(s) {
        Err(format!(
            "{s} is an AZ name; give the AZ ID the TiDB Cloud console shows (e.g. use1-az1): names differ between AWS accounts"
        ))
    } else {
        Err("expected an AZ ID such as use1-az1".into())
    }
}

fn parse_region(s: &str) -> Result<String, String> {
    if is_region(s) {
        Ok(s.to_string())
    } else {
        Err("expected an AWS region such as us-east-1".into())
    }
}

fn parse_host(s: &str) -> Result<String, String> {
    if is_hostname(s) {
        Ok(s.trim_end_matches('.').to_ascii_lowercase())
    } else {
        Err(
            "expected a host name such as gateway01-privatelink.us-east-1.prod.aws.tidbcloud.com"
                .into(),
        )
    }
}

fn parse_port(s: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err("expected a TCP port from 1 to 65535".into()),
    }
}

fn id_parser(prefix: &'static str) -> impl Fn(&str) -> Result<String, String> + Clone {
    move |s: &str| {
        if is_resource_id(s, prefix) {
            Ok(s.to_string())
        } else {
            Err(format!(
                "expected {prefix}- followed by 8 or 17 hex digits (e.g. {prefix}-0a1b2c3d)"
            ))
        }
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:10.0.10.4`) is the IPv4 address
/// it carries: that is what reaches the endpoint.
fn parse_client_ip(s: &str) -> Result<IpAddr, String> {
    let ip = s
        .parse::<IpAddr>()
        .map(|ip| ip.to_canonical())
        .map_err(|_| "expected an IPv4 or IPv6 address such as 10.0.1.25".to_string())?;
    if is_client_address(ip) {
        Ok(ip)
    } else {
        Err("expected the client's own address such as 10.0.1.25 (not unspecified, loopback, multicast or broadcast)".into())
    }
}

/// `IP`, `IP:PORT`, `[IPv6]:PORT` or a bare IPv6 address; port 53 by default.
fn parse_dns_server(s: &str) -> Result<SocketAddr, String> {
    let expected = || {
        "expected a DNS server address such as 10.0.0.2, 10.0.0.2:53 or [fd00:ec2::253]:53"
            .to_string()
    };
    let addr = match s.parse::<IpAddr>() {
        Ok(ip) => SocketAddr::new(ip, 53),
        Err(_) => s.parse::<SocketAddr>().map_err(|_| expected())?,
    };
    if addr.port() == 0 || addr.ip().is_unspecified() {
        return Err(expected());
    }
    Ok(addr)
}

impl DoctorArgs {
    /// `--probe` / `--no-probe`: `None` lets the vantage decide.
    pub fn probe_flag(&self) -> Option<bool> {
        match (self.probe, self.no_probe) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        }
    }
}

fn parse_timeout(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 && secs <= 3600.0 => {
            Ok(Duration::from_secs_f64(secs))
        }
        _ => Err("expected a number of seconds greater than 0 and at most 3600".into()),
    }
}

fn parse_format(s: &str) -> Result<Format, String> {
    match s {
        "human" => Ok(Format::Human),
        "json" => Ok(Format::Json),
        _ => Err("expected human or json".into()),
    }
}

fn parse_output(s: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(s);
    if s.is_empty() || path.is_dir() {
        return Err("expected a file path to write the JSON report to".into());
    }
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => {
            Err(format!("the directory {} does not exist", dir.display()))
        }
        _ => Ok(path),
    }
}

fn parse_cluster_json(s: &str) -> Result<PathBuf, String> {
    if s.is_empty() {
        Err("expected a file written by `ticloud serverless describe -c CLUSTER_ID`, or - for standard input".into())
    } else {
        Ok(PathBuf::from(s))
    }
}

fn parse_check_id(s: &str) -> Result<String, String> {
    tidbpe_checks::find(s.trim())
        .map(|c| c.id.to_string())
        .ok_or_else(|| "expected a check ID such as VPC002 or a slug such as vpc-dns-hostnames (see `tidbpe checks`)".into())
}

fn parse_shell(s: &str) -> Result<clap_complete::Shell, String> {
    s.parse()
        .map_err(|_| "expected bash, zsh, fish, elvish or powershell".into())
}

fn parse_profile(s: &str) -> Result<String, String> {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_graphic()) {
        Ok(s.to_string())
    } else {
        Err("expected a profile name from ~/.aws/config".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_server_takes_an_address_with_or_without_a_port() {
        let ok = |s: &str| parse_dns_server(s).map(|a| a.to_string());
        assert_eq!(ok("10.0.0.2").as_deref(), Ok("10.0.0.2:53"));
        assert_eq!(ok("10.0.0.2:5353").as_deref(), Ok("10.0.0.2:5353"));
        assert_eq!(ok("fd00:ec2::253").as_deref(), Ok("[fd00:ec2::253]:53"));
        assert_eq!(
            ok("[fd00:ec2::253]:54").as_deref(),
            Ok("[fd00:ec2::253]:54")
        );
        for bad in [
            "",
            "dns.example",
            "10.0.0.2:0",
            "10.0.0.2:99999",
            "0.0.0.0",
            "10.0.0.256",
            "10.0.0.2:53:53",
        ] {
            let err = parse_dns_server(bad).unwrap_err();
            assert!(
                err.starts_with("expected a DNS server address"),
                "{bad}: {err}"
            );
        }
    }
}
