//! The one call adapters make: request + compiled configuration + `now` → decision.

use crate::config::{Config, ConfigError};
use crate::decision::{unsafe_identity_header, Decision, Outcome, Reason, Verdict};
use crate::policy::{DenyWhy, KeyKind, PolicyDecision, Principal, RequestContext, INVOKE};
use crate::request::{normalize_method, HttpRequest, RequestError};
use crate::routes::{self, RouteAuth};
use crate::token::{bearer_candidate, check_token_chars, TokenCache, TokenError, TokenUse, VerifiedToken};
use std::sync::Arc;

/// The `WWW-Authenticate` challenges of one configuration (RFC 6750), written once.
#[derive(Debug)]
struct Challenges {
    plain: String,
    invalid_token: String,
    insufficient_scope: String,
}

/// A compiled configuration, shared read-only by every request.
#[derive(Debug)]
pub struct Authorizer {
    config: Config,
    challenges: Challenges,
    tokens: TokenCache,
    /// Whether some policy reads `aws:SourceIp` from the downstream address; decided at load.
    reads_source_address: bool,
    /// Whether some policy reads `aws:SecureTransport`; decided at load.
    reads_secure_transport: bool,
}

impl Authorizer {
    /// Loads a JSON configuration; any error names the field and nothing is half-loaded.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ConfigError> {
        Ok(Self::new(Config::from_json(bytes)?))
    }

    /// Wraps a validated configuration.
    pub fn new(config: Config) -> Self {
        let realm = format!("{}/{}", config.api.api_id, config.api.stage);
        let challenges = Challenges {
            plain: format!("Bearer realm=\"{realm}\""),
            invalid_token: format!("Bearer realm=\"{realm}\", error=\"invalid_token\""),
            insufficient_scope: format!("Bearer realm=\"{realm}\", error=\"insufficient_scope\""),
        };
        let tokens = TokenCache::new(config.token_cache_size);
        let reads = |kind| config.policies.as_ref().is_some_and(|policies| policies.reads(kind));
        let reads_source_address = config.source_ip.xff_num_trusted_hops == 0 && reads(KeyKind::SourceIp);
        let reads_secure_transport = reads(KeyKind::SecureTransport);
        Self { config, challenges, tokens, reads_source_address, reads_secure_transport }
    }

    /// The compiled configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The verified tokens this configuration keeps.
    #[cfg(feature = "stages")]
    pub(crate) fn tokens(&self) -> &TokenCache {
        &self.tokens
    }

    /// Identity header names as configured.
    pub fn identity_header_names(&self) -> [&str; 6] {
        self.config.identity_headers.names()
    }

    /// Whether a request header or trailer named `name` must never reach the upstream from the client: it is an
    /// identity header in some spelling an upstream may merge with it (see `IdentityHeaders::covers`).
    pub fn is_identity_header(&self, name: &str) -> bool {
        self.config.identity_headers.covers(name)
    }

    /// Whether a decision can depend on the downstream address ([`HttpRequest::source_ip`]): some policy reads
    /// `aws:SourceIp` and it is the peer, not an `X-Forwarded-For` entry. When not, a host need not look it up.
    pub fn reads_source_address(&self) -> bool {
        self.reads_source_address
    }

    /// Whether a decision can depend on [`HttpRequest::secure_transport`]: some policy reads
    /// `aws:SecureTransport`. When not, a host need not look it up.
    pub fn reads_secure_transport(&self) -> bool {
        self.reads_secure_transport
    }

    /// The request's own header names that an upstream could take for identity headers, each once.
    fn identity_copies<'a>(&self, request: &'a HttpRequest) -> Vec<&'a str> {
        let mut names: Vec<&'a str> = Vec::new();
        for (name, _) in &request.headers {
            if self.is_identity_header(name) && !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
        names
    }

    /// The token `candidate` names, verified at `now`. A token equal to one this configuration verified before is
    /// that entry (its characters, size and signature passed then; its time claims are checked again); any other
    /// goes through every check, the cheap ones first.
    fn verify_token(&self, candidate: &str, now: u64) -> Result<Arc<VerifiedToken>, Reason> {
        let verifier = &self.config.verifier;
        if let Some(cached) = self.tokens.get(candidate, now, verifier.skew) {
            return cached.map_err(Reason::Token);
        }
        check_token_chars(candidate).map_err(Reason::Authorization)?;
        if candidate.len() > verifier.max_token_bytes {
            return Err(Reason::Token(TokenError::TooLarge { len: candidate.len(), max: verifier.max_token_bytes }));
        }
        let verified = Arc::new(verifier.verify(candidate, now).map_err(Reason::Token)?);
        self.tokens.insert(candidate, Arc::clone(&verified), now, verifier.skew);
        Ok(verified)
    }

    /// Decides one request at unix time `now` (seconds).
    pub fn authorize(&self, request: &HttpRequest, now: u64) -> Decision {
        self.decide(request, now).into_decision()
    }

    /// Decides one request at unix time `now` (seconds), lending the answer's parts ([`Verdict`]): what a host
    /// calls on the request path. [`Self::authorize`] is the same decision, owned.
    pub fn decide<'a>(&'a self, request: &'a HttpRequest, now: u64) -> Verdict<'a> {
        // Size first: nothing below reads more than these limits allow.
        if let Err(err) = self.config.request.check_headers(request) {
            return Verdict::refuse(Outcome::BadRequest, Reason::Request(err));
        }
        let method = match normalize_method(&request.method) {
            Ok(method) => method,
            Err(err) => return Verdict::refuse(Outcome::BadRequest, Reason::Request(err)),
        };
        let path = match crate::request::normalize_path_with(&request.path, &self.config.request) {
            Ok(path) => path,
            Err(err @ RequestError::PathTooLong { .. }) => return Verdict::refuse(Outcome::UriTooLong, Reason::Request(err)),
            Err(err) => return Verdict::refuse(Outcome::BadRequest, Reason::Request(err)),
        };
        let arn = match self.config.api.method_arn(method, &path) {
            Ok(arn) => arn,
            Err(err @ RequestError::ArnTooLong(_)) => return Verdict::refuse(Outcome::UriTooLong, Reason::Request(err)),
            Err(err) => return Verdict::refuse(Outcome::BadRequest, Reason::Request(err)),
        };
        let rewrite_path = path.changed.then(|| path.target());
        let route = match &self.config.routes {
            None => None,
            Some(declared) => match routes::find(declared, method, &path) {
                Some(route) => Some(route),
                None => {
                    let reason = Reason::NoRoute { method: method.to_owned(), path: path.path.clone() };
                    return Verdict::refuse(Outcome::NoRoute, reason);
                }
            },
        };
        let required_scopes = match route {
            Some(route) => match &route.auth {
                RouteAuth::Public => return Verdict::public(&route.template, self.identity_copies(request), rewrite_path),
                RouteAuth::Token { scopes } => scopes.as_slice(),
            },
            None => &[],
        };

        let candidate = match bearer_candidate(request.header_values("authorization")) {
            Ok(candidate) => candidate,
            Err(err) => return Verdict::unauthorized(Reason::Authorization(err), &self.challenges.plain),
        };
        let verified = match self.verify_token(candidate, now) {
            Ok(verified) => verified,
            // A token with bytes no JWS holds is a malformed header, as before any cache existed.
            Err(reason @ Reason::Authorization(_)) => return Verdict::unauthorized(reason, &self.challenges.plain),
            Err(reason) => return Verdict::unauthorized(reason, &self.challenges.invalid_token),
        };

        if !required_scopes.is_empty() {
            let template = route.map(|route| route.template.clone()).unwrap_or_default();
            if verified.token_use != TokenUse::Access {
                let reason = Reason::NotAnAccessToken { route: template };
                return Verdict::unauthorized(reason, &self.challenges.insufficient_scope);
            }
            if !required_scopes.iter().any(|scope| verified.scopes.contains(scope)) {
                let reason = Reason::MissingScope { route: template, required: required_scopes.to_vec() };
                return Verdict::unauthorized(reason, &self.challenges.insufficient_scope);
            }
        }

        let statements = match &self.config.policies {
            None => Vec::new(),
            Some(store) => {
                let principal = Principal {
                    groups: &verified.groups,
                    client_id: Some(&verified.client_id),
                    username: verified.username.as_deref(),
                };
                let context = RequestContext::new(request, &verified, now, self.config.source_ip);
                let evaluation = store.evaluate(&verified.issuer, &principal, INVOKE, &arn, &context);
                match evaluation.decision {
                    PolicyDecision::Allow => evaluation.statements,
                    PolicyDecision::ImplicitDeny => {
                        let why = evaluation.why().unwrap_or(DenyWhy::NoAllow);
                        let reason = Reason::ImplicitDeny { arn, sub: verified.sub.clone(), why };
                        return Verdict::refuse(Outcome::Forbidden, reason);
                    }
                    PolicyDecision::ExplicitDeny => {
                        let reason = Reason::ExplicitDeny { arn, sub: verified.sub.clone(), statements: evaluation.statements };
                        return Verdict::refuse(Outcome::ExplicitDeny, reason);
                    }
                }
            }
        };

        let names = &self.config.identity_headers;
        if let Some(header) = unsafe_identity_header(names, &verified) {
            let reason = Reason::IdentityNotHeaderSafe { header: header.to_owned() };
            return Verdict::unauthorized(reason, &self.challenges.invalid_token);
        }
        Verdict::allowed(names, verified, statements, self.identity_copies(request), rewrite_path)
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

    /// The lent verdict adapters render says exactly what the owned decision says, for every corpus request, with
    /// and without the token already cached.
    #[test]
    fn the_verdict_and_the_decision_agree_on_every_corpus_request() {
        let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/policies/scenarios"));
        for path in crate::scenario::json_files(dir).unwrap() {
            let scenario = crate::scenario::Scenario::load(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let authorizer = Authorizer::from_json(&scenario.config_bytes()).unwrap();
            for round in 0..2 {
                for case in &scenario.cases {
                    let context = format!("{}: {} (round {round})", path.display(), case.name);
                    let verdict = authorizer.decide(&case.request, scenario.now);
                    let reason = verdict.reason().to_string();
                    let mut record = String::new();
                    verdict.write_record(&mut record);
                    let upstream: Vec<(String, String)> =
                        verdict.upstream_headers().map(|(name, value)| (name.to_owned(), value.into_owned())).collect();
                    let removed: Vec<String> = verdict.remove_headers().iter().map(|name| (*name).to_owned()).collect();
                    let (status, rewrite, challenge) =
                        (verdict.status(), verdict.rewrite_path().map(str::to_owned), verdict.challenge().map(str::to_owned));
                    let decision = verdict.into_decision();
                    assert_eq!(decision, authorizer.authorize(&case.request, scenario.now), "{context}");
                    assert_eq!(reason, decision.reason.to_string(), "{context}");
                    assert_eq!(record, decision.record().to_json(), "{context}");
                    assert_eq!(upstream, decision.upstream_headers, "{context}");
                    assert_eq!(removed, decision.remove_headers, "{context}");
                    assert_eq!((status, rewrite, challenge), (decision.status(), decision.rewrite_path.clone(), decision.challenge.clone()), "{context}");
                }
            }
        }
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
