//! Configuration: `Raw*` serde types (unknown fields refused) → a validated, compiled [`Config`].

use crate::policy::{PolicyStore, PolicyWarning, RawPolicies, RawSourceIp, ScopedPolicies, SourceIp};
use crate::request::{ApiTarget, Partition};
use crate::routes::{Route, RouteAuth, RouteTable};
use crate::token::{Issuer, KeySet, RawJwks, TokenUse, TokenUses, TokenVerifier, VerifyingKey};
use serde::{Deserialize, Deserializer};

/// Largest accepted configuration document; larger ones are refused before parsing.
pub const MAX_CONFIG_BYTES: usize = 4 * 1024 * 1024;
/// Clock skew tolerated by default, as Envoy's jwt_authn does.
const DEFAULT_SKEW_SECONDS: u64 = 60;
const MAX_SKEW_SECONDS: u64 = 300;
/// Verified tokens cached per VM by default: a verified token is about 1–2 KB, so this bounds the cache near 2 MB.
const DEFAULT_TOKEN_CACHE_SIZE: usize = 1024;
const MAX_TOKEN_CACHE_SIZE: usize = 65_536;
/// Cognito tokens are 1–4 KB; a cap keeps hostile tokens from costing anything.
const DEFAULT_MAX_TOKEN_BYTES: usize = 16 * 1024;

/// A configuration that cannot be loaded, named by the path of the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {}", crate::text::OneLine(path), crate::text::OneLine(message))]
pub struct ConfigError {
    /// Dotted path into the configuration, `issuers[0].jwks.keys[2].n`; `.` for the document itself.
    pub path: String,
    pub message: String,
}

impl ConfigError {
    fn at(path: impl Into<String>, message: impl std::fmt::Display) -> Self {
        Self { path: path.into(), message: message.to_string() }
    }
}

#[cfg(test)]
mod one_line_tests {
    #[test]
    fn an_error_quoting_a_value_stays_one_line() {
        let err =
            super::ConfigError::at("issuers[0].remote_jwks.uri", "`https://a/b\r\nx-evil: 1\u{0}\u{2028}` is bad");
        assert_eq!(err.to_string(), r"issuers[0].remote_jwks.uri: `https://a/b\r\nx-evil: 1\u{0}\u{2028}` is bad");
    }
}

/// The whole configuration document as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub api: RawApi,
    pub issuers: Vec<RawIssuer>,
    /// The declared API: when present, a request no route takes is refused (403), as API Gateway does.
    pub routes: Option<Vec<RawRoute>>,
    pub policies: Option<RawPolicies>,
    /// Where `aws:SourceIp` comes from (the downstream address unless trusted proxies are configured).
    #[serde(default)]
    pub source_ip: RawSourceIp,
    #[serde(default)]
    pub identity_headers: RawIdentityHeaders,
    pub clock_skew_seconds: Option<u64>,
    pub max_token_bytes: Option<usize>,
    /// Verified tokens kept per VM so repeated tokens skip signature checks; 0 turns the cache off.
    pub token_cache_size: Option<usize>,
    /// How request targets are read and how large requests may be; strict when absent.
    #[serde(default)]
    pub request: crate::request::RawRequestOptions,
    /// Where the token is read from; `Authorization` (`Bearer <token>` or the bare token) when absent.
    pub token_source: Option<RawTokenSource>,
    /// Whether the token header goes upstream: `"verified"` (default: only on requests whose token was verified)
    /// or `"never"`.
    pub forward_token: Option<String>,
    /// CORS preflights (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) pass without a token.
    pub bypass_cors_preflight: Option<bool>,
    /// The level of each request's decision log line, by decision.
    pub decision_log: Option<RawDecisionLog>,
    /// Which decisions leave their record in the host's filter state: `"all"` (default), `"refusals"` or `"off"`.
    pub decision_record: Option<String>,
    /// Username/password clients: `Authorization: Basic` exchanged with Cognito for an access token.
    pub password_auth: Option<crate::token::password::RawPasswordAuth>,
}

/// `decision_log` as written: a level (`off`, `trace`, `debug`, `info`, `warn`, `error`) for allowed and for
/// refused requests.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDecisionLog {
    pub allow: Option<String>,
    pub deny: Option<String>,
}

/// A log level, as hosts order them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl LogLevel {
    /// The level named `name` (`None` for `off`), or why not.
    fn parse(name: &str) -> Result<Option<Self>, String> {
        Ok(Some(match name {
            "off" => return Ok(None),
            "trace" => Self::Trace,
            "debug" => Self::Debug,
            "info" => Self::Info,
            "warn" => Self::Warn,
            "error" => Self::Error,
            other => return Err(format!("`{other}` is not `off`, `trace`, `debug`, `info`, `warn` or `error`")),
        }))
    }
}

/// At which level each request's decision is logged; `None` is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecisionLog {
    /// Allowed requests: off by default (every request would log a line).
    pub allow: Option<LogLevel>,
    /// Refused requests (400, 401, 403, 414): `info` by default.
    pub deny: Option<LogLevel>,
}

impl Default for DecisionLog {
    fn default() -> Self {
        Self { allow: None, deny: Some(LogLevel::Info) }
    }
}

/// Which requests leave a decision record (`wasm.authz.decision` in Envoy's filter state, for access logs): writing
/// it is one host call on every request, the largest single one after the header map in Envoy's measurements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DecisionRecord {
    /// Every decision (default).
    #[default]
    All,
    /// Refusals and internal errors only: allowed requests skip the record and its formatting.
    Refusals,
    /// None.
    Off,
}

impl DecisionRecord {
    /// Whether a decision that `allowed` (or refused) is recorded.
    pub fn records(self, allowed: bool) -> bool {
        match self {
            Self::All => true,
            Self::Refusals => !allowed,
            Self::Off => false,
        }
    }
}

/// Whether the token's header goes upstream with a forwarded request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardToken {
    /// Only with a token the filter verified: public routes and CORS preflights never pass an unverified token on,
    /// which an upstream could take for a checked one.
    #[default]
    Verified,
    /// Never: the upstream reads the identity headers only.
    Never,
}

/// `token_source` as written: exactly one of `header` and `cookie`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTokenSource {
    /// A header name, read as `Authorization` is: `Bearer <token>` or the bare token.
    pub header: Option<String>,
    /// A cookie name; the cookie's value is the bare token.
    pub cookie: Option<String>,
}

/// Where a request carries its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// A header (lower case), `Bearer <token>` or the bare token; `authorization` by default.
    Header(String),
    /// A cookie of exactly this name.
    Cookie(String),
}

impl TokenSource {
    /// How logs name it: `` `x-id-token` header ``, `` `idToken` cookie ``.
    pub fn describe(&self) -> String {
        match self {
            Self::Header(name) => format!("`{name}` header"),
            Self::Cookie(name) => format!("`{name}` cookie"),
        }
    }
}

/// `api`: the fixed part of every method ARN.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApi {
    pub region: String,
    pub account_id: String,
    pub api_id: String,
    pub stage: String,
}

/// One trusted user pool as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIssuer {
    pub issuer: String,
    /// Keys pushed with the configuration; with `remote_jwks` too, they are looked up first.
    pub jwks: Option<RawJwks>,
    /// Where the filter fetches the pool's keys itself (an Envoy cluster and the JWKS URL).
    pub remote_jwks: Option<crate::token::remote::RawRemoteJwks>,
    pub token_use: Vec<String>,
    /// Absent: an error. `null`: the client check is explicitly off. A list: the accepted clients.
    #[serde(default, deserialize_with = "explicit_null")]
    pub client_ids: Option<Option<Vec<String>>>,
    /// Documents for this pool's groups, app clients and users only.
    pub policies: Option<RawPolicies>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn explicit_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(de: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(de).map(Some)
}

/// One route as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    pub method: String,
    pub path: String,
    /// `"none"` makes the route public; `"token"` (the default) requires a valid token; `"undeclared"` answers
    /// 403 Missing Authentication Token, as API Gateway does for a method its resource does not declare.
    pub auth: Option<String>,
    pub scopes: Option<Vec<String>>,
    /// The token kinds this route accepts (within its issuer's); absent: the issuer's list.
    pub token_use: Option<Vec<String>>,
}

/// Names of the headers that carry the caller's identity upstream.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIdentityHeaders {
    pub sub: Option<String>,
    pub username: Option<String>,
    pub client_id: Option<String>,
    pub groups: Option<String>,
    pub scopes: Option<String>,
    pub issuer: Option<String>,
    /// Claim name → header name: more of the token's claims for the upstream, as API Gateway hands it
    /// `$context.authorizer.claims`.
    pub claims: Option<std::collections::BTreeMap<String, String>>,
}

/// The headers an allowed request carries upstream; client-sent copies are always removed first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityHeaders {
    pub sub: String,
    pub username: String,
    pub client_id: String,
    pub groups: String,
    pub scopes: String,
    pub issuer: String,
    /// Configured claims and the header each is sent in, by claim name.
    pub claims: Vec<ClaimHeader>,
}

/// One claim sent upstream in a header of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimHeader {
    pub claim: String,
    pub header: String,
}

/// A header name as CGI-style upstreams read it (RFC 3875 §4.1.18: `HTTP_` + upper case, `-` as `_`): ASCII
/// case folded and `_` taken as `-`, so `X_Authz_Groups` and `x-authz-groups` are one field to them.
fn fold_header_byte(byte: u8) -> u8 {
    match byte {
        b'_' => b'-',
        other => other.to_ascii_lowercase(),
    }
}

/// Whether two header names are the same field to some upstream (see [`fold_header_byte`]).
pub fn same_header_field(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| fold_header_byte(x) == fold_header_byte(y))
}

impl IdentityHeaders {
    /// All six names, as configured.
    pub fn names(&self) -> [&str; 6] {
        [&self.sub, &self.username, &self.client_id, &self.groups, &self.scopes, &self.issuer]
    }

    /// Whether a request header or trailer called `name` could be read upstream as one of the identity headers:
    /// equal to one after ASCII lower-casing and mapping `_` to `-`. Every such field is removed from requests.
    /// The default names count too, whatever the configuration renamed (see `DEFAULT_IDENTITY_HEADERS`).
    pub fn covers(&self, name: &str) -> bool {
        self.names().iter().chain(DEFAULT_IDENTITY_HEADERS.iter()).any(|own| same_header_field(own, name))
            || self.claims.iter().any(|claim| same_header_field(&claim.header, name))
    }
}

/// A validated configuration, ready to authorize requests. Only [`Config::from_json`] (through the checks of
/// `TryFrom<&RawConfig>`) makes one; the rest read it.
#[derive(Debug)]
pub struct Config {
    api: ApiTarget,
    request: crate::request::RequestOptions,
    verifier: TokenVerifier,
    /// How many verified tokens each VM keeps (0: none).
    token_cache_size: usize,
    /// The declared routes; `None` when the configuration declares none (every request then needs a token).
    routes: Option<RouteTable>,
    /// `None` when no section anywhere holds policies: every valid token that passes its route is allowed.
    policies: Option<ScopedPolicies>,
    source_ip: SourceIp,
    identity_headers: IdentityHeaders,
    token_source: TokenSource,
    forward_token: ForwardToken,
    bypass_cors_preflight: bool,
    decision_log: DecisionLog,
    decision_record: DecisionRecord,
    password_auth: Option<crate::token::password::PasswordAuth>,
}

impl Config {
    /// The API every method ARN is built for.
    pub fn api(&self) -> &ApiTarget {
        &self.api
    }

    /// How request targets are read and how large requests may be.
    pub fn request(&self) -> &crate::request::RequestOptions {
        &self.request
    }

    /// The token verifier: trusted issuers, their keys and rules.
    pub fn verifier(&self) -> &TokenVerifier {
        &self.verifier
    }

    /// How many verified tokens each VM keeps (0: none).
    pub fn token_cache_size(&self) -> usize {
        self.token_cache_size
    }

    /// The declared routes; `None` when the configuration declares none.
    pub fn routes(&self) -> Option<&[Route]> {
        self.routes.as_ref().map(RouteTable::routes)
    }

    /// The declared routes with their index, which request paths look routes up in.
    pub fn route_table(&self) -> Option<&RouteTable> {
        self.routes.as_ref()
    }

    /// Every policy section; `None` when no section holds policies.
    pub fn policies(&self) -> Option<&ScopedPolicies> {
        self.policies.as_ref()
    }

    /// Where `aws:SourceIp` comes from.
    pub fn source_ip(&self) -> SourceIp {
        self.source_ip
    }

    /// The identity header names.
    pub fn identity_headers(&self) -> &IdentityHeaders {
        &self.identity_headers
    }

    /// Where requests carry their token.
    pub fn token_source(&self) -> &TokenSource {
        &self.token_source
    }

    /// Whether the token's header goes upstream.
    pub fn forward_token(&self) -> ForwardToken {
        self.forward_token
    }

    /// Whether CORS preflights pass without a token.
    pub fn bypass_cors_preflight(&self) -> bool {
        self.bypass_cors_preflight
    }

    /// At which level each decision is logged.
    pub fn decision_log(&self) -> DecisionLog {
        self.decision_log
    }

    pub fn decision_record(&self) -> DecisionRecord {
        self.decision_record
    }

    /// Where `Authorization: Basic` credentials are exchanged; `None` when they are refused.
    pub fn password_auth(&self) -> Option<&crate::token::password::PasswordAuth> {
        self.password_auth.as_ref()
    }
}

fn validate_password_auth(
    raw: &crate::token::password::RawPasswordAuth,
    source: Option<&TokenSource>,
) -> Result<crate::token::password::PasswordAuth, ConfigError> {
    let auth = crate::token::password::PasswordAuth::try_from(raw)
        .map_err(|err| ConfigError::at(format!("password_auth.{}", err.field()), err))?;
    // Basic credentials come in `Authorization`: with the token read elsewhere, that header is not the filter's.
    if source.is_some_and(|source| !matches!(source, TokenSource::Header(name) if name == "authorization")) {
        return Err(ConfigError::at("password_auth", "needs tokens in the `Authorization` header (no `token_source`)"));
    }
    Ok(auth)
}

fn validate_forward_token(raw: Option<&str>, source: &TokenSource) -> Result<ForwardToken, ConfigError> {
    let forward = match raw {
        None | Some("verified") => ForwardToken::Verified,
        Some("never") => ForwardToken::Never,
        Some(other) => return Err(ConfigError::at("forward_token", format!("`{other}` is not `verified` or `never`"))),
    };
    // A cookie is one pair of a header the browser's other cookies share: taking it out means rewriting that header,
    // which no host does yet. Refused rather than left in place while the setting says otherwise.
    if let (ForwardToken::Never, TokenSource::Cookie(_)) = (forward, source) {
        return Err(ConfigError::at(
            "forward_token",
            "`never` needs a header token source: a token cookie is forwarded as sent",
        ));
    }
    Ok(forward)
}

fn validate_decision_log(raw: Option<&RawDecisionLog>) -> Result<DecisionLog, ConfigError> {
    let defaults = DecisionLog::default();
    let Some(raw) = raw else { return Ok(defaults) };
    let level = |field: &str, value: Option<&String>, default| match value {
        None => Ok(default),
        Some(name) => {
            LogLevel::parse(name).map_err(|message| ConfigError::at(format!("decision_log.{field}"), message))
        }
    };
    Ok(DecisionLog {
        allow: level("allow", raw.allow.as_ref(), defaults.allow)?,
        deny: level("deny", raw.deny.as_ref(), defaults.deny)?,
    })
}

fn validate_decision_record(raw: Option<&str>) -> Result<DecisionRecord, ConfigError> {
    match raw {
        None | Some("all") => Ok(DecisionRecord::All),
        Some("refusals") => Ok(DecisionRecord::Refusals),
        Some("off") => Ok(DecisionRecord::Off),
        Some(other) => Err(ConfigError::at("decision_record", format!("`{other}` is not `all`, `refusals` or `off`"))),
    }
}

fn check_chars(path: &str, value: &str, what: &str, ok: impl Fn(u8) -> bool) -> Result<(), ConfigError> {
    if value.is_empty() || !value.bytes().all(ok) {
        return Err(ConfigError::at(path, format!("`{value}` is not a valid {what}")));
    }
    Ok(())
}

fn validate_api(raw: &RawApi) -> Result<ApiTarget, ConfigError> {
    check_chars("api.region", &raw.region, "region", |b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')?;
    if raw.account_id.len() != 12 || !raw.account_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConfigError::at("api.account_id", format!("`{}` is not a 12-digit account id", raw.account_id)));
    }
    check_chars("api.api_id", &raw.api_id, "API id", |b| b.is_ascii_alphanumeric())?;
    check_chars("api.stage", &raw.stage, "stage name", |b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')?;
    let partition = Partition::of_region(&raw.region).ok_or_else(|| {
        ConfigError::at(
            "api.region",
            format!("`{}` is in no partition this authorizer knows (aws, aws-cn, aws-us-gov)", raw.region),
        )
    })?;
    Ok(ApiTarget {
        partition,
        region: raw.region.clone(),
        account_id: raw.account_id.clone(),
        api_id: raw.api_id.clone(),
        stage: raw.stage.clone(),
    })
}

/// A `token_use` list: `access`, `id` or both.
fn token_uses(list: &[String], path: &str) -> Result<TokenUses, ConfigError> {
    let mut token_use = TokenUses::default();
    for (index, value) in list.iter().enumerate() {
        match value.as_str() {
            "access" => token_use.access = true,
            "id" => token_use.id = true,
            other => {
                return Err(ConfigError::at(format!("{path}[{index}]"), format!("`{other}` is not `access` or `id`")))
            }
        }
    }
    if !(token_use.access || token_use.id) {
        return Err(ConfigError::at(path, "list `access`, `id` or both"));
    }
    Ok(token_use)
}

fn validate_issuer(raw: &RawIssuer, path: &str) -> Result<Issuer, ConfigError> {
    let url = raw.issuer.as_str();
    if !url.starts_with("https://") || url.ends_with('/') || url.contains(['?', '#', ' ']) {
        return Err(ConfigError::at(
            format!("{path}.issuer"),
            format!("`{url}` is not an https issuer URL without trailing slash"),
        ));
    }
    let remote = match &raw.remote_jwks {
        None => None,
        Some(remote) => Some(
            crate::token::remote::RemoteJwks::try_from(remote)
                .map_err(|err| ConfigError::at(format!("{path}.remote_jwks.{}", err.field()), err))?,
        ),
    };
    let pushed = match (&raw.jwks, &remote) {
        (None, None) => {
            return Err(ConfigError::at(
                format!("{path}.jwks"),
                "required: the pool's keys (`jwks`), or where to fetch them (`remote_jwks`)",
            ))
        }
        (None, Some(_)) => &[][..],
        (Some(jwks), _) if jwks.keys.is_empty() => {
            return Err(ConfigError::at(format!("{path}.jwks.keys"), "at least one key is required"))
        }
        (Some(jwks), _) => &jwks.keys[..],
    };
    let mut keys = KeySet::default();
    for (index, jwk) in pushed.iter().enumerate() {
        let key_path = format!("{path}.jwks.keys[{index}]");
        let key = VerifyingKey::try_from(jwk).map_err(|err| ConfigError::at(&key_path, err))?;
        keys.insert(key).map_err(|kid| ConfigError::at(format!("{key_path}.kid"), format!("duplicate kid `{kid}`")))?;
    }
    let token_use = token_uses(&raw.token_use, &format!("{path}.token_use"))?;
    let client_ids = match &raw.client_ids {
        None => {
            return Err(ConfigError::at(
                format!("{path}.client_ids"),
                "required: list the accepted app clients, or write `null` to accept any client of this pool",
            ))
        }
        Some(None) => None,
        Some(Some(ids)) if ids.is_empty() => {
            return Err(ConfigError::at(format!("{path}.client_ids"), "an empty list would refuse every token"))
        }
        Some(Some(ids)) => Some(ids.clone()),
    };
    Ok(Issuer::new(raw.issuer.clone(), keys, remote, token_use, client_ids))
}

fn validate_route(
    raw: &RawRoute,
    path: &str,
    options: &crate::request::RequestOptions,
    issuers: &[Issuer],
) -> Result<Route, ConfigError> {
    let auth = match (raw.auth.as_deref(), &raw.scopes) {
        (Some(kind @ ("none" | "undeclared")), scopes) => {
            if scopes.is_some() {
                return Err(ConfigError::at(
                    format!("{path}.scopes"),
                    format!("a route with `auth: {kind}` cannot require scopes"),
                ));
            }
            if raw.token_use.is_some() {
                return Err(ConfigError::at(
                    format!("{path}.token_use"),
                    format!("a route with `auth: {kind}` reads no token"),
                ));
            }
            if kind == "none" {
                RouteAuth::Public
            } else {
                RouteAuth::Undeclared
            }
        }
        (None | Some("token"), scopes) => {
            let scopes = scopes.clone().unwrap_or_default();
            if raw.scopes.is_some() && scopes.is_empty() {
                return Err(ConfigError::at(format!("{path}.scopes"), "an empty list would refuse every token"));
            }
            for (index, scope) in scopes.iter().enumerate() {
                if !crate::token::is_scope_token(scope) {
                    return Err(ConfigError::at(
                        format!("{path}.scopes[{index}]"),
                        "a scope is one RFC 6749 scope token (printable ASCII, no space, `\"` or `\\`)",
                    ));
                }
            }
            let token_use = match &raw.token_use {
                None => None,
                Some(list) => {
                    let field = format!("{path}.token_use");
                    let allowed = token_uses(list, &field)?;
                    // Scopes are only in access tokens: an ID-token-only route with scopes would refuse every token.
                    if !scopes.is_empty() && !allowed.access {
                        return Err(ConfigError::at(field, "a route with scopes needs access tokens (`access`)"));
                    }
                    let usable =
                        |kind| issuers.iter().any(|issuer| issuer.token_use().allows(kind) && allowed.allows(kind));
                    if !usable(TokenUse::Access) && !usable(TokenUse::Id) {
                        return Err(ConfigError::at(
                            field,
                            "no issuer accepts these token kinds: every token would be refused",
                        ));
                    }
                    Some(allowed)
                }
            };
            RouteAuth::Token { scopes, token_use }
        }
        (Some(other), _) => {
            return Err(ConfigError::at(
                format!("{path}.auth"),
                format!("`{other}` is not `none`, `token` or `undeclared`"),
            ))
        }
    };
    Route::with_options(&raw.method, &raw.path, auth, options).map_err(|err| {
        let field = if matches!(err, crate::routes::RouteError::Method(_)) { "method" } else { "path" };
        ConfigError::at(format!("{path}.{field}"), err)
    })
}

/// Compiles the shared `policies` section and each issuer's own. The shared section's names would reach the
/// principals of every pool, so with several issuers it must say so (`all_issuers: true`). Each section's first
/// error is kept in `errors` and the other sections are still compiled; `None` when any section failed.
fn compile_policies(raw: &RawConfig, api: &ApiTarget, errors: &mut Vec<ConfigError>) -> Option<Option<ScopedPolicies>> {
    let to_config = |err: crate::policy::PolicyError| ConfigError::at(err.path, err.message);
    let before = errors.len();
    let shared = match &raw.policies {
        None => None,
        Some(section) => {
            if raw.issuers.len() > 1 && section.all_issuers != Some(true) {
                errors.push(ConfigError::at(
                    "policies",
                    format!(
                        "with {} issuers, a group, client or user name here would apply in every user pool: move the \
                         documents under `issuers[i].policies`, or write `\"all_issuers\": true` to mean it",
                        raw.issuers.len()
                    ),
                ));
                None
            } else {
                PolicyStore::compile(section, api, "policies").map_err(|err| errors.push(to_config(err))).ok()
            }
        }
    };
    let mut by_issuer = Vec::new();
    for (index, issuer) in raw.issuers.iter().enumerate() {
        let Some(section) = &issuer.policies else { continue };
        let path = format!("issuers[{index}].policies");
        if section.all_issuers.is_some() {
            errors.push(ConfigError::at(
                format!("{path}.all_issuers"),
                "only the top-level `policies` can apply to every issuer",
            ));
            continue;
        }
        match PolicyStore::compile_for(section, api, &path, Some(index)) {
            Ok(store) => by_issuer.push((issuer.issuer.clone(), store)),
            Err(err) => errors.push(to_config(err)),
        }
    }
    if errors.len() > before {
        return None;
    }
    if shared.is_none() && by_issuer.is_empty() {
        return Some(None);
    }
    Some(Some(ScopedPolicies::new(shared, by_issuer)))
}

/// Compiles the routes in order and refuses one that an earlier route shadows whole: it could never match, so
/// its scopes would never apply. Every route's error is kept in `errors`; `None` when any route failed.
fn validate_routes(
    raw: &[RawRoute],
    options: &crate::request::RequestOptions,
    issuers: &[Issuer],
    errors: &mut Vec<ConfigError>,
) -> Option<Vec<Route>> {
    let before = errors.len();
    let mut routes: Vec<(usize, Route)> = Vec::with_capacity(raw.len());
    for (index, route) in raw.iter().enumerate() {
        let path = format!("routes[{index}]");
        let route = match validate_route(route, &path, options, issuers) {
            Ok(route) => route,
            Err(err) => {
                errors.push(err);
                continue;
            }
        };
        if let Some((earlier, shadow)) = routes.iter().find(|(_, earlier)| earlier.shadows(&route)) {
            errors.push(ConfigError::at(
                path,
                format!(
                    "`{} {}` can never match: `routes[{earlier}]` (`{} {}`) takes every request it would",
                    route.method(),
                    route.template,
                    shadow.method(),
                    shadow.template
                ),
            ));
            continue;
        }
        routes.push((index, route));
    }
    (errors.len() == before).then(|| routes.into_iter().map(|(_, route)| route).collect())
}

/// Header names an identity header (or a mapped claim, or the token header) may not take: other components read
/// them for the client's address, the method or the URL, or for the request itself.
const RESERVED_HEADERS: [&str; 36] = [
    "cf-connecting-ip",
    "true-client-ip",
    "x-client-ip",
    "x-cluster-client-ip",
    "fastly-client-ip",
    "x-original-forwarded-for",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "x-original-method",
    "x-original-url",
    "x-original-uri",
    "x-rewrite-url",
    "x-forwarded-prefix",
    "x-forwarded-uri",
    "x-forwarded-server",
    "authorization",
    "host",
    "connection",
    "content-length",
    "content-type",
    "transfer-encoding",
    "te",
    "upgrade",
    "cookie",
    "set-cookie",
    "user-agent",
    "referer",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-real-ip",
    "x-request-id",
    "proxy-authorization",
];

/// The default identity header names: removed from every request even when the configuration renames them, so a
/// migration that renames a header never lets client copies of the old name through to an upstream still reading
/// it.
const DEFAULT_IDENTITY_HEADERS: [&str; 6] =
    ["x-authz-sub", "x-authz-username", "x-authz-client-id", "x-authz-groups", "x-authz-scopes", "x-authz-issuer"];

fn header_name(path: &str, value: Option<&String>, default: &str) -> Result<String, ConfigError> {
    let name = value.map_or(default, String::as_str);
    let valid = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    // Headers that other components read for something else: the filter would overwrite (or strip) them.
    let reserved = RESERVED_HEADERS.iter().any(|reserved| same_header_field(reserved, name))
        || name.get(..8).is_some_and(|prefix| same_header_field(prefix, "x-envoy-"));
    if !valid || reserved {
        return Err(ConfigError::at(path, format!("`{name}` is not a usable lower-case header name")));
    }
    Ok(name.to_owned())
}

fn validate_headers(raw: &RawIdentityHeaders) -> Result<IdentityHeaders, ConfigError> {
    let headers = IdentityHeaders {
        sub: header_name("identity_headers.sub", raw.sub.as_ref(), DEFAULT_IDENTITY_HEADERS[0])?,
        username: header_name("identity_headers.username", raw.username.as_ref(), DEFAULT_IDENTITY_HEADERS[1])?,
        client_id: header_name("identity_headers.client_id", raw.client_id.as_ref(), DEFAULT_IDENTITY_HEADERS[2])?,
        groups: header_name("identity_headers.groups", raw.groups.as_ref(), DEFAULT_IDENTITY_HEADERS[3])?,
        scopes: header_name("identity_headers.scopes", raw.scopes.as_ref(), DEFAULT_IDENTITY_HEADERS[4])?,
        issuer: header_name("identity_headers.issuer", raw.issuer.as_ref(), DEFAULT_IDENTITY_HEADERS[5])?,
        claims: Vec::new(),
    };
    let names = headers.names();
    for (index, name) in names.iter().enumerate() {
        if let Some(other) = names.iter().skip(index + 1).find(|other| same_header_field(other, name)) {
            return Err(ConfigError::at(
                "identity_headers",
                format!("`{name}` and `{other}` are one header to upstreams that fold case and `_`"),
            ));
        }
    }
    let mut claims: Vec<ClaimHeader> = Vec::new();
    for (claim, header) in raw.claims.iter().flatten() {
        let path = format!("identity_headers.claims.{claim}");
        if claim.is_empty() {
            return Err(ConfigError::at(path, "a claim name cannot be empty"));
        }
        let header = header_name(&path, Some(header), "")?;
        // An identity header (configured or default) or another claim's header: one of the two would be lost, and
        // a client copy of one could pass for the other.
        if headers.covers(&header) {
            return Err(ConfigError::at(path, format!("`{header}` is an identity header (in some spelling)")));
        }
        if let Some(other) = claims.iter().find(|other| same_header_field(&other.header, &header)) {
            return Err(ConfigError::at(
                path,
                format!("`{header}` is already the header of claim `{}` (in some spelling)", other.claim),
            ));
        }
        claims.push(ClaimHeader { claim: claim.clone(), header });
    }
    Ok(IdentityHeaders { claims, ..headers })
}

/// Whether `name` is an RFC 9110 token (`tchar`s), as header and cookie names are.
fn is_token(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The token source: one header (not one the filter writes, removes, or that carries something else) or one
/// cookie; `authorization` when absent.
fn validate_token_source(raw: Option<&RawTokenSource>, identity: &IdentityHeaders) -> Result<TokenSource, ConfigError> {
    let Some(raw) = raw else { return Ok(TokenSource::Header("authorization".to_owned())) };
    match (&raw.header, &raw.cookie) {
        (Some(header), None) => {
            let path = "token_source.header";
            if !is_token(header) {
                return Err(ConfigError::at(path, format!("`{header}` is not a header name")));
            }
            let name = header.to_ascii_lowercase();
            if name.contains('_') {
                return Err(ConfigError::at(
                    path,
                    format!("`{header}`: write `-` for `_` (upstreams fold `_` into `-`, and Envoy's recommended `headers_with_underscores_action: REJECT_REQUEST` refuses such names)"),
                ));
            }
            let taken = name != "authorization"
                && (RESERVED_HEADERS.iter().any(|reserved| same_header_field(reserved, &name))
                    || name.get(..8).is_some_and(|prefix| same_header_field(prefix, "x-envoy-")));
            if taken {
                let hint = if name == "cookie" { " (for a cookie, write `\"cookie\": NAME`)" } else { "" };
                return Err(ConfigError::at(
                    path,
                    format!("`{header}` carries something else to other components{hint}"),
                ));
            }
            if identity.covers(&name) {
                return Err(ConfigError::at(
                    path,
                    format!("`{header}` is an identity header, which the filter removes and writes"),
                ));
            }
            Ok(TokenSource::Header(name))
        }
        (None, Some(cookie)) => {
            if !is_token(cookie) {
                return Err(ConfigError::at("token_source.cookie", format!("`{cookie}` is not a cookie name")));
            }
            Ok(TokenSource::Cookie(cookie.clone()))
        }
        _ => Err(ConfigError::at("token_source", "give exactly one of `header` and `cookie`")),
    }
}

impl Config {
    /// Policy statements that load but can never match an execute-api request; adapters log them.
    pub fn warnings(&self) -> &[PolicyWarning] {
        self.policies.as_ref().map_or(&[], ScopedPolicies::warnings)
    }

    /// The warnings, moved out: a host that has logged them once need not keep them for the VM's life.
    pub fn take_warnings(&mut self) -> Vec<PolicyWarning> {
        self.policies.as_mut().map(ScopedPolicies::take_warnings).unwrap_or_default()
    }

    /// Consequences of a valid configuration worth telling its author (`authz config validate` prints them).
    pub fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if let TokenSource::Cookie(name) = &self.token_source {
            notes.push(format!(
                "token_source.cookie: browsers send the `{name}` cookie with cross-site requests too: set it with \
                 `SameSite=Strict` (or `Lax`), `Secure`, `HttpOnly` and a `__Host-` name, or another site can make \
                 requests in its owner's name (CSRF)"
            ));
        }
        if let Some(routes) = self.routes() {
            if !routes.iter().any(Route::is_catch_all) {
                notes.push(
                    "routes: no catch-all route (`ANY /{proxy+}`): a request no route declares is refused with 403 \
                     Missing Authentication Token, as API Gateway does"
                        .to_owned(),
                );
            }
        }
        if self.routes.is_none() {
            notes.push(
                "routes: none declared: every request needs a valid token, whatever its method and path".to_owned(),
            );
        }
        for (index, issuer) in self.verifier.issuers().iter().enumerate() {
            let Some(remote) = issuer.remote() else { continue };
            // A Cognito pool publishes its keys at `{issuer}/.well-known/jwks.json`; another URL is another key set.
            let Some(pool) = issuer.issuer().strip_prefix("https://") else { continue };
            let Some((host, pool_id)) = pool.split_once('/') else { continue };
            let published = (host, format!("/{pool_id}/.well-known/jwks.json"));
            if host.starts_with("cognito-idp.") && (remote.authority.as_str(), remote.path.clone()) != published {
                notes.push(format!(
                    "issuers[{index}].remote_jwks.uri: `https://{}{}` is not the pool's published key set \
                     (`{}/.well-known/jwks.json`): whatever keys it serves verify this issuer's tokens",
                    remote.authority,
                    remote.path,
                    issuer.issuer()
                ));
            }
        }
        notes
    }

    /// Parses and validates a JSON configuration document, stopping at the first error.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ConfigError> {
        Self::from_json_all(bytes).map_err(|mut errors| {
            if errors.is_empty() {
                ConfigError::at(".", "refused")
            } else {
                errors.swap_remove(0)
            }
        })
    }

    /// Parses and validates a JSON configuration document, returning every error [`Config::check`] finds (the
    /// document's syntax and types stop at the first).
    pub fn from_json_all(bytes: &[u8]) -> Result<Self, Vec<ConfigError>> {
        let raw = Self::parse_raw(bytes).map_err(|err| vec![err])?;
        Self::check(&raw)
    }

    /// The document as written: size, duplicate member names, then the typed read.
    fn parse_raw(bytes: &[u8]) -> Result<RawConfig, ConfigError> {
        if bytes.len() > MAX_CONFIG_BYTES {
            return Err(ConfigError::at(
                ".",
                format!("configuration is {} bytes, over {MAX_CONFIG_BYTES}", bytes.len()),
            ));
        }
        // Duplicate member names first, anywhere in the document: serde would keep the last copy silently.
        match crate::json::check_unique_names(bytes) {
            Ok(()) => {}
            Err(crate::json::NameCheckError::Duplicate(duplicate)) => {
                return Err(ConfigError::at(duplicate.path, format!("duplicate member name `{}`", duplicate.name)))
            }
            // Malformed JSON: the typed read below reports it with its path.
            Err(crate::json::NameCheckError::Syntax(_)) => {}
        }
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let raw =
            RawConfig::deserialize(&mut de).map_err(|err| ConfigError::at(crate::json::path_of(bytes, &err), err))?;
        de.end().map_err(|err| ConfigError::at(".", err))?;
        Ok(raw)
    }
}

impl TryFrom<&RawConfig> for Config {
    type Error = ConfigError;

    /// The first error, in document order, of [`Config::check`].
    fn try_from(raw: &RawConfig) -> Result<Self, ConfigError> {
        Self::check(raw).map_err(|mut errors| {
            if errors.is_empty() {
                ConfigError::at(".", "refused")
            } else {
                errors.swap_remove(0)
            }
        })
    }
}

/// Collects the errors of independent checks, so that one load reports them all.
#[derive(Default)]
struct Errors(Vec<ConfigError>);

impl Errors {
    /// The value, or `None` with its error kept.
    fn keep<T>(&mut self, result: Result<T, ConfigError>) -> Option<T> {
        result.map_err(|err| self.0.push(err)).ok()
    }
}

impl Config {
    /// Validates a parsed document, continuing past an error wherever the next check does not depend on what
    /// failed: every section, every issuer, every route and each policy section are checked, and every error is
    /// returned in document order. What still stops at the first error: the JSON itself (syntax, duplicate
    /// member names, unknown fields and types, as serde reads them), each policy section (its first bad
    /// document), and the routes, which are checked only when the `request` section and every issuer are valid
    /// (a route is read with both).
    pub fn check(raw: &RawConfig) -> Result<Self, Vec<ConfigError>> {
        let mut errors = Errors::default();
        let api = errors.keep(validate_api(&raw.api));
        if raw.issuers.is_empty() {
            errors.0.push(ConfigError::at("issuers", "at least one issuer is required"));
        }
        let issuers: Vec<Option<Issuer>> = raw
            .issuers
            .iter()
            .enumerate()
            .map(|(index, issuer)| errors.keep(validate_issuer(issuer, &format!("issuers[{index}]"))))
            .collect();
        for (index, issuer) in raw.issuers.iter().enumerate() {
            if raw.issuers.iter().take(index).any(|earlier| earlier.issuer == issuer.issuer) {
                errors.0.push(ConfigError::at(format!("issuers[{index}].issuer"), "issuer listed twice"));
            }
        }
        let skew = raw.clock_skew_seconds.unwrap_or(DEFAULT_SKEW_SECONDS);
        if skew > MAX_SKEW_SECONDS {
            errors.0.push(ConfigError::at("clock_skew_seconds", format!("at most {MAX_SKEW_SECONDS}")));
        }
        let token_cache_size = raw.token_cache_size.unwrap_or(DEFAULT_TOKEN_CACHE_SIZE);
        if token_cache_size > MAX_TOKEN_CACHE_SIZE {
            errors.0.push(ConfigError::at("token_cache_size", format!("at most {MAX_TOKEN_CACHE_SIZE}")));
        }
        let max_token_bytes = raw.max_token_bytes.unwrap_or(DEFAULT_MAX_TOKEN_BYTES);
        if !(256..=65_536).contains(&max_token_bytes) {
            errors.0.push(ConfigError::at("max_token_bytes", "must be between 256 and 65536"));
        }
        let request = errors.keep(
            crate::request::RequestOptions::try_from(&raw.request)
                .map_err(|err| ConfigError::at(format!("request.{}", err.field), err.message)),
        );
        let valid_issuers: Option<Vec<Issuer>> = issuers.into_iter().collect();
        let routes = match (&raw.routes, &request, &valid_issuers) {
            (None, _, _) => Some(None),
            (Some(routes), _, _) if routes.is_empty() => {
                errors.0.push(ConfigError::at(
                    "routes",
                    "an empty list would refuse every request; omit `routes` to require a token everywhere",
                ));
                None
            }
            (Some(routes), Some(request), Some(issuers)) => {
                validate_routes(routes, request, issuers, &mut errors.0).map(|routes| Some(RouteTable::new(routes)))
            }
            // Not checked: a route is read with the request options and the issuers, and one of them failed.
            (Some(_), _, _) => None,
        };
        let policies = api.as_ref().and_then(|api| compile_policies(raw, api, &mut errors.0));
        let identity_headers = errors.keep(validate_headers(&raw.identity_headers));
        let token_source = identity_headers
            .as_ref()
            .and_then(|identity| errors.keep(validate_token_source(raw.token_source.as_ref(), identity)));
        let forward_token = token_source
            .as_ref()
            .and_then(|source| errors.keep(validate_forward_token(raw.forward_token.as_deref(), source)));
        let decision_log = errors.keep(validate_decision_log(raw.decision_log.as_ref()));
        let decision_record = errors.keep(validate_decision_record(raw.decision_record.as_deref()));
        let password_auth = match &raw.password_auth {
            None => Some(None),
            Some(password) => errors.keep(validate_password_auth(password, token_source.as_ref())).map(Some),
        };
        let source_ip = errors.keep(
            SourceIp::try_from(&raw.source_ip)
                .map_err(|message| ConfigError::at("source_ip.xff_num_trusted_hops", message)),
        );
        match (
            api,
            request,
            valid_issuers,
            routes,
            policies,
            identity_headers,
            token_source,
            forward_token,
            decision_log,
            decision_record,
            source_ip,
            password_auth,
        ) {
            (
                Some(api),
                Some(request),
                Some(issuers),
                Some(routes),
                Some(policies),
                Some(identity_headers),
                Some(token_source),
                Some(forward_token),
                Some(decision_log),
                Some(decision_record),
                Some(source_ip),
                Some(password_auth),
            ) if errors.0.is_empty() => Ok(Self {
                api,
                request,
                verifier: TokenVerifier::new(issuers, skew, max_token_bytes),
                token_cache_size,
                routes,
                policies,
                source_ip,
                identity_headers,
                token_source,
                forward_token,
                bypass_cors_preflight: raw.bypass_cors_preflight.unwrap_or(false),
                decision_log,
                decision_record,
                password_auth,
            }),
            _ => Err(errors.0),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use authz_testkit::mint::DevKey;

    /// A valid configuration as text, with `{jwk}` to fill in.
    const BASE: &str = r#"{
        "api": {"region": "us-east-1", "account_id": "123456789012", "api_id": "a1b2c3d4e5", "stage": "dev"},
        "issuers": [{"issuer": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_A",
                     "jwks": {"keys": [{jwk}]}, "token_use": ["access"], "client_ids": ["app"]}],
        "routes": [{"method": "GET", "path": "/a", "auth": "none"}, {"method": "ANY", "path": "/{proxy+}"}],
        "policies": {"groups": {"g": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": "*",
             "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]}}}
    }"#;

    fn load(edit: impl Fn(String) -> String) -> Result<Config, ConfigError> {
        let key = DevKey::generate_es256("k1").unwrap();
        let text = BASE.replace("{jwk}", &key.public_jwk().to_string());
        Config::from_json(edit(text).as_bytes())
    }

    #[test]
    fn the_base_configuration_loads() {
        load(|text| text).unwrap();
    }

    /// `json::path_of` names the same field as `serde_path_to_error` (the crate it replaced, kept as the test's
    /// reference) for every typed-read error of the base configuration bent at every place: each value replaced by
    /// one of every other type, each object given an unknown member (plain and with escapes), each member removed;
    /// written compactly and pretty-printed (errors on later lines).
    #[test]
    fn typed_read_paths_agree_with_serde_path_to_error() {
        use serde_json::Value;
        fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
            match value {
                Value::Object(map) => map.iter().for_each(|(key, item)| pointers(item, format!("{at}/{key}"), out)),
                Value::Array(items) => {
                    items.iter().enumerate().for_each(|(index, item)| pointers(item, format!("{at}/{index}"), out))
                }
                _ => {}
            }
            out.push(at);
        }
        let key = DevKey::generate_es256("k1").unwrap();
        let base: Value = serde_json::from_str(&BASE.replace("{jwk}", &key.public_jwk().to_string())).unwrap();
        let mut all = Vec::new();
        pointers(&base, String::new(), &mut all);
        let mut variants = Vec::new();
        for pointer in &all {
            for wrong in [
                json_value("1"),
                json_value("-1.5"),
                json_value(r#""x""#),
                json_value("[1]"),
                json_value("{}"),
                json_value("null"),
                json_value("true"),
            ] {
                let mut variant = base.clone();
                *variant.pointer_mut(pointer).unwrap() = wrong;
                variants.push(serde_json::to_string(&variant).unwrap());
                variants.push(serde_json::to_string_pretty(&variant).unwrap());
            }
            let mut variant = base.clone();
            if let Some(Value::Object(map)) = variant.pointer_mut(pointer) {
                let members: Vec<String> = map.keys().cloned().collect();
                for member in members {
                    let mut without = base.clone();
                    without.pointer_mut(pointer).unwrap().as_object_mut().unwrap().remove(&member);
                    variants.push(serde_json::to_string_pretty(&without).unwrap());
                }
                map.insert("zz".into(), Value::from(1));
                let text = serde_json::to_string_pretty(&variant).unwrap();
                variants.push(text.replace(r#""zz": 1"#, r#""z\u0041" :1"#));
                variants.push(text);
            }
        }
        // Malformed text too: cut short, or a stray byte, at every tenth byte.
        let compact = serde_json::to_string(&base).unwrap();
        let pretty = serde_json::to_string_pretty(&base).unwrap();
        for text in [&compact, &pretty] {
            for at in (0..text.len()).step_by(10).filter(|at| text.is_char_boundary(*at)) {
                variants.push(text[..at].to_owned());
                variants.push(format!("{}x{}", &text[..at], &text[at..]));
                variants.push(format!("{}]{}", &text[..at], &text[at..]));
            }
        }
        let mut failed = 0;
        for text in &variants {
            let bytes = text.as_bytes();
            let Err(err) = RawConfig::deserialize(&mut serde_json::Deserializer::from_slice(bytes)) else { continue };
            let reference =
                serde_path_to_error::deserialize::<_, RawConfig>(&mut serde_json::Deserializer::from_slice(bytes))
                    .unwrap_err();
            let (ours, theirs) = (crate::json::path_of(bytes, &err), reference.path().to_string());
            if err.is_data() {
                assert_eq!(ours, theirs, "{err}\n{text}");
            } else {
                // Malformed text: the same place, or a more precise one where the reference gave up on the name
                // that would have come next (`issuers[0].?` for an error between two members of `issuers[0]`).
                let theirs = if theirs == "?" { "" } else { theirs.strip_suffix(".?").unwrap_or(&theirs) };
                assert!(ours.starts_with(theirs), "{ours} for {theirs}: {err}\n{text}");
            }
            failed += 1;
        }
        assert!(failed > 200, "{failed} of {} variants failed the typed read", variants.len());
    }

    fn json_value(text: &str) -> serde_json::Value {
        serde_json::from_str(text).unwrap()
    }

    /// Every section: the second copy of a name is refused with the path of the object holding it.
    #[test]
    fn duplicate_member_names_are_refused_everywhere_with_their_path() {
        let cases = [
            (
                r#""Effect": "Deny","#,
                r#""Effect": "Deny", "Effect": "Allow","#,
                "policies.groups.g.Statement[0]",
                "Effect",
            ),
            (
                r#""IpAddress": {"#,
                r#""IpAddress": {"aws:SourceIp": "0.0.0.0/32"}, "IpAddress": {"#,
                "policies.groups.g.Statement[0].Condition",
                "IpAddress",
            ),
            (r#""groups": {"g":"#, r#""groups": {"g": {}, "g":"#, "policies.groups", "g"),
            (r#""stage": "dev""#, r#""stage": "dev", "stage": "prod""#, "api", "stage"),
            (
                r#""token_use": ["access"],"#,
                r#""token_use": ["access"], "token_use": ["id"],"#,
                "issuers[0]",
                "token_use",
            ),
            (r#""auth": "none""#, r#""auth": "none", "auth": "token""#, "routes[0]", "auth"),
            (r#""kty":"#, r#""kid": "x", "kty":"#, "issuers[0].jwks.keys[0]", "kid"),
            (r#""policies": {"#, r#""routes": [], "policies": {"#, ".", "routes"),
        ];
        for (from, to, path, name) in cases {
            let err = load(|text| {
                assert!(text.contains(from), "{from}");
                text.replacen(from, to, 1)
            })
            .unwrap_err();
            assert_eq!(err.path, path, "{to}: {err}");
            assert_eq!(err.message, format!("duplicate member name `{name}`"), "{to}");
        }
    }

    #[test]
    fn identity_headers_fold_case_and_underscores() {
        let config = load(|text| text).unwrap();
        let names = &config.identity_headers;
        for spelling in ["x-authz-groups", "X-Authz-Groups", "x_authz_groups", "X_AUTHZ-groups", "x-authz-issuer"] {
            assert!(names.covers(spelling), "{spelling}");
        }
        for other in ["x-authz-group", "x-authz-groupss", "xauthz-groups", "x.authz.groups", "authorization"] {
            assert!(!names.covers(other), "{other}");
        }
        let clash = load(|text| {
            text.replacen(r#""routes""#, r#""identity_headers": {"sub": "x_user", "username": "x-user"}, "routes""#, 1)
        })
        .unwrap_err();
        assert_eq!(clash.path, "identity_headers");
        for taken in ["content_length", "x-forwarded-for", "User-Agent", "x-envoy-original-path", "cookie"] {
            let reserved = load(|text| {
                text.replacen(r#""routes""#, &format!(r#""identity_headers": {{"sub": "{taken}"}}, "routes""#), 1)
            })
            .unwrap_err();
            assert_eq!(reserved.path, "identity_headers.sub", "{taken}");
        }
        // Renamed: the new name and the old default are both removed from requests.
        let renamed = load(|text| {
            text.replacen(r#""routes""#, r#""identity_headers": {"groups": "x-user-groups"}, "routes""#, 1)
        })
        .unwrap();
        for spelling in ["x-user-groups", "x_user_groups", "x-authz-groups", "X_AUTHZ_GROUPS"] {
            assert!(renamed.identity_headers.covers(spelling), "{spelling}");
        }
    }

    /// Group and user names are per pool: with two issuers, the shared section must say it means every pool.
    #[test]
    fn shared_policies_over_several_issuers_must_say_so() {
        let second = r#"{"issuer": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_B", "jwks": {"keys": [{jwk}]},
                         "token_use": ["access"], "client_ids": ["app-b"]}]"#;
        let two = |text: String| {
            let key = DevKey::generate_es256("k2").unwrap().public_jwk().to_string();
            text.replacen(
                "\"client_ids\": [\"app\"]}]",
                &format!("\"client_ids\": [\"app\"]}}, {}", second.replace("{jwk}", &key)),
                1,
            )
        };
        let err = load(two).unwrap_err();
        assert_eq!(err.path, "policies");
        assert!(err.message.contains("all_issuers"), "{err}");
        load(|text| two(text).replacen(r#""policies": {"#, r#""policies": {"all_issuers": true, "#, 1)).unwrap();
        // One issuer: the shared section is that pool's.
        load(|text| text).unwrap();
        let err = load(|text| {
            text.replacen(r#""client_ids": ["app"]"#, r#""client_ids": ["app"], "policies": {"all_issuers": true}"#, 1)
        })
        .unwrap_err();
        assert_eq!(err.path, "issuers[0].policies.all_issuers");
        // An issuer's own documents are compiled and reported under its path.
        let err = load(|text| {
            text.replacen(
                r#""client_ids": ["app"]"#,
                r#""client_ids": ["app"], "policies": {"users": {"u": {"Statement": 1}}}"#,
                1,
            )
        })
        .unwrap_err();
        assert!(err.path.starts_with("issuers[0].policies.users.u"), "{err}");
    }

    #[test]
    fn route_scopes_are_scope_tokens() {
        for bad in ["", "a b", "a\tb", "a\u{3000}b", "caf\u{e9}", "a\\b"] {
            let err = load(|text| {
                text.replacen(
                    r#"{"method": "ANY", "path": "/{proxy+}"}"#,
                    &format!(
                        r#"{{"method": "ANY", "path": "/{{proxy+}}", "scopes": [{}]}}"#,
                        serde_json::Value::from(bad)
                    ),
                    1,
                )
            })
            .unwrap_err();
            assert_eq!(err.path, "routes[1].scopes[0]", "{bad:?}: {err}");
        }
    }

    /// Adds `member` (JSON text) at the top level of the base configuration.
    fn with(member: &str) -> Result<Config, ConfigError> {
        load(|text| text.replacen(r#""routes""#, &format!(r#"{member}, "routes""#), 1))
    }

    #[test]
    fn text_errors_inside_a_policy_document_name_their_field() {
        // Read from the document's own text: the path goes on inside it, and no line or column counted from the
        // document's start (not the file's) is quoted.
        let cases = [
            (r#""Effect": "Deny", "Sid": "\ud800","#, "policies.groups.g.Statement[0].Sid"),
            (r#""Effect": "Deny", "Sid": 1.5e999999,"#, "policies.groups.g.Statement[0].Sid"),
        ];
        for (replacement, path) in cases {
            let err = load(|text| text.replacen(r#""Effect": "Deny","#, replacement, 1)).map(|_| ()).unwrap_err();
            assert_eq!(err.path, path, "{replacement}: {err}");
            assert!(!err.message.contains(" at line "), "{replacement}: {err}");
        }
        let deep = format!(r#""Effect": "Deny", "Sid": {}1{},"#, "[".repeat(200), "]".repeat(200));
        let err = load(|text| text.replacen(r#""Effect": "Deny","#, &deep, 1)).map(|_| ()).unwrap_err();
        assert!(err.path.starts_with("policies.groups.g.Statement[0].Sid"), "{err}");
        assert!(!err.message.contains(" at line "), "{err}");
    }

    #[test]
    fn the_decision_record_is_all_refusals_or_off() {
        assert_eq!(load(|text| text).unwrap().decision_record(), DecisionRecord::All);
        for (written, read) in
            [("all", DecisionRecord::All), ("refusals", DecisionRecord::Refusals), ("off", DecisionRecord::Off)]
        {
            let config = with(&format!(r#""decision_record": "{written}""#)).unwrap();
            assert_eq!(config.decision_record(), read, "{written}");
        }
        for bad in [r#""denials""#, r#""All""#, "true", r#"{"allow": false}"#] {
            let err = with(&format!(r#""decision_record": {bad}"#)).map(|_| ()).unwrap_err();
            assert_eq!(err.path, "decision_record", "{bad}: {err}");
        }
        assert!(DecisionRecord::All.records(true) && DecisionRecord::All.records(false));
        assert!(!DecisionRecord::Refusals.records(true) && DecisionRecord::Refusals.records(false));
        assert!(!DecisionRecord::Off.records(true) && !DecisionRecord::Off.records(false));
    }

    #[test]
    fn the_token_source_is_one_header_or_one_cookie() {
        assert_eq!(load(|text| text).unwrap().token_source(), &TokenSource::Header("authorization".into()));
        assert_eq!(
            with(r#""token_source": {"header": "X-Id-Token"}"#).unwrap().token_source(),
            &TokenSource::Header("x-id-token".into())
        );
        assert_eq!(
            with(r#""token_source": {"cookie": "__Host-id"}"#).unwrap().token_source(),
            &TokenSource::Cookie("__Host-id".into())
        );
        for (member, path) in [
            (r#""token_source": {}"#, "token_source"),
            (r#""token_source": {"header": "a", "cookie": "b"}"#, "token_source"),
            (r#""token_source": {"header": "cookie"}"#, "token_source.header"),
            (r#""token_source": {"header": "X-Forwarded-For"}"#, "token_source.header"),
            (r#""token_source": {"header": "x-envoy-auth"}"#, "token_source.header"),
            (r#""token_source": {"header": "x_authz_sub"}"#, "token_source.header"),
            (r#""token_source": {"header": "a b"}"#, "token_source.header"),
            (r#""token_source": {"header": ":path"}"#, "token_source.header"),
            (r#""token_source": {"cookie": "a=b"}"#, "token_source.cookie"),
            (r#""token_source": {"cookie": ""}"#, "token_source.cookie"),
            (r#""token_source": {"query": "token"}"#, "token_source.query"),
        ] {
            let err = with(member).unwrap_err();
            assert_eq!(err.path, path, "{member}: {err}");
        }
        let err =
            with(r#""identity_headers": {"claims": {"email": "x-email"}}, "token_source": {"header": "X_Email"}"#)
                .unwrap_err();
        assert_eq!(err.path, "token_source.header", "{err}");
        // A cookie source gets a note about cross-site requests.
        let notes = with(r#""token_source": {"cookie": "id"}"#).unwrap().notes();
        assert!(notes.iter().any(|note| note.contains("SameSite")), "{notes:?}");
    }

    #[test]
    fn claim_headers_are_usable_names_apart_from_every_identity_header() {
        let config = with(r#""identity_headers": {"sub": "x-user-sub", "claims": {"email": "x-user-email", "custom:tenant": "x-tenant"}}"#).unwrap();
        let names = config.identity_headers();
        assert_eq!(names.claims.len(), 2);
        for spelling in ["x-user-email", "X_User_Email", "x_tenant", "x-authz-sub", "x-user-sub"] {
            assert!(names.covers(spelling), "{spelling}");
        }
        for (claims, path) in [
            (r#"{"email": "x-authz-groups"}"#, "identity_headers.claims.email"),
            (r#"{"email": "x_user_sub"}"#, "identity_headers.claims.email"),
            (r#"{"email": "x-a", "name": "X_A"}"#, "identity_headers.claims.name"),
            (r#"{"email": "x-a", "name": "x_a"}"#, "identity_headers.claims.name"),
            (r#"{"email": "cookie"}"#, "identity_headers.claims.email"),
            (r#"{"email": "X-Email"}"#, "identity_headers.claims.email"),
            (r#"{"": "x-a"}"#, "identity_headers.claims."),
            (r#"{"email": "x-a", "email": "x-b"}"#, "identity_headers.claims"),
        ] {
            let err = with(&format!(r#""identity_headers": {{"sub": "x-user-sub", "claims": {claims}}}"#)).unwrap_err();
            assert_eq!(err.path, path, "{claims}: {err}");
        }
    }

    #[test]
    fn route_token_use_and_undeclared_methods() {
        let route = |route: &str| {
            load(|text| {
                text.replacen(
                    r#"{"method": "ANY", "path": "/{proxy+}"}"#,
                    &format!(r#"{route}, {{"method": "ANY", "path": "/{{proxy+}}"}}"#),
                    1,
                )
                .replacen(r#""token_use": ["access"]"#, r#""token_use": ["access", "id"]"#, 1)
            })
        };
        let config = route(r#"{"method": "GET", "path": "/b", "token_use": ["id"]}"#).unwrap();
        let routes = config.routes().unwrap();
        assert_eq!(
            routes[1].auth,
            RouteAuth::Token { scopes: vec![], token_use: Some(TokenUses { access: false, id: true }) }
        );
        let config = route(r#"{"method": "ANY", "path": "/b", "auth": "undeclared"}"#).unwrap();
        assert_eq!(config.routes().unwrap()[1].auth, RouteAuth::Undeclared);
        for (bad, path) in [
            (r#"{"method": "GET", "path": "/b", "scopes": ["s"], "token_use": ["id"]}"#, "routes[1].token_use"),
            (r#"{"method": "GET", "path": "/b", "token_use": []}"#, "routes[1].token_use"),
            (r#"{"method": "GET", "path": "/b", "token_use": ["refresh"]}"#, "routes[1].token_use[0]"),
            (r#"{"method": "GET", "path": "/b", "auth": "none", "token_use": ["id"]}"#, "routes[1].token_use"),
            (r#"{"method": "GET", "path": "/b", "auth": "undeclared", "scopes": ["s"]}"#, "routes[1].scopes"),
            (r#"{"method": "GET", "path": "/b", "auth": "open"}"#, "routes[1].auth"),
        ] {
            let err = route(bad).unwrap_err();
            assert_eq!(err.path, path, "{bad}: {err}");
        }
        // Only access tokens are accepted by the issuer: an ID-token-only route could never pass.
        let err = load(|text| {
            text.replacen(
                r#"{"method": "ANY", "path": "/{proxy+}"}"#,
                r#"{"method": "ANY", "path": "/{proxy+}", "token_use": ["id"]}"#,
                1,
            )
        })
        .unwrap_err();
        assert_eq!(err.path, "routes[1].token_use", "{err}");
        // An undeclared catch-all is no catch-all.
        let notes =
            load(|text| text.replacen(r#""path": "/{proxy+}"}"#, r#""path": "/{proxy+}", "auth": "undeclared"}"#, 1))
                .unwrap()
                .notes();
        assert!(notes.iter().any(|note| note.contains("no catch-all")), "{notes:?}");
    }

    /// Independent sections, issuers and routes are all reported; the first is what `from_json` returns.
    #[test]
    fn one_load_reports_every_independent_error() {
        let key = DevKey::generate_es256("k1").unwrap();
        let text = BASE
            .replace("{jwk}", &key.public_jwk().to_string())
            .replace(r#""account_id": "123456789012""#, r#""account_id": "12""#)
            .replace(r#""token_use": ["access"]"#, r#""token_use": ["refresh"]"#)
            .replace(r#""path": "/a""#, r#""path": "a""#)
            .replace(r#""routes""#, r#""clock_skew_seconds": 900, "decision_log": {"deny": "loud"}, "routes""#);
        let errors = Config::from_json_all(text.as_bytes()).unwrap_err();
        let paths: Vec<&str> = errors.iter().map(|err| err.path.as_str()).collect();
        // The routes are not read while an issuer is refused: a route's token kinds are read against the issuers.
        assert_eq!(
            paths,
            ["api.account_id", "issuers[0].token_use[0]", "clock_skew_seconds", "decision_log.deny"],
            "{errors:?}"
        );
        assert_eq!(Config::from_json(text.as_bytes()).unwrap_err(), errors[0]);
        let routes = BASE
            .replace("{jwk}", &key.public_jwk().to_string())
            .replace(r#""path": "/a""#, r#""path": "a""#)
            .replace(r#"{"method": "ANY", "path": "/{proxy+}"}"#, r#"{"method": "ANY", "path": "/{proxy+}"}, {"method": "GET", "path": "/b"}, {"method": "FETCH", "path": "/c"}"#);
        let errors = Config::from_json_all(routes.as_bytes()).unwrap_err();
        let paths: Vec<&str> = errors.iter().map(|err| err.path.as_str()).collect();
        assert_eq!(paths, ["routes[0].path", "routes[2]", "routes[3].method"], "{errors:?}");
    }

    #[test]
    fn password_auth_errors_name_their_field() {
        let with = |auth: &str| load(|text| text.replacen('{', &format!(r#"{{"password_auth": {auth}, "#), 1));
        let loaded = with(r#"{"cluster": "idp", "authority": "idp.example", "client_id": "app"}"#).unwrap();
        assert_eq!(loaded.password_auth().unwrap().cache_seconds, 300);
        let err = with(r#"{"cluster": "idp", "authority": "idp.example", "client_id": "a-b"}"#).unwrap_err();
        assert_eq!(err.path, "password_auth.client_id");
        let err = with(r#"{"cluster": "idp", "authority": "idp.example", "client_id": "app", "cache_seconds": 0}"#)
            .unwrap_err();
        assert_eq!(err.path, "password_auth.cache_seconds");
        // Basic credentials come in `Authorization`: a token read elsewhere leaves that header to the upstream.
        let err = load(|text| {
            text.replacen('{', r#"{"password_auth": {"cluster": "c", "authority": "a", "client_id": "app"}, "token_source": {"cookie": "t"}, "#, 1)
        })
        .unwrap_err();
        assert_eq!(err.path, "password_auth");
    }

    #[test]
    fn remote_jwks_beside_or_instead_of_pushed_keys() {
        let remote = r#""remote_jwks": {"cluster": "idp", "uri": "https://idp.example/pool/.well-known/jwks.json"}"#;
        let loaded =
            load(|text| text.replace(r#""token_use": ["access"]"#, &format!(r#"{remote}, "token_use": ["access"]"#)))
                .unwrap();
        let issuer = &loaded.verifier().issuers()[0];
        assert_eq!((issuer.keys().len(), issuer.remote().unwrap().authority.as_str()), (1, "idp.example"));
        let only_remote = |remote: &str| {
            load(|text| {
                let start = text.find(r#""jwks""#).unwrap();
                let end = text.find(r#""token_use""#).unwrap();
                format!("{}{remote}, {}", &text[..start], &text[end..])
            })
        };
        let loaded = only_remote(remote).unwrap();
        assert!(loaded.verifier().issuers()[0].keys().is_empty());
        let err = only_remote(r#""remote_jwks": {"cluster": "idp", "uri": "https://idp.example"}"#).unwrap_err();
        assert_eq!(err.path, "issuers[0].remote_jwks.uri");
        let err = only_remote(r#""remote_jwks": {"cluster": "idp", "uri": "https://i/p", "refresh_seconds": 1}"#)
            .unwrap_err();
        assert_eq!(err.path, "issuers[0].remote_jwks.refresh_seconds");
        let err = only_remote(r#""remote_jwks": {"cluster": "", "uri": "https://i/p"}"#).unwrap_err();
        assert_eq!(err.path, "issuers[0].remote_jwks.cluster");
        let err = only_remote(r#""remote_jwks": {"cluster": "c", "uri": "https://i/p", "url": "x"}"#).unwrap_err();
        assert!(err.path.starts_with("issuers[0].remote_jwks"), "{err}");
        let err = only_remote(r#""client_secret": null"#).unwrap_err();
        assert!(err.path.starts_with("issuers[0]"), "{err}");
        let err = only_remote(r#""policies": null"#).unwrap_err();
        assert_eq!(err.path, "issuers[0].jwks");
        // The pool's own published key set passes quietly; any other URL is noted, since its keys verify the pool.
        let remote_notes = |uri: &str| {
            let notes =
                only_remote(&format!(r#""remote_jwks": {{"cluster": "idp", "uri": "{uri}"}}"#)).unwrap().notes();
            notes.into_iter().filter(|note| note.starts_with("issuers[0].remote_jwks.uri")).count()
        };
        assert_eq!(remote_notes("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_A/.well-known/jwks.json"), 0);
        assert_eq!(remote_notes("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_B/.well-known/jwks.json"), 1);
        assert_eq!(remote_notes("https://keys.example/us-east-1_A/.well-known/jwks.json"), 1);
    }

    #[test]
    fn an_empty_route_list_is_refused() {
        let err = load(|text| text.replacen(r#""routes": [{"method": "GET", "path": "/a", "auth": "none"}, {"method": "ANY", "path": "/{proxy+}"}]"#, r#""routes": []"#, 1))
            .unwrap_err();
        assert_eq!(err.path, "routes");
    }
}
