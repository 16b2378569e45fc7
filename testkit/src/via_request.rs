//! One policy case (a document or list, a method ARN, an action and condition keys given as data) turned into a
//! real request through the filter, and the filter's answer read back as a policy decision. `authz policy
//! --wasm` and the wasmtime host tests both use it, so that they run the same mapping.
//!
//! Only what a request can honestly carry is mapped. The configuration's `api` comes from the ARN, with one
//! issuer whose key is minted at run time. The policy goes under the context's user (`policies.users.<name>`),
//! or under the token's app client when the context names no user, since a token with a user name would give
//! `aws:username` a value the context does not have. The token carries the context's `claim:*` keys;
//! `aws:SourceIp` is the `source.address` property, `aws:CurrentTime` and `aws:EpochTime` the host clock,
//! `aws:UserAgent` and `aws:Referer` headers, `aws:SecureTransport` the `connection.tls_version` property.
//!
//! The request also carries keys the context may lack (the time, the token's own claims) and cannot carry
//! others (`aws:SourceArn`, a second spelling of a time). So every key the policy reads must have in the request
//! exactly the values the context gives it, checked with the filter's own [`RequestContext`]. Where one does not,
//! or where the action or resource is not one a request makes, the case is refused as not expressible rather
//! than answered with a guess.

use crate::mint::DevKey;
use authz::config::Config;
use authz::decision::EXPLICIT_DENY_BODY;
use authz::policy::{
    api_of, ConditionContext, DenyWhy, Document, KeyName, MapContext, PolicyDecision, PolicyError, RequestContext,
    SourceKind, StatementRef, Values, CLAIM_PREFIX, INVOKE,
};
use authz::request::{normalize_method, normalize_path_with, HttpRequest};
use serde_json::{json, Map, Value};
use std::net::{IpAddr, SocketAddr};

/// The issuer of the minted token, unless the context sets `claim:iss`.
pub const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_PolicyCase";
/// The token's app client, unless the context sets `claim:client_id`.
pub const CLIENT_ID: &str = "policy-case-client";
/// The token's subject, unless the context sets `claim:sub`.
pub const SUBJECT: &str = "policy-case-subject";
/// The host clock when the context gives no time, in unix seconds.
pub const DEFAULT_NOW: u64 = 1_763_800_000;
/// The `proxy_get_property` path of the downstream address.
pub const SOURCE_ADDRESS: &[&str] = &["source", "address"];
/// The `proxy_get_property` path Envoy sets on TLS connections only.
pub const TLS_VERSION: &[&str] = &["connection", "tls_version"];

const TOKEN_LIFETIME: u64 = 3600;
/// Envoy's `source.address` carries a port; the filter ignores it.
const SOURCE_PORT: u16 = 53346;
const TLS_1_3: &[u8] = b"TLSv1.3";
const AUTHORITY: &str = "api.example.com";
/// The shape of the resources a request can be evaluated for.
const METHOD_ARN_SHAPE: &str = "arn:partition:execute-api:region:account:api/stage/METHOD/path";
/// The latest time the host clock can report in nanoseconds with a token still valid an hour later.
const MAX_NOW: u64 = u64::MAX / 1_000_000_000 - TOKEN_LIFETIME;
/// Claims the mapping writes from the request time.
const TIME_CLAIMS: [&str; 3] = ["exp", "nbf", "iat"];
/// Claims the token rules read, matched in any case so that a context's `claim:SUB` is the token's `sub`.
const RULE_CLAIMS: [&str; 7] = ["iss", "sub", "token_use", "client_id", "username", "scope", "cognito:groups"];
/// What the filter logs before each decision's reason and before a refused configuration.
const DECISION_LOG_PREFIX: &str = "authz: ";
const REFUSAL_LOG_PREFIX: &str = "authz: configuration refused: ";

/// Why a case was not turned into a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViaRequestError {
    /// The context is not an object of condition keys (the standalone evaluator refuses it the same way).
    #[error(transparent)]
    Context(PolicyError),
    /// No request makes the filter evaluate this case.
    #[error("not expressible through a request: {0}")]
    NotExpressible(String),
}

fn not_expressible(why: impl Into<String>) -> ViaRequestError {
    ViaRequestError::NotExpressible(why.into())
}

/// What the filter decided, read back from its answer and its debug log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterAnswer {
    pub decision: PolicyDecision,
    /// The deciding statements, located as in a standalone evaluation (`policy[0].Statement[1]`).
    pub statements: Vec<StatementRef>,
    /// On deny, why, with statements located the same way.
    pub why: Option<String>,
}

/// One case as the filter is given it: configuration, request headers, clock and connection properties.
#[derive(Debug)]
pub struct FilterCase {
    /// The plugin configuration (JSON).
    pub config: Vec<u8>,
    /// The request headers as Envoy delivers them, pseudo-headers first.
    pub headers: Vec<(String, String)>,
    /// The host clock, unix seconds.
    pub now: u64,
    /// `proxy_get_property` paths and their values, set before the request.
    pub properties: Vec<(&'static [&'static str], Vec<u8>)>,
    /// `users.<name>` or `clients.<name>`: where the policy sits in the configuration.
    holder: String,
    sub: String,
    arn: String,
    method: String,
    /// The documents as the core compiles them, or why it refuses them (then the filter must refuse too).
    documents: Result<Vec<Document>, PolicyError>,
}

/// The parts of `arn:{partition}:execute-api:{region}:{account}:{api}/{stage}/{METHOD}/{path}` (the partition
/// follows from the region, and is checked against it through the configuration).
struct MethodArn<'a> {
    region: &'a str,
    account: &'a str,
    api: &'a str,
    stage: &'a str,
    method: &'a str,
    path: &'a str,
}

impl<'a> MethodArn<'a> {
    fn parse(resource: &'a str) -> Option<Self> {
        let mut fields = resource.splitn(6, ':');
        let (arn, _partition, service) = (fields.next()?, fields.next()?, fields.next()?);
        if arn != "arn" || service != "execute-api" {
            return None;
        }
        let (region, account, rest) = (fields.next()?, fields.next()?, fields.next()?);
        let mut parts = rest.splitn(4, '/');
        let (api, stage, method, path) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        Some(Self { region, account, api, stage, method, path })
    }
}

/// The single value of `key` in `ctx`, if it has exactly one.
fn single(ctx: &MapContext, key: &str) -> Option<String> {
    match ctx.values(&KeyName::new(key)) {
        Some(Values::One(value)) => Some(value.into_owned()),
        _ => None,
    }
}

/// The time the host clock must report: `aws:EpochTime`, else `aws:CurrentTime` as the filter writes it.
fn clock(ctx: &MapContext) -> u64 {
    if let Some(epoch) = single(ctx, "aws:EpochTime").and_then(|text| text.parse::<u64>().ok()) {
        if epoch <= MAX_NOW {
            return epoch;
        }
    }
    single(ctx, "aws:CurrentTime").and_then(|text| seconds_written_as(&text)).unwrap_or(DEFAULT_NOW)
}

/// The second whose `aws:CurrentTime` is exactly `text`. The filter's fixed-width spelling sorts like the time
/// it names, so a binary search finds it.
fn seconds_written_as(text: &str) -> Option<u64> {
    let (mut low, mut high) = (0u64, MAX_NOW);
    while low < high {
        let middle = low + (high - low) / 2;
        if format_iso8601(middle).as_str() < text {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    (format_iso8601(low) == text).then_some(low)
}

/// The context's `claim:*` keys as token claims. Claims the token rules read are named in lower case, so
/// that the token has one `sub` however the context spells it; the time claims are the mapping's own.
fn context_claims(context: &Value) -> Result<Map<String, Value>, ViaRequestError> {
    let mut claims = Map::new();
    let Value::Object(keys) = context else { return Ok(claims) };
    for (key, value) in keys {
        let Some(name) = key
            .get(..CLAIM_PREFIX.len())
            .filter(|prefix| prefix.eq_ignore_ascii_case(CLAIM_PREFIX))
            .and_then(|_| key.get(CLAIM_PREFIX.len()..))
            .filter(|name| !name.is_empty())
        else {
            continue;
        };
        if TIME_CLAIMS.iter().any(|claim| claim.eq_ignore_ascii_case(name)) {
            return Err(not_expressible(format!(
                "`{key}`: the token's `exp`, `nbf` and `iat` follow the request time, so that the token is valid"
            )));
        }
        let name = match RULE_CLAIMS.iter().find(|claim| claim.eq_ignore_ascii_case(name)) {
            Some(claim) => (*claim).to_owned(),
            None => name.to_owned(),
        };
        if claims.keys().any(|existing| existing.eq_ignore_ascii_case(&name)) {
            return Err(not_expressible(format!(
                "`{key}`: a token cannot carry claims whose names differ only in case as one key"
            )));
        }
        let value = match (name.as_str(), value) {
            // The token's `scope` is one space-separated string, which the filter splits into a list again.
            ("scope", Value::Array(words)) => {
                let words: Vec<&str> = words.iter().filter_map(Value::as_str).collect();
                Value::String(words.join(" "))
            }
            _ => value.clone(),
        };
        claims.insert(name, value);
    }
    Ok(claims)
}

/// Whether a header value survives an HTTP/1 request as it is: no controls, no surrounding whitespace.
fn header_value_ok(value: &str) -> bool {
    let trimmed = value.trim_matches([' ', '\t']);
    trimmed.len() == value.len() && value.bytes().all(|b| (b >= 0x20 || b == b'\t') && b != 0x7f)
}

/// Whether a value can be an identity header (the filter answers 401 otherwise).
fn identity_safe(value: &str) -> bool {
    value.bytes().all(|b| b >= 0x20 && b != 0x7f)
}

/// Every condition key and variable the documents read, once each.
fn keys_read(documents: &[Document]) -> Vec<&KeyName> {
    let mut keys: Vec<&KeyName> = Vec::new();
    for key in
        documents.iter().flat_map(|document| document.statements.iter()).flat_map(|statement| statement.keys_read())
    {
        if !keys.iter().any(|known| known.lower() == key.lower()) {
            keys.push(key);
        }
    }
    keys
}

/// `true` or `false`, in any case, as the filter reads `aws:SecureTransport`.
fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// `now` as the filter writes `aws:CurrentTime` (`2025-11-22T08:26:40Z`). A spelling of its own, not the
/// library's: should the two ever differ, the check that every key the policy reads has the context's value in
/// the request refuses the case as not expressible, so a difference can never become a wrong answer.
fn format_iso8601(now: u64) -> String {
    let secs = i64::try_from(now).unwrap_or(i64::MAX);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's days-to-civil: the proleptic Gregorian date of a day count from 1970-01-01.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest / 60 % 60, rest % 60)
}

fn show(values: Option<&Values<'_>>) -> String {
    match values {
        None => "nothing".to_owned(),
        Some(Values::Unreadable) => "an unreadable value".to_owned(),
        Some(Values::One(value)) => format!("`{value}`"),
        Some(Values::Many(values)) => {
            let values: Vec<String> = values.iter().map(|value| format!("`{value}`")).collect();
            format!("the list [{}]", values.join(", "))
        }
    }
}

impl FilterCase {
    /// Maps `policy` evaluated for `action` on `resource` with `context` to a request, signing its token with
    /// `key`. A policy the core refuses still gives a case: the filter must refuse its configuration.
    pub fn new(
        policy: &Value,
        resource: &str,
        action: &str,
        context: &Value,
        key: &DevKey,
    ) -> Result<Self, ViaRequestError> {
        let ctx = MapContext::from_json(context, "context").map_err(ViaRequestError::Context)?;
        if !action.eq_ignore_ascii_case(INVOKE) {
            return Err(not_expressible(format!(
                "the filter evaluates every request for `{INVOKE}`, never `{action}`"
            )));
        }
        let target = MethodArn::parse(resource).ok_or_else(|| {
            not_expressible(format!("`{resource}` is not an execute-api method ARN (`{METHOD_ARN_SHAPE}`)"))
        })?;

        let mut claims = context_claims(context)?;
        let username =
            single(&ctx, "aws:username").or_else(|| claims.get("username").and_then(Value::as_str).map(str::to_owned));
        let now = clock(&ctx);
        claims.entry("iss").or_insert_with(|| ISSUER.into());
        claims.entry("sub").or_insert_with(|| SUBJECT.into());
        claims.entry("token_use").or_insert_with(|| "access".into());
        claims.entry("client_id").or_insert_with(|| CLIENT_ID.into());
        if let Some(username) = &username {
            claims.insert("username".into(), username.clone().into());
        }
        claims.insert("exp".into(), (now + TOKEN_LIFETIME).into());
        let issuer = claims.get("iss").and_then(Value::as_str).unwrap_or_default().to_owned();
        let client_id = claims.get("client_id").and_then(Value::as_str).unwrap_or_default().to_owned();
        let (section, name) = match &username {
            Some(username) => ("users", username.clone()),
            None => ("clients", client_id.clone()),
        };

        let mut config = json!({
            "api": {"region": target.region, "account_id": target.account, "api_id": target.api, "stage": target.stage},
            "issuers": [{"issuer": issuer, "jwks": key.jwks(), "token_use": ["access"], "client_ids": [client_id]}],
        });
        // Everything but the policy first: a refusal there means no configuration addresses this case.
        let base = Config::from_json(config.to_string().as_bytes()).map_err(|err| {
            not_expressible(format!("no configuration accepts `{resource}` with this context: {err}"))
        })?;
        if let Value::Object(fields) = &mut config {
            fields.insert("policies".into(), json!({ section: { name.clone(): policy } }));
        }
        if api_of(resource).ok().as_ref() != Some(base.api()) {
            return Err(not_expressible(format!("`{resource}` names its API in a way a configuration cannot")));
        }

        let path = format!("/{}", target.path);
        let method = normalize_method(target.method).map_err(|err| not_expressible(format!("`{resource}`: {err}")))?;
        let normalized = normalize_path_with(&path, base.request())
            .map_err(|err| not_expressible(format!("`{resource}`: the path `{path}` is refused: {err}")))?;
        let arn = base
            .api()
            .method_arn(method, &normalized)
            .map_err(|err| not_expressible(format!("`{resource}`: {err}")))?;
        if arn != resource {
            return Err(not_expressible(format!(
                "no request has the method ARN `{resource}`: `{} {path}` is read as `{arn}`",
                target.method
            )));
        }

        let secure = single(&ctx, "aws:SecureTransport").and_then(|text| parse_bool(&text)).unwrap_or(true);
        let source_ip = single(&ctx, "aws:SourceIp").and_then(|text| text.parse::<IpAddr>().ok());
        let source = source_ip.map(|ip| SocketAddr::new(ip, SOURCE_PORT).to_string()).unwrap_or_default();
        let token = key.sign(&Value::Object(claims));
        let mut headers: Vec<(String, String)> = vec![
            (":method".into(), target.method.to_owned()),
            (":path".into(), path.clone()),
            (":authority".into(), AUTHORITY.into()),
            (":scheme".into(), if secure { "https" } else { "http" }.into()),
            ("authorization".into(), format!("Bearer {token}")),
        ];
        for (key, header) in [("aws:UserAgent", "user-agent"), ("aws:Referer", "referer")] {
            if let Some(value) = single(&ctx, key).filter(|value| header_value_ok(value)) {
                headers.push((header.into(), value));
            }
        }
        let properties: Vec<(&'static [&'static str], Vec<u8>)> = vec![
            (SOURCE_ADDRESS, source.into_bytes()),
            (TLS_VERSION, if secure { TLS_1_3.to_vec() } else { Vec::new() }),
        ];

        // The request as the filter reads it from these headers and properties.
        let request = HttpRequest {
            method: target.method.to_owned(),
            path,
            headers: headers.clone(),
            source_ip,
            secure_transport: Some(secure),
        };
        base.request().check_headers(&request).map_err(|err| not_expressible(err.to_string()))?;
        let verified = base
            .verifier()
            .verify(&token, now)
            .map_err(|err| not_expressible(format!("a token with the context's claims is refused: {err}")))?;
        let identity = [Some(verified.sub()), Some(verified.client_id()), verified.username()]
            .into_iter()
            .flatten()
            .chain(verified.groups().iter().map(String::as_str))
            .chain(verified.scopes().iter().map(String::as_str));
        if let Some(unsafe_value) = identity.into_iter().find(|value| !identity_safe(value)) {
            return Err(not_expressible(format!(
                "`{}` cannot be sent upstream in an identity header",
                unsafe_value.escape_debug()
            )));
        }

        let documents = Document::parse_many(policy, base.api(), "policy");
        if let Ok(documents) = &documents {
            let offered = RequestContext::new(&request, &verified, now, base.source_ip());
            for key in keys_read(documents) {
                let (given, sent) = (ctx.values(key), offered.values(key));
                if given != sent {
                    return Err(not_expressible(format!(
                        "the policy reads `{}`, which the context gives as {} but a request would carry as {}",
                        key.as_str(),
                        show(given.as_ref()),
                        show(sent.as_ref())
                    )));
                }
            }
        }

        Ok(Self {
            config: config.to_string().into_bytes(),
            headers,
            now,
            properties,
            holder: format!("{section}.{name}"),
            sub: verified.sub().to_owned(),
            arn,
            method: target.method.to_owned(),
            documents,
        })
    }

    /// The host clock in nanoseconds, as `proxy_get_current_time_nanoseconds` reports it.
    pub fn clock_nanos(&self) -> u64 {
        self.now.saturating_mul(1_000_000_000)
    }

    /// The configuration error in a log line of a filter that refused the configuration, located as in a
    /// standalone evaluation (`policy.Statement[0].Effect: ...`); `None` for other lines.
    pub fn refusal(&self, log_message: &str) -> Option<String> {
        let error = log_message.strip_prefix(REFUSAL_LOG_PREFIX)?;
        let within = format!("policies.{}", self.holder);
        Some(match error.strip_prefix(within.as_str()) {
            Some(rest) => format!("policy{rest}"),
            None => error.to_owned(),
        })
    }

    /// The reason in the filter's decision log line (`authz: 403 GET: <reason>`) for this request.
    pub fn reason<'a>(&self, log_message: &'a str, status: u16) -> Option<&'a str> {
        log_message
            .strip_prefix(DECISION_LOG_PREFIX)?
            .strip_prefix(status.to_string().as_str())?
            .strip_prefix(' ')?
            .strip_prefix(self.method.as_str())?
            .strip_prefix(": ")
    }

    /// The filter's answer (its status, body and logged reason) as a policy decision. Anything but a policy
    /// decision (a 401, a 400, a reason that names no statement) is an error, never a guess.
    pub fn answer(&self, status: u16, body: &[u8], reason: Option<&str>) -> Result<FilterAnswer, String> {
        let documents =
            self.documents.as_ref().map_err(|err| format!("the filter accepted a policy the core refuses: {err}"))?;
        let reason = reason.ok_or_else(|| format!("the filter answered {status} and logged no decision"))?;
        let unexpected = || format!("the filter answered {status} ({reason}), not a policy decision");
        match status {
            200 => {
                let refs = reason.strip_prefix(&format!("`{}` allowed by ", self.sub)).ok_or_else(unexpected)?;
                let statements = self.statements(refs, documents).ok_or_else(unexpected)?;
                Ok(FilterAnswer { decision: PolicyDecision::Allow, statements, why: None })
            }
            403 if body == EXPLICIT_DENY_BODY.as_bytes() => {
                let refs = reason
                    .strip_prefix(&format!("`{}` denied on `{}` by ", self.sub, self.arn))
                    .ok_or_else(unexpected)?;
                let statements = self.statements(refs, documents).ok_or_else(unexpected)?;
                let why = DenyWhy::Denied(statements.clone()).to_string();
                Ok(FilterAnswer { decision: PolicyDecision::ExplicitDeny, statements, why: Some(why) })
            }
            403 => {
                let why = reason
                    .strip_prefix(&format!("no statement allows `{}` on `{}`: ", self.sub, self.arn))
                    .ok_or_else(unexpected)?;
                let why = why.replace(&format!("{}[", self.holder), "policy[");
                Ok(FilterAnswer { decision: PolicyDecision::ImplicitDeny, statements: Vec::new(), why: Some(why) })
            }
            _ => Err(unexpected()),
        }
    }

    /// Reads `users.alice[0].Statement[1] (Sid), users.alice[1].Statement[0]` back into statement references;
    /// each Sid is known from the documents, so a Sid holding `, ` or `)` reads back unambiguously.
    fn statements(&self, mut text: &str, documents: &[Document]) -> Option<Vec<StatementRef>> {
        let opening = format!("{}[", self.holder);
        let mut statements = Vec::new();
        loop {
            let (document, rest) = text.strip_prefix(opening.as_str())?.split_once("].Statement[")?;
            let (statement, rest) = rest.split_once(']')?;
            let (document, index) = (document.parse::<usize>().ok()?, statement.parse::<usize>().ok()?);
            let found = documents.get(document)?.statements.get(index)?;
            text = match &found.sid {
                Some(sid) => rest.strip_prefix(" (")?.strip_prefix(sid.as_str())?.strip_prefix(')')?,
                None => rest,
            };
            statements.push(StatementRef {
                issuer: None,
                source: SourceKind::Policy,
                name: String::new(),
                document,
                statement: index,
                sid: found.sid.clone(),
                effect: found.effect,
            });
            if text.is_empty() {
                return Some(statements);
            }
            text = text.strip_prefix(", ")?;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;
    use crate::corpus::CorpusFile;
    use authz::policy::evaluate_standalone;
    use authz::Authorizer;

    const RESOURCE: &str = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/dev/GET/pets/1";

    fn key() -> DevKey {
        DevKey::generate_es256("k1").unwrap()
    }

    fn allow_all() -> Value {
        json!({"Version": "2012-10-17", "Statement": [{"Sid": "a, (b)", "Effect": "Allow", "Action": "*", "Resource": "*"}]})
    }

    fn why(case: Result<FilterCase, ViaRequestError>) -> String {
        match case {
            Err(ViaRequestError::NotExpressible(why)) => why,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    /// The native authorizer given exactly what the filter is given: the case's configuration, headers,
    /// properties and clock.
    fn decide_natively(case: &FilterCase) -> Result<FilterAnswer, String> {
        let authorizer = Authorizer::from_json(&case.config)
            .map_err(|err| case.refusal(&format!("{REFUSAL_LOG_PREFIX}{err}")).unwrap())?;
        let property =
            |path: &[&str]| case.properties.iter().find(|(p, _)| *p == path).map(|(_, v)| v.clone()).unwrap();
        let source = String::from_utf8(property(SOURCE_ADDRESS)).unwrap();
        let header = |name: &str| case.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap();
        let request = HttpRequest {
            method: header(":method"),
            path: header(":path"),
            headers: case.headers.clone(),
            source_ip: source.parse::<SocketAddr>().ok().map(|addr| addr.ip()),
            secure_transport: Some(!property(TLS_VERSION).is_empty()),
        };
        let decision = authorizer.authorize(&request, case.now);
        let line = format!("authz: {} {}: {}", decision.status(), request.method, decision.reason);
        let body = decision.outcome.body().unwrap_or_default();
        case.answer(decision.status(), body.as_bytes(), case.reason(&line, decision.status()))
    }

    /// Every policy corpus case through the mapping and the native authorizer decides as the standalone
    /// evaluator does; the wasm host runs the same cases through the filter.
    #[test]
    fn the_mapping_reproduces_every_expressible_corpus_case() {
        let key = key();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/policy-corpus");
        let (mut expressed, mut refused, mut failures) = (0, Vec::new(), Vec::new());
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let file: CorpusFile = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            for case in &file.cases {
                for request in &case.requests {
                    let action = request.action.as_deref().unwrap_or(INVOKE);
                    let label = format!("{}: {} ({})", path.display(), case.name, request.resource);
                    let native =
                        evaluate_standalone(&case.policy, &request.resource, action, &request.context).unwrap();
                    match FilterCase::new(&case.policy, &request.resource, action, &request.context, &key) {
                        Ok(mapped) => {
                            expressed += 1;
                            let answer = decide_natively(&mapped).unwrap_or_else(|err| panic!("{label}: {err}"));
                            let expected = FilterAnswer {
                                decision: native.decision,
                                statements: native.statements.clone(),
                                why: native.why().map(|why| why.to_string()),
                            };
                            if answer != expected {
                                failures.push(format!("{label}: {answer:?} != {expected:?}"));
                            }
                        }
                        Err(ViaRequestError::NotExpressible(why)) => refused.push(format!("{label}: {why}")),
                        Err(err) => failures.push(format!("{label}: {err}")),
                    }
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert!(
            expressed > 4 * refused.len(),
            "{expressed} expressed, {} refused:\n{}",
            refused.len(),
            refused.join("\n")
        );
    }

    #[test]
    fn the_request_carries_the_context() {
        let context = json!({"aws:SourceIp": "2001:db8::1", "aws:UserAgent": "curl/8", "aws:Referer": "https://a.example/",
            "aws:SecureTransport": "false", "aws:CurrentTime": "2025-11-22T08:26:40Z", "aws:username": "alice",
            "claim:cognito:groups": ["a", "b"], "claim:Scope": ["pets/read", "pets/write"], "claim:custom:n": 5});
        let case = FilterCase::new(&allow_all(), RESOURCE, "execute-api:INVOKE", &context, &key()).unwrap();
        assert_eq!(case.now, 1_763_800_000);
        assert_eq!(case.properties, vec![(SOURCE_ADDRESS, b"[2001:db8::1]:53346".to_vec()), (TLS_VERSION, Vec::new())]);
        let names: Vec<&str> = case.headers.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, [":method", ":path", ":authority", ":scheme", "authorization", "user-agent", "referer"]);
        assert_eq!(
            (case.headers[0].1.as_str(), case.headers[1].1.as_str(), case.headers[3].1.as_str()),
            ("GET", "/pets/1", "http")
        );
        let config: Value = serde_json::from_slice(&case.config).unwrap();
        assert_eq!(
            config["api"],
            json!({"region": "us-east-1", "account_id": "123456789012", "api_id": "a1b2c3d4e5", "stage": "dev"})
        );
        assert_eq!(config["policies"]["users"]["alice"], allow_all());
        let payload = case.headers[4].1.split('.').nth(1).unwrap();
        let claims: Value = serde_json::from_slice(
            &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).unwrap(),
        )
        .unwrap();
        assert_eq!(claims["username"], "alice");
        assert_eq!(claims["scope"], "pets/read pets/write");
        assert_eq!(claims["cognito:groups"], json!(["a", "b"]));
        assert_eq!(claims["custom:n"], 5);
        assert_eq!(claims["exp"], 1_763_800_000u64 + TOKEN_LIFETIME);
    }

    #[test]
    fn without_a_user_the_policy_belongs_to_the_client() {
        let case = FilterCase::new(&allow_all(), RESOURCE, INVOKE, &Value::Null, &key()).unwrap();
        let config: Value = serde_json::from_slice(&case.config).unwrap();
        assert_eq!(config["policies"]["clients"][CLIENT_ID], allow_all());
        assert_eq!(case.now, DEFAULT_NOW);
        assert_eq!(case.properties[0], (SOURCE_ADDRESS, Vec::new()));
    }

    #[test]
    fn what_no_request_carries_is_refused() {
        let key = key();
        let case = |resource: &str, action: &str, context: Value| {
            FilterCase::new(&allow_all(), resource, action, &context, &key)
        };
        assert!(why(case(RESOURCE, "execute-api:ManageConnections", Value::Null))
            .contains("never `execute-api:ManageConnections`"));
        assert!(why(case("arn:aws:s3:::bucket/key", INVOKE, Value::Null)).contains("not an execute-api method ARN"));
        let query = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/dev/GET/files/*?$";
        assert!(why(case(query, INVOKE, Value::Null)).contains("is read as"));
        let any = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/dev/ANY/x";
        assert!(why(case(any, INVOKE, Value::Null)).contains("not supported"));
        let account = "arn:aws:execute-api:us-east-1:1234:a1b2c3d4e5/dev/GET/x";
        assert!(why(case(account, INVOKE, Value::Null)).contains("api.account_id"));
        assert!(why(case(RESOURCE, INVOKE, json!({"claim:exp": "1"}))).contains("follow the request time"));
        assert!(why(case(RESOURCE, INVOKE, json!({"claim:a": "1", "claim:A": "2"}))).contains("differ only in case"));
        assert!(why(case(RESOURCE, INVOKE, json!({"claim:cognito:groups": "a"}))).contains("cognito:groups"));
        assert!(why(case(RESOURCE, INVOKE, json!({"aws:username": "a\nb"}))).contains("identity header"));
        assert!(matches!(case(RESOURCE, INVOKE, json!({"k": {}})), Err(ViaRequestError::Context(_))));
    }

    #[test]
    fn keys_the_policy_reads_must_agree_and_others_may_differ() {
        let key = key();
        let reads = |key_name: &str| {
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*",
                "Resource": "execute-api:/*", "Condition": {"Null": {key_name: "false"}}}]})
        };
        let case = |policy: Value, context: Value| FilterCase::new(&policy, RESOURCE, INVOKE, &context, &key);
        // A request always has a time and the token's own claims; the context lacks them.
        assert!(why(case(reads("aws:CurrentTime"), Value::Null)).contains("gives as nothing"));
        assert!(why(case(reads("claim:sub"), Value::Null)).contains("policy-case-subject"));
        assert!(
            why(case(reads("aws:SourceArn"), json!({"aws:SourceArn": "arn:aws:sns:::t"}))).contains("carry as nothing")
        );
        // Spellings the filter writes differently, and values a single header cannot carry.
        assert!(why(case(reads("aws:SourceIp"), json!({"aws:SourceIp": "::ffff:192.0.2.1"}))).contains("`192.0.2.1`"));
        assert!(why(case(reads("aws:CurrentTime"), json!({"aws:CurrentTime": "2025-01-01T00:00:00.5Z"})))
            .contains("aws:CurrentTime"));
        assert!(why(case(reads("aws:UserAgent"), json!({"aws:UserAgent": ["a", "b"]}))).contains("the list"));
        assert!(why(case(reads("claim:scope"), json!({"claim:scope": "a"}))).contains("the list [`a`]"));
        assert!(why(case(reads("claim:username"), json!({"aws:username": "a", "claim:username": "b"}))).contains("`b`"));
        assert!(case(reads("aws:username"), json!({"aws:username": "a", "claim:username": "b"})).is_ok());
        // Keys the policy never reads do not matter, and agreeing keys pass.
        assert!(case(reads("aws:Referer"), json!({"aws:SourceArn": "x", "aws:Referer": "https://r/"})).is_ok());
        assert!(case(reads("aws:EpochTime"), json!({"aws:EpochTime": "1700000000"})).is_ok());
        assert!(case(reads("aws:CurrentTime"), json!({"aws:CurrentTime": "2023-11-14T22:13:20Z"})).is_ok());
    }

    #[test]
    fn answers_read_back_from_the_filter() {
        let key = key();
        let policy = json!([allow_all(), {"Version": "2012-10-17", "Statement": [
            {"Effect": "Deny", "Action": "*", "Resource": "*"}, {"Sid": "x", "Effect": "Deny", "Action": "*", "Resource": "*"}]}]);
        let case = FilterCase::new(&policy, RESOURCE, INVOKE, &json!({"aws:username": "u"}), &key).unwrap();
        let sub = SUBJECT;
        let allowed = format!("`{sub}` allowed by users.u[0].Statement[0] (a, (b))");
        let answer = case.answer(200, b"", Some(&allowed)).unwrap();
        assert_eq!(
            answer.statements.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["policy[0].Statement[0] (a, (b))"]
        );
        let denied = format!("`{sub}` denied on `{RESOURCE}` by users.u[1].Statement[0], users.u[1].Statement[1] (x)");
        let answer = case.answer(403, EXPLICIT_DENY_BODY.as_bytes(), Some(&denied)).unwrap();
        assert_eq!(answer.decision, PolicyDecision::ExplicitDeny);
        assert_eq!(answer.why.as_deref(), Some("denied by policy[1].Statement[0]; policy[1].Statement[1] (x)"));
        let line = format!("authz: 403 GET: no statement allows `{sub}` on `{RESOURCE}`: conditions not met: users.u[0].Statement[0] (a): c");
        let answer = case.answer(403, b"{}", case.reason(&line, 403)).unwrap();
        assert_eq!(answer.why.as_deref(), Some("conditions not met: policy[0].Statement[0] (a): c"));
        // Anything else is an error, never a decision.
        assert!(case.answer(200, b"", Some(&format!("`{sub}` allowed by users.u[0].Statement[0]"))).is_err());
        assert!(case.answer(200, b"", Some(&format!("`{sub}` allowed by users.u[3].Statement[0]"))).is_err());
        assert!(case.answer(401, b"", Some("token has expired")).is_err());
        assert!(case.answer(403, b"", None).is_err());
        assert_eq!(case.reason("authz: 200 POST: x", 200), None);
        let refusal = "authz: configuration refused: policies.users.u[1].Statement[0].Effect: bad";
        assert_eq!(case.refusal(refusal).as_deref(), Some("policy[1].Statement[0].Effect: bad"));
    }
}
