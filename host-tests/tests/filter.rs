//! The built filter (`dist/authz.wasm`, or `$AUTHZ_WASM`) inside the Envoy-like host: tokens minted at test
//! time, requests as Envoy delivers them, answers as the client or the upstream would see them.
//!
//! A missing filter fails these tests with a message to run `make wasm`; they never pass vacuously.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use authz::decision::DecisionRecord;
use authz_host::{Call, Direction, FilterHost, HostError, HttpOutcome, LogLevel, Plugin, Status};
use authz_testkit::mint::{CognitoClaims, DevKey};
use authz_testkit::scenario::Scenario;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::OnceLock;
use support::{filter_wasm, forwarded, header, messages, request, show};

const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example";
const CLIENT: &str = "app-client-1";
/// The time the plugin reports, in seconds (tokens are minted around it).
const NOW: u64 = 1_750_000_000;
const IDENTITY_HEADERS: [&str; 6] =
    ["x-authz-sub", "x-authz-username", "x-authz-client-id", "x-authz-groups", "x-authz-scopes", "x-authz-issuer"];
const UNAUTHORIZED: &str = r#"{"message":"Unauthorized"}"#;
const FORBIDDEN: &str = r#"{"Message":"User is not authorized to access this resource"}"#;
const FORBIDDEN_EXPLICIT: &str =
    r#"{"Message":"User is not authorized to access this resource with an explicit deny"}"#;

/// The trusted key and a rogue key that claims the same `kid`; RSA generation is slow, so once per run.
fn keys() -> &'static (DevKey, DevKey) {
    static KEYS: OnceLock<(DevKey, DevKey)> = OnceLock::new();
    KEYS.get_or_init(|| (DevKey::generate_rsa("k1").unwrap(), DevKey::generate_rsa("k1").unwrap()))
}

/// The filter compiled once per run (each test starts its own VM from it).
fn host() -> &'static FilterHost {
    static HOST: OnceLock<FilterHost> = OnceLock::new();
    HOST.get_or_init(|| FilterHost::load(&filter_wasm()).unwrap_or_else(|e| panic!("the filter does not load: {e}")))
}

fn config(group_policies: Value) -> Value {
    json!({
        "api": {"region": "us-east-1", "account_id": "123456789012", "api_id": "a1b2c3d4e5", "stage": "dev"},
        "issuers": [{
            "issuer": ISSUER,
            "jwks": {"keys": [keys().0.public_jwk()]},
            "token_use": ["access", "id"],
            "client_ids": [CLIENT]
        }],
        "routes": [
            {"method": "GET", "path": "/health", "auth": "none"},
            {"method": "GET", "path": "/products", "scopes": ["product-api/read_product"]},
            {"method": "DELETE", "path": "/products/{id}", "scopes": ["product-api/delete_product"]},
            {"method": "ANY", "path": "/petstore/{proxy+}"}
        ],
        "policies": {"groups": group_policies, "clients": {}, "users": {}}
    })
}

fn petstore_policies() -> Value {
    json!({
        "pet-veterinarian": {"Version": "2012-10-17", "Statement": [{
            "Sid": "PetStore-API", "Effect": "Allow", "Action": "execute-api:Invoke",
            "Resource": ["arn:aws:execute-api:*:*:*/*/*/petstore/v1/*", "execute-api:/dev/GET/petstore/v2/status"]
        }]},
        "suspended": {"Version": "2012-10-17", "Statement": [{
            "Sid": "Suspended", "Effect": "Deny", "Action": "execute-api:*", "Resource": "*"
        }]}
    })
}

/// A fresh VM of the filter configured with `config`, its clock at [`NOW`].
fn plugin_with(config: &Value) -> Plugin {
    let (mut plugin, configured) = host().start(b"", config.to_string().as_bytes()).unwrap();
    assert!(configured, "the filter refused its configuration: {:?}", messages(&plugin));
    plugin.set_time_nanos(NOW * 1_000_000_000);
    plugin
}

fn plugin() -> Plugin {
    plugin_with(&config(petstore_policies()))
}

fn access(username: &str, groups: &[&str]) -> CognitoClaims {
    CognitoClaims::access(ISSUER, CLIENT, username, NOW).groups(groups)
}

fn bearer(claims: &CognitoClaims) -> String {
    format!("Bearer {}", keys().0.sign(&claims.to_json()))
}

fn get(path: &str, authorization: Option<&str>) -> Vec<(String, String)> {
    match authorization {
        Some(value) => request("GET", path, &[("authorization", value)]),
        None => request("GET", path, &[]),
    }
}

/// The status, headers and body of a local response; panics on anything else.
fn local(outcome: &HttpOutcome) -> (u32, &[(String, String)], String) {
    match outcome {
        HttpOutcome::LocalResponse { status, headers, body, .. } => {
            (*status, headers, String::from_utf8_lossy(body).into_owned())
        }
        other => panic!("expected a local response, got {other:?}"),
    }
}

fn assert_denied(plugin: &Plugin, outcome: &HttpOutcome, status: u32, body: &str) {
    let (got, headers, got_body) = local(outcome);
    assert_eq!((got, got_body.as_str()), (status, body), "{}", show(plugin));
    if status == 401 {
        let challenge = header(headers, "www-authenticate").unwrap_or_else(|| panic!("no challenge: {headers:?}"));
        assert!(challenge.starts_with("Bearer"), "{challenge}");
    }
    // A denied request must never have changed what would go upstream.
    let writes = plugin.host_calls().iter().filter(|c| {
        matches!(
            c.function,
            "proxy_add_header_map_value" | "proxy_replace_header_map_value" | "proxy_set_header_map_pairs"
        )
    });
    assert_eq!(writes.count(), 0, "{}", show(plugin));
}

#[test]
fn the_filter_imports_only_proxy_wasm_host_functions() {
    let imports = host().imports();
    assert!(!imports.is_empty());
    let foreign: Vec<_> = imports.iter().filter(|i| !i.starts_with("env.proxy_")).collect();
    assert!(foreign.is_empty(), "Envoy-incompatible imports: {foreign:?}");
}

#[test]
fn a_group_policy_allows_and_identity_headers_go_upstream() {
    let mut plugin = plugin();
    let outcome = plugin
        .http_request(&get("/petstore/v1/pets/a1b2", Some(&bearer(&access("alice", &["pet-veterinarian"])))))
        .unwrap();
    let sent = forwarded(&outcome);
    let identity: BTreeMap<&str, &str> = IDENTITY_HEADERS
        .iter()
        .map(|name| (*name, header(sent, name).unwrap_or_else(|| panic!("no {name}: {sent:?}"))))
        .collect();
    assert_eq!(identity["x-authz-sub"], "sub-alice");
    assert_eq!(identity["x-authz-username"], "alice");
    assert_eq!(identity["x-authz-client-id"], CLIENT);
    assert_eq!(identity["x-authz-groups"], "pet-veterinarian");
    assert_eq!(identity["x-authz-scopes"], "aws.cognito.signin.user.admin");
    assert_eq!(header(sent, ":path"), Some("/petstore/v1/pets/a1b2"));
    // The time came from the host.
    assert!(plugin.host_calls().iter().any(|c| c.function == "proxy_get_current_time_nanoseconds"));
    assert!(plugin.metrics().iter().any(|m| m.name == "authz.allowed" && m.value >= 1));
}

#[test]
fn no_token_is_401_with_a_bearer_challenge() {
    let mut plugin = plugin();
    let outcome = plugin.http_request(&get("/petstore/v1/pets", None)).unwrap();
    assert_denied(&plugin, &outcome, 401, UNAUTHORIZED);
    let replies: Vec<_> = plugin.host_calls().iter().filter(|c| c.function == "proxy_send_local_response").collect();
    assert_eq!(replies.len(), 1, "{}", show(&plugin));
    assert_eq!(replies[0].result, "Ok");
}

#[test]
fn a_bad_signature_is_401() {
    let mut plugin = plugin();
    let rogue = format!("Bearer {}", keys().1.sign(&access("alice", &["pet-veterinarian"]).to_json()));
    let outcome = plugin.http_request(&get("/petstore/v1/pets", Some(&rogue))).unwrap();
    assert_denied(&plugin, &outcome, 401, UNAUTHORIZED);

    // One flipped signature byte.
    let good = bearer(&access("alice", &["pet-veterinarian"]));
    let mut tampered = good.into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let outcome = plugin.http_request(&get("/petstore/v1/pets", Some(&String::from_utf8(tampered).unwrap()))).unwrap();
    assert_denied(&plugin, &outcome, 401, UNAUTHORIZED);
}

#[test]
fn an_expired_token_is_401_by_the_hosts_clock() {
    let mut plugin = plugin();
    let expired = access("alice", &["pet-veterinarian"]).valid(NOW - 7200, NOW - 3600);
    let outcome = plugin.http_request(&get("/petstore/v1/pets", Some(&bearer(&expired)))).unwrap();
    assert_denied(&plugin, &outcome, 401, UNAUTHORIZED);

    // The same valid token expires when the host's clock moves past `exp` (plus any skew).
    let token = bearer(&access("alice", &["pet-veterinarian"]));
    assert!(matches!(
        plugin.http_request(&get("/petstore/v1/pets", Some(&token))).unwrap(),
        HttpOutcome::Continue { .. }
    ));
    plugin.set_time_nanos((NOW + 3600 + 600) * 1_000_000_000);
    let outcome = plugin.http_request(&get("/petstore/v1/pets", Some(&token))).unwrap();
    assert_denied(&plugin, &outcome, 401, UNAUTHORIZED);
}

#[test]
fn a_token_without_the_routes_scope_is_401() {
    let mut plugin = plugin();
    let claims = access("alice", &["pet-veterinarian"]).scopes(&["product-api/delete_product"]);
    let outcome = plugin.http_request(&get("/products", Some(&bearer(&claims)))).unwrap();
    assert_denied(&plugin, &outcome, 401, UNAUTHORIZED);
}

#[test]
fn the_wrong_group_is_403_and_an_explicit_deny_says_so() {
    let mut plugin = plugin();
    let outcome =
        plugin.http_request(&get("/petstore/v1/pets", Some(&bearer(&access("alice", &["cat-groomer"]))))).unwrap();
    assert_denied(&plugin, &outcome, 403, FORBIDDEN);
    let outcome =
        plugin.http_request(&get("/petstore/v2/pets", Some(&bearer(&access("alice", &["pet-veterinarian"]))))).unwrap();
    assert_denied(&plugin, &outcome, 403, FORBIDDEN);
    let both = access("alice", &["pet-veterinarian", "suspended"]);
    let outcome = plugin.http_request(&get("/petstore/v1/pets", Some(&bearer(&both)))).unwrap();
    assert_denied(&plugin, &outcome, 403, FORBIDDEN_EXPLICIT);
}

#[test]
fn a_public_route_needs_no_token() {
    let mut plugin = plugin();
    let outcome = plugin.http_request(&get("/health", None)).unwrap();
    let sent = forwarded(&outcome);
    assert!(IDENTITY_HEADERS.iter().all(|name| header(sent, name).is_none()), "{sent:?}");
}

#[test]
fn client_sent_identity_headers_are_stripped() {
    let mut plugin = plugin();
    let token = bearer(&access("bob", &["pet-veterinarian"]));
    let mut headers = get("/petstore/v1/pets", Some(&token));
    for name in IDENTITY_HEADERS {
        headers.push((name.to_string(), "forged".to_string()));
        headers.push((name.to_ascii_uppercase(), "forged-again".to_string()));
        // CGI-style upstreams read `x_authz_groups` as `x-authz-groups`.
        headers.push((name.replace('-', "_"), "forged-underscore".to_string()));
    }
    let outcome = plugin.http_request(&headers).unwrap();
    let sent = forwarded(&outcome);
    for name in IDENTITY_HEADERS {
        let folded = |k: &str| k.to_ascii_lowercase().replace('_', "-") == name;
        let values: Vec<_> = sent.iter().filter(|(k, _)| folded(k)).map(|(_, v)| v.as_str()).collect();
        assert_eq!(values.len(), 1, "{name}: {values:?}");
        assert!(!values[0].contains("forged"), "{name}: {values:?}");
    }
    assert_eq!(header(sent, "x-authz-username"), Some("bob"));

    // On a public route the forged headers are removed and nothing is added.
    let mut headers = get("/health", None);
    headers.push(("x-authz-groups".to_string(), "admins".to_string()));
    headers.push(("x_authz_groups".to_string(), "admins".to_string()));
    let outcome = plugin.http_request(&headers).unwrap();
    assert_eq!(header(forwarded(&outcome), "x-authz-groups"), None);
    assert_eq!(header(forwarded(&outcome), "x_authz_groups"), None);
}

#[test]
fn a_bad_reconfiguration_keeps_the_old_configuration_serving() {
    let mut plugin = plugin();
    let token = bearer(&access("alice", &["pet-veterinarian"]));
    let allowed = |plugin: &mut Plugin| {
        matches!(plugin.http_request(&get("/petstore/v1/pets", Some(&token))).unwrap(), HttpOutcome::Continue { .. })
    };
    assert!(allowed(&mut plugin));

    let mut unknown_key = config(petstore_policies());
    unknown_key["surprise"] = json!(true);
    for bad in [b"{not json".to_vec(), b"".to_vec(), unknown_key.to_string().into_bytes()] {
        assert!(!plugin.reconfigure(&bad).unwrap(), "accepted {}", String::from_utf8_lossy(&bad));
        assert!(allowed(&mut plugin), "stopped serving after {}", String::from_utf8_lossy(&bad));
    }
    assert!(messages(&plugin).iter().any(|m| m.contains("configuration refused")), "{:?}", messages(&plugin));

    // A good update takes effect: without the group policy the same request is forbidden.
    assert!(plugin.reconfigure(config(json!({})).to_string().as_bytes()).unwrap());
    let outcome = plugin.http_request(&get("/petstore/v1/pets", Some(&token))).unwrap();
    assert_denied(&plugin, &outcome, 403, FORBIDDEN);
}

#[test]
fn the_vm_never_traps_on_junk_input() {
    let mut plugin = plugin();
    let good = keys().0.sign(&access("alice", &["pet-veterinarian"]).to_json());
    let parts: Vec<&str> = good.split('.').collect();
    let mut authorizations: Vec<Vec<u8>> = [
        "",
        "Bearer",
        "Bearer ",
        "bearer x",
        "Basic YWxpY2U6c2VjcmV0",
        "Bearer .",
        "Bearer ..",
        "Bearer a.b.c",
        "Bearer a.b.c.d",
        "Bearer ====.====.====",
        "Bearer \u{0}\u{0}",
        "Bearer e30.e30.",
        "Bearer eyJhbGciOiJub25lIn0.e30.",
        "Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.bm90IGpzb24.AAAA",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    authorizations.push(format!("Bearer {}.{}", parts[0], parts[1]).into_bytes());
    authorizations.push(format!("Bearer {}..{}", parts[0], parts[2]).into_bytes());
    authorizations.push(format!("Bearer {good} {good}").into_bytes());
    authorizations.push(format!("Bearer {}", "A".repeat(64 * 1024)).into_bytes());
    authorizations.push(b"Bearer \xff\xfe\x80".to_vec());
    authorizations.push([b"Bearer ".to_vec(), good.as_bytes().to_vec(), b"\xff".to_vec()].concat());
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..200 {
        let len = (next(&mut seed) % 300) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| next(&mut seed) as u8).collect();
        let mut value = b"Bearer ".to_vec();
        value.extend(bytes);
        authorizations.push(value);
    }
    for authorization in &authorizations {
        let headers: Vec<(Vec<u8>, Vec<u8>)> = vec![
            (b":method".to_vec(), b"GET".to_vec()),
            (b":path".to_vec(), b"/petstore/v1/pets".to_vec()),
            (b":authority".to_vec(), b"api.example.com".to_vec()),
            (b"authorization".to_vec(), authorization.clone()),
        ];
        let outcome = plugin.http_request(&headers);
        let outcome = outcome.unwrap_or_else(|e| panic!("{e} for {:?}", String::from_utf8_lossy(authorization)));
        let (status, _, _) = local(&outcome);
        assert!(matches!(status, 400 | 401), "{status} for {:?}", String::from_utf8_lossy(authorization));
    }

    let odd_requests: Vec<Vec<(Vec<u8>, Vec<u8>)>> = vec![
        vec![],
        vec![(b":method".to_vec(), b"GET".to_vec())],
        vec![(b":path".to_vec(), b"/petstore/v1/pets".to_vec())],
        vec![(b":method".to_vec(), b"".to_vec()), (b":path".to_vec(), b"".to_vec())],
        vec![(b":method".to_vec(), b"G\xffT".to_vec()), (b":path".to_vec(), b"/\xff/%%%/../..//".to_vec())],
        vec![
            (b":method".to_vec(), b"GET".to_vec()),
            (b":path".to_vec(), format!("/{}", "a/".repeat(20_000)).into_bytes()),
        ],
        vec![(b":method".to_vec(), b"GET".to_vec()), (b":path".to_vec(), b"*".to_vec())],
        vec![(b":method".to_vec(), b"CONNECT".to_vec()), (b":path".to_vec(), b"example.com:443".to_vec())],
        (0..1000).map(|i| (format!("x-h{i}").into_bytes(), b"v".to_vec())).collect(),
        vec![
            (b":method".to_vec(), b"GET".to_vec()),
            (b":path".to_vec(), b"/health".to_vec()),
            (b"authorization".to_vec(), b"\xff".to_vec()),
        ],
    ];
    for headers in &odd_requests {
        if let Err(e) = plugin.http_request(headers) {
            panic!("{e} for {} headers", headers.len());
        }
    }
    plugin.set_property(&["source", "address"], b"not an address");
    plugin.http_request(&get("/petstore/v1/pets", Some(&format!("Bearer {good}")))).unwrap();
    plugin.set_property(&["source", "address"], b"[2001:db8::1]:443");
    let outcome = plugin.http_request(&get("/petstore/v1/pets", Some(&format!("Bearer {good}")))).unwrap();
    assert!(matches!(outcome, HttpOutcome::Continue { .. }), "{outcome:?}");
}

fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn a_configuration_the_filter_refuses_is_not_started() {
    for bad in [&b"{}"[..], b"[]", b"null", b"\xff"] {
        let (mut plugin, configured) = host().start(b"", bad).unwrap();
        assert!(!configured, "accepted {:?}", String::from_utf8_lossy(bad));
        assert!(matches!(plugin.http_request(&get("/health", None)), Err(HostError::Rejected)));
    }
}

#[test]
fn a_denied_request_makes_only_the_expected_host_calls() {
    let mut plugin = plugin();
    plugin.set_log_level(LogLevel::Info);
    plugin.http_request(&get("/petstore/v1/pets", None)).unwrap();
    let calls: Vec<&str> =
        plugin.host_calls().iter().filter(|c| c.direction == Direction::VmToHost).map(|c| c.function).collect();
    // Reads, one metric, one reply: no writes to the request, no calls out, no shared state.
    // Exactly: the header map, the clock, the decision log line (denials at info by default, written without
    // asking the level first), the record, one counter, the reply. No writes to the request, no calls out.
    assert_eq!(
        calls,
        [
            "proxy_get_header_map_pairs",
            "proxy_get_current_time_nanoseconds",
            "proxy_log",
            "proxy_set_property",
            "proxy_increment_metric",
            "proxy_send_local_response",
        ],
        "{}",
        show(&plugin)
    );
    let logged = plugin.logs().last().unwrap();
    assert_eq!(
        (logged.level, logged.message.as_str()),
        (LogLevel::Info, "authz: 401 GET token_missing: no authorization header")
    );
    assert!(!plugin.host_calls().iter().any(|c| c.function == "proxy_on_request_trailers"), "{}", show(&plugin));
}

/// An allowed request logs nothing by default (allows are off) and never asks for the log level: the common path
/// makes no log call at all.
#[test]
fn an_allowed_request_makes_no_log_call() {
    let mut plugin = plugin();
    plugin.set_log_level(LogLevel::Trace);
    let token = bearer(&access("alice", &["pet-veterinarian"]));
    plugin.http_request(&get("/petstore/v1/pets", Some(&token))).unwrap();
    let calls: Vec<&str> =
        plugin.host_calls().iter().filter(|c| c.direction == Direction::VmToHost).map(|c| c.function).collect();
    assert!(!calls.iter().any(|c| c.contains("log")), "{calls:?}");
    assert_eq!(calls.iter().filter(|c| **c == "proxy_increment_metric").count(), 1, "{calls:?}");
}

/// `decision_log` sets each decision's level, `off` included; the line never holds the token.
#[test]
fn decision_log_levels_follow_the_configuration() {
    let mut config = config(petstore_policies());
    config["decision_log"] = json!({"allow": "debug", "deny": "off"});
    let mut plugin = plugin_with(&config);
    plugin.set_log_level(LogLevel::Debug);
    let authorization = bearer(&access("alice", &["pet-veterinarian"]));
    let token = authorization.trim_start_matches("Bearer ");
    plugin.http_request(&get("/petstore/v1/pets", Some(&authorization))).unwrap();
    let line = plugin.logs().last().unwrap();
    assert_eq!(line.level, LogLevel::Debug);
    assert_eq!(
        line.message,
        "authz: 200 GET allowed: `sub-alice` allowed by groups.pet-veterinarian[0].Statement[0] (PetStore-API)"
    );
    assert!(plugin.logs().iter().all(|line| !line.message.contains(token)), "a token in the log");
    let logged = plugin.logs().len();
    plugin.http_request(&get("/petstore/v1/pets", None)).unwrap();
    assert_eq!(plugin.logs().len(), logged, "denials are off");
    assert!(!plugin.host_calls().iter().any(|c| c.function == "proxy_log"), "{}", show(&plugin));
}

/// Every corpus in `policies/scenarios/` through the built filter, as the native tests run it through the
/// core: the same cases, the same expected statuses, upstream headers and reasons.
#[test]
fn every_scenario_corpus_passes_through_the_filter() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/scenarios");
    let mut ran = 0;
    for path in authz_testkit::scenario::json_files(&dir).unwrap() {
        let scenario = Scenario::load(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let (mut plugin, configured) = host().start(b"", &scenario.config_bytes()).unwrap();
        assert!(configured, "{}: {:?}", path.display(), messages(&plugin));
        plugin.set_time_nanos(scenario.now * 1_000_000_000);
        for case in &scenario.cases {
            let context = format!("{}: {}", path.display(), case.name);
            let address = match case.request.source_ip {
                Some(std::net::IpAddr::V4(ip)) => format!("{ip}:53346"),
                Some(std::net::IpAddr::V6(ip)) => format!("[{ip}]:53346"),
                None => "127.0.0.1:53346".to_string(),
            };
            plugin.set_property(&["source", "address"], address.as_bytes());
            let mut headers = vec![
                (":method".to_string(), case.request.method.clone()),
                (":path".to_string(), case.request.path.clone()),
                (":authority".to_string(), "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com".to_string()),
                (":scheme".to_string(), "https".to_string()),
            ];
            headers.extend(case.request.headers.iter().cloned());
            let outcome = plugin.http_request(&headers).unwrap_or_else(|e| panic!("{context}: {e}"));
            let status = match &outcome {
                HttpOutcome::Continue { .. } => 200,
                HttpOutcome::LocalResponse { status, .. } => *status,
                other => panic!("{context}: {other:?}"),
            };
            assert_eq!(status, u32::from(case.expect.status), "{context}: {}", show(&plugin));
            let record = last_record(&plugin);
            assert_eq!(u32::from(record.status), status, "{context}: {record:?}");
            assert_eq!(
                record.code().map(|code| code.decision()),
                Some(record.decision.as_str()),
                "{context}: {record:?}"
            );
            if let Some(reason) = &case.expect.reason {
                assert!(record.reason.contains(reason.as_str()), "{context}: wanted `{reason}` in {record:?}");
            }
            if let Some(code) = &case.expect.code {
                assert_eq!(&record.code, code, "{context}");
            }
            if let Some(upstream) = &case.expect.upstream {
                let sent = forwarded(&outcome);
                let actual: BTreeMap<String, String> = sent
                    .iter()
                    .filter(|(k, _)| IDENTITY_HEADERS.contains(&k.as_str()) || upstream.contains_key(k))
                    .cloned()
                    .collect();
                assert_eq!(&actual, upstream, "{context}");
            }
            ran += 1;
        }
    }
    assert!(ran >= 30, "only {ran} cases ran");
}

/// The host calls the filter made while the host ran `callback`.
fn calls_during(plugin: &Plugin, callback: &str) -> Vec<Call> {
    let all = plugin.host_calls();
    let Some(start) = all.iter().position(|c| c.direction == Direction::HostToVm && c.function == callback) else {
        return Vec::new();
    };
    all[start + 1..]
        .iter()
        .take_while(|c| {
            c.direction == Direction::VmToHost || matches!(c.function, "malloc" | "proxy_on_memory_allocate")
        })
        .filter(|c| c.direction == Direction::VmToHost)
        .cloned()
        .collect()
}

/// `name(args) -> result` of each call, for exact comparisons.
fn shown(calls: &[Call]) -> Vec<String> {
    calls.iter().map(|c| format!("{}({}) -> {}", c.function, c.args, c.result)).collect()
}

/// The trailers a `Continue` outcome sent upstream; panics on anything else.
fn forwarded_trailers(outcome: &HttpOutcome) -> Vec<(String, String)> {
    match outcome {
        HttpOutcome::Continue { request_trailers: Some(trailers), .. } => trailers.clone(),
        other => panic!("expected the request to continue with trailers, got {other:?}"),
    }
}

/// Identity fields and a token sent as trailers, in the spellings an upstream may merge, and one ordinary
/// trailer.
fn forged_trailers() -> Vec<(String, String)> {
    let mut trailers = vec![("x-checksum".to_string(), "abc".to_string())];
    for name in IDENTITY_HEADERS {
        trailers.push((name.to_string(), "forged".to_string()));
        trailers.push((name.to_ascii_uppercase(), "forged-again".to_string()));
        trailers.push((name.replace('-', "_"), "forged-underscore".to_string()));
    }
    trailers.push(("Authorization".to_string(), "Bearer forged".to_string()));
    trailers
}

/// The removals the filter must make from the trailers of [`forged_trailers`], as Envoy's lower-cased map
/// spells the names: each name once.
fn expected_trailer_calls() -> Vec<String> {
    let mut expected = vec![format!("proxy_get_header_map_pairs(RequestTrailers) -> Ok {{{}}}", {
        let mut pairs = vec![r#""x-checksum": "abc""#.to_string()];
        for name in IDENTITY_HEADERS {
            pairs.push(format!(r#""{name}": "forged""#));
            pairs.push(format!(r#""{name}": "forged-again""#));
            pairs.push(format!(r#""{}": "forged-underscore""#, name.replace('-', "_")));
        }
        pairs.push(r#""authorization": "Bearer forged""#.to_string());
        pairs.join(", ")
    })];
    for name in IDENTITY_HEADERS {
        expected.push(format!(r#"proxy_remove_header_map_value(RequestTrailers, "{name}") -> Ok"#));
        expected.push(format!(r#"proxy_remove_header_map_value(RequestTrailers, "{}") -> Ok"#, name.replace('-', "_")));
    }
    expected.push(r#"proxy_remove_header_map_value(RequestTrailers, "authorization") -> Ok"#.to_string());
    expected
}

#[test]
fn identity_fields_in_request_trailers_are_removed_in_every_spelling() {
    let mut plugin = plugin();
    let token = bearer(&access("bob", &["pet-veterinarian"]));
    let outcome =
        plugin.http_request_with_trailers(&get("/petstore/v1/pets", Some(&token)), &forged_trailers()).unwrap();
    // The identity headers come from the token; the trailers keep only what is not an identity spelling.
    assert_eq!(header(forwarded(&outcome), "x-authz-username"), Some("bob"));
    assert_eq!(forwarded_trailers(&outcome), [("x-checksum".to_string(), "abc".to_string())]);
    assert_eq!(
        shown(&calls_during(&plugin, "proxy_on_request_trailers")),
        expected_trailer_calls(),
        "{}",
        show(&plugin)
    );
    let trailers_callback = plugin.host_calls().iter().find(|c| c.function == "proxy_on_request_trailers").unwrap();
    assert_eq!(trailers_callback.result, "0", "the trailers must continue: {}", show(&plugin));

    // A public route forwards without a token: its trailers are cleaned the same way.
    let outcome = plugin.http_request_with_trailers(&get("/health", None), &forged_trailers()).unwrap();
    assert_eq!(forwarded_trailers(&outcome), [("x-checksum".to_string(), "abc".to_string())]);
    assert_eq!(
        shown(&calls_during(&plugin, "proxy_on_request_trailers")),
        expected_trailer_calls(),
        "{}",
        show(&plugin)
    );

    // Trailers without any identity spelling cost one read and nothing else.
    let benign = [("x-checksum", "abc"), ("grpc-timeout", "1S")];
    let outcome = plugin.http_request_with_trailers(&get("/health", None), &benign).unwrap();
    assert_eq!(forwarded_trailers(&outcome).len(), 2);
    let calls = calls_during(&plugin, "proxy_on_request_trailers");
    assert_eq!(
        calls.iter().map(|c| c.function).collect::<Vec<_>>(),
        ["proxy_get_header_map_pairs"],
        "{}",
        show(&plugin)
    );
}

#[test]
fn a_denied_request_with_trailers_never_reaches_the_upstream() {
    let mut plugin = plugin();
    let outcome = plugin.http_request_with_trailers(&get("/petstore/v1/pets", None), &forged_trailers()).unwrap();
    assert_denied(&plugin, &outcome, 401, UNAUTHORIZED);
    // Envoy holds back the trailers of a stopped request; the filter never sees them.
    assert!(calls_during(&plugin, "proxy_on_request_trailers").is_empty(), "{}", show(&plugin));

    // When even the local reply fails, the request stays paused, trailers and all.
    plugin.fail_host_function("proxy_send_local_response", Status::InternalFailure);
    let outcome = plugin.http_request_with_trailers(&get("/petstore/v1/pets", None), &forged_trailers()).unwrap();
    assert!(matches!(outcome, HttpOutcome::Paused { .. }), "{outcome:?}");
    assert!(messages(&plugin).iter().any(|m| m.contains("local reply failed")), "{:?}", messages(&plugin));
}

#[test]
fn a_host_failure_while_cleaning_trailers_refuses_the_request() {
    let mut plugin = plugin();
    let token = bearer(&access("bob", &["pet-veterinarian"]));
    plugin.fail_host_function("proxy_remove_header_map_value", Status::BadArgument);
    // The headers need no removal, so the request goes on until its trailers hold an identity field.
    let outcome =
        plugin.http_request_with_trailers(&get("/petstore/v1/pets", Some(&token)), &forged_trailers()).unwrap();
    let (status, _, body) = local(&outcome);
    assert_eq!((status, body.as_str()), (500, r#"{"message":"Internal server error"}"#), "{}", show(&plugin));
    let reply = only_call(&plugin, "proxy_send_local_response");
    assert!(reply.args.starts_with(r#"500, "authz_internal_error""#) && reply.args.ends_with("grpc 13"), "{reply}");
    let record = last_record(&plugin);
    assert_eq!((record.status, record.decision.as_str()), (500, "error"));
    assert!(record.reason.contains("request trailers"), "{record:?}");

    // Trailers with nothing to remove still go through.
    let outcome =
        plugin.http_request_with_trailers(&get("/petstore/v1/pets", Some(&token)), &[("x-checksum", "abc")]).unwrap();
    assert_eq!(forwarded_trailers(&outcome).len(), 1);
}

/// The only call named `function` in the last request.
fn only_call(plugin: &Plugin, function: &str) -> Call {
    let found: Vec<Call> = plugin.host_calls().iter().filter(|c| c.function == function).cloned().collect();
    assert_eq!(found.len(), 1, "calls to {function}: {}", show(plugin));
    found.into_iter().next().unwrap()
}

/// The decision record the last request left in its filter state, written with one `proxy_set_property`.
fn last_record(plugin: &Plugin) -> DecisionRecord {
    let writes: Vec<&Call> = plugin.host_calls().iter().filter(|c| c.function == "proxy_set_property").collect();
    assert!(
        writes.iter().all(|c| c.args.starts_with(r#""authz.decision", "{"#) && c.result == "Ok"),
        "{}",
        show(plugin)
    );
    let json =
        plugin.filter_state("authz.decision").unwrap_or_else(|| panic!("no decision recorded: {}", show(plugin)));
    let json = std::str::from_utf8(json).unwrap();
    DecisionRecord::parse(json).unwrap_or_else(|| panic!("not a decision record: {json}"))
}

#[test]
fn configuration_warnings_are_logged_up_to_a_cap_then_counted() {
    // 25 statements that can never match an execute-api request: 25 warnings.
    let groups: serde_json::Map<String, Value> = (0..25)
        .map(|i| {
            let document = json!({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"
            }]});
            (format!("group-{i:02}"), document)
        })
        .collect();
    let plugin = plugin_with(&config(Value::Object(groups)));
    let lines = messages(&plugin);
    let each = lines.iter().filter(|line| line.contains("authz: configuration warning: ")).count();
    assert_eq!(each, 20, "{lines:#?}");
    let counted: Vec<&String> = lines.iter().filter(|line| line.contains("more configuration warnings")).collect();
    assert_eq!(counted.len(), 1, "{lines:#?}");
    assert!(counted[0].contains("authz: 5 more configuration warnings"), "{counted:?}");
}

#[test]
fn decision_record_refusals_or_off_skips_the_host_call() {
    let token = bearer(&access("alice", &["pet-veterinarian"]));
    let writes = |plugin: &Plugin| plugin.host_calls().iter().filter(|c| c.function == "proxy_set_property").count();
    for (mode, allowed_writes, refused_writes) in [("all", 1, 1), ("refusals", 0, 1), ("off", 0, 0)] {
        let mut config = config(petstore_policies());
        config["decision_record"] = json!(mode);
        let mut plugin = plugin_with(&config);
        plugin.http_request(&get("/petstore/v1/pets", Some(&token))).unwrap();
        assert_eq!(allowed_writes, writes(&plugin), "{mode}, allowed: {}", show(&plugin));
        assert_eq!(plugin.filter_state("authz.decision").is_some(), allowed_writes == 1, "{mode}");
        // The decision itself does not change: the identity still goes upstream.
        assert!(plugin.host_calls().iter().any(|c| c.function == "proxy_add_header_map_value"), "{mode}");
        plugin.http_request(&get("/petstore/v2/pets", Some(&token))).unwrap();
        assert_eq!(refused_writes, writes(&plugin), "{mode}, refused: {}", show(&plugin));
        if refused_writes == 1 {
            assert_eq!(last_record(&plugin).code, "implicit_deny", "{mode}");
        }
    }
}

#[test]
fn every_request_records_its_decision_for_access_logs() {
    let mut plugin = plugin();
    let token = bearer(&access("alice", &["pet-veterinarian"]));
    plugin.http_request(&get("/petstore/v1/pets", Some(&token))).unwrap();
    let record = last_record(&plugin);
    assert_eq!((record.status, record.decision.as_str(), record.code.as_str()), (200, "allow", "allowed"));
    assert_eq!(record.reason, "`sub-alice` allowed by groups.pet-veterinarian[0].Statement[0] (PetStore-API)");
    assert_eq!(record.statements, ["groups.pet-veterinarian[0].Statement[0] (PetStore-API)"]);

    plugin.http_request(&get("/petstore/v2/pets", Some(&token))).unwrap();
    let record = last_record(&plugin);
    assert_eq!((record.status, record.decision.as_str(), record.code.as_str()), (403, "deny", "implicit_deny"));
    assert!(record.reason.starts_with("no statement allows `sub-alice`"), "{record:?}");
    assert!(record.statements.is_empty(), "{record:?}");

    plugin.http_request(&get("/nowhere", None)).unwrap();
    assert_eq!(
        last_record(&plugin),
        DecisionRecord {
            status: 403,
            decision: "deny".into(),
            code: "no_route".into(),
            reason: "no route declared for `GET /nowhere`".into(),
            statements: vec![],
        }
    );

    // A failure to record costs the record only: the request is still decided, and the failure is logged.
    plugin.fail_host_function("proxy_set_property", Status::NotFound);
    let outcome = plugin.http_request(&get("/petstore/v1/pets", Some(&token))).unwrap();
    assert!(matches!(outcome, HttpOutcome::Continue { .. }), "{outcome:?}");
    assert!(
        messages(&plugin).iter().any(|m| m.contains("cannot record the decision: status 1")),
        "{:?}",
        messages(&plugin)
    );
}

/// The request `get` builds, as a gRPC client sends it.
fn grpc(path: &str, authorization: Option<&str>) -> Vec<(String, String)> {
    let mut headers = get(path, authorization);
    headers[0].1 = "POST".to_string();
    headers.push(("content-type".to_string(), "application/grpc".to_string()));
    headers.push(("te".to_string(), "trailers".to_string()));
    headers
}

#[test]
fn grpc_clients_get_the_grpc_status_chosen_for_each_denial() {
    let mut plugin = plugin_with(&config(json!({
        "pet-veterinarian": {"Version": "2012-10-17", "Statement": [{
            "Sid": "Grpc", "Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "execute-api:/*/POST/petstore/v1/*"
        }]}
    })));
    let vet = bearer(&access("alice", &["pet-veterinarian"]));
    let groomer = bearer(&access("carol", &["cat-groomer"]));
    let long = format!("/petstore/v1/{}", "a".repeat(1700));
    let cases: [(&str, Option<&str>, u32, u32, &str); 5] = [
        ("/petstore/v1/pets.Pets/List", None, 401, 16, UNAUTHORIZED),
        ("/petstore/v1/pets.Pets/List", Some(&groomer), 403, 7, FORBIDDEN),
        ("/undeclared.Service/Method", Some(&vet), 403, 7, r#"{"message":"Missing Authentication Token"}"#),
        ("/petstore/v1/%2e%2e%2Fadmin", Some(&vet), 400, 3, r#"{"message":"Bad Request"}"#),
        (&long, Some(&vet), 414, 3, r#"{"message":"Request-URI Too Long"}"#),
    ];
    let before = counters(&plugin);
    for (path, authorization, status, code, body) in cases {
        let outcome = plugin.http_request(&grpc(path, authorization)).unwrap();
        let what = format!("{status} for {}", &path[..path.len().min(40)]);
        // The filter asks for the status and the gRPC code deliberately...
        let reply = only_call(&plugin, "proxy_send_local_response");
        assert!(
            reply.args.starts_with(&format!("{status}, ")) && reply.args.ends_with(&format!("grpc {code}")),
            "{what}: {reply}"
        );
        // ...and the host turns it into what gRPC clients read: HTTP 200, grpc-status, the body as grpc-message.
        let HttpOutcome::LocalResponse { status: http, headers, body: sent, .. } = &outcome else {
            panic!("{what}: {outcome:?}")
        };
        assert_eq!(*http, 200, "{what}");
        assert!(sent.is_empty(), "{what}");
        assert_eq!(header(headers, "grpc-status"), Some(code.to_string().as_str()), "{what}: {headers:?}");
        assert_eq!(header(headers, "grpc-message"), Some(body), "{what}: {headers:?}");
        assert_eq!(header(headers, "content-type"), Some("application/grpc"), "{what}: {headers:?}");
        // The record says what was decided, not the 200 the client saw.
        let record = last_record(&plugin);
        assert_eq!(u32::from(record.status), status, "{what}: {record:?}");
        assert_ne!(record.decision, "allow", "{what}");
    }
    // Counted as the denials they are.
    let after = counters(&plugin);
    let moved = |name: &str| after.get(name).copied().unwrap_or(0) - before.get(name).copied().unwrap_or(0);
    assert_eq!(
        [
            "authz.allowed",
            "authz.token_missing",
            "authz.implicit_deny",
            "authz.no_route",
            "authz.bad_path",
            "authz.uri_too_long"
        ]
        .map(moved),
        [0, 1, 1, 1, 1, 1],
        "{after:?}"
    );

    // An allowed gRPC call goes upstream as any request does.
    let outcome = plugin.http_request(&grpc("/petstore/v1/pets.Pets/List", Some(&vet))).unwrap();
    assert_eq!(header(forwarded(&outcome), "x-authz-username"), Some("alice"));

    // A request refused without a decision is INTERNAL for gRPC clients.
    plugin.fail_host_function("proxy_add_header_map_value", Status::BadArgument);
    let outcome = plugin.http_request(&grpc("/petstore/v1/pets.Pets/List", Some(&vet))).unwrap();
    let HttpOutcome::LocalResponse { status: 200, headers, .. } = &outcome else { panic!("{outcome:?}") };
    assert_eq!(header(headers, "grpc-status"), Some("13"), "{headers:?}");
    assert!(only_call(&plugin, "proxy_send_local_response").args.ends_with("grpc 13"));
}

fn counters(plugin: &Plugin) -> BTreeMap<String, u64> {
    plugin.metrics().into_iter().map(|m| (m.name, m.value)).collect()
}
