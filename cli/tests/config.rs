//! `authz config validate`: the filter's own loader, findings as lines, exit statuses.

#![allow(clippy::unwrap_used)]

mod common;

use common::{authz, scratch};
use serde_json::json;

fn config(routes: serde_json::Value) -> serde_json::Value {
    json!({
        "api": {"region": "us-east-1", "account_id": "123456789012", "api_id": "a1b2c3d4e5", "stage": "dev"},
        "issuers": [{"issuer": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_V",
                     "jwks": {"keys": [authz_testkit::mint::DevKey::generate_es256("k1").unwrap().public_jwk()]},
                     "token_use": ["access"], "client_ids": ["app"]}],
        "routes": routes
    })
}

#[test]
fn a_valid_configuration_says_so_and_notes_a_missing_catch_all() {
    let dir = scratch("validate-ok");
    let with_catch_all = dir.join("a.json");
    std::fs::write(&with_catch_all, config(json!([{"method": "ANY", "path": "/{proxy+}"}])).to_string()).unwrap();
    let run = authz(&["config", "validate", with_catch_all.to_str().unwrap()], "").expect_code(0);
    assert_eq!(run.stdout, format!("{}: valid\n", with_catch_all.display()));

    let without = dir.join("b.json");
    std::fs::write(&without, config(json!([{"method": "GET", "path": "/a"}])).to_string()).unwrap();
    let run = authz(&["config", "validate", without.to_str().unwrap()], "").expect_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", run.stdout);
    assert!(lines[0].starts_with("note: routes: no catch-all route"), "{}", run.stdout);
}

#[test]
fn a_refused_configuration_names_the_path_and_exits_1() {
    let dir = scratch("validate-refused");
    let path = dir.join("dup.json");
    // A statement whose second `Effect` would silently win in a lenient reader.
    let text = config(json!([{"method": "ANY", "path": "/{proxy+}"}])).to_string().replacen(
        r#""routes""#,
        r#""policies": {"users": {"u": {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*",
            "Resource": "*", "Effect": "Allow"}]}}}, "routes""#,
        1,
    );
    std::fs::write(&path, text).unwrap();
    let run = authz(&["config", "validate", path.to_str().unwrap()], "").expect_code(1);
    assert_eq!(
        run.stdout,
        format!("error: policies.users.u.Statement[0]: duplicate member name `Effect`\n{}: refused\n", path.display())
    );
    authz(&["config", "validate", dir.join("missing.json").to_str().unwrap()], "").expect_code(2);
}
