//! tidbpe: troubleshoot AWS PrivateLink connections to TiDB Cloud Serverless.
//!
//! This is the only place where errors become text and outcomes become exit
//! codes: 0 healthy, 1 a check failed, 2 bad invocation or input, 3 some
//! checks could not run.

mod cli;
mod gather;
mod inputs;
mod progress;
mod redact;
mod render;
mod report;

use std::fs;
use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::Parser;
use serde_json::json;
use tokio::time::Instant;

use cli::{Cli, Command, DoctorArgs, Format, OutputArgs};
use gather::aws::Aws;
use report::Report;

const EXIT_USAGE: u8 = 2;

/// What went wrong before a report could be made.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Input(#[from] inputs::InputError),
    #[error(transparent)]
    Gather(#[from] gather::GatherError),
    #[error("{0}")]
    Usage(String),
    #[error("cannot write {what}: {err}")]
    Write { what: String, err: io::Error },
    #[error(transparent)]
    Redact(#[from] redact::RedactError),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_error(e),
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(Failure::Write { err, .. }) if err.kind() == io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tidbpe: {e}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// Help and version go to stdout as clap prints them; every other parse
/// error is one line on stderr, exit 2.
fn clap_error(e: clap::Error) -> ExitCode {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            ExitCode::from(EXIT_USAGE)
        }
        _ => {
            let text = e.to_string();
            let line = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid command line")
                .trim_start_matches("error: ");
            eprintln!("tidbpe: {line}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn run(cli: Cli) -> Result<u8, Failure> {
    match cli.command {
        Command::Doctor(args) => doctor(*args),
        Command::Analyze(args) => analyze(args),
        Command::Explain { id } => {
            let check =
                tidbpe_checks::find(&id).ok_or_else(|| Failure::Usage(format!("no check {id}")))?;
            write_stdout(check.explain_page().as_bytes())?;
            Ok(0)
        }
        Command::Checks => {
            let mut text = String::new();
            for c in tidbpe_checks::CATALOG {
                let note = if c.judge.is_none() {
                    "  (not implemented yet)"
                } else {
                    ""
                };
                text.push_str(&format!("{:<7} {:<22} {}{note}\n", c.id, c.slug, c.title));
            }
            write_stdout(text.as_bytes())?;
            Ok(0)
        }
        Command::Completions { shell } => {
            let mut buf = Vec::new();
            clap_complete::generate(
                shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "tidbpe",
                &mut buf,
            );
            write_stdout(&buf)?;
            Ok(0)
        }
        Command::IamPolicy => {
            let policy = json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "TidbpeDoctorReadOnly",
                    "Effect": "Allow",
                    "Action": tidbpe_checks::iam_actions(),
                    "Resource": "*"
                }]
            });
            let text = serde_json::to_string_pretty(&policy).unwrap_or_default() + "\n";
            write_stdout(text.as_bytes())?;
            Ok(0)
        }
    }
}

fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)
        .and_then(|_| out.flush())
        .map_err(|err| Failure::Write {
            what: "standard output".into(),
            err,
        })
}

fn doctor(args: DoctorArgs) -> Result<u8, Failure> {
    let inputs = inputs::inputs(&args)?;
    let timeout = args.timeout;
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::Usage(format!("cannot start the async runtime: {e}")))?;

    // Counts the calls in flight for the progress line; gather's deadline
    // wrapper takes a guard per call (`let _pending = activity.call();`).
    let activity = progress::Activity::default();
    let progress = progress::Progress::start(&activity, timeout);
    let facts = runtime.block_on(async {
        // Leave a little of the budget for judging and rendering.
        let margin = (timeout / 20).min(Duration::from_millis(300));
        let deadline = started + timeout - margin;
        let aws = Aws::load(&inputs.region, args.profile.as_deref(), deadline).await;
        let probes = gather::vantage::ProbePlan {
            flag: args.probe_flag(),
            dns_server: args.dns_server,
            files: gather::probe::resolv::ResolverFiles::default(),
            activity: activity.clone(),
        };
        gather::gather(inputs, &aws, deadline, &probes).await
    });
    progress.finish();
    // Dropped tasks (hung connections) must not hold the exit.
    runtime.shutdown_timeout(Duration::from_millis(50));
    let report = judge(facts?, &args.output)?;
    emit(&report, &args.output)?;
    Ok(exit_code(&report))
}

fn analyze(args: cli::AnalyzeArgs) -> Result<u8, Failure> {
    let path = args.report.display().to_string();
    let text = fs::read_to_string(&args.report)
        .map_err(|e| Failure::Usage(format!("cannot read {path}: {e}")))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        Failure::Usage(format!(
            "{path} is not JSON ({e}): expected a report of `tidbpe doctor --format json`"
        ))
    })?;
    match value.get("schema").and_then(|s| s.as_str()) {
        Some(report::SCHEMA) => {}
        Some(other) => {
            return Err(Failure::Usage(format!(
                "{path} has schema {other}; this tidbpe reads {}",
                report::SCHEMA
            )))
        }
        None => {
            return Err(Failure::Usage(format!(
                "{path} is not a tidbpe report: expected \"schema\": \"{}\"",
                report::SCHEMA
            )))
        }
    }
    let facts = value
        .get("facts")
        .cloned()
        .ok_or_else(|| Failure::Usage(format!("{path} has no \"facts\" to judge")))
        .and_then(|f| {
            serde_json::from_value(f)
                .map_err(|e| Failure::Usage(format!("{path}: the facts do not parse: {e}")))
        })?;
    let report = judge(facts, &args.output)?;
    emit(&report, &args.output)?;
    Ok(exit_code(&report))
}

/// Judge the facts; under `--redact`, redact them first, once: the
/// findings, the rendered report and a later `analyze` then all see the same
/// masked values.
fn judge(facts: tidbpe_checks::Facts, output: &OutputArgs) -> Result<Report, Failure> {
    let facts = if output.redact {
        redact::facts(&facts)?
    } else {
        facts
    };
    Ok(Report::judge(facts))
}

fn exit_code(report: &Report) -> u8 {
    u8::try_from(report.summary.verdict.exit_code()).unwrap_or(1)
}

/// Human on stdout by default; JSON on stdout with `--format json`; the JSON
/// report also to `--output FILE`.
fn emit(report: &Report, output: &OutputArgs) -> Result<(), Failure> {
    // Standard output first: if the file cannot be written, the report is
    // still on the screen.
    let mut buf = Vec::new();
    match output.format.unwrap_or(Format::Human) {
        Format::Json => render::json(report, &mut buf),
        Format::Human => render::human::render(report, &mut buf, render::Terminal::for_stdout()),
    }
    .map_err(|err| Failure::Write {
        what: "the report".into(),
        err,
    })?;
    write_stdout(&buf)?;
    if let Some(path) = &output.output {
        let mut buf = Vec::new();
        let failure = |err| Failure::Write {
            what: path.display().to_string(),
            err,
        };
        render::json(report, &mut buf).map_err(failure)?;
        fs::write(path, buf).map_err(failure)?;
    }
    Ok(())
}
