//! The lab harness for end-to-end tests: start `tests/lab/lab.py` (moto in
//! server mode with one scenario built through the real EC2 API), run the
//! real `tidbpe` binary against it, read its JSON report. Every lab process
//! is stopped (by PID) when its `Lab` is dropped.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

/// How long a lab may take to start (moto's first calls are slow on a busy machine).
const LAB_START: Duration = Duration::from_secs(120);

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn python() -> PathBuf {
    std::env::var_os("TIDBPE_LAB_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".venv/bin/python"))
}

pub struct Lab {
    child: Child,
    pub info: Value,
}

impl Lab {
    pub fn start(scenario: &str) -> Lab {
        Self::spawn(scenario, false)
    }

    pub fn with_imds(scenario: &str) -> Lab {
        Self::spawn(scenario, true)
    }

    fn spawn(scenario: &str, imds: bool) -> Lab {
        let python = python();
        assert!(
            python.exists(),
            "{} is missing: run tests/lab/setup.sh first",
            python.display()
        );
        let mut cmd = Command::new(&python);
        cmd.arg(repo().join("tests/lab/lab.py"))
            .args(["--scenario", scenario])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if imds {
            cmd.arg("--imds");
        }
        let mut child = cmd.spawn().expect("start the lab");
        let stdout = child.stdout.take().expect("lab stdout");
        let mut stderr = child.stderr.take().expect("lab stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        // Drain stderr so the lab never blocks on a full pipe; keep it for failures.
        let (etx, erx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            let _ = etx.send(text);
        });
        let line = match rx.recv_timeout(LAB_START) {
            Ok(line) if !line.trim().is_empty() => line,
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                let err = erx.recv_timeout(Duration::from_secs(5)).unwrap_or_default();
                panic!("lab scenario {scenario} did not start:\n{err}");
            }
        };
        let info: Value = serde_json::from_str(&line).expect("lab prints JSON");
        Lab { child, info }
    }

    pub fn s(&self, key: &str) -> String {
        self.info[key]
            .as_str()
            .unwrap_or_else(|| panic!("lab info has no string {key}: {}", self.info))
            .to_string()
    }

    pub fn subnet(&self, name: &str) -> String {
        self.info["subnets"][name]
            .as_str()
            .expect("subnet")
            .to_string()
    }

    /// A `tidbpe` command aimed at this lab (no IMDS, dummy credentials).
    pub fn tidbpe(&self) -> Command {
        let mut cmd = tidbpe_isolated();
        cmd.env("AWS_ENDPOINT_URL", self.s("endpoint_url"));
        cmd
    }

    /// A `tidbpe` command that also sees the lab's IMDS server.
    pub fn tidbpe_on_instance(&self) -> Command {
        let mut cmd = self.tidbpe();
        cmd.env_remove("AWS_EC2_METADATA_DISABLED")
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", self.s("imds_url"));
        cmd
    }

    /// `tidbpe doctor --format json --service-name <lab's> …` with `args`.
    pub fn doctor(&self, args: &[&str]) -> Run {
        let mut cmd = self.tidbpe();
        self.doctor_with(&mut cmd, args)
    }

    pub fn doctor_with(&self, cmd: &mut Command, args: &[&str]) -> Run {
        self.doctor_for(cmd, &self.s("service_name"), args)
    }

    /// `tidbpe doctor --format json --service-name <service> …` against this lab.
    pub fn doctor_for(&self, cmd: &mut Command, service: &str, args: &[&str]) -> Run {
        cmd.args([
            "doctor",
            "--format",
            "json",
            "--timeout",
            "60",
            "--service-name",
            service,
        ]);
        cmd.args(args);
        Run::of(cmd)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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

/// One finished run of the binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
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

    pub fn finding(&self, id: &str) -> Value {
        let report = self.json();
        report["findings"]
            .as_array()
            .and_then(|fs| fs.iter().find(|f| f["id"] == id))
            .cloned()
            .unwrap_or_else(|| panic!("no finding {id}"))
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
        self.json()["findings"]
            .as_array()
            .map(|fs| {
                fs.iter()
                    .filter(|f| f["status"] == status)
                    .filter_map(|f| f["id"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
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

    pub fn describe(&self) -> String {
        let report = self.json();
        let mut text = format!("exit {}\n", self.code);
        for f in report["findings"].as_array().into_iter().flatten() {
            text.push_str(&format!("{} {} {}\n", f["id"], f["status"], f["summary"]));
        }
        text
    }
}

/// Validate a report against the committed JSON Schema with a real validator
/// (Python's `jsonschema`, from the lab's venv).
pub fn assert_valid_report(report_json: &str) {
    use std::io::Write;
    let mut child = Command::new(python())
        .arg(repo().join("tests/lab/validate_report.py"))
        .arg(repo().join("schema/report-v1.schema.json"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run the validator");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(report_json.as_bytes())
        .expect("feed the report");
    let out = child.wait_with_output().expect("validator output");
    assert!(
        out.status.success(),
        "the report does not match schema/report-v1.schema.json:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
