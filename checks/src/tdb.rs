//! TDB001 cluster-state: the TiDB side. With `--cluster-json`, is the
//! cluster `ACTIVE`, so that a connection that reaches it is served?

use std::collections::BTreeMap;

use crate::check::{explain, Check, Fix, Judged, Outcome, Status};
use crate::facts::{Cluster, Facts};

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
