//! Cognito claim rules (as aws-jwt-verify applies them), run on a token whose signature has been verified.

use super::{Issuer, TokenError, TokenUse};
use serde_json::{Map, Value};

/// NumericDate values past 9999-12-31 are refused as absurd rather than compared.
const MAX_NUMERIC_DATE: f64 = 253_402_300_799.0;

/// The identity a verified token carries.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    /// Which configured issuer signed it.
    pub issuer: String,
    /// `access` or `id`.
    pub token_use: TokenUse,
    /// `sub`: the principal.
    pub sub: String,
    /// `username` (access) or `cognito:username` (id); client-credentials tokens have none.
    pub username: Option<String>,
    /// `client_id` (access) or `aud` (id).
    pub client_id: String,
    /// `cognito:groups`, in token order, each once.
    pub groups: Vec<String>,
    /// `scope` split on spaces; empty for ID tokens.
    pub scopes: Vec<String>,
    /// `exp` in seconds.
    pub expires_at: f64,
    /// `nbf` in seconds, if present.
    pub not_before: Option<f64>,
    /// `iat` in seconds, if present.
    pub issued_at: Option<f64>,
    /// Every claim, for policy condition keys.
    pub claims: Map<String, Value>,
}

fn string_claim<'a>(claims: &'a Map<String, Value>, name: &'static str) -> Result<Option<&'a str>, TokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(value)) => Ok(Some(value)),
        Some(_) => Err(TokenError::InvalidClaim { claim: name, why: "not a string" }),
    }
}

fn required_string<'a>(claims: &'a Map<String, Value>, name: &'static str) -> Result<&'a str, TokenError> {
    string_claim(claims, name)?.ok_or(TokenError::MissingClaim(name))
}

fn numeric_date(claims: &Map<String, Value>, name: &'static str) -> Result<Option<f64>, TokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(number)) => match number.as_f64() {
            Some(value) if value.is_finite() && (0.0..=MAX_NUMERIC_DATE).contains(&value) => Ok(Some(value)),
            _ => Err(TokenError::InvalidClaim { claim: name, why: "not a plausible NumericDate" }),
        },
        Some(_) => Err(TokenError::InvalidClaim { claim: name, why: "not a number" }),
    }
}

/// The time rules: `exp` passed (with skew), `nbf` or `iat` in the future (with skew).
fn check_times(exp: f64, nbf: Option<f64>, iat: Option<f64>, now: u64, skew: u64) -> Result<(), TokenError> {
    let now = now as f64;
    let skew = skew as f64;
    if now >= exp + skew {
        return Err(TokenError::Expired);
    }
    if nbf.is_some_and(|nbf| nbf > now + skew) {
        return Err(TokenError::NotYetValid);
    }
    if iat.is_some_and(|iat| iat > now + skew) {
        return Err(TokenError::IssuedInFuture);
    }
    Ok(())
}

impl VerifiedToken {
    /// Re-applies the time rules at `now`: a token verified earlier may have expired since.
    pub fn check_times(&self, now: u64, skew: u64) -> Result<(), TokenError> {
        check_times(self.expires_at, self.not_before, self.issued_at, now, skew)
    }
}

/// Applies every Cognito rule of `issuer` at time `now` (unix seconds) with `skew` seconds of tolerance.
pub fn validate(
    issuer: &Issuer,
    claims: Map<String, Value>,
    now: u64,
    skew: u64,
) -> Result<VerifiedToken, TokenError> {
    let expires_at = numeric_date(&claims, "exp")?.ok_or(TokenError::MissingClaim("exp"))?;
    let not_before = numeric_date(&claims, "nbf")?;
    let issued_at = numeric_date(&claims, "iat")?;
    check_times(expires_at, not_before, issued_at, now, skew)?;

    let token_use = match required_string(&claims, "token_use")? {
        "access" => TokenUse::Access,
        "id" => TokenUse::Id,
        other => return Err(TokenError::TokenUseNotAllowed(other.to_owned())),
    };
    if !issuer.token_use.allows(token_use) {
        return Err(TokenError::TokenUseNotAllowed(token_use.as_str().to_owned()));
    }

    let client_id = match token_use {
        TokenUse::Access => required_string(&claims, "client_id")?.to_owned(),
        TokenUse::Id => match claims.get("aud") {
            Some(Value::String(aud)) => aud.clone(),
            // Cognito writes one audience; a list is accepted only when it names exactly one.
            Some(Value::Array(auds)) => match auds.as_slice() {
                [Value::String(aud)] => aud.clone(),
                _ => return Err(TokenError::InvalidClaim { claim: "aud", why: "not exactly one audience" }),
            },
            Some(_) => return Err(TokenError::InvalidClaim { claim: "aud", why: "not a string" }),
            None => return Err(TokenError::MissingClaim("aud")),
        },
    };
    if let Some(allowed) = &issuer.client_ids {
        if !allowed.contains(&client_id) {
            return Err(TokenError::ClientNotAllowed(client_id));
        }
    }

    let sub = required_string(&claims, "sub")?.to_owned();
    let username = match token_use {
        TokenUse::Access => string_claim(&claims, "username")?,
        TokenUse::Id => string_claim(&claims, "cognito:username")?,
    }
    .map(str::to_owned);
    let groups = match claims.get("cognito:groups") {
        None => Vec::new(),
        Some(Value::Array(items)) => {
            // Each group once, in token order: done here, once per verified token, so that every request made
            // with the token selects policy documents with one lookup per group.
            let mut seen = std::collections::BTreeSet::new();
            let mut groups = Vec::with_capacity(items.len());
            for item in items {
                let Value::String(group) = item else {
                    return Err(TokenError::InvalidClaim { claim: "cognito:groups", why: "not an array of strings" });
                };
                if seen.insert(group.as_str()) {
                    groups.push(group.clone());
                }
            }
            groups
        }
        Some(_) => {
            return Err(TokenError::InvalidClaim { claim: "cognito:groups", why: "not an array of strings" })
        }
    };
    let scopes = string_claim(&claims, "scope")?
        .map(|scope| scope.split(' ').filter(|word| !word.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default();

    Ok(VerifiedToken {
        issuer: issuer.issuer.clone(),
        token_use,
        sub,
        username,
        client_id,
        groups,
        scopes,
        expires_at,
        not_before,
        issued_at,
        claims,
    })
}
