//! Token parsing and verification: raw token text, and tokens whose header and payload bytes come from the input
//! but carry a valid EdDSA signature, so that the claim rules are reached too.
#![no_main]

#[path = "common.rs"]
mod common;

use authz::token::{bearer_token, TokenUse};
use authz::Config;
use common::{CLIENT, ISS, NOW};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

struct Fixture {
    config: Config,
    signer: authz_testkit::mint::DevKey,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut keys = common::keys();
        let config =
            Config::from_json(common::config(&keys, None).as_bytes()).expect("the fixture configuration loads");
        let signer = keys.pop().expect("the EdDSA key");
        Fixture { config, signer }
    })
}

fuzz_target!(|data: &[u8]| {
    let fixture = fixture();
    let Some((&mode, rest)) = data.split_first() else { return };
    let token = match mode % 4 {
        // The header value as a client sends it, through extraction first.
        0 => {
            let value = String::from_utf8_lossy(rest);
            match bearer_token([value.as_ref()].into_iter()) {
                Ok(token) => token.to_owned(),
                Err(_) => return,
            }
        }
        // Token text as is.
        1 => String::from_utf8_lossy(rest).into_owned(),
        // Header and payload bytes (split at the first 0xff), validly signed.
        2 => {
            let split = rest.iter().position(|&b| b == 0xff).unwrap_or(rest.len());
            let (header, payload) = rest.split_at(split);
            fixture.signer.sign_raw(header, payload.get(1..).unwrap_or_default())
        }
        // Payload bytes under the signer's own header, validly signed.
        _ => fixture.signer.sign_raw(br#"{"kid":"ed","alg":"EdDSA"}"#, rest),
    };
    if let Ok(verified) = fixture.config.verifier().verify(&token, NOW) {
        // Whatever got through obeys every rule.
        assert_eq!(verified.issuer(), ISS);
        assert_eq!(verified.client_id(), CLIENT);
        let expires_at = verified.claims().get("exp").and_then(|v| v.as_f64()).expect("a verified token has `exp`");
        assert!(expires_at + 60.0 > NOW as f64);
        let token_use = verified.claims().get("token_use").and_then(|v| v.as_str());
        assert_eq!(token_use, Some(verified.token_use().as_str()));
        if verified.token_use() == TokenUse::Access {
            assert_eq!(verified.claims().get("client_id").and_then(|v| v.as_str()), Some(CLIENT));
        }
    }
});
