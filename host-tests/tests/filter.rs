//! The built filter (`dist/authz.wasm`, or `$AUTHZ_WASM`) inside the Envoy-like host: tokens minted at test
//! time, requests as Envoy delivers them, answers as the client or the upstream would see them.
//!
//! A missing filter fails these tests with a message to run `make wasm`; they never pass vacuously.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use authz::mint::{CognitoClaims, DevKey};
use authz::scenario::Scenario;
use authz_host::{Direction, FilterHost, HostError, HttpOutcome, LogLevel, Plugin};
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
const FORBIDDEN_EXPLICIT: &str = r#"{"Message":"User is not authorized to access this resource with an explicit deny"}"#;

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
            "Resource": ["arn:aws:execute-api:*:*:*/*/*/petstore/v1/*", "arn:aws:execute-api:*:*:*/*/GET/petstore/v2/status"]
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
        HttpOutcome::LocalResponse { status, headers, body, .. } => (*status, headers, String::from_utf8_lossy(body).into_owned()),
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
        matches!(c.function, "proxy_add_header_map_value" | "proxy_replace_header_map_value" | "proxy_set_header_map_pairs")
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
    let outcome = plugin.http_request(&get("/petstore/v1/pets/a1b2", Some(&bearer(&access("alice", &["pet-veterinarian"]))))).unwrap();
    let sent = forwarded(&outcome);
    let identity: BTreeMap<&str, &str> =
        IDENTITY_HEADERS.iter().map(|name| (*name, header(sent, name).unwrap_or_else(|| panic!("no {name}: {sent:?}")))).collect();
    assert_eq!(identity["x-authz-sub"], "sub-alice");
    assert_eq!(identity["x-authz-username"], "alice");
    assert_eq!(identity["x-authz-client-id"], CLIENT);
    assert_eq!(identity["x-authz-groups"], "pet-veterinarian");
    assert_eq!(identity["x-authz-scopes"], "aws.cognito.signin.user.admin");
    assert_eq!(header(sent, ":path"), Some("/petstore/v1/pets/a1b2"));
    // The time came from the host.
    assert!(plugin.host_calls().iter().any(|c| c.function == "proxy_get_current_time_nanoseconds"));
    assert!(plugin.metrics().iter().any(|m| m.name == "authz_allowed" && m.value >= 1));
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
    assert!(matches!(plugin.http_request(&get("/petstore/v1/pets", Some(&token))).unwrap(), HttpOutcome::Continue { .. }));
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
    let outcome = plugin.http_request(&get("/petstore/v1/pets", Some(&bearer(&access("alice", &["cat-groomer"]))))).unwrap();
    assert_denied(&plugin, &outcome, 403, FORBIDDEN);
    let outcome = plugin.http_request(&get("/petstore/v2/pets", Some(&bearer(&access("alice", &["pet-veterinarian"]))))).unwrap();
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
    let allowed = |plugin: &mut Plugin| matches!(plugin.http_request(&get("/petstore/v1/pets", Some(&token))).unwrap(), HttpOutcome::Continue { .. });
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
        "", "Bearer", "Bearer ", "bearer x", "Basic YWxpY2U6c2VjcmV0", "Bearer .", "Bearer ..", "Bearer a.b.c", "Bearer a.b.c.d",
        "Bearer ====.====.====", "Bearer \u{0}\u{0}", "Bearer e30.e30.", "Bearer eyJhbGciOiJub25lIn0.e30.",
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
        vec![(b":method".to_vec(), b"GET".to_vec()), (b":path".to_vec(), format!("/{}", "a/".repeat(20_000)).into_bytes())],
        vec![(b":method".to_vec(), b"GET".to_vec()), (b":path".to_vec(), b"*".to_vec())],
        vec![(b":method".to_vec(), b"CONNECT".to_vec()), (b":path".to_vec(), b"example.com:443".to_vec())],
        (0..1000).map(|i| (format!("x-h{i}").into_bytes(), b"v".to_vec())).collect(),
        vec![(b":method".to_vec(), b"GET".to_vec()), (b":path".to_vec(), b"/health".to_vec()), (b"authorization".to_vec(), b"\xff".to_vec())],
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
    let calls: Vec<&str> = plugin.host_calls().iter().filter(|c| c.direction == Direction::VmToHost).map(|c| c.function).collect();
    // Reads, one metric, one reply: no writes to the request, no calls out, no shared state.
    let allowed = [
        "proxy_get_header_map_pairs",
        "proxy_get_header_map_value",
        "proxy_get_current_time_nanoseconds",
        "proxy_get_property",
        "proxy_get_log_level",
        "proxy_log",
        "proxy_increment_metric",
        "proxy_send_local_response",
    ];
    let unexpected: Vec<_> = calls.iter().filter(|c| !allowed.contains(c)).collect();
    assert!(unexpected.is_empty(), "{}", show(&plugin));
    assert_eq!(calls.iter().filter(|c| **c == "proxy_send_local_response").count(), 1);
    assert_eq!(calls.iter().filter(|c| **c == "proxy_increment_metric").count(), 1);
}

/// Every corpus in `policies/scenarios/` through the built filter, as the native tests run it through the
/// core: the same cases, the same expected statuses, upstream headers and reasons.
#[test]
fn every_scenario_corpus_passes_through_the_filter() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/scenarios");
    let mut ran = 0;
    for path in authz::scenario::json_files(&dir).unwrap() {
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
            let logged = plugin.logs().len();
            let outcome = plugin.http_request(&headers).unwrap_or_else(|e| panic!("{context}: {e}"));
            let status = match &outcome {
                HttpOutcome::Continue { .. } => 200,
                HttpOutcome::LocalResponse { status, .. } => *status,
                other => panic!("{context}: {other:?}"),
            };
            assert_eq!(status, u32::from(case.expect.status), "{context}: {}", show(&plugin));
            if let Some(reason) = &case.expect.reason {
                let lines = &plugin.logs()[logged..];
                assert!(lines.iter().any(|l| l.message.contains(reason.as_str())), "{context}: wanted `{reason}` in {lines:?}");
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
