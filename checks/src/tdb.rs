//! TDB001 cluster-state: the TiDB side. With `--cluster-json`, is the
//! cluster `ACTIVE`, so that a connection that reaches it is served? TDB002
//! tidb-authorization (its own section at the end): does the server turn
//! this endpoint away (TiDB Cloud's Authorized Networks), as far as the
//! live probes can tell?

use std::collections::BTreeMap;

use crate::check::{explain, Check, Fix, Judged, Need, Outcome, Status};
use crate::facts::{Cluster, Facts};
use crate::probe_facts::{AddressProbe, AfterGreeting, Greeting, TcpOutcome};
use crate::probing::probes;
use crate::read::{brief, main_endpoint};

pub(crate) const CLUSTER_STATE: Check = Check {
    id: "TDB001",
    slug: "cluster-state",
    title: "TiDB Cloud cluster is active",
    needs: &[],
    explain: explain!("TDB001"),
    judge: Some(cluster_state),
};

/// The command that writes what `--cluster-json` reads.
const DESCRIBE: &str = "ticloud serverless describe -c CLUSTER_ID | tidbpe doctor --cluster-json -";

/// What a state means for a connection, from the TiDB Cloud Serverless API
/// (`Commonv1beta1ClusterState`) and the console's status table.
struct State {
    name: &'static str,
    status: Status,
    /// "… : <meaning>" in the summary.
    meaning: &'static str,
    /// What to do.
    fix: &'static str,
}

const STATES: &[State] = &[
    State {
        name: "ACTIVE",
        status: Status::Pass,
        meaning: "it serves connections",
        fix: "",
    },
    State {
        name: "CREATING",
        status: Status::Fail,
        meaning: "it is being created and refuses connections until it is ACTIVE",
        fix: "Wait until the console shows the cluster as Available (usually under a minute), then connect again.",
    },
    State {
        name: "RESTORING",
        status: Status::Fail,
        meaning: "data is being restored from a backup; connections are blocked until the restore ends",
        fix: "Wait for the restore to finish (Data > Backup in the console shows its progress; it is cancelled after three hours), then connect again.",
    },
    State {
        name: "PAUSING",
        status: Status::Fail,
        meaning: "it is being paused; open connections are closed and new ones refused",
        fix: "Resume the cluster in the TiDB Cloud console once it is paused, or ask whoever paused it.",
    },
    State {
        name: "PAUSED",
        status: Status::Fail,
        meaning: "it is paused and refuses every connection",
        fix: "Resume the cluster in the TiDB Cloud console (cluster overview, Resume), wait until it is ACTIVE, then connect again.",
    },
    State {
        name: "RESUMING",
        status: Status::Fail,
        meaning: "it is resuming from a pause and refuses connections until it is ACTIVE",
        fix: "Wait until the cluster is ACTIVE (a few minutes), then connect again.",
    },
    State {
        name: "INACTIVE",
        status: Status::Fail,
        meaning: "it is not active (but not being deleted) and serves no connections",
        fix: "Open the cluster in the TiDB Cloud console to see why it is inactive (billing, spending limit, an operation by TiDB Cloud) and contact TiDB Cloud support with the cluster ID.",
    },
    State {
        name: "DELETING",
        status: Status::Fail,
        meaning: "it is being deleted",
        fix: "The cluster is going away: connect to another cluster, or, once it is deleted, restore it from its backups in the TiDB Cloud console.",
    },
    State {
        name: "DELETED",
        status: Status::Fail,
        meaning: "it has been deleted",
        fix: "Restore the cluster from its backups in the TiDB Cloud console while they are kept, or connect to another cluster; then describe the cluster you connect to again.",
    },
    State {
        name: "MAINTENANCE",
        status: Status::Warn,
        meaning: "it is under maintenance; connections work but may be closed while TiDB servers restart",
        fix: "Connections may drop until maintenance ends: use a connection pool with a maximum lifetime and retry on a closed connection.",
    },
    State {
        name: "UPGRADING",
        status: Status::Warn,
        meaning: "its TiDB version is being upgraded; connections may be closed while servers restart",
        fix: "Retry closed connections; run the doctor again when the cluster is ACTIVE.",
    },
    State {
        name: "MODIFYING",
        status: Status::Warn,
        meaning: "its configuration is being changed; connections may be closed while it changes",
        fix: "Retry closed connections; run the doctor again when the cluster is ACTIVE.",
    },
    State {
        name: "UPDATING",
        status: Status::Warn,
        meaning: "it is being updated; connections may be closed while it changes",
        fix: "Retry closed connections; run the doctor again when the cluster is ACTIVE.",
    },
    State {
        name: "SCALING",
        status: Status::Warn,
        meaning: "it is being scaled; connections may be closed while it changes",
        fix: "Retry closed connections; run the doctor again when the cluster is ACTIVE.",
    },
    State {
        name: "IMPORTING",
        status: Status::Warn,
        meaning: "data is being imported; it serves connections, and the tables being imported are not ready",
        fix: "Wait for the import to finish (Data > Import in the console) before using the tables it writes.",
    },
];

fn cluster_state(facts: &Facts) -> Judged {
    let Some(cluster) = &facts.inputs.cluster else {
        return Ok(Outcome::skip(format!(
            "the cluster's state needs --cluster-json: {DESCRIBE}"
        )));
    };
    let Some(state) = cluster.state.as_deref() else {
        return Ok(unknown(
            cluster,
            "the cluster description has no state: describe the cluster again with a current ticloud",
        ));
    };
    let Some(known) = STATES.iter().find(|s| s.name.eq_ignore_ascii_case(state)) else {
        return Ok(unknown(
            cluster,
            &format!("the cluster is {state}, a state this version of tidbpe does not know"),
        ));
    };
    let name = label(cluster);
    let summary = format!("{name} is {}: {}", known.name, known.meaning);
    let outcome = Outcome {
        status: known.status,
        summary,
        evidence: BTreeMap::new(),
        fix: None,
        why: None,
    };
    let outcome = evidence(outcome, cluster);
    Ok(if known.status == Status::Pass {
        outcome
    } else {
        outcome.with_fix(Fix {
            text: known.fix.into(),
            commands: vec![describe(cluster)],
        })
    })
}

/// `unknown`: the state could not be judged (never `pass`).
fn unknown(cluster: &Cluster, summary: &str) -> Outcome {
    let outcome = Outcome {
        status: Status::Unknown,
        summary: summary.to_string(),
        evidence: BTreeMap::new(),
        fix: None,
        why: None,
    };
    evidence(outcome, cluster).with_fix(Fix {
        text: "Check the cluster's state in the TiDB Cloud console: only ACTIVE serves connections without interruption.".into(),
        commands: vec![describe(cluster)],
    })
}

fn evidence(outcome: Outcome, cluster: &Cluster) -> Outcome {
    outcome
        .with("cluster_id", &cluster.cluster_id)
        .with("display_name", &cluster.display_name)
        .with("state", &cluster.state)
}

/// "cluster orders-prod (10058425682284910921)", or what of it is known.
fn label(cluster: &Cluster) -> String {
    match (&cluster.display_name, &cluster.cluster_id) {
        (Some(name), Some(id)) => format!("cluster {name} ({id})"),
        (Some(name), None) => format!("cluster {name}"),
        (None, Some(id)) => format!("cluster {id}"),
        (None, None) => "the cluster".to_string(),
    }
}

/// `ticloud serverless describe -c ID`, to see the state again.
fn describe(cluster: &Cluster) -> String {
    let id = cluster.cluster_id.as_deref().unwrap_or("CLUSTER_ID");
    format!("ticloud serverless describe -c {id}")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::testing::{healthy, FailCase};

    fn set_state(f: &mut Facts, state: &str) {
        if let Some(c) = &mut f.inputs.cluster {
            c.state = Some(state.into());
        }
    }

    /// Changes to the healthy world that make TDB001 fail or warn.
    pub(crate) const FAIL_CASES: &[FailCase] = &[
        FailCase {
            id: "TDB001",
            name: "paused cluster",
            expect: Status::Fail,
            mutate: |f| set_state(f, "PAUSED"),
        },
        FailCase {
            id: "TDB001",
            name: "deleted cluster",
            expect: Status::Fail,
            mutate: |f| set_state(f, "DELETED"),
        },
        FailCase {
            id: "TDB001",
            name: "cluster under maintenance",
            expect: Status::Warn,
            mutate: |f| set_state(f, "MAINTENANCE"),
        },
    ];

    fn judged(state: Option<&str>) -> crate::check::Finding {
        let mut f = healthy();
        if let Some(c) = &mut f.inputs.cluster {
            c.state = state.map(String::from);
        }
        CLUSTER_STATE.run(&f)
    }

    #[test]
    fn tdb001_fail_cases() {
        crate::testing::assert_fail_cases(FAIL_CASES);
    }

    #[test]
    fn tdb001_active_passes_in_any_case() {
        for state in ["ACTIVE", "active"] {
            let f = judged(Some(state));
            assert_eq!(f.status, Status::Pass, "{state}: {}", f.summary);
            assert!(f.fix.is_none());
        }
        assert_eq!(
            judged(Some("ACTIVE")).summary,
            "cluster orders-prod (10058425682284910921) is ACTIVE: it serves connections"
        );
    }

    #[test]
    fn tdb001_every_state_of_the_api_has_a_verdict_and_a_fix() {
        let states = [
            "CREATING",
            "DELETING",
            "RESTORING",
            "MAINTENANCE",
            "DELETED",
            "INACTIVE",
            "UPGRADING",
            "IMPORTING",
            "MODIFYING",
            "PAUSING",
            "PAUSED",
            "RESUMING",
            "UPDATING",
            "SCALING",
        ];
        for state in states {
            let f = judged(Some(state));
            assert!(
                matches!(f.status, Status::Fail | Status::Warn),
                "{state}: {:?}",
                f.status
            );
            assert!(f.summary.contains(state), "{}", f.summary);
            let fix = f.fix.expect("a fix");
            assert!(!fix.text.is_empty());
            assert_eq!(
                fix.commands,
                ["ticloud serverless describe -c 10058425682284910921"]
            );
        }
        for state in [
            "PAUSED", "PAUSING", "RESUMING", "DELETING", "DELETED", "CREATING",
        ] {
            assert_eq!(judged(Some(state)).status, Status::Fail, "{state}");
        }
        for state in ["MAINTENANCE", "UPGRADING", "MODIFYING"] {
            assert_eq!(judged(Some(state)).status, Status::Warn, "{state}");
        }
    }

    #[test]
    fn tdb001_an_unknown_or_missing_state_is_unknown_never_pass() {
        for state in [Some("CLUSTER_STATE_UNSPECIFIED"), Some("HIBERNATING"), None] {
            let f = judged(state);
            assert_eq!(f.status, Status::Unknown, "{state:?}: {}", f.summary);
        }
        assert!(judged(Some("HIBERNATING"))
            .summary
            .contains("HIBERNATING, a state this version of tidbpe does not know"));
    }

    #[test]
    fn tdb001_without_cluster_json_skips_with_the_command() {
        let mut f = healthy();
        f.inputs.cluster = None;
        let finding = CLUSTER_STATE.run(&f);
        assert_eq!(finding.status, Status::Skip);
        assert_eq!(
            finding.summary,
            "the cluster's state needs --cluster-json: ticloud serverless describe -c CLUSTER_ID | tidbpe doctor --cluster-json -"
        );
        assert_eq!(finding.fix, None);
    }
}

// ------------------------------------------------------------------ TDB002
// TiDB Cloud can limit private connections to listed endpoint IDs (the
// cluster's Settings → Networking → Authorized Networks; open to every
// private endpoint when no rule exists). No AWS call shows that list: the
// doctor can only see its effect, a server that accepts TCP and then hangs
// up before or right after its greeting. Advisory: a warning, never a fail.

pub(crate) const TIDB_AUTHORIZATION: Check = Check {
    id: "TDB002",
    slug: "tidb-authorization",
    title: "TiDB Cloud does not turn this endpoint away",
    // Only for the endpoint ID to add: the probes decide.
    needs: &[Need::Endpoints],
    explain: explain!("TDB002"),
    judge: Some(tidb_authorization),
};

/// What one connected address says about an authorization rule.
enum Seen {
    /// Greeted and waited for the client: nothing turned it away.
    Waited,
    /// Hung up (closed, reset, an ERR packet) before or right after the greeting.
    TurnedAway(String),
    /// The probe could not watch (the deadline came, a read failed).
    Unwatched(String),
    /// Something else (silence, garbage): NET002's to judge, not a refusal.
    Other,
}

fn seen(p: &AddressProbe) -> Option<Seen> {
    if p.connect.outcome != TcpOutcome::Connected {
        return None;
    }
    let addr = p.address;
    let read = match &p.greeting {
        None => {
            return Some(Seen::Unwatched(format!(
                "{addr}: its greeting was not read"
            )))
        }
        Some(g) => &g.greeting,
    };
    Some(match read {
        Greeting::Handshake(h) => match h.after {
            AfterGreeting::Waited | AfterGreeting::SentMore => Seen::Waited,
            AfterGreeting::Closed => Seen::TurnedAway(format!(
                "{addr} greeted ({}), then closed the connection at once",
                h.server_version
            )),
            AfterGreeting::Reset => Seen::TurnedAway(format!(
                "{addr} greeted ({}), then reset the connection at once",
                h.server_version
            )),
            AfterGreeting::NotWatched => Seen::Unwatched(format!(
                "{addr} greeted, but the deadline came before what followed could be watched"
            )),
        },
        Greeting::Closed { received, reset } => Seen::TurnedAway(format!(
            "{addr} {} the connection before its greeting ({received} bytes received)",
            if *reset { "reset" } else { "closed" }
        )),
        Greeting::Err { code, message, .. } => {
            Seen::TurnedAway(format!("{addr} refused with error {code}: {message}"))
        }
        Greeting::ReadError { error } => {
            Seen::Unwatched(format!("{addr}: reading its greeting failed: {error}"))
        }
        Greeting::Silent | Greeting::Garbage { .. } => Seen::Other,
    })
}

fn tidb_authorization(facts: &Facts) -> Judged {
    let probes = probes(facts)?;
    let endpoint = main_endpoint(facts).ok().map(|e| e.endpoint_id.clone());
    let id = endpoint.as_deref().unwrap_or("this endpoint's ID");
    let seen: Vec<Seen> = probes.addresses.iter().filter_map(seen).collect();
    if seen.is_empty() {
        return Err(Outcome::skip(
            "no TCP connection to the port succeeded: nothing to tell (see NET001)",
        ));
    }
    let turned: Vec<String> = seen
        .iter()
        .filter_map(|s| match s {
            Seen::TurnedAway(why) => Some(why.clone()),
            _ => None,
        })
        .collect();
    let unseen: Vec<String> = seen
        .iter()
        .filter_map(|s| match s {
            Seen::Unwatched(why) => Some(why.clone()),
            _ => None,
        })
        .collect();
    let outcome = if !turned.is_empty() {
        Outcome::warn(format!(
            "TCP connects, but {}: TiDB Cloud's Authorized Networks may not list {id}",
            brief(&turned)
        ))
        .with("turned_away", &turned)
        .with_fix(Fix {
            text: format!(
                "No AWS call shows TiDB Cloud's list of authorized private endpoints. In the TiDB Cloud console, open the cluster's Settings → Networking → Authorized Networks (Private Endpoint) and add a rule with the endpoint ID {id} (and the Service Name), or leave the table empty to allow every private endpoint. If {id} is listed already, the server refuses for another reason: see NET002."
            ),
            commands: vec![],
        })
    } else if !unseen.is_empty() {
        let mut o = Outcome::warn(format!(
            "could not see what the server does after connecting: {}",
            brief(&unseen)
        ))
        .with("not_seen", &unseen);
        o.status = Status::Unknown;
        o.with_fix(Fix {
            text: "Run the doctor again with a longer --timeout from where the client stands."
                .into(),
            commands: vec![],
        })
    } else if seen.iter().any(|s| matches!(s, Seen::Waited)) {
        Outcome::pass(format!(
            "the server greeted and waited for the client: nothing suggests TiDB Cloud turns {id} away (the doctor does not log in)"
        ))
    } else {
        return Err(Outcome::skip(
            "the server did not greet as MySQL: nothing to tell about authorization (see NET002)",
        ));
    };
    Ok(outcome.with("endpoint_id", &endpoint))
}

#[cfg(test)]
pub(crate) mod tdb002_tests {
    use super::*;
    use crate::probe_facts::GreetingRead;
    use crate::testing::{denied, healthy, probes_mut, FailCase, ENDPOINT};

    fn greeting(f: &mut Facts) -> &mut Greeting {
        match probes_mut(f).addresses[0].greeting.as_mut() {
            Some(GreetingRead { greeting, .. }) => greeting,
            None => panic!("the fixture greets"),
        }
    }

    fn after(f: &mut Facts, after: AfterGreeting) {
        if let Greeting::Handshake(h) = greeting(f) {
            h.after = after;
        }
    }

    /// Changes to the healthy world that make TDB002 warn, or unknown.
    pub(crate) const FAIL_CASES: &[FailCase] = &[
        FailCase {
            id: "TDB002",
            name: "the server closes right after its greeting",
            expect: Status::Warn,
            mutate: |f| after(f, AfterGreeting::Closed),
        },
        FailCase {
            id: "TDB002",
            name: "the server closes before its greeting",
            expect: Status::Warn,
            mutate: |f| {
                *greeting(f) = Greeting::Closed {
                    received: 0,
                    reset: false,
                }
            },
        },
        FailCase {
            id: "TDB002",
            name: "the deadline came before the server's move after its greeting",
            expect: Status::Unknown,
            mutate: |f| after(f, AfterGreeting::NotWatched),
        },
    ];

    #[test]
    fn tdb002_fail_cases() {
        crate::testing::assert_fail_cases(FAIL_CASES);
    }

    #[test]
    fn tdb002_a_server_that_hangs_up_names_the_endpoint_id_to_add() {
        for (name, change) in [
            (
                "closed after",
                Greeting::Closed {
                    received: 0,
                    reset: true,
                },
            ),
            (
                "ERR",
                Greeting::Err {
                    code: 1105,
                    sql_state: Some("HY000".into()),
                    message: "connection not allowed".into(),
                },
            ),
        ] {
            let mut f = healthy();
            *greeting(&mut f) = change;
            let finding = TIDB_AUTHORIZATION.run(&f);
            assert_eq!(finding.status, Status::Warn, "{name}: {}", finding.summary);
            assert!(
                finding
                    .summary
                    .contains(&format!("Authorized Networks may not list {ENDPOINT}")),
                "{}",
                finding.summary
            );
            let fix = finding.fix.unwrap().text;
            assert!(
                fix.contains("Settings → Networking → Authorized Networks"),
                "{fix}"
            );
            assert!(fix.contains(&format!("endpoint ID {ENDPOINT}")), "{fix}");
        }
        // Reset right after the greeting.
        let mut f = healthy();
        after(&mut f, AfterGreeting::Reset);
        let finding = TIDB_AUTHORIZATION.run(&f);
        assert!(
            finding.summary.contains("reset the connection at once"),
            "{}",
            finding.summary
        );
        // The endpoint listing failed: still said, without the ID.
        f.endpoints = Some(Err(denied(Need::Endpoints)));
        let finding = TIDB_AUTHORIZATION.run(&f);
        assert_eq!(finding.status, Status::Warn);
        assert!(
            finding.summary.contains("may not list this endpoint's ID"),
            "{}",
            finding.summary
        );
    }

    #[test]
    fn tdb002_without_probes_or_a_connection_it_skips() {
        let f = healthy();
        let pass = TIDB_AUTHORIZATION.run(&f);
        assert_eq!(pass.status, Status::Pass, "{}", pass.summary);
        let mut f = healthy();
        f.probes = None;
        let skip = TIDB_AUTHORIZATION.run(&f);
        assert_eq!(skip.status, Status::Skip);
        assert!(skip.summary.contains("no probe facts"), "{}", skip.summary);
        let mut f = healthy();
        probes_mut(&mut f).addresses[0].connect.outcome = TcpOutcome::Refused;
        probes_mut(&mut f).addresses[0].greeting = None;
        let skip = TIDB_AUTHORIZATION.run(&f);
        assert_eq!(skip.status, Status::Skip);
        assert!(skip.summary.contains("NET001"), "{}", skip.summary);
        // Silence is NET002's to judge.
        let mut f = healthy();
        *greeting(&mut f) = Greeting::Silent;
        assert_eq!(TIDB_AUTHORIZATION.run(&f).status, Status::Skip);
    }
}
