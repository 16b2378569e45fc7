//! Keys fetched from the identity provider (`remote_jwks`): the setting, the fetched document's checks, and when
//! to fetch. Pure: the adapter does the HTTP call and keeps the time; everything here takes `now`.
//!
//! Fetched keys pass the checks pushed keys pass (`VerifyingKey::try_from`: size, `use`, `key_ops`, `alg`;
//! duplicate `kid`s; duplicate member names through `json::check_unique_names`), and a fetched set that fails any
//! of them is refused whole: the last good set stays in service. When to fetch follows aws-jwt-verify: at start,
//! every `refresh_seconds`, and once more for a token naming an unknown `kid`, after which a penalty period passes
//! before another such fetch, so a flood of made-up `kid`s costs one fetch per period.

use super::keys::{KeySet, RawJwks, VerifyingKey};
use serde::Deserialize;

/// Refresh period when `refresh_seconds` is absent: an hour, as Cognito rotates keys rarely and a token with a new
/// `kid` triggers a fetch anyway.
const DEFAULT_REFRESH_SECONDS: u64 = 3600;
const MIN_REFRESH_SECONDS: u64 = 10;
const MAX_REFRESH_SECONDS: u64 = 86_400;
const DEFAULT_TIMEOUT_MS: u32 = 2000;
const MAX_TIMEOUT_MS: u32 = 60_000;
/// After a fetch for an unknown `kid`, no other such fetch for this long (aws-jwt-verify's `SimplePenaltyBox`
/// waits 10 seconds).
pub const UNKNOWN_KID_PENALTY_SECONDS: u64 = 10;
/// After a failed fetch, the next attempt waits this long (the last good keys serve meanwhile).
pub const RETRY_SECONDS: u64 = 5;
/// Largest JWKS document accepted: Cognito's hold two RSA keys in about 1 KB.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;
/// Most keys one fetched set may hold.
const MAX_FETCHED_KEYS: usize = 64;

/// `remote_jwks` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRemoteJwks {
    /// The Envoy cluster the filter calls.
    pub cluster: String,
    /// The JWKS URL: its authority and path become `:authority` and `:path`.
    pub uri: String,
    pub refresh_seconds: Option<u64>,
    pub timeout_ms: Option<u32>,
}

/// Where and how often an issuer's keys are fetched, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteJwks {
    /// The host's name for the upstream (an Envoy cluster).
    pub cluster: String,
    /// `:authority` of the request.
    pub authority: String,
    /// `:path` of the request.
    pub path: String,
    pub refresh_seconds: u64,
    pub timeout_ms: u32,
}

impl RemoteJwks {
    /// The shared-data key under which every VM of one host finds this source's keys and fetch state.
    pub fn shared_key(&self) -> String {
        format!("authz.jwks|{}|{}{}", self.cluster, self.authority, self.path)
    }
}

/// Why `remote_jwks` was refused; the loader adds the path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoteJwksError {
    #[error("`{0}` is not a cluster name (printable ASCII, no spaces)")]
    Cluster(String),
    #[error("`{0}` is not an http(s) URL with a host, a path and no user, query or fragment")]
    Uri(String),
    #[error("must be between {MIN_REFRESH_SECONDS} and {MAX_REFRESH_SECONDS}")]
    Refresh,
    #[error("must be between 1 and {MAX_TIMEOUT_MS}")]
    Timeout,
}

impl RemoteJwksError {
    /// The member of `remote_jwks` at fault.
    pub fn field(&self) -> &'static str {
        match self {
            Self::Cluster(_) => "cluster",
            Self::Uri(_) => "uri",
            Self::Refresh => "refresh_seconds",
            Self::Timeout => "timeout_ms",
        }
    }
}

/// A cluster name, authority or path byte: printable ASCII without space.
fn plain(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| b.is_ascii_graphic())
}

impl TryFrom<&RawRemoteJwks> for RemoteJwks {
    type Error = RemoteJwksError;

    fn try_from(raw: &RawRemoteJwks) -> Result<Self, RemoteJwksError> {
        if !plain(&raw.cluster) {
            return Err(RemoteJwksError::Cluster(raw.cluster.clone()));
        }
        let bad_uri = || RemoteJwksError::Uri(raw.uri.clone());
        // The scheme says nothing to the host: the cluster's transport decides whether the call uses TLS.
        let rest = raw.uri.strip_prefix("https://").or_else(|| raw.uri.strip_prefix("http://")).ok_or_else(bad_uri)?;
        let (authority, path) = rest.find('/').map(|at| rest.split_at(at)).ok_or_else(bad_uri)?;
        if !plain(authority) || !plain(path) || authority.contains('@') || raw.uri.contains(['?', '#']) {
            return Err(bad_uri());
        }
        let refresh_seconds = raw.refresh_seconds.unwrap_or(DEFAULT_REFRESH_SECONDS);
        if !(MIN_REFRESH_SECONDS..=MAX_REFRESH_SECONDS).contains(&refresh_seconds) {
            return Err(RemoteJwksError::Refresh);
        }
        let timeout_ms = raw.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
        if !(1..=MAX_TIMEOUT_MS).contains(&timeout_ms) {
            return Err(RemoteJwksError::Timeout);
        }
        Ok(Self {
            cluster: raw.cluster.clone(),
            authority: authority.to_owned(),
            path: path.to_owned(),
            refresh_seconds,
            timeout_ms,
        })
    }
}

/// Why a fetched JWKS was refused (the keys in service stay).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("the identity provider answered status {0}")]
    Status(u32),
    #[error("the call failed: {0}")]
    Call(String),
    #[error("the JWKS is {len} bytes, over {MAX_JWKS_BYTES}")]
    TooLarge { len: usize },
    #[error("the JWKS is not valid JSON: {0}")]
    Json(String),
    #[error("duplicate member name `{name}` at `{path}`")]
    Duplicate { path: String, name: String },
    #[error("{path}: {message}")]
    Key { path: String, message: String },
    #[error("the JWKS holds no key")]
    Empty,
    #[error("the JWKS holds {0} keys, over {MAX_FETCHED_KEYS}")]
    TooMany(usize),
}

/// A fetched JWKS document, read as strictly as the configuration: the key set, or why the whole set is refused.
pub fn parse_fetched_jwks(bytes: &[u8]) -> Result<KeySet, FetchError> {
    if bytes.len() > MAX_JWKS_BYTES {
        return Err(FetchError::TooLarge { len: bytes.len() });
    }
    match crate::json::check_unique_names(bytes) {
        Ok(()) => {}
        Err(crate::json::NameCheckError::Duplicate(duplicate)) => {
            return Err(FetchError::Duplicate { path: duplicate.path, name: duplicate.name })
        }
        Err(crate::json::NameCheckError::Syntax(err)) => return Err(FetchError::Json(err.to_string())),
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let raw = <RawJwks as serde::Deserialize>::deserialize(&mut de)
        .map_err(|err| FetchError::Json(crate::json::describe(bytes, &err)))?;
    de.end().map_err(|err| FetchError::Json(err.to_string()))?;
    if raw.keys.is_empty() {
        return Err(FetchError::Empty);
    }
    if raw.keys.len() > MAX_FETCHED_KEYS {
        return Err(FetchError::TooMany(raw.keys.len()));
    }
    let mut keys = KeySet::default();
    for (index, jwk) in raw.keys.iter().enumerate() {
        let path = format!("keys[{index}]");
        let key = VerifyingKey::try_from(jwk)
            .map_err(|err| FetchError::Key { path: path.clone(), message: err.to_string() })?;
        keys.insert(key).map_err(|kid| FetchError::Key {
            path: format!("{path}.kid"),
            message: format!("duplicate kid `{kid}`"),
        })?;
    }
    Ok(keys)
}

/// Why a fetch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchWhy {
    /// No keys were ever fetched.
    First,
    /// `refresh_seconds` passed since the last good fetch.
    Refresh,
    /// The last attempt failed and `RETRY_SECONDS` passed.
    Retry,
    /// A token named a `kid` the keys lack, and no penalty period is running.
    UnknownKid,
}

impl FetchWhy {
    /// As logs and counters name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::First => "first",
            Self::Refresh => "refresh",
            Self::Retry => "retry",
            Self::UnknownKid => "unknown_kid",
        }
    }
}

/// What every VM of one host knows about one key source: kept in the host's shared data beside the last good
/// document, and changed only by compare-and-swap, so one VM fetches for all of them. Times are unix seconds; 0
/// is never.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FetchRecord {
    /// Counts good fetches; a VM whose keys are of an older generation reloads them.
    pub generation: u64,
    /// The last good fetch.
    pub fetched_at: u64,
    /// The last fetch started, good or not.
    pub attempt_at: u64,
    /// The last fetch started for an unknown `kid`: the penalty period runs from here.
    pub kid_fetch_at: u64,
    /// A fetch is under way until then (the VM that claimed it holds the lease).
    pub lease_until: u64,
    /// Whether the last fetch that ended failed.
    pub failed: bool,
}

/// The record's first line begins with this; a record in another format is treated as absent.
const RECORD_MAGIC: &str = "authz-jwks-1";

impl FetchRecord {
    /// Whether some VM is fetching at `now`.
    pub fn fetching(&self, now: u64) -> bool {
        now < self.lease_until
    }

    /// Whether a token with an unknown `kid` may cause a fetch at `now`: no penalty period is running.
    pub fn kid_fetch_allowed(&self, now: u64) -> bool {
        self.kid_fetch_at == 0 || now >= self.kid_fetch_at.saturating_add(UNKNOWN_KID_PENALTY_SECONDS)
    }

    /// Whether a fetch should start at `now`, and why; `kid_wanted` when a token named an unknown `kid`. Never
    /// while another is under way.
    pub fn due(&self, now: u64, refresh_seconds: u64, kid_wanted: bool) -> Option<FetchWhy> {
        if self.fetching(now) {
            return None;
        }
        let retry_passed = self.attempt_at == 0 || now >= self.attempt_at.saturating_add(RETRY_SECONDS);
        if self.fetched_at == 0 {
            return retry_passed.then_some(if self.attempt_at == 0 { FetchWhy::First } else { FetchWhy::Retry });
        }
        if kid_wanted && self.kid_fetch_allowed(now) {
            return Some(FetchWhy::UnknownKid);
        }
        if now >= self.fetched_at.saturating_add(refresh_seconds) && retry_passed {
            return Some(if self.failed { FetchWhy::Retry } else { FetchWhy::Refresh });
        }
        None
    }

    /// The record once a VM claims a fetch at `now` that may take `timeout_ms`.
    pub fn claimed(&self, now: u64, why: FetchWhy, timeout_ms: u32) -> Self {
        // Whole seconds, rounded up, and one more: the host's own timeout ends the call before the lease ends.
        let lease = u64::from(timeout_ms).div_ceil(1000).saturating_add(1);
        Self {
            attempt_at: now,
            kid_fetch_at: if why == FetchWhy::UnknownKid { now } else { self.kid_fetch_at },
            lease_until: now.saturating_add(lease),
            ..*self
        }
    }

    /// The record after a good fetch at `now`: a new generation, the lease released.
    pub fn succeeded(&self, now: u64) -> Self {
        Self { generation: self.generation.wrapping_add(1), fetched_at: now, lease_until: 0, failed: false, ..*self }
    }

    /// The record after a failed fetch: the lease released, the last good document kept.
    pub fn failed(&self) -> Self {
        Self { lease_until: 0, failed: true, ..*self }
    }

    /// The shared-data value: this record on one line, then the last good document.
    pub fn encode(&self, document: &[u8]) -> Vec<u8> {
        let head = format!(
            "{RECORD_MAGIC} {} {} {} {} {} {}\n",
            self.generation,
            self.fetched_at,
            self.attempt_at,
            self.kid_fetch_at,
            self.lease_until,
            u8::from(self.failed)
        );
        let mut value = head.into_bytes();
        value.extend_from_slice(document);
        value
    }

    /// A shared-data value read back: the record and the document; `None` for anything else.
    pub fn decode(value: &[u8]) -> Option<(Self, &[u8])> {
        let end = value.iter().position(|&b| b == b'\n')?;
        let (head, document) = (value.get(..end)?, value.get(end + 1..)?);
        let mut words = std::str::from_utf8(head).ok()?.split(' ');
        if words.next()? != RECORD_MAGIC {
            return None;
        }
        let mut number = || words.next()?.parse::<u64>().ok();
        let record = Self {
            generation: number()?,
            fetched_at: number()?,
            attempt_at: number()?,
            kid_fetch_at: number()?,
            lease_until: number()?,
            failed: number()? != 0,
        };
        Some((record, document))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;
    use authz_testkit::mint::DevKey;

    fn raw(uri: &str) -> RawRemoteJwks {
        RawRemoteJwks { cluster: "cognito".into(), uri: uri.into(), refresh_seconds: None, timeout_ms: None }
    }

    #[test]
    fn the_uri_gives_authority_and_path() {
        let remote = RemoteJwks::try_from(&raw(
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example/.well-known/jwks.json",
        ))
        .unwrap();
        assert_eq!(remote.authority, "cognito-idp.us-east-1.amazonaws.com");
        assert_eq!(remote.path, "/us-east-1_Example/.well-known/jwks.json");
        assert_eq!((remote.refresh_seconds, remote.timeout_ms), (3600, 2000));
        assert_eq!(
            RemoteJwks::try_from(&raw("http://127.0.0.1:5000/p/jwks.json")).unwrap().authority,
            "127.0.0.1:5000"
        );
        for bad in [
            "cognito-idp.amazonaws.com/x",
            "https://host",
            "https:///path",
            "https://user@host/path",
            "https://host/path?x=1",
            "https://host/path#f",
            "https://host/pa th",
            "ftp://host/path",
        ] {
            assert_eq!(RemoteJwks::try_from(&raw(bad)).unwrap_err().field(), "uri", "{bad}");
        }
        let mut bad = raw("https://h/p");
        bad.cluster = "two words".into();
        assert_eq!(RemoteJwks::try_from(&bad).unwrap_err().field(), "cluster");
        for (refresh, ok) in [(9, false), (10, true), (86_400, true), (86_401, false)] {
            let mut r = raw("https://h/p");
            r.refresh_seconds = Some(refresh);
            assert_eq!(RemoteJwks::try_from(&r).is_ok(), ok, "{refresh}");
        }
        for (timeout, ok) in [(0, false), (1, true), (60_000, true), (60_001, false)] {
            let mut r = raw("https://h/p");
            r.timeout_ms = Some(timeout);
            assert_eq!(RemoteJwks::try_from(&r).is_ok(), ok, "{timeout}");
        }
    }

    fn jwks(keys: &[serde_json::Value]) -> Vec<u8> {
        serde_json::json!({ "keys": keys }).to_string().into_bytes()
    }

    #[test]
    fn fetched_keys_pass_the_checks_pushed_keys_pass() {
        let a = DevKey::generate_es256("a").unwrap().public_jwk();
        let b = DevKey::generate_es256("b").unwrap().public_jwk();
        let set = parse_fetched_jwks(&jwks(&[a.clone(), b.clone()])).unwrap();
        assert_eq!(set.len(), 2);
        assert!(set.get("a").is_some() && set.get("b").is_some());

        let refused = |bytes: &[u8]| parse_fetched_jwks(bytes).unwrap_err();
        assert!(
            matches!(refused(&jwks(&[a.clone(), a.clone()])), FetchError::Key { path, .. } if path == "keys[1].kid")
        );
        let mut enc = a.clone();
        enc["use"] = "enc".into();
        assert!(matches!(refused(&jwks(&[enc])), FetchError::Key { path, .. } if path == "keys[0]"));
        let mut no_alg = a.clone();
        no_alg.as_object_mut().unwrap().remove("alg");
        assert!(matches!(refused(&jwks(&[no_alg])), FetchError::Key { .. }));
        let mut extra = a.clone();
        extra["extra"] = 1.into();
        assert!(matches!(refused(&jwks(&[extra])), FetchError::Json(_)));
        assert_eq!(refused(&jwks(&[])), FetchError::Empty);
        assert!(matches!(refused(b"{\"keys\": []"), FetchError::Json(_)));
        assert!(matches!(refused(b"{\"keys\": [] } x"), FetchError::Json(_)));
        // A duplicate member inside a key: serde would keep the last copy.
        let text = a.to_string();
        let twice = text.replacen('{', r#"{"alg":"RS256","#, 1);
        assert!(
            matches!(refused(format!("{{\"keys\":[{twice}]}}").as_bytes()), FetchError::Duplicate { name, .. } if name == "alg")
        );
        assert!(matches!(refused(&vec![b' '; MAX_JWKS_BYTES + 1]), FetchError::TooLarge { .. }));
        let many: Vec<_> = (0..=MAX_FETCHED_KEYS)
            .map(|i| {
                let mut k = a.clone();
                k["kid"] = format!("k{i}").into();
                k
            })
            .collect();
        assert_eq!(refused(&jwks(&many)), FetchError::TooMany(MAX_FETCHED_KEYS + 1));
        // A weak RSA key is refused as it is in configuration.
        let weak = serde_json::json!({"kty": "RSA", "kid": "w", "alg": "RS256", "n": "3Q", "e": "AQAB"});
        assert!(matches!(refused(&jwks(&[weak, b])), FetchError::Key { path, .. } if path == "keys[0]"));
    }

    #[test]
    fn first_fetch_then_refresh_then_retry_after_failure() {
        let fresh = FetchRecord::default();
        assert_eq!(fresh.due(1000, 60, false), Some(FetchWhy::First));
        let claimed = fresh.claimed(1000, FetchWhy::First, 2000);
        assert_eq!(claimed.lease_until, 1003);
        // Nobody else starts while the lease runs, whatever they want.
        assert_eq!(claimed.due(1001, 60, true), None);
        assert_eq!(claimed.due(1002, 60, false), None);
        // A failed first fetch is retried after RETRY_SECONDS, not before.
        let failed = claimed.failed();
        assert_eq!(failed.due(1001, 60, false), None);
        assert_eq!(failed.due(1000 + RETRY_SECONDS, 60, false), Some(FetchWhy::Retry));
        // A lease whose holder vanished ends by itself.
        assert_eq!(claimed.due(1003 + RETRY_SECONDS, 60, false), Some(FetchWhy::Retry));
        let good = failed.claimed(1005, FetchWhy::Retry, 2000).succeeded(1006);
        assert_eq!((good.generation, good.fetched_at, good.lease_until, good.failed), (1, 1006, 0, false));
        assert_eq!(good.due(1065, 60, false), None);
        assert_eq!(good.due(1066, 60, false), Some(FetchWhy::Refresh));
        // A failed refresh keeps the generation (the last good keys) and retries.
        let refresh_failed = good.claimed(1066, FetchWhy::Refresh, 2000).failed();
        assert_eq!(refresh_failed.generation, 1);
        assert_eq!(refresh_failed.due(1070, 60, false), None);
        assert_eq!(refresh_failed.due(1071, 60, false), Some(FetchWhy::Retry));
    }

    #[test]
    fn an_unknown_kid_fetches_once_per_penalty_period() {
        let good = FetchRecord::default().claimed(100, FetchWhy::First, 1000).succeeded(100);
        assert_eq!(good.due(101, 3600, true), Some(FetchWhy::UnknownKid));
        let after = good.claimed(101, FetchWhy::UnknownKid, 1000).succeeded(101);
        assert_eq!(after.kid_fetch_at, 101);
        // A flood of made-up kids during the penalty costs nothing more.
        let fetches =
            (101..101 + UNKNOWN_KID_PENALTY_SECONDS).filter(|&now| after.due(now, 3600, true).is_some()).count();
        assert_eq!(fetches, 0);
        assert!(!after.kid_fetch_allowed(110));
        assert!(after.kid_fetch_allowed(111));
        assert_eq!(after.due(111, 3600, true), Some(FetchWhy::UnknownKid));
        // Before the first keys, an unknown kid is just the first fetch.
        assert_eq!(FetchRecord::default().due(5, 3600, true), Some(FetchWhy::First));
    }

    #[test]
    fn records_round_trip_and_refuse_other_text() {
        let record = FetchRecord {
            generation: 3,
            fetched_at: 10,
            attempt_at: 11,
            kid_fetch_at: 9,
            lease_until: 14,
            failed: true,
        };
        let value = record.encode(b"{\"keys\":[]}\n");
        assert_eq!(FetchRecord::decode(&value), Some((record, &b"{\"keys\":[]}\n"[..])));
        for bad in [
            &b""[..],
            b"authz-jwks-1 1 2 3 4 5 0",
            b"authz-jwks-2 1 2 3 4 5 0\n{}",
            b"authz-jwks-1 1 2 x 4 5 0\n",
            b"authz-jwks-1 1 2 3 4\n",
        ] {
            assert_eq!(FetchRecord::decode(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    const ISS: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_R";

    fn remote_config(pushed: Option<&DevKey>) -> String {
        let mut issuer = serde_json::json!({
            "issuer": ISS, "token_use": ["access"], "client_ids": ["app"],
            "remote_jwks": {"cluster": "idp", "uri": "https://idp.example/p/jwks.json", "refresh_seconds": 60},
        });
        if let Some(key) = pushed {
            issuer["jwks"] = key.jwks();
        }
        serde_json::json!({
            "api": {"region": "us-east-1", "account_id": "123456789012", "api_id": "a1b2c3d4e5", "stage": "dev"},
            "issuers": [issuer],
        })
        .to_string()
    }

    fn bearer(token: &str) -> crate::HttpRequest {
        crate::HttpRequest {
            method: "GET".into(),
            path: "/x".into(),
            headers: vec![("authorization".into(), format!("Bearer {token}"))],
            ..Default::default()
        }
    }

    #[test]
    fn fetched_keys_replace_the_set_at_once_and_forget_verified_tokens() {
        use crate::decision::Code;
        use authz_testkit::mint::CognitoClaims as Claims;
        let now = 1_800_000_000;
        let authorizer = crate::Authorizer::from_json(remote_config(None).as_bytes()).unwrap();
        let issuer = &authorizer.config().verifier().issuers()[0];
        assert_eq!(issuer.remote().unwrap().path, "/p/jwks.json");
        assert!(issuer.keys().is_empty() && issuer.fetched_keys().is_empty());
        let old = DevKey::generate_es256("old").unwrap();
        let new = DevKey::generate_es256("new").unwrap();
        let token = old.sign(&Claims::access(ISS, "app", "u", now).to_json());
        // Before any fetch: refused for its key, and the verdict names the issuer to fetch for.
        let request = bearer(&token);
        let verdict = authorizer.decide(&request, now);
        assert_eq!((verdict.code(), verdict.unknown_key_issuer()), (Code::TokenUnknownKey, Some(ISS)));
        drop(verdict);
        let set = parse_fetched_jwks(&serde_json::to_vec(&old.jwks()).unwrap()).unwrap();
        assert!(authorizer.replace_fetched_keys(0, set));
        assert!(!authorizer.replace_fetched_keys(1, KeySet::default()));
        let verdict = authorizer.decide(&request, now);
        assert_eq!((verdict.code(), verdict.unknown_key_issuer()), (Code::Allowed, None));
        drop(verdict);
        // Rotation: the old key is gone from the pool, so its token, cached as verified a moment ago, is refused.
        let set = parse_fetched_jwks(&serde_json::to_vec(&new.jwks()).unwrap()).unwrap();
        assert!(authorizer.replace_fetched_keys(0, set));
        assert_eq!(authorizer.decide(&request, now).code(), Code::TokenUnknownKey);
        let request = bearer(&new.sign(&Claims::access(ISS, "app", "u", now).to_json()));
        assert_eq!(authorizer.decide(&request, now).code(), Code::Allowed);
    }

    #[test]
    fn a_pushed_key_wins_over_a_fetched_key_of_the_same_kid() {
        use crate::decision::Code;
        use authz_testkit::mint::CognitoClaims as Claims;
        let now = 1_800_000_000;
        let pushed = DevKey::generate_es256("k").unwrap();
        let impostor = DevKey::generate_es256("k").unwrap();
        let authorizer = crate::Authorizer::from_json(remote_config(Some(&pushed)).as_bytes()).unwrap();
        let set = parse_fetched_jwks(&serde_json::to_vec(&impostor.jwks()).unwrap()).unwrap();
        assert!(authorizer.replace_fetched_keys(0, set));
        let by = |key: &DevKey| {
            authorizer.decide(&bearer(&key.sign(&Claims::access(ISS, "app", "u", now).to_json())), now).code()
        };
        assert_eq!(by(&pushed), Code::Allowed);
        assert_eq!(by(&impostor), Code::TokenSignature);
    }

    #[test]
    fn the_shared_key_names_cluster_and_url() {
        let remote = RemoteJwks::try_from(&raw("https://h.example/p/jwks.json")).unwrap();
        assert_eq!(remote.shared_key(), "authz.jwks|cognito|h.example/p/jwks.json");
    }
}
