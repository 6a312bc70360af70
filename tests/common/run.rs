//! One finished run of the binary, and assertions on its JSON report.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;

/// Checks this version of tidbpe reports as `skip` on every run because they
/// are not implemented yet. Empty since the live probes (issue 10).
pub const NOT_IMPLEMENTED: &[&str] = &[];

/// The checks that judge the live probes: `skip` on every run that did not
/// probe (the binary off an instance of the VPC without `--probe`, or with
/// `--no-probe`: every run outside the network-namespace lab, see
/// `tests/e2e/probes.rs`), each saying why.
pub const UNPROBED: &[&str] = &["DNS001", "DNS002", "DNS003", "NET001", "NET002", "TDB002"];

/// Checks that judge only what `--cluster-json` describes: `skip` on every
/// run without it (the report's `inputs.cluster` is absent).
pub const NEEDS_CLUSTER_JSON: &[&str] = &["TDB001"];

/// What a report must say, finding by finding: the IDs that fail, warn, are
/// unknown, and are skipped beside [`NOT_IMPLEMENTED`] (and [`UNPROBED`] when
/// the run did not probe, and, without `--cluster-json`,
/// [`NEEDS_CLUSTER_JSON`]); every other finding must pass. The exit code
/// follows (1 on a fail, else 3 on an unknown, else 0).
#[derive(Debug, Default, Clone, Copy)]
pub struct Expect<'a> {
    pub fail: &'a [&'a str],
    pub warn: &'a [&'a str],
    pub unknown: &'a [&'a str],
    pub skip: &'a [&'a str],
}

impl Expect<'_> {
    pub fn exit_code(&self) -> i32 {
        if !self.fail.is_empty() {
            1
        } else if !self.unknown.is_empty() {
            3
        } else {
            0
        }
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

impl Run {
    pub fn of(cmd: &mut Command) -> Run {
        let out = cmd.output().expect("run tidbpe");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    fn findings(&self) -> Vec<Value> {
        self.json()["findings"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub fn finding(&self, id: &str) -> Value {
        self.findings()
            .into_iter()
            .find(|f| f["id"] == id)
            .unwrap_or_else(|| panic!("no finding {id}\n{}", self.describe()))
    }

    /// A finding's one-line summary.
    pub fn summary(&self, id: &str) -> String {
        self.finding(id)["summary"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn status(&self, id: &str) -> String {
        self.finding(id)["status"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// IDs with the given status, in report order.
    pub fn with_status(&self, status: &str) -> Vec<String> {
        self.findings()
            .iter()
            .filter(|f| f["status"] == status)
            .filter_map(|f| f["id"].as_str().map(str::to_string))
            .collect()
    }

    /// Asserts the status of every finding (see [`Expect`]), that every skip
    /// gives its reason, and the exit code.
    pub fn expect(&self, want: Expect) {
        let findings = self.findings();
        assert!(!findings.is_empty(), "no findings\n{}", self.describe());
        let mut skip = set(want.skip);
        skip.extend(NOT_IMPLEMENTED.iter().map(|s| s.to_string()));
        let report = self.json();
        let probed = report["facts"]["probes"]["vantage"]["probed"] == true;
        if !probed {
            skip.extend(UNPROBED.iter().map(|s| s.to_string()));
            for id in UNPROBED {
                let said = self.summary(id);
                assert!(
                    said.starts_with("not running inside")
                        || said.starts_with("probes turned off")
                        || said.starts_with("deselected"),
                    "{id} did not say why it did not probe: {said}"
                );
            }
        }
        if self.json()["inputs"]["cluster"].is_null() {
            skip.extend(NEEDS_CLUSTER_JSON.iter().map(|s| s.to_string()));
        }
        let named = [
            ("fail", set(want.fail)),
            ("warn", set(want.warn)),
            ("unknown", set(want.unknown)),
            ("skip", skip),
        ];
        for (status, ids) in &named {
            let got: BTreeSet<String> = self.with_status(status).into_iter().collect();
            assert_eq!(&got, ids, "{status}s\n{}", self.describe());
        }
        for f in &findings {
            if f["status"] == "skip" {
                assert!(
                    !f["summary"].as_str().unwrap_or_default().trim().is_empty(),
                    "a skip without a reason: {f}"
                );
            }
            if !named.iter().any(|(status, _)| f["status"] == *status) {
                assert_eq!(f["status"], "pass", "{}", self.describe());
            }
        }
        assert_eq!(self.code, want.exit_code(), "{}", self.describe());
    }

    /// The fix commands of a finding, joined.
    pub fn fix_commands(&self, id: &str) -> String {
        self.finding(id)["fix"]["commands"]
            .as_array()
            .map(|cs| {
                cs.iter()
                    .filter_map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    }

    /// The fix text of a finding.
    pub fn fix_text(&self, id: &str) -> String {
        self.finding(id)["fix"]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Exit code, then one line per finding: for assertion messages.
    pub fn describe(&self) -> String {
        let Ok(report) = serde_json::from_str::<Value>(&self.stdout) else {
            return format!(
                "exit {}\nstdout:\n{}\nstderr:\n{}",
                self.code, self.stdout, self.stderr
            );
        };
        let mut text = format!("exit {}\n", self.code);
        for f in report["findings"].as_array().into_iter().flatten() {
            text.push_str(&format!("{} {} {}\n", f["id"], f["status"], f["summary"]));
        }
        if !self.stderr.is_empty() {
            text.push_str(&format!("stderr: {}", self.stderr));
        }
        text
    }
}
