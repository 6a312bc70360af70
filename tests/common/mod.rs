//! The harness of the end-to-end tests: the real `tidbpe` binary against the
//! lab (`tests/lab/lab.py`: moto in server mode, worlds built through the EC2,
//! ELBv2 and Route 53 APIs, an IMDSv2 server per world), its JSON report read
//! back.
//!
//! - [`world`]`("healthy")` gives a typed [`World`] of the ONE lab this test
//!   binary shares: the lab starts on first use, builds each world on first
//!   request (worlds are isolated by their own VPCs and endpoint services),
//!   and dies with the test process (it exits when its stdin closes).
//! - [`Run`] is one finished run of the binary; [`Run::expect`] asserts the
//!   status of every finding at once, skips included ([`NOT_IMPLEMENTED`],
//!   and the probe checks, [`UNPROBED`], on a run that did not probe).
//! - [`FaultProxy`] sits between the binary and moto, per test, and answers a
//!   chosen AWS action with an error, late, or never.
//!
//! Nothing here reaches beyond 127.0.0.0/8: every command gets dummy
//! credentials, no proxies, and no instance metadata unless a test points it
//! at the lab's.

#![allow(dead_code, unused_imports)]

mod lab;
pub mod netns;
mod proxy;
mod run;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;

pub use lab::{lab_endpoint_url, start_lab_in_background, world, Groups, Lab, Subnets, World};
pub use proxy::{
    unauthorized_xml, FaultProxy, ACCESS_DENIED_STS_XML, EMPTY, REQUEST_LIMIT_XML,
    THROTTLING_R53_XML, UNAUTHORIZED_XML,
};
pub use run::{Expect, Run, NOT_IMPLEMENTED, UNPROBED};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The lab venv's Python (`TIDBPE_LAB_PYTHON` overrides it).
pub fn python() -> PathBuf {
    std::env::var_os("TIDBPE_LAB_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".venv/bin/python"))
}

/// `tidbpe` with an environment that cannot reach anything but loopback.
pub fn tidbpe_isolated() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tidbpe"));
    for var in [
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("NO_COLOR", "1");
    cmd
}

/// The statuses of a report's findings, by check ID, in report order.
pub fn statuses(report: &serde_json::Value) -> Vec<(String, String)> {
    report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| (f["id"].to_string(), f["status"].to_string()))
        .collect()
}

/// Validate a report against the committed JSON Schema with a real validator
/// (Python's `jsonschema`, from the lab's venv), in the binary's one
/// validator process.
pub fn assert_valid_report(report_json: &str) {
    static VALIDATOR: Mutex<Option<JsonLines>> = Mutex::new(None);
    let report: serde_json::Value = serde_json::from_str(report_json)
        .unwrap_or_else(|e| panic!("the report is not JSON ({e}):\n{report_json}"));
    let mut guard = VALIDATOR.lock().unwrap_or_else(|e| e.into_inner());
    let validator = guard.get_or_insert_with(|| {
        let mut cmd = Command::new(python());
        cmd.arg(repo().join("tests/lab/validate_report.py"))
            .arg(repo().join("schema/report-v1.schema.json"));
        JsonLines::spawn(cmd)
    });
    let answer = validator.ask(&report.to_string());
    let errors: Vec<&str> = answer["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("validate_report.py answered {answer}"))
        .iter()
        .filter_map(|e| e.as_str())
        .collect();
    assert!(
        errors.is_empty(),
        "the report does not match schema/report-v1.schema.json:\n{}",
        errors.join("\n")
    );
}

/// A helper process of the lab's Python that answers one JSON line for each
/// line it reads (the AWS CLI, the schema validator): started once per test
/// binary, it exits when the test process does (its stdin closes).
pub struct JsonLines {
    stdin: ChildStdin,
    answers: BufReader<ChildStdout>,
    name: String,
    _child: Child,
}

impl JsonLines {
    pub fn spawn(mut cmd: Command) -> JsonLines {
        let name = format!("{:?}", cmd.get_args().next().unwrap_or_default());
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        JsonLines {
            stdin: child.stdin.take().expect("piped stdin"),
            answers: BufReader::new(child.stdout.take().expect("piped stdout")),
            name,
            _child: child,
        }
    }

    /// Sends one line (without a newline in it) and reads the JSON answer.
    pub fn ask(&mut self, request: &str) -> serde_json::Value {
        let name = &self.name;
        writeln!(self.stdin, "{request}").unwrap_or_else(|e| panic!("write to {name}: {e}"));
        let mut line = String::new();
        self.answers
            .read_line(&mut line)
            .unwrap_or_else(|e| panic!("read {name}'s answer: {e}"));
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{name} answered {line:?}: {e}"))
    }
}
