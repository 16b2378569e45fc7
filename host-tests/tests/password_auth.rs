//! Username/password clients (`password_auth`) in the Envoy-like host, with `proxy_http_call` made for real to a
//! fake Cognito on 127.0.0.1 that each test starts (and that stops when the test ends): the request is paused while
//! its own context calls `InitiateAuth`, and decided on the answer; a remembered exchange costs no call; failures
//! are refused (401 or 503, never allowed) and put the username in a penalty period answered without a call.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use authz_host::{FilterHost, HttpOutcome, Plugin, Started};
use authz_testkit::mint::{CognitoClaims, DevKey};
use base64::Engine as _;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{filter_wasm, messages, request};

const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Pw";
const CLIENT: &str = "appclient1";
const SECRET: &str = "client-secret-1";
/// base64(HMAC-SHA256(SECRET, "alice" + CLIENT)), computed with Python's hmac when this test was written.
const ALICE_SECRET_HASH: &str = "cfl0ExU/oLVUB1ZYiIYeBXuycLneSXC9R9npAYw2S00=";
const NOW: u64 = 1_750_000_000;

/// What the fake IdP answers: status and body, after an optional delay.
type Answer = (u16, String, Duration);

/// A fake Cognito on 127.0.0.1: records each request (head and body) and answers what `answer` says for its body;
/// stops when dropped.
struct FakeIdp {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<(String, Value)>>>,
    stop: Arc<AtomicBool>,
}

impl FakeIdp {
    fn start(answer: impl Fn(&Value) -> Answer + Send + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let idp = FakeIdp { addr: listener.local_addr().unwrap(), requests: Arc::default(), stop: Arc::default() };
        let (requests, stop) = (idp.requests.clone(), idp.stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let Ok((mut stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(2));
                    continue;
                };
                stream.set_nonblocking(false).unwrap();
                let mut data = Vec::new();
                let mut buf = [0u8; 4096];
                let body_start = loop {
                    if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                        break at + 4;
                    }
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break data.len(),
                        Ok(n) => data.extend_from_slice(&buf[..n]),
                    }
                };
                let head = String::from_utf8_lossy(&data[..body_start]).to_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length: "))
                    .and_then(|n| n.trim().parse().ok())
                    .unwrap_or(0);
                while data.len() < body_start + length {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => data.extend_from_slice(&buf[..n]),
                    }
                }
                let body: Value = serde_json::from_slice(&data[body_start..]).unwrap_or(Value::Null);
                let (status, text, delay) = answer(&body);
                requests.lock().unwrap().push((head, body));
                std::thread::sleep(delay);
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                    text.len()
                );
                let _ = stream.write_all(reply.as_bytes());
            }
        });
        idp
    }

    fn calls(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

impl Drop for FakeIdp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Cognito's answers, as the API reference documents them.
fn tokens(token: &str) -> Answer {
    let body = json!({"AuthenticationResult": {"AccessToken": token, "ExpiresIn": 3600, "IdToken": "x.y.z",
        "RefreshToken": "refresh", "TokenType": "Bearer"}, "ChallengeParameters": {}});
    (200, body.to_string(), Duration::ZERO)
}

fn error(status: u16, kind: &str) -> Answer {
    (status, json!({"__type": kind, "message": "from the fake"}).to_string(), Duration::ZERO)
}

fn config(key: &DevKey, timeout_ms: u32) -> Value {
    json!({
        "api": {"region": "us-east-1", "account_id": "123456789012", "api_id": "a1b2c3d4e5", "stage": "dev"},
        "issuers": [{"issuer": ISSUER, "jwks": key.jwks(), "token_use": ["access"], "client_ids": [CLIENT]}],
        "password_auth": {"cluster": "cognito_idp", "authority": "cognito-idp.us-east-1.amazonaws.com",
                          "client_id": CLIENT, "client_secret": SECRET, "cache_seconds": 300, "timeout_ms": timeout_ms},
        "policies": {"groups": {"readers": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "execute-api:/dev/GET/pets"}]}}}
    })
}

fn vm(key: &DevKey, addr: SocketAddr, timeout_ms: u32) -> (FilterHost, Plugin) {
    let host = FilterHost::load(&filter_wasm()).unwrap();
    host.set_cluster("cognito_idp", addr);
    let (mut plugin, configured) = host.start(b"", config(key, timeout_ms).to_string().as_bytes()).unwrap();
    assert!(configured, "{:?}", messages(&plugin));
    plugin.set_time_nanos(NOW * 1_000_000_000);
    (host, plugin)
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

fn send(plugin: &mut Plugin, user: &str, password: &str) -> HttpOutcome {
    let authorization = basic(user, password);
    match plugin.start_request(&request("GET", "/pets", &[("authorization", &authorization)])).unwrap() {
        Started::Done(outcome) => outcome,
        Started::Waiting(id) => panic!("request {id} still waits: {:?}", messages(plugin)),
    }
}

fn status(outcome: &HttpOutcome) -> u32 {
    match outcome {
        HttpOutcome::Continue { .. } => 200,
        HttpOutcome::LocalResponse { status, .. } => *status,
        other => panic!("unexpected {other:?}"),
    }
}

fn counter(plugin: &Plugin, name: &str) -> u64 {
    plugin.metrics().iter().find(|m| m.name == format!("authz.{name}")).map_or(0, |m| m.value)
}

fn no_password_anywhere(plugin: &Plugin, password: &str) {
    let encoded = base64::engine::general_purpose::STANDARD.encode(password);
    for line in messages(plugin) {
        assert!(!line.contains(password) && !line.contains(&encoded), "{line}");
    }
}

#[test]
fn a_password_client_is_exchanged_verified_allowed_and_remembered() {
    let key = DevKey::generate_es256("k1").unwrap();
    let token = key.sign(&CognitoClaims::access(ISSUER, CLIENT, "alice", NOW).groups(&["readers"]).to_json());
    let idp = FakeIdp::start(move |body| match body["AuthParameters"]["PASSWORD"].as_str() {
        Some("right pw") => tokens(&token),
        _ => error(400, "NotAuthorizedException"),
    });
    let (_host, mut plugin) = vm(&key, idp.addr, 2000);
    let outcome = send(&mut plugin, "alice", "right pw");
    let HttpOutcome::Continue { request_headers, .. } = &outcome else { panic!("{outcome:?} {:?}", messages(&plugin)) };
    // The password's header never goes upstream; the identity does.
    assert!(request_headers.iter().all(|(name, _)| name != "authorization"), "{request_headers:?}");
    assert!(
        request_headers.iter().any(|(name, value)| name == "x-authz-username" && value == "alice"),
        "{request_headers:?}"
    );
    // The call: InitiateAuth as the AWS JSON protocol wants it, with the SECRET_HASH of the app client's secret.
    let (head, body) = idp.requests.lock().unwrap()[0].clone();
    assert!(head.starts_with("post / http/1.1"), "{head}");
    assert!(head.contains("x-amz-target: awscognitoidentityproviderservice.initiateauth"), "{head}");
    assert!(
        head.contains("content-type: application/x-amz-json-1.1")
            && head.contains("host: cognito-idp.us-east-1.amazonaws.com"),
        "{head}"
    );
    assert_eq!(
        body,
        json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": CLIENT,
               "AuthParameters": {"USERNAME": "alice", "PASSWORD": "right pw", "SECRET_HASH": ALICE_SECRET_HASH}})
    );
    // Remembered: the same credentials cost no call; another password for the same user does.
    assert_eq!(status(&send(&mut plugin, "alice", "right pw")), 200);
    assert_eq!(idp.calls(), 1);
    assert_eq!(status(&send(&mut plugin, "alice", "wrong pw")), 401);
    assert_eq!(idp.calls(), 2);
    plugin.tick().unwrap();
    for (name, value) in [
        ("password_exchange", 2),
        ("password_exchange_success", 1),
        ("password_exchange_refused", 1),
        ("password_cache_hit", 1),
        ("allowed", 2),
        ("password_refused", 1),
    ] {
        assert_eq!(counter(&plugin, name), value, "{name}");
    }
    no_password_anywhere(&plugin, "right pw");
    let record = String::from_utf8(plugin.filter_state("authz.decision").unwrap_or_default().to_vec()).unwrap();
    assert!(!record.contains("wrong pw"), "{record}");
}

#[test]
fn wrong_credentials_are_refused_then_penalized_without_a_call() {
    let key = DevKey::generate_es256("k1").unwrap();
    let idp = FakeIdp::start(|body| match body["AuthParameters"]["USERNAME"].as_str() {
        Some("ghost") => error(400, "UserNotFoundException"),
        _ => error(400, "NotAuthorizedException"),
    });
    let (_host, mut plugin) = vm(&key, idp.addr, 2000);
    let refused = send(&mut plugin, "bob", "guess1");
    assert_eq!(status(&refused), 401);
    let HttpOutcome::LocalResponse { details, headers, .. } = &refused else { unreachable!() };
    assert_eq!(details, "authz_password_refused");
    // Basic is offered beside Bearer, in one field (RFC 9110 §11.6.1 allows several challenges there).
    let challenges: Vec<&str> =
        headers.iter().filter(|(name, _)| name == "www-authenticate").map(|(_, value)| value.as_str()).collect();
    assert_eq!(challenges, [r#"Basic realm="a1b2c3d4e5/dev", charset="UTF-8", Bearer realm="a1b2c3d4e5/dev""#]);
    // A bearer client is challenged as before.
    let bearer = plugin.start_request(&request("GET", "/pets", &[("authorization", "Bearer x.y.z")])).unwrap();
    let Started::Done(HttpOutcome::LocalResponse { status: 401, headers, .. }) = &bearer else { panic!("{bearer:?}") };
    let challenges: Vec<&str> =
        headers.iter().filter(|(name, _)| name == "www-authenticate").map(|(_, value)| value.as_str()).collect();
    assert_eq!(challenges.len(), 1, "{challenges:?}");
    assert!(challenges[0].starts_with("Bearer realm=\"a1b2c3d4e5/dev\""), "{challenges:?}");
    // Within the penalty period: refused at once, whatever the password, with no call.
    for guess in ["guess2", "guess3", "guess4"] {
        assert_eq!(status(&send(&mut plugin, "bob", guess)), 401);
    }
    assert_eq!(idp.calls(), 1);
    assert_eq!(status(&send(&mut plugin, "ghost", "x")), 401);
    assert_eq!(idp.calls(), 2);
    // After it, one more call.
    plugin.set_time_nanos((NOW + 10) * 1_000_000_000);
    assert_eq!(status(&send(&mut plugin, "bob", "guess5")), 401);
    assert_eq!(idp.calls(), 3);
    no_password_anywhere(&plugin, "guess1");
}

#[test]
fn a_challenge_is_refused_with_its_name_logged() {
    let key = DevKey::generate_es256("k1").unwrap();
    let idp = FakeIdp::start(|_| {
        let body = json!({"ChallengeName": "NEW_PASSWORD_REQUIRED", "ChallengeParameters": {}, "Session": "s"});
        (200, body.to_string(), Duration::ZERO)
    });
    let (_host, mut plugin) = vm(&key, idp.addr, 2000);
    assert_eq!(status(&send(&mut plugin, "newbie", "temp-pw")), 401);
    assert!(
        messages(&plugin).iter().any(|m| m.contains("challenge `NEW_PASSWORD_REQUIRED`")),
        "{:?}",
        messages(&plugin)
    );
    plugin.tick().unwrap();
    assert_eq!(counter(&plugin, "password_exchange_challenge"), 1);
}

#[test]
fn an_idp_that_fails_never_allows() {
    let key = DevKey::generate_es256("k1").unwrap();
    let token = key.sign(&CognitoClaims::access(ISSUER, CLIENT, "alice", NOW).groups(&["readers"]).to_json());
    // 5xx, then an answer that cannot be read, then the flow not enabled on the app client: 503 each.
    let answers = Arc::new(Mutex::new(vec![
        (500, "oops".to_owned(), Duration::ZERO),
        (200, "{\"nothing\": 1}".to_owned(), Duration::ZERO),
        error(400, "InvalidParameterException"),
    ]));
    let idp = FakeIdp::start(move |_| answers.lock().unwrap().remove(0));
    let (_host, mut plugin) = vm(&key, idp.addr, 2000);
    for user in ["u1", "u2", "u3"] {
        let outcome = send(&mut plugin, user, "pw");
        assert_eq!(status(&outcome), 503, "{user}: {:?}", messages(&plugin));
        let HttpOutcome::LocalResponse { details, .. } = &outcome else { unreachable!() };
        assert_eq!(details, "authz_password_exchange_failed");
    }
    assert!(messages(&plugin).iter().any(|m| m.contains("answered status 400 `InvalidParameterException`")));
    // Penalized too: no call for that username meanwhile.
    assert_eq!(status(&send(&mut plugin, "u1", "pw")), 503);
    assert_eq!(idp.calls(), 3);

    // A timeout: the IdP answers after the call's own deadline.
    let slow = FakeIdp::start(move |_| {
        let (status, body, _) = tokens(&token);
        (status, body, Duration::from_millis(1500))
    });
    let (_host, mut plugin) = vm(&key, slow.addr, 300);
    assert_eq!(status(&send(&mut plugin, "alice", "pw")), 503);
    // Unreachable: nothing listens there.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let (_host, mut unreachable) = vm(&key, closed, 300);
    assert_eq!(status(&send(&mut unreachable, "alice", "pw")), 503);
    unreachable.tick().unwrap();
    plugin.tick().unwrap();
    assert_eq!(
        counter(&plugin, "password_exchange_unreachable") + counter(&unreachable, "password_exchange_unreachable"),
        2
    );
    assert_eq!(counter(&plugin, "allowed"), 0);
}

#[test]
fn a_token_from_an_unconfigured_issuer_is_refused_though_the_idp_returned_it() {
    let key = DevKey::generate_es256("k1").unwrap();
    let other = key.sign(
        &CognitoClaims::access("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other", CLIENT, "alice", NOW)
            .groups(&["readers"])
            .to_json(),
    );
    let idp = FakeIdp::start(move |_| tokens(&other));
    let (_host, mut plugin) = vm(&key, idp.addr, 2000);
    let outcome = send(&mut plugin, "alice", "pw");
    assert_eq!(status(&outcome), 401);
    let HttpOutcome::LocalResponse { details, .. } = &outcome else { unreachable!() };
    assert_eq!(details, "authz_token_issuer");
}

#[test]
fn without_password_auth_basic_is_refused_as_before() {
    let key = DevKey::generate_es256("k1").unwrap();
    let host = FilterHost::load(&filter_wasm()).unwrap();
    let mut config = config(&key, 2000);
    config.as_object_mut().unwrap().remove("password_auth");
    let (mut plugin, configured) = host.start(b"", config.to_string().as_bytes()).unwrap();
    assert!(configured);
    plugin.set_time_nanos(NOW * 1_000_000_000);
    let outcome = send(&mut plugin, "alice", "pw");
    let HttpOutcome::LocalResponse { status, details, .. } = &outcome else { panic!("{outcome:?}") };
    assert_eq!((*status, details.as_str()), (401, "authz_token_malformed"));
    assert_eq!(plugin.pending_http_calls(), 0);
}

/// `password_auth` beside `remote_jwks` on the fake, which serves the JWKS on its `GET`s (`status` for it).
fn remote_vm(idp: &FakeIdp) -> Plugin {
    let mut config = config(&DevKey::generate_es256("unused").unwrap(), 2000);
    config["issuers"][0].as_object_mut().unwrap().remove("jwks");
    config["issuers"][0]["remote_jwks"] = json!({"cluster": "cognito_jwks", "uri": format!("http://{}/pool/.well-known/jwks.json", idp.addr), "timeout_ms": 1000});
    let host = FilterHost::load(&filter_wasm()).unwrap();
    host.set_cluster("cognito_idp", idp.addr);
    host.set_cluster("cognito_jwks", idp.addr);
    let (mut plugin, configured) = host.start(b"", config.to_string().as_bytes()).unwrap();
    assert!(configured, "{:?}", messages(&plugin));
    plugin.set_time_nanos(NOW * 1_000_000_000);
    plugin
}

/// A fake that signs `alice` in with `right pw` (a token of `key`) and serves JWKS `status`, `keys` on a `GET`.
fn idp_with_keys(key: &DevKey, jwks_status: u16) -> FakeIdp {
    let token = key.sign(&CognitoClaims::access(ISSUER, CLIENT, "alice", NOW).groups(&["readers"]).to_json());
    let jwks = json!({"keys": [key.public_jwk()]}).to_string();
    FakeIdp::start(move |body| match (body, body["AuthParameters"]["PASSWORD"].as_str()) {
        (Value::Null, _) => (jwks_status, jwks.clone(), Duration::ZERO),
        (_, Some("right pw")) => tokens(&token),
        _ => error(400, "NotAuthorizedException"),
    })
}

#[test]
fn a_password_exchanged_before_the_first_keys_waits_for_them() {
    let key = DevKey::generate_es256("k1").unwrap();
    let idp = idp_with_keys(&key, 200);
    let mut plugin = remote_vm(&idp);
    let authorization = basic("alice", "right pw");
    // The exchange ends before the first tick, so before any key: the request waits for the fetch as a bearer
    // token with an unknown `kid` does, and is decided when it ends.
    let id = match plugin.start_request(&request("GET", "/pets", &[("authorization", &authorization)])).unwrap() {
        Started::Waiting(id) => id,
        Started::Done(outcome) => panic!("decided before the keys: {outcome:?} {:?}", messages(&plugin)),
    };
    assert_eq!(idp.calls(), 1, "the exchange");
    assert!(plugin.tick().unwrap());
    let outcome = plugin.outcome(id).unwrap();
    let HttpOutcome::Continue { request_headers, .. } = &outcome else { panic!("{outcome:?} {:?}", messages(&plugin)) };
    assert!(request_headers.iter().all(|(name, _)| name != "authorization"), "{request_headers:?}");
    assert!(request_headers.iter().any(|(name, value)| name == "x-authz-username" && value == "alice"));
    assert_eq!(idp.calls(), 2, "the exchange and the fetch");
    // Remembered: no call again.
    assert_eq!(status(&send(&mut plugin, "alice", "right pw")), 200);
    assert_eq!(idp.calls(), 2);
    no_password_anywhere(&plugin, "right pw");
}

#[test]
fn a_password_whose_keys_cannot_be_fetched_is_refused_without_penalizing_the_username() {
    let key = DevKey::generate_es256("k1").unwrap();
    let idp = idp_with_keys(&key, 500);
    let mut plugin = remote_vm(&idp);
    let authorization = basic("alice", "right pw");
    let id = match plugin.start_request(&request("GET", "/pets", &[("authorization", &authorization)])).unwrap() {
        Started::Waiting(id) => id,
        Started::Done(outcome) => panic!("decided before the keys: {outcome:?} {:?}", messages(&plugin)),
    };
    plugin.tick().unwrap();
    let outcome = plugin.outcome(id).unwrap();
    let HttpOutcome::LocalResponse { status, details, .. } = &outcome else { panic!("allowed: {outcome:?}") };
    assert_eq!((*status, details.as_str()), (401, "authz_token_unknown_key"), "{:?}", messages(&plugin));
    assert_eq!(idp.calls(), 2, "the exchange and the fetch");
    // A key the filter lacks says nothing about the password: the username is not in a penalty, so another
    // password of it is exchanged (and refused by the IdP), not refused without a call.
    let calls = idp.calls();
    let refused = send(&mut plugin, "alice", "other pw");
    let HttpOutcome::LocalResponse { details, .. } = &refused else { panic!("{refused:?}") };
    assert_eq!(details, "authz_password_refused");
    assert_eq!(idp.calls(), calls + 1, "{:?}", messages(&plugin));
    assert_eq!(counter(&plugin, "allowed"), 0);
}
