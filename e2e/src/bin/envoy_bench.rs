//! `make bench-envoy`: what the filter costs inside real Envoy, next to Envoy's own JWT filter and to two probe
//! filters, all measured in the same run on the same machine. Seven Envoys, one worker each (`BENCH_WORKERS`), whose
//! route answers by itself (`direct_response`), so that nothing but Envoy and its filter does the work:
//!
//! - (a) no filter: the baseline every "added" figure is against;
//! - (b) `envoy.filters.http.jwt_authn` requiring a token signed by the same RSA key (inline `local_jwks`, its cache
//!   of verified tokens on);
//! - (b2) the native stack for the filter's job: that `jwt_authn` also writing six claims to headers and the payload
//!   to metadata, then RBAC filters saying what the petstore policies say (`PETSTORE_RBAC`);
//! - (c) the empty probe (`e2e/probe`, the proxy-wasm SDK's dispatch and nothing else): the sandbox's own floor;
//! - (d) the probe making exactly the filter's host calls for this request (`authz_probe::FILTER_CALLS`, checked
//!   against the filter by `host-tests/benches/request.rs`): the host-call floor;
//! - (e) `dist/authz.wasm` with the petstore configuration and its policies, under which the request is allowed;
//! - (f) the same with `decision_record: "refusals"` (no record for an allowed request);
//! - (g) only with `AUTHZ_BASELINE_WASM=module`: another build of the filter, interleaved with (e) in both phases.
//!
//! Load comes from `wrk` (one thread, `BENCH_CONNECTIONS` connections, default 8): first the same token on every
//! request (both filters then answer from their caches), then a new token on every request (a Lua script cycles
//! through `BENCH_TOKENS` distinct tokens, more than either cache holds). Each Envoy gets `BENCH_SECONDS` per round;
//! rounds (`BENCH_ROUNDS`) go round the Envoys in a rotating order, and each figure is the best round. The worker
//! time per request is the CPU time the Envoy process used over the round divided by the requests it served: on
//! a shared machine that is steadier than 1 / (requests per second), which the table also shows.
//!
//! The run ends with the goals of issue 8 in one table, next to their baselines, adding what
//! `host-tests/benches/request.rs` wrote to `target/bench/wasmtime.json` in the same `make bench` and the size of
//! `dist/authz.wasm`; its own figures go to `target/bench/envoy.json`.

use anyhow::{anyhow, bail, Context as _, Result};
use authz_e2e::bootstrap::{AuthFilter, Bootstrap, LISTENER};
use authz_e2e::{dist_wasm, locate_envoy, EchoServer, Envoy, Launch, Request};
use authz_testkit::mint::{CognitoClaims, DevKey};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{SystemTime, UNIX_EPOCH};

const KID: &str = "bench-1";
const CLIENT: &str = "app-client-1";
const GROUP: &str = "pet-veterinarian";
const TARGET: &str = "/petstore/v1/pets/a1b2";

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
    seconds: f64,
    rounds: usize,
    connections: usize,
    tokens: usize,
    workers: u8,
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

/// What the petstore configuration's policies say, as Envoy's RBAC filters say it after `jwt_authn` (the native
/// stack users compare with): the `suspended` group denied everything, then the groups', client's and user's allows
/// by path prefix and method. Claims are read from `jwt_authn`'s `jwt_payload` metadata.
const PETSTORE_RBAC: &str = r#"        - name: envoy.filters.http.rbac
          typed_config:
            "@type": type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC
            rules:
              action: DENY
              policies:
                suspended:
                  permissions: [{any: true}]
                  principals:
                  - metadata:
                      filter: envoy.filters.http.jwt_authn
                      path: [{key: jwt_payload}, {key: "cognito:groups"}]
                      value: {list_match: {one_of: {string_match: {exact: suspended}}}}
        - name: envoy.filters.http.rbac
          typed_config:
            "@type": type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC
            rules:
              action: ALLOW
              policies:
                pet-veterinarian:
                  permissions:
                  - url_path: {path: {prefix: /petstore/v1/}}
                  - and_rules:
                      rules:
                      - header: {name: ":method", string_match: {exact: GET}}
                      - url_path: {path: {exact: /petstore/v2/status}}
                  principals:
                  - metadata:
                      filter: envoy.filters.http.jwt_authn
                      path: [{key: jwt_payload}, {key: "cognito:groups"}]
                      value: {list_match: {one_of: {string_match: {exact: pet-veterinarian}}}}
                product-readers:
                  permissions: [{url_path: {path: {prefix: /products}}}]
                  principals:
                  - metadata:
                      filter: envoy.filters.http.jwt_authn
                      path: [{key: jwt_payload}, {key: "cognito:groups"}]
                      value: {list_match: {one_of: {string_match: {exact: product-readers}}}}
                carol:
                  permissions:
                  - and_rules:
                      rules:
                      - header: {name: ":method", string_match: {exact: GET}}
                      - url_path: {path: {prefix: /petstore/v2/pets/carol}}
                  principals:
                  - metadata:
                      filter: envoy.filters.http.jwt_authn
                      path: [{key: jwt_payload}, {key: username}]
                      value: {string_match: {exact: carol}}
"#;

fn token(key: &DevKey, issuer: &str, user: &str, now: u64) -> String {
    key.sign(&CognitoClaims::access(issuer, CLIENT, user, now).groups(&[GROUP]).to_json())
}

/// `count` tokens of distinct users, minted on every core.
fn distinct_tokens(key: &DevKey, issuer: &str, count: usize, now: u64) -> Vec<String> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|thread| {
                scope.spawn(move || {
                    (thread..count)
                        .step_by(threads)
                        .map(|index| token(key, issuer, &format!("user-{index:05}"), now))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|handle| handle.join().unwrap_or_default()).collect()
    })
}

/// One Envoy under test, running.
struct Subject {
    label: &'static str,
    addr: SocketAddr,
    pid: u32,
    // Envoy first: it is stopped before its upstream.
    _envoy: Envoy,
    _upstream: EchoServer,
}

/// Starts Envoy with `filter` and checks that a request without a token gets `without_token`.
fn start(
    binary: &Path,
    label: &'static str,
    filter: AuthFilter<'_>,
    workers: u8,
    without_token: u16,
) -> Result<Subject> {
    let upstream = EchoServer::start()?;
    let mut bootstrap = Bootstrap::with_filter(filter, upstream.addr());
    bootstrap.access_log = false;
    bootstrap.direct_response = true;
    let envoy = Envoy::start(&Launch { binary, yaml: &bootstrap.render(), concurrency: workers, quiet: true })?;
    let addr = envoy.listener(LISTENER).ok_or_else(|| anyhow!("{label}: Envoy serves no listener `{LISTENER}`"))?;
    let refused = authz_e2e::http::send(addr, &Request::new("GET", TARGET))?;
    if refused.status != without_token {
        bail!("{label}: a request without a token got {}, not {without_token}", refused.status);
    }
    Ok(Subject { label, addr, pid: envoy.pid(), _envoy: envoy, _upstream: upstream })
}

/// CPU time the process `pid` has used, all its threads, in nanoseconds.
fn cpu_ns(pid: u32) -> Result<u64> {
    let mut total = 0;
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).with_context(|| format!("no /proc/{pid}/task"))?;
    for task in tasks.flatten() {
        // A thread that ended in between has no schedstat any more; its time no longer counts either.
        if let Ok(text) = std::fs::read_to_string(task.path().join("schedstat")) {
            total += text.split_whitespace().next().and_then(|ns| ns.parse::<u64>().ok()).unwrap_or(0);
        }
    }
    Ok(total)
}

/// What one subject did in one round.
#[derive(Debug, Clone, Copy)]
struct Round {
    per_second: f64,
    cpu_us: f64,
}

/// The load of one phase: the same token, or a script that sends a new one each time.
enum Load<'a> {
    Token(&'a str),
    Script { script: &'a Path, tokens: &'a Path },
}

/// Runs wrk against `subject` for `seconds`; anything but 2xx is an error.
fn wrk(subject: &Subject, load: &Load<'_>, seconds: f64, connections: usize) -> Result<Round> {
    let mut command = Command::new("wrk");
    command.args(["-t1", &format!("-c{connections}"), &format!("-d{seconds}s")]);
    match load {
        Load::Token(token) => {
            command.args(["-H", &format!("authorization: Bearer {token}")]);
        }
        Load::Script { script, .. } => {
            command.arg("-s").arg(script);
        }
    }
    command.arg(format!("http://{}{TARGET}", subject.addr));
    if let Load::Script { tokens, .. } = load {
        command.arg("--").arg(tokens);
    }
    let before = cpu_ns(subject.pid)?;
    let output = command.output().context("cannot run `wrk` (apt-get install wrk)")?;
    let after = cpu_ns(subject.pid)?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!("{}: wrk failed: {}{}", subject.label, text, String::from_utf8_lossy(&output.stderr));
    }
    if let Some(line) = text.lines().find(|line| line.contains("Non-2xx or 3xx responses")) {
        bail!("{}: {}", subject.label, line.trim());
    }
    let requests: f64 = text
        .lines()
        .find_map(|line| line.trim().split_once(" requests in ").and_then(|(count, _)| count.trim().parse().ok()))
        .ok_or_else(|| anyhow!("{}: no request count in wrk's output: {text}", subject.label))?;
    let per_second: f64 = text
        .lines()
        .find_map(|line| line.strip_prefix("Requests/sec:").and_then(|rate| rate.trim().parse().ok()))
        .ok_or_else(|| anyhow!("{}: no rate in wrk's output: {text}", subject.label))?;
    if requests < 1.0 {
        bail!("{}: wrk sent no request", subject.label);
    }
    Ok(Round { per_second, cpu_us: (after - before) as f64 / 1e3 / requests })
}

/// The best round of each subject over `rounds` rounds in rotating order (after one short warm-up each).
fn phase(subjects: &[&Subject], load: &Load<'_>, settings: &Settings) -> Result<Vec<Round>> {
    for subject in subjects {
        wrk(subject, load, 1.0, settings.connections).with_context(|| format!("{}: warm-up", subject.label))?;
    }
    let mut best: Vec<Round> = subjects.iter().map(|_| Round { per_second: 0.0, cpu_us: f64::INFINITY }).collect();
    for round in 0..settings.rounds {
        for offset in 0..subjects.len() {
            let index = (round + offset) % subjects.len();
            let (Some(subject), Some(best)) = (subjects.get(index), best.get_mut(index)) else { continue };
            let got = wrk(subject, load, settings.seconds, settings.connections)?;
            best.per_second = best.per_second.max(got.per_second);
            best.cpu_us = best.cpu_us.min(got.cpu_us);
        }
    }
    Ok(best)
}

fn print_phase(title: &str, subjects: &[&Subject], rounds: &[Round]) {
    println!("\n{title}");
    println!("{:<26} {:>9} {:>13} {:>12} {:>13}", "configuration", "req/s", "CPU µs/req", "added µs", "× (b) req/s");
    let (Some(none), Some(jwt)) = (rounds.first(), rounds.get(1)) else { return };
    for (subject, round) in subjects.iter().zip(rounds) {
        println!(
            "{:<26} {:>9.0} {:>13.2} {:>+12.2} {:>13.2}",
            subject.label,
            round.per_second,
            round.cpu_us,
            round.cpu_us - none.cpu_us,
            // Throughput of a saturated worker is 1 / its time per request.
            jwt.cpu_us / round.cpu_us,
        );
    }
}

fn envoy_version(binary: &Path) -> String {
    // `<path>  version: <commit>/1.40.0/Clean/RELEASE/BoringSSL`
    let output = Command::new(binary)
        .arg("--version")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).into_owned());
    let version = output.ok().and_then(|text| {
        let (_, build) = text.split_once("version: ")?;
        build.split('/').nth(1).map(str::to_owned)
    });
    version.unwrap_or_else(|| "(version unknown)".to_owned())
}

/// One row of the goals table.
fn goal(metric: &str, now: String, goal: &str, met: Option<bool>, baseline: String) {
    let verdict = match met {
        Some(true) => "met",
        Some(false) => "MISSED",
        None => "—",
    };
    println!("| {metric} | {now} | {goal} | {verdict} | {baseline} |");
}

fn run() -> Result<()> {
    let settings = Settings {
        seconds: setting("BENCH_SECONDS", 2.0)?,
        rounds: setting("BENCH_ROUNDS", 5)?,
        connections: setting("BENCH_CONNECTIONS", 8)?,
        tokens: setting("BENCH_TOKENS", 2000)?,
        workers: setting("BENCH_WORKERS", 1)?,
    };
    let binary = locate_envoy()?;
    let wasm = dist_wasm()?;
    let probe = workspace().join("dist/bench/probe.wasm");
    if !probe.is_file() {
        bail!("no probe filter at `{}`: run `make bench` (or `make dist/bench/probe.wasm`)", probe.display());
    }
    Command::new("wrk").arg("--version").output().context("`wrk` is not installed (apt-get install wrk)")?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();

    let key = DevKey::generate_rsa(KID).context("cannot make the RSA key")?;
    let config = configuration(&key)?;
    let issuer = config.pointer("/issuers/0/issuer").and_then(Value::as_str).unwrap_or_default().to_owned();
    let config_text = config.to_string();
    let jwks = key.jwks().to_string();
    let cached = token(&key, &issuer, "alice", now);
    let scratch = std::env::temp_dir().join(format!("authz-envoy-bench-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let tokens = scratch.join("tokens.txt");
    std::fs::write(&tokens, distinct_tokens(&key, &issuer, settings.tokens, now).join("\n") + "\n")?;
    let script = scratch.join("new-token.lua");
    std::fs::write(
        &script,
        format!(
            "local tokens = {{}}\nlocal next = 0\n\
             function init(args)\n  for line in io.lines(args[1]) do tokens[#tokens + 1] = line end\nend\n\
             function request()\n  next = next % #tokens + 1\n  \
             return wrk.format(\"GET\", \"{TARGET}\", {{[\"authorization\"] = \"Bearer \" .. tokens[next]}})\nend\n"
        ),
    )?;

    let none = start(&binary, "(a) no filter", AuthFilter::None, settings.workers, 200)?;
    let jwt =
        start(&binary, "(b) jwt_authn", AuthFilter::JwtAuthn { issuer: &issuer, jwks: &jwks }, settings.workers, 401)?;
    let native = start(
        &binary,
        "(b2) jwt_authn + RBAC",
        AuthFilter::JwtAuthnRbac { issuer: &issuer, jwks: &jwks, rbac: PETSTORE_RBAC },
        settings.workers,
        401,
    )?;
    let empty = start(
        &binary,
        "(c) empty probe",
        AuthFilter::Wasm { module: &probe, configuration: "" },
        settings.workers,
        200,
    )?;
    let calls = start(
        &binary,
        "(d) host-call probe",
        AuthFilter::Wasm { module: &probe, configuration: authz_probe::FILTER_CALLS },
        settings.workers,
        200,
    )?;
    let authz = start(
        &binary,
        "(e) authz.wasm",
        AuthFilter::Wasm { module: &wasm, configuration: &config_text },
        settings.workers,
        401,
    )?;
    // The same configuration without a decision record for allowed requests (`decision_record: "refusals"`).
    let mut quiet = config.clone();
    if let Some(members) = quiet.as_object_mut() {
        members.insert("decision_record".into(), Value::from("refusals"));
    }
    let quiet_text = quiet.to_string();
    let unrecorded = start(
        &binary,
        "(f) authz.wasm, refusals recorded",
        AuthFilter::Wasm { module: &wasm, configuration: &quiet_text },
        settings.workers,
        401,
    )?;
    // Another build of the filter, measured interleaved with this one in both phases (before/after a change).
    let compared = match std::env::var_os("AUTHZ_BASELINE_WASM") {
        Some(module) => Some(start(
            &binary,
            "(g) AUTHZ_BASELINE_WASM",
            AuthFilter::Wasm { module: Path::new(&module), configuration: &config_text },
            settings.workers,
            401,
        )?),
        None => None,
    };
    // Every authorizing subject allows the benchmark's request and refuses what the policies refuse: otherwise a
    // mistyped RBAC rule (or a filter refusing everything) would be measured as cheap.
    let suspended = key.sign(&CognitoClaims::access(&issuer, CLIENT, "mallory", now).groups(&["suspended"]).to_json());
    let mut authorizing = vec![&jwt, &native, &authz, &unrecorded];
    authorizing.extend(compared.as_ref());
    for subject in authorizing {
        let ask = |path: &str, token: &str| {
            authz_e2e::http::send(
                subject.addr,
                &Request::new("GET", path).header("authorization", &format!("Bearer {token}")),
            )
            .map(|response| response.status)
        };
        let answers = [ask(TARGET, &cached)?, ask("/petstore/v2/pets", &cached)?, ask(TARGET, &suspended)?];
        let expected: [u16; 3] = if std::ptr::eq(subject, &jwt) { [200, 200, 200] } else { [200, 403, 403] };
        if answers != expected {
            bail!("{}: answered {answers:?} where {expected:?} was expected", subject.label);
        }
    }
    println!(
        "Envoy {} ({}), {} worker(s); wrk -t1 -c{}, {} s per Envoy and round, best of {} rounds; direct_response route.",
        envoy_version(&binary),
        binary.display(),
        settings.workers,
        settings.connections,
        settings.seconds,
        settings.rounds
    );
    println!(
        "GET {TARGET}, RS256 access token ({} bytes, 2048-bit key), petstore configuration with policies; {} new tokens.",
        cached.len(),
        settings.tokens
    );

    let mut all = vec![&none, &jwt, &empty, &calls, &authz, &unrecorded, &native];
    let mut new_token = vec![&none, &jwt, &authz, &native];
    if let Some(compared) = &compared {
        all.push(compared);
        new_token.push(compared);
    }
    let repeated = phase(&all, &Load::Token(&cached), &settings)?;
    let first = phase(&new_token, &Load::Script { script: &script, tokens: &tokens }, &settings)?;
    let _ = std::fs::remove_dir_all(&scratch);

    print_phase("The same token on every request (both filters answer from their caches)", &all, &repeated);
    print_phase("A new token on every request", &new_token, &first);
    println!(
        "\n(b) checks the signature, issuer and expiry. (e) also checks token_use and the client, maps the group to its \
         IAM policy, evaluates it, adds six identity headers after removing any client copy, and records its decision. \
         (f) is (e) with `decision_record: \"refusals\"`: an allowed request writes no record. (b2) is the native \
         stack for the same job: jwt_authn putting six claims in headers and the payload in metadata, then two RBAC \
         filters saying what the petstore policies say."
    );

    let cpu = |rounds: &[Round], index: usize| rounds.get(index).map_or(f64::NAN, |round| round.cpu_us);
    let added = |rounds: &[Round], index: usize| cpu(rounds, index) - cpu(rounds, 0);
    let results = json!({
        "cached": {"none_us": cpu(&repeated, 0), "jwt_authn_us": cpu(&repeated, 1), "empty_probe_us": cpu(&repeated, 2),
                   "host_call_probe_us": cpu(&repeated, 3), "authz_us": cpu(&repeated, 4),
                   "authz_refusals_recorded_us": cpu(&repeated, 5), "jwt_authn_rbac_us": cpu(&repeated, 6),
                   "per_second": repeated.iter().map(|round| round.per_second).collect::<Vec<_>>()},
        "new_token": {"none_us": cpu(&first, 0), "jwt_authn_us": cpu(&first, 1), "authz_us": cpu(&first, 2),
                      "jwt_authn_rbac_us": cpu(&first, 3),
                      "per_second": first.iter().map(|round| round.per_second).collect::<Vec<_>>()},
    });
    let out = workspace().join("target/bench");
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("envoy.json"), serde_json::to_string_pretty(&results)?)?;

    // The goals of issue 8, each next to its baseline from this run.
    let wasmtime: Option<Value> =
        std::fs::read_to_string(out.join("wasmtime.json")).ok().and_then(|text| serde_json::from_str(&text).ok());
    let number = |pointer: &str| wasmtime.as_ref().and_then(|value| value.pointer(pointer)).and_then(Value::as_f64);
    println!("\nGoals (issue 8)\n");
    println!("| Metric | Now | Goal | | Baseline in the same run |");
    println!("|---|---|---|---|---|");
    let throughput = cpu(&repeated, 1) / cpu(&repeated, 4);
    goal(
        "Throughput, cached token, one worker, 8 connections: ours / jwt_authn",
        format!("{throughput:.2}"),
        "≥ 0.90",
        Some(throughput >= 0.90),
        format!(
            "empty probe / jwt_authn {:.2}, host-call probe / jwt_authn {:.2}; ours / (jwt_authn + RBAC) {:.2}",
            cpu(&repeated, 1) / cpu(&repeated, 2),
            cpu(&repeated, 1) / cpu(&repeated, 3),
            cpu(&repeated, 6) / cpu(&repeated, 4)
        ),
    );
    let (ours, floor) = (added(&repeated, 4), added(&repeated, 2));
    goal(
        "Added worker time per request, cached token",
        format!("+{ours:.1} µs ({:.1}× the empty probe's)", ours / floor),
        "≤ +8 µs (≤ 2× the empty probe's)",
        Some(ours <= 8.0 && ours <= 2.0 * floor),
        format!(
            "empty probe +{floor:.1} µs, host-call probe +{:.1} µs, jwt_authn +{:.1} µs, jwt_authn + RBAC +{:.1} µs; \
             with `decision_record: \"refusals\"` +{:.1} µs",
            added(&repeated, 3),
            added(&repeated, 1),
            added(&repeated, 6),
            added(&repeated, 5)
        ),
    );
    let (ours, theirs) = (added(&first, 2), added(&first, 1));
    goal(
        "Added worker time per request, a new token every request: ours / jwt_authn",
        format!("+{ours:.0} / +{theirs:.0} µs = {:.2}×", ours / theirs),
        "≤ 1.5×",
        Some(ours / theirs <= 1.5),
        format!("jwt_authn +{theirs:.1} µs, jwt_authn + RBAC +{:.1} µs", added(&first, 3)),
    );
    match (number("/new_token_us"), number("/cached_us")) {
        (Some(new), Some(cached)) => goal(
            "A new token in the wasmtime host (`authz check --wasm`'s), new minus cached",
            format!("{:.0} µs", new - cached),
            "≤ 120 µs",
            Some(new - cached <= 120.0),
            format!("cached token {cached:.1} µs, empty probe {:.1} µs", number("/empty_probe_us").unwrap_or(f64::NAN)),
        ),
        _ => goal(
            "A new token in the wasmtime host",
            "not measured (run host-tests/benches/request.rs)".into(),
            "≤ 120 µs",
            None,
            String::new(),
        ),
    }
    let size = std::fs::metadata(&wasm).map(|meta| meta.len()).unwrap_or(0);
    let probe_size = std::fs::metadata(&probe).map(|meta| meta.len()).unwrap_or(0);
    goal(
        "dist/authz.wasm after wasm-opt",
        format!("{} KB", size / 1000),
        "≤ 300 KB",
        Some(size <= 300_000),
        format!("empty probe (SDK only) {} KB", probe_size / 1000),
    );
    match (number("/config_load_ms"), number("/config_memory_kib")) {
        (Some(ms), Some(kib)) => goal(
            "Configuration load in wasm, 1,000 groups × 10 statements",
            format!("{ms:.0} ms, VM memory {:.1} MiB", kib / 1024.0),
            "≤ 20 ms, memory reported",
            Some(ms <= 20.0),
            format!(
                "petstore {:.2} ms, {:.1} MiB",
                number("/petstore_load_ms").unwrap_or(f64::NAN),
                number("/petstore_memory_kib").unwrap_or(f64::NAN) / 1024.0
            ),
        ),
        _ => goal(
            "Configuration load in wasm",
            "not measured (run host-tests/benches/request.rs)".into(),
            "≤ 20 ms",
            None,
            String::new(),
        ),
    }
    Ok(())
}
