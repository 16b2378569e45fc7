//! The filter's RSA arithmetic as it runs in wasm (`simd128`, `src/token/rsa_verify.rs`), held to the native
//! signer: keys of every width the verifier has (2048, 3072 and 4096 bits, and sizes that leave leading limbs
//! empty in the next width up), PKCS#1 v1.5 and PSS. The native tests check the arithmetic against num-bigint and
//! the `rsa` crate; only these run the wasm32 code path, whose inner loop differs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use authz_host::{FilterHost, HttpOutcome};
use authz_testkit::mint::{CognitoClaims, DevKey, JwsAlg};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::json;
use support::{filter_wasm, messages, request};

const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Sizes";
const CLIENT: &str = "app";
const NOW: u64 = 1_750_000_000;
/// Tokens signed per key: each a different signature, so different operands throughout.
const TOKENS: usize = 12;

fn status(outcome: &HttpOutcome) -> u32 {
    match outcome {
        HttpOutcome::Continue { .. } => 200,
        HttpOutcome::LocalResponse { status, .. } => *status,
        other => panic!("unexpected outcome {other:?}"),
    }
}

#[test]
fn every_rsa_width_verifies_in_wasm_as_natively() {
    let sizes = [
        (2048, JwsAlg::Rs256),
        (2048, JwsAlg::Ps256),
        (2072, JwsAlg::Rs512),
        (2560, JwsAlg::Rs256),
        (3072, JwsAlg::Ps384),
        (3584, JwsAlg::Rs384),
        (4096, JwsAlg::Rs256),
        (4096, JwsAlg::Ps512),
    ];
    let keys: Vec<DevKey> = std::thread::scope(|scope| {
        let handles: Vec<_> = sizes
            .iter()
            .enumerate()
            .map(|(i, &(bits, alg))| scope.spawn(move || DevKey::generate_rsa_with(&format!("k{i}"), bits, alg)))
            .collect();
        handles.into_iter().map(|handle| handle.join().unwrap().unwrap()).collect()
    });
    let config = json!({
        "api": {"region": "us-east-1", "account_id": "123456789012", "api_id": "a1b2c3d4e5", "stage": "dev"},
        "issuers": [{
            "issuer": ISSUER,
            "jwks": {"keys": keys.iter().map(DevKey::public_jwk).collect::<Vec<_>>()},
            "token_use": ["access"],
            "client_ids": [CLIENT]
        }],
        "token_cache_size": 0
    });
    let host = FilterHost::load(&filter_wasm()).unwrap();
    let (mut plugin, configured) = host.start(b"", config.to_string().as_bytes()).unwrap();
    assert!(configured, "{:?}", messages(&plugin));
    plugin.set_time_nanos(NOW * 1_000_000_000);
    let mut send = |token: &str| {
        let outcome = plugin.http_request(&request("GET", "/x", &[("authorization", &format!("Bearer {token}"))]));
        status(&outcome.unwrap())
    };

    for (key, (bits, alg)) in keys.iter().zip(sizes) {
        let modulus = URL_SAFE_NO_PAD.decode(key.public_jwk()["n"].as_str().unwrap()).unwrap();
        for i in 0..TOKENS {
            let token = key.sign(&CognitoClaims::access(ISSUER, CLIENT, &format!("user{i}"), NOW).to_json());
            assert_eq!(send(&token), 200, "{bits} bits, {}: a valid token", alg.name());
            let (signing_input, signature) = token.rsplit_once('.').unwrap();
            let mut signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
            // Another signature below the modulus: one bit of a middle octet flipped.
            let middle = signature.len() / 2;
            signature[middle] ^= 1 << (i % 8);
            let tampered = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(&signature));
            assert_eq!(send(&tampered), 401, "{bits} bits, {}: a flipped bit", alg.name());
        }
        // The largest representative, n - 1 (every limb near its top): (n - 1)^e is n - 1, no encoding.
        let mut largest = modulus.clone();
        *largest.last_mut().unwrap() -= 1;
        let token = key.sign(&CognitoClaims::access(ISSUER, CLIENT, "n", NOW).to_json());
        let signing_input = token.rsplit_once('.').unwrap().0;
        assert_eq!(send(&format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(&largest))), 401, "{bits}: n - 1");
        assert_eq!(send(&format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(&modulus))), 401, "{bits}: n");
    }
}
