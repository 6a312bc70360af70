//! Issue 11 items 1–4 end to end: `--cluster-json` (both shapes of
//! `ticloud serverless describe`, from a file and from standard input) fills
//! the inputs, TDB001 judges the cluster's state, INP001 fails a cluster off
//! AWS PrivateLink and a flag that disagrees with the file, bad files exit 2
//! naming the field, the report's `context.path` shows the three sides, and
//! `tidbpe checks --format json` lists the catalog.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::common::{assert_valid_report, tidbpe_isolated, world, Expect, Run, World};

/// `ticloud serverless describe` of the world's cluster, the current shape
/// (since ticloud v1.0.0-beta.2): `region.regionId` = `aws-us-east-1`.
fn describe_current(w: &World, state: &str) -> Value {
    json!({
        "annotations": {"tidb.cloud/has-set-password": "true"},
        "automatedBackupPolicy": {"retentionDays": 14, "startTime": "07:00"},
        "clusterId": "10058425682284910921",
        "createTime": "2025-03-10T08:21:43Z",
        "displayName": "orders-prod",
        "endpoints": {
            "private": {
                "aws": {
                    "availabilityZone": w.service_az_ids,
                    "serviceName": w.service_name,
                },
                "host": w.host,
                "port": 4000
            },
            "public": {"disabled": false, "host": "gateway01.us-east-1.prod.aws.tidbcloud.com", "port": 4000}
        },
        "highAvailabilityType": "ZONAL",
        "labels": {"tidb.cloud/organization": "30018", "tidb.cloud/project": "163469"},
        "name": "clusters/10058425682284910921",
        "region": {
            "cloudProvider": "aws",
            "displayName": "N. Virginia (us-east-1)",
            "name": format!("regions/aws-{}", w.region),
            "regionId": format!("aws-{}", w.region),
        },
        "servicePlan": "Starter",
        "state": state,
        "version": "v7.5.2"
    })
}

/// The 2024 shape (ticloud v1.0.0-beta.1): `region.id` = `us-east-1`,
/// `region.provider` = `AWS`.
fn describe_2024(w: &World, state: &str) -> Value {
    json!({
        "clusterId": "10058425682284910921",
        "displayName": "orders-prod",
        "endpoints": {
            "private": {
                "aws": {
                    "availabilityZone": w.service_az_ids,
                    "serviceName": w.service_name,
                },
                "host": w.host,
                "port": 4000
            },
            "public": {"disabled": false, "host": "gateway01.us-east-1.prod.aws.tidbcloud.com", "port": 4000}
        },
        "name": "clusters/10058425682284910921",
        "region": {
            "displayName": "N. Virginia (us-east-1)",
            "id": w.region,
            "name": format!("regions/aws-{}", w.region),
            "provider": "AWS"
        },
        "state": state,
        "version": "v7.5.2"
    })
}

/// A cluster on Google Cloud: `endpoints.private.gcp` instead of `.aws`.
fn describe_gcp() -> Value {
    json!({
        "clusterId": "10058425682284910999",
        "displayName": "orders-gcp",
        "endpoints": {"private": {
            "gcp": {"serviceAttachmentName": "projects/p/regions/us-central1/serviceAttachments/s"},
            "host": "gateway01-privatelink.us-central1.prod.gcp.tidbcloud.com",
            "port": 4000
        }},
        "region": {"cloudProvider": "gcp", "regionId": "gcp-us-central1", "name": "regions/gcp-us-central1"},
        "state": "ACTIVE"
    })
}

/// Run `cmd` with `input` on its standard input.
fn run_with_stdin(cmd: &mut Command, input: &[u8]) -> Run {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tidbpe");
    let mut stdin = child.stdin.take().expect("stdin");
    // A refused file is refused before it is read whole: the pipe may close.
    let _ = stdin.write_all(input);
    drop(stdin);
    let out = child.wait_with_output().expect("tidbpe's output");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A temporary file holding `text`.
fn file(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("cluster.json");
    std::fs::write(&path, text).expect("write the cluster description");
    let path = path.to_string_lossy().into_owned();
    (dir, path)
}

/// `tidbpe` that reaches nothing: a run that made an AWS call would get a
/// refused connection at once.
fn offline() -> Command {
    let mut cmd = tidbpe_isolated();
    cmd.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_MAX_ATTEMPTS", "1");
    cmd
}

/// Every check ID, from `tidbpe checks --format json`.
fn catalog_ids() -> Vec<String> {
    let run = Run::of(offline().args(["checks", "--format", "json"]));
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.json()["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter_map(|c| c["id"].as_str().map(str::to_string))
        .collect()
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The world judged from what the description says: no `--service-name`.
fn assert_filled_from_the_description(w: &World, run: &Run) {
    run.expect(Expect::default());
    let report = run.json();
    let inputs = &report["inputs"];
    assert_eq!(inputs["service_name"], w.service_name.as_str());
    assert_eq!(inputs["host"], w.host.as_str());
    assert_eq!(inputs["port"], 4000);
    assert_eq!(inputs["region"], w.region.as_str());
    assert_eq!(strs(&inputs["az_ids"]), w.service_az_ids);
    assert_eq!(inputs["cluster"]["state"], "ACTIVE");
    assert_eq!(
        run.summary("TDB001"),
        "cluster orders-prod (10058425682284910921) is ACTIVE: it serves connections"
    );
    // The three sides of the path, in the context.
    let path = &report["context"]["path"];
    assert_eq!(path["tidb"]["source"], "cluster-json");
    assert_eq!(path["tidb"]["service_name"], w.service_name.as_str());
    assert_eq!(strs(&path["tidb"]["az_ids"]), w.service_az_ids);
    let endpoint = w
        .endpoint_id
        .as_deref()
        .expect("the healthy world's endpoint");
    assert_eq!(path["aws"]["endpoint_id"], endpoint);
    assert_eq!(path["aws"]["private_dns_enabled"], true);
    let addresses: Vec<String> = w.endpoint_ips.iter().map(|ip| ip.to_string()).collect();
    assert_eq!(strs(&path["aws"]["addresses"]), addresses);
    let mut subnet_azs: Vec<String> = path["aws"]["subnets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["az_id"].as_str().map(str::to_string))
        .collect();
    subnet_azs.sort();
    assert_eq!(subnet_azs, ["use1-az1", "use1-az2"]);
    assert_eq!(path["client"]["address"], w.client_ip.to_string());
    assert_valid_report(&run.stdout);
}

#[test]
fn the_current_shape_from_a_file_fills_every_input() {
    let w = world("healthy");
    let (_dir, path) = file(&describe_current(w, "ACTIVE").to_string());
    let mut cmd = w.tidbpe();
    cmd.args(["doctor", "--format", "json", "--timeout", "60"])
        .args(["--vpc-id", &w.vpc_id, "--instance-id", &w.instance_id])
        .args(["--cluster-json", &path]);
    assert_filled_from_the_description(w, &Run::of(&mut cmd));
}

#[test]
fn the_2024_shape_from_standard_input_fills_every_input() {
    let w = world("healthy");
    let mut cmd = w.tidbpe();
    cmd.args(["doctor", "--format", "json", "--timeout", "60"])
        .args(["--vpc-id", &w.vpc_id, "--instance-id", &w.instance_id])
        .args(["--cluster-json", "-"]);
    let text = serde_json::to_string_pretty(&describe_2024(w, "ACTIVE")).unwrap();
    assert_filled_from_the_description(w, &run_with_stdin(&mut cmd, text.as_bytes()));
}

/// A paused cluster: every AWS check passes, and TDB001 says why the
/// connection still fails.
#[test]
fn a_paused_cluster_fails_tdb001_only() {
    let w = world("healthy");
    let mut cmd = w.tidbpe();
    cmd.args(["doctor", "--format", "json", "--timeout", "60"])
        .args(["--vpc-id", &w.vpc_id, "--instance-id", &w.instance_id])
        .args(["--cluster-json", "-"]);
    let text = describe_current(w, "PAUSED").to_string();
    let run = run_with_stdin(&mut cmd, text.as_bytes());
    run.expect(Expect {
        fail: &["TDB001"],
        ..Expect::default()
    });
    assert_eq!(
        run.summary("TDB001"),
        "cluster orders-prod (10058425682284910921) is PAUSED: it is paused and refuses every connection"
    );
    assert!(run.fix_text("TDB001").contains("Resume the cluster"));
    assert_eq!(
        run.fix_commands("TDB001"),
        "ticloud serverless describe -c 10058425682284910921"
    );
    assert_valid_report(&run.stdout);
}

/// A cluster on Google Cloud: INP001 fails with the seed's words, nothing
/// is asked of AWS, every AWS-side check is not applicable.
#[test]
fn a_gcp_cluster_fails_inp001_and_asks_nothing_of_aws() {
    let mut cmd = offline();
    cmd.args(["doctor", "--format", "json", "--cluster-json", "-"]);
    let run = run_with_stdin(&mut cmd, describe_gcp().to_string().as_bytes());
    assert_eq!(run.code, 1, "{}", run.describe());
    assert_eq!(run.status("INP001"), "fail");
    assert_eq!(
        run.summary("INP001"),
        "the cluster is on Google Cloud (us-central1): private endpoints via AWS PrivateLink do not apply to clusters on Google Cloud"
    );
    assert_eq!(run.status("TDB001"), "pass");
    for id in catalog_ids() {
        if id != "INP001" && id != "TDB001" {
            assert_eq!(run.status(&id), "skip", "{id}");
            assert!(
                run.summary(&id).starts_with(
                    "not applicable: AWS PrivateLink does not reach this cluster (on Google Cloud, see INP001)"
                ),
                "{id}: {}",
                run.summary(&id)
            );
        }
    }
    let report = run.json();
    assert!(
        report["facts"]["identity"].is_null(),
        "no AWS call was made"
    );
    assert_eq!(report["context"]["region"], "us-central1");
    assert_valid_report(&run.stdout);
    // The report replays: its region is the cluster's, not an AWS one.
    let (_dir, path) = file(&run.stdout);
    let replay = Run::of(offline().args(["analyze", &path, "--format", "json"]));
    assert_eq!(replay.code, 1, "{}", replay.describe());
    assert_eq!(replay.summary("INP001"), run.summary("INP001"));
}

/// Flags beside the file win, and INP001 names each flag and field with
/// both values. (`--only`: the verdict needs no AWS.)
#[test]
fn flags_that_disagree_with_the_file_fail_inp001_naming_both_values() {
    let w = world("healthy");
    let (_dir, path) = file(&describe_current(w, "ACTIVE").to_string());
    let other_host = "gateway02-privatelink.us-east-1.prod.aws.tidbcloud.com";
    let mut cmd = offline();
    cmd.args(["doctor", "--format", "json", "--timeout", "5"])
        .args(["--vpc-id", &w.vpc_id, "--only", "INP001,TDB001"])
        .args([
            "--cluster-json",
            &path,
            "--host",
            other_host,
            "--port",
            "4001",
        ]);
    let run = Run::of(&mut cmd);
    let skip: Vec<String> = catalog_ids()
        .into_iter()
        .filter(|id| id != "INP001" && id != "TDB001")
        .collect();
    let skip: Vec<&str> = skip.iter().map(String::as_str).collect();
    run.expect(Expect {
        fail: &["INP001"],
        skip: &skip,
        ..Expect::default()
    });
    let summary = run.summary("INP001");
    assert!(
        summary.contains(&format!(
            "--host {other_host}, but the cluster's endpoints.private.host is {}",
            w.host
        )),
        "{summary}"
    );
    assert!(
        summary.contains("--port 4001, but the cluster's endpoints.private.port is 4000"),
        "{summary}"
    );
    let report = run.json();
    // The flags win: they are what the doctor inspected.
    assert_eq!(report["inputs"]["host"], other_host);
    assert_eq!(report["inputs"]["port"], 4001);
    assert_eq!(report["inputs"]["cluster"]["host"], w.host.as_str());
    assert_eq!(report["context"]["path"]["tidb"]["host"], w.host.as_str());
}

/// Garbage, a wrong shape, a bad field or a file over 1 MiB: exit 2, one
/// line naming the flag and what is wrong, before any network call.
#[test]
fn bad_cluster_descriptions_exit_2_naming_the_field() {
    let w = world("healthy");
    let mut bad_port = describe_current(w, "ACTIVE");
    bad_port["endpoints"]["private"]["port"] = json!("4000");
    let mut bad_az = describe_current(w, "ACTIVE");
    bad_az["endpoints"]["private"]["aws"]["availabilityZone"] = json!(["use1-az1", "us-east-1a"]);
    let mut bad_service = describe_2024(w, "ACTIVE");
    bad_service["endpoints"]["private"]["aws"]["serviceName"] = json!("vpce-svc-0a1b2c3d; reboot");
    let oversize = format!(
        "{}{}",
        describe_current(w, "ACTIVE"),
        " ".repeat(1024 * 1024)
    );
    let cases: Vec<(String, &str)> = vec![
        ("ticloud: command not found".into(), "is not JSON"),
        ("[]".into(), "is not a JSON object"),
        (
            r#"{"clusters": [], "totalSize": 0}"#.into(),
            "is a list of clusters (`ticloud serverless list`)",
        ),
        (r#"{"state": "ACTIVE"}"#.into(), "region: missing"),
        (
            bad_port.to_string(),
            "endpoints.private.port: invalid type: string \"4000\", expected u16",
        ),
        (
            bad_az.to_string(),
            "endpoints.private.aws.availabilityZone[1]: not an AZ ID (such as use1-az1)",
        ),
        (
            bad_service.to_string(),
            "endpoints.private.aws.serviceName: not an endpoint service name",
        ),
        (oversize, "is larger than 1 MiB: refused"),
    ];
    for (text, expected) in &cases {
        for from_stdin in [false, true] {
            let mut cmd = offline();
            cmd.args(["doctor", "--format", "json"]);
            let run = if from_stdin {
                cmd.args(["--cluster-json", "-"]);
                run_with_stdin(&mut cmd, text.as_bytes())
            } else {
                let (_dir, path) = file(text);
                cmd.args(["--cluster-json", &path]);
                Run::of(&mut cmd)
            };
            assert_eq!(run.code, 2, "{expected}: {}", run.describe());
            assert!(run.stdout.is_empty(), "{expected}: {}", run.stdout);
            let lines: Vec<&str> = run.stderr.lines().collect();
            assert_eq!(lines.len(), 1, "one line: {:?}", run.stderr);
            assert!(
                lines[0].starts_with("tidbpe: --cluster-json: "),
                "{}",
                lines[0]
            );
            assert!(
                lines[0].contains(expected),
                "{} lacks {expected:?}",
                lines[0]
            );
            if from_stdin {
                assert!(lines[0].contains("standard input"), "{}", lines[0]);
            }
        }
    }
}

#[test]
fn the_flag_is_in_help_and_completions() {
    let help = Run::of(offline().args(["doctor", "--help"]));
    assert_eq!(help.code, 0);
    assert!(
        help.stdout.contains("--cluster-json <FILE|->"),
        "{}",
        help.stdout
    );
    for shell in ["bash", "zsh", "fish"] {
        let run = Run::of(offline().args(["completions", shell]));
        assert_eq!(run.code, 0);
        assert!(run.stdout.contains("cluster-json"), "{shell}");
    }
}

/// `tidbpe checks --format json`: every ID of the human list, with its
/// slug, title, needs and IAM actions (those of `tidbpe iam-policy`).
#[test]
fn checks_as_json_hold_every_id() {
    let run = Run::of(offline().args(["checks", "--format", "json"]));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc = run.json();
    assert_eq!(doc["schema"], "tidbpe.checks/v1");
    assert_eq!(doc["tool"]["name"], "tidbpe");
    let checks = doc["checks"].as_array().expect("a list of checks");
    let human = Run::of(offline().arg("checks"));
    let human_ids: Vec<&str> = human
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let ids: Vec<&str> = checks.iter().filter_map(|c| c["id"].as_str()).collect();
    assert_eq!(ids, human_ids);
    for id in [
        "INP001", "AWS001", "SVC001", "EP001", "SG001", "ACL002", "TDB001",
    ] {
        assert!(ids.contains(&id), "{id}");
    }
    let policy = Run::of(offline().arg("iam-policy")).json();
    let mut policy_actions = strs(&policy["Statement"][0]["Action"]);
    let mut actions: Vec<String> = checks
        .iter()
        .flat_map(|c| strs(&c["iam_actions"]))
        .collect();
    actions.sort();
    actions.dedup();
    policy_actions.sort();
    assert_eq!(actions, policy_actions);
    for c in checks {
        assert!(c["slug"].as_str().is_some_and(|s| !s.is_empty()), "{c}");
        assert!(c["title"].as_str().is_some_and(|s| !s.is_empty()), "{c}");
        assert!(c["implemented"].is_boolean(), "{c}");
        assert_eq!(
            c["needs"].as_array().map(Vec::len).unwrap_or(0) == 0,
            c["iam_actions"].as_array().map(Vec::len).unwrap_or(0) == 0,
            "{c}"
        );
    }
    let tdb001 = checks.iter().find(|c| c["id"] == "TDB001").expect("TDB001");
    assert_eq!(tdb001["slug"], "cluster-state");
    assert_eq!(tdb001["implemented"], true);
    let sg001 = checks.iter().find(|c| c["id"] == "SG001").expect("SG001");
    assert!(strs(&sg001["needs"]).contains(&"security-groups".to_string()));
    assert!(strs(&sg001["iam_actions"]).contains(&"ec2:DescribeSecurityGroups".to_string()));
}

/// The human report shows the three sides above the checks, at 80 columns
/// (the list) and at 140 (the table), every ID whole.
#[test]
fn the_human_report_shows_the_path_above_the_checks() {
    let w = world("healthy");
    let text = describe_current(w, "ACTIVE").to_string();
    let endpoint = w
        .endpoint_id
        .as_deref()
        .expect("the healthy world's endpoint");
    for columns in ["80", "140"] {
        let mut cmd = w.tidbpe();
        cmd.env("COLUMNS", columns)
            .args(["doctor", "--timeout", "60", "--cluster-json", "-"])
            .args(["--vpc-id", &w.vpc_id, "--instance-id", &w.instance_id]);
        let run = run_with_stdin(&mut cmd, text.as_bytes());
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
        let lines: Vec<&str> = run.stdout.lines().collect();
        let at = |label: &str| {
            lines
                .iter()
                .position(|l| l.starts_with(label))
                .unwrap_or_else(|| panic!("no {label:?} line at {columns}:\n{}", run.stdout))
        };
        let (tidb, aws, client) = (at("TiDB    "), at("AWS     "), at("client  "));
        let first_check = lines
            .iter()
            .position(|l| l.contains("INP001"))
            .expect("INP001");
        assert!(
            tidb < aws && aws < client && client < first_check,
            "{}",
            run.stdout
        );
        let block = lines[tidb..first_check].join("\n");
        for token in [
            w.host.as_str(),
            w.service_name.as_str(),
            endpoint,
            w.subnets.az1.as_str(),
        ] {
            assert!(
                block.contains(token),
                "{token} not whole at {columns}:\n{block}"
            );
        }
        assert!(block.contains("cluster ACTIVE"), "{block}");
        assert!(block.contains(&w.client_ip.to_string()), "{block}");
    }
}
