//! Scenario corpora (`policies/scenarios/*.json`): a configuration, keys to mint, and requests with the
//! answer expected. Every host (native core, wasmtime filter, CLI, real Envoy) runs the same files through this
//! loader, so they are compared on identical inputs. Native only.

use crate::mint::{CognitoClaims, DevKey, MintError, Tamper};
use authz::token::JwsAlg;
use authz::HttpRequest;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A corpus file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub description: String,
    /// Unix seconds the requests are decided at.
    pub now: u64,
    /// Keys to mint; `"$jwk:<kid>"` strings in `config` become their public JWKs.
    pub keys: Vec<RawKey>,
    pub config: Value,
    pub cases: Vec<RawCase>,
}

/// A key to mint.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKey {
    pub kid: String,
    #[serde(default = "default_alg")]
    pub alg: String,
}

fn default_alg() -> String {
    "RS256".to_owned()
}

/// One request and its expected answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCase {
    pub name: String,
    pub method: String,
    pub path: String,
    /// Extra request headers; `{token}` in a value is replaced by the minted token.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The token to mint; none means no `authorization` header unless `authorization` is given.
    pub token: Option<RawToken>,
    /// The authorization header value; `{token}` is replaced by the minted token. Default `Bearer {token}`.
    pub authorization: Option<String>,
    pub source_ip: Option<String>,
    pub expect: Expect,
}

/// A Cognito-shaped token to mint for a case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawToken {
    pub key: String,
    /// `access` (default), `id` or `client_credentials`.
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    /// Default for access tokens: Cognito's `aws.cognito.signin.user.admin`.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Default: the first configured issuer.
    pub issuer: Option<String>,
    /// Default: the first client id of that issuer.
    pub client_id: Option<String>,
    /// Seconds relative to `now`.
    #[serde(default)]
    pub iat_offset: i64,
    #[serde(default = "default_lifetime")]
    pub exp_offset: i64,
    /// Adds an `nbf` claim this many seconds from `now`.
    pub nbf_offset: Option<i64>,
    /// Claims merged over the minted ones (`null` removes a claim).
    #[serde(default)]
    pub claims: Map<String, Value>,
    /// Header members merged over `{kid, alg}` (`null` removes one; `"$jwk:<kid>"` becomes that public JWK).
    #[serde(default)]
    pub header: Map<String, Value>,
    /// Exact header text instead of the minted JSON (`{kid}` and `{alg}` are filled in), for duplicate members
    /// and other bytes a JSON value cannot hold.
    #[serde(default)]
    pub header_raw: Option<String>,
    /// Exact payload text instead of the minted claims (`{iss}`, `{client_id}`, `{iat}`, `{exp}` are filled in).
    #[serde(default)]
    pub payload_raw: Option<String>,
    /// Raw JSON members written at the end of the claims object, e.g. `"token_use":"id"` to duplicate one.
    #[serde(default)]
    pub claims_raw: Option<String>,
    /// Ways to spoil the token, applied in order (names of [`crate::mint::Tamper`] in snake case).
    #[serde(default)]
    pub tamper: Vec<String>,
}

fn default_lifetime() -> i64 {
    3600
}

/// What a host must answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub status: u16,
    /// Headers an allowed request carries upstream, exactly (identity headers only).
    #[serde(default)]
    pub upstream: Option<BTreeMap<String, String>>,
    /// A substring of the logged reason.
    #[serde(default)]
    pub reason: Option<String>,
    /// The reason's code (`token_expired`, `no_route`, ...), exactly.
    #[serde(default)]
    pub code: Option<String>,
}

/// The `.json` files directly in `dir`, sorted. No file at all is an error, so that a corpus folder that moved
/// or emptied fails the tests that run it instead of letting them pass on nothing.
pub fn json_files(dir: &std::path::Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "json") {
            files.push(path);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(std::io::Error::new(std::io::ErrorKind::NotFound, format!("no .json file in {}", dir.display())));
    }
    Ok(files)
}

/// A loaded corpus with its keys minted.
pub struct Scenario {
    pub description: String,
    pub now: u64,
    /// The configuration with the minted public keys in place.
    pub config: Value,
    pub cases: Vec<Case>,
    pub keys: BTreeMap<String, DevKey>,
}

/// One ready request.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub request: HttpRequest,
    pub expect: Expect,
}

/// Why a corpus could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("corpus is not valid: {0}")]
    Parse(#[from] serde_json::Error),
    #[error("case `{case}`: {message}")]
    Case { case: String, message: String },
    #[error(transparent)]
    Mint(#[from] MintError),
}

fn substitute(value: &mut Value, keys: &BTreeMap<String, DevKey>) {
    match value {
        Value::String(text) => {
            if let Some(key) = text.strip_prefix("$jwk:").and_then(|kid| keys.get(kid)) {
                *value = key.public_jwk();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| substitute(item, keys)),
        Value::Object(map) => map.values_mut().for_each(|item| substitute(item, keys)),
        _ => {}
    }
}

/// Expands `{repeat N TEXT}` (TEXT without `}`) into N copies of TEXT, so that corpora can say "a 20 KB header"
/// without holding one.
fn expand(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{repeat ") {
        out.push_str(rest.get(..start).unwrap_or_default());
        let after = rest.get(start + "{repeat ".len()..).unwrap_or_default();
        let end = after.find('}').ok_or_else(|| format!("unterminated `{{repeat` in `{text}`"))?;
        let spec = after.get(..end).unwrap_or_default();
        let (count, unit) =
            spec.split_once(' ').ok_or_else(|| format!("`{{repeat {spec}}}` is not `{{repeat N TEXT}}`"))?;
        let count: usize = count.parse().map_err(|_| format!("`{count}` is not a count"))?;
        if count.saturating_mul(unit.len()) > 1 << 20 {
            return Err(format!("`{{repeat {count} ...}}` is over 1 MiB"));
        }
        out.push_str(&unit.repeat(count));
        rest = after.get(end + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    Ok(out)
}

fn merge(target: &mut Value, overrides: &Map<String, Value>) {
    if let Value::Object(map) = target {
        for (key, value) in overrides {
            if value.is_null() {
                map.remove(key);
            } else {
                map.insert(key.clone(), value.clone());
            }
        }
    }
}

impl Scenario {
    /// Reads a corpus and mints its keys and tokens for the corpus's own `now`.
    pub fn load(text: &str) -> Result<Self, ScenarioError> {
        Self::load_at(text, None)
    }

    /// Reads a corpus with every time rebased to `now` when given: hosts that read the real clock (Envoy,
    /// workerd) run the same cases at the current time.
    pub fn load_at(text: &str, now: Option<u64>) -> Result<Self, ScenarioError> {
        let mut raw: RawScenario = serde_json::from_str(text)?;
        if let Some(now) = now {
            raw.now = now;
        }
        let mut keys = BTreeMap::new();
        for key in &raw.keys {
            let minted = match JwsAlg::parse_name(&key.alg) {
                Some(JwsAlg::Es256) => DevKey::generate_es256(&key.kid)?,
                Some(JwsAlg::EdDsa) => DevKey::generate_ed25519(&key.kid)?,
                Some(alg) => DevKey::generate_rsa_with(&key.kid, 2048, alg)?,
                None => return Err(MintError::Generate(format!("unknown alg `{}`", key.alg)).into()),
            };
            keys.insert(key.kid.clone(), minted);
        }
        let mut config = raw.config;
        substitute(&mut config, &keys);
        let cases = raw.cases.iter().map(|case| Self::case(case, &config, &keys, raw.now)).collect::<Result<_, _>>()?;
        Ok(Self { description: raw.description, now: raw.now, config, cases, keys })
    }

    /// The configuration as the bytes a host is given.
    pub fn config_bytes(&self) -> Vec<u8> {
        self.config.to_string().into_bytes()
    }

    fn case(raw: &RawCase, config: &Value, keys: &BTreeMap<String, DevKey>, now: u64) -> Result<Case, ScenarioError> {
        let fail = |message: String| ScenarioError::Case { case: raw.name.clone(), message };
        let mut headers = raw
            .headers
            .iter()
            .map(|(name, value)| Ok((name.clone(), expand(value)?)))
            .collect::<Result<Vec<_>, String>>()
            .map_err(fail)?;
        let token = match &raw.token {
            None => None,
            Some(token) => {
                let key = keys.get(&token.key).ok_or_else(|| fail(format!("no key `{}`", token.key)))?;
                let issuer_json = config.pointer("/issuers/0");
                let issuer = token
                    .issuer
                    .clone()
                    .or_else(|| issuer_json.and_then(|i| i.get("issuer")).and_then(Value::as_str).map(str::to_owned))
                    .ok_or_else(|| fail("no issuer".into()))?;
                let client = token
                    .client_id
                    .clone()
                    .or_else(|| {
                        issuer_json.and_then(|i| i.pointer("/client_ids/0")).and_then(Value::as_str).map(str::to_owned)
                    })
                    .unwrap_or_else(|| "app-client-1".to_owned());
                let username = token.username.clone().unwrap_or_else(|| "alice".to_owned());
                let groups: Vec<&str> = token.groups.iter().map(String::as_str).collect();
                let scopes: Option<Vec<&str>> = token.scopes.as_ref().map(|s| s.iter().map(String::as_str).collect());
                let scopes = scopes.as_deref();
                let claims = match token.kind.as_deref().unwrap_or("access") {
                    "access" => {
                        let claims = CognitoClaims::access(&issuer, &client, &username, now);
                        match scopes {
                            Some(scopes) => claims.scopes(scopes),
                            None => claims,
                        }
                    }
                    "id" => CognitoClaims::id(&issuer, &client, &username, now),
                    "client_credentials" => {
                        CognitoClaims::client_credentials(&issuer, &client, scopes.unwrap_or_default(), now)
                    }
                    other => return Err(fail(format!("unknown token kind `{other}`"))),
                };
                let iat = now.saturating_add_signed(token.iat_offset);
                let exp = now.saturating_add_signed(token.exp_offset);
                let mut claims = claims.groups(&groups).valid(iat, exp).to_json();
                if let (Some(offset), Value::Object(map)) = (token.nbf_offset, &mut claims) {
                    map.insert("nbf".into(), now.saturating_add_signed(offset).into());
                }
                merge(&mut claims, &token.claims);
                let mut header = serde_json::json!({"kid": key.kid(), "alg": key.alg().name()});
                let mut overrides = token.header.clone();
                overrides.values_mut().for_each(|value| substitute(value, keys));
                merge(&mut header, &overrides);
                let header = match &token.header_raw {
                    Some(raw) => {
                        expand(raw).map_err(fail)?.replace("{kid}", key.kid()).replace("{alg}", key.alg().name())
                    }
                    None => header.to_string(),
                };
                let mut payload = match &token.payload_raw {
                    Some(raw) => expand(raw)
                        .map_err(fail)?
                        .replace("{iss}", &issuer)
                        .replace("{client_id}", &client)
                        .replace("{iat}", &iat.to_string())
                        .replace("{exp}", &exp.to_string()),
                    None => claims.to_string(),
                };
                if let Some(members) = &token.claims_raw {
                    let members = expand(members).map_err(fail)?;
                    let body =
                        payload.strip_suffix('}').ok_or_else(|| fail("claims_raw needs an object payload".into()))?;
                    payload = format!("{body},{members}}}");
                }
                let tamper = token.tamper.iter().map(|name| name.parse::<Tamper>()).collect::<Result<Vec<_>, _>>()?;
                Some(key.forge(&header, &payload, &tamper)?)
            }
        };
        let authorization = match (&raw.authorization, &token) {
            (Some(template), token) => {
                Some(expand(template).map_err(fail)?.replace("{token}", token.as_deref().unwrap_or_default()))
            }
            (None, Some(token)) => Some(format!("Bearer {token}")),
            (None, None) => None,
        };
        if let Some(token) = &token {
            for (_, value) in &mut headers {
                *value = value.replace("{token}", token);
            }
        }
        if let Some(value) = authorization {
            headers.push(("authorization".to_owned(), value));
        }
        let source_ip = match &raw.source_ip {
            Some(ip) => Some(ip.parse().map_err(|_| fail(format!("`{ip}` is not an IP address")))?),
            None => None,
        };
        let request = HttpRequest {
            method: raw.method.clone(),
            path: expand(&raw.path).map_err(fail)?,
            headers,
            source_ip,
            secure_transport: Some(true),
        };
        Ok(Case { name: raw.name.clone(), request, expect: raw.expect.clone() })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use authz::Authorizer;

    /// Every corpus in `policies/scenarios/` through the native core.
    #[test]
    fn every_corpus_passes_natively() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/scenarios");
        let mut ran = 0;
        for path in json_files(&dir).unwrap() {
            let scenario = Scenario::load(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let authorizer = Authorizer::from_json(&scenario.config_bytes())
                .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
            for case in &scenario.cases {
                let decision = authorizer.authorize(&case.request, scenario.now);
                let context = format!("{}: {}: {} ({})", path.display(), case.name, decision.status(), decision.reason);
                assert_eq!(decision.status(), case.expect.status, "{context}");
                if let Some(reason) = &case.expect.reason {
                    assert!(decision.reason.to_string().contains(reason.as_str()), "{context}: wanted `{reason}`");
                }
                if let Some(code) = &case.expect.code {
                    assert_eq!(decision.code().as_str(), code, "{context}");
                }
                if let Some(upstream) = &case.expect.upstream {
                    let actual: BTreeMap<String, String> = decision.upstream_headers.iter().cloned().collect();
                    assert_eq!(&actual, upstream, "{context}");
                }
                if decision.is_allowed() {
                    // What the upstream gets once the decision is applied as a host applies it: no identity field in
                    // any spelling but the ones the authorizer wrote.
                    let mut forwarded: Vec<(String, String)> = case
                        .request
                        .headers
                        .iter()
                        .filter(|(name, _)| !decision.remove_headers.iter().any(|gone| gone.eq_ignore_ascii_case(name)))
                        .filter(|(name, _)| {
                            !decision.upstream_headers.iter().any(|(set, _)| set.eq_ignore_ascii_case(name))
                        })
                        .cloned()
                        .collect();
                    forwarded.extend(decision.upstream_headers.iter().cloned());
                    for (name, value) in &forwarded {
                        if authorizer.is_identity_header(name) {
                            assert!(
                                decision.upstream_headers.contains(&(name.clone(), value.clone())),
                                "{context}: {name}"
                            );
                        }
                    }
                }
                ran += 1;
            }
        }
        assert!(ran >= 30, "only {ran} cases ran");
    }

    /// A clean refusal: the fixed body for its status, nothing for the upstream.
    fn assert_clean(decision: &authz::Decision, context: &str) {
        let status = decision.status();
        assert!(matches!(status, 200 | 400 | 401 | 403 | 414), "{context}: status {status}");
        if !decision.is_allowed() {
            assert!(decision.outcome.body().is_some(), "{context}");
            assert!(decision.upstream_headers.is_empty() && decision.rewrite_path.is_none(), "{context}");
            assert_eq!(decision.challenge.is_some(), status == 401, "{context}");
        }
    }

    /// Item 7 of issue 4, natively: the attack corpus and a stream of random and mutated requests all get clean
    /// answers (the wasmtime host runs the same through the built filter), and no mutated token is ever accepted.
    #[test]
    fn attacks_and_random_requests_get_clean_answers() {
        use rand::{Rng, SeedableRng};
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/scenarios");
        let scenario = Scenario::load(&std::fs::read_to_string(dir.join("attacks.json")).unwrap()).unwrap();
        let authorizer = Authorizer::from_json(&scenario.config_bytes()).unwrap();
        for case in &scenario.cases {
            assert_clean(&authorizer.authorize(&case.request, scenario.now), &case.name);
        }

        // Valid tokens to mutate: those of the cases the corpus expects to be allowed.
        let valid: Vec<String> = scenario
            .cases
            .iter()
            .filter(|case| case.expect.status == 200)
            .filter_map(|case| case.request.header_values("authorization").next().map(str::to_owned))
            .filter_map(|value| value.rsplit([' ', '\t']).next().map(str::to_owned))
            .filter(|token| token.matches('.').count() == 2)
            .collect();
        assert!(valid.len() > 10);
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x5ec);
        let alphabet = b"/.%2eEfF5cC;?#\\aZ0~-_ \t\x00\xff";
        let random_text = |rng: &mut rand::rngs::StdRng, max: usize| -> String {
            let len = rng.gen_range(0..max);
            let bytes: Vec<u8> = (0..len)
                .map(|_| if rng.gen_bool(0.7) { alphabet[rng.gen_range(0..alphabet.len())] } else { rng.gen() })
                .collect();
            String::from_utf8_lossy(&bytes).into_owned()
        };
        for round in 0..20_000 {
            let method = match rng.gen_range(0..4) {
                0 => random_text(&mut rng, 12),
                _ => ["GET", "get", "POST", "DELETE", "TRACE", "OPTIONS"][rng.gen_range(0..6)].to_owned(),
            };
            let path = match rng.gen_range(0..3) {
                0 => random_text(&mut rng, 64),
                1 => format!("/pets/{}", random_text(&mut rng, 32)),
                _ => ["/pets/1", "/admin/users", "/public", "/scoped"][rng.gen_range(0..4)].to_owned(),
            };
            let original = &valid[rng.gen_range(0..valid.len())];
            let mut token = original.clone().into_bytes();
            let mutated = match rng.gen_range(0..5) {
                0 => {
                    let at = rng.gen_range(0..token.len());
                    token[at] ^= 1 << rng.gen_range(0..8);
                    true
                }
                1 => {
                    token.truncate(rng.gen_range(0..token.len()));
                    true
                }
                2 => {
                    let at = rng.gen_range(0..=token.len());
                    let extra = random_text(&mut rng, 8).into_bytes();
                    token.splice(at..at, extra.iter().copied());
                    !extra.is_empty()
                }
                3 => {
                    token = random_text(&mut rng, 200).into_bytes();
                    true
                }
                _ => false,
            };
            let token = String::from_utf8_lossy(&token).into_owned();
            let scheme = ["Bearer ", "bearer ", "", "Basic ", "Bearer  "][rng.gen_range(0..5)];
            let mut headers = vec![("authorization".to_owned(), format!("{scheme}{token}"))];
            if rng.gen_bool(0.1) {
                headers.push((random_text(&mut rng, 16), random_text(&mut rng, 64)));
            }
            let request = HttpRequest { method, path, headers, source_ip: None, secure_transport: Some(true) };
            let decision = authorizer.authorize(&request, scenario.now);
            let context = format!("round {round}: {request:?}: {}", decision.reason);
            assert_clean(&decision, &context);
            if decision.is_allowed() && !matches!(decision.reason, authz::Reason::PublicRoute { .. }) {
                assert!(!mutated || token == *original, "{context}: a mutated token was accepted");
            }
        }
    }

    /// Item 5 of issue 4: sizes are checked before anything is parsed, so each refusal below names the size even
    /// though the input is also malformed in every other way.
    #[test]
    fn limits_are_checked_before_any_other_work() {
        let over = authz::config::MAX_CONFIG_BYTES + 1;
        let err = Authorizer::from_json("{".repeat(over).as_bytes()).unwrap_err();
        assert!(err.path == "." && err.message.contains("over"), "{err}");
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/scenarios/attacks.json"),
        )
        .unwrap();
        let scenario = Scenario::load(&text).unwrap();
        let mut config = scenario.config_bytes();
        config.resize(authz::config::MAX_CONFIG_BYTES, b' ');
        let authorizer = Authorizer::from_json(&config).unwrap();
        let request = |path: String, headers: Vec<(String, String)>| HttpRequest {
            method: "GET".into(),
            path,
            headers,
            ..HttpRequest::default()
        };
        let garbage = "%\u{0};".repeat(1 << 20);
        let decision = authorizer.authorize(&request(garbage.clone(), Vec::new()), scenario.now);
        assert!(
            matches!(decision.reason, authz::Reason::Request(authz::request::RequestError::PathTooLong { .. })),
            "{}",
            decision.reason
        );
        assert_eq!(decision.status(), 414);
        let headers = vec![("authorization".to_owned(), garbage.clone()), ("x".to_owned(), garbage)];
        let decision = authorizer.authorize(&request("\\".into(), headers), scenario.now);
        assert!(
            matches!(decision.reason, authz::Reason::Request(authz::request::RequestError::HeadersTooLarge { .. })),
            "{}",
            decision.reason
        );
        assert_eq!(decision.status(), 400);
        let token = "a.".repeat(10_000);
        let decision = authorizer.authorize(
            &request("/pets/1".into(), vec![("authorization".into(), format!("Bearer {token}"))]),
            scenario.now,
        );
        assert!(
            matches!(decision.reason, authz::Reason::Token(authz::token::TokenError::TooLarge { .. })),
            "{}",
            decision.reason
        );
    }
}
