//! `make bench-envoy`: what the filter costs inside real Envoy, side by side with Envoy's own JWT filter, on the
//! same machine in the same run. Three Envoys (one worker each, each with its own echo upstream, all on 127.0.0.1)
//! take the same requests:
//!
//! - (a) no auth filter: the baseline every ratio is against;
//! - (b) `envoy.filters.http.jwt_authn` requiring a token signed by the same RSA key (inline `local_jwks`, its
//!   cache of verified tokens on);
//! - (c) `dist/authz.wasm` with the petstore configuration, under which the request is allowed.
//!
//! After a warm-up, three phases: requests one after another with the same token over one keep-alive connection per
//! Envoy; the same token over several concurrent connections; and one after another with a token never seen before
//! each time (first sight: (b) and (c) both cache verified tokens, so a repeated token is not what a new one
//! costs). The sequential phases go round the three Envoys request by request (in a rotating order), so that
//! whatever else the machine does at that moment weighs on all three alike; the concurrent phase gives each Envoy
//! the machine in turn, in short alternating slices. Every phase is bounded by time (the last also by its tokens),
//! so the run stops by itself in well under a minute.
//!
//! Environment: `BENCH_SECONDS` (each configuration's share of each phase, default 1.5), `BENCH_CONNECTIONS` (the
//! concurrent phase, default 4), `BENCH_TOKENS` (first-sight tokens, default 1000), `BENCH_WORKERS` (Envoy worker
//! threads, default 1), and the harness's `ENVOY_BIN` and `AUTHZ_WASM`.

use anyhow::{anyhow, bail, Context as _, Result};
use authz::mint::{CognitoClaims, DevKey};
use authz_e2e::bootstrap::{AuthFilter, Bootstrap, LISTENER};
use authz_e2e::{dist_wasm, locate_envoy, Connection, EchoServer, Envoy, Launch, Request};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const KID: &str = "bench-1";
const CLIENT: &str = "app-client-1";
const GROUP: &str = "pet-veterinarian";
const TARGET: &str = "/petstore/v1/pets/a1b2";
const WARM_UP_REQUESTS: usize = 300;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("envoy_bench: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// A positive number from the environment, or `default`.
fn setting<T: std::str::FromStr + PartialOrd + Default>(name: &str, default: T) -> Result<T> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(text) => match text.trim().parse::<T>() {
            Ok(value) if value > T::default() => Ok(value),
            _ => bail!("`{name}` must be a positive number, not `{text}`"),
        },
    }
}

struct Settings {
    /// Each configuration's share of each phase.
    share: Duration,
    connections: usize,
    tokens: usize,
    workers: u8,
}

/// One Envoy configuration under test, running.
struct Subject {
    label: &'static str,
    addr: SocketAddr,
    // Envoy first: it is stopped before its upstream.
    _envoy: Envoy,
    _upstream: EchoServer,
}

/// Latencies of one configuration in one phase, and the time it had the machine (for requests per second).
#[derive(Default)]
struct Sample {
    latencies: Vec<Duration>,
    wall: Duration,
}

/// What a table shows of a sample.
struct Summary {
    requests: usize,
    mean_us: f64,
    p50_us: f64,
    p99_us: f64,
    per_second: f64,
}

impl Sample {
    fn summary(&self) -> Summary {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let micros = |at: usize| sorted.get(at).map_or(0.0, |latency| latency.as_secs_f64() * 1e6);
        let n = sorted.len();
        let rank = |quantile: f64| ((quantile * n as f64).ceil() as usize).saturating_sub(1);
        let total: Duration = sorted.iter().sum();
        // Sequential phases share their wall time between the configurations: each one's rate is then what one
        // connection would get on its own, one over its mean latency.
        let wall = if self.wall.is_zero() { total } else { self.wall };
        Summary {
            requests: n,
            mean_us: if n == 0 { 0.0 } else { total.as_secs_f64() * 1e6 / n as f64 },
            p50_us: micros(rank(0.5)),
            p99_us: micros(rank(0.99)),
            per_second: if wall.is_zero() { 0.0 } else { n as f64 / wall.as_secs_f64() },
        }
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The petstore scenario's configuration with `key` as the pool's only key.
fn configuration(key: &DevKey) -> Result<Value> {
    let path = workspace().join("policies/scenarios/petstore.json");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let corpus: Value = serde_json::from_str(&text).with_context(|| format!("`{}` is not JSON", path.display()))?;
    let mut config = corpus.get("config").cloned().ok_or_else(|| anyhow!("`{}` has no `config`", path.display()))?;
    let jwks = config.pointer_mut("/issuers/0/jwks").ok_or_else(|| anyhow!("no `config.issuers[0].jwks`"))?;
    *jwks = key.jwks();
    Ok(config)
}

fn bearer(key: &DevKey, issuer: &str, user: &str, now: u64) -> String {
    let claims = CognitoClaims::access(issuer, CLIENT, user, now).groups(&[GROUP]);
    format!("Bearer {}", key.sign(&claims.to_json()))
}

/// `count` tokens of distinct users, minted on every core.
fn distinct_tokens(key: &DevKey, issuer: &str, count: usize, now: u64) -> Vec<String> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let per_thread = count.div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|thread| {
                scope.spawn(move || {
                    let from = thread * per_thread;
                    let to = count.min(from + per_thread);
                    (from..to).map(|index| bearer(key, issuer, &format!("user-{index:05}"), now)).collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|handle| handle.join().unwrap_or_default()).collect()
    })
}

fn request(authorization: Option<&str>) -> Request {
    let request = Request::new("GET", TARGET);
    match authorization {
        Some(value) => request.header("authorization", value),
        None => request,
    }
}

/// Sends `request` on `connection` and times it; anything but 200 is an error.
fn timed(connection: &mut Connection, request: &Request) -> Result<Duration> {
    let sent = Instant::now();
    let response = connection.send(request)?;
    let latency = sent.elapsed();
    if response.status != 200 {
        bail!("answered {}: {}", response.status, response.text());
    }
    Ok(latency)
}

/// Sends each of `requests` to every subject in turn, starting one subject later each time, until the requests
/// run out or `deadline` passes. One sample per subject, in their order.
fn round_robin<'r>(subjects: &[Subject], requests: impl Iterator<Item = &'r Request>, deadline: Instant) -> Result<Vec<Sample>> {
    let mut lanes: Vec<(usize, Connection, Sample)> = subjects
        .iter()
        .enumerate()
        .map(|(index, subject)| Ok((index, Connection::open(subject.addr)?, Sample::default())))
        .collect::<Result<_>>()?;
    for request in requests {
        if Instant::now() >= deadline {
            break;
        }
        for (index, connection, sample) in &mut lanes {
            let latency = timed(connection, request).with_context(|| subjects.get(*index).map_or("?", |s| s.label))?;
            sample.latencies.push(latency);
        }
        lanes.rotate_left(1);
    }
    lanes.sort_by_key(|(index, _, _)| *index);
    Ok(lanes.into_iter().map(|(_, _, sample)| sample).collect())
}

/// `connections` clients sending `request` to `addr`, each on its own connection, until `deadline`.
fn concurrent(addr: SocketAddr, request: &Request, connections: usize, deadline: Instant) -> Result<Sample> {
    let began = Instant::now();
    let lanes: Vec<Result<Vec<Duration>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..connections)
            .map(|_| {
                scope.spawn(|| {
                    let mut connection = Connection::open(addr)?;
                    let mut latencies = Vec::new();
                    while Instant::now() < deadline {
                        latencies.push(timed(&mut connection, request)?);
                    }
                    Ok(latencies)
                })
            })
            .collect();
        handles.into_iter().map(|handle| handle.join().unwrap_or_else(|_| Err(anyhow!("a client thread panicked")))).collect()
    });
    let mut sample = Sample { latencies: Vec::new(), wall: began.elapsed() };
    for latencies in lanes {
        sample.latencies.extend(latencies?);
    }
    Ok(sample)
}

/// Starts Envoy with `filter` in front of a new echo upstream and checks that a request without a token gets
/// `without_token`: whether the filter really requires one.
fn start(binary: &Path, label: &'static str, filter: AuthFilter<'_>, workers: u8, without_token: u16) -> Result<Subject> {
    let upstream = EchoServer::start()?;
    let yaml = Bootstrap::with_filter(filter, upstream.addr()).render();
    let envoy = Envoy::start(&Launch { binary, yaml: &yaml, concurrency: workers, quiet: true })?;
    let addr = envoy.listener(LISTENER).ok_or_else(|| anyhow!("{label}: Envoy serves no listener `{LISTENER}`"))?;
    let refused = authz_e2e::http::send(addr, &request(None))?;
    if refused.status != without_token {
        bail!("{label}: a request without a token got {}, not {without_token}", refused.status);
    }
    Ok(Subject { label, addr, _envoy: envoy, _upstream: upstream })
}

fn envoy_version(binary: &Path) -> String {
    // `<path>  version: <commit>/1.40.0/Clean/RELEASE/BoringSSL`
    let output = Command::new(binary).arg("--version").output().map(|output| String::from_utf8_lossy(&output.stdout).into_owned());
    let version = output.ok().and_then(|text| {
        let (_, build) = text.split_once("version: ")?;
        build.split('/').nth(1).map(str::to_owned)
    });
    version.unwrap_or_else(|| "(version unknown)".to_owned())
}

fn print_table(title: &str, subjects: &[Subject], samples: &[Sample]) {
    println!("\n{title}");
    println!(
        "{:<20} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>11} {:>9} {:>10}",
        "configuration", "requests", "mean µs", "p50 µs", "p99 µs", "req/s", "mean ×(a)", "mean +µs", "p50 ×(a)", "p50 +µs"
    );
    let summaries: Vec<Summary> = samples.iter().map(Sample::summary).collect();
    let Some(baseline) = summaries.first() else {
        return;
    };
    for (subject, summary) in subjects.iter().zip(&summaries) {
        println!(
            "{:<20} {:>8} {:>9.1} {:>9.1} {:>9.1} {:>9.0} {:>9.2} {:>+11.1} {:>9.2} {:>+10.1}",
            subject.label,
            summary.requests,
            summary.mean_us,
            summary.p50_us,
            summary.p99_us,
            summary.per_second,
            summary.mean_us / baseline.mean_us,
            summary.mean_us - baseline.mean_us,
            summary.p50_us / baseline.p50_us,
            summary.p50_us - baseline.p50_us,
        );
    }
}

fn run() -> Result<()> {
    let settings = Settings {
        share: Duration::from_secs_f64(setting("BENCH_SECONDS", 1.5)?),
        connections: setting("BENCH_CONNECTIONS", 4)?,
        tokens: setting("BENCH_TOKENS", 1000)?,
        workers: setting("BENCH_WORKERS", 1)?,
    };
    let binary = locate_envoy()?;
    let wasm = dist_wasm()?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();

    let key = DevKey::generate_rsa(KID).context("cannot make the RSA key")?;
    let config = configuration(&key)?;
    let issuer = config.pointer("/issuers/0/issuer").and_then(Value::as_str).unwrap_or_default().to_owned();
    let config_text = config.to_string();
    let jwks = key.jwks().to_string();
    let token = bearer(&key, &issuer, "alice", now);
    let with_token = request(Some(&token));
    let minting = Instant::now();
    let first_sight: Vec<Request> =
        distinct_tokens(&key, &issuer, settings.tokens, now).iter().map(|token| request(Some(token))).collect();
    let minted_in = minting.elapsed();

    let subjects = [
        start(&binary, "(a) no auth filter", AuthFilter::None, settings.workers, 200)?,
        start(&binary, "(b) jwt_authn", AuthFilter::JwtAuthn { issuer: &issuer, jwks: &jwks }, settings.workers, 401)?,
        start(&binary, "(c) authz.wasm", AuthFilter::Wasm { module: &wasm, configuration: &config_text }, settings.workers, 401)?,
    ];
    println!(
        "Envoy {} ({}), {} worker(s) each; every Envoy in front of its own echo upstream, all on 127.0.0.1.",
        envoy_version(&binary),
        binary.display(),
        settings.workers
    );
    println!(
        "GET {TARGET} with a Cognito-shaped RS256 access token ({} bytes, 2048-bit key); {:.1} s per configuration and \
         phase; {} first-sight tokens (minted in {:.1?}).",
        token.len(),
        settings.share.as_secs_f64(),
        first_sight.len(),
        minted_in
    );

    let rounds = |share: Duration| Instant::now() + share * 3;
    round_robin(&subjects, std::iter::repeat_n(&with_token, WARM_UP_REQUESTS), rounds(Duration::from_secs(20))).context("warm-up")?;
    let repeated = round_robin(&subjects, std::iter::repeat(&with_token), rounds(settings.share))?;
    // Throughput needs the machine to itself: each Envoy in turn, in slices, alternating.
    let slices = 6u32;
    let mut concurrent_samples: Vec<Sample> = subjects.iter().map(|_| Sample::default()).collect();
    for _ in 0..slices {
        for (subject, sample) in subjects.iter().zip(&mut concurrent_samples) {
            let slice = concurrent(subject.addr, &with_token, settings.connections, Instant::now() + settings.share / slices)
                .with_context(|| subject.label)?;
            sample.latencies.extend(slice.latencies);
            sample.wall += slice.wall;
        }
    }
    let first = round_robin(&subjects, first_sight.iter(), rounds(settings.share))?;

    print_table("The same token, one keep-alive connection, one request at a time (req/s = 1 / mean)", &subjects, &repeated);
    print_table(
        &format!("The same token, {} keep-alive connections at once (latency per request; req/s in all)", settings.connections),
        &subjects,
        &concurrent_samples,
    );
    print_table("A new token every request (first sight), one keep-alive connection (req/s = 1 / mean)", &subjects, &first);
    println!("\nOn a busy machine the mean follows the slowest requests; the median (p50) is the steadier figure.");
    println!(
        "(b) checks the signature, issuer and expiry. (c) also checks token_use and the client, maps the group to its IAM \
         policy, evaluates it, and adds identity headers."
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn summarises_latencies_by_rank() {
        let latencies = (1..=200).rev().map(Duration::from_micros).collect();
        let summary = Sample { latencies, wall: Duration::from_secs(2) }.summary();
        assert_eq!(summary.requests, 200);
        assert!((summary.mean_us - 100.5).abs() < 1e-6);
        assert!((summary.p50_us - 100.0).abs() < 1e-6);
        assert!((summary.p99_us - 198.0).abs() < 1e-6);
        assert!((summary.per_second - 100.0).abs() < 1e-6);
        // Without a wall time of its own (a round-robin phase), the rate is one over the mean.
        let shared = Sample { latencies: vec![Duration::from_micros(250); 4], wall: Duration::ZERO }.summary();
        assert!((shared.per_second - 4000.0).abs() < 1e-6);
    }
}
