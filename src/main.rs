//! tidbpe: troubleshoot AWS PrivateLink connections to TiDB Cloud Serverless.
//!
//! This is the only place where errors become text and outcomes become exit
//! codes: 0 healthy, 1 a check failed, 2 bad invocation or input, 3 some
//! checks could not run.
//!
//! Only `doctor` starts an async runtime, loads the AWS configuration and
//! opens sockets: `checks`, `explain`, `iam-policy`, `completions`, `analyze`
//! and `--help` touch no network and read no AWS profile, so they start at
//! once anywhere (tests/e2e/commands.rs; scripts/bench.sh times them).

mod cli;
mod gather;
mod inputs;
mod output;
mod progress;
mod redact;
mod render;
mod replay;
mod report;
mod untrusted;

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
    #[error(transparent)]
    Output(#[from] output::OutputError),
    #[error(transparent)]
    Untrusted(#[from] untrusted::UntrustedError),
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
        Err(Failure::Output(e)) if e.is_broken_pipe() => ExitCode::SUCCESS,
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
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => match e.print() {
            // `--help > /dev/full` must not look like it worked.
            Err(err) if err.kind() != io::ErrorKind::BrokenPipe => {
                eprintln!("tidbpe: cannot write standard output: {err}");
                ExitCode::from(EXIT_USAGE)
            }
            _ => ExitCode::SUCCESS,
        },
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            ExitCode::from(EXIT_USAGE)
        }
        _ => {
            eprintln!("tidbpe: {}", clap_line(&e));
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// A clap error as one printable line: the missing argument named on it,
/// an echoed value cut to about 80 characters.
fn clap_line(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue};
    use tidbpe_checks::text::cut;
    let text = e.to_string();
    let mut line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("invalid command line")
        .trim_start_matches("error: ")
        .to_string();
    let strings = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => vec![s.clone()],
        Some(ContextValue::Strings(v)) => v.clone(),
        _ => vec![],
    };
    if e.kind() == ErrorKind::MissingRequiredArgument {
        // clap puts the names on the next lines, which one line drops.
        let missing = strings(ContextKind::InvalidArg);
        if !missing.is_empty() {
            line = format!("{}: {}", line.trim_end_matches(':'), missing.join(", "));
        }
        if let Some(usage) = text.lines().find_map(|l| l.trim().strip_prefix("Usage: ")) {
            line.push_str(&format!(" (usage: {usage})"));
        }
    }
    // clap quotes what it echoes ('VALUE'): cut each quoted piece.
    let line: Vec<String> = line
        .split('\'')
        .enumerate()
        .map(|(i, piece)| {
            if i % 2 == 1 {
                cut(piece, 80).into_owned()
            } else {
                piece.to_string()
            }
        })
        .collect();
    tidbpe_checks::text::quoted(&line.join("'"), 300)
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
        Command::Checks {
            format: Some(Format::Json),
        } => {
            let text = serde_json::to_string_pretty(&catalog_json()).unwrap_or_default() + "\n";
            write_stdout(text.as_bytes())?;
            Ok(0)
        }
        Command::Checks { .. } => {
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

/// `tidbpe checks --format json`: the catalog for tools and support
/// portals, versioned like the report.
fn catalog_json() -> serde_json::Value {
    let checks: Vec<serde_json::Value> = tidbpe_checks::CATALOG
        .iter()
        .map(|c| {
            let mut actions: Vec<&str> = c.needs.iter().map(|n| n.action()).collect();
            actions.sort_unstable();
            actions.dedup();
            json!({
                "id": c.id,
                "slug": c.slug,
                "title": c.title,
                "needs": c.needs.iter().map(|n| need_name(*n)).collect::<Vec<_>>(),
                "iam_actions": actions,
                "implemented": c.judge.is_some(),
            })
        })
        .collect();
    json!({
        "schema": "tidbpe.checks/v1",
        "tool": report::this_tool(),
        "checks": checks,
    })
}

/// A need's name in `tidbpe checks --format json`: its variant in
/// kebab-case (`vpc-attributes`), the fact group it stands for.
fn need_name(need: tidbpe_checks::Need) -> String {
    let mut name = String::new();
    for (i, ch) in format!("{need:?}").chars().enumerate() {
        if ch.is_ascii_uppercase() && i > 0 {
            name.push('-');
        }
        name.push(ch.to_ascii_lowercase());
    }
    name
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
    // `--timeout` bounds the whole run, reading `--cluster-json -` included.
    let started = Instant::now();
    if let (Some(out), Some(cluster)) = (&args.output.output, &args.cluster_json) {
        if output::would_replace(out, cluster) {
            return Err(Failure::Usage(format!(
                "--output: {} is the --cluster-json file; write the report to another path",
                untrusted::display_name(out)
            )));
        }
    }
    let destination = prepare_output(&args.output)?;
    let inputs = inputs::inputs(&args)?;
    if inputs::off_privatelink(&inputs) {
        // A cluster AWS PrivateLink cannot reach (INP001 says why): there
        // is nothing to inspect in AWS, and no credentials are needed.
        let facts = tidbpe_checks::Facts {
            inputs,
            ..Default::default()
        };
        let report = Report::judge(redacted(facts, &args.output)?);
        emit(&report, &args.output, destination)?;
        return Ok(exit_code(&report));
    }
    let timeout = args.timeout;
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
    let report = Report::judge(redacted(validated(facts?)?, &args.output)?);
    emit(&report, &args.output, destination)?;
    Ok(exit_code(&report))
}

/// What AWS, the instance metadata and the probes answered, held to the forms a
/// replayed report is held to: fix commands are built only from validated
/// values, whoever gave them (a spoofed metadata service, a proxy in front
/// of the API) — an instance whose VPC ID reads `vpc-…;touch x` must not
/// become `aws ec2 create-vpc-endpoint --vpc-id vpc-…;touch x`.
///
/// A fact of the wrong form is not the user's bad input: it becomes an
/// error of the call that answered it (its checks `unknown`, the rest
/// judged; `validate::gathered`). Only what is not one call's fact (the
/// probes, the inputs) still ends the run here.
fn validated(facts: tidbpe_checks::Facts) -> Result<tidbpe_checks::Facts, Failure> {
    tidbpe_checks::validate::gathered(facts, "facts").map_err(|invalid| {
        Failure::Usage(format!(
            "the probes or the inputs hold a value of the wrong form, which no fix may be built from: {invalid}"
        ))
    })
}

fn analyze(args: cli::AnalyzeArgs) -> Result<u8, Failure> {
    let destination = prepare_output(&args.output)?;
    let replayed = replay::read(&args.report)?;
    let report = Report::rejudge(
        redacted(replayed.facts, &args.output)?,
        replayed.gathered_by,
        replayed.gathered_at,
    );
    emit(&report, &args.output, destination)?;
    Ok(exit_code(&report))
}

/// Where `--output` goes, checked before anything else runs.
fn prepare_output(output: &OutputArgs) -> Result<output::Destination, Failure> {
    let destination = output::prepare(output.output.as_deref())?;
    if destination.is_stdout() && output.format == Some(Format::Human) {
        return Err(Failure::Usage(
            "--output: the JSON report would go to standard output, where --format human prints; drop one of them".into(),
        ));
    }
    Ok(destination)
}

/// Under `--redact`, the facts redacted once, before judging: the findings,
/// the rendered report and a later `analyze` then all see the same masked
/// values.
fn redacted(
    facts: tidbpe_checks::Facts,
    output: &OutputArgs,
) -> Result<tidbpe_checks::Facts, Failure> {
    if output.redact {
        Ok(redact::facts(&facts)?)
    } else {
        Ok(facts)
    }
}

fn exit_code(report: &Report) -> u8 {
    u8::try_from(report.summary.verdict.exit_code()).unwrap_or(1)
}

/// Human on stdout by default; JSON on stdout with `--format json`; the JSON
/// report also to `--output FILE`. When `--output` is standard output, it
/// gets the JSON report once.
///
/// Standard output and the file are written independently: a reader that
/// went away (`| head`, `| grep -q`) or a full disk under standard output
/// does not cost the file, and a file that cannot be written does not cost
/// the screen. A closed pipe is not an error (the exit code stays the
/// verdict's); any other failure is reported, the file's first.
fn emit(
    report: &Report,
    output: &OutputArgs,
    destination: output::Destination,
) -> Result<(), Failure> {
    let mut buf = Vec::new();
    let default = if destination.is_stdout() {
        Format::Json
    } else {
        Format::Human
    };
    let format = output.format.unwrap_or(default);
    match format {
        Format::Json => render::json(report, &mut buf),
        Format::Human => render::human::render(report, &mut buf, render::Terminal::for_stdout()),
    }
    .map_err(|err| Failure::Write {
        what: "the report".into(),
        err,
    })?;
    let printed = match write_stdout(&buf) {
        Err(Failure::Write { err, .. }) if err.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    };
    if !matches!(
        destination,
        output::Destination::Nowhere | output::Destination::Stdout
    ) {
        // The file holds the JSON report: already in `buf` with `--format json`.
        let json = match format {
            Format::Json => buf,
            Format::Human => {
                let mut json = Vec::new();
                render::json(report, &mut json).map_err(|err| Failure::Write {
                    what: "the report".into(),
                    err,
                })?;
                json
            }
        };
        match destination.write(&json) {
            Err(e) if e.is_broken_pipe() => {}
            written => written?,
        }
    }
    printed
}
