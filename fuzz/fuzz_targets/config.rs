//! Configuration loading: any bytes either load or fail with an error; what loads answers a few requests with a
//! clean status.
#![no_main]

#[path = "common.rs"]
mod common;

use authz::{Authorizer, HttpRequest};
use common::{clean_status, NOW};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match Authorizer::from_json(data) {
        Ok(authorizer) => {
            for (method, path, authorization) in [
                ("GET", "/", None),
                ("POST", "/pets/1?x=y", Some("Bearer a.b.c")),
                ("DELETE", "/a/../b//c/", Some("x")),
                ("GET", "/health", None),
            ] {
                let request = HttpRequest {
                    method: method.into(),
                    path: path.into(),
                    headers: authorization
                        .map(|value| ("authorization".to_owned(), value.to_owned()))
                        .into_iter()
                        .collect(),
                    ..HttpRequest::default()
                };
                let decision = authorizer.authorize(&request, NOW);
                assert!(clean_status(decision.status()), "{decision:?}");
            }
        }
        // Every refusal says something (its path may be empty: a member named `""` is refused by that name).
        Err(err) => assert!(!err.message.is_empty(), "{err}"),
    }
});
