//! The policy corpus (`policies/policy-corpus/`) through the built filter in this host: each case a real request
//! as `authz_testkit::via_request` maps it (the same mapping `authz policy --wasm` uses), its answer checked
//! against the corpus's expectations and against the core's standalone evaluation.
//!
//! A missing filter fails these tests with a message to run `make wasm`; they never pass vacuously.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use authz::policy::{evaluate_standalone, INVOKE};
use authz_host::{Direction, FilterHost, HttpOutcome, Plugin};
use authz_testkit::corpus::{CorpusCase, CorpusFile, CorpusRequest};
use authz_testkit::mint::DevKey;
use authz_testkit::via_request::{FilterAnswer, FilterCase, ViaRequestError, SOURCE_ADDRESS, TLS_VERSION};
use serde_json::{json, Value};
use support::{filter_wasm, messages};

/// Error cases have no request; the filter still needs an API to configure.
const ANY_RESOURCE: &str = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/dev/GET/";

/// What the filter did with one case.
enum Ran {
    Refused(Vec<String>),
    Answered(Result<FilterAnswer, String>),
}

/// Starts a VM for `case`, gives it the case's clock and properties, and sends its request.
fn run(host: &FilterHost, case: &FilterCase) -> (Ran, Plugin) {
    let (mut plugin, configured) = host.start(b"", &case.config).unwrap();
    if !configured {
        let errors = plugin.logs().iter().filter_map(|line| case.refusal(&line.message)).collect();
        return (Ran::Refused(errors), plugin);
    }
    plugin.set_time_nanos(case.clock_nanos());
    for (path, value) in &case.properties {
        plugin.set_property(path, value);
    }
    let (status, body) = match plugin.http_request(&case.headers).unwrap() {
        HttpOutcome::Continue { .. } => (200, Vec::new()),
        HttpOutcome::LocalResponse { status, body, .. } => (u16::try_from(status).unwrap(), body),
        other => panic!("the filter neither answered nor forwarded: {other:?}: {:?}", messages(&plugin)),
    };
    // The decision record, never a log line.
    let record = plugin
        .filter_state(authz::decision::DECISION_PROPERTY)
        .map(|bytes| authz::decision::DecisionRecord::parse(std::str::from_utf8(bytes).unwrap()).unwrap());
    let reason = record.as_ref().filter(|record| record.status == status).map(|record| record.reason.as_str());
    (Ran::Answered(case.answer(status, &body, reason)), plugin)
}

fn corpus() -> Vec<(String, CorpusCase)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/policy-corpus");
    let paths = authz_testkit::scenario::json_files(&dir).unwrap();
    let mut cases = Vec::new();
    for path in paths {
        let file: CorpusFile = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        cases.extend(file.cases.into_iter().map(|case| (name.clone(), case)));
    }
    cases
}

/// Mismatches between the filter's answer and both the corpus and the core's standalone evaluation.
fn check_answer(label: &str, case: &CorpusCase, request: &CorpusRequest, answer: &FilterAnswer) -> Vec<String> {
    let mut problems = Vec::new();
    let action = request.action.as_deref().unwrap_or(INVOKE);
    let native = evaluate_standalone(&case.policy, &request.resource, action, &request.context).unwrap();
    let expected = FilterAnswer {
        decision: native.decision,
        statements: native.statements.clone(),
        why: native.why().map(|why| why.to_string()),
    };
    if answer != &expected {
        problems.push(format!("{label}: filter {answer:?}, core {expected:?}"));
    }
    if answer.decision.as_str() != request.expect.decision {
        problems.push(format!(
            "{label}: {} from the filter, the corpus expects {}",
            answer.decision.as_str(),
            request.expect.decision
        ));
    }
    if let Some(statements) = &request.expect.statements {
        let located: Vec<String> = answer.statements.iter().map(|statement| statement.location()).collect();
        if &located != statements {
            problems.push(format!("{label}: statements {located:?}, the corpus expects {statements:?}"));
        }
    }
    if let Some(why) = &request.expect.why {
        if !answer.why.as_deref().unwrap_or_default().contains(why.as_str()) {
            problems.push(format!("{label}: why {:?} lacks `{why}`", answer.why));
        }
    }
    problems
}

#[test]
fn every_expressible_policy_corpus_case_runs_through_the_filter() {
    let host = FilterHost::load(&filter_wasm()).unwrap();
    let key = DevKey::generate_rsa("policy-corpus").unwrap();
    let (mut ran, mut not_expressible, mut problems) = (0, Vec::new(), Vec::new());
    for (file, case) in corpus() {
        if let Some(error) = &case.error {
            let label = format!("{file}: {}", case.name);
            let mapped = FilterCase::new(&case.policy, ANY_RESOURCE, INVOKE, &Value::Null, &key).unwrap();
            ran += 1;
            match run(&host, &mapped).0 {
                Ran::Refused(errors) if errors == [error.clone()] => {}
                Ran::Refused(errors) => problems.push(format!("{label}: refused with {errors:?}, expected `{error}`")),
                Ran::Answered(answer) => problems.push(format!("{label}: loaded ({answer:?}), expected `{error}`")),
            }
        }
        for (index, request) in case.requests.iter().enumerate() {
            let label = format!("{file}: {} / request {index}", case.name);
            let action = request.action.as_deref().unwrap_or(INVOKE);
            let mapped = match FilterCase::new(&case.policy, &request.resource, action, &request.context, &key) {
                Ok(mapped) => mapped,
                Err(ViaRequestError::NotExpressible(why)) => {
                    not_expressible.push(format!("{label}: {why}"));
                    continue;
                }
                Err(err) => panic!("{label}: {err}"),
            };
            ran += 1;
            match run(&host, &mapped).0 {
                Ran::Answered(Ok(answer)) => problems.extend(check_answer(&label, &case, request, &answer)),
                Ran::Answered(Err(err)) => problems.push(format!("{label}: {err}")),
                Ran::Refused(errors) => problems.push(format!("{label}: configuration refused: {errors:?}")),
            }
        }
    }
    println!(
        "{ran} policy corpus cases ran through the filter, {} are not expressible as requests",
        not_expressible.len()
    );
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
    assert!(
        ran >= 4 * not_expressible.len() && ran >= 200,
        "{ran} ran, not expressible:\n{}",
        not_expressible.join("\n")
    );
}

/// The filter reads exactly what the mapping set: the clock, the downstream address and the TLS property.
#[test]
fn the_filter_reads_the_mapped_clock_and_properties() {
    let host = FilterHost::load(&filter_wasm()).unwrap();
    let key = DevKey::generate_es256("k1").unwrap();
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Sid": "office", "Effect": "Allow", "Action": "*",
        "Resource": "execute-api:/dev/GET/*", "Condition": {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"},
        "Bool": {"aws:SecureTransport": "true"}, "DateGreaterThan": {"aws:CurrentTime": "2025-01-01T00:00:00Z"}}}]});
    let context =
        json!({"aws:SourceIp": "192.0.2.7", "aws:SecureTransport": "true", "aws:CurrentTime": "2025-11-22T08:26:40Z"});
    let resource = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/dev/GET/pets";
    let case = FilterCase::new(&policy, resource, INVOKE, &context, &key).unwrap();
    let (ran, plugin) = run(&host, &case);
    let Ran::Answered(Ok(answer)) = ran else { panic!("{:?}", messages(&plugin)) };
    assert_eq!(
        answer.statements.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["policy[0].Statement[0] (office)"]
    );
    let reads: Vec<(String, String)> = plugin
        .host_calls()
        .iter()
        .filter(|call| call.direction == Direction::VmToHost)
        .filter(|call| matches!(call.function, "proxy_get_property" | "proxy_get_current_time_nanoseconds"))
        .map(|call| (call.args.clone(), call.result.clone()))
        .collect();
    let shown = |path: &[&str]| format!("{:?}", path.join("\0"));
    let expected = [
        (String::new(), "Ok 1763800000000000000".to_owned()),
        (shown(TLS_VERSION), "Ok \"TLSv1.3\"".to_owned()),
        (shown(SOURCE_ADDRESS), "Ok \"192.0.2.7:53346\"".to_owned()),
    ];
    for read in &expected {
        assert!(reads.contains(read), "{read:?} not in {reads:?}");
    }
}
