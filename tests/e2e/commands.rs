//! The commands that need no AWS — `checks`, `explain`, `iam-policy`,
//! `--help`, `completions`, `--version` — load no AWS configuration and touch
//! no network: they work, at once, with an AWS endpoint and an instance
//! metadata service that would hang, and a profile that does not exist. No
//! lab: the AWS side is a socket that counts who connects.

use std::io::ErrorKind;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::common::{tidbpe_isolated, Run};

const SVC: &str = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0";

/// `tidbpe ARGS…` whose AWS endpoint and IMDS are `url`, under a profile
/// that no configuration holds; and how long it took.
fn tidbpe_against(url: &str, args: &[&str]) -> (Run, Duration) {
    let mut cmd = tidbpe_isolated();
    cmd.env("AWS_ENDPOINT_URL", url)
        .env("AWS_PROFILE", "tidbpe-no-such-profile")
        .env_remove("AWS_EC2_METADATA_DISABLED")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", url)
        .args(args);
    let start = Instant::now();
    let run = Run::of(&mut cmd);
    (run, start.elapsed())
}

/// Did anyone connect to `listener` (non-blocking) since the last call?
fn connected(listener: &TcpListener) -> bool {
    match listener.accept() {
        Ok(_) => true,
        Err(e) if e.kind() == ErrorKind::WouldBlock => false,
        Err(e) => panic!("accept: {e}"),
    }
}

#[test]
fn commands_without_aws_touch_no_network_and_no_profile() {
    // Accepts connections (the kernel's backlog) and never answers: a
    // command that called out would hang here, and be seen.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("non-blocking");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let commands: &[&[&str]] = &[
        &["checks"],
        &["explain", "SG001"],
        &["iam-policy"],
        &["--help"],
        &["doctor", "--help"],
        &["completions", "bash"],
        &["--version"],
    ];
    for args in commands {
        let (run, took) = tidbpe_against(&url, args);
        assert_eq!(run.code, 0, "{args:?}: {}", run.describe());
        assert!(!run.stdout.trim().is_empty(), "{args:?} printed nothing");
        assert!(run.stderr.is_empty(), "{args:?}: {}", run.stderr);
        assert!(
            !connected(&listener),
            "{args:?} connected to the AWS endpoint or IMDS"
        );
        // Generous for a loaded machine; a command that waited on the
        // network would take the SDK's timeouts (seconds) or hang.
        assert!(took < Duration::from_secs(3), "{args:?} took {took:?}");
    }
}

#[test]
fn the_doctor_does_reach_out_so_the_listener_sees_what_calls_out() {
    // The same environment makes `doctor` connect (IMDS first): the
    // listener above would have seen the other commands do so.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("non-blocking");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (run, _) = tidbpe_against(
        &url,
        &[
            "doctor",
            "--service-name",
            SVC,
            "--format",
            "json",
            "--timeout",
            "2",
        ],
    );
    assert!(
        connected(&listener),
        "doctor never connected: {}",
        run.describe()
    );
}
