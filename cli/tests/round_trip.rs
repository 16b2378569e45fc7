//! keygen → token → check, through the built binary, with keys minted here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::{arg, authz, scratch};
use serde_json::{json, Value};
use std::path::Path;

const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_CliTest";
const NOW: u64 = 1_763_800_000;

/// A configuration trusting `jwks` for clients `c1` and `c2`; group `vets` may GET under /pets.
fn write_config(dir: &Path, jwks: &Value) -> std::path::PathBuf {
    let config = json!({
        "api": {"region": "us-east-1", "account_id": "123456789012", "api_id": "a1b2c3d4e5", "stage": "dev"},
        "issuers": [{"issuer": ISSUER, "jwks": jwks, "token_use": ["access", "id"], "client_ids": ["c1", "c2"]}],
        "routes": [
            {"method": "GET", "path": "/health", "auth": "none"},
            {"method": "GET", "path": "/orders", "scopes": ["orders/read"]},
            {"method": "ANY", "path": "/pets/{proxy+}"}
        ],
        "policies": {
            "groups": {
                "vets": {"Version": "2012-10-17", "Statement": [{"Sid": "Vets", "Effect": "Allow",
                    "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:*:*:*/*/GET/*"}]},
                "suspended": {"Version": "2012-10-17", "Statement": [{"Sid": "Suspended", "Effect": "Deny",
                    "Action": "execute-api:Invoke", "Resource": "*"}]}
            }
        }
    });
    let path = dir.join("config.json");
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

fn keygen(dir: &Path, kid: &str, alg: &str) -> (std::path::PathBuf, Value) {
    let run = authz(&["keygen", "--kid", kid, "--alg", alg, "--out", arg(dir)], "").expect_code(0);
    let key = dir.join(format!("{kid}.key.json"));
    let jwks_path = dir.join("jwks.json");
    assert_eq!(run.stdout.lines().collect::<Vec<_>>(), [arg(&key), arg(&jwks_path)]);
    let jwks: Value = serde_json::from_str(&std::fs::read_to_string(&jwks_path).unwrap()).unwrap();
    (key, jwks)
}

fn token(key: &Path, extra: &[&str]) -> String {
    token_at(key, NOW, extra)
}

fn token_at(key: &Path, now: u64, extra: &[&str]) -> String {
    let now = now.to_string();
    let mut args = vec!["token", "--key", arg(key), "--issuer", ISSUER, "--client-id", "c1", "--now", &now];
    args.extend_from_slice(extra);
    let run = authz(&args, "").expect_code(0);
    let token = run.stdout.trim_end().to_owned();
    assert_eq!(token.split('.').count(), 3, "{token}");
    token
}

fn line(method: &str, path: &str, token: Option<&str>) -> String {
    let headers = match token {
        Some(token) => json!({"authorization": format!("Bearer {token}")}),
        None => json!({}),
    };
    json!({"method": method, "path": path, "headers": headers, "source_ip": "192.0.2.10", "now": NOW}).to_string()
}

#[test]
fn keygen_token_check_round_trip() {
    let dir = scratch("round-trip");
    let (key, jwks) = keygen(&dir, "k1", "RS256");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert_eq!(jwks["keys"][0]["kid"], "k1");
    assert!(jwks["keys"][0].get("d").is_none(), "the JWKS must hold the public key only");
    let config = write_config(&dir, &jwks);

    let vet = token(&key, &["--username", "alice", "--groups", "vets"]);
    let stranger = token(&key, &["--username", "bob"]);
    let suspended = token(&key, &["--username", "eve", "--groups", "vets,suspended"]);
    let reader = token(&key, &["--username", "carol", "--groups", "vets", "--scopes", "orders/read openid"]);
    let id = token(&key, &["--use", "id", "--username", "dave", "--groups", "vets"]);
    let expired = token_at(&key, NOW - 7200, &["--username", "alice", "--groups", "vets", "--lifetime", "600"]);
    let input = [
        line("GET", "/pets/1?x=1", Some(&vet)),
        line("GET", "/pets/1", Some(&stranger)),
        line("GET", "/pets/1", Some(&suspended)),
        line("GET", "/pets/1", None),
        line("GET", "/pets/1", Some(&expired)),
        line("GET", "/orders", Some(&reader)),
        line("GET", "/orders", Some(&vet)),
        line("GET", "/pets/1", Some(&id)),
        line("GET", "/health", None),
        line("GET", "/a%2Fb", Some(&vet)),
        line("GET", "//pets/./1", Some(&vet)),
    ]
    .join("\n");
    let run = authz(&["check", "--config", arg(&config)], &input).expect_code(0);
    let out = run.json_lines();
    assert_eq!(out.len(), 11, "{}", run.stdout);

    assert_eq!(out[0]["status"], 200);
    assert_eq!(out[0]["decision"], "allow");
    let reason = out[0]["reason"].as_str().unwrap();
    assert!(reason.starts_with("`sub-alice` allowed by groups.vets"), "{reason}");
    assert_eq!(
        out[0]["headers"],
        json!({"x-authz-sub": "sub-alice", "x-authz-username": "alice", "x-authz-client-id": "c1",
               "x-authz-groups": "vets", "x-authz-scopes": "aws.cognito.signin.user.admin", "x-authz-issuer": ISSUER})
    );
    assert!(out[0].get("rewrite_path").is_none());

    assert_eq!((out[1]["status"].as_u64(), out[1]["decision"].as_str()), (Some(403), Some("deny")));
    assert!(out[1]["reason"].as_str().unwrap().contains("no statement allows `sub-bob`"), "{}", out[1]);
    assert_eq!(out[1]["headers"], json!({"content-type": "application/json"}));

    assert_eq!((out[2]["status"].as_u64(), out[2]["decision"].as_str()), (Some(403), Some("deny")));
    assert!(out[2]["reason"].as_str().unwrap().contains("Suspended"), "{}", out[2]);

    assert_eq!((out[3]["status"].as_u64(), out[3]["decision"].as_str()), (Some(401), Some("unauthorized")));
    assert_eq!(out[3]["headers"]["www-authenticate"], "Bearer realm=\"a1b2c3d4e5/dev\"");

    assert_eq!(out[4]["status"], 401);
    assert!(out[4]["reason"].as_str().unwrap().contains("expired"), "{}", out[4]);
    assert_eq!(out[4]["headers"]["www-authenticate"], "Bearer realm=\"a1b2c3d4e5/dev\", error=\"invalid_token\"");

    assert_eq!(out[5]["status"], 200);
    assert_eq!(out[5]["headers"]["x-authz-scopes"], "orders/read openid");
    assert_eq!(out[6]["status"], 401, "a token without the route's scope");
    assert!(out[6]["reason"].as_str().unwrap().contains("requires one of scopes"), "{}", out[6]);
    assert_eq!(out[7]["status"], 200, "ID tokens are accepted where no scope is required");
    assert!(out[7]["headers"].get("x-authz-scopes").is_none(), "{}", out[7]);
    assert_eq!((out[8]["status"].as_u64(), out[8]["headers"].clone()), (Some(200), json!({})));
    assert_eq!((out[9]["status"].as_u64(), out[9]["decision"].as_str()), (Some(400), Some("bad_request")));
    assert_eq!((out[10]["status"].as_u64(), out[10]["rewrite_path"].as_str()), (Some(200), Some("/pets/1")));
}

#[test]
fn every_algorithm_signs_tokens_the_authorizer_accepts() {
    let dir = scratch("algorithms");
    let mut keys = Vec::new();
    for (kid, alg) in [("ps", "PS256"), ("es", "ES256"), ("ed", "EdDSA")] {
        keys.push(keygen(&dir, kid, alg).0);
    }
    // keygen adds to an existing jwks.json, so the last one written holds all three.
    let jwks: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("jwks.json")).unwrap()).unwrap();
    let kids: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids, ["ps", "es", "ed"]);
    let config = write_config(&dir, &jwks);
    let input: Vec<String> = keys
        .iter()
        .map(|key| line("GET", "/pets/1", Some(&token(key, &["--username", "alice", "--groups", "vets"]))))
        .collect();
    let run = authz(&["check", "--config", arg(&config)], input.join("\n")).expect_code(0);
    for answer in run.json_lines() {
        assert_eq!(answer["status"], 200, "{answer}");
    }
}

#[test]
fn malformed_lines_are_reported_and_the_rest_decided() {
    let dir = scratch("malformed");
    let (key, jwks) = keygen(&dir, "k1", "ES256");
    let config = write_config(&dir, &jwks);
    let vet = token(&key, &["--username", "alice", "--groups", "vets"]);
    let input = [
        line("GET", "/pets/1", Some(&vet)),
        "{\"method\": \"GET\"}".to_owned(),
        String::new(),
        "not json".to_owned(),
        json!({"method": "GET", "path": "/pets/1", "now": NOW,
               "headers": [["authorization", format!("Bearer {vet}")], ["authorization", "Bearer x.y.z"]]})
        .to_string(),
        json!({"method": "GET", "path": "/pets/1", "source_ip": "not an address"}).to_string(),
    ]
    .join("\n");
    let mut input = input.into_bytes();
    input.extend_from_slice(b"\n{\"method\": \"GET\", \"path\": \"/\xff\"}\n");
    input.extend_from_slice(line("GET", "/pets/1", Some(&vet)).as_bytes());
    let run = authz(&["check", "--config", arg(&config)], &input).expect_code(1);
    let out = run.json_lines();
    assert_eq!(out.len(), 7, "blank lines are skipped: {}", run.stdout);
    assert_eq!(out[0]["status"], 200);
    assert!(out[1]["error"].as_str().unwrap().starts_with("line 2: "), "{}", out[1]);
    assert!(out[1]["error"].as_str().unwrap().contains("missing field `path`"), "{}", out[1]);
    assert!(out[2]["error"].as_str().unwrap().starts_with("line 4: "), "{}", out[2]);
    assert_eq!(out[3]["status"], 401, "repeated headers reach the authorizer: {}", out[3]);
    assert!(out[3]["reason"].as_str().unwrap().contains("more than one"), "{}", out[3]);
    assert!(out[4]["error"].as_str().unwrap().starts_with("line 6: source_ip"), "{}", out[4]);
    assert_eq!(out[5]["error"], "line 7: not UTF-8");
    assert_eq!(out[6]["status"], 200);
}

#[test]
fn a_bad_config_is_refused_with_its_path() {
    let dir = scratch("bad-config");
    let (_, mut jwks) = keygen(&dir, "k1", "EdDSA");
    jwks["keys"][0]["x"] = json!("not base64!");
    let config = write_config(&dir, &jwks);
    let input = line("GET", "/pets/1", None);
    let run = authz(&["check", "--config", arg(&config)], &input).expect_code(2);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(run.stderr.contains("issuers[0].jwks.keys[0]"), "{}", run.stderr);

    std::fs::write(&config, r#"{"api": {"region": "us-east-1"}, "issuers": []}"#).unwrap();
    let run = authz(&["check", "--config", arg(&config)], &input).expect_code(2);
    assert!(run.stderr.contains("api"), "{}", run.stderr);

    let missing = dir.join("missing.json");
    let run = authz(&["check", "--config", arg(&missing)], &input).expect_code(2);
    assert!(run.stderr.starts_with("authz: error: cannot read"), "{}", run.stderr);
}

#[test]
fn keygen_and_token_refuse_what_would_go_wrong() {
    let dir = scratch("refusals");
    let (key, _) = keygen(&dir, "k1", "RS256");
    let run = authz(&["keygen", "--kid", "k1", "--out", arg(&dir)], "").expect_code(2);
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);
    let before = std::fs::read_to_string(&key).unwrap();
    authz(&["keygen", "--kid", "k1", "--alg", "ES256", "--out", arg(&dir), "--force"], "").expect_code(0);
    assert_ne!(std::fs::read_to_string(&key).unwrap(), before);
    let jwks: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("jwks.json")).unwrap()).unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1, "a replaced kid is not listed twice");
    assert_eq!(jwks["keys"][0]["alg"], "ES256");

    authz(&["keygen", "--kid", "../escape", "--out", arg(&dir)], "").expect_code(2);
    authz(&["keygen", "--alg", "HS256", "--out", arg(&dir)], "").expect_code(2);

    let base = ["token", "--issuer", ISSUER, "--client-id", "c1"];
    let with = |extra: &[&str]| -> Vec<String> { base.iter().chain(extra).map(|s| (*s).to_owned()).collect() };
    for args in [
        with(&["--key", arg(&dir.join("jwks.json")), "--username", "a"]),
        with(&["--key", arg(&dir.join("nope.json")), "--username", "a"]),
        with(&["--key", arg(&key)]),
        with(&["--key", arg(&key), "--use", "client_credentials", "--username", "a"]),
        with(&["--key", arg(&key), "--use", "refresh", "--username", "a"]),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = authz(&args, "").expect_code(2);
        assert!(run.stderr.starts_with("authz: error: ") || run.stderr.starts_with("error: "), "{}", run.stderr);
    }
}
