//! Token extraction, signature verification and Cognito claim rules.

use std::sync::{Arc, RwLock};

mod cache;
mod claims;
mod extract;
mod jws;
mod keys;
pub mod password;
pub mod password_cache;
pub mod remote;
mod rsa_verify;

#[cfg(test)]
mod attacks;
#[cfg(test)]
mod rsa_differential;
#[cfg(test)]
mod vectors;

pub use cache::{CacheStats, TokenCache};
pub use claims::{is_scope_token, scope_words, VerifiedToken};
pub use extract::{
    bearer_candidate, bearer_token, carries_token, check_token_chars, cookie_token, header_token, AuthorizationError,
};
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

/// The token kinds an issuer (or a route) accepts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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
    issuer: String,
    /// Its signing keys from configuration (`jwks`); they are looked up first, so a fetched key never takes the
    /// place of a pushed one with the same `kid`.
    keys: KeySet,
    /// Where more keys are fetched from (`remote_jwks`), if anywhere.
    remote: Option<remote::RemoteJwks>,
    /// The last good fetched set, replaced whole by [`TokenVerifier::replace_fetched_keys`]; empty until then.
    fetched: RwLock<Arc<KeySet>>,
    /// Accepted token kinds.
    token_use: TokenUses,
    /// Accepted app clients; `None` only when configuration explicitly turned the check off.
    client_ids: Option<Vec<String>>,
}

impl Issuer {
    /// A pool as the configuration loader validated it.
    pub(crate) fn new(
        issuer: String,
        keys: KeySet,
        remote: Option<remote::RemoteJwks>,
        token_use: TokenUses,
        client_ids: Option<Vec<String>>,
    ) -> Self {
        Self { issuer, keys, remote, fetched: RwLock::default(), token_use, client_ids }
    }

    /// The exact `iss` value.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Its signing keys from configuration.
    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    /// Where its keys are fetched from, if anywhere.
    pub fn remote(&self) -> Option<&remote::RemoteJwks> {
        self.remote.as_ref()
    }

    /// The fetched keys in service (empty before the first good fetch, or if the lock was ever poisoned).
    pub fn fetched_keys(&self) -> Arc<KeySet> {
        self.fetched.read().map(|keys| Arc::clone(&keys)).unwrap_or_default()
    }

    /// The token kinds it accepts.
    pub fn token_use(&self) -> TokenUses {
        self.token_use
    }
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
    #[error("issuer `{}` is not trusted", crate::text::Untrusted(.0))]
    UnknownIssuer(String),
    #[error("no key `{}` for issuer `{issuer}`", crate::text::Untrusted(kid))]
    UnknownKid { issuer: String, kid: String },
    #[error("token `alg` is `{}` but key `{kid}` is for `{key}`", crate::text::Untrusted(token))]
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
    #[error("token_use `{}` is not accepted", crate::text::Untrusted(.0))]
    TokenUseNotAllowed(String),
    #[error("client `{}` is not accepted", crate::text::Untrusted(.0))]
    ClientNotAllowed(String),
}

/// Verifies tokens against the configured issuers; the only maker of [`VerifiedToken`]s.
#[derive(Debug)]
pub struct TokenVerifier {
    issuers: Vec<Issuer>,
    /// Seconds of clock skew tolerated on `exp`, `nbf` and `iat`.
    skew: u64,
    /// Longest token accepted, checked before any decoding.
    max_token_bytes: usize,
}

impl TokenVerifier {
    /// A verifier as the configuration loader validated it.
    pub(crate) fn new(issuers: Vec<Issuer>, skew: u64, max_token_bytes: usize) -> Self {
        Self { issuers, skew, max_token_bytes }
    }

    /// The trusted pools, in configuration order.
    pub fn issuers(&self) -> &[Issuer] {
        &self.issuers
    }

    /// Seconds of clock skew tolerated on `exp`, `nbf` and `iat`.
    pub fn skew(&self) -> u64 {
        self.skew
    }

    /// Longest token accepted, checked before any decoding.
    pub fn max_token_bytes(&self) -> usize {
        self.max_token_bytes
    }

    /// Puts `keys` in service for the issuer at `index` (in configuration order) in place of the fetched keys it
    /// had, at once: a verification uses the old set or the new one, never a mix. Returns whether there is such an
    /// issuer with `remote_jwks`.
    pub fn replace_fetched_keys(&self, index: usize, keys: KeySet) -> bool {
        let Some(issuer) = self.issuers.get(index).filter(|issuer| issuer.remote.is_some()) else { return false };
        match issuer.fetched.write() {
            Ok(mut fetched) => {
                *fetched = Arc::new(keys);
                true
            }
            Err(_) => false,
        }
    }

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
        let unknown = || TokenError::UnknownKid { issuer: issuer.issuer.clone(), kid: untrusted.kid.clone() };
        match issuer.keys.get(&untrusted.kid) {
            Some(key) => verify_signature(key, &untrusted.jws)?,
            // Only issuers with `remote_jwks` have fetched keys: the others never take the lock.
            None if issuer.remote.is_some() => {
                let fetched = issuer.fetched_keys();
                verify_signature(fetched.get(&untrusted.kid).ok_or_else(unknown)?, &untrusted.jws)?;
            }
            None => return Err(unknown()),
        }
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
