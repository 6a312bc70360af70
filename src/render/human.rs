//! The human report: context line, a table of every check, then why and how
//! to fix each fail, warn and unknown, and a one-line verdict. Colour only
//! when asked for (a terminal without `NO_COLOR`).

use std::io::{self, Write};

use colored::{ColoredString, Colorize};
use comfy_table::{presets, Cell, Color, ContentArrangement, Table};
use tidbpe_checks::{Finding, Status, Verdict};

use crate::report::Report;

pub fn mark(status: Status) -> ColoredString {
    match status {
        Status::Pass => "✔ pass".green(),
        Status::Warn => "! warn".yellow(),
        Status::Fail => "✘ fail".red().bold(),
        Status::Unknown => "? unknown".magenta(),
        Status::Skip => "- skip".dimmed(),
    }
}

/// Table cells are styled by comfy-table itself, so column widths ignore
/// the escape codes.
fn mark_cell(status: Status) -> Cell {
    let (text, color) = match status {
        Status::Pass => ("✔ pass", Color::Green),
        Status::Warn => ("! warn", Color::Yellow),
        Status::Fail => ("✘ fail", Color::Red),
        Status::Unknown => ("? unknown", Color::Magenta),
        Status::Skip => ("- skip", Color::DarkGrey),
    };
    Cell::new(text).fg(color)
}

/// Write the report; `colour` is decided by the caller (terminal, `NO_COLOR`).
pub fn render(report: &Report, out: &mut dyn Write, colour: bool) -> io::Result<()> {
    colored::control::set_override(colour);
    writeln!(out, "{}", context_line(report).bold())?;
    writeln!(out)?;

    let mut table = Table::new();
    table
        .load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(vec!["status", "check", "title", "summary"]);
    for f in &report.findings {
        table.add_row(vec![
            mark_cell(f.status),
            Cell::new(&f.id),
            Cell::new(&f.title),
            Cell::new(&f.summary),
        ]);
    }
    if colour {
        table.enforce_styling();
    } else {
        // Not a terminal: no styling, and a width a ticket or a log can hold.
        table.force_no_tty().set_width(140);
    }
    writeln!(out, "{table}")?;

    for f in report
        .findings
        .iter()
        .filter(|f| matches!(f.status, Status::Fail | Status::Warn))
    {
        writeln!(out)?;
        details(f, out)?;
    }
    // Unknowns often share one cause (no network, no permission, the
    // deadline): say it once, with the calls it hit.
    let mut unknowns: Vec<(String, Vec<&Finding>)> = Vec::new();
    for f in report
        .findings
        .iter()
        .filter(|f| f.status == Status::Unknown)
    {
        let cause = f.fix.as_ref().map(|x| x.text.clone()).unwrap_or_default();
        match unknowns.iter_mut().find(|(c, _)| *c == cause) {
            Some((_, group)) => group.push(f),
            None => unknowns.push((cause, vec![f])),
        }
    }
    for (_, group) in unknowns {
        writeln!(out)?;
        let ids: Vec<&str> = group.iter().map(|f| f.id.as_str()).collect();
        // The failed calls and what they said, each once.
        let mut actions: Vec<&str> = Vec::new();
        let mut messages: Vec<&str> = Vec::new();
        for f in &group {
            let error = f.evidence.get("error");
            let field = |k: &str| error.and_then(|e| e.get(k)).and_then(|v| v.as_str());
            let (action, message) = match (field("action"), field("message")) {
                (Some(a), Some(m)) => (Some(a), m),
                _ => (None, f.summary.as_str()),
            };
            if let Some(a) = action.filter(|a| !actions.contains(a)) {
                actions.push(a);
            }
            if !messages.contains(&message) {
                messages.push(message);
            }
        }
        writeln!(
            out,
            "{} {}: could not check",
            mark(Status::Unknown),
            ids.join(", ").bold()
        )?;
        if !actions.is_empty() {
            writeln!(out, "  {} {}", "calls:".bold(), actions.join(", "))?;
        }
        for message in messages {
            writeln!(out, "  {} {message}", "error:".bold())?;
        }
        if let Some(fix) = &group[0].fix {
            fix_lines(fix, out)?;
        }
    }
    writeln!(out)?;
    let s = &report.summary;
    let counts = format!(
        "{} fail, {} warn, {} unknown, {} pass, {} skip",
        s.fail, s.warn, s.unknown, s.pass, s.skip
    );
    let verdict = match s.verdict {
        Verdict::Healthy => {
            format!("Healthy: no broken link found by the checks that ran ({counts})")
                .green()
                .bold()
        }
        Verdict::Broken => format!("Broken: fix the failures above ({counts})")
            .red()
            .bold(),
        Verdict::Incomplete => format!("Incomplete: some checks could not run ({counts})")
            .magenta()
            .bold(),
    };
    writeln!(out, "{verdict}")
}

fn context_line(report: &Report) -> String {
    let c = &report.context;
    let mut parts = vec![report.provenance()];
    if let Some(account) = &c.account {
        parts.push(format!("account {account}"));
    }
    parts.push(c.region.clone());
    match &c.vpc {
        Some(v) => parts.push(format!("{} (from {})", v.vpc_id, vpc_source(&v.source))),
        None => parts.push("no VPC".into()),
    }
    if let Some(e) = &c.endpoint_id {
        parts.push(e.clone());
    }
    if let Some(client) = &c.client {
        let who = client
            .instance_id
            .clone()
            .or_else(|| client.private_ip.map(|ip| ip.to_string()))
            .unwrap_or_else(|| "client".into());
        parts.push(format!("client {who}"));
    }
    parts.join(" · ")
}

fn vpc_source(source: &str) -> &str {
    match source {
        "flag" => "--vpc-id",
        "imds" => "this instance",
        "instance" => "--instance-id",
        "endpoint" => "--endpoint-id",
        "unique-endpoint" => "the only endpoint for the service in the region",
        other => other,
    }
}

fn details(f: &Finding, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "{} {} {}: {}",
        mark(f.status),
        f.id.bold(),
        f.slug,
        f.summary
    )?;
    if let Some(why) = tidbpe_checks::find(&f.id).and_then(|c| why(c.explain)) {
        writeln!(out, "  {} {why}", "why:".bold())?;
    }
    match &f.fix {
        Some(fix) => fix_lines(fix, out),
        None => Ok(()),
    }
}

fn fix_lines(fix: &tidbpe_checks::Fix, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "  {} {}", "fix:".bold(), fix.text)?;
    for cmd in &fix.commands {
        writeln!(out, "    {}", cmd.cyan())?;
    }
    Ok(())
}

/// The "Why it matters." paragraph of an explain page, on one line.
fn why(page: &str) -> Option<String> {
    let start = page.find("**Why it matters.**")? + "**Why it matters.**".len();
    let rest = &page[start..];
    let end = rest.find("\n\n").unwrap_or(rest.len());
    Some(rest[..end].split_whitespace().collect::<Vec<_>>().join(" "))
}
