//! Reading a report back for `tidbpe analyze`: a report attached to a
//! ticket is untrusted input. It is read as [`crate::untrusted`] reads any
//! file (bounded, regular file or stdin, UTF-8), then only what is judged
//! again is taken from it: the facts, and who gathered them when. Every one
//! of those values is validated (`tidbpe_checks::validate`) before a check
//! sees it; the findings, summary and context it carries are ignored and
//! rebuilt.

use std::path::Path;

use serde::Deserialize;
use tidbpe_checks::facts::Facts;
use tidbpe_checks::names::is_aws_token;
use tidbpe_checks::text::quoted;

use crate::report::{Tool, SCHEMA};
use crate::untrusted::{self, UntrustedError};

const EXPECTED: &str = "a report of `tidbpe doctor --format json`";

/// What a report holds that `analyze` judges again.
#[derive(Debug)]
pub struct Replayed {
    pub facts: Facts,
    pub gathered_by: Tool,
    pub gathered_at: String,
}

/// The report at `path` (`-`: standard input), validated.
pub fn read(path: &Path) -> Result<Replayed, UntrustedError> {
    let name = untrusted::display_name(path);
    let text = untrusted::read(path, untrusted::REPORT_LIMIT)?;

    // The schema first: another version's facts would not parse, and the
    // message should say why.
    #[derive(Deserialize)]
    struct Head {
        schema: Option<serde_json::Value>,
    }
    let head: Head = untrusted::parse(&name, &text, EXPECTED)?;
    match head.schema {
        Some(serde_json::Value::String(s)) if s == SCHEMA => {}
        Some(serde_json::Value::String(other)) => {
            return Err(fail(
                &name,
                format!(
                    "has schema {}; this tidbpe reads {SCHEMA}",
                    quoted(&other, 60)
                ),
            ))
        }
        _ => {
            return Err(fail(
                &name,
                format!("is not a tidbpe report: expected \"schema\": \"{SCHEMA}\""),
            ))
        }
    }

    #[derive(Deserialize)]
    struct Report {
        tool: Option<Tool>,
        generated_at: Option<String>,
        facts: Option<Facts>,
    }
    let report: Report = untrusted::parse(&name, &text, EXPECTED)?;
    let missing = |field: &str| fail(&name, format!("has no \"{field}\": expected {EXPECTED}"));
    let facts = report.facts.ok_or_else(|| missing("facts"))?;
    let tool = report.tool.ok_or_else(|| missing("tool"))?;
    let gathered_at = report.generated_at.ok_or_else(|| missing("generated_at"))?;

    let facts = tidbpe_checks::validate::facts(facts, "facts")
        .map_err(|invalid| fail_at(&name, &invalid.to_string()))?;
    if !is_aws_token(&tool.name) {
        return Err(fail_at(&name, "tool.name: not a tool name"));
    }
    if !is_aws_token(&tool.version) {
        return Err(fail_at(
            &name,
            "tool.version: not a version (such as 0.1.0)",
        ));
    }
    if humantime::parse_rfc3339(&gathered_at).is_err() {
        return Err(fail_at(
            &name,
            "generated_at: not an RFC 3339 time (such as 2026-01-02T03:04:05Z)",
        ));
    }
    Ok(Replayed {
        facts,
        gathered_by: tool,
        gathered_at,
    })
}

/// "`name` is …" / "`name` has …".
fn fail(name: &str, what: String) -> UntrustedError {
    UntrustedError::new(format!("{name} {what}"))
}

/// "`name`: `path`: …".
fn fail_at(name: &str, what: &str) -> UntrustedError {
    UntrustedError::new(format!("{name}: {what}"))
}
