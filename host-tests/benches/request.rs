//! `make bench`, wasmtime part: what one request costs the built filter (`dist/authz.wasm`) inside this host, next
//! to two probe filters run in the same process and the same rounds (`e2e/probe`): the empty one (the proxy-wasm
//! SDK's context dispatch, nothing else) and one making exactly the filter's host calls for the same request
//! (checked here before anything is timed). The difference between the filter and the host-call probe is the
//! filter's own code running in the sandbox.
//!
//! Also timed: a new token on every request (first sight, RSA-2048), and loading a configuration of 1,000 groups
//! with 10 statements each, with the memory its VM then holds. Last, the request's cost split into the stages of
//! its pipeline (`authz::stages`): the same code natively and as a wasm module of its own in this engine
//! (`dist/bench/stages.wasm`, no host calls), stage by stage.
//!
//! Time is the benchmark thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), not wall time, so that other work on
//! a shared machine weighs less; rounds are interleaved and each figure is the best round. Ratios are against the
//! empty probe of the same run. `AUTHZ_WASM` and `AUTHZ_PROBE_WASM` choose the modules; `BENCH_ROUNDS` and
//! `BENCH_SECONDS` (each subject's share of a round) the length. With `AUTHZ_BENCH_PROFILE=cached|new|config` it only
//! runs that request (or configuration load) in a loop, for `perf record` (set `AUTHZ_HOST_PERFMAP=1` so that perf can name guest
//! functions; use the module before wasm-opt, which still has its names).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod workload;

use authz_host::{Direction, FilterHost, HttpOutcome, LogLevel, Plugin};
use authz_testkit::mint::DevKey;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use workload::{large, module, petstore, setting, thread_cpu_ns, NOW};

const TARGET: &str = "/petstore/v1/pets/a1b2";
/// More than the default token cache holds, so that cycling through them never hits.
const FIRST_SIGHT_TOKENS: usize = 1_500;

/// The request as Envoy hands it to the filter behind `wrk`.
fn request(token: &str) -> Vec<(String, String)> {
    workload::request("GET", TARGET, token)
}

fn token(key: &DevKey, user: &str) -> String {
    workload::token(key, user, &["pet-veterinarian"])
}

/// `count` tokens of distinct users, minted on every core.
fn tokens(key: &DevKey, count: usize) -> Vec<String> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|thread| {
                scope.spawn(move || {
                    (thread..count).step_by(threads).map(|i| token(key, &format!("u{i:05}"))).collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|handle| handle.join().unwrap()).collect()
    })
}

fn start(host: &FilterHost, config: &str) -> Plugin {
    let (mut plugin, configured) = host.start(b"", config.as_bytes()).unwrap();
    assert!(configured, "the configuration was refused: {:?}", plugin.logs());
    plugin.set_time_nanos(NOW * 1_000_000_000);
    // Envoy's default level: the filter formats no debug line.
    plugin.set_log_level(LogLevel::Info);
    plugin
}

fn send(plugin: &mut Plugin, headers: &[(String, String)]) {
    match plugin.http_request(headers).unwrap() {
        HttpOutcome::Continue { .. } => {}
        other => panic!("the request was not let through: {other:?}"),
    }
}

/// One thing timed: a VM and the requests it is sent, in turn.
struct Subject {
    label: &'static str,
    plugin: Plugin,
    requests: Vec<Vec<(String, String)>>,
    next: usize,
    /// The best round's CPU nanoseconds per request.
    best: f64,
}

impl Subject {
    fn new(label: &'static str, plugin: Plugin, requests: Vec<Vec<(String, String)>>) -> Self {
        Self { label, plugin, requests, next: 0, best: f64::INFINITY }
    }

    fn send_one(&mut self) {
        let index = self.next % self.requests.len();
        self.next += 1;
        send(&mut self.plugin, &self.requests[index]);
    }

    /// Sends requests for about `share` of wall time; keeps the round if it is the best so far.
    fn round(&mut self, share: Duration) {
        let (began, cpu) = (Instant::now(), thread_cpu_ns());
        let mut sent = 0u64;
        while began.elapsed() < share {
            for _ in 0..10 {
                self.send_one();
            }
            sent += 10;
        }
        let per_request = (thread_cpu_ns() - cpu) as f64 / sent as f64;
        self.best = self.best.min(per_request);
    }
}

/// The host functions a request made, in order (calls into the VM, such as the allocator, left out).
fn calls_of(plugin: &Plugin) -> Vec<&'static str> {
    plugin.host_calls().iter().filter(|call| call.direction == Direction::VmToHost).map(|call| call.function).collect()
}

fn profile(mode: &str, cached: Subject, first_sight: Subject) {
    let mut subject = if mode == "new" { first_sight } else { cached };
    let seconds = setting("BENCH_SECONDS", 10.0);
    let began = Instant::now();
    let mut sent = 0u64;
    while began.elapsed() < Duration::from_secs_f64(seconds) {
        subject.send_one();
        sent += 1;
    }
    println!(
        "{}: {sent} requests, {:.2} µs each (wall)",
        subject.label,
        began.elapsed().as_secs_f64() * 1e6 / sent as f64
    );
}

/// Times `run(iterations)` (which returns whether it worked) in CPU nanoseconds per iteration, best of `rounds`.
fn per_iteration(rounds: usize, iterations: u32, mut run: impl FnMut(u32) -> u32) -> f64 {
    assert_ne!(run(1), 0, "the stage failed");
    let mut best = f64::INFINITY;
    for _ in 0..rounds {
        let cpu = thread_cpu_ns();
        std::hint::black_box(run(iterations));
        best = best.min((thread_cpu_ns() - cpu) as f64 / f64::from(iterations));
    }
    best
}

/// Each stage of the cached request natively and in wasm (the stages module, run by wasmtime directly).
fn stage_table(config: &str, headers: &[(String, String)], rounds: usize) -> Value {
    use authz::stages::{encode, Stage, Stages};
    let map = encode(headers);
    // The same inputs for other engines (host-tests/benches/stages-v8.mjs runs the module in Node's V8).
    let out = workload::workspace().join("target/bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("stages-config.json"), config).unwrap();
    std::fs::write(out.join("stages-map.bin"), &map).unwrap();
    let mut native = Stages::new(config.as_bytes(), map.clone(), NOW).unwrap();
    let (path, bytes) = module("AUTHZ_STAGES_WASM", "dist/bench/stages.wasm");
    // Twice: in a plain engine, and interrupted at epochs as the filter host runs (and as Envoy's V8 checks for
    // interrupts): each loop turn then also reads the epoch, which is what loops cost inside a host.
    let instance = |epochs: bool| {
        let mut engine_config = wasmtime::Config::new();
        engine_config.epoch_interruption(epochs);
        let engine = wasmtime::Engine::new(&engine_config).unwrap();
        let module = wasmtime::Module::new(&engine, &bytes).unwrap();
        workload::WasmStages::new(&engine, &module, config.as_bytes(), &map)
            .expect("the stages module refused its setup")
    };
    let (mut wasm, mut epochs) = (instance(false), instance(true));

    println!(
        "\nStages of the cached request ({}): the same code natively and in wasmtime (plain, and with epoch \
         interruption as in the filter host), no host calls",
        path.display()
    );
    println!("{:<42} {:>12} {:>12} {:>8} {:>14}", "stage", "native µs", "wasm µs", "× native", "epochs µs");
    let mut rows = serde_json::Map::new();
    for (number, stage) in Stage::ALL.iter().enumerate() {
        let iterations = if matches!(stage, Stage::Verify | Stage::Signature) { 100 } else { 20_000 };
        let native_ns = per_iteration(rounds, iterations, |n| native.run(*stage, n));
        let wasm_ns = per_iteration(rounds, iterations, |n| wasm.run(number, n));
        let epochs_ns = per_iteration(rounds, iterations, |n| epochs.run(number, n));
        println!(
            "{:<42} {:>12.3} {:>12.3} {:>8.2} {:>14.3}",
            stage.name(),
            native_ns / 1e3,
            wasm_ns / 1e3,
            wasm_ns / native_ns,
            epochs_ns / 1e3
        );
        rows.insert(
            format!("{stage:?}"),
            json!({"native_us": native_ns / 1e3, "wasm_us": wasm_ns / 1e3, "wasm_epochs_us": epochs_ns / 1e3}),
        );
    }
    Value::Object(rows)
}

fn main() {
    let (filter_path, filter) = module("AUTHZ_WASM", "dist/authz.wasm");
    let (probe_path, probe) = module("AUTHZ_PROBE_WASM", "dist/bench/probe.wasm");
    let filter_host = FilterHost::load(&filter).unwrap();
    let probe_host = FilterHost::load(&probe).unwrap();
    let key = DevKey::generate_rsa("k1").unwrap();
    let config = petstore(&key).to_string();
    let cached = request(&token(&key, "alice"));

    let mut authz = start(&filter_host, &config);
    let mut calls = start(&probe_host, authz_probe::FILTER_CALLS);
    send(&mut authz, &cached);
    send(&mut authz, &cached);
    send(&mut calls, &cached);
    let (filter_calls, probe_calls) = (calls_of(&authz), calls_of(&calls));
    assert_eq!(
        filter_calls, probe_calls,
        "the host-call probe no longer makes the filter's calls: update authz_probe::FILTER_CALLS"
    );

    let minting = Instant::now();
    let first_sight: Vec<Vec<(String, String)>> =
        tokens(&key, FIRST_SIGHT_TOKENS).iter().map(|token| request(token)).collect();
    let minted_in = minting.elapsed();
    let first = Subject::new("authz.wasm, a new token", start(&filter_host, &config), first_sight);
    let authz = Subject::new("authz.wasm, cached token", authz, vec![cached.clone()]);
    if let Ok(mode) = std::env::var("AUTHZ_BENCH_PROFILE") {
        if mode == "config" {
            let big = large(&key, 1_000, 10).to_string();
            let began = Instant::now();
            let mut loads = 0;
            while began.elapsed() < Duration::from_secs_f64(setting("BENCH_SECONDS", 10.0)) {
                drop(start(&filter_host, &big));
                loads += 1;
            }
            println!(
                "{loads} loads of 1,000 groups × 10 statements, {:.0} ms each (wall)",
                began.elapsed().as_secs_f64() * 1e3 / f64::from(loads)
            );
            return;
        }
        return profile(&mode, authz, first);
    }
    let mut subjects = vec![
        Subject::new("empty probe", start(&probe_host, ""), vec![cached.clone()]),
        Subject::new("host-call probe", calls, vec![cached.clone()]),
        authz,
        first,
    ];

    let rounds = setting("BENCH_ROUNDS", 7.0) as usize;
    let share = Duration::from_secs_f64(setting("BENCH_SECONDS", 0.3));
    for subject in &mut subjects {
        subject.round(share / 4);
    }
    for round in 0..rounds {
        let count = subjects.len();
        for offset in 0..count {
            subjects[(round + offset) % count].round(share);
        }
    }

    println!(
        "wasmtime host ({} and {}), {rounds} interleaved rounds, best round, CPU time of the benchmark thread.",
        filter_path.display(),
        probe_path.display()
    );
    println!(
        "GET {TARGET}, RS256 access token of {} bytes, petstore configuration; first-sight tokens: {} (minted in {minted_in:.1?}).",
        cached[4].1.len() - "Bearer ".len(),
        FIRST_SIGHT_TOKENS
    );
    println!("host calls per cached request: {}", filter_calls.join(", "));
    println!("\n{:<28} {:>12} {:>14} {:>14}", "per request", "µs", "− empty µs", "− host calls µs");
    let empty = subjects[0].best;
    let host_calls = subjects[1].best;
    for subject in &subjects {
        println!(
            "{:<28} {:>12.2} {:>+14.2} {:>+14.2}",
            subject.label,
            subject.best / 1e3,
            (subject.best - empty) / 1e3,
            (subject.best - host_calls) / 1e3
        );
    }

    // Configuration load: a fresh VM started and configured, against the petstore's in the same rounds.
    let big = large(&key, 1_000, 10).to_string();
    let mut load = [(config.as_str(), f64::INFINITY, 0usize), (big.as_str(), f64::INFINITY, 0usize)];
    for _ in 0..3 {
        for (text, best, memory) in &mut load {
            let cpu = thread_cpu_ns();
            let plugin = start(&filter_host, text);
            *best = best.min((thread_cpu_ns() - cpu) as f64);
            *memory = plugin.memory_bytes();
        }
    }
    println!("\n{:<44} {:>10} {:>12} {:>14}", "VM start + configuration load", "bytes", "ms", "VM memory KiB");
    for ((text, best, memory), label) in load.iter().zip(["petstore", "1,000 groups × 10 statements"]) {
        println!("{:<44} {:>10} {:>12.2} {:>14}", label, text.len(), best / 1e6, memory / 1024);
    }

    let stages = stage_table(&config, &cached, rounds);

    // For the goals table that `make bench-envoy` prints at the end of `make bench`.
    let results = json!({
        "stages": stages,
        "empty_probe_us": subjects[0].best / 1e3,
        "host_call_probe_us": subjects[1].best / 1e3,
        "cached_us": subjects[2].best / 1e3,
        "new_token_us": subjects[3].best / 1e3,
        "petstore_load_ms": load[0].1 / 1e6,
        "petstore_memory_kib": load[0].2 / 1024,
        "config_load_ms": load[1].1 / 1e6,
        "config_memory_kib": load[1].2 / 1024,
    });
    let out = workload::workspace().join("target/bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("wasmtime.json"), serde_json::to_string_pretty(&results).unwrap()).unwrap();
}
