//! Per-decision time of the compiled and the linear policy evaluator at 10, 100, 1,000 and 10,000 statements,
//! with ratios against the 10-statement baseline measured in the same run (`make bench`).

use authz::policy::{ConditionContext, Evaluation, MapContext, PolicyStore, Principal, RawPolicies, INVOKE};
use authz::request::{ApiTarget, Partition};
use serde_json::{json, Value};
use std::hint::black_box;
use std::time::{Duration, Instant};

const SIZES: [usize; 4] = [10, 100, 1_000, 10_000];
/// How long each evaluator is timed at each size.
const BUDGET: Duration = Duration::from_millis(400);
const API: &str = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5";

/// A realistic mix: per-resource allows in both ARN spellings, some with conditions, per-resource denies, and
/// two broad statements every request must check.
fn statements(count: usize) -> Vec<Value> {
    let mut statements = vec![
        json!({"Sid": "OfficeOnlyWrites", "Effect": "Deny", "Action": "execute-api:Invoke", "Resource": "execute-api:/*/POST/*",
               "Condition": {"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "2001:db8::/32"]}}}),
        json!({"Sid": "TlsOnly", "Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}),
    ];
    for i in statements.len()..count {
        let statement = match i % 5 {
            0 => {
                json!({"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": format!("{API}/dev/GET/items/{i}")})
            }
            1 => {
                json!({"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": format!("arn:aws:execute-api:*:*:*/*/*/items/{i}/*")})
            }
            2 => {
                json!({"Effect": "Allow", "Action": "execute-api:*", "Resource": [format!("execute-api:/dev/PUT/items/{i}"), format!("execute-api:/dev/PATCH/items/{i}")],
                        "Condition": {"ForAnyValue:StringEquals": {"claim:cognito:groups": ["editors", "admins"]}}})
            }
            3 => {
                json!({"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": format!("execute-api:/*/DELETE/items/{i}/*")})
            }
            _ => {
                json!({"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": format!("execute-api:/dev/GET/users/${{aws:username}}/items/{i}"),
                        "Condition": {"StringLike": {"aws:UserAgent": "Mozilla/*"}}})
            }
        };
        statements.push(statement);
    }
    statements
}

fn store(count: usize) -> Result<PolicyStore, String> {
    let policies = json!({"groups": {"bench": {"Version": "2012-10-17", "Statement": statements(count)}}});
    let raw: RawPolicies = serde_json::from_value(policies).map_err(|err| err.to_string())?;
    let api = ApiTarget {
        partition: Partition::Aws,
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
        api_id: "a1b2c3d4e5".into(),
        stage: "dev".into(),
    };
    PolicyStore::compile(&raw, &api, "policies").map_err(|err| err.to_string())
}

/// Requests spread over the statements (hits of every kind and misses), the same list at every size.
fn requests(count: usize) -> Vec<String> {
    let mut arns = Vec::new();
    for step in 0..16 {
        let i = (step * 7919) % count;
        arns.push(format!("{API}/dev/GET/items/{i}"));
        arns.push(format!("{API}/dev/GET/items/{i}/photos/3"));
        arns.push(format!("{API}/dev/PUT/items/{i}"));
        arns.push(format!("{API}/dev/DELETE/items/{i}/x"));
        arns.push(format!("{API}/dev/GET/users/alice/items/{i}"));
        arns.push(format!("{API}/dev/POST/items/{i}"));
        arns.push(format!("{API}/dev/GET/nothing/here/{i}"));
    }
    arns
}

type Evaluate = fn(&PolicyStore, &Principal<'_>, &str, &str, &dyn ConditionContext) -> Evaluation;

/// Nanoseconds per decision, timed over [`BUDGET`].
fn time(store: &PolicyStore, evaluate: Evaluate, arns: &[String], principal: &Principal<'_>, ctx: &MapContext) -> f64 {
    let mut decisions = 0u64;
    let start = Instant::now();
    while start.elapsed() < BUDGET {
        for arn in arns {
            black_box(evaluate(store, principal, INVOKE, black_box(arn), ctx));
        }
        decisions += arns.len() as u64;
    }
    start.elapsed().as_nanos() as f64 / decisions as f64
}

fn main() {
    let groups = vec!["bench".to_owned(), "editors".to_owned()];
    let principal = Principal { groups: &groups, client_id: Some("app"), username: Some("alice") };
    let ctx = MapContext::new()
        .with("aws:SourceIp", "192.0.2.10")
        .with("aws:SecureTransport", "true")
        .with("aws:UserAgent", "Mozilla/5.0")
        .with("aws:username", "alice")
        .with_list("claim:cognito:groups", &["bench", "editors"]);
    println!("policy evaluation: ns per decision (ratio to 10 statements, same run)");
    println!("{:>10}  {:>14} {:>8}  {:>14} {:>8}", "statements", "compiled", "ratio", "linear", "ratio");
    let mut baseline: Option<(f64, f64)> = None;
    for count in SIZES {
        let store = match store(count) {
            Ok(store) => store,
            Err(err) => {
                eprintln!("cannot compile {count} statements: {err}");
                std::process::exit(1);
            }
        };
        let arns = requests(count);
        for arn in &arns {
            let compiled = store.evaluate(&principal, INVOKE, arn, &ctx);
            if compiled != store.evaluate_linear(&principal, INVOKE, arn, &ctx) {
                eprintln!("evaluators disagree on {arn}");
                std::process::exit(1);
            }
        }
        let compiled = time(&store, PolicyStore::evaluate, &arns, &principal, &ctx);
        let linear = time(&store, PolicyStore::evaluate_linear, &arns, &principal, &ctx);
        let (base_compiled, base_linear) = *baseline.get_or_insert((compiled, linear));
        println!(
            "{count:>10}  {compiled:>14.0} {:>7.2}x  {linear:>14.0} {:>7.2}x",
            compiled / base_compiled,
            linear / base_linear
        );
    }
}
