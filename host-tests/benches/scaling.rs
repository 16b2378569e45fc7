//! `make bench`, scaling part (issue 15): how the cost of a request, and of loading a configuration, grows along
//! each axis users grow — groups in the token and configured, statements per document, issuers, keys per JWKS,
//! routes, token size, configuration size — at three sizes each, natively and in wasmtime.
//!
//! A request's cost is `authz::stages` run natively and as its own wasm module in this engine
//! (`dist/bench/stages.wasm`, no host calls, whose cost does not depend on any axis): the whole decision with a
//! cached token, or a new token refused for an unknown `kid` (issuer and key lookup, no signature work), or a
//! new token verified. A load is `Authorizer::from_json` natively and, in wasm, a fresh VM of the built filter
//! (`dist/authz.wasm`) started and configured, with the memory that VM then holds.
//!
//! Every size of every axis is measured in each round, natively and in wasm in turn; each figure is the best
//! round of the benchmark thread's CPU time. The growth between two sizes is printed next to the ideal: ×1 where
//! the work does not grow (an index or a map finds what the request needs), the size ratio where it must grow
//! linearly. `BENCH_ROUNDS` (default 5) and `BENCH_SECONDS` (each measurement's share of a round, default 0.05)
//! set the length; `AUTHZ_WASM` and `AUTHZ_STAGES_WASM` choose the modules. The table is also written to
//! `target/bench/scaling.json`. `AUTHZ_SCALING_ONLY=load` runs the configuration rows alone, and
//! `AUTHZ_WASM_BEFORE=PATH` loads each configuration in that module too, in the same rounds (alternating which of
//! the two goes first), so that a change to the load is measured against the build before it on one machine state.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod workload;

use authz::stages::{encode, Stage, Stages};
use authz::Authorizer;
use authz_host::{FilterHost, LogLevel};
use authz_testkit::mint::{CognitoClaims, DevKey};
use serde_json::{json, Value};
use std::time::Duration;
use workload::{group_name, large, module, petstore, setting, thread_cpu_ns, WasmStages, CLIENT, ISSUER, NOW};

/// What one row measures.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Measure {
    /// A stage of one request (`Stage::Decide`, `Stage::UnknownKid`, `Stage::Verify`).
    Request(Stage),
    /// VM start + configuration load (wasm), `Authorizer::from_json` (native).
    Load,
}

impl Measure {
    fn name(self) -> &'static str {
        match self {
            Measure::Request(Stage::Decide) => "decision, cached token",
            Measure::Request(Stage::UnknownKid) => "new token, unknown kid",
            Measure::Request(Stage::Verify) => "new token, verified",
            Measure::Request(_) => "request",
            Measure::Load => "configuration load",
        }
    }
}

/// How the work itself grows with the axis.
#[derive(Clone, Copy)]
enum Ideal {
    /// Not at all: a lookup or an index finds what is needed.
    Flat,
    /// In proportion to the size.
    Linear,
}

impl Ideal {
    fn growth(self, from: usize, to: usize) -> f64 {
        match self {
            Ideal::Flat => 1.0,
            Ideal::Linear => to as f64 / from as f64,
        }
    }
}

/// One configuration and request at one size.
struct Point {
    size: usize,
    config: String,
    headers: Vec<(String, String)>,
    native: Option<Stages>,
    wasm: Option<WasmStages>,
    best_native: f64,
    best_wasm: f64,
    wasm_memory: usize,
    /// The same load in `AUTHZ_WASM_BEFORE`'s module, when one is given.
    best_before: f64,
    before_memory: usize,
}

struct Row {
    axis: &'static str,
    unit: &'static str,
    measure: Measure,
    ideal: Ideal,
    points: Vec<Point>,
}

fn point(size: usize, config: &Value, headers: Vec<(String, String)>) -> Point {
    Point {
        size,
        config: config.to_string(),
        headers,
        native: None,
        wasm: None,
        best_native: f64::INFINITY,
        best_wasm: f64::INFINITY,
        wasm_memory: 0,
        best_before: f64::INFINITY,
        before_memory: 0,
    }
}

const TARGET: &str = "/petstore/v0/items/1/photo";

fn get(target: &str, token: &str) -> Vec<(String, String)> {
    workload::request("GET", target, token)
}

/// Tokens of one user in `groups`.
fn in_groups(key: &DevKey, groups: &[String]) -> String {
    let names: Vec<&str> = groups.iter().map(String::as_str).collect();
    workload::token(key, "alice", &names)
}

/// `count` issuers sharing `key`; the shared policies apply to all of them.
fn issuers(key: &DevKey, count: usize) -> Value {
    let mut config = petstore(key);
    let template = config["issuers"][0].clone();
    let mut issuers: Vec<Value> = (0..count.saturating_sub(1))
        .map(|index| {
            let mut issuer = template.clone();
            issuer["issuer"] =
                Value::from(format!("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_P{index:04}"));
            issuer
        })
        .collect();
    issuers.push(template);
    config["issuers"] = Value::Array(issuers);
    config["policies"]["all_issuers"] = Value::from(true);
    config
}

/// The pool's JWKS with `count` keys: `count - 1` more `kid`s for the same public key before the one tokens name.
fn keys(key: &DevKey, count: usize) -> Value {
    let mut config = petstore(key);
    let jwk = key.public_jwk();
    let mut keys: Vec<Value> = (0..count.saturating_sub(1))
        .map(|index| {
            let mut other = jwk.clone();
            other["kid"] = Value::from(format!("rotated-{index:04}"));
            other
        })
        .collect();
    keys.push(jwk);
    config["issuers"][0]["jwks"] = json!({ "keys": keys });
    config
}

/// `count` routes, each a scoped `GET /r{i}/items/{id}` (so every one is also checked for lenient spellings),
/// then a catch-all; one group may `GET` anything.
fn routes(key: &DevKey, count: usize) -> Value {
    let mut config = petstore(key);
    let mut routes: Vec<Value> = (0..count.saturating_sub(1))
        .map(|index| json!({"method": "GET", "path": format!("/r{index}/items/{{id}}"), "scopes": [format!("api/r{index}")]}))
        .collect();
    routes.push(json!({"method": "ANY", "path": "/{proxy+}"}));
    config["routes"] = Value::Array(routes);
    config["policies"] = json!({"groups": {"readers": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "execute-api:/dev/GET/*"}]}}});
    config
}

/// A token of about `bytes` bytes: the petstore caller's, grown by a custom claim.
fn sized_token(key: &DevKey, bytes: usize) -> String {
    let claims = |pad: usize| {
        let mut claims = CognitoClaims::access(ISSUER, CLIENT, "alice", NOW).groups(&["pet-veterinarian"]).to_json();
        claims["custom:notes"] = Value::from("n".repeat(pad));
        key.sign(&claims)
    };
    let base = claims(0).len();
    claims(bytes.saturating_sub(base) * 3 / 4)
}

fn rows(key: &DevKey) -> Vec<Row> {
    let decide = Measure::Request(Stage::Decide);
    let lookup = Measure::Request(Stage::UnknownKid);
    let mut rows = Vec::new();

    // Groups in the token, 1,000 configured: the caller's first `n`; group 0 allows the request.
    let mut configured = large(key, 1_000, 10);
    configured["max_token_bytes"] = Value::from(65_536);
    let points = [10, 100, 1_000]
        .into_iter()
        .map(|n| point(n, &configured, get(TARGET, &in_groups(key, &(0..n).map(group_name).collect::<Vec<_>>()))))
        .collect();
    rows.push(Row {
        axis: "groups in the token (1,000 configured)",
        unit: "groups",
        measure: decide,
        ideal: Ideal::Linear,
        points,
    });

    // Groups configured, the caller in three of them.
    let caller = in_groups(key, &(0..3).map(group_name).collect::<Vec<_>>());
    let points = [10, 100, 1_000].into_iter().map(|n| point(n, &large(key, n, 10), get(TARGET, &caller))).collect();
    rows.push(Row {
        axis: "groups configured (caller in 3)",
        unit: "groups",
        measure: decide,
        ideal: Ideal::Flat,
        points,
    });

    // Statements in the caller's one document.
    let one = in_groups(key, &[group_name(0)]);
    let points = [10, 100, 1_000].into_iter().map(|n| point(n, &large(key, 1, n), get(TARGET, &one))).collect();
    rows.push(Row {
        axis: "statements in one document",
        unit: "statements",
        measure: decide,
        ideal: Ideal::Flat,
        points,
    });

    // Issuers: the token's is the last configured.
    let vet = workload::token(key, "alice", &["pet-veterinarian"]);
    let pets = "/petstore/v1/pets/a1b2";
    for measure in [decide, lookup] {
        let points = [1, 100, 1_000].into_iter().map(|n| point(n, &issuers(key, n), get(pets, &vet))).collect();
        rows.push(Row { axis: "issuers (the token's last)", unit: "issuers", measure, ideal: Ideal::Flat, points });
    }

    // Keys per JWKS: the token's is the last.
    let points = [1, 10, 100].into_iter().map(|n| point(n, &keys(key, n), get(pets, &vet))).collect();
    rows.push(Row {
        axis: "keys in the JWKS (the token's last)",
        unit: "keys",
        measure: lookup,
        ideal: Ideal::Flat,
        points,
    });

    // Routes: the request takes the last scoped one.
    let points = [10, 100, 1_000]
        .into_iter()
        .map(|n: usize| {
            let last = n.saturating_sub(2);
            let token = key.sign(
                &CognitoClaims::access(ISSUER, CLIENT, "alice", NOW)
                    .groups(&["readers"])
                    .scopes(&[&format!("api/r{last}")])
                    .to_json(),
            );
            point(n, &routes(key, n), get(&format!("/r{last}/items/7"), &token))
        })
        .collect();
    rows.push(Row {
        axis: "routes (the request takes the last scoped)",
        unit: "routes",
        measure: decide,
        ideal: Ideal::Flat,
        points,
    });

    // Token size.
    let mut roomy = petstore(key);
    roomy["max_token_bytes"] = Value::from(65_536);
    for measure in [decide, Measure::Request(Stage::Verify)] {
        let points =
            [1_024, 4_096, 16_384].into_iter().map(|n| point(n, &roomy, get(pets, &sized_token(key, n)))).collect();
        rows.push(Row { axis: "token size", unit: "bytes", measure, ideal: Ideal::Linear, points });
    }

    // Configuration size: groups of 10 statements.
    let points = [10, 100, 1_000].into_iter().map(|n| point(n, &large(key, n, 10), get(TARGET, &one))).collect();
    rows.push(Row {
        axis: "configuration (groups × 10 statements)",
        unit: "groups",
        measure: Measure::Load,
        ideal: Ideal::Linear,
        points,
    });
    rows
}

/// CPU nanoseconds per call of `run(iterations)`, with `iterations` chosen so that one call takes about `share`.
fn timed(share: Duration, mut run: impl FnMut(u32) -> u32) -> f64 {
    let cpu = thread_cpu_ns();
    assert_ne!(run(1), 0, "the stage failed");
    let once = (thread_cpu_ns() - cpu).max(1) as f64;
    let iterations = (share.as_nanos() as f64 / once).clamp(1.0, 1e6) as u32;
    let cpu = thread_cpu_ns();
    std::hint::black_box(run(iterations));
    (thread_cpu_ns() - cpu) as f64 / f64::from(iterations)
}

/// `AUTHZ_SCALING_PROFILE=ROW:SIZE` (a row's number from 0, one of its sizes): that point alone, natively, in a
/// loop for `BENCH_SECONDS` (default 10) or `BENCH_RUNS` times, for `perf record` or
/// `valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*run_profile*'`.
#[inline(never)]
fn run_profile(rows: &[Row], profile: &str) {
    let (row, size) = profile.split_once(':').expect("AUTHZ_SCALING_PROFILE=ROW:SIZE");
    let row = &rows[row.parse::<usize>().unwrap()];
    let point = row.points.iter().find(|point| point.size.to_string() == size).expect("no such size");
    let seconds = Duration::from_secs_f64(setting("BENCH_SECONDS", 10.0));
    // Or a fixed number of runs, for instruction counts (`BENCH_RUNS`).
    let runs = setting("BENCH_RUNS", f64::INFINITY);
    let began = std::time::Instant::now();
    let mut calls = 0u64;
    let more = |calls: u64| began.elapsed() < seconds && (calls as f64) < runs;
    match row.measure {
        Measure::Request(stage) => {
            let mut native = Stages::new(point.config.as_bytes(), encode(&point.headers), NOW).unwrap();
            while more(calls) {
                std::hint::black_box(native.run(stage, 10));
                calls += 10;
            }
        }
        Measure::Load => {
            let bytes = point.config.as_bytes();
            let mut phases = [0u64; 3];
            while more(calls) {
                let at = thread_cpu_ns();
                authz::json::check_unique_names(bytes).unwrap();
                let names = thread_cpu_ns();
                let raw: authz::config::RawConfig = serde_json::from_slice(bytes).unwrap();
                let read = thread_cpu_ns();
                drop(std::hint::black_box(authz::Config::try_from(&raw).unwrap()));
                drop(raw);
                let done = thread_cpu_ns();
                for (phase, ns) in phases.iter_mut().zip([names - at, read - names, done - read]) {
                    *phase += ns;
                }
                calls += 1;
            }
            let [names, read, compile] = phases.map(|ns| ns as f64 / 1e3 / calls as f64);
            println!("CPU µs per load: duplicate names {names:.0}, typed read {read:.0}, validation and compilation (and drops) {compile:.0}");
        }
    }
    println!(
        "{} at {size}: {calls} runs, {:.2} µs each (wall)",
        row.axis,
        began.elapsed().as_secs_f64() * 1e6 / calls as f64
    );
}

fn stage_index(stage: Stage) -> usize {
    Stage::ALL.iter().position(|known| *known == stage).unwrap()
}

fn main() {
    if let Ok(profile) = std::env::var("AUTHZ_SCALING_PROFILE") {
        let key = DevKey::generate_rsa("k1").unwrap();
        return run_profile(&rows(&key), &profile);
    }
    let (filter_path, filter) = module("AUTHZ_WASM", "dist/authz.wasm");
    let (stages_path, stages) = module("AUTHZ_STAGES_WASM", "dist/bench/stages.wasm");
    let filter_host = FilterHost::load(&filter).unwrap();
    let engine = wasmtime::Engine::default();
    let stages_module = wasmtime::Module::new(&engine, &stages).unwrap();
    let key = DevKey::generate_rsa("k1").unwrap();
    let mut rows = rows(&key);
    if std::env::var("AUTHZ_SCALING_ONLY").is_ok_and(|only| only == "load") {
        rows.retain(|row| row.measure == Measure::Load);
    }
    let before = std::env::var_os("AUTHZ_WASM_BEFORE").map(|_| {
        let (path, bytes) = module("AUTHZ_WASM_BEFORE", "");
        (path, FilterHost::load(&bytes).unwrap())
    });
    let rounds = setting("BENCH_ROUNDS", 5.0) as usize;
    let share = Duration::from_secs_f64(setting("BENCH_SECONDS", 0.05));

    for row in &mut rows {
        if let Measure::Request(_) = row.measure {
            for point in &mut row.points {
                let map = encode(&point.headers);
                let context = format!("{} at {}", row.axis, point.size);
                point.native = Some(
                    Stages::new(point.config.as_bytes(), map.clone(), NOW)
                        .unwrap_or_else(|err| panic!("{context}: {err}")),
                );
                point.wasm = Some(
                    WasmStages::new(&engine, &stages_module, point.config.as_bytes(), &map)
                        .unwrap_or_else(|status| panic!("{context}: the stages module refused its setup ({status})")),
                );
            }
        }
    }

    for round in 0..rounds {
        for row in &mut rows {
            for point in &mut row.points {
                match row.measure {
                    Measure::Request(stage) => {
                        let index = stage_index(stage);
                        let native = point.native.as_mut().unwrap();
                        point.best_native = point.best_native.min(timed(share, |n| native.run(stage, n)));
                        let wasm = point.wasm.as_mut().unwrap();
                        point.best_wasm = point.best_wasm.min(timed(share, |n| wasm.run(index, n)));
                    }
                    Measure::Load => {
                        let cpu = thread_cpu_ns();
                        let authorizer = Authorizer::from_json(point.config.as_bytes()).unwrap();
                        point.best_native = point.best_native.min((thread_cpu_ns() - cpu) as f64);
                        drop(authorizer);
                        let load = |host: &FilterHost| {
                            let cpu = thread_cpu_ns();
                            let (mut plugin, configured) = host.start(b"", point.config.as_bytes()).unwrap();
                            let ns = (thread_cpu_ns() - cpu) as f64;
                            assert!(configured, "{} at {}: the filter refused the configuration", row.axis, point.size);
                            plugin.set_log_level(LogLevel::Info);
                            (ns, plugin.memory_bytes())
                        };
                        let (first, second) = match &before {
                            Some((_, host)) if round % 2 == 1 => {
                                let first = load(host);
                                (Some(first), load(&filter_host))
                            }
                            Some((_, host)) => {
                                let now = load(&filter_host);
                                (Some(load(host)), now)
                            }
                            None => (None, load(&filter_host)),
                        };
                        point.best_wasm = point.best_wasm.min(second.0);
                        point.wasm_memory = second.1;
                        if let Some((ns, memory)) = first {
                            point.best_before = point.best_before.min(ns);
                            point.before_memory = memory;
                        }
                    }
                }
            }
        }
    }

    println!(
        "Scaling (issue 15): natively and in wasmtime ({} for requests, {} for loads), best of {rounds} interleaved \
         rounds, CPU time.",
        stages_path.display(),
        filter_path.display()
    );
    println!("growth: this size's cost over the previous size's; ideal: ×1 where an index or a lookup finds the work, the size ratio where it is linear.");
    println!(
        "\n{:<44} {:<24} {:>7} {:>11} {:>7} {:>6} {:>11} {:>7} {:>6}",
        "axis", "measure", "size", "native µs", "growth", "ideal", "wasm µs", "growth", "ideal"
    );
    let mut json_rows = Vec::new();
    for row in &rows {
        let mut previous: Option<&Point> = None;
        let mut json_points = Vec::new();
        for (index, point) in row.points.iter().enumerate() {
            let (axis, measure) = if index == 0 { (row.axis, row.measure.name()) } else { ("", "") };
            let (native_growth, wasm_growth, ideal) = match previous {
                None => (String::new(), String::new(), String::new()),
                Some(before) => (
                    format!("×{:.2}", point.best_native / before.best_native),
                    format!("×{:.2}", point.best_wasm / before.best_wasm),
                    format!("×{:.0}", row.ideal.growth(before.size, point.size)),
                ),
            };
            println!(
                "{:<44} {:<24} {:>7} {:>11.2} {:>7} {:>6} {:>11.2} {:>7} {:>6}",
                axis,
                measure,
                point.size,
                point.best_native / 1e3,
                native_growth,
                ideal,
                point.best_wasm / 1e3,
                wasm_growth,
                ideal
            );
            json_points.push(json!({
                "size": point.size, "native_us": point.best_native / 1e3, "wasm_us": point.best_wasm / 1e3,
                "wasm_memory_kib": (row.measure == Measure::Load).then_some(point.wasm_memory / 1024),
                "config_bytes": point.config.len(),
            }));
            previous = Some(point);
        }
        json_rows
            .push(json!({"axis": row.axis, "unit": row.unit, "measure": row.measure.name(), "points": json_points}));
    }
    for row in rows.iter().filter(|row| row.measure == Measure::Load) {
        println!("\n{} (configuration bytes, VM memory after load):", row.axis);
        for point in &row.points {
            println!(
                "  {:>5} {}: {:>9} bytes, {:>8} KiB",
                point.size,
                row.unit,
                point.config.len(),
                point.wasm_memory / 1024
            );
        }
        if let Some((path, _)) = &before {
            println!(
                "\n{}: {} (before) against {} (now), same rounds:",
                row.axis,
                path.display(),
                filter_path.display()
            );
            for point in &row.points {
                println!(
                    "  {:>5} {}: wasm {:>10.2} → {:>10.2} µs (×{:.2}), VM memory {:>6} → {:>6} KiB",
                    point.size,
                    row.unit,
                    point.best_before / 1e3,
                    point.best_wasm / 1e3,
                    point.best_wasm / point.best_before,
                    point.before_memory / 1024,
                    point.wasm_memory / 1024
                );
            }
        }
    }
    let out = workload::workspace().join("target/bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("scaling.json"), serde_json::to_string_pretty(&json!({ "rows": json_rows })).unwrap())
        .unwrap();
}
