//! Per-request time of the whole native pipeline (`Authorizer::authorize`) on the seed scenario, with ratios
//! against one bare RSA-2048 signature check measured in the same run: the cryptographic floor of any request
//! that carries a token (`make bench`). Each request is timed on first sight (cache off) and repeated (the
//! verified-token cache on, as deployed).

use authz::token::{RawJwk, VerifyingKey};
use authz::Authorizer;
use authz_testkit::scenario::{Case, Scenario};
use std::hint::black_box;
use std::time::{Duration, Instant};

const BUDGET: Duration = Duration::from_millis(500);

/// Mean nanoseconds per call of `f` over about `BUDGET`.
fn time(mut f: impl FnMut()) -> f64 {
    for _ in 0..50 {
        f();
    }
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < BUDGET {
        for _ in 0..20 {
            f();
        }
        calls += 20;
    }
    start.elapsed().as_nanos() as f64 / calls as f64
}

fn case<'a>(scenario: &'a Scenario, name: &str) -> Result<&'a Case, String> {
    scenario.cases.iter().find(|case| case.name == name).ok_or_else(|| format!("no case `{name}`"))
}

fn main() -> Result<(), String> {
    let corpus = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/policies/scenarios/petstore.json"))
        .map_err(|err| err.to_string())?;
    let scenario = Scenario::load(&corpus).map_err(|err| err.to_string())?;
    let cached = Authorizer::from_json(&scenario.config_bytes()).map_err(|err| err.to_string())?;
    // The same configuration with the verified-token cache off: every request pays for its signature check.
    let mut config = scenario.config.clone();
    if let Some(map) = config.as_object_mut() {
        map.insert("token_cache_size".into(), 0.into());
    }
    let uncached = Authorizer::from_json(config.to_string().as_bytes()).map_err(|err| err.to_string())?;
    let now = scenario.now;

    // The baseline: verify one RS256 signature over a Cognito-sized message with the same kind of key.
    let key = scenario.keys.get("k1").ok_or("no key k1")?;
    let raw: RawJwk = serde_json::from_value(key.public_jwk()).map_err(|err| err.to_string())?;
    let verifying = VerifyingKey::try_from(&raw).map_err(|err| err.to_string())?;
    let message = vec![b'a'; 900];
    let signature = key.signature(&message);
    let baseline = time(|| {
        black_box(verifying.verify(black_box(&message), black_box(&signature)));
    });

    println!("authorize, native, seed scenario (baseline: one RS256 verify = {baseline:.0} ns)");
    println!("{:<58} {:>14} {:>7} {:>14} {:>7}", "request", "first sight ns", "ratio", "repeated ns", "ratio");
    for name in [
        "public health check needs no token",
        "no token is unauthorized",
        "vet reads petstore v1",
        "wrong group is forbidden",
        "an explicit deny wins over an allow",
        "delete with the delete scope and a group that allows it",
        "token signed by a rogue key claiming a trusted kid",
        "expired token",
    ] {
        let case = case(&scenario, name)?;
        let mut columns = Vec::new();
        for authorizer in [&uncached, &cached] {
            let mut status = 0;
            let nanos = time(|| {
                status = black_box(authorizer.authorize(black_box(&case.request), now)).status();
            });
            if status != case.expect.status {
                return Err(format!("`{name}` answered {status}, expected {}", case.expect.status));
            }
            columns.push(nanos);
        }
        let (first, repeated) = (columns.first().copied().unwrap_or(0.0), columns.last().copied().unwrap_or(0.0));
        println!(
            "{:<58} {:>14.0} {:>6.2}x {:>14.0} {:>6.3}x",
            format!("{name} ({})", case.expect.status),
            first,
            first / baseline,
            repeated,
            repeated / baseline
        );
    }
    Ok(())
}
