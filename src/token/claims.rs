//! Cognito claim rules (as aws-jwt-verify applies them), run on a token whose signature has been verified.

use super::{Issuer, TokenError, TokenUse};
use serde_json::{Map, Value};

/// NumericDate values past 9999-12-31 are refused as absurd rather than compared.
const MAX_NUMERIC_DATE: f64 = 253_402_300_799.0;

/// The identity a verified token carries. Only the verifier makes one (its fields are private to `token`); the
/// rest of the crate reads it.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    /// Which configured issuer signed it.
    pub(super) issuer: String,
    /// `access` or `id`.
    pub(super) token_use: TokenUse,
    /// `sub`: the principal.
    pub(super) sub: String,
    /// `username` (access) or `cognito:username` (id); client-credentials tokens have none.
    pub(super) username: Option<String>,
    /// `client_id` (access) or `aud` (id).
    pub(super) client_id: String,
    /// `cognito:groups`, in token order, each once.
    pub(super) groups: Vec<String>,
    /// `scope` read by [`scope_words`]; empty when the token has none (ID tokens).
    pub(super) scopes: Vec<String>,
    /// `exp` in seconds.
    pub(super) expires_at: f64,
    /// `nbf` in seconds, if present.
    pub(super) not_before: Option<f64>,
    /// `iat` in seconds, if present.
    pub(super) issued_at: Option<f64>,
    /// Every claim, for policy condition keys.
    pub(super) claims: Map<String, Value>,
}

impl VerifiedToken {
    /// `exp`, in whole unix seconds (rounded down, so never later than the claim).
    pub fn expires_at(&self) -> u64 {
        // Saturating float-to-int: a NaN or negative `exp` never passed verification anyway.
        self.expires_at.floor() as u64
    }

    /// Which configured issuer signed it (the exact `iss`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// `access` or `id`.
    pub fn token_use(&self) -> TokenUse {
        self.token_use
    }

    /// `sub`: the principal.
    pub fn sub(&self) -> &str {
        &self.sub
    }

    /// `username` (access) or `cognito:username` (id); client-credentials tokens have none.
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// `client_id` (access) or `aud` (id).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// `cognito:groups`, in token order, each once.
    pub fn groups(&self) -> &[String] {
        &self.groups
    }

    /// The scope words; empty when the token has none (ID tokens).
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// Every claim, for policy condition keys.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }
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

/// Whether `word` is one RFC 6749 §3.3 `scope-token`: `1*( %x21 / %x23-5B / %x5D-7E )`, printable ASCII but
/// space, `"` and `\`.
pub fn is_scope_token(word: &str) -> bool {
    !word.is_empty() && word.bytes().all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

/// The words of a `scope` claim, the one definition every reader uses (the route check, the `claim:scope`
/// condition key, the identity header): RFC 6749 §3.3 scope tokens separated by U+0020 and nothing else. Runs
/// of spaces separate nothing and are skipped. Any other character (a tab, U+3000, a control, `"`, `\`,
/// non-ASCII) gives `None`: such a claim is refused as a whole, since readers that split on other whitespace
/// would see other words in it.
pub fn scope_words(scope: &str) -> Option<Vec<&str>> {
    scope.split(' ').filter(|word| !word.is_empty()).map(|word| is_scope_token(word).then_some(word)).collect()
}

/// Applies every Cognito rule of `issuer` at time `now` (unix seconds) with `skew` seconds of tolerance.
pub fn validate(issuer: &Issuer, claims: Map<String, Value>, now: u64, skew: u64) -> Result<VerifiedToken, TokenError> {
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
        Some(_) => return Err(TokenError::InvalidClaim { claim: "cognito:groups", why: "not an array of strings" }),
    };
    let scopes = match string_claim(&claims, "scope")? {
        None => Vec::new(),
        Some(scope) => scope_words(scope)
            .ok_or(TokenError::InvalidClaim { claim: "scope", why: "not RFC 6749 scope tokens separated by spaces" })?
            .into_iter()
            .map(str::to_owned)
            .collect(),
    };

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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn scope_words_are_rfc_6749_tokens_separated_by_u0020_only() {
        assert_eq!(scope_words("openid pets/read"), Some(vec!["openid", "pets/read"]));
        assert_eq!(scope_words(" openid  pets/read "), Some(vec!["openid", "pets/read"]));
        assert_eq!(scope_words(""), Some(vec![]));
        assert_eq!(
            scope_words("aws.cognito.signin.user.admin https://api.example/x:y~!#$%&'()*+,-./;<=>?@[]^_`{|}"),
            Some(vec!["aws.cognito.signin.user.admin", "https://api.example/x:y~!#$%&'()*+,-./;<=>?@[]^_`{|}",])
        );
        // Whitespace that some readers split on and others do not, and the characters RFC 6749 leaves out.
        for scope in [
            "api/read\tadmin",
            "api/read\u{3000}admin",
            "api/read\u{a0}admin",
            "api/read\nadmin",
            "api/read\radmin",
            "api/read\u{85}admin",
            "api/read\u{2028}admin",
            "a\"b",
            "a\\b",
            "caf\u{e9}",
            "a\u{7f}",
            "a\u{0}",
        ] {
            assert_eq!(scope_words(scope), None, "{}", scope.escape_debug());
        }
        assert!(is_scope_token("product-api/read_product"));
        assert!(!is_scope_token(""));
        assert!(!is_scope_token("a b"));
    }
}
