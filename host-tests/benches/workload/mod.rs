//! What the wasmtime benchmarks (`request`, `scaling`) share: the petstore configuration and larger ones in its
//! shape, the request Envoy hands the filter, the CPU clock, and the pipeline's stages as a wasm module of their
//! own (`dist/bench/stages.wasm`) driven directly by wasmtime.
#![allow(dead_code)]

use authz_testkit::mint::{CognitoClaims, DevKey};
use serde_json::{json, Value};
use std::path::PathBuf;

pub const NOW: u64 = 1_750_000_000;
pub const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example";
pub const CLIENT: &str = "app-client-1";

pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The module `variable` names, else `default` (relative to the workspace).
pub fn module(variable: &str, default: &str) -> (PathBuf, Vec<u8>) {
    let path = std::env::var_os(variable).map_or_else(|| workspace().join(default), PathBuf::from);
    let bytes =
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {} ({e}); run `make bench`", path.display()));
    (path, bytes)
}

/// A positive number from the environment, else `default`.
pub fn setting(name: &str, default: f64) -> f64 {
    std::env::var(name).ok().and_then(|text| text.parse().ok()).filter(|value: &f64| *value > 0.0).unwrap_or(default)
}

/// This thread's CPU time in nanoseconds.
pub fn thread_cpu_ns() -> u64 {
    let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID).expect("no thread CPU clock");
    u64::try_from(now.tv_sec()).unwrap() * 1_000_000_000 + u64::try_from(now.tv_nsec()).unwrap()
}

/// The petstore scenario's configuration with `key` as the pool's only key.
pub fn petstore(key: &DevKey) -> Value {
    let text = std::fs::read_to_string(workspace().join("policies/scenarios/petstore.json")).unwrap();
    let corpus: Value = serde_json::from_str(&text).unwrap();
    let mut config = corpus["config"].clone();
    config["issuers"][0]["jwks"] = key.jwks();
    config
}

/// The group name `large` gives group number `group`.
pub fn group_name(group: usize) -> String {
    format!("group-{group:04}")
}

/// A configuration of `groups` groups with `statements` statements each, in the petstore's shape. Group `g`'s
/// statement `i` names `GET /petstore/v{g}/items/{i}/*` and `PUT /petstore/v{g}/items/{i}`; every fifth denies,
/// every third has a condition.
pub fn large(key: &DevKey, groups: usize, statements: usize) -> Value {
    let mut config = petstore(key);
    let mut documents = serde_json::Map::new();
    for group in 0..groups {
        let statements: Vec<Value> = (0..statements)
            .map(|index| {
                let effect = if index % 5 == 4 { "Deny" } else { "Allow" };
                let mut statement = json!({
                    "Sid": format!("G{group}S{index}"), "Effect": effect, "Action": "execute-api:Invoke",
                    "Resource": [format!("arn:aws:execute-api:*:*:*/*/GET/petstore/v{group}/items/{index}/*"),
                                 format!("execute-api:/dev/PUT/petstore/v{group}/items/{index}")]
                });
                if index % 3 == 0 {
                    statement["Condition"] = json!({"StringLike": {"aws:UserAgent": "Mozilla/*"}});
                }
                statement
            })
            .collect();
        documents.insert(group_name(group), json!({"Version": "2012-10-17", "Statement": statements}));
    }
    config["policies"]["groups"] = Value::Object(documents);
    config
}

/// The request as Envoy hands it to the filter behind `wrk` (HTTP/1.1, edge: Envoy adds the last two).
pub fn request(method: &str, target: &str, token: &str) -> Vec<(String, String)> {
    [
        (":authority", "127.0.0.1:10000"),
        (":path", target),
        (":method", method),
        (":scheme", "http"),
        ("authorization", &format!("Bearer {token}")),
        ("x-forwarded-proto", "http"),
        ("x-request-id", "5b3c4b4e-8a0f-4c1e-9d57-2f1f0f3c9b1a"),
    ]
    .iter()
    .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
    .collect()
}

/// An access token of `user` in `groups` from the petstore's pool.
pub fn token(key: &DevKey, user: &str, groups: &[&str]) -> String {
    key.sign(&CognitoClaims::access(ISSUER, CLIENT, user, NOW).groups(groups).to_json())
}

/// The stages module (`authz::stages`, built for wasm32) instantiated in wasmtime and set up with one
/// configuration and one request: each instance holds its own.
pub struct WasmStages {
    store: wasmtime::Store<()>,
    run: wasmtime::TypedFunc<(i32, i32), i32>,
}

impl WasmStages {
    /// Instantiates `module` and sets it up; `Err` with the module's status when it refuses the setup.
    pub fn new(
        engine: &wasmtime::Engine,
        module: &wasmtime::Module,
        config: &[u8],
        header_map: &[u8],
    ) -> Result<Self, i32> {
        let mut store = wasmtime::Store::new(engine, ());
        // Only read when the engine interrupts at epochs (the filter host's setting): never reached here.
        store.set_epoch_deadline(u64::MAX);
        let instance = wasmtime::Instance::new(&mut store, module, &[]).unwrap();
        let memory = instance.get_memory(&mut store, "memory").unwrap();
        let alloc = instance.get_typed_func::<i32, i32>(&mut store, "stages_alloc").unwrap();
        let setup = instance.get_typed_func::<(i32, i32, i32, i32, i64), i32>(&mut store, "stages_setup").unwrap();
        let run = instance.get_typed_func::<(i32, i32), i32>(&mut store, "stages_run").unwrap();
        let place = |store: &mut wasmtime::Store<()>, data: &[u8]| {
            let at = alloc.call(&mut *store, i32::try_from(data.len()).unwrap()).unwrap();
            memory.write(&mut *store, usize::try_from(at).unwrap(), data).unwrap();
            (at, i32::try_from(data.len()).unwrap())
        };
        let (config_at, config_len) = place(&mut store, config);
        let (map_at, map_len) = place(&mut store, header_map);
        let status =
            setup.call(&mut store, (config_at, config_len, map_at, map_len, i64::try_from(NOW).unwrap())).unwrap();
        if status != 0 {
            return Err(status);
        }
        Ok(Self { store, run })
    }

    /// Runs stage `stage` (its position in `Stage::ALL`) `iterations` times; 0 when it failed.
    pub fn run(&mut self, stage: usize, iterations: u32) -> u32 {
        let index = i32::try_from(stage).unwrap();
        u32::try_from(self.run.call(&mut self.store, (index, i32::try_from(iterations).unwrap())).unwrap()).unwrap_or(0)
    }
}
