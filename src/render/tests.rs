//! Snapshot and layout tests of both renderers, offline: reports judged
//! from committed facts (`testdata/facts-*.json`) with a fixed time.
//!
//! `cargo insta review` (or `INSTA_UPDATE=always cargo test --bin tidbpe
//! render::`) updates the snapshots after a deliberate change.

use std::time::{Duration, Instant};

use super::{human, json, Terminal, FIXED_WIDTH};
use crate::report::Report;

const HEALTHY: &str = include_str!("testdata/facts-healthy.json");
const BROKEN: &str = include_str!("testdata/facts-broken.json");
const UNKNOWN: &str = include_str!("testdata/facts-unknown.json");

/// The report of `facts`, as if made at a fixed time by a fixed version.
fn report(facts: &str) -> Report {
    let facts = serde_json::from_str(facts).expect("fixture facts parse");
    let mut report = Report::judge(facts);
    report.generated_at = "2026-03-01T12:00:00Z".into();
    report.tool.version = "0.0.0-test".into();
    report
}

fn human_at(report: &Report, term: Terminal) -> String {
    let mut out = Vec::new();
    human::render(report, &mut out, term).expect("render to a buffer");
    String::from_utf8(out).expect("UTF-8")
}

fn plain(report: &Report, width: usize) -> String {
    human_at(report, Terminal::plain(width))
}

fn json_of(report: &Report) -> String {
    let mut out = Vec::new();
    json(report, &mut out).expect("render to a buffer");
    String::from_utf8(out).expect("UTF-8")
}

#[test]
fn the_fixtures_are_healthy_broken_and_unknown() {
    use tidbpe_checks::{Status, Verdict};
    assert_eq!(report(HEALTHY).summary.verdict, Verdict::Healthy);
    assert_eq!(report(BROKEN).summary.verdict, Verdict::Broken);
    let unknown = report(UNKNOWN);
    assert_eq!(unknown.summary.verdict, Verdict::Incomplete);
    // Every check that reads AWS could not run; only the input check and
    // the unimplemented probes are anything else.
    for f in &unknown.findings {
        assert!(
            f.status == Status::Unknown
                || ["INP001", "VPC003"].contains(&f.id.as_str())
                || f.status == Status::Skip,
            "{} {:?}: {}",
            f.id,
            f.status,
            f.summary
        );
    }
}

// ---------------------------------------------------------------- snapshots

#[test]
fn human_healthy() {
    insta::assert_snapshot!(plain(&report(HEALTHY), FIXED_WIDTH));
}

#[test]
fn human_broken() {
    insta::assert_snapshot!(plain(&report(BROKEN), FIXED_WIDTH));
}

#[test]
fn human_unknown() {
    insta::assert_snapshot!(plain(&report(UNKNOWN), FIXED_WIDTH));
}

#[test]
fn human_broken_list_80() {
    insta::assert_snapshot!(plain(&report(BROKEN), 80));
}

#[test]
fn human_broken_list_60() {
    insta::assert_snapshot!(plain(&report(BROKEN), 60));
}

#[test]
fn human_healthy_list_80() {
    insta::assert_snapshot!(plain(&report(HEALTHY), 80));
}

#[test]
fn human_unknown_list_60() {
    insta::assert_snapshot!(plain(&report(UNKNOWN), 60));
}

#[test]
fn json_healthy() {
    insta::assert_snapshot!(json_of(&report(HEALTHY)));
}

#[test]
fn json_broken() {
    insta::assert_snapshot!(json_of(&report(BROKEN)));
}

#[test]
fn json_unknown() {
    insta::assert_snapshot!(json_of(&report(UNKNOWN)));
}

/// The JSON output is the report itself: it parses back to an equal value.
#[test]
fn json_round_trips() {
    for facts in [HEALTHY, BROKEN, UNKNOWN] {
        let report = report(facts);
        let back: serde_json::Value = serde_json::from_str(&json_of(&report)).unwrap();
        assert_eq!(back, serde_json::to_value(&report).unwrap());
    }
}

// ------------------------------------------------------------------ layout

/// Words of the report a user copies: resource IDs, ARNs, host and service
/// names, as they appear in summaries, fix texts and commands.
fn copyable_tokens(report: &Report) -> Vec<String> {
    let mut texts: Vec<&str> = Vec::new();
    for f in &report.findings {
        texts.push(&f.summary);
        if let Some(fix) = &f.fix {
            texts.push(&fix.text);
            texts.extend(fix.commands.iter().map(String::as_str));
        }
    }
    let prefixes = [
        "vpc-",
        "subnet-",
        "sg-",
        "vpce-",
        "eni-",
        "acl-",
        "dopt-",
        "i-",
        "arn:",
        "com.amazonaws.",
    ];
    let mut tokens: Vec<String> = texts
        .iter()
        .flat_map(|t| t.split(|c: char| c.is_whitespace() || ",;()\"'`".contains(c)))
        .map(|w| w.trim_end_matches(['.', ':']))
        .filter(|w| prefixes.iter().any(|p| w.starts_with(p)) || w.ends_with(".tidbcloud.com"))
        .map(str::to_string)
        .collect();
    tokens.sort();
    tokens.dedup();
    tokens
}

/// Every copyable word appears whole, and no line is wider than the
/// terminal unless it is a command or holds a single word too long to fit.
fn assert_fits(report: &Report, width: usize) {
    let out = plain(report, width);
    let tokens = copyable_tokens(report);
    assert!(!tokens.is_empty());
    for token in &tokens {
        assert!(
            out.contains(token.as_str()),
            "{token} is not whole at {width} columns:\n{out}"
        );
    }
    for line in out.lines() {
        let columns = line.chars().count();
        let is_command = line.starts_with("    ") && !line.trim_start().contains(": ");
        let words = line.split_whitespace().count();
        assert!(
            columns <= width || is_command || words <= 3,
            "a line of {columns} columns at {width}:\n{line}\n\n{out}"
        );
    }
}

#[test]
fn every_resource_id_is_whole_at_any_width() {
    for facts in [HEALTHY, BROKEN, UNKNOWN] {
        let report = report(facts);
        for width in [20, 30, 40, 60, 80, 99, 100, 120, FIXED_WIDTH, 200] {
            assert_fits(&report, width);
        }
    }
}

#[test]
fn narrow_terminals_get_a_list_wide_ones_a_table() {
    let report = report(BROKEN);
    for width in [60, 80, 99] {
        let out = plain(&report, width);
        assert!(!out.contains('│'), "no table at {width}:\n{out}");
        assert!(out.contains("✘ VPC002  "), "{out}");
    }
    for width in [FIXED_WIDTH, 200] {
        let out = plain(&report, width);
        assert!(out.contains("│ ✘ fail"), "a table at {width}:\n{out}");
    }
    // At 100 columns the 79-character ARN of AWS001 cannot sit beside the
    // titles without being split: a list. With short words only, a table.
    assert!(!plain(&report, 100).contains('│'));
    let mut short = report.clone();
    for f in &mut short.findings {
        f.summary = "a short summary".into();
    }
    assert!(plain(&short, 100).contains("│ ✘ fail"));
    assert!(!plain(&short, 99).contains('│'));
    // Below 30 columns the old table took 1,500 lines (21 checks); the
    // list stays short: under 20 lines a finding.
    let lines = plain(&report, 20).lines().count();
    assert!(lines < 800, "{lines} lines at 20 columns");
}

#[test]
fn commands_are_never_wrapped() {
    let report = report(BROKEN);
    let commands: Vec<&String> = report
        .findings
        .iter()
        .flat_map(|f| f.fix.iter().flat_map(|x| x.commands.iter()))
        .collect();
    assert!(commands.iter().any(|c| c.len() > 60));
    for width in [20, 60, 80, FIXED_WIDTH] {
        let out = plain(&report, width);
        for cmd in &commands {
            assert!(
                out.lines().any(|l| l == format!("    {cmd}")),
                "{cmd} not on one line at {width}:\n{out}"
            );
        }
    }
}

#[test]
fn colour_is_a_parameter() {
    let report = report(BROKEN);
    let coloured = human_at(
        &report,
        Terminal {
            colour: true,
            width: 80,
        },
    );
    assert!(coloured.contains("\x1b[1;31m✘\x1b[0m"), "{coloured}");
    let table = human_at(
        &report,
        Terminal {
            colour: true,
            width: FIXED_WIDTH,
        },
    );
    assert!(table.contains('\x1b'));
    for width in [80, FIXED_WIDTH] {
        assert!(!plain(&report, width).contains('\x1b'));
    }
}

// ------------------------------------------------------------------ hostile

/// A report from a stranger: escape sequences in an ARN and an error
/// message, a 1 MB summary, a 1 MB host. It renders fast, and nothing of
/// the escapes reaches the output.
#[test]
fn a_hostile_report_renders_fast_and_without_control_bytes() {
    let mut facts: serde_json::Value = serde_json::from_str(BROKEN).unwrap();
    let evil = "arn:aws:iam::123456789012:user/\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}1m\u{7f}x";
    facts["identity"]["Ok"]["arn"] = evil.into();
    facts["network_acls"]["Err"]["message"] = format!("denied\u{1b}[31m\r\n{evil}").into();
    facts["inputs"]["host"] = format!("{}.example.com", "a".repeat(1_000_000)).into();
    let mut report = report(&facts.to_string());
    report.findings[5].summary = format!("{}\u{7}", "word ".repeat(200_000));
    report.findings[6].summary = format!("\u{1b}[2J{}", "x".repeat(1_000_000));
    report.findings[6].status = tidbpe_checks::Status::Fail;
    if let Some(client) = report.context.client.as_mut() {
        client.instance_id = Some(evil.into());
    }
    for width in [60, FIXED_WIDTH] {
        let started = Instant::now();
        let out = plain(&report, width);
        let took = started.elapsed();
        assert!(took < Duration::from_millis(500), "{took:?} at {width}");
        assert!(!out.contains(['\u{1b}', '\u{7}', '\u{9b}', '\u{7f}', '\r']));
        assert!(out.contains("]0;pwned"), "the text stays, inert");
        // Capped: the report is not a megabyte of one word.
        assert!(out.len() < 200_000, "{} bytes", out.len());
    }
    // The JSON carries every character (the host nine times over): linear,
    // but serde_json in a debug build writes about 15 MB/s.
    let started = Instant::now();
    let json = json_of(&report);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(!json.contains(['\u{1b}', '\u{7}', '\u{9b}', '\u{7f}']));
}

/// The table path too: megabyte summaries of short words fit the table's
/// columns once capped, and comfy-table only ever sees the capped cells.
#[test]
fn megabyte_cells_in_the_table_render_fast() {
    let mut report = report(BROKEN);
    for f in &mut report.findings {
        f.summary = format!("\u{1b}[31m{}\u{7}", "word ".repeat(200_000));
        f.title = "title ".repeat(200_000);
    }
    let started = Instant::now();
    let out = plain(&report, FIXED_WIDTH);
    let took = started.elapsed();
    assert!(out.contains("│ ✘ fail"), "a table:\n{out}");
    assert!(took < Duration::from_millis(500), "{took:?}");
    assert!(!out.contains(['\u{1b}', '\u{7}']));
    assert!(out.contains("word word…"));
}

/// Many denied calls are one "could not check" block, listing every one,
/// with one fix: the policy. A denied call no finding names first (the
/// subnets, read after the endpoints) is listed too.
#[test]
fn denied_calls_make_one_block_with_one_fix() {
    use tidbpe_checks::testing::{deny, healthy};
    use tidbpe_checks::Need;
    let mut facts = healthy();
    for need in [
        Need::Endpoints,
        Need::SecurityGroups,
        Need::NetworkAcls,
        Need::HostedZones,
        Need::Subnets,
    ] {
        deny(&mut facts, need);
    }
    let out = plain(&Report::judge(facts), FIXED_WIDTH);
    assert_eq!(out.matches(": could not check").count(), 1, "{out}");
    assert_eq!(out.matches("    tidbpe iam-policy").count(), 1, "{out}");
    let block = &out[out.find(": could not check").unwrap_or(0)..];
    let block = block.split("\n\n").next().unwrap_or_default();
    for action in [
        "ec2:DescribeVpcEndpoints",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeNetworkAcls",
        "route53:ListHostedZonesByVPC",
        "ec2:DescribeSubnets",
    ] {
        assert!(block.contains(action), "{action} missing from\n{block}");
    }
}

/// The three-way view: the client's line carries what the probes saw (or
/// why they did not run), wrapped at spaces, every address whole.
#[test]
fn the_path_shows_what_the_client_saw() {
    use tidbpe_checks::path::PathConnection;
    let mut report = report(HEALTHY);
    let client = report
        .context
        .path
        .as_mut()
        .and_then(|p| p.client.as_mut())
        .expect("the healthy fixture has a client");
    client.resolved = vec!["10.0.1.10".parse().unwrap()];
    client.connections = vec![PathConnection {
        address: "10.0.1.10:4000".parse().unwrap(),
        tcp: "connected".into(),
        greeting: Some("TiDB 8.0.11-TiDB-v7.5.2-serverless, TLS offered".into()),
    }];
    for width in [60, 80, FIXED_WIDTH] {
        let out = plain(&report, width);
        let block: String = out
            .lines()
            .skip_while(|l| !l.starts_with("client  "))
            .take_while(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let block = block.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            block.contains(
                "resolved 10.0.1.10 · 10.0.1.10:4000 connected, TiDB 8.0.11-TiDB-v7.5.2-serverless, TLS offered"
            ),
            "{width}:\n{out}"
        );
    }
    let client = report
        .context
        .path
        .as_mut()
        .and_then(|p| p.client.as_mut())
        .expect("a client");
    client.connections.clear();
    client.resolved.clear();
    client.not_probed = Some("not running inside vpc-3bc1930b2128dcb00".into());
    assert!(plain(&report, FIXED_WIDTH).contains(
        "client  10.0.10.4 use1-az1 · not probed: not running inside vpc-3bc1930b2128dcb00"
    ));
}
