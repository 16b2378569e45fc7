//! What the authorizer decided, and how every host renders it: fixed public bodies, details only for logs.

use crate::policy::{DenyWhy, StatementRef};
use crate::request::RequestError;
use crate::token::{AuthorizationError, TokenError, TokenUse};
use serde::{Deserialize, Serialize};
use std::fmt;

/// API Gateway's bodies, byte for byte.
pub const UNAUTHORIZED_BODY: &str = r#"{"message":"Unauthorized"}"#;
pub const FORBIDDEN_BODY: &str = r#"{"Message":"User is not authorized to access this resource"}"#;
pub const EXPLICIT_DENY_BODY: &str = r#"{"Message":"User is not authorized to access this resource with an explicit deny"}"#;
pub const BAD_REQUEST_BODY: &str = r#"{"message":"Bad Request"}"#;
pub const URI_TOO_LONG_BODY: &str = r#"{"message":"Request-URI Too Long"}"#;
/// What API Gateway answers for a method or resource the API does not declare, whatever the token.
pub const MISSING_AUTHENTICATION_TOKEN_BODY: &str = r#"{"message":"Missing Authentication Token"}"#;

/// The kind of answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Forward upstream.
    Allow,
    /// 401: no usable token.
    Unauthorized,
    /// 403: no policy allows it.
    Forbidden,
    /// 403: a policy denies it.
    ExplicitDeny,
    /// 403: no declared route takes the request (API Gateway's "Missing Authentication Token").
    NoRoute,
    /// 400: the request cannot be read one way only.
    BadRequest,
    /// 414: the method ARN is over API Gateway's limit.
    UriTooLong,
}

impl Outcome {
    /// The HTTP status.
    pub fn status(self) -> u16 {
        match self {
            Self::Allow => 200,
            Self::Unauthorized => 401,
            Self::Forbidden | Self::ExplicitDeny | Self::NoRoute => 403,
            Self::BadRequest => 400,
            Self::UriTooLong => 414,
        }
    }

    /// The short name the CLI prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden | Self::ExplicitDeny | Self::NoRoute => "deny",
            Self::BadRequest | Self::UriTooLong => "bad_request",
        }
    }

    /// The fixed body clients see; `None` when the request goes upstream.
    pub fn body(self) -> Option<&'static str> {
        match self {
            Self::Allow => None,
            Self::Unauthorized => Some(UNAUTHORIZED_BODY),
            Self::Forbidden => Some(FORBIDDEN_BODY),
            Self::ExplicitDeny => Some(EXPLICIT_DENY_BODY),
            Self::BadRequest => Some(BAD_REQUEST_BODY),
            Self::UriTooLong => Some(URI_TOO_LONG_BODY),
            Self::NoRoute => Some(MISSING_AUTHENTICATION_TOKEN_BODY),
        }
    }

    /// The gRPC status a gRPC client gets for this answer (hosts that turn local replies into gRPC errors send
    /// it as `grpc-status`): chosen here rather than left to a host's own HTTP-to-gRPC table, which maps 400 to
    /// INTERNAL. `None` on allow.
    pub fn grpc_status(self) -> Option<u32> {
        match self {
            Self::Allow => None,
            // UNAUTHENTICATED
            Self::Unauthorized => Some(16),
            // PERMISSION_DENIED
            Self::Forbidden | Self::ExplicitDeny | Self::NoRoute => Some(7),
            // INVALID_ARGUMENT
            Self::BadRequest | Self::UriTooLong => Some(3),
        }
    }
}

/// Why: for logs and the CLI, never for clients.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// A route with `auth: none`.
    PublicRoute { route: String },
    /// Token valid, scopes and policies satisfied.
    Allowed { sub: String, statements: Vec<StatementRef> },
    Request(RequestError),
    Authorization(AuthorizationError),
    Token(TokenError),
    /// The route wants scopes and the token is an ID token.
    NotAnAccessToken { route: String },
    /// None of the route's scopes is in the token.
    MissingScope { route: String, required: Vec<String> },
    /// No policy statement allows the request, and why.
    ImplicitDeny { arn: String, sub: String, why: DenyWhy },
    /// These statements deny it.
    ExplicitDeny { arn: String, sub: String, statements: Vec<StatementRef> },
    /// Routes are declared and none takes this method and path.
    NoRoute { method: String, path: String },
    /// A verified identity value cannot be carried in the named upstream header.
    IdentityNotHeaderSafe { header: String },
    /// A configured claim's value cannot be carried in its upstream header, and why.
    ClaimNotHeaderSafe { claim: String, header: String, why: &'static str },
    /// The token could not be taken from a configured source other than `authorization` (named as
    /// [`crate::config::TokenSource::describe`] writes it).
    TokenSource { source: String, err: AuthorizationError },
    /// The route accepts other token kinds than this token's (`token_use`).
    RouteTokenUse { route: String, token_use: TokenUse },
}

fn join(statements: &[StatementRef]) -> String {
    statements.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PublicRoute { route } => write!(f, "public route `{route}`"),
            Self::Allowed { sub, statements } if statements.is_empty() => write!(f, "token of `{sub}` accepted"),
            Self::Allowed { sub, statements } => write!(f, "`{sub}` allowed by {}", join(statements)),
            Self::Request(err) => write!(f, "{err}"),
            Self::Authorization(err) => write!(f, "{err}"),
            Self::Token(err) => write!(f, "{err}"),
            Self::NotAnAccessToken { route } => write!(f, "route `{route}` requires scopes, which only access tokens carry"),
            Self::MissingScope { route, required } => {
                write!(f, "route `{route}` requires one of scopes `{}`", required.join(" "))
            }
            Self::ImplicitDeny { arn, sub, why } => write!(f, "no statement allows `{sub}` on `{arn}`: {why}"),
            Self::ExplicitDeny { arn, sub, statements } => {
                write!(f, "`{sub}` denied on `{arn}` by {}", join(statements))
            }
            Self::NoRoute { method, path } => write!(f, "no route declared for `{method} {path}`"),
            Self::IdentityNotHeaderSafe { header } => {
                write!(f, "identity value for header `{header}` has bytes a header cannot carry")
            }
            Self::ClaimNotHeaderSafe { claim, header, why } => {
                write!(f, "claim `{claim}` cannot be sent in header `{header}`: {why}")
            }
            Self::TokenSource { source, err } => match err {
                AuthorizationError::Missing | AuthorizationError::MissingCookie => write!(f, "no {source}"),
                AuthorizationError::Repeated => write!(f, "more than one {source}"),
                AuthorizationError::RepeatedCookie => write!(f, "more than one {source} (names compared in any letter case)"),
                AuthorizationError::BadForm => write!(f, "{source} is not `Bearer <token>` or a bare token"),
                AuthorizationError::BadCookie => write!(f, "{source} is not a bare token"),
            },
            Self::RouteTokenUse { route, token_use } => {
                write!(f, "route `{route}` does not accept {} tokens", token_use.as_str())
            }
        }
    }
}

/// The stream property a host filter writes the [`DecisionRecord`] to; Envoy's filter state key is
/// `wasm.authz.decision`.
pub const DECISION_PROPERTY: &str = "authz.decision";

/// One request's decision as a host records it for operators and tools (in Envoy: the filter state
/// `wasm.authz.decision`, which an access log prints with `%FILTER_STATE(wasm.authz.decision:PLAIN)%`). Its JSON
/// is one compact object, `{"status":403,"decision":"deny","reason":"..."}`: the status the authorizer chose
/// (before a host turns it into something else, such as HTTP 200 with `grpc-status` for gRPC clients), the
/// decision name ([`Outcome::as_str`], or `error` when the host could not decide), and the reason text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionRecord {
    pub status: u16,
    pub decision: String,
    pub reason: String,
}

impl DecisionRecord {
    /// The record of a request the host refused without a decision (no configuration, a failed host call): 500.
    pub fn internal_error(why: &str) -> Self {
        Self { status: 500, decision: "error".to_owned(), reason: why.to_owned() }
    }

    /// The compact JSON object.
    pub fn to_json(&self) -> String {
        // Serialising three plain fields cannot fail; an empty record is still better than a panic.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a record back from its JSON.
    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

/// The authorizer's answer to one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub outcome: Outcome,
    pub reason: Reason,
    /// On allow: request header names to remove before forwarding, as the request spelled them: every header
    /// an upstream could read as an identity header (see `IdentityHeaders::covers`).
    pub remove_headers: Vec<String>,
    /// On allow: identity headers to set upstream (after removing `remove_headers`).
    pub upstream_headers: Vec<(String, String)>,
    /// On allow: the normalised request target, when it differs from what the client sent.
    pub rewrite_path: Option<String>,
    /// On 401: the `WWW-Authenticate` challenge (RFC 6750).
    pub challenge: Option<String>,
}

impl Decision {
    pub(crate) fn deny(outcome: Outcome, reason: Reason) -> Self {
        Self { outcome, reason, remove_headers: Vec::new(), upstream_headers: Vec::new(), rewrite_path: None, challenge: None }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.outcome.status()
    }

    /// Whether the request goes upstream.
    pub fn is_allowed(&self) -> bool {
        self.outcome == Outcome::Allow
    }

    /// The record hosts keep of this decision.
    pub fn record(&self) -> DecisionRecord {
        DecisionRecord { status: self.status(), decision: self.outcome.as_str().to_owned(), reason: self.reason.to_string() }
    }

    /// The headers an answer shows: on allow the identity headers set upstream, otherwise the local response's.
    pub fn answer_headers(&self) -> Vec<(String, String)> {
        if self.is_allowed() {
            self.upstream_headers.clone()
        } else {
            self.response_headers().into_iter().map(|(name, value)| (name.to_owned(), value)).collect()
        }
    }

    /// The headers of a local response (empty on allow).
    pub fn response_headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = Vec::new();
        if self.outcome != Outcome::Allow {
            headers.push(("content-type", "application/json".to_owned()));
        }
        if let Some(challenge) = &self.challenge {
            headers.push(("www-authenticate", challenge.clone()));
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_record_is_one_compact_json_object() {
        let decision = Decision::deny(Outcome::NoRoute, Reason::NoRoute { method: "GET".into(), path: "/a\"b".into() });
        let record = decision.record();
        assert_eq!(record.to_json(), r#"{"status":403,"decision":"deny","reason":"no route declared for `GET /a\"b`"}"#);
        assert_eq!(DecisionRecord::parse(&record.to_json()), Some(record));
        let error = DecisionRecord::internal_error("no configuration loaded");
        assert_eq!(error.to_json(), r#"{"status":500,"decision":"error","reason":"no configuration loaded"}"#);
        assert_eq!(DecisionRecord::parse(r#"{"status":403,"decision":"deny","reason":"x","extra":1}"#), None);
    }
}
