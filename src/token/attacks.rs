//! Every known class of JWT verification attack (RFC 8725, CVE-2022-21449, aws-jwt-verify's checks), forged byte
//! for byte against the verifier. The
//! numbers in the test names follow the project's checklist of those classes. The same attacks run through every host from
//! `policies/scenarios/attacks.json`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use super::{Issuer, KeySet, RawJwk, TokenError, TokenUses, TokenVerifier, VerifiedToken, VerifyingKey};
use crate::token::KeyError;
use authz_testkit::mint::{der_integer, CognitoClaims, DevKey, JwsAlg as MintAlg};
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use jwt_compact::alg::{Hs256, Hs256Key};
use jwt_compact::{Algorithm, AlgorithmSignature};
use serde_json::{json, Value};
use std::sync::OnceLock;

const NOW: u64 = 1_763_800_000;
const ISS: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Attack";
const OTHER_ISS: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other";
const CLIENT: &str = "client-a";
const MAX: usize = 16 * 1024;
/// The order of the P-256 group.
const P256_N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa,
    0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

struct Fixture {
    rsa: DevKey,
    ps: DevKey,
    es: DevKey,
    ed: DevKey,
    /// Configured for the other issuer only.
    other: DevKey,
    /// Configured nowhere.
    rogue: DevKey,
    verifier: TokenVerifier,
}

fn raw_jwk(value: Value) -> RawJwk {
    serde_json::from_value(value).unwrap()
}

fn key_set(keys: &[&DevKey]) -> KeySet {
    let mut set = KeySet::default();
    for key in keys {
        set.insert(VerifyingKey::try_from(&raw_jwk(key.public_jwk())).unwrap()).unwrap();
    }
    set
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let rsa = DevKey::generate_rsa("rsa").unwrap();
        let ps = DevKey::generate_rsa_with("ps", 2048, MintAlg::Ps256).unwrap();
        let es = DevKey::generate_es256("ec").unwrap();
        let ed = DevKey::generate_ed25519("ed").unwrap();
        let other = DevKey::generate_es256("other").unwrap();
        let rogue = DevKey::generate_es256("rogue").unwrap();
        let issuer = |issuer: &str, keys: KeySet| Issuer {
            issuer: issuer.to_owned(),
            keys,
            remote: None,
            fetched: Default::default(),
            token_use: TokenUses { access: true, id: true },
            client_ids: Some(vec![CLIENT.to_owned()]),
        };
        let verifier = TokenVerifier {
            issuers: vec![issuer(ISS, key_set(&[&rsa, &ps, &es, &ed])), issuer(OTHER_ISS, key_set(&[&other]))],
            skew: 60,
            max_token_bytes: MAX,
        };
        Fixture { rsa, ps, es, ed, other, rogue, verifier }
    })
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn access() -> Value {
    CognitoClaims::access(ISS, CLIENT, "alice", NOW).groups(&["admins"]).to_json()
}

fn id_token() -> Value {
    CognitoClaims::id(ISS, CLIENT, "alice", NOW).to_json()
}

fn with(mut value: Value, overrides: Value) -> Value {
    for (name, new) in overrides.as_object().unwrap() {
        if new.is_null() {
            value.as_object_mut().unwrap().remove(name);
        } else {
            value[name] = new.clone();
        }
    }
    value
}

fn header(key: &DevKey) -> Value {
    json!({"kid": key.kid(), "alg": key.alg().name()})
}

fn verify(token: &str) -> Result<VerifiedToken, TokenError> {
    fixture().verifier.verify(token, NOW)
}

fn refused(token: &str) -> TokenError {
    match verify(token) {
        Ok(verified) => panic!("accepted {token}: {verified:?}"),
        Err(err) => err,
    }
}

fn segments(token: &str) -> (String, String, String) {
    let mut parts = token.split('.');
    let (h, p, s) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
    (h.to_owned(), p.to_owned(), s.to_owned())
}

fn with_signature(token: &str, signature: &[u8]) -> String {
    let (h, p, _) = segments(token);
    format!("{h}.{p}.{}", b64(signature))
}

fn signature_of(token: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(segments(token).2).unwrap()
}

/// Signs exact header and payload segment text (already encoded, canonical or not) with `key`.
fn sign_segments(key: &DevKey, header_b64: &str, payload_b64: &str) -> String {
    let input = format!("{header_b64}.{payload_b64}");
    format!("{input}.{}", b64(&key.signature(input.as_bytes())))
}

#[test]
fn sound_tokens_of_every_algorithm_pass() {
    let f = fixture();
    for key in [&f.rsa, &f.ps, &f.es, &f.ed] {
        let verified = verify(&key.sign(&access())).unwrap_or_else(|err| panic!("{}: {err}", key.alg().name()));
        assert_eq!(verified.sub, "sub-alice");
        assert_eq!(verified.groups, ["admins"]);
    }
    verify(&f.rsa.sign(&id_token())).unwrap();
}

#[test]
fn c01_alg_none_and_empty_signatures() {
    let f = fixture();
    let claims = access();
    for alg in ["none", "NONE", "None", "nOnE"] {
        let unsigned = format!(
            "{}.{}.",
            b64(json!({"alg": alg, "kid": "rsa"}).to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        assert_eq!(refused(&unsigned), TokenError::Malformed("empty signature"), "{alg}");
        // With some signature bytes attached, `none` is still not the key's algorithm.
        let signed = f.rsa.sign_with_header(&json!({"alg": alg, "kid": "rsa"}), &claims);
        assert!(matches!(refused(&signed), TokenError::AlgorithmMismatch { .. }), "{alg}");
    }
    // A sound token with its signature removed, with and without the last dot.
    let token = f.rsa.sign(&claims);
    let (h, p, _) = segments(&token);
    assert_eq!(refused(&format!("{h}.{p}.")), TokenError::Malformed("empty signature"));
    assert_eq!(refused(&format!("{h}.{p}")), TokenError::Malformed("not three dot-separated segments"));
    for header in [
        json!({"kid": "rsa"}),
        json!({"kid": "rsa", "alg": null}),
        json!({"kid": "rsa", "alg": ["RS256"]}),
        json!({"kid": "rsa", "alg": ""}),
    ] {
        assert!(
            matches!(
                refused(&f.rsa.sign_with_header(&header, &claims)),
                TokenError::Malformed(_) | TokenError::AlgorithmMismatch { .. }
            ),
            "{header}"
        );
    }
}

#[test]
fn c02_hs256_with_the_public_key_as_secret() {
    let f = fixture();
    let jwk = f.rsa.public_jwk();
    let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
    // Every spelling of "the public key" an attacker might guess the verifier uses as an HMAC secret.
    let secrets: Vec<Vec<u8>> = vec![jwk.to_string().into_bytes(), n, jwk["n"].as_str().unwrap().as_bytes().to_vec()];
    for secret in secrets {
        let header = b64(json!({"alg": "HS256", "kid": "rsa"}).to_string().as_bytes());
        let input = format!("{header}.{}", b64(access().to_string().as_bytes()));
        let mac = Hs256.sign(&Hs256Key::new(&secret), input.as_bytes());
        let token = format!("{input}.{}", b64(&mac.as_bytes()));
        assert_eq!(
            refused(&token),
            TokenError::AlgorithmMismatch { token: "HS256".into(), key: "RS256", kid: "rsa".into() }
        );
    }
}

#[test]
fn c03_token_alg_other_than_the_keys() {
    let f = fixture();
    // The same RSA private key signing under the other padding, labelled honestly and dishonestly.
    let mut jwk = f.ps.private_jwk();
    jwk["alg"] = "RS256".into();
    let same_key_rs256 = DevKey::from_private_jwk(&jwk).unwrap();
    let honest = same_key_rs256.sign_with_header(&json!({"kid": "ps", "alg": "RS256"}), &access());
    assert_eq!(
        refused(&honest),
        TokenError::AlgorithmMismatch { token: "RS256".into(), key: "PS256", kid: "ps".into() }
    );
    let dishonest = same_key_rs256.sign_with_header(&json!({"kid": "ps", "alg": "PS256"}), &access());
    assert_eq!(refused(&dishonest), TokenError::BadSignature);
    // RS256 token against the ES256 and EdDSA keys.
    for kid in ["ec", "ed"] {
        let token = f.rsa.sign_with_header(&json!({"kid": kid, "alg": "RS256"}), &access());
        assert!(matches!(refused(&token), TokenError::AlgorithmMismatch { .. }), "{kid}");
    }
    // ES256 signature labelled with the RSA key's kid and alg.
    let token = f.es.sign_with_header(&json!({"kid": "rsa", "alg": "RS256"}), &access());
    assert_eq!(refused(&token), TokenError::BadSignature);
    // Algorithm names compare exactly.
    for alg in ["rs256", "RS256 ", "ES256K", "Ed25519", "EDDSA"] {
        let token = f.rsa.sign_with_header(&json!({"kid": "rsa", "alg": alg}), &access());
        assert!(matches!(refused(&token), TokenError::AlgorithmMismatch { .. }), "{alg}");
    }
}

#[test]
fn c04_kid_missing_unknown_or_path_like() {
    let f = fixture();
    let token = f.rsa.sign_with_header(&json!({"alg": "RS256"}), &access());
    assert_eq!(refused(&token), TokenError::MissingKid);
    for kid in ["nope", "../../dev/null", "/etc/passwd", "rsa ", "RSA", "", "rsa\u{0}", "other"] {
        let token = f.rsa.sign_with_header(&json!({"alg": "RS256", "kid": kid}), &access());
        assert!(matches!(refused(&token), TokenError::UnknownKid { .. }), "{kid:?}");
    }
    for kid in [json!(1), json!(null), json!(["rsa"]), json!({"kid": "rsa"})] {
        let token = f.rsa.sign_with_header(&json!({"alg": "RS256", "kid": kid}), &access());
        assert!(matches!(refused(&token), TokenError::Malformed(_) | TokenError::MissingKid), "{kid}");
    }
    // Signed by the rsa key but naming the ps key: the named key alone is tried, never the others.
    let token = f.rsa.sign_with_header(&json!({"alg": "PS256", "kid": "ps"}), &access());
    assert_eq!(refused(&token), TokenError::BadSignature);
    // A key of another trusted issuer cannot sign for this one.
    let token = f.other.sign_with_header(&json!({"alg": "ES256", "kid": "other"}), &access());
    assert!(matches!(refused(&token), TokenError::UnknownKid { .. }));
    let token = f.other.sign(&with(access(), json!({"iss": OTHER_ISS})));
    verify(&token).unwrap();
}

#[test]
fn c05_embedded_and_remote_keys_are_never_used() {
    let f = fixture();
    let rogue_jwk = f.rogue.public_jwk();
    let hints = [
        json!({"jwk": rogue_jwk}),
        json!({"jku": "https://attacker.example/jwks.json"}),
        json!({"x5u": "https://attacker.example/cert.pem"}),
        json!({"x5c": ["MIIBszCCAVmgAwIBAgIUE"]}),
    ];
    for hint in &hints {
        // Signed by the attacker's key, naming a trusted kid: the trusted key decides, and says no.
        let mut header = with(json!({"alg": "ES256", "kid": "ec"}), hint.clone());
        assert_eq!(refused(&f.rogue.sign_with_header(&header, &access())), TokenError::BadSignature, "{hint}");
        header["kid"] = "rogue".into();
        assert!(
            matches!(refused(&f.rogue.sign_with_header(&header, &access())), TokenError::UnknownKid { .. }),
            "{hint}"
        );
        // Signed by the trusted key, the hint is ignored, as RFC 7515 allows.
        let honest = with(json!({"alg": "ES256", "kid": "ec"}), hint.clone());
        verify(&f.es.sign_with_header(&honest, &access())).unwrap();
    }
}

#[test]
fn c06_to_c08_crit_b64_cty_zip_enc_are_refused_even_when_signed() {
    let f = fixture();
    let cases = [
        (json!({"crit": ["exp"]}), "crit"),
        (json!({"crit": []}), "crit"),
        (json!({"crit": ["b64"], "b64": false}), "crit"),
        (json!({"b64": false}), "b64"),
        (json!({"b64": true}), "b64"),
        (json!({"cty": "cbor"}), "cty"),
        (json!({"cty": "JWT"}), "cty"),
        (json!({"zip": "DEF"}), "zip"),
        (json!({"enc": "A256GCM"}), "enc"),
    ];
    for (extra, param) in cases {
        let token = f.rsa.sign_with_header(&with(header(&f.rsa), extra.clone()), &access());
        assert_eq!(refused(&token), TokenError::UnsupportedHeader(param), "{extra}");
    }
    // b64:false with an unencoded payload (RFC 7797): not even three canonical segments.
    let header = b64(json!({"alg": "RS256", "kid": "rsa", "b64": false, "crit": ["b64"]}).to_string().as_bytes());
    let input = format!("{header}.{}", access());
    let token = format!("{input}.{}", b64(&f.rsa.signature(input.as_bytes())));
    assert!(verify(&token).is_err());
}

#[test]
fn c09_jwk_use_key_ops_and_alg_are_enforced_at_load() {
    let f = fixture();
    let load = |changes: Value| VerifyingKey::try_from(&raw_jwk(with(f.es.public_jwk(), changes)));
    assert!(load(json!({})).is_ok());
    assert!(matches!(load(json!({"use": "enc"})), Err(KeyError::NotSig(_))));
    assert!(matches!(load(json!({"use": "SIG"})), Err(KeyError::NotSig(_))));
    assert!(matches!(load(json!({"key_ops": ["sign"]})), Err(KeyError::NoVerifyOp)));
    assert!(matches!(load(json!({"key_ops": ["encrypt", "decrypt"]})), Err(KeyError::NoVerifyOp)));
    assert!(matches!(load(json!({"key_ops": []})), Err(KeyError::NoVerifyOp)));
    assert!(load(json!({"key_ops": ["sign", "verify"]})).is_ok());
    assert!(matches!(load(json!({"kid": ""})), Err(KeyError::EmptyKid)), "pushed or fetched, a key needs a name");
    assert!(matches!(load(json!({"alg": null})), Err(KeyError::Missing("alg"))));
    assert!(matches!(load(json!({"alg": "HS256"})), Err(KeyError::UnsupportedAlg(_))));
    assert!(matches!(load(json!({"alg": "none"})), Err(KeyError::UnsupportedAlg(_))));
    assert!(matches!(load(json!({"alg": "RS256"})), Err(KeyError::AlgKtyMismatch { .. })));
    assert!(matches!(load(json!({"kty": "oct"})), Err(KeyError::AlgKtyMismatch { .. })));
    // An RSA key's `alg` is what tokens must say: an RS256 key never verifies a PS256 token (c03).
    let rsa = |changes: Value| VerifyingKey::try_from(&raw_jwk(with(f.rsa.public_jwk(), changes)));
    assert!(matches!(rsa(json!({"alg": "ES256"})), Err(KeyError::AlgKtyMismatch { .. })));
    assert!(matches!(rsa(json!({"use": "enc"})), Err(KeyError::NotSig(_))));
    // Members that do not belong to the key type are refused rather than ignored.
    assert!(matches!(rsa(json!({"crv": "P-256"})), Err(KeyError::Unexpected { .. })));
    assert!(serde_json::from_value::<RawJwk>(with(f.rsa.public_jwk(), json!({"d": "AQAB"}))).is_err());
}

#[test]
fn c10_time_claims() {
    let f = fixture();
    let sign = |changes: Value| f.es.sign(&with(access(), changes));
    // Skew is 60 seconds.
    assert_eq!(refused(&sign(json!({"exp": NOW - 60}))), TokenError::Expired);
    assert_eq!(refused(&sign(json!({"exp": NOW - 3600, "iat": NOW - 7200}))), TokenError::Expired);
    verify(&sign(json!({"exp": NOW - 59}))).unwrap();
    assert_eq!(refused(&sign(json!({"nbf": NOW + 61}))), TokenError::NotYetValid);
    verify(&sign(json!({"nbf": NOW + 60}))).unwrap();
    assert_eq!(refused(&sign(json!({"iat": NOW + 61}))), TokenError::IssuedInFuture);
    verify(&sign(json!({"iat": NOW + 60}))).unwrap();
    assert_eq!(refused(&sign(json!({"exp": null}))), TokenError::MissingClaim("exp"));
    for exp in [json!("4102444800"), json!(true), json!([4_102_444_800u64]), json!({"t": 1})] {
        assert_eq!(refused(&sign(json!({"exp": exp}))), TokenError::InvalidClaim { claim: "exp", why: "not a number" });
    }
    for exp in [json!(1e300), json!(-1), json!(253_402_300_800u64), json!(u64::MAX), json!(-1e300)] {
        assert!(matches!(refused(&sign(json!({"exp": exp}))), TokenError::InvalidClaim { claim: "exp", .. }), "{exp}");
    }
    for claim in ["nbf", "iat"] {
        assert!(matches!(refused(&sign(json!({claim: 1e300}))), TokenError::InvalidClaim { .. }), "{claim}");
        assert!(matches!(refused(&sign(json!({claim: "0"}))), TokenError::InvalidClaim { .. }), "{claim}");
    }
    // A fractional NumericDate is legal and compared as a number.
    verify(&sign(json!({"exp": (NOW as f64) + 0.5}))).unwrap();
    // Numbers too big for f64 are refused by the JSON reader itself.
    let payload = access().to_string().replacen(&format!("\"exp\":{}", NOW + 3600), "\"exp\":1e400", 1);
    let token = f.es.sign_raw(header(&f.es).to_string().as_bytes(), payload.as_bytes());
    assert!(verify(&token).is_err());
}

#[test]
fn c11_issuer_variants() {
    let f = fixture();
    for iss in [
        format!("{ISS}/"),
        ISS.replacen("https:", "http:", 1),
        ISS.replace("us-east-1.amazonaws", "us-west-2.amazonaws"),
        ISS.replace("us-east-1_Attack", "us-east-1_Attacker"),
        ISS.replace("us-east-1_Attack", "us-east-1_attack"),
        ISS.to_uppercase(),
        format!("{ISS} "),
        ISS.replace("cognito-idp", "cognito-idp.evil.example/x"),
        format!("{ISS}#"),
        String::new(),
    ] {
        assert!(
            matches!(refused(&f.es.sign(&with(access(), json!({"iss": iss})))), TokenError::UnknownIssuer(_)),
            "{iss}"
        );
    }
    assert_eq!(refused(&f.es.sign(&with(access(), json!({"iss": null})))), TokenError::MissingClaim("iss"));
    assert!(matches!(
        refused(&f.es.sign(&with(access(), json!({"iss": [ISS]})))),
        TokenError::InvalidClaim { claim: "iss", .. }
    ));
    // Cognito escapes slashes in the raw payload; the comparison is on the decoded string.
    let payload = access().to_string().replace(ISS, &ISS.replace('/', "\\/"));
    assert!(payload.contains("https:\\/\\/"));
    verify(&f.es.sign_raw(header(&f.es).to_string().as_bytes(), payload.as_bytes())).unwrap();
}

#[test]
fn c12_token_use_and_client_mixups() {
    let f = fixture();
    let sign = |claims: Value| f.es.sign(&claims);
    for token_use in [json!("refresh"), json!("Access"), json!(""), json!("access ")] {
        assert!(matches!(
            refused(&sign(with(access(), json!({"token_use": token_use})))),
            TokenError::TokenUseNotAllowed(_)
        ));
    }
    assert_eq!(refused(&sign(with(access(), json!({"token_use": null})))), TokenError::MissingClaim("token_use"));
    for token_use in [json!(["access"]), json!(1), json!(true)] {
        assert!(matches!(
            refused(&sign(with(access(), json!({"token_use": token_use})))),
            TokenError::InvalidClaim { claim: "token_use", .. }
        ));
    }
    assert_eq!(
        refused(&sign(with(access(), json!({"client_id": "client-b"})))),
        TokenError::ClientNotAllowed("client-b".into())
    );
    assert_eq!(refused(&sign(with(access(), json!({"client_id": null})))), TokenError::MissingClaim("client_id"));
    // An access token's client is `client_id`; an `aud` naming the right client does not stand in for it.
    assert!(
        refused(&sign(with(access(), json!({"client_id": "client-b", "aud": CLIENT}))))
            == TokenError::ClientNotAllowed("client-b".into())
    );
    assert_eq!(
        refused(&sign(with(id_token(), json!({"aud": "client-b"})))),
        TokenError::ClientNotAllowed("client-b".into())
    );
    assert_eq!(
        refused(&sign(with(id_token(), json!({"aud": null, "client_id": CLIENT})))),
        TokenError::MissingClaim("aud")
    );
    assert!(matches!(
        refused(&sign(with(id_token(), json!({"aud": [CLIENT, "client-b"]})))),
        TokenError::InvalidClaim { claim: "aud", .. }
    ));
    assert!(matches!(
        refused(&sign(with(id_token(), json!({"aud": []})))),
        TokenError::InvalidClaim { claim: "aud", .. }
    ));
    verify(&sign(with(id_token(), json!({"aud": [CLIENT]})))).unwrap();
    // An issuer that takes access tokens only refuses an ID token.
    let mut only_access = TokenVerifier { issuers: Vec::new(), skew: 60, max_token_bytes: MAX };
    only_access.issuers.push(Issuer {
        issuer: ISS.into(),
        keys: key_set(&[&f.es]),
        remote: None,
        fetched: Default::default(),
        token_use: TokenUses { access: true, id: false },
        client_ids: Some(vec![CLIENT.into()]),
    });
    assert_eq!(only_access.verify(&sign(id_token()), NOW).unwrap_err(), TokenError::TokenUseNotAllowed("id".into()));
    only_access.verify(&sign(access()), NOW).unwrap();
    // Malformed identity claims.
    for (claim, value) in [
        ("cognito:groups", json!("admins")),
        ("cognito:groups", json!(["a", 1])),
        ("scope", json!(["a"])),
        ("sub", json!(1)),
        ("username", json!(null)),
    ] {
        let result = verify(&sign(with(access(), json!({claim: value}))));
        if value.is_null() {
            assert!(result.is_ok(), "{claim}");
        } else {
            assert!(result.is_err(), "{claim}: {value}");
        }
    }
    assert_eq!(refused(&sign(with(access(), json!({"sub": null})))), TokenError::MissingClaim("sub"));
}

#[test]
fn c13_duplicate_keys_in_claims_and_header() {
    let f = fixture();
    let body = access().to_string();
    let inner = body.strip_suffix('}').unwrap();
    for extra in [
        r#""token_use":"id""#,
        r#""token_use":"access""#,
        r#""client_id":"client-b""#,
        r#""scope":"admin""#,
        r#""cognito:groups":["root"]"#,
        r#""iss":"https://evil.example""#,
        r#""exp":9999999999"#,
        r#""sub":"root""#,
        // The same name spelled with an escape is the same member once decoded.
        r#""token\u005fuse":"id""#,
        r#""\u0069ss":"https://evil.example""#,
    ] {
        let payload = format!("{inner},{extra}}}");
        let token = f.es.sign_raw(header(&f.es).to_string().as_bytes(), payload.as_bytes());
        assert_eq!(refused(&token), TokenError::Malformed("payload is not a strict JSON object"), "{extra}");
    }
    // Nested duplicates too (custom claims reach policies as condition keys).
    let payload = format!(r#"{inner},"custom:profile":{{"role":"user","role":"admin"}}}}"#);
    let token = f.es.sign_raw(header(&f.es).to_string().as_bytes(), payload.as_bytes());
    assert!(matches!(refused(&token), TokenError::Malformed(_)));
    for raw_header in [r#"{"kid":"ec","alg":"ES256","alg":"none"}"#, r#"{"kid":"rogue","kid":"ec","alg":"ES256"}"#] {
        let token = f.es.sign_raw(raw_header.as_bytes(), body.as_bytes());
        assert_eq!(refused(&token), TokenError::Malformed("header is not a strict JSON object"), "{raw_header}");
    }
}

fn p256_high_s(signature: &[u8]) -> Vec<u8> {
    let sig = p256::ecdsa::Signature::from_slice(signature).unwrap();
    let (r, s) = sig.split_scalars();
    let negated = -s;
    p256::ecdsa::Signature::from_scalars(r.to_bytes(), negated.to_bytes()).unwrap().to_vec()
}

#[test]
fn c14_ecdsa_edge_cases() {
    let f = fixture();
    let token = f.es.sign(&access());
    let sig = signature_of(&token);
    let (r, s) = sig.split_at(32);
    let zero = [0u8; 32];
    let mut one = [0u8; 32];
    one[31] = 1;
    let mut n_plus_1 = P256_N;
    n_plus_1[31] += 1;
    let forged: Vec<(&str, Vec<u8>)> = vec![
        ("r = s = 0 (psychic signature)", [zero, zero].concat()),
        ("r = 0", [&zero[..], s].concat()),
        ("s = 0", [r, &zero[..]].concat()),
        ("r = n", [&P256_N[..], s].concat()),
        ("s = n", [r, &P256_N[..]].concat()),
        ("r = n + 1", [&n_plus_1[..], s].concat()),
        ("s = n + 1", [r, &n_plus_1[..]].concat()),
        ("r = s = 1", [one, one].concat()),
        ("r = s = n", [P256_N, P256_N].concat()),
        ("all ones", vec![0xff; 64]),
        ("63 bytes", sig[..63].to_vec()),
        ("65 bytes", [&sig[..], &[0][..]].concat()),
        ("leading zero", [&[0][..], &sig[..]].concat()),
        ("DER", {
            let mut der = [der_integer(r), der_integer(s)].concat();
            der.insert(0, der.len() as u8);
            der.insert(0, 0x30);
            der
        }),
        ("r and s swapped", [s, r].concat()),
        ("empty body", Vec::new()),
    ];
    for (what, bytes) in forged {
        let result = if bytes.is_empty() {
            verify(&format!("{}.", token.rsplit_once('.').unwrap().0))
        } else {
            verify(&with_signature(&token, &bytes))
        };
        assert!(result.is_err(), "{what} was accepted");
    }
    // n - s is as valid as s (ECDSA is malleable; RFC 7515 A.3 itself is high-S): accepted.
    let high = p256_high_s(&sig);
    assert_ne!(high, sig);
    verify(&with_signature(&token, &high)).unwrap();
    let key = fixture().verifier.issuers()[0].keys().get("ec").unwrap();
    let (h, p, _) = segments(&token);
    assert!(key.verify(format!("{h}.{p}").as_bytes(), &high));
}

#[test]
fn c14_rsa_and_ed25519_signature_edge_cases() {
    let f = fixture();
    for key in [&f.rsa, &f.ps, &f.ed] {
        let token = key.sign(&access());
        let sig = signature_of(&token);
        let mut flipped = sig.clone();
        *flipped.last_mut().unwrap() ^= 1;
        let mut first_flipped = sig.clone();
        first_flipped[0] ^= 0x80;
        for (what, bytes) in [
            ("flipped last bit", flipped),
            ("flipped first bit", first_flipped),
            ("truncated", sig[..sig.len() - 1].to_vec()),
            ("extended", [&sig[..], &[0][..]].concat()),
            ("leading zero", [&[0][..], &sig[..]].concat()),
            ("zeros", vec![0; sig.len()]),
            ("ones", vec![0xff; sig.len()]),
            ("one", [vec![0; sig.len() - 1], vec![1]].concat()),
        ] {
            assert!(verify(&with_signature(&token, &bytes)).is_err(), "{}: {what}", key.alg().name());
        }
    }
}

/// rsa 0.9 checks `s < n` for PKCS#1 v1.5 but not for PSS: s + n used to verify as s.
#[test]
fn c14_rsa_signature_not_reduced_mod_n() {
    let mut tries = 0;
    loop {
        tries += 1;
        assert!(tries < 50, "no key with room above n");
        let key = DevKey::generate_rsa_with("ps", 2048, MintAlg::Ps256).unwrap();
        let jwk = key.public_jwk();
        let n = rsa::BigUint::from_bytes_be(&URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap());
        let verifying = VerifyingKey::try_from(&raw_jwk(jwk)).unwrap();
        let message = b"header.payload";
        for _ in 0..20 {
            let sig = key.signature(message);
            let unreduced = rsa::BigUint::from_bytes_be(&sig) + &n;
            let bytes = unreduced.to_bytes_be();
            if bytes.len() == sig.len() {
                assert!(verifying.verify(message, &sig));
                assert!(!verifying.verify(message, &bytes), "s + n accepted");
                return;
            }
        }
    }
}

#[test]
fn c15_ec_points_off_the_curve_fail_at_load() {
    let f = fixture();
    let jwk = f.es.public_jwk();
    let mut y = URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap();
    y[31] ^= 1;
    let load = |changes: Value| VerifyingKey::try_from(&raw_jwk(with(jwk.clone(), changes)));
    assert!(matches!(load(json!({"y": b64(&y)})), Err(KeyError::NotOnCurve)));
    assert!(matches!(load(json!({"x": b64(&[0; 32]), "y": b64(&[0; 32])})), Err(KeyError::NotOnCurve)));
    assert!(matches!(load(json!({"x": b64(&[0xff; 32]), "y": b64(&[0xff; 32])})), Err(KeyError::NotOnCurve)));
    assert!(matches!(load(json!({"y": b64(&y[1..])})), Err(KeyError::NotOnCurve)));
    assert!(matches!(load(json!({"y": b64(&[&[0][..], &y[..]].concat())})), Err(KeyError::NotOnCurve)));
    assert!(matches!(load(json!({"y": null})), Err(KeyError::Missing("y"))));
    assert!(matches!(load(json!({"crv": "P-384"})), Err(KeyError::UnsupportedCurve(_))));
    assert!(matches!(load(json!({"crv": "secp256k1"})), Err(KeyError::UnsupportedCurve(_))));
    // Ed25519: wrong length, and small-order (weak) points.
    let ed = |x: &[u8]| VerifyingKey::try_from(&raw_jwk(with(f.ed.public_jwk(), json!({"x": b64(x)}))));
    assert!(matches!(ed(&[1; 31]), Err(KeyError::BadEd25519)));
    let mut identity = [0u8; 32];
    identity[0] = 1;
    assert!(matches!(ed(&identity), Err(KeyError::BadEd25519)));
    assert!(matches!(ed(&[0; 32]), Err(KeyError::BadEd25519)));
}

#[test]
fn c16_weak_rsa_keys_fail_at_load() {
    let small = DevKey::generate_rsa_with("small", 1024, MintAlg::Rs256).unwrap();
    assert!(matches!(VerifyingKey::try_from(&raw_jwk(small.public_jwk())), Err(KeyError::WeakRsa { bits: 1024 })));
    let f = fixture();
    let load = |changes: Value| VerifyingKey::try_from(&raw_jwk(with(f.rsa.public_jwk(), changes)));
    assert!(matches!(load(json!({"e": "AQ"})), Err(KeyError::Rsa(_))), "e = 1");
    assert!(matches!(load(json!({"e": ""})), Err(KeyError::Rsa(_))), "e = 0");
    assert!(matches!(load(json!({"e": "AAEAAQ"})), Err(KeyError::Rsa(_))), "leading zero in e");
    let n = URL_SAFE_NO_PAD.decode(f.rsa.public_jwk()["n"].as_str().unwrap()).unwrap();
    assert!(
        matches!(load(json!({"n": b64(&[&[0][..], &n[..]].concat())})), Err(KeyError::Rsa(_))),
        "leading zero in n"
    );
    let mut short_n = n[..255].to_vec();
    short_n[254] |= 1;
    let short = load(json!({"n": b64(&short_n)}));
    assert!(matches!(short, Err(KeyError::WeakRsa { .. })), "2040 bits: {short:?}");
}

/// A token whose signature is re-spelled in the standard base64 alphabet. A signature whose URL-safe spelling has
/// no `-` or `_` reads the same in both alphabets (about 6.5% of 64-byte signatures), which would make the case
/// a valid token, so claims are varied until the spellings differ.
fn standard_alphabet_forgery(key: &DevKey) -> String {
    for attempt in 0..1000 {
        let mut claims = access();
        claims["jti"] = serde_json::json!(format!("alphabet-{attempt}"));
        let token = key.sign(&claims);
        let (h, p, s) = segments(&token);
        if s.contains(['-', '_']) {
            return format!("{h}.{p}.{}", STANDARD_NO_PAD.encode(signature_of(&token)));
        }
    }
    panic!("no signature with `-` or `_` in 1000 attempts");
}

#[test]
fn c17_non_canonical_base64url() {
    let f = fixture();
    let token = f.es.sign(&access());
    let (h, p, s) = segments(&token);
    let header_json = header(&f.es).to_string();
    let payload_json = access().to_string();
    let mut forged: Vec<(String, String)> = vec![
        ("padded signature".into(), format!("{h}.{p}.{}", URL_SAFE.encode(signature_of(&token)))),
        ("signature with '=' appended".into(), format!("{h}.{p}.{s}=")),
        ("standard alphabet signature".into(), standard_alphabet_forgery(&f.es)),
        ("space in signature".into(), format!("{h}.{p}.{} {}", &s[..10], &s[10..])),
        ("newline in payload".into(), format!("{h}.{}\n{}.{s}", &p[..10], &p[10..])),
        ("tab before header".into(), format!("\t{h}.{p}.{s}")),
        ("trailing newline".into(), format!("{token}\n")),
    ];
    // Non-zero unused bits in the signature's last character decode to the same bytes in lenient decoders.
    let last = s.chars().last().unwrap();
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let index = alphabet.find(last).unwrap();
    // 64 bytes → 86 characters: the last carries 2 bits and 4 unused ones.
    assert_eq!(s.len() % 4, 2);
    let sibling = alphabet.chars().nth(index | 1).unwrap();
    assert_ne!(sibling, last);
    forged.push(("unused bits set in the signature".into(), format!("{h}.{p}.{}{sibling}", &s[..s.len() - 1])));
    for (what, token) in &forged {
        assert!(verify(token).is_err(), "{what}");
    }
    // Non-canonical header or payload segments refused even when the issuer signed exactly those bytes.
    let padded_payload = URL_SAFE.encode(payload_json.as_bytes());
    let mut header_std = STANDARD_NO_PAD.encode(header_json.as_bytes());
    header_std.push('=');
    let cases = [
        (URL_SAFE.encode(header_json.as_bytes()), b64(payload_json.as_bytes())),
        (b64(header_json.as_bytes()), padded_payload),
        (format!("{} ", b64(header_json.as_bytes())), b64(payload_json.as_bytes())),
        (b64(header_json.as_bytes()), format!("{}%3D", b64(payload_json.as_bytes()))),
        (header_std, b64(payload_json.as_bytes())),
    ];
    for (header_b64, payload_b64) in cases {
        let token = sign_segments(&f.es, &header_b64, &payload_b64);
        assert!(matches!(refused(&token), TokenError::Malformed(_)), "{header_b64}.{payload_b64}");
    }
    // The payload padded with spaces so its encoding has unused bits, then one of them set.
    let mut padded_json = payload_json.clone();
    while padded_json.len() % 3 != 1 {
        padded_json.push(' ');
    }
    let canonical = b64(padded_json.as_bytes());
    verify(&sign_segments(&f.es, &b64(header_json.as_bytes()), &canonical)).unwrap();
    let last = canonical.chars().last().unwrap();
    let bumped = alphabet.chars().nth(alphabet.find(last).unwrap() | 1).unwrap();
    let forged = format!("{}{bumped}", &canonical[..canonical.len() - 1]);
    assert_ne!(forged, canonical);
    let token = sign_segments(&f.es, &b64(header_json.as_bytes()), &forged);
    assert_eq!(refused(&token), TokenError::Malformed("payload is not canonical base64url"));
}

#[test]
fn c18_huge_and_malformed_tokens() {
    let f = fixture();
    // Garbage that every later check would also refuse: the size answers first, before anything is decoded.
    let huge = "!".repeat(10 * 1024 * 1024);
    assert_eq!(refused(&huge), TokenError::TooLarge { len: 10 * 1024 * 1024, max: MAX });
    assert!(matches!(refused(&format!("{}.{}.{}", "a".repeat(MAX), "b", "c")), TokenError::TooLarge { .. }));
    let token = f.es.sign(&access());
    for bad in [
        String::new(),
        ".".into(),
        "..".into(),
        "...".into(),
        ".".repeat(5000),
        format!("{token}."),
        format!("{token}.e30"),
        format!("{token}..."),
        format!(".{token}"),
        token.replacen('.', "..", 1),
        "e30.e30.e30".into(),
        "\u{0}".into(),
        "é.é.é".into(),
    ] {
        assert!(verify(&bad).is_err(), "{bad:?}");
    }
    let h = header(&f.es).to_string();
    let body = access().to_string();
    let deep = format!("{},\"custom:x\":{}1{}}}", body.strip_suffix('}').unwrap(), "[".repeat(40), "]".repeat(40));
    let deep_header = format!("{},\"x\":{}1{}}}", h.strip_suffix('}').unwrap(), "{\"a\":".repeat(40), "}".repeat(40));
    for (header_bytes, payload) in [
        (h.clone(), format!("{body} x")),
        (h.clone(), format!("{body}{body}")),
        (h.clone(), format!("{body}\u{0}")),
        (h.clone(), "[]".to_owned()),
        (h.clone(), "null".to_owned()),
        (h.clone(), "\"claims\"".to_owned()),
        (h.clone(), format!("\u{feff}{body}")),
        (h.clone(), deep.clone()),
        (h.clone(), String::new()),
        (format!("{h} x"), body.clone()),
        ("[]".to_owned(), body.clone()),
        (deep_header, body.clone()),
    ] {
        let token = f.es.sign_raw(header_bytes.as_bytes(), payload.as_bytes());
        assert!(matches!(refused(&token), TokenError::Malformed(_)), "{header_bytes} / {payload}");
    }
    // Bytes that are not UTF-8.
    let token = f.es.sign_raw(h.as_bytes(), &[b'{', 0xff, b'}']);
    assert!(matches!(refused(&token), TokenError::Malformed(_)));
    // JSON whitespace around the object is allowed: it is still one object.
    verify(&f.es.sign_raw(format!(" {h}\r\n").as_bytes(), format!("\t{body} ").as_bytes())).unwrap();
}

#[test]
fn c19_malformed_signature_lengths_never_panic() {
    let f = fixture();
    let message = b"header.payload";
    for kid in ["rsa", "ps", "ec", "ed"] {
        let key = f.verifier.issuers()[0].keys().get(kid).unwrap();
        for len in 0..600 {
            for fill in [0u8, 1, 0x7f, 0x80, 0xff] {
                assert!(!key.verify(message, &vec![fill; len]), "{kid}: {len} bytes of {fill}");
            }
        }
    }
}
