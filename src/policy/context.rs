//! Condition keys: what a request offers to `Condition` blocks and policy variables, looked up lazily so that a
//! request pays only for the keys its candidate statements name.

use super::error::{error, PolicyError};
use super::value::format_iso8601;
use crate::request::HttpRequest;
use crate::token::{scope_words, VerifiedToken};
use serde_json::Value;
use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Token claims are offered under this prefix (`claim:cognito:groups`, `claim:scope`, `claim:custom:team`), so
/// that no claim can pose as a request key such as `aws:SourceIp`.
pub const CLAIM_PREFIX: &str = "claim:";

/// The values of one key in one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Values<'a> {
    One(Cow<'a, str>),
    /// A multi-valued key (never empty: an empty set is reported as an absent key).
    Many(Vec<Cow<'a, str>>),
    /// Present, but in a form no condition value represents faithfully (a claim that is `null`, an object or a
    /// list holding one, two claims answering one key): every test on it is undecided, never skipped.
    Unreadable,
}

impl<'a> Values<'a> {
    /// The values as a slice: one, many, or none for [`Values::Unreadable`].
    pub fn as_slice(&self) -> &[Cow<'a, str>] {
        match self {
            Self::One(value) => std::slice::from_ref(value),
            Self::Many(values) => values,
            Self::Unreadable => &[],
        }
    }
}

/// The keys this authorizer supplies from the request itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    SourceIp,
    CurrentTime,
    EpochTime,
    SecureTransport,
    UserAgent,
    Referer,
    Username,
    /// `claim:<name>`: a claim of the verified token.
    Claim,
    /// Any other key: present only in a standalone context.
    Other,
}

/// A condition key as written, recognised once at load (key names are case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyName {
    written: String,
    lower: String,
    kind: KeyKind,
}

impl KeyName {
    /// Recognises `name`.
    pub fn new(name: &str) -> Self {
        let lower = name.to_ascii_lowercase();
        let kind = match lower.as_str() {
            "aws:sourceip" => KeyKind::SourceIp,
            "aws:currenttime" => KeyKind::CurrentTime,
            "aws:epochtime" => KeyKind::EpochTime,
            "aws:securetransport" => KeyKind::SecureTransport,
            "aws:useragent" => KeyKind::UserAgent,
            "aws:referer" => KeyKind::Referer,
            "aws:username" => KeyKind::Username,
            other if other.starts_with(CLAIM_PREFIX) && other.len() > CLAIM_PREFIX.len() => KeyKind::Claim,
            _ => KeyKind::Other,
        };
        Self { written: name.to_owned(), lower, kind }
    }

    /// The name as written in the policy.
    pub fn as_str(&self) -> &str {
        &self.written
    }

    /// The lower-cased name lookups use.
    pub fn lower(&self) -> &str {
        &self.lower
    }

    /// Which key it is.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The claim name for `claim:` keys, as written.
    pub fn claim(&self) -> Option<&str> {
        match self.kind {
            KeyKind::Claim => self.written.get(CLAIM_PREFIX.len()..),
            _ => None,
        }
    }
}

/// What a request offers to conditions and variables.
pub trait ConditionContext {
    /// The values of `key`, or `None` when the request has no such key.
    fn values(&self, key: &KeyName) -> Option<Values<'_>>;
}

/// A context in which every key is absent.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoContext;

impl ConditionContext for NoContext {
    fn values(&self, _key: &KeyName) -> Option<Values<'_>> {
        None
    }
}

/// A context given as data (the CLI, the corpus, tests): key → one value or a list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MapContext {
    keys: BTreeMap<String, Vec<String>>,
    multi: BTreeMap<String, bool>,
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

impl MapContext {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a single-valued key.
    pub fn with(mut self, key: &str, value: &str) -> Self {
        let lower = key.to_ascii_lowercase();
        self.keys.insert(lower.clone(), vec![value.to_owned()]);
        self.multi.insert(lower, false);
        self
    }

    /// Adds a multi-valued key.
    pub fn with_list(mut self, key: &str, values: &[&str]) -> Self {
        let lower = key.to_ascii_lowercase();
        self.keys.insert(lower.clone(), values.iter().map(|v| (*v).to_owned()).collect());
        self.multi.insert(lower, true);
        self
    }

    /// Reads `{"key": "value" | ["v1", "v2"], ...}` (numbers and booleans are read as their text).
    pub fn from_json(value: &Value, path: &str) -> Result<Self, PolicyError> {
        let mut context = Self::new();
        let object = match value {
            Value::Null => return Ok(context),
            Value::Object(object) => object,
            _ => return Err(error(path, "expected an object of condition keys")),
        };
        for (key, value) in object {
            let key_path = format!("{path}.{key}");
            match value {
                Value::Array(items) => {
                    let items = items
                        .iter()
                        .enumerate()
                        .map(|(index, item)| {
                            scalar(item).ok_or_else(|| error(&format!("{key_path}[{index}]"), "expected a string"))
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    let items: Vec<&str> = items.iter().map(String::as_str).collect();
                    context = context.with_list(key, &items);
                }
                other => {
                    let text =
                        scalar(other).ok_or_else(|| error(&key_path, "expected a string or a list of strings"))?;
                    context = context.with(key, &text);
                }
            }
        }
        Ok(context)
    }
}

impl ConditionContext for MapContext {
    fn values(&self, key: &KeyName) -> Option<Values<'_>> {
        let values = self.keys.get(key.lower())?;
        if self.multi.get(key.lower()) == Some(&true) {
            if values.is_empty() {
                return None;
            }
            return Some(Values::Many(values.iter().map(|v| Cow::Borrowed(v.as_str())).collect()));
        }
        values.first().map(|value| Values::One(Cow::Borrowed(value.as_str())))
    }
}

/// `source_ip` as configured.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSourceIp {
    /// How many proxies in front of this one append to `X-Forwarded-For` and are trusted (Envoy's
    /// `xff_num_trusted_hops`); 0 (default) uses the downstream address.
    pub xff_num_trusted_hops: Option<u32>,
}

/// Where `aws:SourceIp` comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SourceIp {
    pub xff_num_trusted_hops: u8,
}

/// More trusted hops than this is a configuration mistake, not a network.
pub const MAX_TRUSTED_HOPS: u32 = 16;

impl TryFrom<&RawSourceIp> for SourceIp {
    type Error = String;

    fn try_from(raw: &RawSourceIp) -> Result<Self, String> {
        let hops = raw.xff_num_trusted_hops.unwrap_or(0);
        match u8::try_from(hops) {
            Ok(hops) if u32::from(hops) <= MAX_TRUSTED_HOPS => Ok(Self { xff_num_trusted_hops: hops }),
            _ => Err(format!("at most {MAX_TRUSTED_HOPS}")),
        }
    }
}

fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    let entry = entry.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')).unwrap_or(entry);
    entry.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

impl SourceIp {
    /// The client address: the downstream peer, or with N trusted hops the N-th entry from the right of
    /// `X-Forwarded-For` exactly as the filter receives it. `None` (the key is absent) when that entry is missing
    /// or malformed.
    ///
    /// No guess is made about entries the host itself appended: Envoy appends the peer, or its own address for a
    /// loopback peer, depending on its settings, and a guess that is wrong in one of those cases hands the
    /// policy an address the client did not have. Behind Envoy, leave this at 0 and let Envoy's HTTP connection
    /// manager pick the client (`use_remote_address: true` with `xff_num_trusted_hops`): Envoy then reports it as
    /// the downstream address. With `use_remote_address: false` Envoy counts one entry further left, so its hop
    /// count must be one less (see docs/condition-keys.md).
    pub fn client_ip(&self, request: &HttpRequest) -> Option<IpAddr> {
        let hops = usize::from(self.xff_num_trusted_hops);
        if hops == 0 {
            return request.source_ip.map(|ip| ip.to_canonical());
        }
        let chain: Vec<&str> = request.header_values("x-forwarded-for").flat_map(|value| value.split(',')).collect();
        let index = chain.len().checked_sub(hops)?;
        chain.get(index).and_then(|entry| parse_forwarded(entry))
    }
}

/// The keys of one authorized request: the HTTP request, its verified token and the time.
#[derive(Debug)]
pub struct RequestContext<'a> {
    request: &'a HttpRequest,
    token: &'a VerifiedToken,
    now: u64,
    source: SourceIp,
    source_ip: OnceCell<Option<String>>,
    current_time: OnceCell<String>,
}

impl<'a> RequestContext<'a> {
    /// Keys for `request` carrying `token`, decided at unix time `now`.
    pub fn new(request: &'a HttpRequest, token: &'a VerifiedToken, now: u64, source: SourceIp) -> Self {
        Self { request, token, now, source, source_ip: OnceCell::new(), current_time: OnceCell::new() }
    }

    fn header(&self, name: &'static str) -> Option<Cow<'a, str>> {
        let mut values = self.request.header_values(name);
        let first = values.next()?;
        let rest: Vec<&str> = values.collect();
        if rest.is_empty() {
            return Some(Cow::Borrowed(first));
        }
        // Repeated lines are one field (RFC 9110 §5.3), so a second line cannot hide the first from a Deny.
        let mut joined = first.to_owned();
        for value in rest {
            joined.push_str(", ");
            joined.push_str(value);
        }
        Some(Cow::Owned(joined))
    }
}

/// A string, number or boolean as condition text (numbers and booleans as their JSON text).
fn scalar_text(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::String(text) => Some(Cow::Borrowed(text)),
        Value::Number(number) => Some(Cow::Owned(number.to_string())),
        Value::Bool(flag) => Some(Cow::Borrowed(if *flag { "true" } else { "false" })),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// A claim's values, read whole or not at all: a string, number or boolean is one value; an array of those is
/// multi-valued (an empty one is absent); `scope` is its words as [`scope_words`] reads them for the route check.
/// Anything else is [`Values::Unreadable`]: `null`, an object, an array holding `null`, an object or an array,
/// a `scope` that is not RFC 6749 scope tokens. No item is dropped, so a `ForAllValues:` Allow never passes on
/// part of a claim, and a Deny never misses the part it was written for.
pub fn claim_values<'v>(name: &str, value: &'v Value) -> Option<Values<'v>> {
    match value {
        Value::String(text) if name == "scope" => match scope_words(text) {
            None => Some(Values::Unreadable),
            Some(words) if words.is_empty() => None,
            Some(words) => Some(Values::Many(words.into_iter().map(Cow::Borrowed).collect())),
        },
        Value::Array(items) if items.is_empty() => None,
        Value::Array(items) => {
            Some(items.iter().map(scalar_text).collect::<Option<_>>().map_or(Values::Unreadable, Values::Many))
        }
        scalar => Some(scalar_text(scalar).map_or(Values::Unreadable, Values::One)),
    }
}

/// The claim `name` (matched in any ASCII case, as condition keys are) of `claims`. Two claims that both answer
/// the key are unreadable rather than one of them picked, and so is a claim that spells `scope` in another case:
/// `claim:scope` must read the claim the route check reads, or none.
pub fn claim<'v>(claims: &'v serde_json::Map<String, Value>, name: &str) -> Option<Values<'v>> {
    let mut matching = claims.iter().filter(|(claim, _)| claim.eq_ignore_ascii_case(name));
    let (claim, value) = matching.next()?;
    if matching.next().is_some() || (claim != "scope" && claim.eq_ignore_ascii_case("scope")) {
        return Some(Values::Unreadable);
    }
    claim_values(claim, value)
}

impl ConditionContext for RequestContext<'_> {
    fn values(&self, key: &KeyName) -> Option<Values<'_>> {
        fn one(value: Cow<'_, str>) -> Option<Values<'_>> {
            Some(Values::One(value))
        }
        match key.kind() {
            KeyKind::SourceIp => {
                let ip = self.source_ip.get_or_init(|| self.source.client_ip(self.request).map(|ip| ip.to_string()));
                ip.as_deref().and_then(|ip| one(Cow::Borrowed(ip)))
            }
            KeyKind::CurrentTime => one(Cow::Borrowed(self.current_time.get_or_init(|| format_iso8601(self.now)))),
            KeyKind::EpochTime => one(Cow::Owned(self.now.to_string())),
            KeyKind::SecureTransport => self
                .request
                .secure_transport
                .and_then(|secure| one(Cow::Borrowed(if secure { "true" } else { "false" }))),
            KeyKind::UserAgent => self.header("user-agent").map(Values::One),
            KeyKind::Referer => self.header("referer").map(Values::One),
            KeyKind::Username => self.token.username().and_then(|name| one(Cow::Borrowed(name))),
            KeyKind::Claim => claim(self.token.claims(), key.claim()?),
            KeyKind::Other => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn request(xff: &[&str], peer: &str) -> HttpRequest {
        HttpRequest {
            method: "GET".into(),
            path: "/".into(),
            headers: xff.iter().map(|v| ("X-Forwarded-For".to_owned(), (*v).to_owned())).collect(),
            source_ip: Some(peer.parse().unwrap()),
            secure_transport: Some(true),
        }
    }

    #[test]
    fn source_ip_with_trusted_hops() {
        let none = SourceIp::default();
        let one = SourceIp { xff_num_trusted_hops: 1 };
        let two = SourceIp { xff_num_trusted_hops: 2 };
        let req = request(&["203.0.113.7, 198.51.100.1"], "10.0.0.5");
        assert_eq!(none.client_ip(&req), Some("10.0.0.5".parse().unwrap()));
        assert_eq!(one.client_ip(&req), Some("198.51.100.1".parse().unwrap()));
        assert_eq!(two.client_ip(&req), Some("203.0.113.7".parse().unwrap()));
        assert_eq!(SourceIp { xff_num_trusted_hops: 3 }.client_ip(&req), None);
        // Entries the host appended are counted like any other: no guessing which ones they were.
        let appended = request(&["203.0.113.7", "198.51.100.1, 10.0.0.5"], "10.0.0.5");
        assert_eq!(one.client_ip(&appended), Some("10.0.0.5".parse().unwrap()));
        assert_eq!(two.client_ip(&appended), Some("198.51.100.1".parse().unwrap()));
        let envoy_local = request(&["203.0.113.7,192.0.2.2"], "127.0.0.1");
        assert_eq!(two.client_ip(&envoy_local), Some("203.0.113.7".parse().unwrap()));
        assert_eq!(one.client_ip(&request(&["junk"], "10.0.0.5")), None);
        assert_eq!(one.client_ip(&request(&[], "10.0.0.5")), None);
        assert_eq!(none.client_ip(&request(&[], "::ffff:192.0.2.1")), Some("192.0.2.1".parse().unwrap()));
        assert!(SourceIp::try_from(&RawSourceIp { xff_num_trusted_hops: Some(17) }).is_err());
    }

    #[test]
    fn map_context_is_case_insensitive_and_empty_lists_are_absent() {
        let context = MapContext::from_json(
            &serde_json::json!({"aws:SourceIp": "192.0.2.1", "claim:cognito:groups": ["a", "b"], "n": 3, "e": []}),
            "context",
        )
        .unwrap();
        assert_eq!(context.values(&KeyName::new("AWS:SOURCEIP")), Some(Values::One("192.0.2.1".into())));
        assert_eq!(
            context.values(&KeyName::new("claim:Cognito:Groups")),
            Some(Values::Many(vec!["a".into(), "b".into()]))
        );
        assert_eq!(context.values(&KeyName::new("n")), Some(Values::One("3".into())));
        assert_eq!(context.values(&KeyName::new("e")), None);
        assert!(MapContext::from_json(&serde_json::json!({"k": {"x": 1}}), "context").is_err());
    }

    #[test]
    fn claims_scope_is_split_and_lists_are_multi_valued() {
        let scope = serde_json::json!("openid  pets/read");
        assert_eq!(claim_values("scope", &scope), Some(Values::Many(vec!["openid".into(), "pets/read".into()])));
        assert_eq!(claim_values("custom:n", &serde_json::json!(5)), Some(Values::One("5".into())));
        assert_eq!(claim_values("x", &serde_json::json!([])), None);
        assert_eq!(claim_values("scope", &serde_json::json!(" ")), None);
    }

    /// Item 4 of issue 13: a claim is read whole or not at all.
    #[test]
    fn claims_that_no_condition_value_represents_are_unreadable() {
        use serde_json::json;
        for value in [
            json!(null),
            json!({"a": 1}),
            json!(["ok", {"a": 1}]),
            json!(["ok", null]),
            json!(["ok", ["evil"]]),
            json!([[]]),
        ] {
            assert_eq!(claim_values("custom:x", &value), Some(Values::Unreadable), "{value}");
        }
        assert_eq!(
            claim_values("custom:x", &json!(["ok", 2, false])),
            Some(Values::Many(vec!["ok".into(), "2".into(), "false".into()]))
        );
        for scope in ["a\tb", "a\u{3000}b", "caf\u{e9}"] {
            assert_eq!(claim_values("scope", &json!(scope)), Some(Values::Unreadable), "{}", scope.escape_debug());
        }
        // A non-string `scope` is no scope words either (the token rules refuse it before any policy runs).
        assert_eq!(claim_values("scope", &json!(["a"])), Some(Values::Many(vec!["a".into()])));

        let claims = |value: serde_json::Value| value.as_object().unwrap().clone();
        let one = claims(json!({"custom:Tier": "gold"}));
        assert_eq!(claim(&one, "custom:tier"), Some(Values::One("gold".into())));
        assert_eq!(claim(&one, "custom:other"), None);
        let two = claims(json!({"custom:tier": "gold", "custom:TIER": "free"}));
        assert_eq!(claim(&two, "custom:tier"), Some(Values::Unreadable));
        assert_eq!(claim(&two, "Custom:Tier"), Some(Values::Unreadable));
        let posing = claims(json!({"Scope": "admin"}));
        assert_eq!(claim(&posing, "scope"), Some(Values::Unreadable));
        let scope = claims(json!({"scope": "a b"}));
        assert_eq!(claim(&scope, "SCOPE"), Some(Values::Many(vec!["a".into(), "b".into()])));
    }
}
