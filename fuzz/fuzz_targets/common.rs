//! What the targets share: the fixed development keys, one trusted issuer, and the statuses an answer may have.
// Each target includes this file as its own module and uses part of it.
#![allow(dead_code)]

use authz_testkit::mint::DevKey;
use serde_json::{json, Value};

/// The moment every request is decided at.
pub const NOW: u64 = 1_763_800_000;
pub const ISS: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Fuzz";
pub const CLIENT: &str = "fuzz-client";

/// The development keys in `fixtures/keys.json` (RS256, ES256, EdDSA), in that order.
pub fn keys() -> Vec<DevKey> {
    let text = include_str!("../fixtures/keys.json");
    let doc: Value = serde_json::from_str(text).expect("fixtures/keys.json is JSON");
    doc["keys"]
        .as_array()
        .expect("a `keys` array")
        .iter()
        .map(|jwk| DevKey::from_private_jwk(jwk).expect("a usable private JWK"))
        .collect()
}

/// A configuration trusting [`ISS`] with `keys` and carrying `policies` (raw JSON text, spliced in as is).
pub fn config(keys: &[DevKey], policies: Option<&str>) -> String {
    let jwks: Vec<Value> = keys.iter().map(DevKey::public_jwk).collect();
    let base = json!({
        "api": {"region": "us-east-1", "account_id": "123456789012", "api_id": "a1b2c3d4e5", "stage": "dev"},
        "issuers": [{"issuer": ISS, "jwks": {"keys": jwks}, "token_use": ["access", "id"], "client_ids": [CLIENT]}],
        "routes": [{"method": "GET", "path": "/health", "auth": "none"}, {"method": "GET", "path": "/scoped/{id+}", "scopes": ["s/read"]}]
    })
    .to_string();
    match policies {
        None => base,
        Some(policies) => format!("{},\"policies\":{policies}}}", base.strip_suffix('}').unwrap_or(&base)),
    }
}

/// Every answer the authorizer may give: allow, 400, 401, 403, 414.
pub fn clean_status(status: u16) -> bool {
    matches!(status, 200 | 400 | 401 | 403 | 414)
}
