//! The one call adapters make: request + compiled configuration + `now` → decision.

use crate::config::{Config, ConfigError, IdentityHeaders, TokenSource};
use crate::decision::{Decision, Outcome, Reason};
use crate::policy::{DenyWhy, PolicyDecision, Principal, RequestContext, INVOKE};
use crate::request::{normalize_method, HttpRequest, RequestError};
use crate::routes::{self, RouteAuth};
use crate::token::{cookie_token, header_token, TokenCache, TokenError, TokenUse, VerifiedToken};
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
                Some(route) if route.auth != RouteAuth::Undeclared => Some(route),
                _ => {
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

        let source = self.config.token_source();
        let token = match source {
            TokenSource::Header(name) => header_token(request.header_values(name)),
            TokenSource::Cookie(name) => cookie_token(request.header_values("cookie"), name),
        };
        let token = match token {
            Ok(token) => token,
            Err(err) => {
                let reason = match source {
                    TokenSource::Header(name) if name == "authorization" => Reason::Authorization(err),
                    _ => Reason::TokenSource { source: source.describe(), err },
                };
                return self.unauthorized(reason, None);
            }
        };
        let verified = match self.verify_token(token, now) {
            Ok(verified) => verified,
            Err(err) => return self.unauthorized(Reason::Token(err), Some("invalid_token")),
        };
        if let Some(RouteAuth::Token { token_use: Some(allowed), .. }) = route.map(|route| &route.auth) {
            if !allowed.allows(verified.token_use()) {
                let template = route.map(|route| route.template.clone()).unwrap_or_default();
                let reason = Reason::RouteTokenUse { route: template, token_use: verified.token_use() };
                return self.unauthorized(reason, Some("invalid_token"));
            }
        }

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
            Err(reason) => self.unauthorized(reason, Some("invalid_token")),
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

/// The identity headers for an allowed request, or why one of them cannot be sent.
fn identity_headers(names: &IdentityHeaders, token: &VerifiedToken) -> Result<Vec<(String, String)>, Reason> {
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
    if let Some((name, _)) = headers.iter().find(|(_, value)| !header_safe(value)) {
        return Err(Reason::IdentityNotHeaderSafe { header: name.clone() });
    }
    for mapped in &names.claims {
        match claim_header_value(token.claims().get(&mapped.claim)) {
            Ok(None) => {}
            Ok(Some(value)) => headers.push((mapped.header.clone(), value)),
            Err(why) => return Err(Reason::ClaimNotHeaderSafe { claim: mapped.claim.clone(), header: mapped.header.clone(), why }),
        }
    }
    Ok(headers)
}

/// A claim's value as one header value, read one way only: a string as itself, a number or boolean as its JSON
/// text, a list of those as its elements percent-encoded like group names and joined with `,` (an empty list as
/// no header). `None` when the claim is absent. Refused: objects, `null`, nested lists, and strings a header
/// cannot carry as they are: controls, or space at either end, which HTTP readers strip (a user-writable
/// attribute set to ` admin` would arrive as `admin`).
fn claim_header_value(claim: Option<&serde_json::Value>) -> Result<Option<String>, &'static str> {
    use serde_json::Value;
    fn scalar(value: &Value) -> Option<String> {
        match value {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            Value::Bool(flag) => Some(flag.to_string()),
            Value::Null | Value::Array(_) | Value::Object(_) => None,
        }
    }
    match claim {
        None => Ok(None),
        Some(Value::Array(items)) if items.is_empty() => Ok(None),
        Some(Value::Array(items)) => {
            let mut joined = String::new();
            for (index, item) in items.iter().enumerate() {
                let text = scalar(item).ok_or("a list holding something other than strings, numbers or booleans")?;
                if index > 0 {
                    joined.push(',');
                }
                list_element(&text, &mut joined);
            }
            Ok(Some(joined))
        }
        Some(value) => {
            let text = scalar(value).ok_or("not a string, number, boolean or list of them")?;
            if !header_safe(&text) {
                return Err("control characters");
            }
            if text.starts_with(' ') || text.ends_with(' ') {
                return Err("space at an end, which header readers strip");
            }
            Ok(Some(text))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::panic)]
    use super::*;
    use crate::mint::{CognitoClaims, DevKey};
    use serde_json::json;
    use std::collections::BTreeMap;

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

    /// An authorizer over `extra` members merged into a configuration with routes as the importer writes them.
    fn migrated(key: &DevKey, extra: serde_json::Value) -> Authorizer {
        let mut config = json!({
            "api": {"region": "us-east-1", "account_id": "123456789012", "api_id": "a1b2c3d4e5", "stage": "dev"},
            "issuers": [{"issuer": ISSUER, "jwks": key.jwks(), "token_use": ["access", "id"], "client_ids": ["app"]}],
            "routes": [
                {"method": "GET", "path": "/items", "scopes": ["api/read"], "token_use": ["access"]},
                {"method": "GET", "path": "/items/{id}", "token_use": ["id"]},
                {"method": "ANY", "path": "/items/{id}", "auth": "undeclared"},
                {"method": "ANY", "path": "/{proxy+}", "token_use": ["id"]}
            ]
        });
        if let (Some(map), serde_json::Value::Object(extra)) = (config.as_object_mut(), extra) {
            map.extend(extra);
        }
        Authorizer::from_json(config.to_string().as_bytes()).unwrap()
    }

    fn with_headers(method: &str, path: &str, headers: &[(&str, &str)]) -> HttpRequest {
        HttpRequest {
            method: method.into(),
            path: path.into(),
            headers: headers.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect(),
            ..HttpRequest::default()
        }
    }

    /// API Gateway's Cognito authorizer: ID tokens where no scopes are asked, access tokens where they are; a
    /// method the resource does not declare is 403 even where the catch-all would take the path.
    #[test]
    fn routes_take_the_token_kinds_api_gateway_takes() {
        let key = DevKey::generate_rsa("k1").unwrap();
        let authorizer = migrated(&key, json!({}));
        let access = format!("Bearer {}", key.sign(&CognitoClaims::access(ISSUER, "app", "alice", NOW).scopes(&["api/read"]).to_json()));
        let id = format!("Bearer {}", key.sign(&CognitoClaims::id(ISSUER, "app", "alice", NOW).to_json()));
        for (method, path, token, status) in [
            ("GET", "/items", &access, 200),
            ("GET", "/items", &id, 401),
            ("GET", "/items/1", &id, 200),
            ("GET", "/items/1", &access, 401),
            ("DELETE", "/items/1", &id, 403),
            ("POST", "/other/thing", &id, 200),
            ("POST", "/other/thing", &access, 401),
        ] {
            let decision = authorizer.authorize(&with_headers(method, path, &[("authorization", token)]), NOW);
            assert_eq!(decision.status(), status, "{method} {path}: {}", decision.reason);
        }
        let refused = authorizer.authorize(&with_headers("GET", "/items/1", &[("authorization", &access)]), NOW);
        assert_eq!(refused.reason.to_string(), "route `/items/{id}` does not accept access tokens");
        let undeclared = authorizer.authorize(&with_headers("DELETE", "/items/1", &[]), NOW);
        assert_eq!(undeclared.outcome, Outcome::NoRoute);
    }

    #[test]
    fn the_token_comes_from_the_configured_header_or_cookie_only() {
        let key = DevKey::generate_rsa("k1").unwrap();
        let id = key.sign(&CognitoClaims::id(ISSUER, "app", "alice", NOW).to_json());
        let header = migrated(&key, json!({"token_source": {"header": "X-Id-Token"}}));
        let cookie = migrated(&key, json!({"token_source": {"cookie": "__Host-id"}}));
        let bearer = format!("Bearer {id}");
        let in_cookie = format!("theme=dark; __Host-id={id}");
        let twice = format!("__Host-id={id}; __host-id={id}");
        for (authorizer, headers, reason) in [
            (&header, vec![("x-id-token", bearer.as_str())], None),
            (&header, vec![("X-ID-TOKEN", id.as_str())], None),
            (&header, vec![("authorization", bearer.as_str())], Some("no `x-id-token` header")),
            (&header, vec![("x-id-token", id.as_str()), ("x-id-token", id.as_str())], Some("more than one `x-id-token` header")),
            (&cookie, vec![("cookie", in_cookie.as_str())], None),
            (&cookie, vec![("authorization", bearer.as_str())], Some("no `__Host-id` cookie")),
            (&cookie, vec![("cookie", twice.as_str())], Some("more than one `__Host-id` cookie")),
            (&cookie, vec![("cookie", "__Host-id=\"x.y.z\"")], Some("`__Host-id` cookie is not a bare token")),
        ] {
            let decision = authorizer.authorize(&with_headers("GET", "/items/1", &headers), NOW);
            match reason {
                None => assert_eq!(decision.status(), 200, "{headers:?}: {}", decision.reason),
                Some(reason) => {
                    assert_eq!(decision.status(), 401, "{headers:?}");
                    assert!(decision.reason.to_string().starts_with(reason), "{headers:?}: {}", decision.reason);
                }
            }
        }
    }

    #[test]
    fn mapped_claims_reach_the_upstream_one_way_only_and_client_copies_go() {
        let key = DevKey::generate_rsa("k1").unwrap();
        let authorizer = migrated(&key, json!({"identity_headers": {"claims": {
            "email": "x-user-email", "custom:tenant": "x-tenant", "custom:roles": "x-roles", "email_verified": "x-email-verified"}}}));
        let sign = |extra: serde_json::Value| {
            let mut claims = CognitoClaims::id(ISSUER, "app", "alice", NOW).to_json();
            if let (Some(map), serde_json::Value::Object(extra)) = (claims.as_object_mut(), extra) {
                map.extend(extra);
            }
            format!("Bearer {}", key.sign(&claims))
        };
        let token = sign(json!({"email": "alice@example.com", "email_verified": true, "custom:roles": ["a,b", "c", 7]}));
        let request = with_headers("GET", "/items/1", &[("authorization", &token), ("X_User_Email", "mallory@example.com"), ("x-tenant", "other")]);
        let decision = authorizer.authorize(&request, NOW);
        assert_eq!(decision.status(), 200, "{}", decision.reason);
        let sent: BTreeMap<&str, &str> = decision.upstream_headers.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
        assert_eq!(sent.get("x-user-email"), Some(&"alice@example.com"));
        assert_eq!(sent.get("x-email-verified"), Some(&"true"));
        assert_eq!(sent.get("x-roles"), Some(&"a%2Cb,c,7"));
        assert_eq!(sent.get("x-tenant"), None, "an absent claim sends no header");
        assert_eq!(decision.remove_headers, vec!["X_User_Email".to_owned(), "x-tenant".to_owned()]);
        for (claims, why) in [
            (json!({"custom:tenant": " acme"}), "space at an end"),
            (json!({"custom:tenant": "acme\r\nx-admin: 1"}), "control characters"),
            (json!({"custom:tenant": {"name": "acme"}}), "not a string"),
            (json!({"custom:tenant": null}), "not a string"),
            (json!({"custom:roles": [["a"]]}), "a list holding"),
        ] {
            let decision = authorizer.authorize(&with_headers("GET", "/items/1", &[("authorization", &sign(claims.clone()))]), NOW);
            assert_eq!(decision.status(), 401, "{claims}");
            assert!(decision.reason.to_string().contains(why), "{claims}: {}", decision.reason);
        }
        // Public routes strip client copies of mapped headers as well.
        let public = Authorizer::from_json(
            json!({
                "api": {"region": "us-east-1", "account_id": "123456789012", "api_id": "a1b2c3d4e5", "stage": "dev"},
                "issuers": [{"issuer": ISSUER, "jwks": key.jwks(), "token_use": ["id"], "client_ids": ["app"]}],
                "routes": [{"method": "GET", "path": "/", "auth": "none"}],
                "identity_headers": {"claims": {"email": "x-user-email"}}
            })
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        let decision = public.authorize(&with_headers("GET", "/", &[("x-user-email", "mallory@example.com")]), NOW);
        assert_eq!(decision.remove_headers, vec!["x-user-email".to_owned()]);
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
