//! Policy compilation and evaluation through the whole authorizer: the input is a `policies` section, then (after
//! NUL bytes) a method, a path and a group for the caller's validly signed token.
#![no_main]

#[path = "common.rs"]
mod common;

use authz::{Authorizer, HttpRequest};
use authz_testkit::mint::{CognitoClaims, DevKey};
use common::{clean_status, CLIENT, ISS, NOW};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn keys() -> &'static [DevKey] {
    static KEYS: OnceLock<Vec<DevKey>> = OnceLock::new();
    KEYS.get_or_init(common::keys)
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let policies = parts.next().unwrap_or_default();
    let method = parts.next().unwrap_or("GET");
    let path = parts.next().unwrap_or("/");
    let groups: Vec<&str> = parts.next().map(|g| g.split(',').collect()).unwrap_or_default();
    let keys = keys();
    let Ok(authorizer) = Authorizer::from_json(common::config(keys, Some(policies)).as_bytes()) else { return };
    let Some(signer) = keys.last() else { return };
    let claims = CognitoClaims::access(ISS, CLIENT, "fuzzer", NOW).groups(&groups).scopes(&["s/read"]);
    let token = signer.sign(&claims.to_json());
    let request = HttpRequest {
        method: method.to_owned(),
        path: path.to_owned(),
        headers: vec![("authorization".to_owned(), format!("Bearer {token}"))],
        ..HttpRequest::default()
    };
    let first = authorizer.authorize(&request, NOW);
    assert!(clean_status(first.status()), "{first:?}");
    // Decisions are a function of their inputs.
    assert_eq!(authorizer.authorize(&request, NOW).status(), first.status());
});
