//! One lab per test binary, shared by its tests: `lab.py --serve` started on
//! first use, worlds built on first request and kept for the life of the
//! process.
//!
//! The lab is a `static`, never dropped: it stops because the test process's
//! exit closes the lab's stdin, and lab.py exits at once on EOF (also when
//! the test process is killed). Children spawned by the tests do not inherit
//! that pipe (std opens it close-on-exec), so nothing keeps the lab alive.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::Ipv4Addr;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

use super::{python, repo, tidbpe_isolated, JsonLines, Run};

/// How long the lab may take to start, and a world to build (moto's first
/// calls are slow on a busy machine).
const LAB_START: Duration = Duration::from_secs(120);
const WORLD_BUILD: Duration = Duration::from_secs(120);

/// One world of the lab: a consumer VPC with its client instance (and its
/// IMDS), an endpoint service of its own, and what the scenario changed.
/// Deserialized from lab.py's JSON (see tests/lab/README.md).
#[derive(Debug, Clone, Deserialize)]
pub struct World {
    /// The name it was asked for: the scenario, or `SCENARIO#COPY` for a
    /// separate copy that a test may change.
    pub name: String,
    pub scenario: String,
    /// moto, shared by every world of the lab.
    pub endpoint_url: String,
    /// This world's IMDSv2 server: answers as this world's instance.
    pub imds_url: String,
    pub account: String,
    pub region: String,
    pub host: String,
    pub service_name: String,
    pub service_id: String,
    pub service_az_ids: Vec<String>,
    pub provider_vpc_id: String,
    pub vpc_id: String,
    pub vpc_cidr: String,
    pub subnets: Subnets,
    pub dhcp_options_id: String,
    pub groups: Groups,
    pub instance_id: String,
    pub client_ip: Ipv4Addr,
    /// The live endpoint of the service in the VPC, if any.
    pub endpoint_id: Option<String>,
    /// Every endpoint listed in the VPC, the live one first.
    pub endpoint_ids: Vec<String>,
    /// The live endpoint's interface addresses, in `SubnetIds` order.
    pub endpoint_ips: Vec<Ipv4Addr>,
    // Per scenario (see the accessors below).
    conflict_endpoint_id: Option<String>,
    deleted_endpoint_id: Option<String>,
    #[serde(default)]
    deleted_endpoint_interface_ids: Vec<String>,
    hosted_zone_id: Option<String>,
    prefix_list_id: Option<String>,
    nacl_id: Option<String>,
    second_vpc_id: Option<String>,
    second_endpoint_id: Option<String>,
    /// lab.py's JSON as it came, for keys this type does not name.
    #[serde(skip)]
    pub raw: Value,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Subnets {
    /// 10.0.1.0/24 in use1-az1 (a service AZ).
    pub az1: String,
    /// 10.0.2.0/24 in use1-az2 (a service AZ).
    pub az2: String,
    /// 10.0.3.0/24 in use1-az6 (not a service AZ).
    pub az6: String,
    /// 10.0.10.0/24 in use1-az1: the instance's.
    pub client: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Groups {
    /// The instance's group (default egress).
    pub client: String,
    /// The endpoint's group (tcp 4000 from `client` in the healthy world).
    pub endpoint: String,
    /// A group nothing uses.
    pub other: String,
}

fn required<'a>(world: &World, value: &'a Option<String>, what: &str) -> &'a str {
    value
        .as_deref()
        .unwrap_or_else(|| panic!("world {} has no {what}", world.name))
}

impl World {
    /// `dns-conflict`: the second endpoint (private DNS off).
    pub fn conflict_endpoint_id(&self) -> &str {
        required(self, &self.conflict_endpoint_id, "conflict_endpoint_id")
    }
    /// `endpoint-deleted-beside-live`, `endpoint-only-deleted`: the endpoint
    /// in state `deleted`.
    pub fn deleted_endpoint_id(&self) -> &str {
        required(self, &self.deleted_endpoint_id, "deleted_endpoint_id")
    }
    /// The deleted endpoint's interface IDs (they no longer exist).
    pub fn deleted_endpoint_interface_ids(&self) -> &[String] {
        &self.deleted_endpoint_interface_ids
    }
    /// `hosted-zone-*`: the private zone's ID, bare (no `/hostedzone/`).
    pub fn hosted_zone_id(&self) -> &str {
        required(self, &self.hosted_zone_id, "hosted_zone_id")
    }
    pub fn prefix_list_id(&self) -> &str {
        required(self, &self.prefix_list_id, "prefix_list_id")
    }
    /// `nacl-*`: the custom network ACL.
    pub fn nacl_id(&self) -> &str {
        required(self, &self.nacl_id, "nacl_id")
    }
    /// `two-endpoints-in-region`: the other VPC with an endpoint.
    pub fn second_vpc_id(&self) -> &str {
        required(self, &self.second_vpc_id, "second_vpc_id")
    }
    pub fn second_endpoint_id(&self) -> &str {
        required(self, &self.second_endpoint_id, "second_endpoint_id")
    }

    /// `tidbpe` aimed at the lab's moto (no IMDS, dummy credentials).
    pub fn tidbpe(&self) -> Command {
        let mut cmd = tidbpe_isolated();
        cmd.env("AWS_ENDPOINT_URL", &self.endpoint_url);
        cmd
    }

    /// `tidbpe` that also sees this world's IMDS: it runs as the world's instance.
    pub fn tidbpe_on_instance(&self) -> Command {
        let mut cmd = self.tidbpe();
        cmd.env_remove("AWS_EC2_METADATA_DISABLED")
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &self.imds_url);
        cmd
    }

    /// `tidbpe doctor --format json --timeout 60 --service-name <this world's> …`.
    pub fn doctor(&self, args: &[&str]) -> Run {
        self.doctor_with(&mut self.tidbpe(), args)
    }

    /// [`World::doctor`] with `--vpc-id` and `--instance-id` of this world:
    /// the AWS side and the client judged, no discovery.
    pub fn doctor_as_client(&self, args: &[&str]) -> Run {
        let mut all = vec!["--vpc-id", &self.vpc_id, "--instance-id", &self.instance_id];
        all.extend_from_slice(args);
        self.doctor(&all)
    }

    /// [`World::doctor`] with a prepared command (another environment, a proxy).
    pub fn doctor_with(&self, cmd: &mut Command, args: &[&str]) -> Run {
        self.doctor_for(cmd, &self.service_name, args)
    }

    /// `tidbpe doctor --format json --timeout 60 --service-name <service> …`
    /// (`args` may give another `--timeout`). A run that sees an IMDS gets
    /// `--no-probe` unless `args` say otherwise: outside the network-namespace
    /// lab, "the instance" would probe with this machine's own resolver and
    /// network, which must never be asked (tests/e2e/probes.rs probes inside
    /// namespaces).
    pub fn doctor_for(&self, cmd: &mut Command, service: &str, args: &[&str]) -> Run {
        cmd.args(["doctor", "--format", "json", "--service-name", service]);
        if !args.contains(&"--timeout") {
            cmd.args(["--timeout", "60"]);
        }
        let sees_imds = cmd
            .get_envs()
            .any(|(k, v)| k == "AWS_EC2_METADATA_SERVICE_ENDPOINT" && v.is_some());
        if sees_imds && !args.iter().any(|a| *a == "--probe" || *a == "--no-probe") {
            cmd.arg("--no-probe");
        }
        assert!(
            !args.contains(&"--probe"),
            "--probe outside the network-namespace lab would ask this machine's resolver"
        );
        cmd.args(args);
        Run::of(cmd)
    }

    /// The AWS CLI of the lab's venv, aimed at the lab's moto (dummy
    /// credentials, us-east-1): runs fix commands as a user would.
    pub fn aws_cli(&self) -> Command {
        let mut cmd = Command::new(repo().join(".venv/bin/aws"));
        for var in [
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_SESSION_TOKEN",
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "http_proxy",
            "https_proxy",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("AWS_ENDPOINT_URL", &self.endpoint_url)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_DEFAULT_REGION", &self.region)
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_PAGER", "");
        cmd
    }
}

/// What one AWS CLI command printed, and its exit status.
pub struct CliOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// One process of the lab's AWS CLI for the whole test binary
/// (`tests/lab/aws_cli.py`), spawned on first use with `World::aws_cli`'s
/// environment.
static CLI: Mutex<Option<JsonLines>> = Mutex::new(None);

impl World {
    /// Runs `aws ARGS` with the real AWS CLI aimed at the lab, like
    /// [`World::aws_cli`], in the binary's one CLI process (every world shares
    /// the lab's moto and region).
    pub fn aws(&self, args: &[String]) -> CliOutput {
        let mut guard = CLI.lock().unwrap_or_else(|e| e.into_inner());
        let cli = guard.get_or_insert_with(|| {
            let template = self.aws_cli();
            let mut cmd = Command::new(python());
            cmd.arg(repo().join("tests/lab/aws_cli.py"));
            for (key, value) in template.get_envs() {
                match value {
                    Some(v) => cmd.env(key, v),
                    None => cmd.env_remove(key),
                };
            }
            JsonLines::spawn(cmd)
        });
        let answer = cli.ask(&serde_json::to_string(args).expect("arguments as JSON"));
        CliOutput {
            code: answer["rc"].as_i64().unwrap_or(-1) as i32,
            stdout: answer["stdout"].as_str().unwrap_or_default().to_string(),
            stderr: answer["stderr"].as_str().unwrap_or_default().to_string(),
        }
    }
}

/// The world `scenario` of this test binary's lab (built on first request).
/// `"SCENARIO#COPY"` is a separate world built like SCENARIO, for a test that
/// changes it (every test sees the others' changes to a shared world).
/// Panics with lab.py's error when the lab or the world cannot be built.
pub fn world(scenario: &str) -> &'static World {
    shared().world(scenario)
}

/// Starts this test binary's lab on another thread, if it is not started yet
/// (a failure to start is reported by the first test that needs the lab),
/// then builds `worlds` there: the costly ones whose tests the harness
/// starts late (it starts tests in name order), so that their build is not
/// what the run waits for at its end.
pub fn start_lab_in_background(worlds: &'static [&'static str]) {
    std::thread::spawn(move || {
        if LAB.is_ok() {
            for name in worlds {
                // A world that fails to build fails its tests, with lab.py's error.
                let _ = std::panic::catch_unwind(|| world(name));
            }
        }
    });
}

/// moto's URL, shared by every world of the lab.
pub fn lab_endpoint_url() -> &'static str {
    &shared().endpoint_url
}

static LAB: LazyLock<Result<Shared, String>> = LazyLock::new(Shared::start);

fn shared() -> &'static Shared {
    match &*LAB {
        Ok(lab) => lab,
        Err(e) => panic!("{e}"),
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A test that panicked while holding a lock left nothing half-done that
    // matters to the others.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct Shared {
    endpoint_url: String,
    /// The lab's stdin (requests) and its stdout lines (answers), one request
    /// at a time.
    pipe: Mutex<(ChildStdin, Receiver<String>)>,
    worlds: Mutex<HashMap<String, &'static World>>,
    /// The lab's log, for failure messages.
    log: Arc<Mutex<String>>,
    /// Kept so the process is not reaped early; it exits on stdin EOF.
    _child: Mutex<Child>,
}

impl Shared {
    fn start() -> Result<Shared, String> {
        let python = python();
        if !python.exists() {
            return Err(format!(
                "{} is missing: run tests/lab/setup.sh first",
                python.display()
            ));
        }
        let mut child = Command::new(&python)
            .arg(repo().join("tests/lab/lab.py"))
            .arg("--serve")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start the lab with {}: {e}", python.display()))?;
        let stdin = child.stdin.take().ok_or("lab stdin")?;
        let stdout = child.stdout.take().ok_or("lab stdout")?;
        let mut stderr = child.stderr.take().ok_or("lab stderr")?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Drain stderr so the lab never blocks on a full pipe; keep its end.
        let log = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stderr.read(&mut buf) {
                let mut log = lock(&sink);
                log.push_str(&String::from_utf8_lossy(&buf[..n]));
                if log.len() > 64 * 1024 {
                    let cut = log.len() - 32 * 1024;
                    let cut = (cut..log.len())
                        .find(|&i| log.is_char_boundary(i))
                        .unwrap_or(0);
                    log.drain(..cut);
                }
            }
        });
        let ready = match lines.recv_timeout(LAB_START) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(100));
                return Err(format!("the lab did not start:\n{}", lock(&log)));
            }
        };
        let ready: Value = serde_json::from_str(&ready)
            .map_err(|e| format!("the lab's first line is not JSON ({e}): {ready}"))?;
        let endpoint_url = ready["endpoint_url"]
            .as_str()
            .ok_or_else(|| format!("the lab's first line has no endpoint_url: {ready}"))?
            .to_string();
        Ok(Shared {
            endpoint_url,
            pipe: Mutex::new((stdin, lines)),
            worlds: Mutex::new(HashMap::new()),
            log,
            _child: Mutex::new(child),
        })
    }

    fn world(&self, scenario: &str) -> &'static World {
        if let Some(w) = lock(&self.worlds).get(scenario) {
            return w;
        }
        let mut pipe = lock(&self.pipe);
        // Another test may have asked for it while this one waited.
        if let Some(w) = lock(&self.worlds).get(scenario) {
            return w;
        }
        let (stdin, lines) = &mut *pipe;
        if writeln!(stdin, "{scenario}")
            .and_then(|()| stdin.flush())
            .is_err()
        {
            panic!("the lab is gone:\n{}", lock(&self.log));
        }
        // Each answer names its world: skip a late answer to a request that
        // timed out earlier.
        let deadline = Instant::now() + WORLD_BUILD;
        let raw = loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            let line = lines.recv_timeout(wait).unwrap_or_else(|e| {
                panic!(
                    "no answer from the lab for world {scenario} ({e}):\n{}",
                    lock(&self.log)
                )
            });
            let raw: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
                panic!("the lab answered {scenario} with non-JSON ({e}): {line}")
            });
            if raw["name"] == scenario {
                break raw;
            }
        };
        if let Some(err) = raw["error"].as_str() {
            panic!("{err}\n{}", lock(&self.log));
        }
        let mut world: World = serde_json::from_value(raw.clone())
            .unwrap_or_else(|e| panic!("world {scenario} does not fit `World` ({e}): {raw}"));
        world.raw = raw;
        let world: &'static World = Box::leak(Box::new(world));
        lock(&self.worlds).insert(scenario.to_string(), world);
        world
    }
}

/// The interface of the tests written before the shared lab: `Lab::start`
/// now hands out a world of the shared lab (nothing is started or stopped
/// per test). Prefer [`world`] and the typed [`World`].
pub struct Lab {
    pub world: &'static World,
    pub info: Value,
}

impl Lab {
    pub fn start(scenario: &str) -> Lab {
        let world = world(scenario);
        Lab {
            world,
            info: world.raw.clone(),
        }
    }

    /// Every world of the shared lab has its IMDS.
    pub fn with_imds(scenario: &str) -> Lab {
        Self::start(scenario)
    }

    pub fn s(&self, key: &str) -> String {
        self.info[key]
            .as_str()
            .unwrap_or_else(|| panic!("lab info has no string {key}: {}", self.info))
            .to_string()
    }

    pub fn subnet(&self, name: &str) -> String {
        self.info["subnets"][name]
            .as_str()
            .expect("subnet")
            .to_string()
    }

    pub fn tidbpe(&self) -> Command {
        self.world.tidbpe()
    }

    pub fn tidbpe_on_instance(&self) -> Command {
        self.world.tidbpe_on_instance()
    }

    pub fn doctor(&self, args: &[&str]) -> Run {
        self.world.doctor(args)
    }

    pub fn doctor_with(&self, cmd: &mut Command, args: &[&str]) -> Run {
        self.world.doctor_with(cmd, args)
    }

    pub fn doctor_for(&self, cmd: &mut Command, service: &str, args: &[&str]) -> Run {
        self.world.doctor_for(cmd, service, args)
    }
}
