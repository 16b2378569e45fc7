//! Development keys and Cognito-shaped tokens, minted at run time for tests, benchmarks and `authz token`.
//! Native only; nothing here is compiled into the library.

/// The algorithms keys are minted for, as the library names them. Re-exported so that the library's own unit
/// tests, which link this crate against a second build of the library, can name the type [`DevKey`] takes.
pub use authz::token::JwsAlg;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use jwt_compact::alg::{Ed25519, Es256, Hs256, Hs256Key, Rsa, RsaPrivateKey};
use jwt_compact::{Algorithm, AlgorithmSignature};
use rand::RngCore;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::BigUint;
use serde_json::{json, Map, Value};

/// Why a development key could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum MintError {
    #[error("key generation failed: {0}")]
    Generate(String),
    #[error("private key file: {0}")]
    Read(String),
}

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

fn b64(bytes: &[u8]) -> String {
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
        let key = RsaPrivateKey::new(&mut rand::rngs::OsRng, bits).map_err(|err| MintError::Generate(err.to_string()))?;
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
            let text = jwk.get(name).and_then(Value::as_str).ok_or_else(|| MintError::Read(format!("`{name}` is missing")))?;
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
                Secret::Es256(p256::ecdsa::SigningKey::from_bytes(&d.into()).map_err(|err| MintError::Read(err.to_string()))?)
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

/// Ways to spoil a token while or after signing it, for attack corpora. Each names what an attacker (or a
/// sloppy issuer) would send; none of them may be accepted, except [`Tamper::EcdsaHighS`], which is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tamper {
    /// `header.payload.` (as `alg: none` tokens are sent).
    StripSignature,
    /// The last signature bit flipped.
    FlipSignatureBit,
    /// The last signature byte dropped.
    TruncateSignature,
    /// A zero byte appended to the signature.
    ExtendSignature,
    /// A zero byte prepended to the signature.
    PrependZero,
    /// As many zero bytes as the signature had.
    ZeroSignature,
    /// ES256 `r = s = 0` ("psychic signature", CVE-2022-21449).
    EcdsaZero,
    /// ES256 `r` replaced by the group order n.
    EcdsaRIsN,
    /// ES256 `s` replaced by the group order n.
    EcdsaSIsN,
    /// ES256 `s` replaced by `n - s`: the other valid signature.
    EcdsaHighS,
    /// ES256 signature in DER form instead of JWS's `r || s`.
    EcdsaDer,
    /// HMAC-SHA256 keyed with the public JWK text instead of the key's own signature (algorithm confusion).
    Hs256WithPublicKey,
    /// `=` padding on the header segment (signed as sent).
    PadHeader,
    /// `=` padding on the payload segment (signed as sent).
    PadPayload,
    /// `=` padding on the signature segment.
    PadSignature,
    /// The signature in the `+/` alphabet.
    StdAlphabetSignature,
    /// An unused bit set in the payload segment's last character (signed as sent).
    TrailingBitsPayload,
    /// An unused bit set in the signature segment's last character.
    TrailingBitsSignature,
}

impl std::str::FromStr for Tamper {
    type Err = MintError;

    fn from_str(name: &str) -> Result<Self, MintError> {
        Ok(match name {
            "strip_signature" => Self::StripSignature,
            "flip_signature_bit" => Self::FlipSignatureBit,
            "truncate_signature" => Self::TruncateSignature,
            "extend_signature" => Self::ExtendSignature,
            "prepend_zero" => Self::PrependZero,
            "zero_signature" => Self::ZeroSignature,
            "ecdsa_zero" => Self::EcdsaZero,
            "ecdsa_r_is_n" => Self::EcdsaRIsN,
            "ecdsa_s_is_n" => Self::EcdsaSIsN,
            "ecdsa_high_s" => Self::EcdsaHighS,
            "ecdsa_der" => Self::EcdsaDer,
            "hs256_with_public_key" => Self::Hs256WithPublicKey,
            "pad_header" => Self::PadHeader,
            "pad_payload" => Self::PadPayload,
            "pad_signature" => Self::PadSignature,
            "std_alphabet_signature" => Self::StdAlphabetSignature,
            "trailing_bits_payload" => Self::TrailingBitsPayload,
            "trailing_bits_signature" => Self::TrailingBitsSignature,
            other => return Err(MintError::Generate(format!("unknown tamper `{other}`"))),
        })
    }
}

/// The order of the P-256 group.
const P256_ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa,
    0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];
const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Sets the lowest unused bit of the last character of an unpadded base64url segment, if it has unused bits.
fn set_unused_bit(segment: &str) -> Option<String> {
    let last = *segment.as_bytes().last()?;
    let index = BASE64URL.iter().position(|&c| c == last)?;
    let bumped = match segment.len() % 4 {
        2 => index | 0x01,
        3 => index | 0x01,
        _ => return None,
    };
    let mut out = segment.get(..segment.len() - 1)?.to_owned();
    out.push(char::from(*BASE64URL.get(bumped)?));
    (out != segment).then_some(out)
}

/// A DER INTEGER holding the big-endian unsigned `bytes`.
pub fn der_integer(bytes: &[u8]) -> Vec<u8> {
    let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    let mut body = if trimmed.first().is_some_and(|b| b & 0x80 != 0) { vec![0] } else { Vec::new() };
    body.extend(trimmed);
    let mut out = vec![0x02, body.len() as u8];
    out.extend(body);
    out
}

fn ecdsa_halves(signature: &[u8]) -> Result<(&[u8], &[u8]), MintError> {
    if signature.len() != 64 {
        return Err(MintError::Generate("an ECDSA tamper needs an ES256 key".into()));
    }
    Ok(signature.split_at(32))
}

fn pad_json_to(text: &str, wanted_remainder: usize) -> String {
    // JSON allows trailing whitespace, so the length (and with it the base64 tail) can be chosen.
    let mut text = text.to_owned();
    while text.len() % 3 != wanted_remainder {
        text.push(' ');
    }
    text
}

impl DevKey {
    /// Signs exact `header` and `payload` text, spoiled by each of `tamper` in turn.
    pub fn forge(&self, header: &str, payload: &str, tamper: &[Tamper]) -> Result<String, MintError> {
        let has = |t: Tamper| tamper.contains(&t);
        let header = if has(Tamper::PadHeader) { pad_json_to(header, 1) } else { header.to_owned() };
        let payload = if has(Tamper::PadPayload) || has(Tamper::TrailingBitsPayload) { pad_json_to(payload, 1) } else { payload.to_owned() };
        let header_b64 = if has(Tamper::PadHeader) { URL_SAFE.encode(header.as_bytes()) } else { b64(header.as_bytes()) };
        let mut payload_b64 = if has(Tamper::PadPayload) { URL_SAFE.encode(payload.as_bytes()) } else { b64(payload.as_bytes()) };
        if has(Tamper::TrailingBitsPayload) {
            payload_b64 = set_unused_bit(&payload_b64).ok_or_else(|| MintError::Generate("no unused bits".into()))?;
        }
        let signing_input = format!("{header_b64}.{payload_b64}");
        let mut signature = if has(Tamper::Hs256WithPublicKey) {
            let secret = self.public_jwk().to_string();
            Hs256.sign(&Hs256Key::new(secret.as_bytes()), signing_input.as_bytes()).as_bytes().into_owned()
        } else {
            self.signature(signing_input.as_bytes())
        };
        for step in tamper {
            signature = match step {
                Tamper::FlipSignatureBit => {
                    let mut bytes = signature;
                    if let Some(last) = bytes.last_mut() {
                        *last ^= 1;
                    }
                    bytes
                }
                Tamper::TruncateSignature => signature.get(..signature.len().saturating_sub(1)).unwrap_or_default().to_vec(),
                Tamper::ExtendSignature => [signature, vec![0]].concat(),
                Tamper::PrependZero => [vec![0], signature].concat(),
                Tamper::ZeroSignature => vec![0; signature.len()],
                Tamper::EcdsaZero => {
                    ecdsa_halves(&signature)?;
                    vec![0; 64]
                }
                Tamper::EcdsaRIsN => [&P256_ORDER[..], ecdsa_halves(&signature)?.1].concat(),
                Tamper::EcdsaSIsN => [ecdsa_halves(&signature)?.0, &P256_ORDER[..]].concat(),
                Tamper::EcdsaHighS => {
                    ecdsa_halves(&signature)?;
                    let parsed = p256::ecdsa::Signature::from_slice(&signature).map_err(|err| MintError::Generate(err.to_string()))?;
                    let (r, s) = parsed.split_scalars();
                    p256::ecdsa::Signature::from_scalars(r.to_bytes(), (-s).to_bytes())
                        .map_err(|err| MintError::Generate(err.to_string()))?
                        .to_vec()
                }
                Tamper::EcdsaDer => {
                    let (r, s) = ecdsa_halves(&signature)?;
                    let body = [der_integer(r), der_integer(s)].concat();
                    [vec![0x30, body.len() as u8], body].concat()
                }
                _ => signature,
            };
        }
        let signature_b64 = if has(Tamper::StripSignature) {
            String::new()
        } else if has(Tamper::PadSignature) {
            URL_SAFE.encode(&signature)
        } else if has(Tamper::StdAlphabetSignature) {
            let standard = STANDARD_NO_PAD.encode(&signature);
            if standard == b64(&signature) {
                return Err(MintError::Generate("the signature has no `-` or `_` to change".into()));
            }
            standard
        } else if has(Tamper::TrailingBitsSignature) {
            set_unused_bit(&b64(&signature)).ok_or_else(|| MintError::Generate("no unused bits".into()))?
        } else {
            b64(&signature)
        };
        Ok(format!("{signing_input}.{signature_b64}"))
    }
}

/// The claims of a Cognito access or ID token; fields map one to one onto the real tokens.
#[derive(Debug, Clone)]
pub struct CognitoClaims {
    pub issuer: String,
    pub token_use: &'static str,
    pub client_id: String,
    pub sub: String,
    pub username: Option<String>,
    pub groups: Vec<String>,
    pub scopes: Vec<String>,
    pub issued_at: u64,
    pub expires_at: u64,
}

impl CognitoClaims {
    /// An access token for user `username` of `client_id`, valid for an hour from `now`.
    pub fn access(issuer: &str, client_id: &str, username: &str, now: u64) -> Self {
        Self {
            issuer: issuer.to_owned(),
            token_use: "access",
            client_id: client_id.to_owned(),
            sub: format!("sub-{username}"),
            username: Some(username.to_owned()),
            groups: Vec::new(),
            scopes: vec!["aws.cognito.signin.user.admin".to_owned()],
            issued_at: now,
            expires_at: now + 3600,
        }
    }

    /// An ID token for user `username` of `client_id`, valid for an hour from `now`.
    pub fn id(issuer: &str, client_id: &str, username: &str, now: u64) -> Self {
        Self { token_use: "id", scopes: Vec::new(), ..Self::access(issuer, client_id, username, now) }
    }

    /// A client-credentials access token: no user, no groups, `sub` is the client id.
    pub fn client_credentials(issuer: &str, client_id: &str, scopes: &[&str], now: u64) -> Self {
        Self {
            sub: client_id.to_owned(),
            username: None,
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            ..Self::access(issuer, client_id, "", now)
        }
    }

    /// Replaces the groups.
    pub fn groups(mut self, groups: &[&str]) -> Self {
        self.groups = groups.iter().map(|g| (*g).to_owned()).collect();
        self
    }

    /// Replaces the scopes.
    pub fn scopes(mut self, scopes: &[&str]) -> Self {
        self.scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    /// Sets the validity window.
    pub fn valid(mut self, issued_at: u64, expires_at: u64) -> Self {
        self.issued_at = issued_at;
        self.expires_at = expires_at;
        self
    }

    /// The JSON payload, shaped exactly like Cognito's.
    pub fn to_json(&self) -> Value {
        let mut claims = Map::new();
        claims.insert("sub".into(), self.sub.clone().into());
        if !self.groups.is_empty() {
            claims.insert("cognito:groups".into(), self.groups.clone().into());
        }
        claims.insert("iss".into(), self.issuer.clone().into());
        claims.insert("token_use".into(), self.token_use.into());
        claims.insert("auth_time".into(), self.issued_at.into());
        claims.insert("exp".into(), self.expires_at.into());
        claims.insert("iat".into(), self.issued_at.into());
        claims.insert("jti".into(), format!("jti-{}-{}", self.sub, self.issued_at).into());
        claims.insert("origin_jti".into(), format!("ojti-{}-{}", self.sub, self.issued_at).into());
        if self.token_use == "id" {
            claims.insert("aud".into(), self.client_id.clone().into());
            if let Some(username) = &self.username {
                claims.insert("cognito:username".into(), username.clone().into());
            }
            claims.insert("email_verified".into(), true.into());
        } else {
            claims.insert("client_id".into(), self.client_id.clone().into());
            claims.insert("scope".into(), self.scopes.join(" ").into());
            claims.insert("version".into(), 2.into());
            if let Some(username) = &self.username {
                claims.insert("username".into(), username.clone().into());
            }
        }
        Value::Object(claims)
    }
}
