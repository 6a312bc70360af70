//! The report: findings judged from facts, plus what a reader needs to
//! place them (inputs, discovered context, summary). Both renderers read it;
//! `tidbpe analyze` rebuilds it from the facts a JSON report carries.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tidbpe_checks::facts::{Client, Facts, Inputs, VpcChoice};
use tidbpe_checks::path::Path;
use tidbpe_checks::{judge_all, Finding, Status, Verdict};

pub const SCHEMA: &str = "tidbpe.report/v1";

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Report {
    #[schemars(extend("const" = "tidbpe.report/v1"))]
    pub schema: String,
    /// The tool that gathered the facts.
    pub tool: Tool,
    /// When the facts were gathered (RFC 3339, UTC).
    pub generated_at: String,
    /// When `tidbpe analyze` judged the facts again (RFC 3339, UTC); absent
    /// in a report straight from `tidbpe doctor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judged_at: Option<String>,
    /// The tool that judged them again, beside the one that gathered them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judged_by: Option<Tool>,
    pub inputs: Inputs,
    pub context: Context,
    pub summary: Summary,
    pub findings: Vec<Finding>,
    pub facts: Facts,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

/// What the doctor found out about where it runs and what it inspects.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct Context {
    pub account: Option<String>,
    pub region: String,
    pub vpc: Option<VpcChoice>,
    pub endpoint_id: Option<String>,
    pub client: Option<Client>,
    /// The connection path three ways: what TiDB Cloud expects, what AWS
    /// holds, what the client saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<Path>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
    pub unknown: usize,
    pub skip: usize,
    pub verdict: Verdict,
}

impl Report {
    /// Judge `facts` with the current catalog.
    pub fn judge(facts: Facts) -> Self {
        let findings = judge_all(&facts);
        let count = |s: Status| findings.iter().filter(|f| f.status == s).count();
        let summary = Summary {
            pass: count(Status::Pass),
            warn: count(Status::Warn),
            fail: count(Status::Fail),
            unknown: count(Status::Unknown),
            skip: count(Status::Skip),
            verdict: Verdict::of(&findings),
        };
        let endpoint_id = tidbpe_checks::main_endpoint_id(&facts);
        let context = Context {
            account: facts
                .identity
                .as_ref()
                .and_then(|i| i.as_ref().ok())
                .map(|i| i.account.clone()),
            region: facts.inputs.region.clone(),
            vpc: facts.vpc_choice.clone(),
            endpoint_id,
            client: facts.client.as_ref().and_then(|c| c.as_ref().ok()).cloned(),
            path: Some(Path::of(&facts)),
        };
        Report {
            schema: SCHEMA.to_string(),
            tool: this_tool(),
            generated_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now())
                .to_string(),
            judged_at: None,
            judged_by: None,
            inputs: facts.inputs.clone(),
            context,
            summary,
            findings,
            facts,
        }
    }
}

impl Report {
    /// Judge facts gathered earlier (`tidbpe analyze`): the report keeps
    /// who gathered them and when, and says who judged them again and when.
    pub fn rejudge(facts: Facts, gathered_by: Tool, gathered_at: String) -> Self {
        let mut report = Report::judge(facts);
        report.judged_at = Some(std::mem::replace(&mut report.generated_at, gathered_at));
        report.judged_by = Some(std::mem::replace(&mut report.tool, gathered_by));
        report
    }

    /// Who gathered the facts, and, for a report judged again, who judged
    /// them: `tidbpe 0.1.0`, or `facts by tidbpe 0.1.0 at …, judged by
    /// tidbpe 0.2.0 at …`.
    pub fn provenance(&self) -> String {
        match (&self.judged_by, &self.judged_at) {
            (Some(judge), Some(at)) => format!(
                "facts by {} {} at {}, judged by {} {} at {at}",
                self.tool.name, self.tool.version, self.generated_at, judge.name, judge.version
            ),
            _ => format!("{} {}", self.tool.name, self.tool.version),
        }
    }
}

/// The tool that runs now.
pub fn this_tool() -> Tool {
    Tool {
        name: env!("CARGO_PKG_NAME").to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use tidbpe_checks::probe_facts::PROBE_CHECKS;

    use super::*;
    use tidbpe_checks::Finding;

    const SCHEMA_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/report-v1.schema.json");

    /// The committed JSON Schema is the one the types define: a change to
    /// the report's shape must show up in the schema file (a public
    /// contract). `TIDBPE_UPDATE_SCHEMA=1 cargo test` rewrites it.
    #[test]
    fn the_committed_schema_matches_the_types() {
        let generated = schemars::schema_for!(Report);
        let text = serde_json::to_string_pretty(&generated).expect("schema serializes") + "\n";
        if std::env::var_os("TIDBPE_UPDATE_SCHEMA").is_some() {
            std::fs::write(SCHEMA_FILE, &text).expect("write the schema");
        }
        let committed = std::fs::read_to_string(SCHEMA_FILE).unwrap_or_default();
        assert!(
            committed == text,
            "{SCHEMA_FILE} is stale: run TIDBPE_UPDATE_SCHEMA=1 cargo test the_committed_schema"
        );
    }

    /// Reports made before the reshape (issue 7) replay to the same
    /// findings: facts of v1 still parse (sources, timings by action) and
    /// the catalog judges them as it did (the probe checks, then not
    /// implemented, now say the report has no probe facts).
    #[test]
    fn reports_from_before_the_reshape_replay_to_the_same_findings() {
        for name in [
            "report-v1-before-reshape.json",
            "report-v1-before-reshape-sg001-fail.json",
        ] {
            let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
            let text = std::fs::read_to_string(&path).expect("the fixture");
            let old: Report = serde_json::from_str(&text).expect("a report of v1");
            let facts: Facts = serde_json::from_value(
                serde_json::from_str::<serde_json::Value>(&text).expect("JSON")["facts"].clone(),
            )
            .expect("the facts of v1 parse");
            let new = Report::judge(facts);
            // They carry no probe facts: the probe checks skip, saying so;
            // checks added since (SVC002, DNS003, DNS004, IPV001, TDB001…)
            // skip on those facts; the others judge as they did.
            let probe = |f: &Finding| PROBE_CHECKS.contains(&f.id.as_str());
            for f in new.findings.iter().filter(|f| probe(f)) {
                assert_eq!(f.status, Status::Skip, "{name} {}", f.id);
                assert!(f.summary.contains("no probe facts"), "{name} {}", f.summary);
            }
            let (kept, added): (Vec<Finding>, Vec<Finding>) = new
                .findings
                .iter()
                .filter(|f| !probe(f))
                .cloned()
                .partition(|f| old.findings.iter().any(|o| o.id == f.id));
            for f in &added {
                assert_eq!(f.status, Status::Skip, "{name}: {} {}", f.id, f.summary);
            }
            let statuses = |findings: &[Finding]| -> Vec<(String, Status)> {
                findings.iter().map(|f| (f.id.clone(), f.status)).collect()
            };
            let old_kept: Vec<Finding> =
                old.findings.iter().filter(|f| !probe(f)).cloned().collect();
            assert_eq!(statuses(&kept), statuses(&old_kept), "{name}");
            // Issue 13 reworded EP004 (conflicts per private DNS name): same
            // verdict, new words; EP002 reads the service too, EP003 the
            // client and the VPC, so their time is the slowest of their
            // calls. Every other finding is the same, word for word.
            const REWORDED: &[&str] = &["EP004"];
            const NEEDS_GREW: &[&str] = &["EP002", "EP003"];
            let same = |findings: &[Finding]| -> Vec<Finding> {
                findings
                    .iter()
                    .filter(|f| !REWORDED.contains(&f.id.as_str()))
                    .cloned()
                    .map(|mut f| {
                        if NEEDS_GREW.contains(&f.id.as_str()) {
                            f.duration_ms = 0;
                        }
                        f
                    })
                    .collect()
            };
            assert_eq!(same(&kept), same(&old_kept), "{name}");
            // The context gained the path since; the rest is as it was.
            let mut context = serde_json::to_value(&new.context).unwrap();
            if let Some(c) = context.as_object_mut() {
                c.remove("path");
            }
            assert_eq!(
                context,
                serde_json::to_value(&old.context).unwrap(),
                "{name}"
            );
            assert_eq!(
                serde_json::to_value(&new.facts).unwrap(),
                serde_json::from_str::<serde_json::Value>(&text).unwrap()["facts"],
                "{name}: the facts do not round-trip"
            );
            assert_eq!(new.summary.verdict, old.summary.verdict, "{name}");
        }
    }

    #[test]
    fn a_rejudged_report_keeps_who_gathered_the_facts() {
        let gathered = Tool {
            name: "tidbpe".into(),
            version: "0.0.9".into(),
        };
        let report = Report::rejudge(
            Facts::default(),
            gathered.clone(),
            "2020-01-02T03:04:05Z".into(),
        );
        assert_eq!(report.tool, gathered);
        assert_eq!(report.generated_at, "2020-01-02T03:04:05Z");
        assert_eq!(report.judged_by, Some(this_tool()));
        let judged_at = report.judged_at.clone().expect("judged_at");
        assert!(judged_at.as_str() > "2020", "{judged_at}");
        let line = report.provenance();
        assert!(
            line.starts_with("facts by tidbpe 0.0.9 at 2020-01-02T03:04:05Z, judged by tidbpe "),
            "{line}"
        );
        assert_eq!(
            Report::judge(Facts::default()).provenance(),
            format!("tidbpe {}", env!("CARGO_PKG_VERSION"))
        );
    }
}
