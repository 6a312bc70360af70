//! End-to-end tests of `--redact`: the real binary against the lab (moto in
//! server mode) with a redaction probe planted through the EC2, STS and
//! Route 53 APIs, against a real HTTP server that answers every AWS call
//! with an error echoing the request, and with a failing
//! `credential_process`. Checked string by string: nothing original is left
//! anywhere in the output, every resource ID is intact, the verdicts are
//! those of the unredacted run, and `analyze` of the redacted report gives
//! its own findings back.
//!
//! The probe is planted in a copy of the shared lab's healthy world
//! (`healthy#redact`), so no other test sees it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{assert_valid_report, python, world, Run};

/// The forms `--redact` must mask, as AWS error text and descriptions carry
/// them; short, so a cap on echoed text keeps them all.
const PROBE: &str = "User: arn:aws:sts::123456789012:assumed-role/Dev/jane@example.com \
    from 10.0.10.4:4000 (ip-10-0-10-4.ec2.internal, ip:10.0.10.4, host10.0.10.4, \
    [2001:db8::4]:4000, 2001:db8:0:0:0:0:0:5) user/jane vpc-0a123456789012b";

/// What must not survive redaction, wherever it stands. (The account is
/// looked for outside resource IDs: `vpc-0a123456789012b` holds it.)
const ORIGINALS: &[&str] = &[
    "123456789012",
    "jane",
    "example.com",
    "10.0.10.4",
    "10-0-10-4",
    "2001:db8:",
    "10.0.10.53",
    "10.0.0.0/16",
    "10.0.1.0/24",
    "10.0.2.0/24",
    "10.0.3.0/24",
    "10.0.10.0/24",
];

/// A copy of a world of the shared lab (the probe is planted in it), with
/// lab.py's JSON as it came.
struct Lab {
    info: Value,
}

impl Lab {
    fn start(scenario: &str) -> Lab {
        Lab {
            info: world(&format!("{scenario}#redact")).raw.clone(),
        }
    }

    fn s(&self, key: &str) -> String {
        self.info[key]
            .as_str()
            .unwrap_or_else(|| panic!("lab info has no string {key}: {}", self.info))
            .to_string()
    }

    /// Every resource ID the lab made (VPC, subnets, groups, instance, endpoint…).
    fn ids(&self) -> Vec<String> {
        let mut ids = Vec::new();
        collect_strings(&self.info, &mut ids);
        ids.retain(|s| {
            s.starts_with("com.amazonaws.vpce.")
                || s.split_once('-').is_some_and(|(kind, _)| {
                    ["vpc", "subnet", "sg", "i", "vpce", "dopt"].contains(&kind)
                })
        });
        ids
    }
}

fn collect_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

/// `tidbpe` with an environment that reaches nothing but loopback, and no
/// credentials: each test gives its own.
fn tidbpe() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tidbpe"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("NO_COLOR", "1");
    cmd
}

/// (ID, status) of every finding, in report order.
fn verdicts(run: &Run) -> Vec<(String, String)> {
    run.json()["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| (f["id"].to_string(), f["status"].to_string()))
        .collect()
}

/// Every original that is still in `text`, resource IDs set aside.
fn leftovers(text: &str, ids: &[String]) -> Vec<&'static str> {
    let mut rest = text.to_string();
    for id in ids {
        rest = rest.replace(id.as_str(), "");
    }
    rest = rest.replace("vpc-0a123456789012b", "");
    ORIGINALS
        .iter()
        .copied()
        .filter(|o| rest.contains(o))
        .collect()
}

/// The findings as `analyze` must give them back.
fn comparable(report: &Value) -> Vec<Value> {
    report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            serde_json::json!({
                "id": f["id"], "status": f["status"], "summary": f["summary"],
                "evidence": f["evidence"], "fix": f["fix"],
            })
        })
        .collect()
}

/// Plant the probe in the lab through the real APIs: a security-group rule
/// whose description holds every form (plus an IPv6 rule), a private hosted
/// zone named as an EC2 host, custom DHCP servers (the VPC resolver, the
/// CIDR base plus 2, among them), and credentials of an assumed role whose session name
/// is an e-mail address. Prints the credentials and the new IDs.
const PLANT: &str = r#"
import json, sys, boto3
info, probe = json.loads(sys.argv[1]), sys.argv[2]
url = info["endpoint_url"]
s = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
ec2, sts, r53 = (s.client(n, endpoint_url=url) for n in ("ec2", "sts", "route53"))
ec2.authorize_security_group_ingress(GroupId=info["endpoint_sg"], IpPermissions=[
    {"IpProtocol": "tcp", "FromPort": 4000, "ToPort": 4000,
     "IpRanges": [{"CidrIp": info["client_ip"] + "/32", "Description": probe}],
     "Ipv6Ranges": [{"CidrIpv6": "2001:db8:4::/48", "Description": "clients 2001:db8:4::10"}]}])
zone = r53.create_hosted_zone(Name="ip-10-0-10-4.ec2.internal", CallerReference="redact-probe",
    VPC={"VPCRegion": "us-east-1", "VPCId": info["vpc_id"]},
    HostedZoneConfig={"Comment": "probe", "PrivateZone": True})["HostedZone"]["Id"].split("/")[-1]
dopt = ec2.create_dhcp_options(DhcpConfigurations=[
    {"Key": "domain-name-servers", "Values": ["10.0.0.2", "10.0.10.53"]}])["DhcpOptions"]["DhcpOptionsId"]
ec2.associate_dhcp_options(DhcpOptionsId=dopt, VpcId=info["vpc_id"])
c = sts.assume_role(RoleArn="arn:aws:iam::123456789012:role/Dev",
                    RoleSessionName="jane@example.com")["Credentials"]
print(json.dumps({"key": c["AccessKeyId"], "secret": c["SecretAccessKey"], "token": c["SessionToken"],
                  "zone_id": zone, "dhcp_options_id": dopt}))
"#;

fn plant(lab: &Lab) -> Value {
    let out = Command::new(python())
        .args(["-c", PLANT, &lab.info.to_string(), PROBE])
        .output()
        .expect("run the planting script");
    assert!(
        out.status.success(),
        "planting failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the planting script prints JSON")
}

#[test]
fn a_redacted_report_keeps_no_original_keeps_ids_and_replays_to_its_own_findings() {
    let lab = Lab::start("healthy");
    let planted = plant(&lab);
    let (vpc, instance) = (lab.s("vpc_id"), lab.s("instance_id"));
    let run = |extra: &[&str]| {
        let mut cmd = tidbpe();
        cmd.env("AWS_ENDPOINT_URL", lab.s("endpoint_url"))
            .env(
                "AWS_ACCESS_KEY_ID",
                planted["key"].as_str().unwrap_or_default(),
            )
            .env(
                "AWS_SECRET_ACCESS_KEY",
                planted["secret"].as_str().unwrap_or_default(),
            )
            .env(
                "AWS_SESSION_TOKEN",
                planted["token"].as_str().unwrap_or_default(),
            )
            .args([
                "doctor",
                "--timeout",
                "60",
                "--service-name",
                &lab.s("service_name"),
            ])
            .args(["--vpc-id", &vpc, "--instance-id", &instance])
            .args(extra);
        Run::of(&mut cmd)
    };
    let dir = tempfile_dir("report");
    let file = dir.join("redacted.json");
    let plain = run(&["--format", "json"]);
    let redacted = run(&[
        "--format",
        "json",
        "--redact",
        "--output",
        &file.to_string_lossy(),
    ]);
    let human = run(&["--redact"]);

    let mut ids = lab.ids();
    for key in ["zone_id", "dhcp_options_id"] {
        ids.push(planted[key].as_str().unwrap_or_default().to_string());
    }
    // The probe is there to be found: every original is in the plain report.
    assert!(
        leftovers(&plain.stdout, &ids).len() == ORIGINALS.len(),
        "the probe did not reach the report: {:?}\n{}",
        leftovers(&plain.stdout, &ids),
        plain.stdout
    );
    let written = std::fs::read_to_string(&file).expect("--output wrote the report");
    for (what, text) in [
        ("JSON", &redacted.stdout),
        ("--output", &written),
        ("human", &human.stdout),
    ] {
        assert_eq!(
            leftovers(text, &ids),
            Vec::<&str>::new(),
            "originals left in the redacted {what} output:\n{text}"
        );
        assert!(!text.contains(planted["key"].as_str().unwrap_or("?")));
    }
    // The resource IDs are intact, the one with a 12-digit run too.
    for id in ids.iter().chain([&"vpc-0a123456789012b".to_string()]) {
        if plain.stdout.contains(id.as_str()) {
            assert!(redacted.stdout.contains(id.as_str()), "{id} is gone");
        }
    }
    assert!(redacted.stdout.contains("vpc-0a123456789012b"));
    // The role name stays; the session name and the account are masked.
    let report = redacted.json();
    let arn = report["facts"]["identity"]["Ok"]["arn"]
        .as_str()
        .unwrap_or_default();
    assert!(arn.contains(":assumed-role/Dev/"), "{arn}");

    // Verdicts are those of the unredacted run.
    assert_eq!(plain.code, redacted.code, "{}", redacted.stderr);
    assert_eq!(verdicts(&plain), verdicts(&redacted));
    assert_eq!(redacted.finding("VPC003")["status"], "warn");
    // VPC003 names the VPC resolver: the redacted VPC CIDR's base + 2, which
    // is the redacted first DHCP server (10.0.0.2 before redaction).
    let servers = &report["facts"]["dhcp_options"]["Ok"]["domain_name_servers"];
    assert_eq!(
        redacted.finding("VPC003")["evidence"]["vpc_resolver"],
        servers[0],
        "{}",
        redacted.finding("VPC003")["summary"]
    );
    // One value, one placeholder: the client as the context names it is
    // the client SG001 judged.
    let client_ip = report["context"]["client"]["private_ip"]
        .as_str()
        .unwrap_or_default();
    assert!(!client_ip.is_empty() && client_ip != lab.s("client_ip"));
    assert!(
        redacted.finding("SG001")["summary"]
            .as_str()
            .unwrap_or_default()
            .contains(client_ip),
        "{}",
        redacted.finding("SG001")["summary"]
    );

    // Replay: `analyze` of the redacted report gives its findings back.
    let replay = Run::of(tidbpe().args(["analyze", &file.to_string_lossy(), "--format", "json"]));
    assert_eq!(replay.code, redacted.code, "{}", replay.stderr);
    assert_eq!(comparable(&replay.json()), comparable(&report));
    assert_valid_report(&redacted.stdout);

    // `analyze --redact` of the plain report redacts its facts before
    // judging them again: the same verdicts, no original.
    let plain_file = dir.join("plain.json");
    std::fs::write(&plain_file, &plain.stdout).expect("write the plain report");
    let analyzed = Run::of(tidbpe().args([
        "analyze",
        &plain_file.to_string_lossy(),
        "--format",
        "json",
        "--redact",
    ]));
    assert_eq!(analyzed.code, plain.code, "{}", analyzed.stderr);
    assert_eq!(verdicts(&analyzed), verdicts(&plain));
    assert_eq!(leftovers(&analyzed.stdout, &ids), Vec::<&str>::new());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A real HTTP server that answers every AWS call with an AccessDenied
/// error whose message holds the probe and echoes the request (its line,
/// its credential, its body), as a misbehaving proxy or endpoint would.
struct EchoServer {
    url: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EchoServer {
    fn start() -> EchoServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the echo server");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            // Bounded: at most 500 requests, and the test stops it.
            for stream in listener.incoming().take(500) {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let _ = answer(stream);
                }
            }
        });
        EchoServer {
            url,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn answer(mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let (mut length, mut credential) = (0usize, String::new());
    for _ in 0..100 {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0).min(1 << 20);
        }
        if lower.starts_with("authorization:") {
            credential = line
                .split("Credential=")
                .nth(1)
                .and_then(|c| c.split(',').next())
                .unwrap_or_default()
                .to_string();
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let body = String::from_utf8_lossy(&body);
    let message = format!(
        "{PROBE}; request: {} {credential} {}",
        request_line.trim(),
        body.chars().take(120).collect::<String>()
    )
    .replace('&', "&amp;")
    .replace('<', "&lt;")
    .replace('>', "&gt;");
    let xml = if body.contains("Action=") && !body.contains("Action=GetCallerIdentity") {
        // EC2's error shape.
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>{message}</Message></Error></Errors><RequestID>0</RequestID></Response>")
    } else {
        // STS and Route 53.
        format!("<?xml version=\"1.0\"?><ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>{message}</Message></Error><RequestId>0</RequestId></ErrorResponse>")
    };
    write!(
        stream,
        "HTTP/1.1 403 Forbidden\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{xml}",
        xml.len()
    )?;
    stream.flush()
}

fn tempfile_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tidbpe-redact-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn aws_error_text_and_an_echoed_request_are_redacted_like_the_rest() {
    let server = EchoServer::start();
    let run = |redact: bool| {
        let mut cmd = tidbpe();
        cmd.env("AWS_ENDPOINT_URL", &server.url)
            .env("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
            .env(
                "AWS_SECRET_ACCESS_KEY",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            )
            .args(["doctor", "--format", "json", "--timeout", "20"])
            .args([
                "--service-name",
                "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0",
            ])
            .args(["--vpc-id", "vpc-0a1b2c3d", "--client-ip", "10.0.10.4"]);
        if redact {
            cmd.arg("--redact");
        }
        Run::of(&mut cmd)
    };
    let started = Instant::now();
    let plain = run(false);
    let redacted = run(true);
    assert!(started.elapsed() < Duration::from_secs(60));
    // The plain report carries the echoed text (so this test can fail)…
    assert!(
        plain.stdout.contains("jane@example.com"),
        "{}",
        plain.stdout
    );
    assert!(
        plain.stdout.contains("AKIAIOSFODNN7EXAMPLE"),
        "{}",
        plain.stdout
    );
    // …the redacted one still says what the error was, with nothing original.
    assert!(
        redacted.stdout.contains("assumed-role/Dev/user-"),
        "{}",
        redacted.stdout
    );
    assert_eq!(
        leftovers(&redacted.stdout, &[]),
        Vec::<&str>::new(),
        "{}",
        redacted.stdout
    );
    assert!(!redacted.stdout.contains("AKIAIOSFODNN7EXAMPLE"));
    assert!(!redacted.stdout.contains("wJalrXUtnFEMI"));
    // The input (--client-ip) is masked as the same value is everywhere.
    let report = redacted.json();
    let client = report["inputs"]["client_ip"].as_str().unwrap_or_default();
    assert!(
        client.starts_with("10.") && client != "10.0.10.4",
        "{client}"
    );
    assert_eq!(plain.code, redacted.code);
    assert_eq!(verdicts(&plain), verdicts(&redacted));
}

#[test]
fn a_failing_credential_process_is_redacted() {
    let dir = tempfile_dir("credential-process");
    let config = dir.join("config");
    std::fs::write(
        &config,
        format!("[default]\nregion = us-east-1\ncredential_process = sh -c 'echo \"{PROBE}\" >&2 && exit 1'\n"),
    )
    .expect("write the AWS config");
    let run = |redact: bool| {
        let mut cmd = tidbpe();
        cmd.env("AWS_CONFIG_FILE", &config)
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .args(["doctor", "--format", "json", "--timeout", "10"])
            .args([
                "--service-name",
                "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0",
            ])
            .args(["--vpc-id", "vpc-0a1b2c3d"]);
        if redact {
            cmd.arg("--redact");
        }
        Run::of(&mut cmd)
    };
    let plain = run(false);
    let redacted = run(true);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        plain.stdout.contains("jane@example.com"),
        "{}",
        plain.stdout
    );
    assert!(
        redacted.stdout.contains("assumed-role/Dev/user-"),
        "{}",
        redacted.stdout
    );
    assert_eq!(
        leftovers(&redacted.stdout, &[]),
        Vec::<&str>::new(),
        "{}",
        redacted.stdout
    );
    assert_eq!(verdicts(&plain), verdicts(&redacted));
}
