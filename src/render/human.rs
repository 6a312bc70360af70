//! The human report: context line, every check (a table on a wide terminal,
//! a list on a narrow one), then why and how to fix each fail, warn and
//! unknown, and a one-line verdict.
//!
//! Layout rules: prose wraps to the width at spaces and never inside a word,
//! so IDs, ARNs and host names stay whole and copyable; command lines are
//! never wrapped (the terminal soft-wraps them, and a copy keeps them whole).
//! Every string from the report passes through [`text::clean`] before it is
//! printed: a report may come from a stranger. Colour is a parameter
//! ([`Terminal`]); nothing here reads the environment.

use std::borrow::Cow;
use std::io::{self, Write};

use comfy_table::{
    presets, Cell, Color, ColumnConstraint, ContentArrangement, Table, Width as ColumnWidth,
};
use tidbpe_checks::path::{AwsSide, ClientSide, Path, TidbSide};
use tidbpe_checks::{FactError, FactErrorKind, Finding, Fix, Status, Verdict};

use super::text::{self, capped};
use super::Terminal;
use crate::report::Report;

/// From this width on, checks are shown as a table, if every word of every
/// cell fits its column; else as a list.
pub const TABLE_MIN_WIDTH: usize = 100;

/// What goes into one row of the table or the list, in characters: the
/// table's layout costs grow faster than linearly with a cell's length, and
/// a row is a one-line overview anyway. The details below keep more.
const CELL_MAX: usize = 200;

/// What a detail paragraph (a summary, an error, a fix) shows at most; the
/// JSON report keeps every character.
const DETAIL_MAX: usize = 4000;

/// Below this width, continuation lines are indented by at most 4 columns
/// instead of aligned under the text they continue.
const ALIGN_MIN_WIDTH: usize = 50;

/// Write the report for a terminal of `term.width` columns, in colour if
/// `term.colour`.
pub fn render(report: &Report, out: &mut dyn Write, term: Terminal) -> io::Result<()> {
    let mut o = Out {
        w: out,
        width: term.width,
        paint: Paint(term.colour),
    };
    let context = context_line(report);
    o.para(&words(&context, Style::Bold).collect::<Vec<_>>(), 2)?;
    if let Some(path) = &report.context.path {
        path_lines(&mut o, path)?;
    }
    o.blank()?;

    if term.width >= TABLE_MIN_WIDTH && table_fits(&report.findings, term.width) {
        table(&mut o, &report.findings)?;
    } else {
        list(&mut o, &report.findings)?;
    }

    for f in report
        .findings
        .iter()
        .filter(|f| matches!(f.status, Status::Fail | Status::Warn))
    {
        o.blank()?;
        details(&mut o, f)?;
    }
    unknowns(&mut o, report)?;

    o.blank()?;
    let s = &report.summary;
    let counts = format!(
        "{} fail, {} warn, {} unknown, {} pass, {} skip",
        s.fail, s.warn, s.unknown, s.pass, s.skip
    );
    let (verdict, style) = match s.verdict {
        Verdict::Healthy => (
            format!("Healthy: no broken link found by the checks that ran ({counts})"),
            Style::BoldGreen,
        ),
        Verdict::Broken => (
            format!("Broken: fix the failures above ({counts})"),
            Style::BoldRed,
        ),
        Verdict::Incomplete if s.pass + s.warn + s.fail + s.unknown == 0 => (
            format!("Nothing checked: every check was skipped, see why above ({counts})"),
            Style::BoldMagenta,
        ),
        Verdict::Incomplete => (
            format!("Incomplete: some checks could not run ({counts})"),
            Style::BoldMagenta,
        ),
    };
    o.para(&words(&verdict, style).collect::<Vec<_>>(), 2)
}

/// The status as a symbol, and its style in the text and in the table.
fn mark(status: Status) -> (&'static str, Style, Color) {
    match status {
        Status::Pass => ("✔", Style::Green, Color::Green),
        Status::Warn => ("!", Style::Yellow, Color::Yellow),
        Status::Fail => ("✘", Style::BoldRed, Color::Red),
        Status::Unknown => ("?", Style::Magenta, Color::Magenta),
        Status::Skip => ("-", Style::Dim, Color::DarkGrey),
    }
}

/// `✘ fail`, styled, as words.
fn mark_words(status: Status) -> [Word<'static>; 2] {
    let (symbol, style, _) = mark(status);
    [Word::new(symbol, style), Word::new(status.as_str(), style)]
}

// ---------------------------------------------------------------- overview

/// Fixed parts of a table row: five borders and one space of padding on
/// each side of four cells.
const TABLE_FRAME: usize = 5 + 4 * 2;

/// The table can show every row without splitting a word: each column is at
/// least as wide as its longest word.
fn table_fits(findings: &[Finding], width: usize) -> bool {
    let longest = |cell: fn(&Finding) -> &str, header: &str| {
        findings
            .iter()
            .map(|f| text::longest_word(&capped(cell(f), CELL_MAX)))
            .chain([header.len()])
            .max()
            .unwrap_or(0)
    };
    let status = "? unknown".len();
    let need = TABLE_FRAME
        + status
        + longest(|f| &f.id, "check")
        + longest(|f| &f.title, "title")
        + longest(|f| &f.summary, "summary");
    need <= width
}

fn table(o: &mut Out<'_>, findings: &[Finding]) -> io::Result<()> {
    let mut table = Table::new();
    table
        .load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(vec!["status", "check", "title", "summary"]);
    let (mut title_min, mut summary_min) = ("title".len(), "summary".len());
    for f in findings {
        let (symbol, _, colour) = mark(f.status);
        let title = capped(&f.title, CELL_MAX);
        let summary = capped(&f.summary, CELL_MAX);
        title_min = title_min.max(text::longest_word(&title));
        summary_min = summary_min.max(text::longest_word(&summary));
        let mut status = Cell::new(format!("{symbol} {}", f.status.as_str()));
        if o.paint.0 {
            status = status.fg(colour);
        }
        table.add_row(vec![
            status,
            Cell::new(capped(&f.id, CELL_MAX)),
            Cell::new(title),
            Cell::new(summary),
        ]);
    }
    // No column narrower than its longest word: comfy-table splits words
    // that do not fit, and a split ID cannot be copied. (Its boundaries
    // count the cell's padding, one space on each side.)
    let at_least = |n: usize| {
        ColumnConstraint::LowerBoundary(ColumnWidth::Fixed(
            u16::try_from(n + 2).unwrap_or(u16::MAX),
        ))
    };
    table.set_constraints(vec![
        ColumnConstraint::ContentWidth,
        ColumnConstraint::ContentWidth,
        at_least(title_min),
        at_least(summary_min),
    ]);
    table.set_width(u16::try_from(o.width).unwrap_or(u16::MAX));
    if o.paint.0 {
        table.enforce_styling();
    } else {
        table.force_no_tty();
    }
    writeln!(o.w, "{table}")
}

/// One entry per check: `✔ VPC001  title — summary`, wrapped at spaces,
/// continuation lines aligned under the title.
fn list(o: &mut Out<'_>, findings: &[Finding]) -> io::Result<()> {
    let id_width = findings
        .iter()
        .map(|f| text::width(&capped(&f.id, CELL_MAX)))
        .max()
        .unwrap_or(0);
    for f in findings {
        let (symbol, style, _) = mark(f.status);
        let id = capped(&f.id, CELL_MAX);
        let title = capped(&f.title, CELL_MAX);
        let summary = capped(&f.summary, CELL_MAX);
        let gap = id_width.saturating_sub(text::width(&id)) + 2;
        let mut line = vec![
            Word::new(symbol, style),
            Word::new(id, Style::Bold).gap(gap),
        ];
        line.extend(words(&title, Style::Plain));
        // The dash ends the title's last line rather than starting a line.
        let has_title = line.len() > 2;
        match line.last_mut() {
            Some(last) if has_title => last.text = format!("{} —", last.text).into(),
            _ => line.push(Word::new("—", Style::Plain)),
        }
        line.extend(words(&summary, Style::Plain));
        o.para(&line, 1 + 1 + id_width + 2)?;
    }
    Ok(())
}

// ----------------------------------------------------------------- details

/// Continuation lines of a finding's details align with the text after
/// `  why: ` and `  fix: `.
const DETAIL_INDENT: usize = 7;

fn details(o: &mut Out<'_>, f: &Finding) -> io::Result<()> {
    let id = capped(&f.id, CELL_MAX);
    let slug = format!("{}:", capped(&f.slug, CELL_MAX));
    let summary = capped(&f.summary, DETAIL_MAX);
    let mut line = Vec::from(mark_words(f.status));
    line.push(Word::new(id, Style::Bold));
    line.push(Word::new(slug, Style::Plain));
    line.extend(words(&summary, Style::Plain));
    o.para(&line, DETAIL_INDENT)?;
    // A finding's own why (a warning about something else than the page's
    // paragraph), else the explain page's.
    let own = f.why.clone();
    if let Some(why) = own.or_else(|| tidbpe_checks::find(&f.id).and_then(|c| why(c.explain))) {
        o.labelled("why:", &why)?;
    }
    match &f.fix {
        Some(fix) => fix_lines(o, fix),
        None => Ok(()),
    }
}

/// Unknowns often share one cause (no network, no permission, the
/// deadline, throttling): say it once, with every call it hit (from the
/// facts, so a call no finding names first is listed too). Denied calls
/// make one block with one fix: the whole policy.
fn unknowns(o: &mut Out<'_>, report: &Report) -> io::Result<()> {
    let findings = &report.findings;
    let error_of = |f: &Finding| -> Option<FactError> {
        f.evidence
            .get("error")
            .and_then(|e| serde_json::from_value(e.clone()).ok())
    };
    // One block per kind of error; credential and API errors, whose fixes
    // differ from check to check, per fix.
    let key = |f: &Finding| -> String {
        let kind = error_of(f).map(|e| e.kind);
        match kind {
            Some(k) if !matches!(k, FactErrorKind::Credentials | FactErrorKind::Api) => {
                format!("{k:?}")
            }
            _ => f.fix.as_ref().map_or("", |x| x.text.as_str()).to_string(),
        }
    };
    let mut groups: Vec<(String, Vec<&Finding>)> = Vec::new();
    for f in findings.iter().filter(|f| f.status == Status::Unknown) {
        let k = key(f);
        match groups.iter_mut().find(|(c, _)| *c == k) {
            Some((_, group)) => group.push(f),
            None => groups.push((k, vec![f])),
        }
    }
    for (_, group) in groups {
        o.blank()?;
        // The failed calls and what they said, each once.
        let mut actions: Vec<String> = Vec::new();
        let mut messages: Vec<String> = Vec::new();
        let kind = error_of(group[0]).map(|e| e.kind);
        for f in &group {
            let (action, message) = match error_of(f) {
                Some(e) => (Some(e.action), e.message),
                None => (None, f.summary.clone()),
            };
            if let Some(a) = action.filter(|a| !actions.contains(a)) {
                actions.push(a);
            }
            if !messages.contains(&message) {
                messages.push(message);
            }
        }
        if let Some(kind) = kind.filter(|k| *k != FactErrorKind::Credentials) {
            for e in report.facts.errors().into_iter().filter(|e| e.kind == kind) {
                if !actions.contains(&e.action) {
                    actions.push(e.action.clone());
                }
            }
        }
        let ids: Vec<Cow<'_, str>> = group.iter().map(|f| capped(&f.id, CELL_MAX)).collect();
        let ids = format!("{}: could not check", ids.join(", "));
        let mut line = Vec::from(mark_words(Status::Unknown));
        line.extend(words(&ids, Style::Bold));
        o.para(&line, DETAIL_INDENT)?;
        if !actions.is_empty() {
            o.labelled("calls:", &actions.join(", "))?;
        }
        for message in &messages {
            o.labelled("error:", message)?;
        }
        if kind == Some(FactErrorKind::AccessDenied) {
            let fix = Fix {
                text: format!(
                    "Allow {} to the identity running tidbpe (`tidbpe iam-policy` prints the whole read-only policy), then run the doctor again.",
                    actions.join(", ")
                ),
                commands: vec!["tidbpe iam-policy".to_string()],
            };
            fix_lines(o, &fix)?;
        } else if let Some(fix) = &group[0].fix {
            fix_lines(o, fix)?;
        }
    }
    Ok(())
}

fn fix_lines(o: &mut Out<'_>, fix: &Fix) -> io::Result<()> {
    o.labelled("fix:", &fix.text)?;
    for cmd in &fix.commands {
        // Never wrapped: a command is copied whole.
        let cmd = capped(cmd, DETAIL_MAX);
        writeln!(o.w, "    {}", o.paint.paint(Style::Cyan, &cmd))?;
    }
    Ok(())
}

fn context_line(report: &Report) -> String {
    let c = &report.context;
    let mut parts = vec![report.provenance()];
    if let Some(account) = &c.account {
        parts.push(format!("account {account}"));
    }
    parts.push(c.region.clone());
    match &c.vpc {
        Some(v) => parts.push(format!(
            "{} (from {})",
            v.vpc_id,
            vpc_source(v.source.as_str())
        )),
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
    // Each part capped and clean: a hostile report's values must not fill
    // the screen or reach the terminal raw.
    let parts: Vec<Cow<'_, str>> = parts.iter().map(|p| capped(p, CELL_MAX)).collect();
    parts.join(" · ")
}

/// The labels of the three-way view, and the column its text starts in.
const PATH_LABEL_WIDTH: usize = 8;

/// The connection path three ways, one line each (wrapped at spaces):
/// what TiDB Cloud expects, what AWS holds, what the client saw.
fn path_lines(o: &mut Out<'_>, path: &Path) -> io::Result<()> {
    let rows = [
        ("TiDB", path.tidb.as_ref().map(tidb_parts)),
        ("AWS", path.aws.as_ref().map(aws_parts)),
        ("client", path.client.as_ref().map(client_parts)),
    ];
    for (label, parts) in rows {
        let Some(parts) = parts.filter(|p| !p.is_empty()) else {
            continue;
        };
        // Each part capped and clean, like the context line; the dot that
        // separates two parts ends the first one's last line.
        let parts: Vec<Cow<'_, str>> = parts.iter().map(|p| capped(p, CELL_MAX)).collect();
        let gap = PATH_LABEL_WIDTH.saturating_sub(text::width(label));
        let mut line = vec![Word::new(label, Style::Bold).gap(gap)];
        for (i, part) in parts.iter().enumerate() {
            let start = line.len();
            line.extend(words(part, Style::Plain));
            if i + 1 < parts.len() && line.len() > start {
                if let Some(last) = line.last_mut() {
                    last.text = format!("{} ·", last.text).into();
                }
            }
        }
        o.para(&line, PATH_LABEL_WIDTH)?;
    }
    Ok(())
}

fn tidb_parts(t: &TidbSide) -> Vec<String> {
    let mut parts = Vec::new();
    match (&t.host, t.port) {
        (Some(host), Some(port)) => parts.push(format!("{host}:{port}")),
        (Some(host), None) => parts.push(host.clone()),
        (None, Some(port)) => parts.push(format!("port {port}")),
        (None, None) => {}
    }
    if let Some(service) = &t.service_name {
        parts.push(service.clone());
    }
    if !t.az_ids.is_empty() {
        parts.push(format!("AZ {}", t.az_ids.join(", ")));
    }
    if let Some(state) = &t.state {
        parts.push(format!("cluster {state}"));
    }
    if let Some(source) = &t.source {
        parts.push(match source.as_str() {
            "cluster-json" => "(from --cluster-json)".to_string(),
            "flags" => "(from the flags)".to_string(),
            other => format!("(from {other})"),
        });
    }
    parts
}

fn aws_parts(a: &AwsSide) -> Vec<String> {
    let mut parts = Vec::new();
    match &a.endpoint_id {
        Some(id) => {
            let mut endpoint = id.clone();
            if let Some(state) = &a.endpoint_state {
                endpoint.push_str(&format!(" {state}"));
            }
            match a.private_dns_enabled {
                Some(true) => endpoint.push_str(", private DNS on"),
                Some(false) => endpoint.push_str(", private DNS off"),
                None => {}
            }
            parts.push(endpoint);
        }
        None => parts.push("no endpoint for the service".to_string()),
    }
    for subnet in &a.subnets {
        parts.push(match &subnet.az_id {
            Some(az) => format!("{} {az}", subnet.subnet_id),
            None => subnet.subnet_id.clone(),
        });
    }
    if !a.addresses.is_empty() {
        let ips: Vec<String> = a.addresses.iter().map(|ip| ip.to_string()).collect();
        parts.push(ips.join(", "));
    }
    if !a.service_az_ids.is_empty() {
        parts.push(format!("service in {}", a.service_az_ids.join(", ")));
    }
    parts
}

fn client_parts(c: &ClientSide) -> Vec<String> {
    let mut parts = Vec::new();
    match (c.address, &c.az_id) {
        (Some(ip), Some(az)) => parts.push(format!("{ip} {az}")),
        (Some(ip), None) => parts.push(ip.to_string()),
        (None, Some(az)) => parts.push(az.clone()),
        (None, None) => {}
    }
    if !c.resolved.is_empty() {
        let ips: Vec<String> = c.resolved.iter().map(|ip| ip.to_string()).collect();
        parts.push(format!("resolved {}", ips.join(", ")));
    }
    for conn in &c.connections {
        let mut seen = format!("{} {}", conn.address, conn.tcp);
        if let Some(greeting) = &conn.greeting {
            seen.push_str(&format!(", {greeting}"));
        }
        parts.push(seen);
    }
    if let Some(why) = &c.not_probed {
        parts.push(format!("not probed: {why}"));
    }
    parts
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

/// The "Why it matters." paragraph of an explain page, on one line.
fn why(page: &str) -> Option<String> {
    let start = page.find("**Why it matters.**")? + "**Why it matters.**".len();
    let rest = &page[start..];
    let end = rest.find("\n\n").unwrap_or(rest.len());
    Some(rest[..end].split_whitespace().collect::<Vec<_>>().join(" "))
}

// ------------------------------------------------------------------ output

/// The few styles the report uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Bold,
    Dim,
    Cyan,
    Green,
    Yellow,
    Magenta,
    BoldRed,
    BoldGreen,
    BoldMagenta,
}

/// ANSI styling, or none: the renderer's only notion of colour.
#[derive(Debug, Clone, Copy)]
struct Paint(bool);

impl Paint {
    fn paint(self, style: Style, s: &str) -> String {
        let code = match style {
            Style::Plain => return s.to_string(),
            Style::Bold => "1",
            Style::Dim => "2",
            Style::Cyan => "36",
            Style::Green => "32",
            Style::Yellow => "33",
            Style::Magenta => "35",
            Style::BoldRed => "1;31",
            Style::BoldGreen => "1;32",
            Style::BoldMagenta => "1;35",
        };
        if self.0 && !s.is_empty() {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

/// A word to lay out: its text, its style, and the spaces that follow it
/// when the next word is on the same line.
struct Word<'a> {
    text: Cow<'a, str>,
    style: Style,
    gap: usize,
}

impl<'a> Word<'a> {
    fn new(text: impl Into<Cow<'a, str>>, style: Style) -> Self {
        Word {
            text: text.into(),
            style,
            gap: 1,
        }
    }

    fn gap(mut self, gap: usize) -> Self {
        self.gap = gap;
        self
    }
}

/// The words of `text` (already clean), in one style.
fn words(text: &str, style: Style) -> impl Iterator<Item = Word<'_>> {
    text.split(' ')
        .filter(|w| !w.is_empty())
        .map(move |w| Word::new(w, style))
}

/// The output and the geometry it is laid out for.
struct Out<'a> {
    w: &'a mut dyn Write,
    width: usize,
    paint: Paint,
}

impl Out<'_> {
    fn blank(&mut self) -> io::Result<()> {
        writeln!(self.w)
    }

    /// Continuation lines are indented by `indent` columns, unless the
    /// terminal is too narrow to spare them.
    fn indent(&self, indent: usize) -> usize {
        if self.width >= ALIGN_MIN_WIDTH {
            indent
        } else {
            indent.min(4)
        }
    }

    /// `words` wrapped to the width, continuation lines indented; each run
    /// of words in one style is styled on its own line.
    fn para(&mut self, words: &[Word<'_>], indent: usize) -> io::Result<()> {
        let indent = self.indent(indent);
        let sizes: Vec<(usize, usize)> = words
            .iter()
            .map(|w| (text::width(&w.text), w.gap))
            .collect();
        let lines = text::breaks(&sizes, self.width, self.width.saturating_sub(indent));
        for (n, range) in lines.into_iter().enumerate() {
            let mut line = String::new();
            if n > 0 {
                line.push_str(&" ".repeat(indent));
            }
            let line_words = &words[range];
            let mut i = 0;
            while i < line_words.len() {
                // A run of words in the same style, painted once.
                let style = line_words[i].style;
                let mut run = String::new();
                let mut j = i;
                while j < line_words.len() && line_words[j].style == style {
                    if j > i {
                        run.push_str(&" ".repeat(line_words[j - 1].gap));
                    }
                    run.push_str(&line_words[j].text);
                    j += 1;
                }
                if i > 0 {
                    line.push_str(&" ".repeat(line_words[i - 1].gap));
                }
                line.push_str(&self.paint.paint(style, &run));
                i = j;
            }
            writeln!(self.w, "{line}")?;
        }
        Ok(())
    }

    /// `  label: text`, the label in bold, the text capped and wrapped,
    /// continuation lines aligned under the text.
    fn labelled(&mut self, label: &str, body: &str) -> io::Result<()> {
        let body = capped(body, DETAIL_MAX);
        let mut line = vec![
            Word::new("", Style::Plain).gap(2),
            Word::new(label, Style::Bold),
        ];
        line.extend(words(&body, Style::Plain));
        self.para(&line, 2 + text::width(label) + 1)
    }
}
