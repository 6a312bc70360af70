//! The network side of the lab, from a test: `tests/lab/netns.py` builds a
//! client namespace (its own resolv.conf and hosts file) and a "VPC"
//! namespace holding the endpoint's addresses, with dnsmasq, MariaDB, small
//! listeners and iptables rules. [`NetLab`] starts one and tears it down
//! when dropped (netns.py stops its processes by PID and deletes the
//! namespaces when its stdin closes, also when the test process dies).
//!
//! Needs root (namespaces, iptables) and iproute2, iptables, dnsmasq-base,
//! mariadb-server (`.ci/run` installs them): [`netns_available`] says whether
//! to run, and fails in CI (which runs as root) rather than skip.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

const LAB_START: Duration = Duration::from_secs(60);

pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

pub fn have(tool: &str) -> bool {
    let dirs = std::env::var("PATH").unwrap_or_default();
    let found = dirs
        .split(':')
        .chain(["/usr/sbin", "/sbin"])
        .any(|d| Path::new(d).join(tool).exists());
    found
}

/// Can namespace labs run here? Not root: a notice and `false` (a developer
/// without root still runs the rest), except in CI, which must run them.
pub fn netns_available(test: &str) -> bool {
    if !is_root() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs as root: the namespace lab must run there"
        );
        eprintln!(
            "{test}: not root, the network-namespace lab is not run (run as root to test it)"
        );
        return false;
    }
    for tool in ["ip", "iptables", "dnsmasq", "mariadbd"] {
        assert!(
            have(tool),
            "{tool} is missing: apt-get install -y iproute2 iptables dnsmasq-base mariadb-server"
        );
    }
    true
}

/// One lab; stopped (stdin closed, then by PID) when dropped.
pub struct NetLab {
    child: Child,
    pub info: Value,
}

/// Namespace names are unique per lab of this process.
static LABS: AtomicUsize = AtomicUsize::new(0);

impl NetLab {
    /// `netns.py up --host HOST ARGS…` under a fresh name.
    pub fn up(host: &str, args: &[String]) -> NetLab {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/lab/netns.py");
        let name = format!(
            "tp{}x{}",
            std::process::id(),
            LABS.fetch_add(1, Ordering::Relaxed)
        );
        let mut child = Command::new("python3")
            .arg(script)
            .args(["up", "--name", &name, "--host", host])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tests/lab/netns.py");
        let stdout = child.stdout.take().expect("stdout");
        let mut stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let (etx, erx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            let _ = etx.send(text);
        });
        match rx.recv_timeout(LAB_START) {
            Ok(line) if !line.trim().is_empty() => NetLab {
                child,
                info: serde_json::from_str(&line).expect("netns.py's JSON line"),
            },
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                let err = erx.recv_timeout(Duration::from_secs(5)).unwrap_or_default();
                panic!("netns.py up failed:\n{err}");
            }
        }
    }

    pub fn client_ns(&self) -> String {
        self.info["client_ns"]
            .as_str()
            .expect("client_ns")
            .to_string()
    }

    /// `program` run inside the client namespace (`ip netns exec`, which
    /// also mounts the namespace's resolv.conf and hosts), with the
    /// environment `like` sets or removes.
    pub fn command(&self, program: &Path, like: &Command) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.client_ns()]).arg(program);
        for (key, value) in like.get_envs() {
            match value {
                Some(v) => cmd.env(key, v),
                None => cmd.env_remove(key),
            };
        }
        cmd
    }
}

impl Drop for NetLab {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let until = Instant::now() + Duration::from_secs(20);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
