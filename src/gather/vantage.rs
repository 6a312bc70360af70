//! Where the probes stand, and running them beside the AWS calls.
//!
//! The DNS and TCP probes mean something only from where the client
//! stands: an EC2 instance inside the VPC under test (the instance metadata
//! says so), or wherever `--probe` says; `--no-probe` turns them off, and so
//! does deselecting every probe check. They make no AWS call, so they start
//! as soon as the instance metadata has answered (at once with `--probe`),
//! concurrently with the AWS calls and bounded by the same deadline. When the
//! VPC under test is known only later (`--instance-id`, `--endpoint-id`) and
//! it is not this instance's, what was probed is dropped ([`settle`]): it was
//! seen from elsewhere.

use std::future::Future;
use std::net::SocketAddr;

use tidbpe_checks::facts::{Client, Inputs, VpcChoice};
use tidbpe_checks::probe_facts::{ProbeFacts, Vantage, VantageReason, PROBE_CHECKS};
use tokio::time::Instant;

use super::imds::Miss;
use super::probe::{self, resolv::ResolverFiles, Track};
use crate::progress::{Activity, Pending};

/// What the command line says about probing.
pub struct ProbePlan {
    /// `--probe` (`Some(true)`) / `--no-probe` (`Some(false)`).
    pub flag: Option<bool>,
    /// `--dns-server`.
    pub dns_server: Option<SocketAddr>,
    pub files: ResolverFiles,
    /// The progress line counts each probe in flight.
    pub activity: Activity,
}

impl Track for Activity {
    type Guard = Pending;
    fn start(&self) -> Pending {
        self.probe()
    }
}

/// Is any check that reads the probe facts selected?
pub fn wanted(inputs: &Inputs) -> bool {
    PROBE_CHECKS
        .iter()
        .any(|id| !inputs.deselected.contains_key(*id))
}

/// Decide where this machine stands, then probe if it stands with the
/// client. `this_instance`: what the instance metadata says of this machine
/// (awaited only when no flag decides). `host`: `--host`, else the service's
/// private DNS name once the service lookup has answered (issue 13).
/// `None`: no probe check selected, or no host to probe (the checks say why:
/// `read::host`).
pub async fn run(
    plan: &ProbePlan,
    inputs: &Inputs,
    host: impl Future<Output = Option<String>>,
    this_instance: impl Future<Output = Result<Client, Miss>>,
    deadline: Instant,
) -> Option<ProbeFacts> {
    if !wanted(inputs) {
        return None;
    }
    let target = inputs.vpc_id.as_deref();
    let vantage = async {
        match plan.flag {
            Some(flag) => Vantage::decide(Some(flag), Err("not asked"), target),
            None => {
                let found = this_instance.await;
                let why;
                let mine = match &found {
                    Ok(Client {
                        vpc_id: Some(vpc), ..
                    }) => Ok(vpc.as_str()),
                    // An instance whose metadata did not name its VPC (in
                    // time) is still an instance: say so, not "not EC2".
                    Ok(_) => Err("this instance's metadata did not name its VPC in time"),
                    Err(miss) => {
                        why = miss.detail();
                        Err(why.as_str())
                    }
                };
                Vantage::decide(None, mine, target)
            }
        }
    };
    let vantage = vantage.await;
    // Away from the client nothing is probed: the host does not matter.
    let host = if vantage.probed {
        host.await?
    } else {
        String::new()
    };
    let probed = probe::probe(
        &host,
        inputs.port,
        plan.dns_server,
        &plan.files,
        vantage,
        deadline,
        &plan.activity,
    )
    .await;
    Some(probed)
}

/// Once the VPC under test is chosen: probes made from an instance of
/// another VPC are dropped (they say nothing of this one), and a vantage
/// that did not know the VPC names it.
pub fn settle(probes: Option<ProbeFacts>, choice: Option<&VpcChoice>) -> Option<ProbeFacts> {
    let mut probes = probes?;
    let Some(choice) = choice else {
        return Some(probes);
    };
    match &mut probes.vantage.reason {
        VantageReason::InsideVpc { vpc_id } if *vpc_id != choice.vpc_id => {
            return Some(ProbeFacts {
                vantage: Vantage {
                    probed: false,
                    reason: VantageReason::OtherVpc {
                        instance_vpc_id: vpc_id.clone(),
                        vpc_id: choice.vpc_id.clone(),
                    },
                },
                resolver_path: None,
                dns: None,
                addresses: vec![],
            });
        }
        VantageReason::NotAnInstance { vpc_id, .. } if vpc_id.is_none() => {
            *vpc_id = Some(choice.vpc_id.clone());
        }
        _ => {}
    }
    Some(probes)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tidbpe_checks::facts::VpcSource;

    use super::*;

    fn plan(flag: Option<bool>) -> ProbePlan {
        ProbePlan {
            flag,
            dns_server: None,
            files: ResolverFiles::default(),
            activity: Activity::default(),
        }
    }

    fn inputs() -> Inputs {
        Inputs {
            region: "us-east-1".into(),
            // An address literal: nothing is resolved, nothing answers on
            // port 9 of 127.0.0.1.
            host: Some("127.0.0.1".into()),
            port: 9,
            ..Inputs::default()
        }
    }

    fn instance(vpc: &str) -> Client {
        Client {
            vpc_id: Some(vpc.into()),
            ..Client::default()
        }
    }

    /// The host to probe, known at once (`--host`).
    async fn host() -> Option<String> {
        Some("127.0.0.1".into())
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_millis(500)
    }

    #[tokio::test]
    async fn an_instance_in_the_vpc_probes_and_is_counted() {
        let plan = plan(None);
        let p = run(
            &plan,
            &inputs(),
            host(),
            async { Ok(instance("vpc-1")) },
            soon(),
        )
        .await
        .unwrap();
        assert!(p.vantage.probed);
        assert_eq!(p.addresses.len(), 1);
        let seen = plan.activity.snapshot();
        assert_eq!((seen.probes_total, seen.probes_open), (1, 0));
    }

    #[tokio::test]
    async fn off_an_instance_nothing_is_probed_unless_asked() {
        let p = run(
            &plan(None),
            &inputs(),
            host(),
            async { Err(Miss::NoAnswer) },
            soon(),
        )
        .await
        .unwrap();
        assert!(!p.vantage.probed && p.addresses.is_empty());
        assert!(p
            .vantage
            .summary()
            .contains("no instance metadata answered"));
        // --probe does not even ask the metadata.
        let p = run(
            &plan(Some(true)),
            &inputs(),
            host(),
            async { panic!("IMDS asked") },
            soon(),
        )
        .await
        .unwrap();
        assert!(p.vantage.probed);
        let p = run(
            &plan(Some(false)),
            &inputs(),
            host(),
            async { Err(Miss::NoAnswer) },
            soon(),
        )
        .await
        .unwrap();
        assert_eq!(p.vantage.reason, VantageReason::NoProbeFlag);
    }

    #[tokio::test]
    async fn deselecting_every_probe_check_probes_nothing() {
        let mut inputs = inputs();
        for id in PROBE_CHECKS {
            inputs
                .deselected
                .insert(id.to_string(), "deselected (--only)".into());
        }
        assert!(run(
            &plan(Some(true)),
            &inputs,
            host(),
            async { Err(Miss::NoAnswer) },
            soon()
        )
        .await
        .is_none());
        inputs.deselected.remove("NET001");
        assert!(wanted(&inputs));
    }

    #[tokio::test]
    async fn probes_from_another_vpc_are_dropped_once_the_vpc_is_known() {
        let p = run(
            &plan(None),
            &inputs(),
            host(),
            async { Ok(instance("vpc-2")) },
            soon(),
        )
        .await;
        let choice = VpcChoice {
            vpc_id: "vpc-1".into(),
            source: VpcSource::Instance,
        };
        let settled = settle(p, Some(&choice)).unwrap();
        assert!(!settled.vantage.probed && settled.addresses.is_empty());
        assert_eq!(
            settled.vantage.summary(),
            "not running inside vpc-1: this instance is in vpc-2"
        );
        let p = run(
            &plan(None),
            &inputs(),
            host(),
            async { Err(Miss::NoAnswer) },
            soon(),
        )
        .await;
        let settled = settle(p, Some(&choice)).unwrap();
        assert!(settled
            .vantage
            .summary()
            .starts_with("not running inside vpc-1"));
    }

    /// No host (no --host, and the service named none): nothing is probed,
    /// and the checks say why from the facts.
    #[tokio::test]
    async fn without_a_host_nothing_is_probed() {
        let p = run(
            &plan(Some(true)),
            &inputs(),
            async { None },
            async { Err(Miss::NoAnswer) },
            soon(),
        )
        .await;
        assert!(p.is_none());
        // Away from the client, the vantage still says why nothing was probed.
        let p = run(
            &plan(None),
            &inputs(),
            async { None },
            async { Err(Miss::NoAnswer) },
            soon(),
        )
        .await
        .unwrap();
        assert!(!p.vantage.probed);
    }
}
