//! JSON Web Keys from configuration, compiled into verifying keys that fix their own algorithm.

use super::rsa_verify::{RsaHash, RsaPadding, RsaVerifier};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::ecdsa::signature::DigestVerifier as _;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// RFC 7518 §3.3: RSA keys of fewer bits are refused at load.
const MIN_RSA_BITS: usize = 2048;

/// A JWK as written in configuration (Cognito publishes `kty`, `kid`, `alg`, `use`, `n`, `e`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJwk {
    pub kty: String,
    pub kid: String,
    pub alg: Option<String>,
    #[serde(rename = "use")]
    pub use_: Option<String>,
    pub key_ops: Option<Vec<String>>,
    pub n: Option<String>,
    pub e: Option<String>,
    pub crv: Option<String>,
    pub x: Option<String>,
    pub y: Option<String>,
    // Certificate members some identity providers publish; accepted and never used to find or build a key.
    pub x5c: Option<Vec<String>>,
    pub x5t: Option<String>,
    #[serde(rename = "x5t#S256")]
    pub x5t_s256: Option<String>,
}

/// A JWK Set as written in configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJwks {
    pub keys: Vec<RawJwk>,
}

/// The JWS algorithms the verifier supports; each key is bound to exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwsAlg {
    Rs256,
    Rs384,
    Rs512,
    Ps256,
    Ps384,
    Ps512,
    Es256,
    EdDsa,
}

impl JwsAlg {
    /// The `alg` name in a JWS header or JWK.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Rs384 => "RS384",
            Self::Rs512 => "RS512",
            Self::Ps256 => "PS256",
            Self::Ps384 => "PS384",
            Self::Ps512 => "PS512",
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }

    /// The algorithm named `name` exactly, if supported.
    pub fn parse_name(name: &str) -> Option<Self> {
        [Self::Rs256, Self::Rs384, Self::Rs512, Self::Ps256, Self::Ps384, Self::Ps512, Self::Es256, Self::EdDsa]
            .into_iter()
            .find(|alg| alg.name() == name)
    }

    fn rsa_padding(self) -> Option<RsaPadding> {
        match self {
            Self::Rs256 => Some(RsaPadding::Pkcs1v15(RsaHash::Sha256)),
            Self::Rs384 => Some(RsaPadding::Pkcs1v15(RsaHash::Sha384)),
            Self::Rs512 => Some(RsaPadding::Pkcs1v15(RsaHash::Sha512)),
            Self::Ps256 => Some(RsaPadding::Pss(RsaHash::Sha256)),
            Self::Ps384 => Some(RsaPadding::Pss(RsaHash::Sha384)),
            Self::Ps512 => Some(RsaPadding::Pss(RsaHash::Sha512)),
            Self::Es256 | Self::EdDsa => None,
        }
    }
}

#[derive(Debug)]
enum KeyMaterial {
    Rsa(Box<RsaVerifier>),
    P256(p256::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

/// A validated public key, bound to one algorithm by configuration.
#[derive(Debug)]
pub struct VerifyingKey {
    kid: String,
    alg: JwsAlg,
    material: KeyMaterial,
}

/// Why a JWK was refused at load; the caller adds the configuration path.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("`{0}` is required")]
    Missing(&'static str),
    #[error("`{field}` must not be present for kty `{kty}`")]
    Unexpected { field: &'static str, kty: String },
    #[error("unsupported algorithm `{0}` (supported: RS256, RS384, RS512, PS256, PS384, PS512, ES256, EdDSA)")]
    UnsupportedAlg(String),
    #[error("algorithm `{alg}` does not fit key type `{kty}`")]
    AlgKtyMismatch { alg: String, kty: String },
    #[error("`use` is `{0}`; only `sig` keys verify tokens")]
    NotSig(String),
    #[error("`key_ops` does not include `verify`")]
    NoVerifyOp,
    #[error("`{0}` is not canonical base64url without padding")]
    Base64(&'static str),
    #[error("RSA modulus has {bits} bits; at least {MIN_RSA_BITS} are required")]
    WeakRsa { bits: usize },
    #[error("RSA modulus has the ROCA fingerprint (CVE-2017-15361): its private key can be computed")]
    RocaVulnerable,
    #[error("invalid RSA key: {0}")]
    Rsa(String),
    #[error("unsupported curve `{0}`")]
    UnsupportedCurve(String),
    #[error("the point is not on curve P-256")]
    NotOnCurve,
    #[error("invalid Ed25519 public key")]
    BadEd25519,
    #[error("`kid` is empty: every key needs a name tokens can give")]
    EmptyKid,
}

fn b64(field: &'static str, value: &str) -> Result<Vec<u8>, KeyError> {
    URL_SAFE_NO_PAD.decode(value).map_err(|_| KeyError::Base64(field))
}

fn required<'a>(field: &'static str, value: &'a Option<String>) -> Result<&'a str, KeyError> {
    value.as_deref().ok_or(KeyError::Missing(field))
}

fn absent(field: &'static str, value: &Option<String>, kty: &str) -> Result<(), KeyError> {
    match value {
        Some(_) => Err(KeyError::Unexpected { field, kty: kty.to_owned() }),
        None => Ok(()),
    }
}

/// The small primes of the ROCA test (Nemec et al., CCS 2017): every modulus made by the flawed Infineon
/// generator is, modulo each of them, a power of 65537.
const ROCA_PRIMES: [u32; 38] = [
    3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 101, 103, 107, 109,
    113, 127, 131, 137, 139, 149, 151, 157, 163, 167,
];

/// Whether `n` (big-endian) lies, modulo every ROCA prime, in the subgroup 65537 generates. A sound key does so
/// with a probability far below 2^-100; an Infineon key always does.
fn has_roca_fingerprint(n: &[u8]) -> bool {
    ROCA_PRIMES.iter().all(|&p| {
        let residue = n.iter().fold(0u32, |acc, &byte| (acc * 256 + u32::from(byte)) % p);
        let generator = 65_537 % p;
        let mut power = 1;
        loop {
            if power == residue {
                return true;
            }
            power = power * generator % p;
            if power == 1 {
                return false;
            }
        }
    })
}

/// The number of bits of a big-endian number without leading zero octets.
fn bit_length(value: &[u8]) -> usize {
    value.first().map_or(0, |&first| 8 * value.len() - first.leading_zeros() as usize)
}

/// The checks the `rsa` crate applies to a public key (rsa 0.9 `check_public`), in its order and words, so that
/// keys are refused exactly as before without linking a second bignum implementation into the filter: at most
/// 4096 bits, an odd modulus above the exponent, an odd exponent from 2 to 2^33 - 1. `n` and `e` are big-endian
/// without leading zero octets.
fn check_rsa_public(n: &[u8], e: &[u8]) -> Result<(), KeyError> {
    let refuse = |why: &str| Err(KeyError::Rsa(why.to_owned()));
    if bit_length(n) > 4096 {
        return refuse("modulus too large");
    }
    if e.len() > 8 {
        return refuse("public exponent too large");
    }
    let exponent = e.iter().fold(0u64, |acc, &byte| (acc << 8) | u64::from(byte));
    let exponent_below_modulus = e.len() < n.len() || (e.len() == n.len() && e < n);
    if !exponent_below_modulus || n.last().is_none_or(|&low| low & 1 == 0) {
        return refuse("invalid modulus");
    }
    if exponent & 1 == 0 {
        return refuse("invalid exponent");
    }
    if exponent < 2 {
        return refuse("public exponent too small");
    }
    if exponent > (1 << 33) - 1 {
        return refuse("public exponent too large");
    }
    Ok(())
}

impl TryFrom<&RawJwk> for VerifyingKey {
    type Error = KeyError;

    fn try_from(raw: &RawJwk) -> Result<Self, KeyError> {
        if raw.kid.is_empty() {
            return Err(KeyError::EmptyKid);
        }
        if let Some(use_) = &raw.use_ {
            if use_ != "sig" {
                return Err(KeyError::NotSig(use_.clone()));
            }
        }
        if let Some(ops) = &raw.key_ops {
            if !ops.iter().any(|op| op == "verify") {
                return Err(KeyError::NoVerifyOp);
            }
        }
        // The algorithm is part of the key's configuration: a token never chooses it. RSA keys cannot say by
        // themselves whether they are for PKCS#1 v1.5 or PSS, so `alg` is required for every key.
        let alg_name = required("alg", &raw.alg)?;
        let alg = JwsAlg::parse_name(alg_name).ok_or_else(|| KeyError::UnsupportedAlg(alg_name.to_owned()))?;
        let mismatch = || KeyError::AlgKtyMismatch { alg: alg_name.to_owned(), kty: raw.kty.clone() };
        let material = match raw.kty.as_str() {
            "RSA" => {
                let padding = alg.rsa_padding().ok_or_else(mismatch)?;
                for (field, value) in [("crv", &raw.crv), ("x", &raw.x), ("y", &raw.y)] {
                    absent(field, value, &raw.kty)?;
                }
                let n = b64("n", required("n", &raw.n)?)?;
                let e = b64("e", required("e", &raw.e)?)?;
                if n.first() == Some(&0) || e.first() == Some(&0) {
                    return Err(KeyError::Rsa("leading zero octets in `n` or `e`".to_owned()));
                }
                check_rsa_public(&n, &e)?;
                let bits = bit_length(&n);
                if bits < MIN_RSA_BITS {
                    return Err(KeyError::WeakRsa { bits });
                }
                if has_roca_fingerprint(&n) {
                    return Err(KeyError::RocaVulnerable);
                }
                let verifier = RsaVerifier::new(&n, &e, padding).map_err(|err| KeyError::Rsa(err.to_string()))?;
                KeyMaterial::Rsa(Box::new(verifier))
            }
            "EC" => {
                if alg != JwsAlg::Es256 {
                    return Err(mismatch());
                }
                absent("n", &raw.n, &raw.kty)?;
                absent("e", &raw.e, &raw.kty)?;
                let crv = required("crv", &raw.crv)?;
                if crv != "P-256" {
                    return Err(KeyError::UnsupportedCurve(crv.to_owned()));
                }
                let x = b64("x", required("x", &raw.x)?)?;
                let y = b64("y", required("y", &raw.y)?)?;
                let x: [u8; 32] = x.as_slice().try_into().map_err(|_| KeyError::NotOnCurve)?;
                let y: [u8; 32] = y.as_slice().try_into().map_err(|_| KeyError::NotOnCurve)?;
                let point = p256::EncodedPoint::from_affine_coordinates(&x.into(), &y.into(), false);
                let key = p256::ecdsa::VerifyingKey::from_encoded_point(&point).map_err(|_| KeyError::NotOnCurve)?;
                KeyMaterial::P256(key)
            }
            "OKP" => {
                if alg != JwsAlg::EdDsa {
                    return Err(mismatch());
                }
                absent("n", &raw.n, &raw.kty)?;
                absent("e", &raw.e, &raw.kty)?;
                absent("y", &raw.y, &raw.kty)?;
                let crv = required("crv", &raw.crv)?;
                if crv != "Ed25519" {
                    return Err(KeyError::UnsupportedCurve(crv.to_owned()));
                }
                let x = b64("x", required("x", &raw.x)?)?;
                let bytes: [u8; 32] = x.as_slice().try_into().map_err(|_| KeyError::BadEd25519)?;
                let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::BadEd25519)?;
                if key.is_weak() {
                    return Err(KeyError::BadEd25519);
                }
                KeyMaterial::Ed25519(key)
            }
            _ => return Err(mismatch()),
        };
        Ok(Self { kid: raw.kid.clone(), alg, material })
    }
}

impl VerifyingKey {
    /// The key id tokens name in their header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The one algorithm this key verifies.
    pub fn alg(&self) -> JwsAlg {
        self.alg
    }

    /// Checks `signature` over `message` with this key's own algorithm. Every length is checked here, before any
    /// library sees the bytes, so malformed signatures are a `false`, never a panic.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match &self.material {
            // Length, s < n (so that s + n is not a second spelling of one token) and the padding: rsa_verify.rs.
            KeyMaterial::Rsa(verifier) => verifier.verify(message, signature),
            KeyMaterial::P256(key) => {
                // JWS carries ECDSA signatures as r || s (IEEE P1363), exactly 64 bytes; DER is refused.
                if signature.len() != 64 {
                    return false;
                }
                // `try_from` refuses r or s equal to zero or not below the group order (CVE-2022-21449).
                match p256::ecdsa::Signature::try_from(signature) {
                    Ok(sig) => key.verify_digest(Sha256::new_with_prefix(message), &sig).is_ok(),
                    Err(_) => false,
                }
            }
            KeyMaterial::Ed25519(key) => {
                if signature.len() != ed25519_dalek::SIGNATURE_LENGTH {
                    return false;
                }
                match ed25519_dalek::Signature::from_slice(signature) {
                    Ok(sig) => ed25519_dalek::Verifier::verify(key, message, &sig).is_ok(),
                    Err(_) => false,
                }
            }
        }
    }
}

/// The keys of one issuer, looked up by `kid` only.
#[derive(Debug, Default)]
pub struct KeySet {
    keys: Vec<VerifyingKey>,
}

impl KeySet {
    /// Adds a key; a second key with the same `kid` is refused (returning that kid), since a lookup must name
    /// exactly one key.
    pub fn insert(&mut self, key: VerifyingKey) -> Result<(), String> {
        if self.get(key.kid()).is_some() {
            return Err(key.kid);
        }
        self.keys.push(key);
        Ok(())
    }

    /// The key whose `kid` is exactly `kid` (compared as bytes, never interpreted).
    pub fn get(&self, kid: &str) -> Option<&VerifyingKey> {
        self.keys.iter().find(|key| key.kid == kid)
    }

    /// How many keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}
