//! Randomized differential test against an independent evaluator, the `iam-rs` crate (0.7, MIT), used only as
//! a dev-dependency oracle.
//!
//! Random documents (every operator family, IfExists, set operators, Action/NotAction, Resource/NotResource with
//! wildcards in every field, variables with defaults, both versions) meet random requests and contexts; the two
//! evaluators must reach the same decision, and our compiled and linear evaluators the same evaluation.
//!
//! The generator stays inside the language both implement alike. Where iam-rs departs from AWS, the cases are
//! left out and the rule is covered by `policies/policy-corpus/` instead; its behaviour is not copied:
//!
//! - it substitutes variables whatever the `Version` (AWS: only under 2012-10-17); it does not substitute them in
//!   condition values; it resolves a variable without value or default to the empty string (AWS: a `Resource`
//!   with it matches nothing, a positive operator does not match); it reads `${*}`, `${?}`, `${$}` as variables
//!   (AWS: escapes); substituted values keep their wildcard meaning (here they are literal text);
//! - a plain operator against a multi-valued key matches when any value matches (AWS: false);
//! - `IfExists` on set operators cannot be written; set operators on numeric, date and IP families are false;
//! - condition key names are looked up case-sensitively (AWS: case-insensitive);
//! - `ArnEquals` compares exactly without wildcards, and `ArnLike` matches the whole string, so `*` crosses the
//!   colons between fields (AWS: both segment by segment, with wildcards);
//! - `BinaryEquals` compares base64 text case-insensitively (AWS: the bytes);
//! - numbers are compared as `f64` (exact here), dates only in RFC 3339 or epoch form, `Bool` only against a
//!   context boolean, `StringEqualsIgnoreCase` only in ASCII;
//!
//! Two departures are ours, from AWS as much as from iam-rs, and are checked as "never more permissive" instead
//! of equal: a value that cannot be read for its operator's family (`abc` for `Numeric*`) and a user name holding
//! `/` substituted into a `Resource` are undecided (a Deny applies, an Allow does not) where IAM reads them as
//! matching nothing and as literal text.
//! - no `execute-api:/` shorthand, and a `*` in the service field never matches.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use super::context::MapContext;
use super::standalone::{api_of, StandalonePolicy};
use super::PolicyDecision;
use iam_rs::{Arn, Context, ContextValue, Decision, IAMPolicy, IAMRequest, PolicyEvaluator, Principal, PrincipalId};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};

/// Random documents, and requests per document.
const CASES: usize = 5_000;
const REQUESTS_PER_CASE: usize = 4;

fn pick<'a>(rng: &mut StdRng, items: &[&'a str]) -> &'a str {
    items.choose(rng).copied().unwrap_or_default()
}

fn one_or_many(rng: &mut StdRng, items: Vec<Value>) -> Value {
    if items.len() == 1 && rng.gen_bool(0.5) {
        items.into_iter().next().unwrap()
    } else {
        Value::Array(items)
    }
}

fn resource(rng: &mut StdRng, variables: bool) -> String {
    match rng.gen_range(0..12) {
        0 => return "*".to_owned(),
        1 => return "arn:aws:execute-api:*:*:*".to_owned(),
        2 => return "arn:aws:s3:::bucket/*".to_owned(),
        _ => {}
    }
    let region = pick(rng, &["us-east-1", "*", "us-*", "eu-west-?"]);
    let account = pick(rng, &["123456789012", "*", "12345678901?"]);
    let api = pick(rng, &["api1", "api?", "*", "api2"]);
    let stage = pick(rng, &["dev", "*", "prod"]);
    let method = pick(rng, &["GET", "*", "POST", "DELETE"]);
    let mut paths = vec!["*", "pets", "pets/*", "pets/?", "users/*/x", "", "*/pets", "pets/1*"];
    if variables {
        paths.extend(["users/${aws:username, 'bob'}", "users/${aws:username, 'bob'}/*"]);
    }
    let path = pick(rng, &paths);
    if rng.gen_bool(0.1) {
        return format!("arn:aws:execute-api:{region}:{account}:{api}/*");
    }
    format!("arn:aws:execute-api:{region}:{account}:{api}/{stage}/{method}/{path}")
}

/// `(operator, key, values)` for one condition.
fn condition(rng: &mut StdRng) -> (String, String, Value) {
    let if_exists = if rng.gen_bool(0.25) { "IfExists" } else { "" };
    let strings = |rng: &mut StdRng, pool: &[&str]| {
        let count = rng.gen_range(1..=2);
        let values: Vec<Value> = (0..count).map(|_| json!(pick(rng, pool))).collect();
        one_or_many(rng, values)
    };
    match rng.gen_range(0..9) {
        0 => {
            let op =
                pick(rng, &["StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"]);
            (format!("{op}{if_exists}"), "aws:username".into(), strings(rng, &["alice", "bob", "ALICE", "carol"]))
        }
        1 => {
            let op = pick(rng, &["StringLike", "StringNotLike"]);
            (
                format!("{op}{if_exists}"),
                "aws:UserAgent".into(),
                strings(rng, &["curl/*", "Mozilla/?.0", "*", "curl/7.1", "*/8.?"]),
            )
        }
        2 => {
            let op = pick(
                rng,
                &[
                    "NumericEquals",
                    "NumericNotEquals",
                    "NumericLessThan",
                    "NumericLessThanEquals",
                    "NumericGreaterThan",
                    "NumericGreaterThanEquals",
                ],
            );
            let value = match rng.gen_range(0..3) {
                0 => json!(rng.gen_range(-3..=10)),
                1 => json!(pick(rng, &["1", "5", "10", "2.5", "-3"])),
                _ => json!([pick(rng, &["1", "5"]), pick(rng, &["2.5", "10"])]),
            };
            (format!("{op}{if_exists}"), "claim:custom:level".into(), value)
        }
        3 => {
            let op = pick(
                rng,
                &[
                    "DateEquals",
                    "DateNotEquals",
                    "DateLessThan",
                    "DateLessThanEquals",
                    "DateGreaterThan",
                    "DateGreaterThanEquals",
                ],
            );
            let value = if rng.gen_bool(0.3) {
                json!(pick(rng, &["1735689600", "1767225600"]))
            } else {
                strings(rng, &["2025-01-01T00:00:00Z", "2025-06-01T12:00:00Z", "2026-01-01T00:00:00Z"])
            };
            (format!("{op}{if_exists}"), "aws:CurrentTime".into(), value)
        }
        4 => (format!("Bool{if_exists}"), "aws:SecureTransport".into(), json!(pick(rng, &["true", "false"]))),
        5 => {
            let op = pick(rng, &["IpAddress", "NotIpAddress"]);
            (
                format!("{op}{if_exists}"),
                "aws:SourceIp".into(),
                strings(rng, &["192.0.2.0/24", "198.51.100.7", "2001:db8::/32", "10.0.0.0/8"]),
            )
        }
        6 => {
            let (op, pool): (&str, &[&str]) = if rng.gen_bool(0.5) {
                (
                    pick(rng, &["ArnEquals", "ArnNotEquals"]),
                    &["arn:aws:sns:us-east-1:123456789012:topic", "arn:aws:sqs:us-east-1:123456789012:queue1"],
                )
            } else {
                (
                    pick(rng, &["ArnLike", "ArnNotLike"]),
                    &[
                        "arn:aws:sns:us-east-1:123456789012:*",
                        "arn:aws:sqs:us-east-1:123456789012:queue?",
                        "arn:aws:sns:eu-west-1:123456789012:t*",
                    ],
                )
            };
            (format!("{op}{if_exists}"), "aws:SourceArn".into(), strings(rng, pool))
        }
        7 => ("Null".into(), "claim:custom:tenant".into(), json!(pick(rng, &["true", "false"]))),
        _ => {
            let set = pick(rng, &["ForAnyValue:", "ForAllValues:"]);
            let op = pick(rng, &["StringEquals", "StringNotEquals", "StringLike", "StringNotLike"]);
            (
                format!("{set}{op}"),
                "claim:cognito:groups".into(),
                strings(rng, &["admins", "users", "ops", "adm*", "*s"]),
            )
        }
    }
}

fn policy(rng: &mut StdRng) -> Value {
    let legacy = rng.gen_bool(0.15);
    let count = rng.gen_range(1..=4);
    let mut statements = Vec::new();
    for _ in 0..count {
        let mut statement = Map::new();
        statement.insert("Effect".into(), json!(if rng.gen_bool(0.3) { "Deny" } else { "Allow" }));
        let actions: Vec<Value> = (0..rng.gen_range(1..=2))
            .map(|_| {
                json!(pick(
                    rng,
                    &[
                        "execute-api:Invoke",
                        "execute-api:*",
                        "*",
                        "EXECUTE-API:invoke",
                        "execute-api:Inv*",
                        "s3:GetObject",
                        "execute-api:Manage*"
                    ]
                ))
            })
            .collect();
        let action_key = if rng.gen_bool(0.15) { "NotAction" } else { "Action" };
        statement.insert(action_key.into(), one_or_many(rng, actions));
        let resources: Vec<Value> = (0..rng.gen_range(1..=3)).map(|_| json!(resource(rng, !legacy))).collect();
        let resource_key = if rng.gen_bool(0.15) { "NotResource" } else { "Resource" };
        statement.insert(resource_key.into(), one_or_many(rng, resources));
        if rng.gen_bool(0.6) {
            let mut block: Map<String, Value> = Map::new();
            for _ in 0..rng.gen_range(1..=3) {
                let (operator, key, values) = condition(rng);
                let keys = block.entry(operator).or_insert_with(|| json!({}));
                keys.as_object_mut().unwrap().insert(key, values);
            }
            statement.insert("Condition".into(), Value::Object(block));
        }
        statements.push(Value::Object(statement));
    }
    json!({"Version": if legacy { "2008-10-17" } else { "2012-10-17" }, "Statement": statements})
}

/// A random request: resource, action, our context and the oracle's.
fn request(rng: &mut StdRng) -> (String, String, MapContext, Context) {
    let arn = format!(
        "arn:aws:execute-api:{}:{}:{}/{}/{}/{}",
        pick(rng, &["us-east-1", "eu-west-1"]),
        pick(rng, &["123456789012", "210987654321"]),
        pick(rng, &["api1", "api2"]),
        pick(rng, &["dev", "prod"]),
        pick(rng, &["GET", "POST", "DELETE"]),
        pick(rng, &["pets", "pets/1", "pets/12", "users/alice", "users/bob", "users/bob/x", "", "x/pets"]),
    );
    let action =
        pick(rng, &["execute-api:Invoke", "execute-api:Invoke", "execute-api:ManageConnections", "s3:GetObject"])
            .to_owned();
    let mut ours = MapContext::new();
    let mut oracle = Context::new();
    let singles: [(&str, &[&str]); 7] = [
        ("aws:username", &["alice", "bob", "Alice", "carol", "bob/x"]),
        ("aws:UserAgent", &["Mozilla/5.0", "curl/7.1", "curl/8.0"]),
        ("claim:custom:level", &["1", "5", "10", "2.5", "-3", "abc"]),
        ("aws:CurrentTime", &["2025-01-01T00:00:00Z", "2025-06-01T12:00:00Z", "2026-01-01T00:00:00Z"]),
        ("aws:SourceIp", &["192.0.2.1", "192.0.2.200", "198.51.100.7", "2001:db8::1", "2001:db9::5"]),
        (
            "aws:SourceArn",
            &[
                "arn:aws:sns:us-east-1:123456789012:topic",
                "arn:aws:sqs:us-east-1:123456789012:queue1",
                "arn:aws:sns:eu-west-1:123456789012:t:x",
            ],
        ),
        ("claim:custom:tenant", &["t1", ""]),
    ];
    for (key, values) in singles {
        if rng.gen_bool(0.75) {
            let value = pick(rng, values);
            ours = ours.with(key, value);
            oracle.insert(key.to_owned(), ContextValue::String(value.to_owned()));
        }
    }
    if rng.gen_bool(0.75) {
        let secure = rng.gen_bool(0.5);
        ours = ours.with("aws:SecureTransport", if secure { "true" } else { "false" });
        oracle.insert("aws:SecureTransport".to_owned(), ContextValue::Boolean(secure));
    }
    if rng.gen_bool(0.8) {
        let groups: Vec<&str> = ["admins", "users", "ops"].into_iter().filter(|_| rng.gen_bool(0.5)).collect();
        ours = ours.with_list("claim:cognito:groups", &groups);
        oracle.insert(
            "claim:cognito:groups".to_owned(),
            ContextValue::StringList(groups.iter().map(|g| (*g).to_owned()).collect()),
        );
    }
    (arn, action, ours, oracle)
}

/// Whether `ours` holds a value this authorizer deliberately decides more strictly than IAM: a level that is no
/// number, a user name holding `/` (substituted into a `Resource`).
fn doubtful(ours: &MapContext) -> bool {
    use super::context::{ConditionContext, KeyName, Values};
    let is = |key: &str, value: &str| ours.values(&KeyName::new(key)) == Some(Values::One(value.into()));
    is("claim:custom:level", "abc") || is("aws:username", "bob/x")
}

fn oracle_decision(policy: &Value, arn: &str, action: &str, context: Context) -> PolicyDecision {
    let parsed: IAMPolicy =
        serde_json::from_value(policy.clone()).unwrap_or_else(|err| panic!("iam-rs cannot read {policy}: {err}"));
    let request = IAMRequest::new_with_context(
        Principal::Aws(PrincipalId::String("arn:aws:iam::123456789012:user/alice".into())),
        action,
        Arn::parse(arn).unwrap(),
        context,
    );
    let result = PolicyEvaluator::with_policies(vec![parsed])
        .evaluate(&request)
        .unwrap_or_else(|err| panic!("iam-rs failed on {policy} / {arn}: {err}"));
    match result.decision {
        Decision::Allow => PolicyDecision::Allow,
        Decision::Deny => PolicyDecision::ExplicitDeny,
        Decision::NotApplicable => PolicyDecision::ImplicitDeny,
    }
}

#[test]
fn random_documents_agree_with_iam_rs() {
    let mut rng = StdRng::seed_from_u64(0x1a2b_3c4d);
    let mut decisions = [0usize; 3];
    let mut compared = 0;
    let (mut doubtful_requests, mut stricter) = (0usize, 0usize);
    for case in 0..CASES {
        let document = policy(&mut rng);
        for _ in 0..REQUESTS_PER_CASE {
            let (arn, action, ours, oracle) = request(&mut rng);
            let compiled = StandalonePolicy::compile(&document, &api_of(&arn).unwrap())
                .unwrap_or_else(|err| panic!("{document}: {err}"));
            let evaluation = compiled.evaluate(&arn, &action, &ours);
            assert_eq!(evaluation, compiled.evaluate_linear(&arn, &action, &ours), "compiled and linear differ");
            let expected = oracle_decision(&document, &arn, &action, oracle);
            let context =
                format!("case {case}: {arn} {action}\npolicy: {document}\ncontext: {ours:?}\nours: {evaluation:?}");
            if doubtful(&ours) {
                // Where IAM reads a value as matching nothing (or substitutes it whole) and this authorizer cannot
                // decide, it is never more permissive: an Allow is IAM's Allow, an explicit deny of IAM's stays one.
                match evaluation.decision {
                    PolicyDecision::Allow => assert_eq!(expected, PolicyDecision::Allow, "{context}"),
                    PolicyDecision::ImplicitDeny => assert_ne!(expected, PolicyDecision::ExplicitDeny, "{context}"),
                    PolicyDecision::ExplicitDeny => {}
                }
                doubtful_requests += 1;
                stricter += usize::from(evaluation.decision != expected);
            } else {
                assert_eq!(evaluation.decision, expected, "{context}");
            }
            decisions[match expected {
                PolicyDecision::Allow => 0,
                PolicyDecision::ExplicitDeny => 1,
                PolicyDecision::ImplicitDeny => 2,
            }] += 1;
            compared += 1;
        }
    }
    // The generator must exercise every outcome, or agreement means little.
    assert!(
        decisions.iter().all(|&count| count > compared / 20),
        "decisions (allow, explicit, implicit): {decisions:?}"
    );
    // Requests on which the rule mattered (the seed is fixed: 27 of some 5,000).
    assert!(
        stricter > 20,
        "only {stricter} of {doubtful_requests} doubtful requests were decided more strictly than by iam-rs"
    );
    eprintln!("differential: {compared} requests over {CASES} documents agree with iam-rs; allow/explicit/implicit = {decisions:?}");
}

/// `op` with a set qualifier on every plain condition of `key` in `document`.
fn with_qualifier(document: &Value, key: &str, qualifier: &str) -> Value {
    let mut document = document.clone();
    for statement in document["Statement"].as_array_mut().unwrap() {
        let Some(block) = statement.get_mut("Condition").and_then(Value::as_object_mut) else { continue };
        let mut rewritten = Map::new();
        for (operator, keys) in std::mem::take(block) {
            for (name, values) in keys.as_object().unwrap() {
                let operator = if name == key && !operator.contains(':') && operator != "Null" {
                    format!("{qualifier}{operator}")
                } else {
                    operator.clone()
                };
                let entry = rewritten.entry(operator).or_insert_with(|| json!({}));
                entry.as_object_mut().unwrap().insert(name.clone(), values.clone());
            }
        }
        *block = rewritten;
    }
    document
}

/// A plain operator on a multi-valued key is undecided unless no value meets it. IAM does not say how it reads
/// one, so whichever reading it uses (`ForAnyValue:`, `ForAllValues:`), our decision is never more permissive:
/// an Allow here is an Allow under every reading, and an implicit deny here has no reading that denies
/// explicitly (no Deny was skipped). The compiled and linear evaluators agree throughout.
#[test]
fn plain_operators_on_lists_are_never_more_permissive_than_any_reading() {
    let mut rng = StdRng::seed_from_u64(0x5eed_11575);
    let mut decisions = [0usize; 3];
    let mut stricter = 0;
    for _ in 0..3_000 {
        let statements: Vec<Value> = (0..rng.gen_range(1..=4))
            .map(|_| {
                let mut block = Map::new();
                for _ in 0..rng.gen_range(0..=2) {
                    let operator = format!(
                        "{}{}",
                        pick(&mut rng, &["StringEquals", "StringNotEquals", "StringLike", "StringNotLike"]),
                        if rng.gen_bool(0.2) { "IfExists" } else { "" }
                    );
                    let values: Vec<Value> = (0..rng.gen_range(1..=2))
                        .map(|_| json!(pick(&mut rng, &["admins", "users", "ops", "adm*", "*s"])))
                        .collect();
                    block.insert(operator, json!({"claim:cognito:groups": one_or_many(&mut rng, values)}));
                }
                let (operator, key, values) = condition(&mut rng);
                // Another key, so that the readings' rewritten operators never merge with it.
                if rng.gen_bool(0.4) && key != "claim:cognito:groups" {
                    block.entry(operator).or_insert_with(|| json!({})).as_object_mut().unwrap().insert(key, values);
                }
                json!({"Effect": if rng.gen_bool(0.4) { "Deny" } else { "Allow" }, "Action": "execute-api:Invoke",
                       "Resource": resource(&mut rng, true), "Condition": block})
            })
            .collect();
        let document = json!({"Version": "2012-10-17", "Statement": statements});
        let readings = [
            with_qualifier(&document, "claim:cognito:groups", "ForAnyValue:"),
            with_qualifier(&document, "claim:cognito:groups", "ForAllValues:"),
        ];
        for _ in 0..REQUESTS_PER_CASE {
            let (arn, action, ours, _) = request(&mut rng);
            let count = rng.gen_range(1..=3);
            let groups: Vec<&str> = (0..count).map(|_| pick(&mut rng, &["admins", "users", "ops"])).collect();
            let ours = ours.with_list("claim:cognito:groups", &groups);
            let compiled = StandalonePolicy::compile(&document, &api_of(&arn).unwrap())
                .unwrap_or_else(|err| panic!("{document}: {err}"));
            let evaluation = compiled.evaluate(&arn, &action, &ours);
            assert_eq!(evaluation, compiled.evaluate_linear(&arn, &action, &ours), "compiled and linear differ");
            let mut differs = false;
            for reading in &readings {
                let read = StandalonePolicy::compile(reading, &api_of(&arn).unwrap())
                    .unwrap()
                    .evaluate(&arn, &action, &ours)
                    .decision;
                differs |= read != evaluation.decision;
                let context =
                    format!("{arn} {action} {groups:?}\npolicy: {document}\nreading: {reading}\nours: {evaluation:?}");
                match evaluation.decision {
                    PolicyDecision::Allow => assert_eq!(read, PolicyDecision::Allow, "{context}"),
                    PolicyDecision::ImplicitDeny => assert_ne!(read, PolicyDecision::ExplicitDeny, "{context}"),
                    PolicyDecision::ExplicitDeny => {}
                }
            }
            stricter += usize::from(differs);
            decisions[match evaluation.decision {
                PolicyDecision::Allow => 0,
                PolicyDecision::ExplicitDeny => 1,
                PolicyDecision::ImplicitDeny => 2,
            }] += 1;
        }
    }
    assert!(decisions.iter().all(|&count| count > 300), "decisions (allow, explicit, implicit): {decisions:?}");
    // Requests on which some reading decided otherwise (more permissively): where the rule mattered.
    assert!(stricter > 300, "only {stricter} requests were decided more strictly than some reading");
}
