//! Every corpus in policies/scenarios through `authz check` and `authz scenario`, with keys minted here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use authz_testkit::scenario::Scenario;
use common::{arg, authz, authz_without_stdout, filter_wasm, scratch, staleness_hint, workspace};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn corpora() -> Vec<PathBuf> {
    let dir = workspace().join("policies/scenarios");
    authz_testkit::scenario::json_files(&dir).unwrap()
}

/// A corpus loaded (keys minted), its configuration written for `--config`, its cases as `check` input lines.
struct Prepared {
    name: String,
    scenario: Scenario,
    config: PathBuf,
    input: String,
}

fn prepare(path: &std::path::Path) -> Prepared {
    let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
    let scenario = Scenario::load(&std::fs::read_to_string(path).unwrap()).unwrap();
    let config = scratch(&format!("corpus-{name}")).join("config.json");
    std::fs::write(&config, scenario.config_bytes()).unwrap();
    let input: Vec<String> = scenario
        .cases
        .iter()
        .map(|case| {
            let request = &case.request;
            let mut line = json!({"method": request.method, "path": request.path, "headers": request.headers,
                                  "now": scenario.now});
            if let Some(ip) = request.source_ip {
                line["source_ip"] = json!(ip.to_string());
            }
            if let Some(secure) = request.secure_transport {
                line["secure_transport"] = json!(secure);
            }
            line.to_string()
        })
        .collect();
    Prepared { name, scenario, config, input: input.join("\n") }
}

/// Every case through `authz check`, one answer each.
fn run_check(prepared: &Prepared, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["check", "--config", arg(&prepared.config)];
    args.extend_from_slice(extra);
    let run = authz(&args, &prepared.input).expect_code(0);
    let answers = run.json_lines();
    assert_eq!(answers.len(), prepared.scenario.cases.len(), "{}", run.stdout);
    answers
}

/// Checks every answer against the corpus's expectations; returns the answers.
fn check_against_expectations(prepared: &Prepared, extra: &[&str]) -> Vec<Value> {
    let answers = run_check(prepared, extra);
    for (case, answer) in prepared.scenario.cases.iter().zip(&answers) {
        let context = format!("{}: {}: {answer}", prepared.name, case.name);
        assert_eq!(answer["status"].as_u64(), Some(u64::from(case.expect.status)), "{context}");
        if let Some(reason) = &case.expect.reason {
            assert!(answer["reason"].as_str().unwrap().contains(reason.as_str()), "{context}: wanted `{reason}`");
        }
        if let Some(upstream) = &case.expect.upstream {
            let sent: BTreeMap<String, String> = serde_json::from_value(answer["headers"].clone()).unwrap();
            assert_eq!(&sent, upstream, "{context}");
        }
    }
    answers
}

#[test]
fn every_corpus_through_check_natively() {
    let mut ran = 0;
    for path in corpora() {
        let prepared = prepare(&path);
        ran += check_against_expectations(&prepared, &[]).len();
    }
    assert!(ran >= 30, "only {ran} cases ran");
}

/// The built filter inside the wasmtime host answers every case exactly as the core does: same status, decision,
/// reason, headers and rewritten path, on the same minted tokens.
#[test]
fn every_corpus_through_check_in_wasm_matches_native() {
    let wasm = filter_wasm();
    let hint = staleness_hint(&wasm);
    for path in corpora() {
        let prepared = prepare(&path);
        let native = check_against_expectations(&prepared, &[]);
        let filter = run_check(&prepared, &["--wasm", arg(&wasm)]);
        assert_eq!(filter.len(), native.len(), "{}{hint}", prepared.name);
        for ((case, native), filter) in prepared.scenario.cases.iter().zip(&native).zip(&filter) {
            assert_eq!(filter, native, "{}: {}: the filter and the core disagree{hint}", prepared.name, case.name);
        }
    }
}

#[test]
fn scenario_command_passes_every_corpus_in_wasm() {
    let wasm = filter_wasm();
    let files = corpora();
    let mut args = vec!["scenario", "--wasm", arg(&wasm)];
    args.extend(files.iter().map(|path| arg(path)));
    let run = authz(&args, "");
    assert_eq!(run.code, Some(0), "{}{}\n{}", run.stdout, staleness_hint(&wasm), run.stderr);
}

#[test]
fn a_module_that_is_not_a_filter_is_refused() {
    let dir = scratch("not-a-filter");
    let not_wasm = dir.join("not.wasm");
    std::fs::write(&not_wasm, "this is not wasm").unwrap();
    let prepared = prepare(&corpora()[0]);
    let run = authz(&["check", "--config", arg(&prepared.config), "--wasm", arg(&not_wasm)], "").expect_code(2);
    assert!(run.stderr.contains("does not load"), "{}", run.stderr);
    let missing = dir.join("missing.wasm");
    let run = authz(&["check", "--config", arg(&prepared.config), "--wasm", arg(&missing)], "").expect_code(2);
    assert!(run.stderr.contains("cannot read"), "{}", run.stderr);
}

#[test]
fn scenario_command_passes_every_corpus_and_reports_a_mismatch() {
    let files = corpora();
    let args: Vec<&str> = std::iter::once("scenario").chain(files.iter().map(|path| arg(path))).collect();
    let run = authz(&args, "").expect_code(0);
    assert!(run.stdout.contains(" 0 failed"), "{}", run.stdout);
    assert!(!run.stdout.contains("FAIL"), "{}", run.stdout);

    // The same corpus with one expectation turned wrong.
    let mut corpus: Value = serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
    let case = &mut corpus["cases"][0];
    let wrong = if case["expect"]["status"] == 200 { 403 } else { 200 };
    case["expect"]["status"] = json!(wrong);
    let name = case["name"].as_str().unwrap().to_owned();
    let altered = scratch("altered-corpus").join("altered.json");
    std::fs::write(&altered, corpus.to_string()).unwrap();
    let run = authz(&["scenario", arg(&altered)], "").expect_code(1);
    let failing: Vec<&str> = run.stdout.lines().filter(|line| line.contains("FAIL")).collect();
    assert_eq!(failing.len(), 1, "{}", run.stdout);
    assert!(failing[0].contains(&name), "{}", run.stdout);
    assert!(run.stdout.contains(" 1 failed"), "{}", run.stdout);

    std::fs::write(&altered, "{\"description\": 1}").unwrap();
    let run = authz(&["scenario", arg(&altered)], "").expect_code(2);
    assert!(run.stderr.contains("altered.json"), "{}", run.stderr);
}

#[test]
fn a_closed_stdout_ends_the_run_without_a_panic() {
    let files = corpora();
    let run = authz_without_stdout(&["scenario", arg(&files[0])]).expect_code(2);
    assert!(run.stderr.contains("authz: error"), "{}", run.stderr);
}

/// `scenario --export` turns each corpus into concrete requests for other hosts (the edge tests run them through
/// the Node package, Lambda@Edge and workerd): tokens minted for `--now`, a host on every request, and the native
/// core's and the filter's answers, which agree with each other and with the corpus.
#[test]
fn export_gives_every_case_as_a_request_with_the_answers_of_each_engine() {
    let wasm = filter_wasm();
    let files = corpora();
    let now = 1_900_000_000_u64;
    let mut args = vec!["scenario", "--export", "--now", "1900000000", "--wasm", arg(&wasm)];
    args.extend(files.iter().map(|path| arg(path)));
    let run = authz(&args, "").expect_code(0);
    let corpora = run.json_lines();
    assert_eq!(corpora.len(), files.len(), "{}", run.stdout);
    for (path, corpus) in files.iter().zip(&corpora) {
        let scenario = Scenario::load_at(&std::fs::read_to_string(path).unwrap(), Some(now)).unwrap();
        assert_eq!(corpus["now"], json!(now));
        let config = corpus["config"].as_str().unwrap();
        assert!(authz::Authorizer::from_json(config.as_bytes()).is_ok());
        let cases = corpus["cases"].as_array().unwrap();
        assert_eq!(cases.len(), scenario.cases.len());
        for (case, exported) in scenario.cases.iter().zip(cases) {
            let context = format!("{}: {}", path.display(), case.name);
            assert_eq!(exported["name"], json!(case.name), "{context}");
            let request = &exported["request"];
            assert_eq!(
                (&request["method"], &request["path"], &request["now"]),
                (&json!(case.request.method), &json!(case.request.path), &json!(now))
            );
            let headers: Vec<(String, String)> = serde_json::from_value(request["headers"].clone()).unwrap();
            assert_eq!(headers.iter().filter(|(name, _)| name == "host").count(), 1, "{context}");
            assert_eq!(headers.len(), case.request.headers.len() + 1, "{context}");
            assert_eq!(
                request.get("sourceIp").and_then(Value::as_str),
                case.request.source_ip.map(|ip| ip.to_string()).as_deref()
            );
            assert_eq!(exported["expect"]["status"], json!(case.expect.status), "{context}");
            let (native, filter) = (&exported["answers"]["native"], &exported["answers"]["filter"]);
            assert_eq!(native, filter, "{context}{}", staleness_hint(&wasm));
            assert_eq!(native["status"], json!(case.expect.status), "{context}");
        }
    }
    // Both engine options at once are for --export only; a table has one engine.
    let run =
        authz(&["scenario", "--wasm", arg(&wasm), "--node", "dist/edge/nodejs", arg(&files[0])], "").expect_code(2);
    assert!(run.stderr.contains("give one"), "{}", run.stderr);
}
