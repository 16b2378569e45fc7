//! `authz import apigateway`: API Gateway exports written as AWS documents them (OpenAPI 3.0 and Swagger 2.0, JSON
//! and YAML, in `examples/apigateway/`) become one configuration, and that configuration decides requests as API
//! Gateway's Cognito authorizer would, natively and through the built filter.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use authz_testkit::mint::{CognitoClaims, DevKey};
use common::{arg, authz, filter_wasm, scratch, workspace};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const NOW: u64 = 1_763_800_000;
const POOL: &str = "us-east-1_Example";
const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example";
const EXPORTS: [&str; 4] =
    ["petstore-oas30.yaml", "petstore-oas30.json", "petstore-swagger.json", "petstore-swagger.yaml"];

fn export(name: &str) -> PathBuf {
    workspace().join("examples/apigateway").join(name)
}

/// A fresh key and its JWKS file in `dir`.
fn key_in(dir: &Path) -> (DevKey, PathBuf) {
    let key = DevKey::generate_rsa("k1").unwrap();
    let jwks = dir.join("jwks.json");
    std::fs::write(&jwks, key.jwks().to_string()).unwrap();
    (key, jwks)
}

fn import(export: &Path, extra: &[&str]) -> common::Run {
    let mut args = vec!["import", "apigateway", arg(export), "--account-id", "123456789012"];
    args.extend_from_slice(extra);
    authz(&args, "")
}

#[test]
fn every_export_format_gives_one_configuration_that_decides_like_api_gateway() {
    let dir = scratch("import-apigateway");
    let (key, jwks) = key_in(&dir);
    let jwks_arg = format!("{POOL}={}", jwks.display());
    let mut configs = Vec::new();
    for name in EXPORTS {
        let run = import(&export(name), &["--jwks", &jwks_arg]).expect_code(0);
        for reported in [
            r#"paths["/reports"].get: secured by IAM authorization (SigV4) (`sigv4`)"#,
            r#"paths["/admin/{proxy+}"].x-amazon-apigateway-any-method: secured by a Lambda authorizer (TOKEN type)"#,
            r#"paths["/orders"].post: also requires an API key (`api_key`), which this authorizer does not check"#,
            "tokens of every app client are accepted",
        ] {
            assert!(run.stderr.contains(reported), "{name}: `{reported}` not in\n{}", run.stderr);
        }
        configs.push(serde_json::from_str::<Value>(&run.stdout).unwrap());
    }
    for (name, config) in EXPORTS.iter().zip(&configs) {
        assert_eq!(config, &configs[0], "{name} imports differently from {}", EXPORTS[0]);
    }
    let config = &configs[0];
    assert_eq!(
        config["api"],
        json!({"region": "us-east-1", "account_id": "123456789012", "api_id": "a1b2c3d4e5", "stage": "dev"})
    );
    assert_eq!(config["issuers"][0]["issuer"], ISSUER);
    assert_eq!(config["issuers"][0]["client_ids"], Value::Null);
    assert!(config.get("token_source").is_none(), "Authorization is the default");
    let path = dir.join("config.json");
    std::fs::write(&path, config.to_string()).unwrap();
    authz(&["config", "validate", arg(&path)], "").expect_code(0);

    let access =
        |scopes: &[&str]| key.sign(&CognitoClaims::access(ISSUER, "any-client", "alice", NOW).scopes(scopes).to_json());
    let id = key.sign(&CognitoClaims::id(ISSUER, "any-client", "alice", NOW).to_json());
    let plain = access(&["aws.cognito.signin.user.admin"]);
    // (method, path, token, status): what API Gateway answers with the exported methods and authorizer.
    let cases: Vec<(&str, &str, Option<String>, u16)> = vec![
        ("GET", "/", None, 200),
        ("GET", "/health", None, 200),
        ("POST", "/health", Some(id.clone()), 403),
        ("GET", "/pets", Some(id.clone()), 200),
        ("GET", "/pets", Some(plain.clone()), 401),
        ("GET", "/pets", None, 401),
        ("POST", "/pets", Some(access(&["petstore/write"])), 200),
        ("POST", "/pets", Some(id.clone()), 401),
        ("POST", "/pets", Some(plain.clone()), 401),
        ("GET", "/pets/mine", Some(id.clone()), 200),
        ("GET", "/pets/42", Some(id.clone()), 200),
        ("DELETE", "/pets/42", Some(access(&["petstore/admin"])), 200),
        ("DELETE", "/pets/42", Some(access(&["petstore/write"])), 401),
        // The resource `/pets/{petId}` takes the path and has no PUT: API Gateway does not fall to `/{proxy+}`.
        ("PUT", "/pets/42", Some(id.clone()), 403),
        ("OPTIONS", "/pets/42", None, 200),
        ("GET", "/pets/42/photos", Some(id.clone()), 200),
        ("GET", "/products", Some(access(&["product-api/read_product"])), 200),
        ("GET", "/products", Some(id.clone()), 401),
        ("DELETE", "/products/9", Some(access(&["product-api/delete_product"])), 200),
        ("GET", "/products/9", Some(access(&["product-api/delete_product"])), 403),
        ("POST", "/orders", Some(access(&["orders/write"])), 200),
        // IAM and a Lambda authorizer: a valid token of the pool instead, never open.
        ("GET", "/reports", None, 401),
        ("GET", "/reports", Some(plain.clone()), 200),
        ("DELETE", "/admin/users/7", None, 401),
        ("DELETE", "/admin/users/7", Some(id.clone()), 200),
        ("PATCH", "/anything/else", Some(id.clone()), 200),
        ("PATCH", "/anything/else", Some(plain.clone()), 401),
    ];
    let input: String = cases
        .iter()
        .map(|(method, path, token, _)| {
            let headers = token.as_ref().map_or(json!({}), |token| json!({"authorization": format!("Bearer {token}")}));
            format!("{}\n", json!({"method": method, "path": path, "headers": headers, "now": NOW}))
        })
        .collect();
    let wasm = filter_wasm();
    for engine in [vec![], vec!["--wasm", arg(&wasm)]] {
        let mut args = vec!["check", "--config", arg(&path)];
        args.extend(engine.iter().copied());
        let answers = authz(&args, &input).expect_code(0).json_lines();
        assert_eq!(answers.len(), cases.len());
        for ((method, path, _, status), answer) in cases.iter().zip(&answers) {
            assert_eq!(answer["status"], *status, "{engine:?} {method} {path}: {answer}");
        }
    }
}

/// An export reduced to what a test changes: one Cognito scheme (`scheme`), `/a` GET with `security`.
fn small_export(scheme: Value, security: Value) -> String {
    json!({
        "openapi": "3.0.1",
        "info": {"title": "small", "version": "1"},
        "servers": [{"url": "https://z9y8x7w6v5.execute-api.eu-west-1.amazonaws.com/{basePath}", "variables": {"basePath": {"default": "/prod"}}}],
        "paths": {"/a": {"get": {"security": security, "responses": {"200": {"description": "200 response"}}}}},
        "components": {"securitySchemes": {"Users": scheme}}
    })
    .to_string()
}

fn cognito(extra: Value) -> Value {
    let mut scheme = json!({
        "type": "apiKey", "name": "Authorization", "in": "header",
        "x-amazon-apigateway-authtype": "cognito_user_pools",
        "x-amazon-apigateway-authorizer": {"type": "cognito_user_pools",
            "providerARNs": ["arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_Small"]}
    });
    for (name, value) in extra.as_object().unwrap() {
        if name == "authorizer" {
            scheme["x-amazon-apigateway-authorizer"]
                .as_object_mut()
                .unwrap()
                .extend(value.as_object().unwrap().clone());
        } else {
            scheme[name] = value.clone();
        }
    }
    scheme
}

#[test]
fn the_authorizer_header_becomes_the_token_source_and_a_validation_expression_needs_clients() {
    let dir = scratch("import-small");
    let (key, jwks) = key_in(&dir);
    let jwks_arg = format!("eu-west-1_Small={}", jwks.display());
    let path = dir.join("export.json");

    std::fs::write(&path, small_export(cognito(json!({"name": "X-Id-Token"})), json!([{"Users": []}]))).unwrap();
    let run = import(&path, &["--jwks", &jwks_arg]).expect_code(0);
    let config: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(config["token_source"], json!({"header": "x-id-token"}));
    assert_eq!(config["api"]["stage"], "prod");
    let config_path = dir.join("config.json");
    std::fs::write(&config_path, &run.stdout).unwrap();
    let issuer = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Small";
    let id = key.sign(&CognitoClaims::id(issuer, "web", "alice", NOW).to_json());
    let input = format!(
        "{}\n{}\n",
        json!({"method": "GET", "path": "/a", "headers": {"x-id-token": id}, "now": NOW}),
        json!({"method": "GET", "path": "/a", "headers": {"authorization": format!("Bearer {id}")}, "now": NOW})
    );
    let answers = authz(&["check", "--config", arg(&config_path)], &input).expect_code(0).json_lines();
    assert_eq!((answers[0]["status"].as_u64(), answers[1]["status"].as_u64()), (Some(200), Some(401)), "{answers:?}");

    // identityValidationExpression narrows the clients by a regular expression this authorizer does not run.
    let validated = cognito(json!({"authorizer": {"identityValidationExpression": "^web$"}}));
    std::fs::write(&path, small_export(validated, json!([{"Users": []}]))).unwrap();
    let run = import(&path, &["--jwks", &jwks_arg]).expect_code(2);
    assert!(run.stderr.contains("--client-id eu-west-1_Small=CLIENT"), "{}", run.stderr);
    let run = import(&path, &["--jwks", &jwks_arg, "--client-id", "eu-west-1_Small=web"]).expect_code(0);
    let config: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(config["issuers"][0]["client_ids"], json!(["web"]));

    // --remote-jwks: the filter fetches each pool's keys from its published JWKS through the named cluster; the
    // result loads as the filter loads it.
    std::fs::write(&path, small_export(cognito(json!({})), json!([{"Users": []}]))).unwrap();
    let run = import(&path, &["--remote-jwks", "cognito_jwks"]).expect_code(0);
    let config: Value = serde_json::from_str(&run.stdout).unwrap();
    let uri = format!("{issuer}/.well-known/jwks.json");
    assert_eq!(config["issuers"][0]["remote_jwks"], json!({"cluster": "cognito_jwks", "uri": uri}));
    assert!(config["issuers"][0].get("jwks").is_none(), "{config}");
    std::fs::write(&config_path, &run.stdout).unwrap();
    authz(&["config", "validate", arg(&config_path)], "").expect_code(0);
    import(&path, &["--remote-jwks", "cognito_jwks", "--jwks", &jwks_arg]).expect_code(2);
}

#[test]
fn what_cannot_be_said_as_api_gateway_says_it_stops_the_import() {
    let dir = scratch("import-refused");
    let (_, jwks) = key_in(&dir);
    let jwks_arg = format!("eu-west-1_Small={}", jwks.display());
    let path = dir.join("export.yaml");

    // No keys for a pool: the error names the pool and where its keys are published.
    std::fs::write(&path, small_export(cognito(json!({})), json!([{"Users": []}]))).unwrap();
    let run = import(&path, &[]).expect_code(2);
    assert!(
        run.stderr.contains("no keys for user pool `eu-west-1_Small`: pass --remote-jwks CLUSTER")
            && run
                .stderr
                .contains("save https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Small/.well-known/jwks.json"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
    let run = import(&path, &["--jwks", &format!("eu-west-1_Other={}", jwks.display())]).expect_code(2);
    assert!(run.stderr.contains("trust no user pool `eu-west-1_Other`"), "{}", run.stderr);

    // A key written twice in YAML, as a lenient reader would keep silently.
    std::fs::write(
        &path,
        "openapi: \"3.0.1\"\npaths:\n  /a:\n    get:\n      security:\n      - Users: []\n      security: []\n",
    )
    .unwrap();
    let run = import(&path, &["--jwks", &jwks_arg]).expect_code(2);
    assert!(run.stderr.contains(r#"paths["/a"].get: duplicate member name `security`"#), "{}", run.stderr);

    // Two authorizers trusting different pools: one configuration trusts its issuers on every route.
    let mut doc: Value = serde_json::from_str(&small_export(cognito(json!({})), json!([{"Users": []}]))).unwrap();
    let mut other = cognito(json!({}));
    other["x-amazon-apigateway-authorizer"]["providerARNs"] =
        json!(["arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_Other"]);
    doc["components"]["securitySchemes"]["Partners"] = other;
    doc["paths"]["/b"] = json!({"get": {"security": [{"Partners": []}]}});
    std::fs::write(&path, doc.to_string()).unwrap();
    let run = import(&path, &["--jwks", &jwks_arg]).expect_code(2);
    assert!(run.stderr.contains("trust different user pools"), "{}", run.stderr);

    // A security requirement naming no scheme, and a document that is no export.
    std::fs::write(&path, small_export(cognito(json!({})), json!([{"Nobody": []}]))).unwrap();
    assert!(import(&path, &["--jwks", &jwks_arg])
        .expect_code(2)
        .stderr
        .contains("`Nobody` is not a defined security scheme"));
    std::fs::write(&path, "{\"paths\": {}}").unwrap();
    assert!(import(&path, &["--jwks", &jwks_arg])
        .expect_code(2)
        .stderr
        .contains("not an OpenAPI 3.0 or Swagger 2.0 document"));
}

/// The README's trial under "Coming from API Gateway" runs as shown, in a fresh folder beside `examples/`.
#[test]
fn the_readme_trial_runs_as_shown() {
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let section = readme.split("## Coming from API Gateway").nth(1).expect("the README has the section");
    let trial = section.split("A trial with them").nth(1).unwrap();
    let block = trial.split("```sh\n").nth(1).unwrap().split("```").next().unwrap();
    assert!(block.contains("authz import apigateway") && block.contains("authz import dynamodb"), "{block}");
    let dir = scratch("readme-trial");
    std::os::unix::fs::symlink(workspace().join("examples"), dir.join("examples")).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_authz")).parent().unwrap().to_path_buf();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let output = std::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", block])
        .current_dir(&dir)
        .env("PATH", path)
        .output()
        .unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{block}\n{said}");
    assert!(said.contains("config.json: valid"), "{said}");
    for reported in ["IAM authorization", "a Lambda authorizer", "an API key", "every app client"] {
        assert!(said.contains(reported), "`{reported}` not reported:\n{said}");
    }
}
