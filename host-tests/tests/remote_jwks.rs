//! Keys fetched by the filter (`remote_jwks`), in the Envoy-like host with `proxy_http_call` made for real to a
//! JWKS server on 127.0.0.1 that each test starts (and that stops when the test ends): the first request waits for
//! the first fetch, a failed fetch never allows and keeps the last good keys, a burst of unknown `kid`s costs one
//! fetch, a rotated key is fetched when a token names it, and one fetch serves every VM of the host.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use authz_host::{FilterHost, HttpOutcome, Plugin, Started};
use authz_testkit::mint::{CognitoClaims, DevKey};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use support::{filter_wasm, messages, request};

const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Remote";
const CLIENT: &str = "app";
const NOW: u64 = 1_750_000_000;
const PATH: &str = "/us-east-1_Remote/.well-known/jwks.json";

/// A JWKS server on 127.0.0.1: answers every request with the current status and body, counts them, and stops
/// when dropped.
struct JwksServer {
    addr: SocketAddr,
    answer: Arc<Mutex<(u16, Vec<u8>)>>,
    hits: Arc<AtomicUsize>,
    paths: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl JwksServer {
    fn start(status: u16, body: &Value) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let server = JwksServer {
            addr: listener.local_addr().unwrap(),
            answer: Arc::new(Mutex::new((status, body.to_string().into_bytes()))),
            hits: Arc::default(),
            paths: Arc::default(),
            stop: Arc::default(),
        };
        let (answer, hits, paths, stop) =
            (server.answer.clone(), server.hits.clone(), server.paths.clone(), server.stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let Ok((mut stream, _)) = listener.accept() else {
                    std::thread::sleep(std::time::Duration::from_millis(2));
                    continue;
                };
                stream.set_nonblocking(false).unwrap();
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&request);
                paths.lock().unwrap().push(text.split(' ').nth(1).unwrap_or_default().to_owned());
                hits.fetch_add(1, Ordering::SeqCst);
                let (status, body) = answer.lock().unwrap().clone();
                let head = format!("HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
        });
        server
    }

    fn set(&self, status: u16, body: &[u8]) {
        *self.answer.lock().unwrap() = (status, body.to_vec());
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn jwks(keys: &[&DevKey]) -> Value {
    json!({"keys": keys.iter().map(|key| key.public_jwk()).collect::<Vec<_>>()})
}

fn config() -> Value {
    json!({
        "api": {"region": "us-east-1", "account_id": "123456789012", "api_id": "a1b2c3d4e5", "stage": "dev"},
        "issuers": [{
            "issuer": ISSUER,
            "remote_jwks": {"cluster": "cognito_jwks", "uri": format!("https://cognito-idp.us-east-1.amazonaws.com{PATH}"),
                            "refresh_seconds": 60, "timeout_ms": 1000},
            "token_use": ["access"],
            "client_ids": [CLIENT]
        }]
    })
}

/// A host whose cluster `cognito_jwks` is `server`, and a VM of the filter on it with its clock at `NOW`.
fn host(server: &JwksServer) -> FilterHost {
    let host = FilterHost::load(&filter_wasm()).unwrap();
    host.set_cluster("cognito_jwks", server.addr);
    host
}

fn vm(host: &FilterHost) -> Plugin {
    let (mut plugin, configured) = host.start(b"", config().to_string().as_bytes()).unwrap();
    assert!(configured, "{:?}", messages(&plugin));
    plugin.set_time_nanos(NOW * 1_000_000_000);
    plugin
}

fn token(key: &DevKey) -> String {
    key.sign(&CognitoClaims::access(ISSUER, CLIENT, "alice", NOW).to_json())
}

fn start(plugin: &mut Plugin, key: &DevKey) -> Started {
    let bearer = format!("Bearer {}", token(key));
    plugin.start_request(&request("GET", "/pets", &[("authorization", &bearer)])).unwrap()
}

fn status(outcome: &HttpOutcome) -> u32 {
    match outcome {
        HttpOutcome::Continue { .. } => 200,
        HttpOutcome::LocalResponse { status, .. } => *status,
        other => panic!("unexpected {other:?}"),
    }
}

/// The status of a request that must be decided at once.
fn now_status(plugin: &mut Plugin, key: &DevKey) -> u32 {
    match start(plugin, key) {
        Started::Done(outcome) => status(&outcome),
        Started::Waiting(id) => panic!("request {id} waits: {:?}", messages(plugin)),
    }
}

fn waiting(started: Started) -> u32 {
    match started {
        Started::Waiting(id) => id,
        Started::Done(outcome) => panic!("decided at once: {outcome:?}"),
    }
}

fn counter(plugin: &Plugin, name: &str) -> u64 {
    plugin.metrics().iter().find(|m| m.name == format!("authz.{name}")).map_or(0, |m| m.value)
}

fn advance(plugin: &mut Plugin, seconds: &mut u64, by: u64) {
    *seconds += by;
    plugin.set_time_nanos(*seconds * 1_000_000_000);
}

#[test]
fn the_first_request_waits_for_the_first_fetch_and_is_decided_when_it_ends() {
    let key = DevKey::generate_es256("k1").unwrap();
    let server = JwksServer::start(200, &jwks(&[&key]));
    let host = host(&server);
    let mut plugin = vm(&host);
    assert_eq!(server.hits(), 0, "no call before the first tick: Envoy's clusters may not be ready at configuration");
    let id = waiting(start(&mut plugin, &key));
    assert_eq!(plugin.outcome(id), None);
    // The tick claims the fetch and makes the call; its answer resumes the request.
    assert!(plugin.tick().unwrap());
    assert_eq!(server.hits(), 1);
    assert_eq!(server.paths.lock().unwrap().as_slice(), [PATH]);
    assert_eq!(status(&plugin.outcome(id).unwrap()), 200);
    assert_eq!(plugin.waiting(), 0);
    // The keys are in service: the next request is decided at once, with no other fetch.
    assert_eq!(now_status(&mut plugin, &key), 200);
    let rogue = DevKey::generate_es256("k1").unwrap();
    assert_eq!(now_status(&mut plugin, &rogue), 401, "a key of the same kid from elsewhere");
    assert_eq!(server.hits(), 1);
    for (name, value) in [("jwks_fetch", 1), ("jwks_fetch_success", 1), ("jwks_fetch_failed", 0), ("jwks_paused", 1)] {
        assert_eq!(counter(&plugin, name), value, "{name}");
    }
}

#[test]
fn a_failed_fetch_never_allows_and_keeps_the_last_good_keys() {
    let key = DevKey::generate_es256("k1").unwrap();
    let server = JwksServer::start(503, &json!({"message": "unavailable"}));
    let host = host(&server);
    let mut plugin = vm(&host);
    let mut now = NOW;
    let id = waiting(start(&mut plugin, &key));
    plugin.tick().unwrap();
    assert_eq!(server.hits(), 1);
    // Decided when the fetch ended, refused: there are no keys.
    assert_eq!(status(&plugin.outcome(id).unwrap()), 401);
    assert!(messages(&plugin).iter().any(
        |m| m.contains("JWKS fetch from cluster `cognito_jwks` failed: the identity provider answered status 503")
    ));
    // Until the retry, requests are refused at once rather than held.
    assert_eq!(now_status(&mut plugin, &key), 401);
    plugin.tick().unwrap();
    assert_eq!(server.hits(), 1, "no retry before RETRY_SECONDS");
    server.set(200, jwks(&[&key]).to_string().as_bytes());
    advance(&mut plugin, &mut now, 5);
    plugin.tick().unwrap();
    assert_eq!(server.hits(), 2);
    assert_eq!(now_status(&mut plugin, &key), 200);
    // A refresh that fails keeps the keys in service: still allowed.
    server.set(500, b"oops");
    advance(&mut plugin, &mut now, 60);
    plugin.tick().unwrap();
    assert_eq!(server.hits(), 3);
    assert_eq!(now_status(&mut plugin, &key), 200);
    // A document the key checks refuse (a duplicate member name, which serde would read as its last copy) is a
    // failure too: the keys stay.
    let other = DevKey::generate_es256("k2").unwrap();
    let jwk = other.public_jwk().to_string();
    let twice = jwk.replacen('{', r#"{"kid":"k1","#, 1);
    server.set(200, format!(r#"{{"keys":[{twice}]}}"#).as_bytes());
    advance(&mut plugin, &mut now, 5);
    plugin.tick().unwrap();
    assert_eq!(server.hits(), 4);
    assert!(messages(&plugin).iter().any(|m| m.contains("duplicate member name `kid`")), "{:?}", messages(&plugin));
    assert_eq!(now_status(&mut plugin, &key), 200);
    // A connection nobody answers fails the same way.
    drop(server);
    std::thread::sleep(std::time::Duration::from_millis(50));
    advance(&mut plugin, &mut now, 5);
    plugin.tick().unwrap();
    assert_eq!(now_status(&mut plugin, &key), 200);
    assert_eq!(counter(&plugin, "jwks_fetch_success"), 1);
    assert!(counter(&plugin, "jwks_fetch_failed") >= 3);
}

#[test]
fn a_burst_of_unknown_kids_costs_one_fetch_and_a_rotated_key_is_fetched_when_named() {
    let key = DevKey::generate_es256("k1").unwrap();
    let server = JwksServer::start(200, &jwks(&[&key]));
    let host = host(&server);
    let mut plugin = vm(&host);
    let mut now = NOW;
    plugin.tick().unwrap();
    assert_eq!((server.hits(), now_status(&mut plugin, &key)), (1, 200));
    // Made-up kids, signed by a key of the attacker's: the first asks for a fetch and waits with the rest while it
    // is under way; the fetch does not find them; every one is refused.
    plugin.set_manual_http_calls(true);
    let burst: Vec<DevKey> = (0..200).map(|i| DevKey::generate_es256(&format!("made-up-{i}")).unwrap()).collect();
    let first = waiting(start(&mut plugin, &burst[0]));
    plugin.tick().unwrap();
    assert_eq!(plugin.pending_http_calls(), 1);
    let mut ids = vec![first];
    for made_up in &burst[1..100] {
        ids.push(waiting(start(&mut plugin, made_up)));
    }
    assert_eq!(plugin.deliver_http_calls().unwrap(), 1);
    assert_eq!(server.hits(), 2);
    for id in ids {
        assert_eq!(status(&plugin.outcome(id).unwrap()), 401);
    }
    // During the penalty period, more made-up kids are refused at once and fetch nothing.
    for (step, made_up) in burst[100..].iter().enumerate() {
        if step % 20 == 0 {
            advance(&mut plugin, &mut now, 1);
            plugin.tick().unwrap();
        }
        assert_eq!(now_status(&mut plugin, made_up), 401);
    }
    assert_eq!(plugin.pending_http_calls(), 0);
    assert_eq!(server.hits(), 2, "200 unknown kids: one fetch");
    // The pool rotates: a token with the new key's kid after the penalty fetches again and is allowed.
    plugin.set_manual_http_calls(false);
    let rotated = DevKey::generate_es256("k2").unwrap();
    server.set(200, jwks(&[&key, &rotated]).to_string().as_bytes());
    advance(&mut plugin, &mut now, 5);
    let id = waiting(start(&mut plugin, &rotated));
    plugin.tick().unwrap();
    assert_eq!(server.hits(), 3);
    assert_eq!(status(&plugin.outcome(id).unwrap()), 200);
    assert_eq!(now_status(&mut plugin, &key), 200);
    assert_eq!(counter(&plugin, "jwks_fetch"), 3);
}

#[test]
fn one_fetch_serves_every_vm_of_the_host() {
    let key = DevKey::generate_es256("k1").unwrap();
    let server = JwksServer::start(200, &jwks(&[&key]));
    let host = host(&server);
    // Two workers' VMs, both up before any fetch.
    let mut first = vm(&host);
    let mut second = vm(&host);
    let waiting_on_second = waiting(start(&mut second, &key));
    first.tick().unwrap();
    assert_eq!(server.hits(), 1);
    // The second VM finds the keys in shared data on its tick and decides its waiting request; it fetches nothing.
    second.tick().unwrap();
    assert_eq!(server.hits(), 1);
    assert_eq!(status(&second.outcome(waiting_on_second).unwrap()), 200);
    assert_eq!(now_status(&mut second, &key), 200);
    // A VM started later (a new worker, or a configuration push) has them at once.
    let mut third = vm(&host);
    assert_eq!(now_status(&mut third, &key), 200);
    third.tick().unwrap();
    assert_eq!(server.hits(), 1);
    // An unknown kid on one VM, then on another during the penalty: one fetch between them.
    let made_up = DevKey::generate_es256("made-up").unwrap();
    let id = waiting(start(&mut second, &made_up));
    second.tick().unwrap();
    assert_eq!(status(&second.outcome(id).unwrap()), 401);
    first.tick().unwrap();
    assert_eq!(now_status(&mut first, &made_up), 401);
    first.tick().unwrap();
    assert_eq!(server.hits(), 2);
    // Counters are the host's: the second and third VMs loaded the first fetch, the first VM the second's.
    assert_eq!((counter(&first, "jwks_fetch"), counter(&first, "jwks_loaded")), (2, 3));
}
