//! The doctor on a real terminal: a pseudo-terminal from util-linux's
//! `script`, no lab. AWS is a loopback listener that accepts connections
//! and never answers, so the run lasts until `--timeout` and the progress
//! line has time to show; every check that needs AWS ends `unknown`.
//!
//! Checked: colour and the progress line on a terminal; `TERM=dumb` gives
//! neither (no escape byte at all); `NO_COLOR` removes colour but keeps the
//! progress line (it uses no escape sequence); a pipe gets neither.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const SERVICE: &str = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0";

/// A loopback "AWS" that accepts and then says nothing, for at most 60 s.
fn silent_aws() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let addr = listener.local_addr().expect("its address");
    listener.set_nonblocking(true).expect("non-blocking");
    thread::spawn(move || {
        let mut held: Vec<TcpStream> = Vec::new();
        let until = Instant::now() + Duration::from_secs(60);
        while Instant::now() < until && held.len() < 1000 {
            match listener.accept() {
                Ok((conn, _)) => held.push(conn),
                Err(_) => thread::sleep(Duration::from_millis(10)),
            }
        }
    });
    format!("http://{addr}")
}

fn doctor_args() -> Vec<&'static str> {
    vec![
        "doctor",
        "--service-name",
        SERVICE,
        "--vpc-id",
        "vpc-0a1b2c3d",
        "--timeout",
        "1",
    ]
}

/// The binary's environment: only loopback, no IMDS, dummy credentials.
fn isolate(cmd: &mut Command, endpoint: &str) {
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("COLUMNS", "80");
}

/// Wait at most 30 s for `cmd`; its stdout and exit code.
fn run_bounded(cmd: &mut Command) -> (Vec<u8>, Option<i32>) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        out
    });
    let until = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not end within 30 s");
        }
        thread::sleep(Duration::from_millis(20));
    };
    (reader.join().expect("reader"), status.code())
}

/// Run the doctor on a pseudo-terminal with `term` and extra variables;
/// what the terminal received (stdout and stderr, interleaved).
fn on_pty(term: &str, extra: &[(&str, &str)]) -> String {
    let mut line = vec![env!("CARGO_BIN_EXE_tidbpe")];
    line.extend(doctor_args());
    let line = shlex::try_join(line).expect("quotable");
    let mut cmd = Command::new("script");
    // -q quiet, -e exit with the child's code, -c the command; no log file.
    cmd.args(["-q", "-e", "-c", &line, "/dev/null"]);
    isolate(&mut cmd, &silent_aws());
    cmd.env("TERM", term).env("SHELL", "/bin/sh");
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let (out, code) = run_bounded(&mut cmd);
    let text = String::from_utf8_lossy(&out).into_owned();
    assert_eq!(code, Some(3), "all unknown, exit 3:\n{text}");
    assert!(
        text.contains("Incomplete"),
        "the report reached the terminal:\n{text}"
    );
    text
}

fn script_exists() {
    let found = Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "these tests need `script` (util-linux, Debian's bsdutils)"
    );
}

#[test]
fn a_terminal_gets_colour_and_the_progress_line() {
    script_exists();
    let text = on_pty("xterm-256color", &[]);
    assert!(text.contains('\x1b'), "colour on a terminal:\n{text:?}");
    assert!(text.contains("gathering facts"), "{text:?}");
    // Erased before the report: the report's first line starts after the
    // blanking carriage return.
    let context = format!("tidbpe {}", env!("CARGO_PKG_VERSION"));
    let report = text.find(&context).expect("context line");
    let erased = text[..report].rfind("\r").expect("a carriage return");
    assert!(text[..erased].ends_with(' '), "{text:?}");
}

#[test]
fn term_dumb_gets_no_escape_byte_and_no_progress_line() {
    script_exists();
    let text = on_pty("dumb", &[]);
    assert!(
        !text.contains('\x1b'),
        "an escape byte under TERM=dumb:\n{text:?}"
    );
    assert!(!text.contains("gathering facts"), "{text:?}");
    // The list layout of COLUMNS=80 (a pseudo-terminal without a size).
    assert!(text.contains("? AWS001  AWS credentials work"), "{text}");
}

#[test]
fn no_color_keeps_the_progress_line_without_escapes() {
    script_exists();
    let text = on_pty("xterm-256color", &[("NO_COLOR", "1")]);
    assert!(
        !text.contains('\x1b'),
        "an escape byte under NO_COLOR:\n{text:?}"
    );
    assert!(text.contains("gathering facts"), "{text:?}");
}

#[test]
fn a_pipe_gets_neither() {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tidbpe"));
    cmd.args(doctor_args());
    isolate(&mut cmd, &silent_aws());
    cmd.env("TERM", "xterm-256color");
    let output = cmd.stdin(Stdio::null()).output().expect("run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stdout}{stderr}");
    assert!(!stdout.contains('\x1b') && !stderr.contains('\x1b'));
    assert!(!stderr.contains("gathering facts"), "{stderr}");
    assert!(
        stdout.contains("? AWS001  AWS credentials work"),
        "COLUMNS=80: {stdout}"
    );
}
