//! Every case of policies/policy-corpus through `authz policy`: natively against the corpus's expectations, and
//! with `--wasm` as real requests through the built filter against the native answers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use authz_testkit::corpus::CorpusFile;
use common::{arg, authz, filter_wasm, staleness_hint, workspace};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Error cases have no request; their line needs a resource all the same.
const ANY_RESOURCE: &str = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/dev/GET/";
const NOT_EXPRESSIBLE: &str = "not expressible through a request: ";

/// What the corpus expects of one line.
enum Expect {
    Error(String),
    Decision { decision: String, statements: Option<Vec<String>>, why: Option<String> },
}

/// One input line and what the corpus expects of it.
struct Line {
    label: String,
    input: String,
    expect: Expect,
}

fn corpus_lines() -> Vec<Line> {
    let dir = workspace().join("policies/policy-corpus");
    let files = authz_testkit::scenario::json_files(&dir).unwrap();
    let mut lines = Vec::new();
    for path in files {
        let file: CorpusFile = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        for case in file.cases {
            if let Some(error) = &case.error {
                lines.push(Line {
                    label: format!("{name}: {}", case.name),
                    input: json!({"policy": case.policy, "resource": ANY_RESOURCE}).to_string(),
                    expect: Expect::Error(error.clone()),
                });
            }
            for (index, request) in case.requests.iter().enumerate() {
                let mut input =
                    json!({"policy": case.policy, "resource": request.resource, "context": request.context});
                if let Some(action) = &request.action {
                    input["action"] = json!(action);
                }
                lines.push(Line {
                    label: format!("{name}: {} / request {index}", case.name),
                    input: input.to_string(),
                    expect: Expect::Decision {
                        decision: request.expect.decision.clone(),
                        statements: request.expect.statements.clone(),
                        why: request.expect.why.clone(),
                    },
                });
            }
        }
    }
    assert!(lines.len() >= 200, "only {} corpus lines", lines.len());
    lines
}

/// Every line through `authz policy` with `extra` arguments; some lines have errors, so the exit status is 1.
fn run(lines: &[Line], extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["policy"];
    args.extend_from_slice(extra);
    let input: Vec<&str> = lines.iter().map(|line| line.input.as_str()).collect();
    let run = authz(&args, input.join("\n")).expect_code(1);
    let answers = run.json_lines();
    assert_eq!(answers.len(), lines.len(), "{}", run.stdout);
    answers
}

/// `policy[0].Statement[1]` of `policy[0].Statement[1] (Sid)`.
fn location(statement: &Value) -> String {
    let text = statement.as_str().unwrap();
    text.split_once(" (").map_or(text, |(location, _)| location).to_owned()
}

#[test]
fn native_answers_are_the_corpus_expectations() {
    let lines = corpus_lines();
    let answers = run(&lines, &[]);
    for (line, answer) in lines.iter().zip(&answers) {
        let context = format!("{}: {answer}", line.label);
        match &line.expect {
            Expect::Error(error) => {
                assert_eq!(answer["decision"], Value::Null, "{context}");
                assert_eq!(answer["errors"], json!([error]), "{context}");
            }
            Expect::Decision { decision, statements, why } => {
                assert_eq!(answer["errors"], json!([]), "{context}");
                assert_eq!(answer["decision"].as_str(), Some(decision.as_str()), "{context}");
                if let Some(statements) = statements {
                    let located: Vec<String> = answer["statements"].as_array().unwrap().iter().map(location).collect();
                    assert_eq!(&located, statements, "{context}");
                }
                if let Some(why) = why {
                    assert!(
                        answer["why"].as_str().unwrap_or_default().contains(why.as_str()),
                        "{context}: wanted `{why}`"
                    );
                }
                assert_eq!(answer.get("why").is_some(), decision != "allow", "{context}");
            }
        }
    }
}

/// What kind of case a request cannot express, from the refusal's wording.
fn kind(error: &str) -> &'static str {
    if error.contains("evaluates every request for") {
        "another action"
    } else if error.contains("the policy reads") {
        "a condition key a request carries differently"
    } else {
        "a resource no request has"
    }
}

#[test]
fn the_filter_answers_every_expressible_case_as_the_core_does() {
    let wasm = filter_wasm();
    let lines = corpus_lines();
    let native = run(&lines, &[]);
    let filtered = run(&lines, &["--wasm", arg(&wasm)]);
    let mut not_expressible: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut disagreements = Vec::new();
    for ((line, native), filtered) in lines.iter().zip(&native).zip(&filtered) {
        let refusal = filtered["errors"].as_array().and_then(|errors| errors.first()).and_then(Value::as_str);
        if let Some(why) = refusal.and_then(|error| error.strip_prefix(NOT_EXPRESSIBLE)) {
            assert_eq!(filtered["decision"], Value::Null, "{}: {filtered}", line.label);
            not_expressible.entry(kind(why)).or_default().push(format!("{}: {why}", line.label));
        } else if native != filtered {
            disagreements.push(format!("{}:\n  native {native}\n  filter {filtered}", line.label));
        }
    }
    let refused: usize = not_expressible.values().map(Vec::len).sum();
    let expressed = lines.len() - refused;
    let summary: Vec<String> = not_expressible.iter().map(|(kind, cases)| format!("{} {kind}", cases.len())).collect();
    println!(
        "{expressed} of {} corpus lines ran through the filter; not expressible: {}",
        lines.len(),
        summary.join(", ")
    );
    assert!(
        disagreements.is_empty(),
        "{} disagreements{}:\n{}",
        disagreements.len(),
        staleness_hint(&wasm),
        disagreements.join("\n")
    );
    let listed: Vec<&String> = not_expressible.values().flatten().collect();
    assert!(expressed >= 4 * refused, "{expressed} expressed, {refused} not:\n{listed:#?}");
    // Every kind of line a request can carry does reach the filter: errors, and each decision.
    for wanted in ["allow", "explicit_deny", "implicit_deny"] {
        assert!(filtered.iter().any(|answer| answer["decision"] == wanted), "no {wanted} from the filter");
    }
    assert!(filtered.iter().any(|answer| answer["errors"][0].as_str().is_some_and(|e| e.starts_with("policy"))));
}

#[test]
fn every_line_decided_is_exit_status_0_and_a_missing_module_is_2() {
    let line = json!({"policy": {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}},
                      "resource": ANY_RESOURCE, "context": {"aws:username": "alice"}});
    let run = authz(&["policy"], line.to_string()).expect_code(0);
    assert_eq!(
        run.json_lines(),
        [json!({"decision": "allow", "statements": ["policy[0].Statement[0]"], "errors": []})]
    );
    let missing = workspace().join("dist/no-such.wasm");
    let run = authz(&["policy", "--wasm", arg(&missing)], line.to_string()).expect_code(2);
    assert!(run.stderr.contains("cannot read"), "{}", run.stderr);
}

#[test]
fn a_line_naming_a_member_twice_is_refused_not_read_last_wins() {
    let line = format!(
        r#"{{"policy": {{"Version": "2012-10-17", "Statement": {{"Effect": "Deny", "Action": "*", "Resource": "*", "Effect": "Allow"}}}}, "resource": "{ANY_RESOURCE}", "context": {{"aws:username": "alice"}}}}"#
    );
    let run = authz(&["policy"], &line).expect_code(1);
    let answer = &run.json_lines()[0];
    assert_eq!(answer["decision"], Value::Null, "{answer}");
    assert!(
        answer["errors"][0].as_str().unwrap().contains("policy.Statement: duplicate member name `Effect`"),
        "{answer}"
    );
}
