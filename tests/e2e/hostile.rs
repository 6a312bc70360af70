//! What a hostile new user found, end to end against the lab: a closed
//! standard output, a selection that leaves nothing to check, repeated
//! flags, an instance metadata service that answers shell code.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::{world, Run, World};

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

/// `--az-id use1-az1 --az-id use1-az1` is one AZ ID, not two.
#[test]
fn a_repeated_az_id_counts_once() {
    let w = world("healthy");
    let run = w.doctor(&[
        "--vpc-id", &w.vpc_id, "--az-id", "use1-az1", "--az-id", "use1-az1", "--only", "SVC001",
    ]);
    assert_eq!(
        run.json()["inputs"]["az_ids"],
        serde_json::json!(["use1-az1"]),
        "{}",
        run.describe()
    );
    assert!(
        !run.summary("SVC001")
            .contains("use1-az1 (us-east-1b) and use1-az1"),
        "{}",
        run.summary("SVC001")
    );
}

/// A stand-in for the instance metadata service (IMDSv2) on loopback that
/// answers `values` (leaf path under `/latest/meta-data/` → text) for at
/// most `life`, then stops.
/// The leaves of the world's instance as an IMDS serves them, with the
/// VPC, subnet and group IDs of the interface given as they are.
pub(crate) fn imds_leaves(
    w: &World,
    vpc: &str,
    subnet: &str,
    groups: &str,
) -> Vec<(String, String)> {
    let mac = "0a:00:00:00:00:01";
    let net = |leaf: &str| format!("network/interfaces/macs/{mac}/{leaf}");
    vec![
        ("instance-id".to_string(), w.instance_id.clone()),
        ("mac".to_string(), mac.to_string()),
        (
            "placement/availability-zone".to_string(),
            "us-east-1b".to_string(),
        ),
        (
            "placement/availability-zone-id".to_string(),
            "use1-az1".to_string(),
        ),
        ("local-ipv4".to_string(), w.client_ip.to_string()),
        (net("vpc-id"), vpc.to_string()),
        (net("subnet-id"), subnet.to_string()),
        (net("security-group-ids"), groups.to_string()),
    ]
}

pub(crate) fn fake_imds(values: Vec<(String, String)>, life: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        let end = Instant::now() + life;
        while Instant::now() < end {
            match listener.accept() {
                Ok((stream, _)) => answer_imds(stream, &values),
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    url
}

fn answer_imds(stream: TcpStream, values: &[(String, String)]) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; length];
    let _ = reader.read_exact(&mut body);
    let mut parts = request.split_whitespace();
    let method = parts.next().unwrap_or_default();
    let path = parts.next().unwrap_or_default();
    let (status, extra, body) = if method == "PUT" {
        (
            "200 OK",
            "x-aws-ec2-metadata-token-ttl-seconds: 21600\r\n",
            "TOKEN".to_string(),
        )
    } else {
        let leaf = path.trim_start_matches("/latest/meta-data/");
        match values.iter().find(|(k, _)| k == leaf) {
            Some((_, v)) => ("200 OK", "", v.clone()),
            None => ("404 Not Found", "", String::new()),
        }
    };
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// The instance metadata is text from outside the process like any other:
/// an IMDS (a spoofed one, a container's stand-in) that answers shell code
/// as the VPC, subnet and groups must never see it in a printed command.
#[test]
fn shell_code_from_the_instance_metadata_never_reaches_a_command() {
    let w = world("healthy");
    let values = imds_leaves(
        w,
        &format!("{};touch PWNED", w.vpc_id),
        &format!("{}$(id)", w.subnets.client),
        &format!("{} sg-`id`\u{1b}[2J", w.groups.client),
    );
    let imds = fake_imds(values, Duration::from_secs(90));
    let mut cmd = w.tidbpe();
    cmd.env_remove("AWS_EC2_METADATA_DISABLED")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds);
    let run = w.doctor_with(&mut cmd, &["--no-probe"]);
    assert!(
        !run.stdout.contains('\u{1b}') && !run.stderr.contains('\u{1b}'),
        "an escape byte on the output"
    );
    if run.code != 2 {
        for f in run.json()["findings"].as_array().into_iter().flatten() {
            for c in f["fix"]["commands"].as_array().into_iter().flatten() {
                let c = c.as_str().unwrap_or_default();
                for bad in [";", "$", "`", "PWNED"] {
                    assert!(!c.contains(bad), "{} prints {c}", f["id"]);
                }
            }
        }
    } else {
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        assert!(run.stdout.is_empty());
    }
}

/// moto's own answer to an EC2 Query API request (`form`: the request's
/// body, `Action=…&Version=…&…`), read over plain HTTP: the body a test
/// garbles and has the fault proxy answer in its place.
fn moto_answer(w: &crate::common::World, form: &str) -> String {
    let addr = w.endpoint_url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).expect("connect to moto");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/{}/ec2/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        w.region,
        form.len()
    )
    .expect("send");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .expect("read moto's answer");
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_string()
}

/// A CIDR block of the wrong form in a rule (a proxy's garbling, a broken
/// mirror of the API): the rule was dropped, and the rules left denied
/// the traffic, a false `fail` (a dropped deny rule would have been a
/// false `pass`). Now the listing is of the wrong form: its checks are
/// `unknown`, nothing else changes.
#[test]
fn a_rule_with_a_cidr_of_the_wrong_form_is_unknown_not_a_deny() {
    let w = world("healthy");
    let filter = format!(
        "Version=2016-11-15&Filter.1.Name=vpc-id&Filter.1.Value.1={}",
        w.vpc_id
    );
    let acls = moto_answer(w, &format!("Action=DescribeNetworkAcls&{filter}"));
    let groups = moto_answer(w, &format!("Action=DescribeSecurityGroups&{filter}"));
    assert!(acls.contains("<cidrBlock>0.0.0.0/0</cidrBlock>"), "{acls}");
    assert!(groups.contains("<cidrIp>0.0.0.0/0</cidrIp>"), "{groups}");
    for (action, body, ids) in [
        (
            "DescribeNetworkAcls",
            acls.replace(
                "<cidrBlock>0.0.0.0/0</cidrBlock>",
                "<cidrBlock>0.0.0.0/0;x</cidrBlock>",
            ),
            ["ACL001", "ACL002"],
        ),
        (
            "DescribeSecurityGroups",
            groups.replace("<cidrIp>0.0.0.0/0</cidrIp>", "<cidrIp>all of it</cidrIp>"),
            ["SG001", "SG002"],
        ),
    ] {
        let proxy = crate::common::FaultProxy::for_lab();
        proxy.fail(action, 200, &body);
        let mut cmd = w.tidbpe();
        cmd.env("AWS_ENDPOINT_URL", proxy.url());
        let run = w.doctor_with(
            &mut cmd,
            &["--vpc-id", &w.vpc_id, "--instance-id", &w.instance_id],
        );
        run.expect(crate::common::Expect {
            unknown: &ids,
            ..crate::common::Expect::default()
        });
        for id in ids {
            let summary = run.summary(id);
            assert!(
                summary.contains(&format!("ec2:{action}"))
                    && summary.contains("wrong form")
                    && summary.contains("not a CIDR block")
                    && !summary.contains("all of it"),
                "{id}: {summary}"
            );
        }
        crate::common::assert_valid_report(&run.stdout);
    }
}

/// An endpoint interface or an instance answered with an address of the
/// wrong form: the address was dropped, so the endpoint "has no network
/// interface with an address yet" (SG002, ACL002 `skip`, exit 0) and the
/// client's address was unknown without a word (SG001 `warn`). Now each
/// is its call's answer of the wrong form.
#[test]
fn an_address_of_the_wrong_form_is_unknown_not_absent() {
    let w = world("healthy");
    let interfaces = moto_answer(
        w,
        &format!(
            "Action=DescribeNetworkInterfaces&Version=2016-11-15&Filter.1.Name=vpc-id&Filter.1.Value.1={}",
            w.vpc_id
        ),
    );
    let instances = moto_answer(
        w,
        &format!(
            "Action=DescribeInstances&Version=2016-11-15&InstanceId.1={}",
            w.instance_id
        ),
    );
    let garble = |body: &str, ip: &str| {
        assert!(body.contains(ip), "{ip} in {body}");
        body.replace(&format!(">{ip}<"), ">10.0.1.999<")
    };
    let first = w.endpoint_ips[0].to_string();
    for (action, body, ids) in [
        (
            "DescribeNetworkInterfaces",
            garble(&interfaces, &first),
            &["SG002", "ACL002"][..],
        ),
        (
            "DescribeInstances",
            garble(&instances, &w.client_ip.to_string()),
            &["AZ002", "SG001", "SG002", "ACL001", "ACL002", "IPV001"][..],
        ),
    ] {
        let proxy = crate::common::FaultProxy::for_lab();
        proxy.fail(action, 200, &body);
        let mut cmd = w.tidbpe();
        cmd.env("AWS_ENDPOINT_URL", proxy.url());
        let run = w.doctor_with(
            &mut cmd,
            &["--vpc-id", &w.vpc_id, "--instance-id", &w.instance_id],
        );
        run.expect(crate::common::Expect {
            unknown: ids,
            ..crate::common::Expect::default()
        });
        let summary = run.summary(ids[0]);
        assert!(
            summary.contains(&format!("ec2:{action}"))
                && summary.contains("not an IP address")
                && !summary.contains("999"),
            "{}: {summary}",
            ids[0]
        );
        crate::common::assert_valid_report(&run.stdout);
    }
}

/// Answers every HTTP request on `listener` with an empty 500 (bounded:
/// 20 connections, a 2-second read each).
fn answer_500(listener: TcpListener) {
    for stream in listener.incoming().take(20).flatten() {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let mut reader = BufReader::new(match stream.try_clone() {
            Ok(s) => s,
            Err(_) => continue,
        });
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
            line.clear();
        }
        let mut stream = stream;
        let _ = stream.write_all(
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    }
}

/// An instance metadata service that answers but refuses the session
/// token (HTTP 500) is not "not an EC2 instance": the probes say that it
/// answered, and how (was: every IMDS failure read as no IMDS at all).
#[test]
fn instance_metadata_answering_errors_is_not_called_no_ec2() {
    let w = world("healthy");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || answer_500(listener));
    let mut cmd = w.tidbpe();
    cmd.env_remove("AWS_EC2_METADATA_DISABLED")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &url)
        .args([
            "doctor",
            "--format",
            "json",
            "--service-name",
            &w.service_name,
            "--vpc-id",
            &w.vpc_id,
            "--instance-id",
            &w.instance_id,
            "--timeout",
            "10",
        ]);
    let run = Run::of(&mut cmd);
    let dns001 = run.summary("DNS001");
    assert!(
        dns001.contains("the instance metadata answered, but refused a session token"),
        "{dns001}\n{}",
        run.describe()
    );
    assert!(!dns001.contains("not an EC2 instance"), "{dns001}");
    // Turned off is said as such.
    let run = w.doctor(&["--vpc-id", &w.vpc_id, "--instance-id", &w.instance_id]);
    assert!(
        run.summary("DNS001")
            .contains("the instance metadata is turned off (AWS_EC2_METADATA_DISABLED=true)"),
        "{}",
        run.summary("DNS001")
    );
}
