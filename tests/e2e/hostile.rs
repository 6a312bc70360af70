//! What a hostile new user found, end to end against the lab: a closed
//! standard output, a selection that leaves nothing to check, repeated
//! flags, an instance metadata service that answers shell code.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::{world, Run};

/// A private scratch directory, removed at the end.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("tidbpe-hostile-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `tidbpe doctor … --output FILE | true`: the reader of standard output is
/// gone before the report comes. The file must still be written, and the
/// exit code must still be the verdict (a closed pipe is no reason to say
/// "healthy").
#[test]
fn a_closed_standard_output_still_writes_the_file_and_keeps_the_verdict() {
    let w = world("dns-hostnames-off");
    let dir = Scratch::new("closed-stdout");
    let file = dir.0.join("report.json");
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let mut cmd = w.tidbpe();
    cmd.stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .args([
            "doctor",
            "--service-name",
            &w.service_name,
            "--vpc-id",
            &w.vpc_id,
            "--no-probe",
            "--timeout",
            "60",
            "--output",
            file.to_str().expect("utf-8 path"),
        ]);
    let out = cmd.output().expect("run tidbpe");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "VPC002 fails: {stderr}");
    let text = std::fs::read_to_string(&file).expect("the report file was written");
    let report: serde_json::Value = serde_json::from_str(&text).expect("the file is JSON");
    assert_eq!(report["summary"]["verdict"], "broken");
}

/// `--only` checks that all skip here (the client's checks, with no client):
/// nothing was looked at, which is not "Healthy".
#[test]
fn a_run_where_every_check_skipped_is_not_healthy() {
    let w = world("healthy");
    let run = w.doctor(&["--vpc-id", &w.vpc_id, "--only", "AZ002,SG002,ACL002"]);
    let report = run.json();
    assert_eq!(report["summary"]["pass"], 0, "{}", run.describe());
    assert_ne!(
        report["summary"]["verdict"],
        "healthy",
        "{}",
        run.describe()
    );
    assert_eq!(run.code, 3, "{}", run.describe());
    // The human verdict says that nothing was checked.
    let human = Run::of(w.tidbpe().args([
        "doctor",
        "--service-name",
        &w.service_name,
        "--vpc-id",
        &w.vpc_id,
        "--only",
        "AZ002,SG002,ACL002",
    ]));
    let last = human.stdout.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("Nothing checked"),
        "verdict line: {last}\n{}",
        human.stdout
    );
}
