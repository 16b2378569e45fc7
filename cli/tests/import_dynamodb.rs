//! `authz import dynamodb` against a real emulator: seed 004's policy table (one item per Cognito group, partition
//! key `group`, the policy in `policy`) is created in moto's DynamoDB, written with boto3 and scanned as the AWS CLI
//! prints a scan; the import becomes the `policies` of the imported API Gateway export, which then decides requests
//! as the Lambda authorizer that read the table would, natively and through the built filter.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use authz_testkit::mint::{CognitoClaims, DevKey};
use common::{arg, authz, filter_wasm, scratch, workspace};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

const NOW: u64 = 1_763_800_000;
const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example";

/// A virtual environment with the pinned moto and boto3 (`cli/tests/dynamodb/requirements.txt`).
fn python_env() -> PathBuf {
    common::python_env(&workspace().join("cli/tests/dynamodb/requirements.txt"))
}

fn decide(config: &Path, cases: &[(&str, &str, Option<String>, u16)]) {
    let input: String = cases
        .iter()
        .map(|(method, path, token, _)| {
            let headers = token.as_ref().map_or(json!({}), |token| json!({"authorization": format!("Bearer {token}")}));
            format!("{}\n", json!({"method": method, "path": path, "headers": headers, "now": NOW}))
        })
        .collect();
    let wasm = filter_wasm();
    for engine in [vec![], vec!["--wasm", arg(&wasm)]] {
        let mut args = vec!["check", "--config", arg(config)];
        args.extend(engine.iter().copied());
        let answers = authz(&args, &input).expect_code(0).json_lines();
        for ((method, path, _, status), answer) in cases.iter().zip(&answers) {
            assert_eq!(answer["status"], *status, "{engine:?} {method} {path}: {answer}");
        }
    }
}

#[test]
fn seed_004s_table_scanned_from_moto_decides_like_its_lambda_authorizer() {
    let dir = scratch("import-dynamodb");
    let python = python_env();
    let scan = dir.join("scan.json");
    let output =
        Command::new(&python).arg(workspace().join("cli/tests/dynamodb/seed004.py")).arg(&scan).output().unwrap();
    assert!(output.status.success(), "seed004.py failed:\n{}", String::from_utf8_lossy(&output.stderr));
    let scanned: Value = serde_json::from_str(&std::fs::read_to_string(&scan).unwrap()).unwrap();
    assert_eq!(scanned["Count"], 4, "{scanned}");
    // What moto wrote: a map (`M`) for most groups, a JSON string (`S`) for one, lists as `L`.
    assert!(scanned["Items"].as_array().unwrap().iter().any(|item| item["policy"].get("S").is_some()), "{scanned}");
    assert!(
        scanned["Items"].as_array().unwrap().iter().any(|item| item["policy"]["M"]["Statement"].get("L").is_some()),
        "{scanned}"
    );

    let run = authz(&["import", "dynamodb", arg(&scan), "--as", "groups", "--key", "group", "--policy", "policy"], "")
        .expect_code(0);
    let section: Value = serde_json::from_str(&run.stdout).unwrap();
    let groups = section["groups"].as_object().unwrap();
    assert_eq!(
        groups.keys().map(String::as_str).collect::<Vec<_>>(),
        vec!["auditors", "pet-owner", "pet-veterinarian", "suspended"]
    );
    assert_eq!(
        section["groups"]["pet-veterinarian"]["Statement"][0]["Resource"][1],
        "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/dev/*/pets/*"
    );
    let policies = dir.join("policies.json");
    std::fs::write(&policies, &run.stdout).unwrap();

    let key = DevKey::generate_rsa("k1").unwrap();
    let jwks = dir.join("jwks.json");
    std::fs::write(&jwks, key.jwks().to_string()).unwrap();
    let export = workspace().join("examples/apigateway/petstore-oas30.yaml");
    let jwks_arg = format!("us-east-1_Example={}", jwks.display());
    let run = authz(
        &[
            "import",
            "apigateway",
            arg(&export),
            "--account-id",
            "123456789012",
            "--jwks",
            &jwks_arg,
            "--policies",
            arg(&policies),
        ],
        "",
    )
    .expect_code(0);
    let config = dir.join("config.json");
    std::fs::write(&config, &run.stdout).unwrap();

    let id = |groups: &[&str]| Some(key.sign(&CognitoClaims::id(ISSUER, "web", "alice", NOW).groups(groups).to_json()));
    let access =
        |groups: &[&str]| Some(key.sign(&CognitoClaims::access(ISSUER, "web", "alice", NOW).groups(groups).to_json()));
    decide(
        &config,
        &[
            ("GET", "/pets", id(&["pet-veterinarian"]), 200),
            ("GET", "/pets/42", id(&["pet-veterinarian"]), 200),
            ("GET", "/pets/mine", id(&["pet-owner"]), 200),
            ("GET", "/pets", id(&["pet-owner"]), 403),
            // The Statement lists of the caller's groups are merged; a Deny in any of them wins.
            ("GET", "/pets/mine", id(&["pet-owner", "pet-veterinarian"]), 200),
            ("GET", "/pets", id(&["pet-veterinarian", "suspended"]), 403),
            ("GET", "/reports", access(&["auditors"]), 200),
            ("GET", "/reports", access(&["pet-veterinarian"]), 403),
            ("GET", "/pets", id(&[]), 403),
            ("GET", "/health", None, 200),
        ],
    );
}

#[test]
fn a_scan_with_bad_items_prints_nothing_and_names_them() {
    let dir = scratch("import-dynamodb-bad");
    let scan = dir.join("scan.json");
    std::fs::write(
        &scan,
        json!({"Items": [
            {"group": {"S": "ok"}, "policy": {"M": {"Version": {"S": "2012-10-17"}, "Statement": {"L": [
                {"M": {"Effect": {"S": "Allow"}, "Action": {"S": "execute-api:Invoke"}, "Resource": {"S": "*"}}}]}}}},
            {"group": {"S": "broken"}, "policy": {"S": "{not json"}}
        ], "Count": 2, "ScannedCount": 2})
        .to_string(),
    )
    .unwrap();
    let run = authz(&["import", "dynamodb", arg(&scan), "--as", "groups", "--key", "group", "--policy", "policy"], "")
        .expect_code(2);
    assert!(run.stdout.is_empty());
    assert!(run.stderr.contains("item `broken` (Items[1])"), "{}", run.stderr);
}
