//! The one call adapters make: request + compiled configuration + `now` → decision.

use crate::config::{Config, ConfigError, IdentityHeaders};
use crate::decision::{Decision, Outcome, Reason};
use crate::policy::{DenyWhy, PolicyDecision, Principal, RequestContext, INVOKE};
use crate::request::{normalize_method, HttpRequest, RequestError};
use crate::routes::{self, RouteAuth};
use crate::token::{bearer_token, TokenCache, TokenError, TokenUse, VerifiedToken};
use std::sync::Arc;

/// A compiled configuration, shared read-only by every request.
#[derive(Debug)]
pub struct Authorizer {
    config: Config,
    realm: String,
    tokens: TokenCache,
}

/// Header values must not smuggle line breaks or other controls upstream.
fn header_safe(value: &str) -> bool {
    value.bytes().all(|b| b >= 0x20 && b != 0x7f)
}

impl Authorizer {
    /// Loads a JSON configuration; any error names the field and nothing is half-loaded.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ConfigError> {
        Ok(Self::new(Config::from_json(bytes)?))
    }

    /// Wraps a validated configuration.
    pub fn new(config: Config) -> Self {
        let realm = format!("{}/{}", config.api().api_id, config.api().stage);
        let tokens = TokenCache::new(config.token_cache_size());
        Self { config, realm, tokens }
    }

    /// The compiled configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Identity header names as configured.
    pub fn identity_header_names(&self) -> [&str; 6] {
        self.config.identity_headers().names()
    }

    /// Whether a request header or trailer named `name` must never reach the upstream from the client: it is an
    /// identity header in some spelling an upstream may merge with it (see `IdentityHeaders::covers`).
    pub fn is_identity_header(&self, name: &str) -> bool {
        self.config.identity_headers().covers(name)
    }

    /// The request's own header names that an upstream could take for identity headers, each once.
    fn identity_copies(&self, request: &HttpRequest) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for (name, _) in &request.headers {
            if self.is_identity_header(name) && !names.iter().any(|seen| seen == name) {
                names.push(name.clone());
            }
        }
        names
    }

    fn challenge(&self, error: Option<&str>) -> String {
        match error {
            None => format!("Bearer realm=\"{}\"", self.realm),
            Some(error) => format!("Bearer realm=\"{}\", error=\"{error}\"", self.realm),
        }
    }

    fn unauthorized(&self, reason: Reason, error: Option<&str>) -> Decision {
        let mut decision = Decision::deny(Outcome::Unauthorized, reason);
        decision.challenge = Some(self.challenge(error));
        decision
    }

    /// Verifies `token` at `now`, or finds it among the tokens this configuration already verified.
    fn verify_token(&self, token: &str, now: u64) -> Result<Arc<VerifiedToken>, TokenError> {
        let verifier = self.config.verifier();
        // Oversized tokens are refused before they are even hashed.
        if token.len() > verifier.max_token_bytes() {
            return Err(TokenError::TooLarge { len: token.len(), max: verifier.max_token_bytes() });
        }
        if let Some(cached) = self.tokens.get(token, now, verifier.skew()) {
            return cached;
        }
        let verified = Arc::new(verifier.verify(token, now)?);
        self.tokens.insert(token, Arc::clone(&verified), now, verifier.skew());
        Ok(verified)
    }

    /// Decides one request at unix time `now` (seconds).
    pub fn authorize(&self, request: &HttpRequest, now: u64) -> Decision {
        // Size first: nothing below reads more than these limits allow.
        if let Err(err) = self.config.request().check_headers(request) {
            return Decision::deny(Outcome::BadRequest, Reason::Request(err));
        }
        let method = match normalize_method(&request.method) {
            Ok(method) => method,
            Err(err) => return Decision::deny(Outcome::BadRequest, Reason::Request(err)),
        };
        let path = match crate::request::normalize_path_with(&request.path, self.config.request()) {
            Ok(path) => path,
            Err(err @ RequestError::PathTooLong { .. }) => return Decision::deny(Outcome::UriTooLong, Reason::Request(err)),
            Err(err) => return Decision::deny(Outcome::BadRequest, Reason::Request(err)),
        };
        let arn = match self.config.api().method_arn(method, &path) {
            Ok(arn) => arn,
            Err(err @ RequestError::ArnTooLong(_)) => return Decision::deny(Outcome::UriTooLong, Reason::Request(err)),
            Err(err) => return Decision::deny(Outcome::BadRequest, Reason::Request(err)),
        };
        let rewrite_path = path.changed.then(|| path.target());
        let route = match self.config.routes() {
            None => None,
            Some(declared) => match routes::find(declared, method, &path) {
                Some(route) => Some(route),
                None => {
                    let reason = Reason::NoRoute { method: method.to_owned(), path: path.path.clone() };
                    return Decision::deny(Outcome::NoRoute, reason);
                }
            },
        };
        // Scoped routes that take a lenient spelling of this request (`/products/1/`, `/Products/1`, `HEAD` for
        // `GET`): their scopes hold here too, so a catch-all cannot serve those spellings without them.
        let normalized = &path;
        let variants = || {
            self.config
                .routes()
                .unwrap_or_default()
                .iter()
                .filter(move |declared| !declared.scopes().is_empty() && declared.matches_variant(method, normalized))
        };
        if let Some(RouteAuth::Public) = route.map(|route| &route.auth) {
            if variants().next().is_none() {
                let template = route.map(|route| route.template.clone()).unwrap_or_default();
                return Decision {
                    outcome: Outcome::Allow,
                    reason: Reason::PublicRoute { route: template },
                    remove_headers: self.identity_copies(request),
                    upstream_headers: Vec::new(),
                    rewrite_path,
                    challenge: None,
                };
            }
        }

        let token = match bearer_token(request.header_values("authorization")) {
            Ok(token) => token,
            Err(err) => return self.unauthorized(Reason::Authorization(err), None),
        };
        let verified = match self.verify_token(token, now) {
            Ok(verified) => verified,
            Err(err) => return self.unauthorized(Reason::Token(err), Some("invalid_token")),
        };

        for scoped in route.into_iter().filter(|route| !route.scopes().is_empty()).chain(variants()) {
            let required = scoped.scopes();
            if verified.token_use() != TokenUse::Access {
                let reason = Reason::NotAnAccessToken { route: scoped.template.clone() };
                return self.unauthorized(reason, Some("insufficient_scope"));
            }
            if !required.iter().any(|scope| verified.scopes().contains(scope)) {
                let reason = Reason::MissingScope { route: scoped.template.clone(), required: required.to_vec() };
                return self.unauthorized(reason, Some("insufficient_scope"));
            }
        }

        let statements = match self.config.policies() {
            None => Vec::new(),
            Some(store) => {
                let principal = Principal {
                    groups: verified.groups(),
                    client_id: Some(verified.client_id()),
                    username: verified.username(),
                };
                let context = RequestContext::new(request, &verified, now, self.config.source_ip());
                let evaluation = store.evaluate(verified.issuer(), &principal, INVOKE, &arn, &context);
                match evaluation.decision {
                    PolicyDecision::Allow => evaluation.statements,
                    PolicyDecision::ImplicitDeny => {
                        let why = evaluation.why().unwrap_or(DenyWhy::NoAllow);
                        let reason = Reason::ImplicitDeny { arn, sub: verified.sub().to_owned(), why };
                        return Decision::deny(Outcome::Forbidden, reason);
                    }
                    PolicyDecision::ExplicitDeny => {
                        let reason = Reason::ExplicitDeny { arn, sub: verified.sub().to_owned(), statements: evaluation.statements };
                        return Decision::deny(Outcome::ExplicitDeny, reason);
                    }
                }
            }
        };

        match identity_headers(self.config.identity_headers(), &verified) {
            Ok(upstream_headers) => Decision {
                outcome: Outcome::Allow,
                reason: Reason::Allowed { sub: verified.sub().to_owned(), statements },
                remove_headers: self.identity_copies(request),
                upstream_headers,
                rewrite_path,
                challenge: None,
            },
            Err(header) => self.unauthorized(Reason::IdentityNotHeaderSafe { header }, Some("invalid_token")),
        }
    }
}

/// One element of a comma-separated list header, percent-encoded (RFC 3986 §2.1, upper-case hex) wherever it
/// holds `%`, `,` or a byte outside visible ASCII, so that a group named `readers,admins` reads as one element
/// and never as membership of `admins`. Plain names (the usual Cognito group names) are unchanged.
fn list_element(value: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for byte in value.bytes() {
        if (0x21..=0x7e).contains(&byte) && byte != b'%' && byte != b',' {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX.get(usize::from(byte >> 4)).copied().unwrap_or(b'0')));
            out.push(char::from(HEX.get(usize::from(byte & 15)).copied().unwrap_or(b'0')));
        }
    }
}

/// The identity headers for an allowed request, or the name of the first header whose value a header cannot
/// carry.
fn identity_headers(names: &IdentityHeaders, token: &VerifiedToken) -> Result<Vec<(String, String)>, String> {
    let mut headers = vec![
        (names.sub.clone(), token.sub().to_owned()),
        (names.client_id.clone(), token.client_id().to_owned()),
        (names.issuer.clone(), token.issuer().to_owned()),
    ];
    if let Some(username) = token.username() {
        headers.push((names.username.clone(), username.to_owned()));
    }
    if !token.groups().is_empty() {
        let mut groups = String::new();
        for (index, group) in token.groups().iter().enumerate() {
            if index > 0 {
                groups.push(',');
            }
            list_element(group, &mut groups);
        }
        headers.push((names.groups.clone(), groups));
    }
    if !token.scopes().is_empty() {
        // Scope words never hold U+0020 (RFC 6749 §3.3), so the space-separated list is unambiguous.
        headers.push((names.scopes.clone(), token.scopes().join(" ")));
    }
    match headers.iter().find(|(_, value)| !header_safe(value)) {
        Some((name, _)) => Err(name.clone()),
        None => Ok(headers),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::panic)]
    use super::*;
    use crate::mint::{CognitoClaims, DevKey};
    use serde_json::json;

    const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Cache";
    const NOW: u64 = 1_763_800_000;

    fn authorizer(key: &DevKey, cache: usize) -> Authorizer {
        let config = json!({
            "api": {"region": "us-east-1", "account_id": "123456789012", "api_id": "a1b2c3d4e5", "stage": "dev"},
            "issuers": [{"issuer": ISSUER, "jwks": key.jwks(), "token_use": ["access"], "client_ids": ["app"]}],
            "token_cache_size": cache,
            "policies": {"groups": {"readers": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "execute-api:/dev/GET/*"}]}}}
        });
        Authorizer::from_json(config.to_string().as_bytes()).unwrap()
    }

    fn request(method: &str, token: &str) -> HttpRequest {
        HttpRequest {
            method: method.into(),
            path: "/things".into(),
            headers: vec![("authorization".into(), format!("Bearer {token}"))],
            ..HttpRequest::default()
        }
    }

    #[test]
    fn a_cached_token_decides_like_a_fresh_one_and_still_expires() {
        let key = DevKey::generate_rsa("k1").unwrap();
        let token = key.sign(&CognitoClaims::access(ISSUER, "app", "alice", NOW).groups(&["readers"]).to_json());
        let cached = authorizer(&key, 16);
        let uncached = authorizer(&key, 0);
        for (method, now) in [("GET", NOW), ("GET", NOW + 10), ("POST", NOW + 20), ("GET", NOW + 3600 + 60)] {
            let hit = cached.authorize(&request(method, &token), now);
            let fresh = uncached.authorize(&request(method, &token), now);
            assert_eq!(hit, fresh, "{method} at {now}");
        }
        assert_eq!(cached.authorize(&request("GET", &token), NOW + 5).status(), 200);
        assert_eq!(cached.tokens.len(), 1);
        assert_eq!(uncached.tokens.len(), 0);
        let expired = cached.authorize(&request("GET", &token), NOW + 3600 + 60);
        assert_eq!(expired.reason, Reason::Token(TokenError::Expired));
    }

    #[test]
    fn a_group_listed_twice_counts_once() {
        let key = DevKey::generate_rsa("k1").unwrap();
        let token = key.sign(&CognitoClaims::access(ISSUER, "app", "alice", NOW).groups(&["readers", "x", "readers"]).to_json());
        let decision = authorizer(&key, 0).authorize(&request("GET", &token), NOW);
        let Reason::Allowed { statements, .. } = &decision.reason else { panic!("{:?}", decision.reason) };
        assert_eq!(statements.len(), 1, "{statements:?}");
        let groups = decision.upstream_headers.iter().find(|(name, _)| name == "x-authz-groups").map(|(_, v)| v.as_str());
        assert_eq!(groups, Some("readers,x"));
    }

    #[test]
    fn a_tampered_token_never_finds_the_cached_entry() {
        let key = DevKey::generate_rsa("k1").unwrap();
        let token = key.sign(&CognitoClaims::access(ISSUER, "app", "alice", NOW).groups(&["readers"]).to_json());
        let authorizer = authorizer(&key, 16);
        assert_eq!(authorizer.authorize(&request("GET", &token), NOW).status(), 200);
        // Same header and signature, payload swapped for one naming another user: must be verified and fail.
        let forged_payload = CognitoClaims::access(ISSUER, "app", "mallory", NOW).groups(&["readers"]).to_json();
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[1] = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, forged_payload.to_string());
        let forged = parts.join(".");
        let decision = authorizer.authorize(&request("GET", &forged), NOW);
        assert_eq!(decision.reason, Reason::Token(TokenError::BadSignature));
    }
}
