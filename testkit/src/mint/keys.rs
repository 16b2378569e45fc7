//! Development keys: generated, read from and written to private JWKs, and signing.

use super::{JwsAlg, MintError};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jwt_compact::alg::{Ed25519, Es256, Rsa, RsaPrivateKey};
use jwt_compact::{Algorithm, AlgorithmSignature};
use rand::RngCore;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::BigUint;
use serde_json::{json, Value};

enum Secret {
    Rsa { key: Box<RsaPrivateKey>, alg: Rsa },
    Es256(p256::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
}

/// A private signing key with its `kid` and algorithm.
pub struct DevKey {
    kid: String,
    alg: JwsAlg,
    secret: Secret,
}

/// Unpadded base64url, as JWS segments and JWK members are written.
pub(super) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn rsa_alg(alg: JwsAlg) -> Option<Rsa> {
    match alg {
        JwsAlg::Rs256 => Some(Rsa::rs256()),
        JwsAlg::Rs384 => Some(Rsa::rs384()),
        JwsAlg::Rs512 => Some(Rsa::rs512()),
        JwsAlg::Ps256 => Some(Rsa::ps256()),
        JwsAlg::Ps384 => Some(Rsa::ps384()),
        JwsAlg::Ps512 => Some(Rsa::ps512()),
        JwsAlg::Es256 | JwsAlg::EdDsa => None,
    }
}

impl DevKey {
    /// A fresh 2048-bit RS256 key, as Cognito uses.
    pub fn generate_rsa(kid: &str) -> Result<Self, MintError> {
        Self::generate_rsa_with(kid, 2048, JwsAlg::Rs256)
    }

    /// A fresh RSA key of `bits` bits for an RS* or PS* algorithm.
    pub fn generate_rsa_with(kid: &str, bits: usize, alg: JwsAlg) -> Result<Self, MintError> {
        let rsa = rsa_alg(alg).ok_or_else(|| MintError::Generate(format!("{} is not an RSA algorithm", alg.name())))?;
        let key =
            RsaPrivateKey::new(&mut rand::rngs::OsRng, bits).map_err(|err| MintError::Generate(err.to_string()))?;
        Ok(Self { kid: kid.to_owned(), alg, secret: Secret::Rsa { key: Box::new(key), alg: rsa } })
    }

    /// A fresh ES256 (P-256) key.
    pub fn generate_es256(kid: &str) -> Result<Self, MintError> {
        loop {
            let mut seed = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut seed);
            if let Ok(key) = p256::ecdsa::SigningKey::from_bytes(&seed.into()) {
                return Ok(Self { kid: kid.to_owned(), alg: JwsAlg::Es256, secret: Secret::Es256(key) });
            }
        }
    }

    /// A fresh Ed25519 key.
    pub fn generate_ed25519(kid: &str) -> Result<Self, MintError> {
        let mut seed = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut seed);
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        Ok(Self { kid: kid.to_owned(), alg: JwsAlg::EdDsa, secret: Secret::Ed25519(key) })
    }

    /// The algorithm this key signs with.
    pub fn alg(&self) -> JwsAlg {
        self.alg
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public JWK, with `use: sig` and `alg`, as a JWKS publishes it.
    pub fn public_jwk(&self) -> Value {
        match &self.secret {
            Secret::Rsa { key, .. } => json!({
                "kty": "RSA", "kid": self.kid, "alg": self.alg.name(), "use": "sig",
                "n": b64(&key.n().to_bytes_be()), "e": b64(&key.e().to_bytes_be()),
            }),
            Secret::Es256(key) => {
                let point = key.verifying_key().to_encoded_point(false);
                json!({
                    "kty": "EC", "kid": self.kid, "alg": "ES256", "use": "sig", "crv": "P-256",
                    "x": b64(point.x().map(|x| &x[..]).unwrap_or_default()),
                    "y": b64(point.y().map(|y| &y[..]).unwrap_or_default()),
                })
            }
            Secret::Ed25519(key) => json!({
                "kty": "OKP", "kid": self.kid, "alg": "EdDSA", "use": "sig", "crv": "Ed25519",
                "x": b64(key.verifying_key().as_bytes()),
            }),
        }
    }

    /// `{"keys": [public JWK]}`.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.public_jwk()] })
    }

    /// The private key as a JWK (RFC 7518 §6.3.2 / §6.2.2 / RFC 8037), for `authz keygen` files.
    pub fn private_jwk(&self) -> Value {
        let mut jwk = self.public_jwk();
        if let Value::Object(map) = &mut jwk {
            match &self.secret {
                Secret::Rsa { key, .. } => {
                    map.insert("d".into(), b64(&key.d().to_bytes_be()).into());
                    let primes: Vec<Value> = key.primes().iter().map(|p| b64(&p.to_bytes_be()).into()).collect();
                    if let [p, q] = primes.as_slice() {
                        map.insert("p".into(), p.clone());
                        map.insert("q".into(), q.clone());
                    }
                }
                Secret::Es256(key) => {
                    map.insert("d".into(), b64(&key.to_bytes()).into());
                }
                Secret::Ed25519(key) => {
                    map.insert("d".into(), b64(key.as_bytes()).into());
                }
            }
        }
        jwk
    }

    /// Reads a key written by [`DevKey::private_jwk`].
    pub fn from_private_jwk(jwk: &Value) -> Result<Self, MintError> {
        let field = |name: &str| -> Result<Vec<u8>, MintError> {
            let text =
                jwk.get(name).and_then(Value::as_str).ok_or_else(|| MintError::Read(format!("`{name}` is missing")))?;
            URL_SAFE_NO_PAD.decode(text).map_err(|_| MintError::Read(format!("`{name}` is not base64url")))
        };
        let text = |name: &str| jwk.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
        let kid = text("kid");
        let alg = JwsAlg::parse_name(&text("alg")).ok_or_else(|| MintError::Read("unknown `alg`".into()))?;
        let secret = match text("kty").as_str() {
            "RSA" => {
                let big = |name: &str| field(name).map(|bytes| BigUint::from_bytes_be(&bytes));
                let key = RsaPrivateKey::from_components(big("n")?, big("e")?, big("d")?, vec![big("p")?, big("q")?])
                    .map_err(|err| MintError::Read(err.to_string()))?;
                let rsa = rsa_alg(alg).ok_or_else(|| MintError::Read("`alg` does not fit `kty`".into()))?;
                Secret::Rsa { key: Box::new(key), alg: rsa }
            }
            "EC" => {
                let d: [u8; 32] = field("d")?.try_into().map_err(|_| MintError::Read("`d` is not 32 bytes".into()))?;
                Secret::Es256(
                    p256::ecdsa::SigningKey::from_bytes(&d.into()).map_err(|err| MintError::Read(err.to_string()))?,
                )
            }
            "OKP" => {
                let d: [u8; 32] = field("d")?.try_into().map_err(|_| MintError::Read("`d` is not 32 bytes".into()))?;
                Secret::Ed25519(ed25519_dalek::SigningKey::from_bytes(&d))
            }
            other => return Err(MintError::Read(format!("unsupported kty `{other}`"))),
        };
        Ok(Self { kid, alg, secret })
    }

    /// Signs `claims` with the header Cognito writes: `{"kid": ..., "alg": ...}`.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with_header(&json!({ "kid": self.kid, "alg": self.alg.name() }), claims)
    }

    /// Signs `claims` under an arbitrary `header`, for tests that forge headers.
    pub fn sign_with_header(&self, header: &Value, claims: &Value) -> String {
        self.sign_raw(header.to_string().as_bytes(), claims.to_string().as_bytes())
    }

    /// Signs raw header and payload bytes, for tests that need exact bytes (duplicate keys, odd JSON).
    pub fn sign_raw(&self, header: &[u8], payload: &[u8]) -> String {
        let signing_input = format!("{}.{}", b64(header), b64(payload));
        let signature = self.signature(signing_input.as_bytes());
        format!("{signing_input}.{}", b64(&signature))
    }

    /// The raw signature over `message`.
    pub fn signature(&self, message: &[u8]) -> Vec<u8> {
        match &self.secret {
            Secret::Rsa { key, alg } => alg.sign(key, message).as_bytes().into_owned(),
            Secret::Es256(key) => Es256.sign(key, message).as_bytes().into_owned(),
            Secret::Ed25519(key) => Ed25519.sign(key, message).as_bytes().into_owned(),
        }
    }
}
