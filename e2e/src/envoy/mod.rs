//! Real Envoy as a child process: locate the binary, start it on a rendered envoy.yaml, wait until admin says it
//! is ready, collect its log, read its stats, and stop it on drop.
//!
//! No Envoy may outlive the run that started it: `Drop` stops it (SIGTERM, then SIGKILL), and where util-linux's
//! `setpriv` exists Envoy is started under `--pdeathsig KILL`, so the kernel kills it even if the test process
//! itself is killed. (The signal follows the thread that spawned Envoy: drop an `Envoy` on the thread that
//! started it, as tests and the demo do.)

use crate::error::{Error, Result};
use crate::http::{self, Request, Response};
use crate::workdir::WorkDir;
use authz::decision::DecisionRecord;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

mod admin;
mod locate;
mod log;

use locate::which;
pub use locate::{dist_wasm, locate_envoy, validate, Validation};
pub use log::AccessLogged;
use log::Log;

/// How long Envoy may take to become ready (it usually needs about a second, V8 compiling the module included).
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long Envoy may take to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// Lines of log quoted in errors.
const LOG_TAIL_LINES: usize = 40;

/// A running Envoy; stopped on drop.
pub struct Envoy {
    child: Child,
    log: Arc<Log>,
    log_thread: Option<JoinHandle<()>>,
    admin: SocketAddr,
    listeners: BTreeMap<String, SocketAddr>,
    started: Duration,
    // Last: removed after Envoy has stopped using it.
    dir: WorkDir,
}

/// Options of one Envoy process.
#[derive(Debug, Clone)]
pub struct Launch<'a> {
    pub binary: &'a Path,
    /// The envoy.yaml text.
    pub yaml: &'a str,
    /// Worker threads (one wasm VM each, plus the main thread's).
    pub concurrency: u8,
    /// Log warnings only, for benchmarks. Otherwise Envoy logs at info and the wasm component at debug, and flushes
    /// access logs every 10 ms, so that each request's access log line arrives as soon as it is written.
    pub quiet: bool,
}

impl Envoy {
    /// Starts Envoy and waits until it is ready, or fails with its log if it exits first.
    pub fn start(launch: &Launch<'_>) -> Result<Self> {
        let began = Instant::now();
        let dir = WorkDir::create()?;
        let run = dir.run();
        let config = dir.write("envoy.yaml", launch.yaml)?;
        let admin_file = dir.path().join("admin-address");
        // Unique per run, so that concurrent Envoys never share hot-restart state; hot restart is off as well,
        // so a killed Envoy leaves no shared memory behind.
        let base_id = (std::process::id() % 4_000_000) * 100 + run % 100;
        let mut command = match which("setpriv") {
            Some(setpriv) => {
                let mut command = Command::new(setpriv);
                command.args(["--pdeathsig", "KILL", "--"]).arg(launch.binary);
                command
            }
            None => Command::new(launch.binary),
        };
        command
            .arg("-c")
            .arg(&config)
            .args(["--base-id", &base_id.to_string(), "--disable-hot-restart"])
            .args(["--concurrency", &launch.concurrency.to_string()])
            .arg("--admin-address-path")
            .arg(&admin_file)
            .args(if launch.quiet {
                [
                    "--log-level",
                    "warning",
                    "--component-log-level",
                    "wasm:warning",
                    "--file-flush-interval-msec",
                    "1000",
                ]
            } else {
                ["--log-level", "info", "--component-log-level", "wasm:debug", "--file-flush-interval-msec", "10"]
            })
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().map_err(Error::io(format!("start `{}`", launch.binary.display())))?;
        let log = Arc::new(Log::default());
        let log_thread = match child.stderr.take() {
            Some(stderr) => {
                let log = Arc::clone(&log);
                let mut file = std::fs::File::create(dir.path().join("envoy.log")).ok();
                std::thread::Builder::new()
                    .name("envoy-log".into())
                    .spawn(move || {
                        for line in BufReader::new(stderr).lines().map_while(std::result::Result::ok) {
                            if let Some(file) = file.as_mut() {
                                let _ = writeln!(file, "{line}");
                            }
                            log.push(line);
                        }
                    })
                    .ok()
            }
            None => None,
        };
        let mut envoy = Self {
            child,
            log,
            log_thread,
            admin: SocketAddr::from(([127, 0, 0, 1], 0)),
            listeners: BTreeMap::new(),
            started: Duration::ZERO,
            dir,
        };
        envoy.wait_ready(&admin_file, began)?;
        envoy.started = began.elapsed();
        Ok(envoy)
    }

    fn wait_ready(&mut self, admin_file: &Path, began: Instant) -> Result<()> {
        loop {
            if let Some(status) = self.child.try_wait().map_err(Error::io("poll envoy"))? {
                return Err(self.exited(status));
            }
            if began.elapsed() > READY_TIMEOUT {
                return Err(Error::NotReady { waited_ms: began.elapsed().as_millis(), log: self.log.tail() });
            }
            if let Some(admin) = std::fs::read_to_string(admin_file).ok().and_then(|text| text.trim().parse().ok()) {
                self.admin = admin;
                if self.admin_get("/ready").is_ok_and(|response| response.status == 200) {
                    self.listeners = self.read_listeners()?;
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Envoy exited on its own: wait for the rest of its log, then report it.
    fn exited(&mut self, status: ExitStatus) -> Error {
        if let Some(thread) = self.log_thread.take() {
            let _ = thread.join();
        }
        Error::EnvoyExited { status, log: self.log.tail() }
    }

    /// The listeners Envoy serves now, asked of admin (after an LDS update, say).
    pub fn read_listeners(&self) -> Result<BTreeMap<String, SocketAddr>> {
        let response = self.admin_get("/listeners?format=json")?;
        let json: Value = serde_json::from_slice(&response.body)
            .map_err(|err| Error::Http { what: format!("admin /listeners is not JSON: {err}") })?;
        let statuses = json.get("listener_statuses").and_then(Value::as_array).cloned().unwrap_or_default();
        let mut listeners = BTreeMap::new();
        for status in statuses {
            let name = status.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
            let socket = status.pointer("/local_address/socket_address");
            let ip = socket.and_then(|s| s.get("address")).and_then(Value::as_str);
            let port = socket.and_then(|s| s.get("port_value")).and_then(Value::as_u64);
            if let (Some(ip), Some(port)) = (ip, port) {
                if let Ok(addr) = format!("{ip}:{port}").parse() {
                    listeners.insert(name, addr);
                }
            }
        }
        Ok(listeners)
    }

    /// The Envoy process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// How long Envoy took from spawn to ready.
    pub fn startup_time(&self) -> Duration {
        self.started
    }

    /// The address of listener `name`.
    pub fn listener(&self, name: &str) -> Option<SocketAddr> {
        self.listeners.get(name).copied()
    }

    /// Every listener Envoy serves, by name.
    pub fn listeners(&self) -> &BTreeMap<String, SocketAddr> {
        &self.listeners
    }

    /// The admin address.
    pub fn admin(&self) -> SocketAddr {
        self.admin
    }

    /// The run's directory (envoy.yaml, envoy.log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Stops Envoy (SIGTERM, then SIGKILL after a grace period) and waits for it.
    pub fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            // SIGTERM lets Envoy shut down cleanly; std can only send SIGKILL, so ask kill(1), where there is one.
            let terminated = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success());
            let began = Instant::now();
            while terminated && matches!(self.child.try_wait(), Ok(None)) && began.elapsed() < STOP_TIMEOUT {
                std::thread::sleep(Duration::from_millis(20));
            }
            if matches!(self.child.try_wait(), Ok(None)) {
                let _ = self.child.kill();
            }
        }
        let _ = self.child.wait();
        if let Some(thread) = self.log_thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Envoy {
    fn drop(&mut self) {
        self.stop();
    }
}
