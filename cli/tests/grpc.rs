//! `authz check --wasm` reports what the filter decided, also where the host answers a gRPC client with HTTP 200.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use common::{arg, authz, filter_wasm, scratch};
use serde_json::json;

/// A configuration file in a scratch directory `name`: one issuer with a fresh ES256 key, and `members` (routes and
/// the like) at the top level.
fn config_file(name: &str, members: serde_json::Value) -> std::path::PathBuf {
    let config = scratch(name).join("config.json");
    let key = authz_testkit::mint::DevKey::generate_es256("k1").unwrap();
    let mut text = json!({
        "api": {"region": "us-east-1", "account_id": "123456789012", "api_id": "a1b2c3d4e5", "stage": "dev"},
        "issuers": [{"issuer": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_G", "jwks": key.jwks(),
                     "token_use": ["access"], "client_ids": ["app"]}]
    });
    for (name, value) in members.as_object().unwrap() {
        text[name] = value.clone();
    }
    std::fs::write(&config, text.to_string()).unwrap();
    config
}

#[test]
fn grpc_refusals_are_refusals_in_both_engines() {
    let config = config_file("grpc", json!({"routes": [{"method": "POST", "path": "/pkg.Service/{method}"}]}));
    let lines = [
        json!({"method": "POST", "path": "/pkg.Service/Get", "headers": {"content-type": "application/grpc"}, "now": 1_763_800_000}),
        json!({"method": "POST", "path": "/other", "headers": {"content-type": "application/grpc+proto"}, "now": 1_763_800_000}),
        json!({"method": "POST", "path": "/a%2Fb", "headers": {"content-type": "application/grpc"}, "now": 1_763_800_000}),
    ]
    .map(|line| line.to_string())
    .join("\n");
    let native = authz(&["check", "--config", arg(&config)], &lines).expect_code(0).json_lines();
    let wasm = filter_wasm();
    let filtered =
        authz(&["check", "--config", arg(&config), "--wasm", arg(&wasm)], &lines).expect_code(0).json_lines();
    let summary =
        |answer: &serde_json::Value| (answer["status"].clone(), answer["decision"].clone(), answer["reason"].clone());
    for (native, filtered) in native.iter().zip(&filtered) {
        assert_eq!(summary(filtered), summary(native), "{filtered}");
    }
    assert_eq!(filtered.iter().map(|answer| answer["status"].as_u64().unwrap()).collect::<Vec<_>>(), [401, 403, 400]);
    // What the gRPC client itself gets, from the host: the filter's chosen code.
    assert_eq!(filtered[0]["headers"]["grpc-status"], "16", "{}", filtered[0]);
    assert_eq!(filtered[1]["headers"]["grpc-status"], "7", "{}", filtered[1]);
    assert_eq!(filtered[2]["headers"]["grpc-status"], "3", "{}", filtered[2]);
}

#[test]
fn the_filter_is_read_whatever_decision_record_says() {
    let config = config_file(
        "record-off",
        json!({
            "routes": [{"method": "GET", "path": "/health", "auth": "none"}, {"method": "GET", "path": "/pets"}],
            "decision_record": "off"
        }),
    );
    let lines = [
        json!({"method": "GET", "path": "/health", "now": 1_763_800_000}),
        json!({"method": "GET", "path": "/pets", "now": 1_763_800_000}),
    ]
    .map(|line| line.to_string())
    .join("\n");
    let wasm = filter_wasm();
    let filtered =
        authz(&["check", "--config", arg(&config), "--wasm", arg(&wasm)], &lines).expect_code(0).json_lines();
    let statuses: Vec<u64> = filtered.iter().map(|answer| answer["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, [200, 401], "{filtered:?}");
}
