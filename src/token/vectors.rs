//! Published test vectors: Wycheproof (C2SP/wycheproof `testvectors_v1`, read from `../shared/vectors/`) at the
//! signature and JOSE levels, and the examples of RFC 7515 appendix A and RFC 8037 appendix A.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use super::{jws, verify_signature, KeyError, KeySet, RawJwk, TokenError, VerifyingKey};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;

const MAX: usize = 64 * 1024;

fn vector_dir() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/vectors/wycheproof")
}

pub(super) fn load(name: &str) -> Value {
    let path = vector_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| {
        panic!(
            "Wycheproof vectors not found at {} ({err}): the tests expect the shared/ folder (with \
             vectors/wycheproof/ from C2SP/wycheproof testvectors_v1) beside the repository",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap()
}

pub(super) fn hex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

/// A JWK from a vector file, through the same `TryFrom<&RawJwk>` path configuration uses.
fn key_from(mut jwk: Value, alg: &str) -> Result<VerifyingKey, String> {
    let map = jwk.as_object_mut().unwrap();
    map.entry("alg").or_insert_with(|| alg.into());
    map.entry("kid").or_insert_with(|| "none".into());
    let raw: RawJwk = serde_json::from_value(jwk).map_err(|err| err.to_string())?;
    VerifyingKey::try_from(&raw).map_err(|err| err.to_string())
}

#[derive(Default, Debug)]
struct Tally {
    valid: usize,
    invalid: usize,
    acceptable_accepted: Vec<u64>,
    acceptable_refused: Vec<u64>,
}

/// Runs one signature-level file: every `valid` signature verifies, every `invalid` one does not.
fn signature_file(name: &str, jwk_field: &str, alg: &str) -> Tally {
    let file = load(name);
    let mut tally = Tally::default();
    let mut wrong = Vec::new();
    for group in file["testGroups"].as_array().unwrap() {
        let jwk = match group.get(jwk_field) {
            Some(jwk) => jwk.clone(),
            // A few ECDSA groups give the point only as hex coordinates; the JWK is written from them.
            None => {
                let coordinate = |name: &str| {
                    let bytes = hex(group["publicKey"][name].as_str().unwrap());
                    let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
                    let mut padded = vec![0u8; 32 - trimmed.len()];
                    padded.extend(trimmed);
                    URL_SAFE_NO_PAD.encode(padded)
                };
                json!({"kty": "EC", "crv": "P-256", "x": coordinate("wx"), "y": coordinate("wy")})
            }
        };
        let key = key_from(jwk, alg).unwrap_or_else(|err| panic!("{name}: key refused: {err}"));
        for test in group["tests"].as_array().unwrap() {
            let id = test["tcId"].as_u64().unwrap();
            let accepted = key.verify(&hex(test["msg"].as_str().unwrap()), &hex(test["sig"].as_str().unwrap()));
            match (test["result"].as_str().unwrap(), accepted) {
                ("valid", true) => tally.valid += 1,
                ("invalid", false) => tally.invalid += 1,
                ("acceptable", true) => tally.acceptable_accepted.push(id),
                ("acceptable", false) => tally.acceptable_refused.push(id),
                (label, _) => wrong.push(format!(
                    "tcId {id} ({label}, {}): {}",
                    test["comment"],
                    if accepted { "accepted" } else { "refused" }
                )),
            }
        }
    }
    assert!(wrong.is_empty(), "{name}:\n{}", wrong.join("\n"));
    assert!(tally.valid > 0 && tally.invalid > 0, "{name}: {tally:?}");
    eprintln!("{name}: {tally:?}");
    tally
}

#[test]
fn wycheproof_rs256() {
    signature_file("rsa_signature_2048_sha256_test.json", "keyJwk", "RS256");
}

#[test]
fn wycheproof_rs384() {
    signature_file("rsa_signature_2048_sha384_test.json", "keyJwk", "RS384");
}

#[test]
fn wycheproof_rs512() {
    signature_file("rsa_signature_2048_sha512_test.json", "keyJwk", "RS512");
}

#[test]
fn wycheproof_ps256() {
    signature_file("rsa_pss_2048_sha256_mgf1_32_test.json", "publicKeyJwk", "PS256");
}

#[test]
fn wycheproof_es256_p1363() {
    signature_file("ecdsa_secp256r1_sha256_p1363_test.json", "publicKeyJwk", "ES256");
}

#[test]
fn wycheproof_eddsa() {
    signature_file("ed25519_test.json", "publicKeyJwk", "EdDSA");
}

/// A JWS checked the way [`super::TokenVerifier::verify`] checks one, up to the signature: the header must name
/// a key of `keys`, whose algorithm the header must state. Payloads here are arbitrary bytes, not claims.
fn verify_jws(keys: &KeySet, token: &str) -> Result<(), TokenError> {
    let untrusted = jws::parse_jws(token, MAX)?;
    let kid = untrusted.kid.clone().ok_or(TokenError::MissingKid)?;
    let key = keys.get(&kid).ok_or_else(|| TokenError::UnknownKid { issuer: String::new(), kid })?;
    verify_signature(key, &untrusted)
}

/// A key set from a vector's JWK or JWK Set, built as configuration builds one: any key refused refuses all.
fn key_set_from(value: Option<&Value>) -> Result<KeySet, String> {
    let value = value.ok_or("no public key (symmetric algorithm)")?;
    let keys = match value.get("keys") {
        Some(keys) => keys.as_array().unwrap().clone(),
        None => vec![value.clone()],
    };
    let mut set = KeySet::default();
    for jwk in keys {
        let raw: RawJwk = serde_json::from_value(jwk).map_err(|err| err.to_string())?;
        let key = VerifyingKey::try_from(&raw).map_err(|err: KeyError| err.to_string())?;
        set.insert(key).map_err(|kid| format!("duplicate kid `{kid}`"))?;
    }
    Ok(set)
}

/// Known label errors in json_web_signature_test.json, with the reason the label is wrong.
const LABEL_ERRORS: [(u64, &str); 4] = [
    (367, "labelled invalid (`invalidBase64Padding`) but byte-identical to the valid tcId 357"),
    (370, "labelled invalid (`invalidBase64PaddingInPayload`) but byte-identical to the valid tcId 357"),
    (372, "labelled valid (`InvalidCharacterInsertedInHeader`) but has `?` inside the base64url header"),
    (373, "labelled valid (`InvalidCharacterInsertedInPayload`) but has `?` inside the base64url payload"),
];

/// Vectors whose label the verifier disagrees with on purpose, and why.
const DELIBERATE: [(u64, &str); 2] = [
    (346, "RFC 7520 figure 20 is a PS384 token, but the vector's JWK says `alg: PS256`: a key verifies only its own algorithm"),
    (350, "the same token and key, with `key_ops`"),
];

/// Algorithms and curves the vectors use that the verifier does not support, by design: symmetric keys have no
/// place in a verifier that holds only public keys, and Cognito signs with RS256.
fn unsupported(reason: &str) -> bool {
    ["kty", "HS256", "HS384", "HS512", "ES521", "symmetric", "`d`", "`k`"].iter().any(|word| reason.contains(word))
}

#[test]
fn wycheproof_json_web_signature() {
    let file = load("json_web_signature_test.json");
    let mut tokens: BTreeMap<u64, String> = BTreeMap::new();
    let (mut agreed, mut wrong) = (0, Vec::new());
    let mut unsupported_valid = Vec::new();
    for group in file["testGroups"].as_array().unwrap() {
        let keys = key_set_from(group.get("public"));
        for test in group["tests"].as_array().unwrap() {
            let id = test["tcId"].as_u64().unwrap();
            let token = test["jws"].as_str().unwrap();
            tokens.insert(id, token.to_owned());
            let label = test["result"].as_str().unwrap();
            let structure = jws::parse_jws(token, MAX);
            let outcome = match &keys {
                Ok(keys) => verify_jws(keys, token).map_err(|err| err.to_string()),
                Err(why) => Err(format!("key refused: {why}")),
            };
            if let Some((_, why)) = LABEL_ERRORS.iter().find(|(known, _)| *known == id) {
                // The label is wrong; what matters is that the structure is judged on the bytes.
                match id {
                    367 | 370 => assert!(structure.is_ok(), "tcId {id}: {why}"),
                    _ => assert!(matches!(structure, Err(TokenError::Malformed(_))), "tcId {id}: {why}"),
                }
                assert!(outcome.is_err(), "tcId {id}: HS256 is not supported, so it is refused");
                continue;
            }
            if let Some((_, why)) = DELIBERATE.iter().find(|(known, _)| *known == id) {
                assert!(matches!(outcome, Err(ref err) if err.contains("`alg` is `PS384`")), "tcId {id}: {why}");
                // With the key's `alg` corrected, the signature verifies: only the binding refuses it.
                let mut jwk = group["public"].clone();
                jwk["alg"] = "PS384".into();
                verify_jws(&key_set_from(Some(&jwk)).unwrap(), token).unwrap();
                continue;
            }
            match (label, &outcome) {
                ("valid", Ok(())) | ("invalid", Err(_)) => agreed += 1,
                ("valid", Err(why)) if unsupported(why) => {
                    // The encoding checks still apply to tokens whose algorithm is not supported.
                    assert!(structure.is_ok(), "tcId {id}: {structure:?}");
                    unsupported_valid.push(id);
                }
                _ => wrong.push(format!("tcId {id} ({label}, {}): {outcome:?}", test["comment"])),
            }
            // The `base64` group (HS256) is about encodings: the structural verdict must match the label.
            if group["comment"] == "base64" {
                assert_eq!(structure.is_ok(), label == "valid", "tcId {id}: {structure:?}");
            }
        }
    }
    assert!(wrong.is_empty(), "disagreements:\n{}", wrong.join("\n"));
    for id in [367, 370] {
        assert_eq!(tokens[&id], tokens[&357], "tcId {id} is a copy of tcId 357");
    }
    assert!(tokens[&372].contains('?') && tokens[&373].contains('?'));
    eprintln!(
        "json_web_signature_test.json: {agreed} agree; valid but unsupported algorithm (HS*, ES521): \
         {unsupported_valid:?}; label errors: {:?}; deliberate: {:?}",
        LABEL_ERRORS.map(|(id, _)| id),
        DELIBERATE.map(|(id, _)| id)
    );
    assert!(agreed > 350, "{agreed}");
}

#[test]
fn wycheproof_json_web_key() {
    let file = load("json_web_key_test.json");
    let (mut agreed, mut wrong, mut unsupported_valid) = (0, Vec::new(), Vec::new());
    for group in file["testGroups"].as_array().unwrap() {
        // Groups with only a private JWK Set are symmetric (`oct`): loading one fails, as it must.
        let keys = key_set_from(group.get("public").or(group.get("private")));
        for test in group["tests"].as_array().unwrap() {
            let id = test["tcId"].as_u64().unwrap();
            let label = test["result"].as_str().unwrap();
            let outcome = match &keys {
                Ok(keys) => verify_jws(keys, test["jws"].as_str().unwrap()).map_err(|err| err.to_string()),
                Err(why) => Err(format!("key refused: {why}")),
            };
            match (label, &outcome) {
                ("valid", Ok(())) | ("invalid", Err(_)) => agreed += 1,
                ("valid", Err(why)) if unsupported(why) => unsupported_valid.push(id),
                _ => wrong.push(format!("tcId {id} ({label}, {}): {outcome:?}", test["comment"])),
            }
        }
    }
    assert!(wrong.is_empty(), "disagreements:\n{}", wrong.join("\n"));
    eprintln!("json_web_key_test.json: {agreed} agree; valid but symmetric (HS*): {unsupported_valid:?}");
}

// RFC 7515 appendix A.2 (RS256) and A.3 (ES256) and RFC 8037 appendix A (Ed25519): the public keys and the
// compact serialisations printed in the RFCs.
const RFC7515_A2_N: &str = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
const RFC7515_A2_JWS: &str = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
const RFC7515_A3_X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
const RFC7515_A3_Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
const RFC7515_A3_JWS: &str = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
const RFC8037_JWS: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

/// The example verifies with its key and stops verifying when any signature byte changes.
fn check_rfc_example(jwk: Value, token: &str) -> Vec<u8> {
    let key = key_from(jwk, "").unwrap();
    let untrusted = jws::parse_jws(token, MAX).unwrap();
    verify_signature(&key, &untrusted).unwrap();
    for index in 0..untrusted.signature.len() {
        let mut tampered = untrusted.signature.clone();
        tampered[index] ^= 0x01;
        assert!(!key.verify(untrusted.signing_input, &tampered), "byte {index}");
    }
    untrusted.payload
}

#[test]
fn rfc7515_a2_rs256() {
    let payload =
        check_rfc_example(json!({"kty": "RSA", "alg": "RS256", "n": RFC7515_A2_N, "e": "AQAB"}), RFC7515_A2_JWS);
    assert_eq!(payload, b"{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}");
}

#[test]
fn rfc7515_a3_es256_high_s() {
    let jwk = json!({"kty": "EC", "alg": "ES256", "crv": "P-256", "x": RFC7515_A3_X, "y": RFC7515_A3_Y});
    check_rfc_example(jwk, RFC7515_A3_JWS);
    // Its s is above n/2: a verifier that insisted on low-S would refuse the RFC's own example.
    let signature = URL_SAFE_NO_PAD.decode(RFC7515_A3_JWS.rsplit('.').next().unwrap()).unwrap();
    let parsed = p256::ecdsa::Signature::from_slice(&signature).unwrap();
    assert!(parsed.normalize_s().is_some(), "RFC 7515 A.3 is a high-S signature");
}

#[test]
fn rfc8037_a4_ed25519() {
    let payload =
        check_rfc_example(json!({"kty": "OKP", "alg": "EdDSA", "crv": "Ed25519", "x": RFC8037_X}), RFC8037_JWS);
    assert_eq!(payload, b"Example of Ed25519 signing");
}

#[test]
fn rfc_examples_fail_as_tokens_only_for_their_claims() {
    // Through the whole verifier, the RFC examples fail for what they are (no `kid`, text payload), never for a
    // signature problem.
    assert_eq!(jws::parse(RFC7515_A2_JWS, MAX).unwrap_err(), TokenError::MissingKid);
    assert_eq!(jws::parse(RFC8037_JWS, MAX).unwrap_err(), TokenError::MissingKid);
}
