//! Token extraction, signature verification and Cognito claim rules.

mod cache;
mod claims;
mod extract;
mod jws;
mod keys;
mod rsa_verify;

#[cfg(test)]
mod attacks;
#[cfg(test)]
mod vectors;
#[cfg(test)]
mod rsa_differential;

pub use cache::TokenCache;
pub use claims::VerifiedToken;
pub use extract::{bearer_candidate, bearer_token, check_token_chars, AuthorizationError};
pub use keys::{JwsAlg, KeyError, KeySet, RawJwk, RawJwks, VerifyingKey};

/// Which Cognito token kind a token says it is (`token_use`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenUse {
    Access,
    Id,
}

impl TokenUse {
    /// The claim value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Id => "id",
        }
    }
}

/// The token kinds an issuer accepts.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenUses {
    pub access: bool,
    pub id: bool,
}

impl TokenUses {
    /// Whether `token_use` is accepted.
    pub fn allows(self, token_use: TokenUse) -> bool {
        match token_use {
            TokenUse::Access => self.access,
            TokenUse::Id => self.id,
        }
    }
}

/// One trusted Cognito user pool.
#[derive(Debug)]
pub struct Issuer {
    /// The exact `iss` value.
    pub issuer: String,
    /// Its signing keys.
    pub keys: KeySet,
    /// Accepted token kinds.
    pub token_use: TokenUses,
    /// Accepted app clients; `None` only when configuration explicitly turned the check off.
    pub client_ids: Option<Vec<String>>,
}

/// Why a token was refused. Details go to logs; clients only ever see 401.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TokenError {
    #[error("token is {len} bytes, over the limit of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    #[error("token header parameter `{0}` is not supported")]
    UnsupportedHeader(&'static str),
    #[error("token header has no `kid`")]
    MissingKid,
    #[error("issuer `{0}` is not trusted")]
    UnknownIssuer(String),
    #[error("no key `{kid}` for issuer `{issuer}`")]
    UnknownKid { issuer: String, kid: String },
    #[error("token `alg` is `{token}` but key `{kid}` is for `{key}`")]
    AlgorithmMismatch { token: String, key: &'static str, kid: String },
    #[error("signature does not verify")]
    BadSignature,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet (`nbf`)")]
    NotYetValid,
    #[error("token was issued in the future (`iat`)")]
    IssuedInFuture,
    #[error("claim `{0}` is missing")]
    MissingClaim(&'static str),
    #[error("claim `{claim}` is {why}")]
    InvalidClaim { claim: &'static str, why: &'static str },
    #[error("token_use `{0}` is not accepted")]
    TokenUseNotAllowed(String),
    #[error("client `{0}` is not accepted")]
    ClientNotAllowed(String),
}

/// Verifies tokens against the configured issuers.
#[derive(Debug)]
pub struct TokenVerifier {
    pub issuers: Vec<Issuer>,
    /// Seconds of clock skew tolerated on `exp`, `nbf` and `iat`.
    pub skew: u64,
    /// Longest token accepted, checked before any decoding.
    pub max_token_bytes: usize,
}

impl TokenVerifier {
    /// The whole check: shape, issuer, key, algorithm, signature, then the Cognito claim rules.
    pub fn verify(&self, token: &str, now: u64) -> Result<VerifiedToken, TokenError> {
        let untrusted = jws::parse(token, self.max_token_bytes)?;
        let iss = match untrusted.claims.get("iss") {
            Some(serde_json::Value::String(iss)) => iss.as_str(),
            Some(_) => return Err(TokenError::InvalidClaim { claim: "iss", why: "not a string" }),
            None => return Err(TokenError::MissingClaim("iss")),
        };
        let issuer = self
            .issuers
            .iter()
            .find(|issuer| issuer.issuer == iss)
            .ok_or_else(|| TokenError::UnknownIssuer(iss.to_owned()))?;
        let key = issuer.keys.get(&untrusted.kid).ok_or_else(|| TokenError::UnknownKid {
            issuer: issuer.issuer.clone(),
            kid: untrusted.kid.clone(),
        })?;
        verify_signature(key, &untrusted.jws)?;
        claims::validate(issuer, untrusted.claims, now, self.skew)
    }
}

/// Checks a JWS against the one key its `kid` named: the header `alg` must be the key's own, then the signature.
fn verify_signature(key: &VerifyingKey, jws: &jws::UntrustedJws<'_>) -> Result<(), TokenError> {
    if jws.alg != key.alg().name() {
        return Err(TokenError::AlgorithmMismatch {
            token: jws.alg.clone(),
            key: key.alg().name(),
            kid: key.kid().to_owned(),
        });
    }
    if !key.verify(jws.signing_input, &jws.signature) {
        return Err(TokenError::BadSignature);
    }
    Ok(())
}
