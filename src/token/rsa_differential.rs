//! The hand-assembled RSA verifier (rsa_verify.rs, through `VerifyingKey::verify`) against the `rsa` crate's
//! verification through jwt-compact (the path it replaced), on random keys of every supported size: valid
//! signatures, tampered signatures and messages, out-of-range representatives, wrong lengths, every other RSA
//! algorithm, other PSS salt lengths, and encoded messages altered before signing (so that the padding checks,
//! not only the arithmetic, are compared). The seed is printed; `RSA_DIFF_SEED=<n>` replays a run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use super::{JwsAlg, RawJwk, VerifyingKey};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jwt_compact::alg::{Rsa, RsaPrivateKey, RsaPublicKey, RsaSignature};
use jwt_compact::{Algorithm, AlgorithmSignature};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::BigUint;
use sha2::{Digest, Sha256, Sha384, Sha512};

const ALGS: [JwsAlg; 6] = [JwsAlg::Rs256, JwsAlg::Rs384, JwsAlg::Rs512, JwsAlg::Ps256, JwsAlg::Ps384, JwsAlg::Ps512];

fn jwt_rsa(alg: JwsAlg) -> Rsa {
    match alg {
        JwsAlg::Rs256 => Rsa::rs256(),
        JwsAlg::Rs384 => Rsa::rs384(),
        JwsAlg::Rs512 => Rsa::rs512(),
        JwsAlg::Ps256 => Rsa::ps256(),
        JwsAlg::Ps384 => Rsa::ps384(),
        JwsAlg::Ps512 => Rsa::ps512(),
        JwsAlg::Es256 | JwsAlg::EdDsa => unreachable!(),
    }
}

/// The verification `VerifyingKey::verify` did before rsa_verify.rs, line for line.
fn old_verify(alg: &Rsa, key: &RsaPublicKey, message: &[u8], signature: &[u8]) -> bool {
    if signature.len() != key.size() {
        return false;
    }
    if BigUint::from_bytes_be(signature) >= *key.n() {
        return false;
    }
    match RsaSignature::try_from_slice(signature) {
        Ok(sig) => alg.verify_signature(&sig, key, message),
        Err(_) => false,
    }
}

/// A public key with one verifier per RSA algorithm: the new one and the old one.
struct Verifiers {
    public: RsaPublicKey,
    verifiers: Vec<(JwsAlg, VerifyingKey, Rsa)>,
}

impl Verifiers {
    fn new(public: RsaPublicKey) -> Self {
        let verifiers = ALGS
            .iter()
            .map(|&alg| {
                let jwk = serde_json::json!({
                    "kty": "RSA", "kid": "k", "alg": alg.name(),
                    "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
                    "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
                });
                let raw: RawJwk = serde_json::from_value(jwk).unwrap();
                (alg, VerifyingKey::try_from(&raw).unwrap(), jwt_rsa(alg))
            })
            .collect();
        Self { public, verifiers }
    }
}

struct Subject {
    private: RsaPrivateKey,
    public: RsaPublicKey,
    verifiers: Verifiers,
}

impl Subject {
    fn new(rng: &mut StdRng, bits: usize) -> Self {
        let private = RsaPrivateKey::new(rng, bits).unwrap();
        let public = private.to_public_key();
        Self { private, verifiers: Verifiers::new(public.clone()), public }
    }

    fn len(&self) -> usize {
        self.public.size()
    }

    fn sign(&self, alg: JwsAlg, message: &[u8]) -> Vec<u8> {
        jwt_rsa(alg).sign(&self.private, message).as_bytes().into_owned()
    }

    /// `value` as a k-octet signature (values of more octets are kept whole).
    fn octets(&self, value: &BigUint) -> Vec<u8> {
        let bytes = value.to_bytes_be();
        let mut padded = vec![0; self.len().saturating_sub(bytes.len())];
        padded.extend(bytes);
        padded
    }

    /// The signature whose RSAVP1 output is `encoded`, if `encoded` is below the modulus.
    fn raw_sign(&self, encoded: &[u8]) -> Option<Vec<u8>> {
        let m = BigUint::from_bytes_be(encoded);
        (m < *self.public.n()).then(|| self.octets(&m.modpow(self.private.d(), self.public.n())))
    }

    /// RSAVP1 of `signature`, as k octets.
    fn open(&self, signature: &[u8]) -> Vec<u8> {
        self.octets(&BigUint::from_bytes_be(signature).modpow(self.public.e(), self.public.n()))
    }
}

#[derive(Default, Debug)]
struct Tally {
    comparisons: usize,
    accepted: usize,
}

/// Both verifiers on one case, for the algorithms `only` names (all six if `None`); they must agree.
fn compare(keys: &Verifiers, only: Option<JwsAlg>, message: &[u8], signature: &[u8], what: &str, tally: &mut Tally) {
    for (alg, new, old) in &keys.verifiers {
        if only.is_some_and(|only| only != *alg) {
            continue;
        }
        let verdict = new.verify(message, signature);
        let before = old_verify(old, &keys.public, message, signature);
        assert_eq!(
            verdict,
            before,
            "{} bits, {}: {what}: new {verdict}, rsa crate {before}\nmessage {:02x?}\nsignature {:02x?}",
            keys.public.n().bits(),
            alg.name(),
            message,
            signature
        );
        tally.comparisons += 1;
        tally.accepted += usize::from(verdict);
    }
}

fn flip_bit(rng: &mut StdRng, bytes: &[u8]) -> Vec<u8> {
    let mut flipped = bytes.to_vec();
    if !flipped.is_empty() {
        let at = rng.gen_range(0..flipped.len());
        flipped[at] ^= 1 << rng.gen_range(0..8);
    }
    flipped
}

/// Edits an encoded message the way a forger or a sloppy signer would, one edit at a time.
fn alter(rng: &mut StdRng, encoded: &[u8]) -> Vec<u8> {
    let mut altered = encoded.to_vec();
    let last = altered.len() - 1;
    match rng.gen_range(0..7) {
        0 => return flip_bit(rng, encoded),
        // The head: 0x00 0x01 (PKCS#1) or the leftmost bits (PSS).
        1 => altered[rng.gen_range(0..3)] ^= 1 << rng.gen_range(0..8),
        // The tail: the digest or 0xbc.
        2 => altered[last - rng.gen_range(0..3)] ^= 1 << rng.gen_range(0..8),
        // The PKCS#1 separator and DigestInfo region, or PSS's H.
        3 => {
            let at = last - rng.gen_range(30..90).min(last);
            altered[at] = rng.gen();
        }
        // A shorter PS: the padding ends early and the rest shifts left.
        4 => {
            let cut = rng.gen_range(1..=last.min(250));
            altered.drain(2..2 + cut);
            altered.extend(std::iter::repeat_n(0, cut));
        }
        // Padding bytes that are not 0xff (PKCS#1) or a masked DB byte (PSS).
        5 => altered[rng.gen_range(2..12)] = rng.gen(),
        _ => altered[rng.gen_range(0..=last)] = rng.gen(),
    }
    altered
}

fn hashed(alg: JwsAlg, message: &[u8]) -> Vec<u8> {
    match alg {
        JwsAlg::Rs256 | JwsAlg::Ps256 => Sha256::digest(message).to_vec(),
        JwsAlg::Rs384 | JwsAlg::Ps384 => Sha384::digest(message).to_vec(),
        _ => Sha512::digest(message).to_vec(),
    }
}

/// A PSS signature with a salt of `salt_len` octets (JWS requires the hash's length).
fn pss_with_salt(rng: &mut StdRng, subject: &Subject, alg: JwsAlg, message: &[u8], salt_len: usize) -> Vec<u8> {
    let padding = match alg {
        JwsAlg::Ps256 => rsa::Pss::new_with_salt::<Sha256>(salt_len),
        JwsAlg::Ps384 => rsa::Pss::new_with_salt::<Sha384>(salt_len),
        _ => rsa::Pss::new_with_salt::<Sha512>(salt_len),
    };
    subject.private.sign_with_rng(rng, padding, &hashed(alg, message)).unwrap()
}

fn run(rng: &mut StdRng, bits: usize, messages: usize, tally: &mut Tally) {
    let start = std::time::Instant::now();
    let subject = Subject::new(rng, bits);
    eprintln!("{bits}-bit key generated in {:.1?}", start.elapsed());
    let n = subject.public.n().clone();
    let k = subject.len();
    let message = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0".to_vec();

    // Representatives out of range or at its edges, and wrong lengths, under every algorithm.
    let one = BigUint::from(1u8);
    for (what, signature) in [
        ("s = 0", vec![0; k]),
        ("s = 1", subject.octets(&one)),
        ("s = n - 1", subject.octets(&(&n - &one))),
        ("s = n", subject.octets(&n)),
        ("s = n + 1", subject.octets(&(&n + &one))),
        ("s = 2^8k - 1", vec![0xff; k]),
        ("empty", Vec::new()),
        ("one octet", vec![1]),
        ("k - 1 octets", subject.sign(JwsAlg::Rs256, &message)[1..].to_vec()),
        ("k + 1 octets", [&[0u8][..], &subject.sign(JwsAlg::Rs256, &message)].concat()),
        ("valid + n", subject.octets(&(BigUint::from_bytes_be(&subject.sign(JwsAlg::Rs256, &message)) + &n))),
    ] {
        compare(&subject.verifiers, None, &message, &signature, what, tally);
    }

    for index in 0..messages {
        let mut message = vec![0u8; rng.gen_range(0..1200)];
        rng.fill_bytes(&mut message);
        let alg = ALGS[index % ALGS.len()];
        let signature = subject.sign(alg, &message);

        // The valid signature under all six algorithms: accepted by its own only (PKCS#1 as PSS, wrong hash).
        let before = tally.accepted;
        compare(&subject.verifiers, None, &message, &signature, "valid signature", tally);
        assert_eq!(tally.accepted, before + 1, "{}: a valid signature was not accepted exactly once", alg.name());

        compare(&subject.verifiers, Some(alg), &message, &flip_bit(rng, &signature), "flipped signature bit", tally);
        compare(&subject.verifiers, Some(alg), &flip_bit(rng, &message), &signature, "flipped message bit", tally);
        let mut longer = message.clone();
        longer.push(rng.gen());
        compare(&subject.verifiers, Some(alg), &longer, &signature, "appended message octet", tally);

        // An encoded message altered, then signed, so that it decodes exactly to the alteration.
        if index % 2 == 0 {
            let encoded = subject.open(&signature);
            if let Some(forged) = subject.raw_sign(&alter(rng, &encoded)) {
                compare(&subject.verifiers, None, &message, &forged, "altered encoded message", tally);
            }
        }
        // PSS with another salt length than the hash's.
        if matches!(alg, JwsAlg::Ps256 | JwsAlg::Ps384 | JwsAlg::Ps512) && index % 4 == 3 {
            let h_len = hashed(alg, b"").len();
            for salt_len in [0, 20, h_len - 1, h_len + 1] {
                let signature = pss_with_salt(rng, &subject, alg, &message, salt_len);
                compare(&subject.verifiers, Some(alg), &message, &signature, "other salt length", tally);
            }
            let signature = pss_with_salt(rng, &subject, alg, &message, h_len);
            let before = tally.accepted;
            compare(&subject.verifiers, Some(alg), &message, &signature, "salt length = hash length", tally);
            assert_eq!(tally.accepted, before + 1);
        }
    }
}

#[test]
fn hand_assembled_rsa_agrees_with_the_rsa_crate() {
    let seed = std::env::var("RSA_DIFF_SEED").ok().and_then(|seed| seed.parse().ok()).unwrap_or_else(rand::random);
    eprintln!("RSA_DIFF_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut total = Tally::default();
    for (bits, keys, messages) in [(2048, 2, 180), (3072, 1, 96), (4096, 1, 36)] {
        let start = std::time::Instant::now();
        let mut tally = Tally::default();
        for _ in 0..keys {
            run(&mut rng, bits, messages, &mut tally);
        }
        eprintln!("{bits} bits, {keys} keys: {tally:?} in {:.1?}", start.elapsed());
        total.comparisons += tally.comparisons;
        total.accepted += tally.accepted;
    }
    eprintln!("total: {total:?}");
    assert!(total.comparisons > 5_000, "{total:?}");
}

/// Every Wycheproof RSA vector, under every RSA algorithm, gets the same verdict from both verifiers.
#[test]
fn wycheproof_rsa_vectors_agree_with_the_rsa_crate() {
    let mut tally = Tally::default();
    for (name, jwk_field) in [
        ("rsa_signature_2048_sha256_test.json", "keyJwk"),
        ("rsa_signature_2048_sha384_test.json", "keyJwk"),
        ("rsa_signature_2048_sha512_test.json", "keyJwk"),
        ("rsa_pss_2048_sha256_mgf1_32_test.json", "publicKeyJwk"),
    ] {
        let file = super::vectors::load(name);
        for group in file["testGroups"].as_array().unwrap() {
            let jwk = &group[jwk_field];
            let part = |field: &str| URL_SAFE_NO_PAD.decode(jwk[field].as_str().unwrap()).unwrap();
            let public =
                RsaPublicKey::new(BigUint::from_bytes_be(&part("n")), BigUint::from_bytes_be(&part("e"))).unwrap();
            let keys = Verifiers::new(public);
            for test in group["tests"].as_array().unwrap() {
                let message = super::vectors::hex(test["msg"].as_str().unwrap());
                let signature = super::vectors::hex(test["sig"].as_str().unwrap());
                compare(&keys, None, &message, &signature, &format!("{name} tcId {}", test["tcId"]), &mut tally);
            }
        }
    }
    eprintln!("Wycheproof RSA under six algorithms: {tally:?}");
    assert!(tally.comparisons > 5_000 && tally.accepted > 0, "{tally:?}");
}
