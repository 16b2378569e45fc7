//! What the authorizer decided, and how every host renders it: fixed public bodies, details only for logs.

use crate::config::IdentityHeaders;
use crate::policy::{DenyWhy, StatementRef};
use crate::request::RequestError;
use crate::token::{AuthorizationError, TokenError, TokenUse, VerifiedToken};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::sync::Arc;

/// API Gateway's bodies, byte for byte.
pub const UNAUTHORIZED_BODY: &str = r#"{"message":"Unauthorized"}"#;
pub const FORBIDDEN_BODY: &str = r#"{"Message":"User is not authorized to access this resource"}"#;
pub const EXPLICIT_DENY_BODY: &str =
    r#"{"Message":"User is not authorized to access this resource with an explicit deny"}"#;
pub const BAD_REQUEST_BODY: &str = r#"{"message":"Bad Request"}"#;
pub const URI_TOO_LONG_BODY: &str = r#"{"message":"Request-URI Too Long"}"#;
pub const UNAVAILABLE_BODY: &str = r#"{"message":"Service Unavailable"}"#;
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
    /// 503: the credentials could not be checked now (the identity provider failed); never allowed.
    Unavailable,
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
            Self::Unavailable => 503,
        }
    }

    /// The short name the CLI prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden | Self::ExplicitDeny | Self::NoRoute => "deny",
            Self::BadRequest | Self::UriTooLong => "bad_request",
            Self::Unavailable => "unavailable",
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
            Self::Unavailable => Some(UNAVAILABLE_BODY),
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
            // UNAVAILABLE: a gRPC client may retry.
            Self::Unavailable => Some(14),
        }
    }
}

/// Why, as a stable name: the decision record's `code`, the counter each request moves (`authz.<code>`), and the
/// decision log line. Codes are snake_case and never change meaning; each belongs to one decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Code {
    /// A verified token, allowed by a policy statement (or by every token when no policies are configured).
    Allowed,
    /// A route with `auth: none`.
    PublicRoute,
    /// A CORS preflight, passed without a token (`bypass_cors_preflight`).
    CorsPreflight,
    /// No token where one is read.
    TokenMissing,
    /// A token that cannot be read: the header's form, repeated headers or cookies, size, JWS structure, header
    /// parameters.
    TokenMalformed,
    /// `exp` has passed.
    TokenExpired,
    /// `nbf` or `iat` is in the future.
    TokenNotYetValid,
    /// The signature does not verify, or the token's `alg` is not its key's.
    TokenSignature,
    /// `iss` is no configured issuer.
    TokenIssuer,
    /// `kid` names no key of the issuer.
    TokenUnknownKey,
    /// The app client is not accepted.
    TokenClient,
    /// The token kind (`token_use`) is not accepted by the issuer or the route, or a scoped route got an ID token.
    TokenUse,
    /// None of the route's scopes is in the token.
    TokenScope,
    /// A claim is missing or of the wrong shape, or an identity value cannot be carried in a header.
    TokenClaims,
    /// No policy statement allows the request.
    ImplicitDeny,
    /// A policy statement denies the request.
    ExplicitDeny,
    /// No declared route takes the request (or an `auth: undeclared` route does).
    NoRoute,
    /// The method is not one API Gateway routes.
    BadMethod,
    /// A method-override header (`X-HTTP-Method-Override`, …) names another method than the request's.
    MethodOverride,
    /// The path is ambiguous or malformed.
    BadPath,
    /// The request headers are over `request.max_header_bytes`.
    HeadersTooLarge,
    /// The target or the method ARN is over its limit (414).
    UriTooLong,
    /// The host could not decide (no configuration, a failed host call): 500.
    InternalError,
    /// `Authorization: Basic` credentials refused by the identity provider (wrong username or password, a user who
    /// must act first, a challenge), or their username in the penalty period after such a refusal: 401.
    PasswordRefused,
    /// `Authorization: Basic` credentials that could not be exchanged: the identity provider unreachable, timing
    /// out, answering an error or an unreadable answer, or a host that cannot call it: 503.
    PasswordExchangeFailed,
}

impl Code {
    /// Every code, in the order of the README's table.
    pub const ALL: [Self; 25] = [
        Self::Allowed,
        Self::PublicRoute,
        Self::CorsPreflight,
        Self::TokenMissing,
        Self::TokenMalformed,
        Self::TokenExpired,
        Self::TokenNotYetValid,
        Self::TokenSignature,
        Self::TokenIssuer,
        Self::TokenUnknownKey,
        Self::TokenClient,
        Self::TokenUse,
        Self::TokenScope,
        Self::TokenClaims,
        Self::ImplicitDeny,
        Self::ExplicitDeny,
        Self::NoRoute,
        Self::BadMethod,
        Self::MethodOverride,
        Self::BadPath,
        Self::HeadersTooLarge,
        Self::UriTooLong,
        Self::InternalError,
        Self::PasswordRefused,
        Self::PasswordExchangeFailed,
    ];

    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::PublicRoute => "public_route",
            Self::CorsPreflight => "cors_preflight",
            Self::TokenMissing => "token_missing",
            Self::TokenMalformed => "token_malformed",
            Self::TokenExpired => "token_expired",
            Self::TokenNotYetValid => "token_not_yet_valid",
            Self::TokenSignature => "token_signature",
            Self::TokenIssuer => "token_issuer",
            Self::TokenUnknownKey => "token_unknown_key",
            Self::TokenClient => "token_client",
            Self::TokenUse => "token_use",
            Self::TokenScope => "token_scope",
            Self::TokenClaims => "token_claims",
            Self::ImplicitDeny => "implicit_deny",
            Self::ExplicitDeny => "explicit_deny",
            Self::NoRoute => "no_route",
            Self::BadMethod => "bad_method",
            Self::MethodOverride => "method_override",
            Self::BadPath => "bad_path",
            Self::HeadersTooLarge => "headers_too_large",
            Self::UriTooLong => "uri_too_long",
            Self::InternalError => "internal_error",
            Self::PasswordRefused => "password_refused",
            Self::PasswordExchangeFailed => "password_exchange_failed",
        }
    }

    /// The code named `name`, if any.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|code| code.as_str() == name)
    }

    /// The decision this code belongs to, as [`Outcome::as_str`] names it (`error` for [`Code::InternalError`]).
    pub fn decision(self) -> &'static str {
        match self {
            Self::Allowed | Self::PublicRoute | Self::CorsPreflight => "allow",
            Self::TokenMissing
            | Self::TokenMalformed
            | Self::TokenExpired
            | Self::TokenNotYetValid
            | Self::TokenSignature
            | Self::TokenIssuer
            | Self::TokenUnknownKey
            | Self::TokenClient
            | Self::TokenUse
            | Self::TokenScope
            | Self::TokenClaims
            | Self::PasswordRefused => "unauthorized",
            Self::ImplicitDeny | Self::ExplicitDeny | Self::NoRoute => "deny",
            Self::BadMethod | Self::MethodOverride | Self::BadPath | Self::HeadersTooLarge | Self::UriTooLong => {
                "bad_request"
            }
            Self::InternalError => "error",
            Self::PasswordExchangeFailed => "unavailable",
        }
    }

    /// The code of a token that failed verification.
    fn of_token(err: &TokenError) -> Self {
        match err {
            TokenError::TooLarge { .. }
            | TokenError::Malformed(_)
            | TokenError::UnsupportedHeader(_)
            | TokenError::MissingKid => Self::TokenMalformed,
            TokenError::UnknownIssuer(_) => Self::TokenIssuer,
            TokenError::UnknownKid { .. } => Self::TokenUnknownKey,
            TokenError::AlgorithmMismatch { .. } | TokenError::BadSignature => Self::TokenSignature,
            TokenError::Expired => Self::TokenExpired,
            TokenError::NotYetValid | TokenError::IssuedInFuture => Self::TokenNotYetValid,
            TokenError::MissingClaim(_) | TokenError::InvalidClaim { .. } => Self::TokenClaims,
            TokenError::TokenUseNotAllowed(_) => Self::TokenUse,
            TokenError::ClientNotAllowed(_) => Self::TokenClient,
        }
    }

    /// The code of a token source that yielded no usable token.
    fn of_source(err: &AuthorizationError) -> Self {
        match err {
            AuthorizationError::Missing | AuthorizationError::MissingCookie => Self::TokenMissing,
            AuthorizationError::Repeated
            | AuthorizationError::RepeatedCookie
            | AuthorizationError::BadForm
            | AuthorizationError::BadCookie => Self::TokenMalformed,
        }
    }

    /// The code of a request that cannot be read.
    fn of_request(err: &RequestError) -> Self {
        match err {
            RequestError::Method(_) => Self::BadMethod,
            RequestError::MethodOverride => Self::MethodOverride,
            RequestError::Path(_) => Self::BadPath,
            RequestError::HeadersTooLarge { .. } => Self::HeadersTooLarge,
            RequestError::PathTooLong { .. } | RequestError::ArnTooLong(_) => Self::UriTooLong,
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why: for logs and the CLI, never for clients.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// A route with `auth: none`.
    PublicRoute {
        route: String,
    },
    /// A CORS preflight for `method` (its `Access-Control-Request-Method`), passed without a token.
    CorsPreflight {
        method: String,
    },
    /// Token valid, scopes and policies satisfied.
    Allowed {
        sub: String,
        statements: Vec<StatementRef>,
    },
    Request(RequestError),
    Authorization(AuthorizationError),
    Token(TokenError),
    /// The route wants scopes and the token is an ID token.
    NotAnAccessToken {
        route: String,
    },
    /// None of the route's scopes is in the token.
    MissingScope {
        route: String,
        required: Vec<String>,
    },
    /// No policy statement allows the request, and why.
    ImplicitDeny {
        arn: String,
        sub: String,
        why: DenyWhy,
    },
    /// These statements deny it.
    ExplicitDeny {
        arn: String,
        sub: String,
        statements: Vec<StatementRef>,
    },
    /// Routes are declared and none takes this method and path.
    NoRoute {
        method: String,
        path: String,
    },
    /// A verified identity value cannot be carried in the named upstream header.
    IdentityNotHeaderSafe {
        header: String,
    },
    /// A configured claim's value cannot be carried in its upstream header, and why.
    ClaimNotHeaderSafe {
        claim: String,
        header: String,
        why: &'static str,
    },
    /// The token could not be taken from a configured source other than `authorization` (named as
    /// [`crate::config::TokenSource::describe`] writes it).
    TokenSource {
        source: String,
        err: AuthorizationError,
    },
    /// The route accepts other token kinds than this token's (`token_use`).
    RouteTokenUse {
        route: String,
        token_use: TokenUse,
    },
    /// `Authorization: Basic` credentials that cannot be read (checked before any exchange).
    BadBasic(crate::token::password::BasicError),
    /// The exchange of `username`'s password failed, now or within the penalty period (`penalized`: answered
    /// without a call).
    Password {
        username: String,
        failure: crate::token::password::ExchangeFailure,
        penalized: bool,
    },
    /// `username`'s password is not exchanged yet; a host that can call the identity provider does so and decides
    /// again, any other refuses the request with this reason.
    PasswordPending {
        username: String,
    },
}

impl Reason {
    /// The stable code of this reason.
    pub fn code(&self) -> Code {
        match self {
            Self::PublicRoute { .. } => Code::PublicRoute,
            Self::CorsPreflight { .. } => Code::CorsPreflight,
            Self::Allowed { .. } => Code::Allowed,
            Self::Request(err) => Code::of_request(err),
            Self::Authorization(err) | Self::TokenSource { err, .. } => Code::of_source(err),
            Self::Token(err) => Code::of_token(err),
            Self::NotAnAccessToken { .. } | Self::RouteTokenUse { .. } => Code::TokenUse,
            Self::MissingScope { .. } => Code::TokenScope,
            Self::ImplicitDeny { .. } => Code::ImplicitDeny,
            Self::ExplicitDeny { .. } => Code::ExplicitDeny,
            Self::NoRoute { .. } => Code::NoRoute,
            Self::IdentityNotHeaderSafe { .. } | Self::ClaimNotHeaderSafe { .. } => Code::TokenClaims,
            Self::BadBasic(_) => Code::TokenMalformed,
            Self::Password { failure: crate::token::password::ExchangeFailure::Token(err), .. } => Code::of_token(err),
            Self::Password { failure, .. } if failure.refuses_credentials() => Code::PasswordRefused,
            Self::Password { .. } | Self::PasswordPending { .. } => Code::PasswordExchangeFailed,
        }
    }

    /// The statements that decided: the allowing ones on allow, the denying ones on an explicit deny; none
    /// otherwise (an implicit deny names the statements that came close in its text).
    pub fn statements(&self) -> &[StatementRef] {
        match self {
            Self::Allowed { statements, .. } | Self::ExplicitDeny { statements, .. } => statements,
            _ => &[],
        }
    }
}

/// Statements as `a, b, c`, written straight into the formatter.
struct Join<'a>(&'a [StatementRef]);

impl fmt::Display for Join<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, statement) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            statement.fmt(f)?;
        }
        Ok(())
    }
}

/// The allowed reasons' text, shared by [`Reason`] and [`Verdict`] so that both read the same.
fn write_allowed(f: &mut fmt::Formatter<'_>, sub: &str, statements: &[StatementRef]) -> fmt::Result {
    // Piece by piece: an allowed request's record is written on every request.
    if statements.is_empty() {
        f.write_str("token of `")?;
        f.write_str(sub)?;
        f.write_str("` accepted")
    } else {
        f.write_str("`")?;
        f.write_str(sub)?;
        f.write_str("` allowed by ")?;
        fmt::Display::fmt(&Join(statements), f)
    }
}

/// A preflight's reason text, shared by [`Reason`] and [`Verdict`].
fn write_preflight(f: &mut fmt::Formatter<'_>, method: &str) -> fmt::Result {
    f.write_str("CORS preflight for `")?;
    fmt::Display::fmt(&crate::text::Untrusted(method), f)?;
    f.write_str("`")
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PublicRoute { route } => write!(f, "public route `{route}`"),
            Self::CorsPreflight { method } => write_preflight(f, method),
            Self::Allowed { sub, statements } => write_allowed(f, sub, statements),
            Self::Request(err) => write!(f, "{err}"),
            Self::Authorization(err) => write!(f, "{err}"),
            Self::Token(err) => write!(f, "{err}"),
            Self::NotAnAccessToken { route } => {
                write!(f, "route `{route}` requires scopes, which only access tokens carry")
            }
            Self::MissingScope { route, required } => {
                write!(f, "route `{route}` requires one of scopes `{}`", required.join(" "))
            }
            Self::ImplicitDeny { arn, sub, why } => write!(f, "no statement allows `{sub}` on `{arn}`: {why}"),
            Self::ExplicitDeny { arn, sub, statements } => {
                write!(f, "`{sub}` denied on `{arn}` by {}", Join(statements))
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
                AuthorizationError::RepeatedCookie => {
                    write!(f, "more than one {source} (names compared in any letter case)")
                }
                AuthorizationError::BadForm => write!(f, "{source} is not `Bearer <token>` or a bare token"),
                AuthorizationError::BadCookie => write!(f, "{source} is not a bare token"),
            },
            Self::RouteTokenUse { route, token_use } => {
                write!(f, "route `{route}` does not accept {} tokens", token_use.as_str())
            }
            Self::BadBasic(err) => write!(f, "{err}"),
            Self::Password { username, failure, penalized: false } => write!(f, "password of `{username}`: {failure}"),
            Self::Password { username, failure, penalized: true } => {
                write!(
                    f,
                    "password of `{username}` not exchanged: its penalty period runs after this failure: {failure}"
                )
            }
            Self::PasswordPending { username } => {
                write!(f, "password of `{username}` not exchanged: this host cannot call the identity provider")
            }
        }
    }
}

/// The stream property a host filter writes the [`DecisionRecord`] to; Envoy's filter state key is
/// `wasm.authz.decision`.
pub const DECISION_PROPERTY: &str = "authz.decision";

/// A `fmt::Write` that appends to a String what it is given, escaped as the inside of a JSON string the way
/// `serde_json` escapes: `"` and `\\`, `\\b \\f \\n \\r \\t`, other control bytes as `\\u00xx`; all else as is.
struct JsonEscaped<'a>(&'a mut String);

impl fmt::Write for JsonEscaped<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut plain = 0;
        for (at, byte) in text.bytes().enumerate() {
            let escape = match byte {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0x08 => "\\b",
                0x0c => "\\f",
                0x00..=0x1f => "",
                _ => continue,
            };
            self.0.push_str(text.get(plain..at).unwrap_or_default());
            if escape.is_empty() {
                self.0.push_str("\\u00");
                self.0.push(char::from(HEX.get(usize::from(byte >> 4)).copied().unwrap_or(b'0')));
                self.0.push(char::from(HEX.get(usize::from(byte & 15)).copied().unwrap_or(b'0')));
            } else {
                self.0.push_str(escape);
            }
            plain = at + 1;
        }
        self.0.push_str(text.get(plain..).unwrap_or_default());
        Ok(())
    }
}

/// One request's decision as a host records it for operators and tools (in Envoy: the filter state
/// `wasm.authz.decision`, which an access log prints with `%FILTER_STATE(wasm.authz.decision:PLAIN)%`). This is the
/// one structured channel for the decision: tools read it back with [`DecisionRecord::parse`], never a log line.
/// Its JSON is one compact object with the fields in this order:
///
/// `{"status":403,"decision":"deny","code":"explicit_deny","reason":"...","statements":["groups.g[0].Statement[1] (Sid)"]}`
///
/// `status` is the status the authorizer chose (before a host turns it into something else, such as HTTP 200 with
/// `grpc-status` for gRPC clients); `decision` is [`Outcome::as_str`], or `error` when the host could not decide;
/// `code` is the [`Code`]; `reason` the reason text (never a token); `statements` the deciding statements
/// ([`Reason::statements`]), each as `location (Sid)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionRecord {
    pub status: u16,
    pub decision: String,
    pub code: String,
    pub reason: String,
    pub statements: Vec<String>,
}

impl DecisionRecord {
    /// The record of a request the host refused without a decision (no configuration, a failed host call): 500.
    pub fn internal_error(why: &str) -> Self {
        Self {
            status: 500,
            decision: Code::InternalError.decision().to_owned(),
            code: Code::InternalError.as_str().to_owned(),
            reason: why.to_owned(),
            statements: Vec::new(),
        }
    }

    /// The compact JSON object.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        out.push_str("{\"status\":");
        let _ = write!(out, "{}", self.status);
        push_field(&mut out, "decision", &self.decision);
        push_field(&mut out, "code", &self.code);
        push_field(&mut out, "reason", &self.reason);
        out.push_str(",\"statements\":[");
        for (index, statement) in self.statements.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            out.push('"');
            let _ = JsonEscaped(&mut out).write_str(statement);
            out.push('"');
        }
        out.push_str("]}");
        out
    }

    /// Writes a record's JSON into `out` (replacing what it held) straight from its parts: hosts record every
    /// request, so this builds no intermediate string. Escapes exactly as `serde_json` does, which reads it back.
    pub fn write_json(
        out: &mut String,
        status: u16,
        code: Code,
        reason: &dyn fmt::Display,
        statements: &[StatementRef],
    ) {
        out.clear();
        out.push_str("{\"status\":");
        // Writing into a String cannot fail.
        let _ = write!(out, "{status}");
        push_field(out, "decision", code.decision());
        push_field(out, "code", code.as_str());
        out.push_str(",\"reason\":\"");
        let _ = write!(JsonEscaped(out), "{reason}");
        out.push_str("\",\"statements\":[");
        for (index, statement) in statements.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            out.push('"');
            let _ = write!(JsonEscaped(out), "{statement}");
            out.push('"');
        }
        out.push_str("]}");
    }

    /// Reads a record back from its JSON.
    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }

    /// The record's code, when it is one this version knows.
    pub fn code(&self) -> Option<Code> {
        Code::parse(&self.code)
    }
}

/// Appends `,"name":"value"` with the value escaped.
fn push_field(out: &mut String, name: &str, value: &str) {
    out.push_str(",\"");
    out.push_str(name);
    out.push_str("\":\"");
    let _ = JsonEscaped(out).write_str(value);
    out.push('"');
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
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.outcome.status()
    }

    /// Whether the request goes upstream.
    pub fn is_allowed(&self) -> bool {
        self.outcome == Outcome::Allow
    }

    /// The stable code of the reason.
    pub fn code(&self) -> Code {
        self.reason.code()
    }

    /// The record hosts keep of this decision.
    pub fn record(&self) -> DecisionRecord {
        let code = self.code();
        DecisionRecord {
            status: self.status(),
            decision: code.decision().to_owned(),
            code: code.as_str().to_owned(),
            reason: self.reason.to_string(),
            statements: self.reason.statements().iter().map(ToString::to_string).collect(),
        }
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

/// Header values must not smuggle line breaks or other controls upstream.
fn header_safe(value: &str) -> bool {
    value.bytes().all(|b| b >= 0x20 && b != 0x7f)
}

/// The identity header that cannot carry its value from `token`, if any (the first, in the order they are set).
/// Group names are percent-encoded ([`list_element`]), so that header is always safe; scopes are joined by
/// spaces, which a header carries.
pub(crate) fn unsafe_identity_header<'n>(names: &'n IdentityHeaders, token: &VerifiedToken) -> Option<&'n str> {
    if !header_safe(token.sub()) {
        return Some(&names.sub);
    }
    if !header_safe(token.client_id()) {
        return Some(&names.client_id);
    }
    if !header_safe(token.issuer()) {
        return Some(&names.issuer);
    }
    if token.username().is_some_and(|username| !header_safe(username)) {
        return Some(&names.username);
    }
    if !token.scopes().iter().all(|scope| header_safe(scope)) {
        return Some(&names.scopes);
    }
    None
}

/// Whether a group name goes into the groups header as it is ([`list_element`] leaves it unchanged).
fn plain_element(value: &str) -> bool {
    value.bytes().all(|byte| (0x21..=0x7e).contains(&byte) && byte != b'%' && byte != b',')
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

/// The groups header value: each group once, comma-separated; borrowed when it is one plain name.
fn groups_value(groups: &[String]) -> Cow<'_, str> {
    if let [group] = groups {
        if plain_element(group) {
            return Cow::Borrowed(group);
        }
    }
    let mut value = String::new();
    for (index, group) in groups.iter().enumerate() {
        if index > 0 {
            value.push(',');
        }
        list_element(group, &mut value);
    }
    Cow::Owned(value)
}

/// The scopes header value. Scope words never hold U+0020 (RFC 6749 §3.3), so the space-separated list is
/// unambiguous; borrowed when there is one.
fn scopes_value(scopes: &[String]) -> Cow<'_, str> {
    match scopes {
        [scope] => Cow::Borrowed(scope),
        _ => Cow::Owned(scopes.join(" ")),
    }
}

/// The mapped claim headers for an allowed request (`identity_headers.claims`), or why one cannot be sent. No
/// allocation when nothing is mapped. A claim is found by its name in any letter case, as policy condition keys
/// find it (`claim:custom:tenant` reads `custom:TENANT`): two claims answering one name refuse the request, so
/// the header and a policy never read different claims.
pub(crate) fn claim_headers<'n>(
    names: &'n IdentityHeaders,
    token: &VerifiedToken,
) -> Result<Vec<(&'n str, String)>, Reason> {
    let mut headers = Vec::new();
    for mapped in &names.claims {
        let refuse =
            |why| Reason::ClaimNotHeaderSafe { claim: mapped.claim.clone(), header: mapped.header.clone(), why };
        let mut found =
            token.claims().iter().filter(|(name, _)| name.eq_ignore_ascii_case(&mapped.claim)).map(|(_, value)| value);
        let claim = found.next();
        if found.next().is_some() {
            return Err(refuse("present twice, in two letter cases"));
        }
        match claim_header_value(claim) {
            Ok(None) => {}
            Ok(Some(value)) => headers.push((mapped.header.as_str(), value)),
            Err(why) => return Err(refuse(why)),
        }
    }
    Ok(headers)
}

/// A claim's value as one header value, read one way only: a list of strings, numbers or booleans as its elements
/// joined with `,`, and a single string, number or boolean as a list of one; every element percent-encoded like a
/// group name ([`list_element`]: `%`, `,` and anything outside visible ASCII, spaces and Unicode whitespace
/// included), so that the string `"reader,admin"` (`reader%2Cadmin`) never reads as the list
/// `["reader","admin"]` (`reader,admin`), and no reader's trimming can change a value (` admin`, `admin\u{3000}`
/// arrive encoded). An empty list, like an absent claim, sends no header. Refused: objects, `null`, nested lists.
fn claim_header_value(claim: Option<&serde_json::Value>) -> Result<Option<String>, &'static str> {
    use serde_json::Value;
    fn scalar(value: &Value) -> Option<std::borrow::Cow<'_, str>> {
        match value {
            Value::String(text) => Some(std::borrow::Cow::Borrowed(text)),
            Value::Number(number) => Some(std::borrow::Cow::Owned(number.to_string())),
            Value::Bool(flag) => Some(std::borrow::Cow::Borrowed(if *flag { "true" } else { "false" })),
            Value::Null | Value::Array(_) | Value::Object(_) => None,
        }
    }
    let items: &[Value] = match claim {
        None => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(value) => std::slice::from_ref(value),
    };
    if items.is_empty() {
        return Ok(None);
    }
    let mut joined = String::new();
    for (index, item) in items.iter().enumerate() {
        let text = scalar(item).ok_or(if claim.is_some_and(Value::is_array) {
            "a list holding something other than strings, numbers or booleans"
        } else {
            "not a string, number, boolean or list of them"
        })?;
        if index > 0 {
            joined.push(',');
        }
        list_element(&text, &mut joined);
    }
    Ok(Some(joined))
}

/// The six identity headers of an allowed request, each set when the token has a value for it.
type IdentityValues<'v> = [Option<(&'v str, Cow<'v, str>)>; 6];

/// Why a [`Verdict`] was reached, holding what its reason text needs and nothing formatted yet.
#[derive(Debug)]
enum Cause<'a> {
    /// Every refusal: its reason, built when the refusal was.
    Refused(Reason),
    /// A route with `auth: none`.
    PublicRoute { route: &'a str },
    /// A CORS preflight for this method, passed without a token.
    CorsPreflight { method: &'a str },
    /// A verified token allowed by these statements (none when no policies are configured), with its mapped claim
    /// headers (none unless `identity_headers.claims` maps some).
    Allowed {
        names: &'a IdentityHeaders,
        token: Arc<VerifiedToken>,
        claims: Vec<(&'a str, String)>,
        statements: Vec<StatementRef>,
    },
}

/// The authorizer's answer as a host renders it on the request path ([`crate::Authorizer::decide`]): the same
/// answer as the [`Decision`] it turns into, but lent rather than copied. Identity header values are read from
/// the verified token, removed header names from the request, the challenge from the configuration, and the
/// reason is written only where it is logged or recorded.
#[derive(Debug)]
pub struct Verdict<'a> {
    pub outcome: Outcome,
    cause: Cause<'a>,
    remove_headers: Vec<&'a str>,
    rewrite_path: Option<String>,
    challenge: Option<&'a str>,
}

/// A verdict's reason text (see [`Reason`]'s for the same answer).
pub struct VerdictReason<'v, 'a>(&'v Cause<'a>);

impl fmt::Display for VerdictReason<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Cause::Refused(reason) => reason.fmt(f),
            Cause::PublicRoute { route } => write!(f, "public route `{route}`"),
            Cause::CorsPreflight { method } => write_preflight(f, method),
            Cause::Allowed { token, statements, .. } => write_allowed(f, token.sub(), statements),
        }
    }
}

impl<'a> Verdict<'a> {
    /// A refusal with no challenge.
    pub(crate) fn refuse(outcome: Outcome, reason: Reason) -> Self {
        Self { outcome, cause: Cause::Refused(reason), remove_headers: Vec::new(), rewrite_path: None, challenge: None }
    }

    /// A 401 with its `WWW-Authenticate` challenge.
    pub(crate) fn unauthorized(reason: Reason, challenge: &'a str) -> Self {
        Self { challenge: Some(challenge), ..Self::refuse(Outcome::Unauthorized, reason) }
    }

    /// A request a public route takes.
    pub(crate) fn public(route: &'a str, remove_headers: Vec<&'a str>, rewrite_path: Option<String>) -> Self {
        Self {
            outcome: Outcome::Allow,
            cause: Cause::PublicRoute { route },
            remove_headers,
            rewrite_path,
            challenge: None,
        }
    }

    /// A CORS preflight passed without a token.
    pub(crate) fn preflight(method: &'a str, remove_headers: Vec<&'a str>, rewrite_path: Option<String>) -> Self {
        Self {
            outcome: Outcome::Allow,
            cause: Cause::CorsPreflight { method },
            remove_headers,
            rewrite_path,
            challenge: None,
        }
    }

    /// A request allowed for `token`, whose identity values are header-safe ([`unsafe_identity_header`]).
    pub(crate) fn allowed(
        names: &'a IdentityHeaders,
        token: Arc<VerifiedToken>,
        claims: Vec<(&'a str, String)>,
        statements: Vec<StatementRef>,
        remove_headers: Vec<&'a str>,
        rewrite_path: Option<String>,
    ) -> Self {
        let cause = Cause::Allowed { names, token, claims, statements };
        Self { outcome: Outcome::Allow, cause, remove_headers, rewrite_path, challenge: None }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.outcome.status()
    }

    /// Whether the request goes upstream.
    pub fn is_allowed(&self) -> bool {
        self.outcome == Outcome::Allow
    }

    /// The stable code of the reason.
    pub fn code(&self) -> Code {
        match &self.cause {
            Cause::Refused(reason) => reason.code(),
            Cause::PublicRoute { .. } => Code::PublicRoute,
            Cause::CorsPreflight { .. } => Code::CorsPreflight,
            Cause::Allowed { .. } => Code::Allowed,
        }
    }

    /// The deciding statements (see [`Reason::statements`]).
    pub fn statements(&self) -> &[StatementRef] {
        match &self.cause {
            Cause::Refused(reason) => reason.statements(),
            Cause::Allowed { statements, .. } => statements,
            Cause::PublicRoute { .. } | Cause::CorsPreflight { .. } => &[],
        }
    }

    /// The issuer whose keys lack the token's `kid`, when that refused the request: a host that fetches that
    /// issuer's keys may fetch them again and decide once more.
    pub fn unknown_key_issuer(&self) -> Option<&str> {
        match &self.cause {
            Cause::Refused(Reason::Token(crate::token::TokenError::UnknownKid { issuer, .. })) => Some(issuer),
            _ => None,
        }
    }

    /// Whether the request carries a username and password not exchanged yet: a host that can call the identity
    /// provider does ([`crate::Authorizer::start_exchange`]) and decides again; any other sends this refusal (503).
    pub fn needs_password_exchange(&self) -> bool {
        matches!(&self.cause, Cause::Refused(Reason::PasswordPending { .. }))
    }

    /// The reason, for logs and the decision record; formatted only when written.
    pub fn reason(&self) -> VerdictReason<'_, 'a> {
        VerdictReason(&self.cause)
    }

    /// On allow: request header names to remove before forwarding (see [`Decision::remove_headers`]).
    pub fn remove_headers(&self) -> &[&'a str] {
        &self.remove_headers
    }

    /// On allow: the identity headers to set upstream, in order (see [`Decision::upstream_headers`]).
    pub fn upstream_headers(&self) -> impl Iterator<Item = (&str, Cow<'_, str>)> {
        let (headers, claims): (IdentityValues<'_>, &[(&'a str, String)]) = match &self.cause {
            Cause::Allowed { names, token, claims, .. } => (
                [
                    Some((names.sub.as_str(), Cow::Borrowed(token.sub()))),
                    Some((names.client_id.as_str(), Cow::Borrowed(token.client_id()))),
                    Some((names.issuer.as_str(), Cow::Borrowed(token.issuer()))),
                    token.username().map(|username| (names.username.as_str(), Cow::Borrowed(username))),
                    (!token.groups().is_empty()).then(|| (names.groups.as_str(), groups_value(token.groups()))),
                    (!token.scopes().is_empty()).then(|| (names.scopes.as_str(), scopes_value(token.scopes()))),
                ],
                claims,
            ),
            Cause::Refused(_) | Cause::PublicRoute { .. } | Cause::CorsPreflight { .. } => ([const { None }; 6], &[]),
        };
        let claims = claims.iter().map(|(name, value)| (*name, Cow::Borrowed(value.as_str())));
        headers.into_iter().flatten().chain(claims)
    }

    /// On allow: the normalised request target, when it differs from what the client sent.
    pub fn rewrite_path(&self) -> Option<&str> {
        self.rewrite_path.as_deref()
    }

    /// On 401: the `WWW-Authenticate` challenge.
    pub fn challenge(&self) -> Option<&'a str> {
        self.challenge
    }

    /// Writes the decision record's JSON ([`DecisionRecord`]) into `out`, replacing what it held.
    pub fn write_record(&self, out: &mut String) {
        DecisionRecord::write_json(out, self.status(), self.code(), &self.reason(), self.statements());
    }

    /// The owned decision.
    pub fn into_decision(self) -> Decision {
        let upstream_headers =
            self.upstream_headers().map(|(name, value)| (name.to_owned(), value.into_owned())).collect();
        let reason = match self.cause {
            Cause::Refused(reason) => reason,
            Cause::PublicRoute { route } => Reason::PublicRoute { route: route.to_owned() },
            Cause::CorsPreflight { method } => Reason::CorsPreflight { method: method.to_owned() },
            Cause::Allowed { token, statements, .. } => Reason::Allowed { sub: token.sub().to_owned(), statements },
        };
        Decision {
            outcome: self.outcome,
            reason,
            remove_headers: self.remove_headers.into_iter().map(str::to_owned).collect(),
            upstream_headers,
            rewrite_path: self.rewrite_path,
            challenge: self.challenge.map(str::to_owned),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_record_is_one_compact_json_object() {
        let decision =
            Verdict::refuse(Outcome::NoRoute, Reason::NoRoute { method: "GET".into(), path: "/a\"b".into() })
                .into_decision();
        let record = decision.record();
        assert_eq!(
            record.to_json(),
            r#"{"status":403,"decision":"deny","code":"no_route","reason":"no route declared for `GET /a\"b`","statements":[]}"#
        );
        assert_eq!(DecisionRecord::parse(&record.to_json()), Some(record));
        let error = DecisionRecord::internal_error("no configuration loaded");
        assert_eq!(
            error.to_json(),
            r#"{"status":500,"decision":"error","code":"internal_error","reason":"no configuration loaded","statements":[]}"#
        );
        assert_eq!(error.code(), Some(Code::InternalError));
        let extra = r#"{"status":403,"decision":"deny","code":"no_route","reason":"x","statements":[],"extra":1}"#;
        assert_eq!(DecisionRecord::parse(extra), None);
    }

    /// The record is written by hand; serde_json must read it back and would have written the same bytes.
    #[test]
    fn the_record_escapes_as_serde_json_does() {
        let mut every_ascii: String = (0u8..0x80).map(char::from).collect();
        every_ascii.push_str("caf\u{e9} \u{1F408} \\\" \u{2028}");
        for reason in [every_ascii.as_str(), "", "plain", "\"", "a\nb", "\u{7f}\u{0}"] {
            let record = DecisionRecord {
                status: 401,
                decision: "unauthorized".to_owned(),
                code: "token_malformed".to_owned(),
                reason: reason.to_owned(),
                statements: vec![reason.to_owned(), "groups.g[0].Statement[1] (Sid)".to_owned()],
            };
            let json = record.to_json();
            assert_eq!(json, serde_json::to_string(&record).unwrap(), "{reason:?}");
            assert_eq!(DecisionRecord::parse(&json), Some(record));
        }
    }

    #[test]
    fn codes_are_unique_snake_case_and_parse_back() {
        let mut seen = std::collections::BTreeSet::new();
        for code in Code::ALL {
            let name = code.as_str();
            assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{name}");
            assert!(seen.insert(name), "{name} twice");
            assert_eq!(Code::parse(name), Some(code));
            assert!(
                ["allow", "unauthorized", "deny", "bad_request", "unavailable", "error"].contains(&code.decision()),
                "{name}"
            );
        }
        assert_eq!(Code::parse("nothing"), None);
    }
}
