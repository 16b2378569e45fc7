//! The one call adapters make: request + compiled configuration + `now` → decision.

use crate::config::{Config, ConfigError, IdentityHeaders};
use crate::decision::{Decision, Outcome, Reason};
use crate::policy::{DenyWhy, PolicyDecision, Principal, RequestContext, INVOKE};
use crate::request::{normalize_method, HttpRequest, RequestError};
use crate::routes::{self, RouteAuth};
use crate::token::{bearer_token, TokenError, TokenUse, VerifiedToken};

/// A compiled configuration, shared read-only by every request.
#[derive(Debug)]
pub struct Authorizer {
    config: Config,
    realm: String,
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
        let realm = format!("{}/{}", config.api.api_id, config.api.stage);
        Self { config, realm }
    }

    /// The compiled configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Identity header names every adapter removes from every request before anything else.
    pub fn identity_header_names(&self) -> [&str; 5] {
        self.config.identity_headers.names()
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

    /// Decides one request at unix time `now` (seconds).
    pub fn authorize(&self, request: &HttpRequest, now: u64) -> Decision {
        // Size first: nothing below reads more than these limits allow.
        if let Err(err) = self.config.request.check_headers(request) {
            return Decision::deny(Outcome::BadRequest, Reason::Request(err));
        }
        let method = match normalize_method(&request.method) {
            Ok(method) => method,
            Err(err) => return Decision::deny(Outcome::BadRequest, Reason::Request(err)),
        };
        let path = match crate::request::normalize_path_with(&request.path, &self.config.request) {
            Ok(path) => path,
            Err(err @ RequestError::PathTooLong { .. }) => return Decision::deny(Outcome::UriTooLong, Reason::Request(err)),
            Err(err) => return Decision::deny(Outcome::BadRequest, Reason::Request(err)),
        };
        let arn = match self.config.api.method_arn(method, &path) {
            Ok(arn) => arn,
            Err(err @ RequestError::ArnTooLong(_)) => return Decision::deny(Outcome::UriTooLong, Reason::Request(err)),
            Err(err) => return Decision::deny(Outcome::BadRequest, Reason::Request(err)),
        };
        let rewrite_path = path.changed.then(|| path.target());
        let route = routes::find(&self.config.routes, method, &path);
        let required_scopes = match route.map(|route| &route.auth) {
            Some(RouteAuth::Public) => {
                let template = route.map(|route| route.template.clone()).unwrap_or_default();
                return Decision {
                    outcome: Outcome::Allow,
                    reason: Reason::PublicRoute { route: template },
                    upstream_headers: Vec::new(),
                    rewrite_path,
                    challenge: None,
                };
            }
            Some(RouteAuth::Token { scopes }) => scopes.as_slice(),
            None => &[],
        };

        let token = match bearer_token(request.header_values("authorization")) {
            Ok(token) => token,
            Err(err) => return self.unauthorized(Reason::Authorization(err), None),
        };
        let verified = match self.config.verifier.verify(token, now) {
            Ok(verified) => verified,
            Err(err) => return self.unauthorized(Reason::Token(err), Some("invalid_token")),
        };

        if !required_scopes.is_empty() {
            let template = route.map(|route| route.template.clone()).unwrap_or_default();
            if verified.token_use != TokenUse::Access {
                return self.unauthorized(Reason::NotAnAccessToken { route: template }, Some("insufficient_scope"));
            }
            if !required_scopes.iter().any(|scope| verified.scopes.contains(scope)) {
                let reason = Reason::MissingScope { route: template, required: required_scopes.to_vec() };
                return self.unauthorized(reason, Some("insufficient_scope"));
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
                let evaluation = store.evaluate(&principal, INVOKE, &arn, &context);
                match evaluation.decision {
                    PolicyDecision::Allow => evaluation.statements,
                    PolicyDecision::ImplicitDeny => {
                        let why = evaluation.why().unwrap_or(DenyWhy::NoAllow);
                        let reason = Reason::ImplicitDeny { arn, sub: verified.sub, why };
                        return Decision::deny(Outcome::Forbidden, reason);
                    }
                    PolicyDecision::ExplicitDeny => {
                        let reason = Reason::ExplicitDeny { arn, sub: verified.sub, statements: evaluation.statements };
                        return Decision::deny(Outcome::ExplicitDeny, reason);
                    }
                }
            }
        };

        match identity_headers(&self.config.identity_headers, &verified) {
            Some(upstream_headers) => Decision {
                outcome: Outcome::Allow,
                reason: Reason::Allowed { sub: verified.sub, statements },
                upstream_headers,
                rewrite_path,
                challenge: None,
            },
            None => self.unauthorized(
                Reason::Token(TokenError::InvalidClaim { claim: "identity", why: "not safe in a header" }),
                Some("invalid_token"),
            ),
        }
    }
}

/// The identity headers for an allowed request, or `None` if a value cannot be carried in a header.
fn identity_headers(names: &IdentityHeaders, token: &VerifiedToken) -> Option<Vec<(String, String)>> {
    let mut headers = vec![
        (names.sub.clone(), token.sub.clone()),
        (names.client_id.clone(), token.client_id.clone()),
    ];
    if let Some(username) = &token.username {
        headers.push((names.username.clone(), username.clone()));
    }
    if !token.groups.is_empty() {
        headers.push((names.groups.clone(), token.groups.join(",")));
    }
    if !token.scopes.is_empty() {
        headers.push((names.scopes.clone(), token.scopes.join(" ")));
    }
    headers.iter().all(|(_, value)| header_safe(value)).then_some(headers)
}
