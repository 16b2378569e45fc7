//! The one call adapters make: request + compiled configuration + `now` → decision.

use crate::config::{same_header_field, Config, ConfigError, ForwardToken, TokenSource};
use crate::decision::{claim_headers, unsafe_identity_header, Decision, Outcome, Reason, Verdict};
use crate::policy::{DenyWhy, KeyKind, PolicyDecision, Principal, RequestContext, INVOKE};
use crate::request::{normalize_method, HttpRequest, NormalizedPath, RequestError};
use crate::routes::{Route, RouteAuth};
use crate::token::password::{parse_basic, BasicError, ExchangeFailure, Login};
use crate::token::password_cache::{LoginKey, Lookup, PasswordCache};
use crate::token::{
    bearer_candidate, carries_token, check_token_chars, cookie_token, TokenCache, TokenError, TokenUse, VerifiedToken,
};
use std::sync::Arc;
use zeroize::Zeroizing;

/// The `WWW-Authenticate` challenges of one configuration (RFC 6750), written once.
#[derive(Debug)]
struct Challenges {
    plain: String,
    invalid_token: String,
    insufficient_scope: String,
}

impl Challenges {
    /// The `Bearer` challenges of `realm`, each after `before` (another challenge and `, `, or nothing).
    fn new(before: &str, realm: &str) -> Self {
        Self {
            plain: format!("{before}Bearer realm=\"{realm}\""),
            invalid_token: format!("{before}Bearer realm=\"{realm}\", error=\"invalid_token\""),
            insufficient_scope: format!("{before}Bearer realm=\"{realm}\", error=\"insufficient_scope\""),
        }
    }
}

/// A compiled configuration, shared read-only by every request.
#[derive(Debug)]
pub struct Authorizer {
    config: Config,
    challenges: Challenges,
    /// The same after a `Basic` challenge: the 401s of requests with Basic credentials when `password_auth` is set.
    basic_challenges: Challenges,
    tokens: TokenCache,
    /// Exchanged passwords (`password_auth`); without a key from the host, none are exchanged.
    passwords: PasswordCache,
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
        let realm = format!("{}/{}", config.api().api_id, config.api().stage);
        let challenges = Challenges::new("", &realm);
        // A client that sent `Basic` credentials (`password_auth`) is told Basic is taken too, first, as its own
        // scheme: several challenges may share one field (RFC 9110 §11.6.1; RFC 7617 for `Basic` and `charset`).
        let basic_challenges = Challenges::new(&format!("Basic realm=\"{realm}\", charset=\"UTF-8\", "), &realm);
        let tokens = TokenCache::new(config.token_cache_size());
        let reads = |kind| config.policies().is_some_and(|policies| policies.reads(kind));
        let reads_source_address = config.source_ip().xff_num_trusted_hops == 0 && reads(KeyKind::SourceIp);
        let reads_secure_transport = reads(KeyKind::SecureTransport);
        Self {
            config,
            challenges,
            basic_challenges,
            tokens,
            passwords: PasswordCache::default(),
            reads_source_address,
            reads_secure_transport,
        }
    }

    /// The compiled configuration.
    /// The configuration's warnings, moved out ([`Config::take_warnings`]).
    pub fn take_warnings(&mut self) -> Vec<crate::policy::PolicyWarning> {
        self.config.take_warnings()
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The verified tokens this configuration keeps.
    #[cfg(feature = "stages")]
    pub(crate) fn tokens(&self) -> &TokenCache {
        &self.tokens
    }

    /// What this configuration's verified-token cache has done so far (hosts report it as counters).
    pub fn cache_stats(&self) -> crate::token::CacheStats {
        self.tokens.stats()
    }

    /// Puts a fetched key set in service for the issuer at `index` (configuration order), replacing the one it had
    /// at once, and forgets every verified token: none outlives the keys it was verified with. Returns whether that
    /// issuer fetches its keys (`remote_jwks`).
    pub fn replace_fetched_keys(&self, index: usize, keys: crate::token::KeySet) -> bool {
        let replaced = self.config.verifier().replace_fetched_keys(index, keys);
        if replaced {
            self.tokens.clear();
        }
        replaced
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

    /// The request's own header names to remove before it goes upstream, each once: every one an upstream could
    /// take for an identity header; the token's header unless `verified` says the filter verified its token and
    /// `forward_token` lets it go on (an unverified token could pass upstream for a checked one); and, when the
    /// token comes from elsewhere (`token_source`), an `Authorization` header carrying a token (`carries_token`),
    /// which the filter never verified and an upstream could take for the one it did. Other `Authorization` schemes
    /// (`Basic` for the upstream's own use) go on.
    fn removals<'a>(&self, request: &'a HttpRequest, verified: bool) -> Vec<&'a str> {
        let (token_header, other_source) = match self.config.token_source() {
            TokenSource::Header(name) => {
                let keep = verified && self.config.forward_token() != ForwardToken::Never;
                ((!keep).then_some(name.as_str()), name != "authorization")
            }
            TokenSource::Cookie(_) => (None, true),
        };
        let mut names: Vec<&'a str> = Vec::new();
        for (name, value) in &request.headers {
            let remove = self.is_identity_header(name)
                || token_header.is_some_and(|token| same_header_field(name, token))
                || (other_source && same_header_field(name, "authorization") && carries_token(value));
            if remove && !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
        names
    }

    /// Whether a request trailer named `name` must not reach the upstream: an identity field or a token field
    /// (`Authorization`, the configured token header, `Cookie` when the token is a cookie), in every spelling an
    /// upstream may merge with them. Only request headers carry a token the filter verifies and identity fields it
    /// writes; a trailer holding one could only pass upstream for them.
    pub fn is_forbidden_trailer(&self, name: &str) -> bool {
        self.is_identity_header(name)
            || same_header_field(name, "authorization")
            || match self.config.token_source() {
                TokenSource::Header(token) => same_header_field(name, token),
                TokenSource::Cookie(_) => same_header_field(name, "cookie"),
            }
    }

    /// The method a CORS preflight asks about, when `request` is one this configuration lets through without a
    /// token: exactly one non-empty `Origin` and one `Access-Control-Request-Method` naming a method API Gateway
    /// routes.
    fn preflight_method(&self, request: &HttpRequest) -> Option<&'static str> {
        if !self.config.bypass_cors_preflight() {
            return None;
        }
        let mut origins = request.header_values("origin");
        let (Some(origin), None) = (origins.next(), origins.next()) else { return None };
        let mut asked = request.header_values("access-control-request-method");
        let (Some(method), None) = (asked.next(), asked.next()) else { return None };
        if origin.is_empty() {
            return None;
        }
        normalize_method(method).ok()
    }

    /// The route that takes `method` on `path` (`None` when no routes are declared), and the first route that takes
    /// it or a spelling of it that lenient upstreams serve from the same handler (`/products/1/`, `/Products/1`,
    /// `HEAD` for `GET`, `/products.json`) when that one comes before (a catch-all took the request): its rules
    /// hold too, so no spelling reaches a handler without them. `Err` when no route takes the request or such a
    /// first route declares it undeclared.
    fn route_for(&self, method: &str, path: &NormalizedPath) -> Result<Option<(&Route, Option<&Route>)>, ()> {
        let Some(declared) = self.config.route_table() else { return Ok(None) };
        let taken = match declared.find(method, path) {
            Some(route) if route.auth != RouteAuth::Undeclared => route,
            _ => return Err(()),
        };
        let lenient = declared.first_lenient(method, path).filter(|first| !std::ptr::eq(*first, taken));
        if lenient.is_some_and(|first| first.auth == RouteAuth::Undeclared) {
            return Err(());
        }
        Ok(Some((taken, lenient)))
    }

    /// The token `candidate` names, verified at `now`. A token equal to one this configuration verified before is
    /// that entry (its characters, size and signature passed then; its time claims are checked again); any other
    /// goes through every check, the cheap ones first.
    fn verify_token(&self, candidate: &str, now: u64) -> Result<Arc<VerifiedToken>, Reason> {
        let verifier = self.config.verifier();
        if let Some(cached) = self.tokens.get(candidate, now, verifier.skew()) {
            return cached.map_err(Reason::Token);
        }
        check_token_chars(candidate).map_err(Reason::Authorization)?;
        if candidate.len() > verifier.max_token_bytes() {
            return Err(Reason::Token(TokenError::TooLarge { len: candidate.len(), max: verifier.max_token_bytes() }));
        }
        let verified = Arc::new(verifier.verify(candidate, now).map_err(Reason::Token)?);
        self.tokens.insert(candidate, Arc::clone(&verified), now, verifier.skew());
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
        if let Err(err) = self.config.request().check_headers(request) {
            return Verdict::refuse(Outcome::BadRequest, Reason::Request(err));
        }
        let method = match normalize_method(&request.method) {
            Ok(method) => method,
            Err(err) => return Verdict::refuse(Outcome::BadRequest, Reason::Request(err)),
        };
        if let Err(err) = crate::request::check_method_overrides(request, method) {
            return Verdict::refuse(Outcome::BadRequest, Reason::Request(err));
        }
        let path = match crate::request::normalize_path_with(&request.path, self.config.request()) {
            Ok(path) => path,
            Err(err @ RequestError::PathTooLong { .. }) => {
                return Verdict::refuse(Outcome::UriTooLong, Reason::Request(err))
            }
            Err(err) => return Verdict::refuse(Outcome::BadRequest, Reason::Request(err)),
        };
        let arn = match self.config.api().method_arn(method, &path) {
            Ok(arn) => arn,
            Err(err @ RequestError::ArnTooLong(_)) => {
                return Verdict::refuse(Outcome::UriTooLong, Reason::Request(err))
            }
            Err(err) => return Verdict::refuse(Outcome::BadRequest, Reason::Request(err)),
        };
        let rewrite_path = path.changed.then(|| path.target());
        // A CORS preflight carries no credentials (the Fetch standard): it passes where the method it asks about
        // would be routed and no route declares `OPTIONS` on the path undeclared, and is decided like any request
        // where not.
        if method == "OPTIONS" {
            if let Some(asked) = self.preflight_method(request) {
                let routed = matches!(self.route_for(asked, &path), Ok(Some(_)) | Ok(None));
                let options_undeclared = self.config.route_table().is_some_and(|declared| {
                    let first = declared.first_lenient(method, &path);
                    first.is_some_and(|route| route.auth == RouteAuth::Undeclared)
                });
                if routed && !options_undeclared {
                    return Verdict::preflight(asked, self.removals(request, false), rewrite_path);
                }
            }
        }
        let (route, lenient) = match self.route_for(method, &path) {
            Ok(Some((route, lenient))) => (Some(route), lenient),
            Ok(None) => (None, None),
            Err(()) => {
                let reason = Reason::NoRoute { method: method.to_owned(), path: path.path.clone() };
                return Verdict::refuse(Outcome::NoRoute, reason);
            }
        };
        if let Some(route) = route.filter(|route| route.auth == RouteAuth::Public) {
            if lenient.is_none_or(|first| first.auth == RouteAuth::Public) {
                return Verdict::public(&route.template, self.removals(request, false), rewrite_path);
            }
        }

        let source = self.config.token_source();
        let refused_source = |err| match source {
            TokenSource::Header(name) if name == "authorization" => Reason::Authorization(err),
            _ => Reason::TokenSource { source: source.describe(), err },
        };
        // A username/password client: its password is exchanged for an access token (by the host, which then
        // decides again), and that token is verified below like any other.
        let exchanged: String;
        let basic = self.config.password_auth().and_then(|_| basic_credentials(request));
        let password_path = basic.is_some();
        let challenges = if password_path { &self.basic_challenges } else { &self.challenges };
        let candidate = match basic {
            Some(Err(err)) => return Verdict::unauthorized(Reason::BadBasic(err), &challenges.plain),
            Some(Ok(login)) => match self.passwords.lookup(&login, now) {
                Lookup::Token(token) => {
                    exchanged = token;
                    Ok(exchanged.as_str())
                }
                Lookup::Penalized(failure) => return self.password_refusal(login.username(), failure, true),
                Lookup::NoKey => return self.password_refusal(login.username(), ExchangeFailure::Unsupported, false),
                Lookup::Miss => {
                    let reason = Reason::PasswordPending { username: login.username().to_owned() };
                    return Verdict::refuse(Outcome::Unavailable, reason);
                }
            },
            None => match source {
                // Every spelling an upstream may merge with the token header (`x_id_token` for `x-id-token`) counts:
                // a second one is a second token, refused rather than left for the upstream to pick.
                TokenSource::Header(name) => bearer_candidate(
                    request
                        .headers
                        .iter()
                        .filter(|(key, _)| same_header_field(key, name))
                        .map(|(_, value)| value.as_str()),
                ),
                TokenSource::Cookie(name) => cookie_token(request.header_values("cookie"), name),
            },
        };
        let candidate = match candidate {
            Ok(candidate) => candidate,
            Err(err) => return Verdict::unauthorized(refused_source(err), &challenges.plain),
        };
        let verified = match self.verify_token(candidate, now) {
            Ok(verified) => verified,
            // A token with bytes no JWS holds is a malformed header, as before any cache existed.
            Err(Reason::Authorization(err)) => return Verdict::unauthorized(refused_source(err), &challenges.plain),
            Err(reason) => return Verdict::unauthorized(reason, &challenges.invalid_token),
        };
        for rules in route.into_iter().chain(lenient) {
            if let RouteAuth::Token { token_use: Some(allowed), .. } = &rules.auth {
                if !allowed.allows(verified.token_use()) {
                    let reason =
                        Reason::RouteTokenUse { route: rules.template.clone(), token_use: verified.token_use() };
                    return Verdict::unauthorized(reason, &challenges.invalid_token);
                }
            }
            let required = rules.scopes();
            if required.is_empty() {
                continue;
            }
            if verified.token_use() != TokenUse::Access {
                let reason = Reason::NotAnAccessToken { route: rules.template.clone() };
                return Verdict::unauthorized(reason, &challenges.insufficient_scope);
            }
            if !required.iter().any(|scope| verified.scopes().contains(scope)) {
                let reason = Reason::MissingScope { route: rules.template.clone(), required: required.to_vec() };
                return Verdict::unauthorized(reason, &challenges.insufficient_scope);
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
                        return Verdict::refuse(Outcome::Forbidden, reason);
                    }
                    PolicyDecision::ExplicitDeny => {
                        let reason = Reason::ExplicitDeny {
                            arn,
                            sub: verified.sub().to_owned(),
                            statements: evaluation.statements,
                        };
                        return Verdict::refuse(Outcome::ExplicitDeny, reason);
                    }
                }
            }
        };

        let names = self.config.identity_headers();
        if let Some(header) = unsafe_identity_header(names, &verified) {
            let reason = Reason::IdentityNotHeaderSafe { header: header.to_owned() };
            return Verdict::unauthorized(reason, &challenges.invalid_token);
        }
        let claims = match claim_headers(names, &verified) {
            Ok(claims) => claims,
            Err(reason) => return Verdict::unauthorized(reason, &challenges.invalid_token),
        };
        // On the password path the `Authorization` header holds the password: it never goes upstream.
        Verdict::allowed(names, verified, claims, statements, self.removals(request, !password_path), rewrite_path)
    }

    /// A refused password exchange: 401 when the credentials were refused, 503 when the exchange failed.
    fn password_refusal(&self, username: &str, failure: ExchangeFailure, penalized: bool) -> Verdict<'_> {
        let refuses = failure.refuses_credentials();
        let reason = Reason::Password { username: username.to_owned(), failure, penalized };
        if refuses {
            Verdict::unauthorized(reason, &self.basic_challenges.plain)
        } else {
            Verdict::refuse(Outcome::Unavailable, reason)
        }
    }

    /// Gives this configuration the per-VM random key its password cache is keyed with: a host that can call the
    /// identity provider does, and only then are `Authorization: Basic` requests exchanged.
    pub fn with_password_key(mut self, key: [u8; 32]) -> Self {
        self.passwords = PasswordCache::with_key(key);
        self
    }

    /// The exchange a request whose decision [`Verdict::needs_password_exchange`] needs: the call's body (it holds
    /// the password and is overwritten when dropped) and what the answer is remembered by. `None` when the request
    /// carries no readable Basic credentials, `password_auth` is not configured, or this host gave no key.
    pub fn start_exchange(&self, request: &HttpRequest) -> Option<PasswordExchange> {
        let auth = self.config.password_auth()?;
        let login = basic_credentials(request)?.ok()?;
        let key = self.passwords.key_of(&login)?;
        Some(PasswordExchange { body: auth.initiate_auth_body(&login), key })
    }

    /// Ends an exchange at `now` with the IdP's answer ([`crate::token::password::parse_initiate_auth`]): the token
    /// is verified like any bearer token, then remembered (for `cache_seconds`, never past its `exp`); a failure, or
    /// a token that fails verification, puts the username in its penalty period. The failure, for counters and logs.
    ///
    /// A token signed with a key this configuration lacks (a pool's first key fetch not in yet, or a rotation) says
    /// nothing against the password, which the IdP accepted: it is remembered unverified for
    /// [`KEY_WAIT_SECONDS`], with no penalty, so that the host can wait for the keys and decide again
    /// ([`Exchanged::KeyUnknown`]). Every use verifies it again, as every remembered token is, so it is never
    /// taken unverified: until its key arrives it is refused (`token_unknown_key`).
    pub fn finish_exchange(
        &self,
        key: &LoginKey,
        answer: Result<String, ExchangeFailure>,
        now: u64,
    ) -> Result<Exchanged, ExchangeFailure> {
        let Some(auth) = self.config.password_auth() else { return Err(ExchangeFailure::Unsupported) };
        let checked = answer.and_then(|token| match self.verify_token(&token, now) {
            Ok(verified) => {
                let until = now.saturating_add(auth.cache_seconds).min(verified.expires_at());
                Ok((Exchanged::Verified, until, token))
            }
            Err(Reason::Token(TokenError::UnknownKid { .. })) => {
                Ok((Exchanged::KeyUnknown, now.saturating_add(KEY_WAIT_SECONDS), token))
            }
            Err(Reason::Token(err)) => Err(ExchangeFailure::Token(err)),
            Err(other) => Err(ExchangeFailure::Unparseable(other.to_string())),
        });
        match checked {
            Ok((exchanged, until, token)) => {
                self.passwords.remember(key, token, until, now);
                Ok(exchanged)
            }
            Err(failure) => {
                self.passwords.penalize(key.username(), failure.clone(), now);
                Err(failure)
            }
        }
    }

    /// Requests answered from a remembered password exchange so far (hosts report it as a counter).
    pub fn password_cache_hits(&self) -> u64 {
        self.passwords.hits()
    }
}

/// How long a token whose key this configuration lacks is remembered after its exchange: longer than the longest
/// wait for a key fetch (`timeout_ms` at most 60 s, plus the adapter's margin), so that the request that waited
/// finds it; then the password is exchanged again.
pub const KEY_WAIT_SECONDS: u64 = 64;

/// What a password exchange the IdP answered with a token came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exchanged {
    /// The token verified, and is remembered.
    Verified,
    /// The token names a key this configuration lacks; it is remembered unverified for [`KEY_WAIT_SECONDS`] and the
    /// username is not penalized. A host that fetches keys waits for them, then decides again.
    KeyUnknown,
}

/// What a host sends to exchange one request's password, and what the answer is remembered by.
pub struct PasswordExchange {
    /// The `InitiateAuth` body; overwritten when dropped.
    pub body: Zeroizing<Vec<u8>>,
    pub key: LoginKey,
}

/// The request's Basic credentials: `None` unless it has exactly one `Authorization` header and its scheme is
/// `Basic` (a second header is refused as any repeated token header is).
fn basic_credentials(request: &HttpRequest) -> Option<Result<Login, BasicError>> {
    let mut values =
        request.headers.iter().filter(|(name, _)| same_header_field(name, "authorization")).map(|(_, value)| value);
    let (Some(value), None) = (values.next(), values.next()) else { return None };
    parse_basic(value)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::panic)]
    use super::*;
    use authz_testkit::mint::{CognitoClaims, DevKey};
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

    /// An authorizer with `password_auth` (and, when `keyed`, the host's key for its cache).
    fn password_authorizer(key: &DevKey, keyed: bool) -> Authorizer {
        let config = json!({
            "api": {"region": "us-east-1", "account_id": "123456789012", "api_id": "a1b2c3d4e5", "stage": "dev"},
            "issuers": [{"issuer": ISSUER, "jwks": key.jwks(), "token_use": ["access"], "client_ids": ["app"]}],
            "password_auth": {"cluster": "idp", "authority": "idp.example", "client_id": "app", "client_secret": "s", "cache_seconds": 60},
            "policies": {"groups": {"readers": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "execute-api:/dev/GET/*"}]}}}
        });
        let authorizer = Authorizer::from_json(config.to_string().as_bytes()).unwrap();
        if keyed {
            authorizer.with_password_key([9; 32])
        } else {
            authorizer
        }
    }

    fn basic(user: &str, password: &str) -> HttpRequest {
        use base64::Engine as _;
        let value = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")));
        HttpRequest {
            method: "GET".into(),
            path: "/things".into(),
            headers: vec![("authorization".into(), value)],
            ..HttpRequest::default()
        }
    }

    #[test]
    fn a_token_of_a_key_not_fetched_yet_is_kept_unverified_and_penalizes_no_one() {
        use crate::decision::Code;
        let key = DevKey::generate_es256("k1").unwrap();
        let authorizer = password_authorizer(&key, true);
        let alice = basic("alice", "right");
        let exchange = authorizer.start_exchange(&alice).unwrap();
        let unknown = DevKey::generate_es256("k2").unwrap();
        let token = unknown.sign(&CognitoClaims::access(ISSUER, "app", "alice", NOW).groups(&["readers"]).to_json());
        assert_eq!(authorizer.finish_exchange(&exchange.key, Ok(token), NOW), Ok(Exchanged::KeyUnknown));
        // Remembered, but verified on every use: refused by its key, with the issuer a host may fetch keys of.
        let verdict = authorizer.decide(&alice, NOW + 1);
        assert_eq!((verdict.status(), verdict.code()), (401, Code::TokenUnknownKey));
        assert_eq!(verdict.unknown_key_issuer(), Some(ISSUER));
        drop(verdict);
        // No penalty: another password of the username is exchanged; and the kept token ends.
        assert!(authorizer.decide(&basic("alice", "other"), NOW + 1).needs_password_exchange());
        assert!(authorizer.decide(&alice, NOW + KEY_WAIT_SECONDS).needs_password_exchange());
    }

    #[test]
    fn a_password_is_exchanged_then_its_token_verified_and_remembered() {
        use crate::decision::Code;
        use crate::token::password::ExchangeFailure;
        let key = DevKey::generate_es256("k1").unwrap();
        let authorizer = password_authorizer(&key, true);
        let alice = basic("alice", "right");
        // Not exchanged yet: a host that cannot call the IdP refuses with 503, never allows.
        let verdict = authorizer.decide(&alice, NOW);
        assert!(verdict.needs_password_exchange());
        assert_eq!((verdict.status(), verdict.code()), (503, Code::PasswordExchangeFailed));
        drop(verdict);
        let exchange = authorizer.start_exchange(&alice).unwrap();
        let body: serde_json::Value = serde_json::from_slice(&exchange.body).unwrap();
        assert_eq!(body["AuthParameters"]["PASSWORD"], "right");
        let token = key.sign(
            &CognitoClaims::access(ISSUER, "app", "alice", NOW).groups(&["readers"]).valid(NOW, NOW + 30).to_json(),
        );
        assert_eq!(authorizer.finish_exchange(&exchange.key, Ok(token), NOW), Ok(Exchanged::Verified));
        let decision = authorizer.authorize(&alice, NOW + 1);
        assert_eq!(decision.code(), Code::Allowed, "{}", decision.reason);
        assert_eq!(authorizer.password_cache_hits(), 0, "the request that made the exchange");
        assert_eq!(authorizer.authorize(&alice, NOW + 2).code(), Code::Allowed);
        // The password's header never goes upstream, whatever `forward_token` says.
        assert_eq!(decision.remove_headers, vec!["authorization".to_owned()]);
        assert_eq!(authorizer.password_cache_hits(), 1);
        // Remembered until the token's `exp` (30 s), not `cache_seconds` (60 s); a wrong password is not the right one.
        assert!(authorizer.decide(&alice, NOW + 30).needs_password_exchange());
        assert!(authorizer.decide(&basic("alice", "wrong"), NOW + 1).needs_password_exchange());
        assert!(authorizer.decide(&basic("alicf", "right"), NOW + 1).needs_password_exchange());

        // Wrong credentials: 401, and the username waits out its penalty without a call.
        let bob = basic("bob", "guess");
        let exchange = authorizer.start_exchange(&bob).unwrap();
        assert_eq!(
            authorizer.finish_exchange(&exchange.key, Err(ExchangeFailure::WrongCredentials), NOW),
            Err(ExchangeFailure::WrongCredentials)
        );
        let refused = authorizer.authorize(&bob, NOW + 1);
        assert_eq!((refused.status(), refused.code()), (401, Code::PasswordRefused));
        assert_eq!(
            refused.challenge.as_deref(),
            Some(r#"Basic realm="a1b2c3d4e5/dev", charset="UTF-8", Bearer realm="a1b2c3d4e5/dev""#)
        );
        assert!(!refused.reason.to_string().contains("guess"), "{}", refused.reason);
        assert!(authorizer.decide(&bob, NOW + 10).needs_password_exchange());
        // The IdP failing: 503, never allowed.
        let exchange = authorizer.start_exchange(&bob).unwrap();
        let _ = authorizer.finish_exchange(&exchange.key, Err(ExchangeFailure::Unreachable), NOW + 10);
        let failed = authorizer.authorize(&bob, NOW + 11);
        assert_eq!((failed.status(), failed.code()), (503, Code::PasswordExchangeFailed));

        // A token the IdP returns is trusted no more than any other: another issuer's is refused for its issuer.
        let carol = basic("carol", "pw");
        let other = key.sign(
            &CognitoClaims::access("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other", "app", "carol", NOW)
                .to_json(),
        );
        let exchange = authorizer.start_exchange(&carol).unwrap();
        assert!(matches!(authorizer.finish_exchange(&exchange.key, Ok(other), NOW), Err(ExchangeFailure::Token(_))));
        assert_eq!(authorizer.authorize(&carol, NOW + 1).code(), Code::TokenIssuer);
    }

    #[test]
    fn basic_credentials_without_password_auth_or_a_key() {
        use crate::decision::Code;
        let key = DevKey::generate_es256("k1").unwrap();
        // Without `password_auth`, Basic is a malformed bearer header, as before.
        let plain = authorizer(&key, 0).authorize(&basic("alice", "pw"), NOW);
        assert_eq!((plain.status(), plain.code()), (401, Code::TokenMalformed));
        // A host that gave no key (no HTTP calls) refuses Basic with 503 and never starts an exchange.
        let unkeyed = password_authorizer(&key, false);
        let decision = unkeyed.authorize(&basic("alice", "pw"), NOW);
        assert_eq!((decision.status(), decision.code()), (503, Code::PasswordExchangeFailed));
        assert!(unkeyed.start_exchange(&basic("alice", "pw")).is_none());
        // Unreadable Basic credentials are refused before any exchange; Bearer tokens still work beside them.
        let keyed = password_authorizer(&key, true);
        let mut bad = basic("x", "y");
        bad.headers[0].1 = "Basic bm9jb2xvbg==".into();
        assert_eq!(keyed.authorize(&bad, NOW).code(), Code::TokenMalformed);
        let token = key.sign(&CognitoClaims::access(ISSUER, "app", "alice", NOW).groups(&["readers"]).to_json());
        assert_eq!(keyed.authorize(&request("GET", &token), NOW).code(), Code::Allowed);
        // Two Authorization headers are two credentials: refused, never exchanged.
        let mut twice = basic("alice", "pw");
        twice.headers.push(("authorization".into(), format!("Bearer {token}")));
        assert_eq!(keyed.authorize(&twice, NOW).code(), Code::TokenMalformed);
    }

    #[test]
    fn a_group_listed_twice_counts_once() {
        let key = DevKey::generate_rsa("k1").unwrap();
        let token = key
            .sign(&CognitoClaims::access(ISSUER, "app", "alice", NOW).groups(&["readers", "x", "readers"]).to_json());
        let decision = authorizer(&key, 0).authorize(&request("GET", &token), NOW);
        let Reason::Allowed { statements, .. } = &decision.reason else { panic!("{:?}", decision.reason) };
        assert_eq!(statements.len(), 1, "{statements:?}");
        let groups =
            decision.upstream_headers.iter().find(|(name, _)| name == "x-authz-groups").map(|(_, v)| v.as_str());
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
        let access = format!(
            "Bearer {}",
            key.sign(&CognitoClaims::access(ISSUER, "app", "alice", NOW).scopes(&["api/read"]).to_json())
        );
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
            (
                &header,
                vec![("x-id-token", id.as_str()), ("x-id-token", id.as_str())],
                Some("more than one `x-id-token` header"),
            ),
            // A copy an upstream folding `_` into `-` would read as the token header is a second token.
            (
                &header,
                vec![("x-id-token", id.as_str()), ("x_id_token", "forged.x.y")],
                Some("more than one `x-id-token` header"),
            ),
            (
                &header,
                vec![("X_ID_TOKEN", "forged.x.y"), ("x-id-token", id.as_str())],
                Some("more than one `x-id-token` header"),
            ),
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
        let authorizer = migrated(
            &key,
            json!({"identity_headers": {"claims": {
            "email": "x-user-email", "custom:tenant": "x-tenant", "custom:roles": "x-roles", "email_verified": "x-email-verified"}}}),
        );
        let sign = |extra: serde_json::Value| {
            let mut claims = CognitoClaims::id(ISSUER, "app", "alice", NOW).to_json();
            if let (Some(map), serde_json::Value::Object(extra)) = (claims.as_object_mut(), extra) {
                map.extend(extra);
            }
            format!("Bearer {}", key.sign(&claims))
        };
        let token =
            sign(json!({"email": "alice@example.com", "email_verified": true, "custom:roles": ["a,b", "c", 7]}));
        let request = with_headers(
            "GET",
            "/items/1",
            &[("authorization", &token), ("X_User_Email", "mallory@example.com"), ("x-tenant", "other")],
        );
        let decision = authorizer.authorize(&request, NOW);
        assert_eq!(decision.status(), 200, "{}", decision.reason);
        let sent: BTreeMap<&str, &str> =
            decision.upstream_headers.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
        assert_eq!(sent.get("x-user-email"), Some(&"alice@example.com"));
        assert_eq!(sent.get("x-email-verified"), Some(&"true"));
        assert_eq!(sent.get("x-roles"), Some(&"a%2Cb,c,7"));
        assert_eq!(sent.get("x-tenant"), None, "an absent claim sends no header");
        assert_eq!(decision.remove_headers, vec!["X_User_Email".to_owned(), "x-tenant".to_owned()]);
        // Strings are one-element lists: encoded the same way, so no reader trims or splits them differently.
        for (claims, header, value) in [
            (json!({"custom:tenant": " acme"}), "x-tenant", "%20acme"),
            (json!({"custom:tenant": "acme\u{a0}"}), "x-tenant", "acme%C2%A0"),
            (json!({"custom:tenant": "acme\r\nx-admin: 1"}), "x-tenant", "acme%0D%0Ax-admin:%201"),
            (json!({"custom:roles": "a,b"}), "x-roles", "a%2Cb"),
            (json!({"custom:ROLES": ["a", "b"]}), "x-roles", "a,b"),
        ] {
            let decision = authorizer
                .authorize(&with_headers("GET", "/items/1", &[("authorization", &sign(claims.clone()))]), NOW);
            let sent =
                decision.upstream_headers.iter().find(|(name, _)| name == header).map(|(_, value)| value.as_str());
            assert_eq!(sent, Some(value), "{claims}");
        }
        for (claims, why) in [
            (json!({"custom:tenant": "acme", "custom:Tenant": "evil"}), "two letter cases"),
            (json!({"custom:tenant": {"name": "acme"}}), "not a string"),
            (json!({"custom:tenant": null}), "not a string"),
            (json!({"custom:roles": [["a"]]}), "a list holding"),
        ] {
            let decision = authorizer
                .authorize(&with_headers("GET", "/items/1", &[("authorization", &sign(claims.clone()))]), NOW);
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

    /// An unverified token never goes upstream: public routes and preflights drop the token's header; a verified
    /// one goes on unless `forward_token` is `never`. Other headers stay.
    #[test]
    fn the_token_header_goes_upstream_only_when_verified() {
        let key = DevKey::generate_rsa("k1").unwrap();
        let id = format!("Bearer {}", key.sign(&CognitoClaims::id(ISSUER, "app", "alice", NOW).to_json()));
        let public = json!({"routes": [
            {"method": "GET", "path": "/health", "auth": "none"}, {"method": "ANY", "path": "/{proxy+}", "token_use": ["id"]}]});
        let mut never = public.clone();
        never["forward_token"] = json!("never");
        never["bypass_cors_preflight"] = json!(true);
        let (default, never) = (migrated(&key, public), migrated(&key, never));
        let sent = [("authorization", id.as_str()), ("x-other", "kept")];
        let removed = |authorizer: &Authorizer, method: &str, path: &str, extra: &[(&str, &str)]| {
            let mut headers = sent.to_vec();
            headers.extend_from_slice(extra);
            let decision = authorizer.authorize(&with_headers(method, path, &headers), NOW);
            assert_eq!(decision.status(), 200, "{method} {path}: {}", decision.reason);
            decision.remove_headers
        };
        assert_eq!(removed(&default, "GET", "/health", &[]), ["authorization"]);
        assert_eq!(removed(&default, "GET", "/things", &[]), Vec::<String>::new());
        assert_eq!(removed(&never, "GET", "/things", &[]), ["authorization"]);
        assert_eq!(removed(&never, "GET", "/health", &[("Authorization", "x")]), ["authorization", "Authorization"]);
        let preflight = [("origin", "https://app.example"), ("access-control-request-method", "DELETE")];
        assert_eq!(removed(&never, "OPTIONS", "/things", &preflight), ["authorization"]);
        let other = migrated(&key, json!({"token_source": {"header": "X-Id-Token"}, "forward_token": "never"}));
        let headers = [("x-id-token", id.as_str()), ("authorization", "Basic abc")];
        let decision = other.authorize(&with_headers("GET", "/items/1", &headers), NOW);
        assert_eq!((decision.status(), decision.remove_headers.as_slice()), (200, &["x-id-token".to_owned()][..]));
        // A Bearer credential in `Authorization` is none the filter verified when the token comes from elsewhere:
        // removed on every route, whatever `forward_token` says; other schemes are the upstream's own.
        let kept = migrated(&key, json!({"token_source": {"header": "X-Id-Token"}}));
        for (value, removed) in [
            ("Bearer forged", true),
            ("bearer\tforged", true),
            ("BEARER", true),
            ("Basic abc", false),
            ("Bearerish x", false),
        ] {
            let headers = [("x-id-token", id.as_str()), ("Authorization", value)];
            let decision = kept.authorize(&with_headers("GET", "/items/1", &headers), NOW);
            assert_eq!(decision.status(), 200, "{value}: {}", decision.reason);
            assert_eq!(decision.remove_headers.contains(&"Authorization".to_owned()), removed, "{value}");
        }
        // A cookie cannot be taken out of its header yet: refused rather than forwarded while the setting says never.
        let err = Authorizer::from_json(
            json!({"api": {"region": "us-east-1", "account_id": "123456789012", "api_id": "a", "stage": "dev"},
                   "issuers": [{"issuer": ISSUER, "jwks": key.jwks(), "token_use": ["id"], "client_ids": ["app"]}],
                   "token_source": {"cookie": "id"}, "forward_token": "never"})
            .to_string()
            .as_bytes(),
        )
        .unwrap_err();
        assert_eq!(err.path, "forward_token", "{err}");
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
        parts[1] =
            base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, forged_payload.to_string());
        let forged = parts.join(".");
        let decision = authorizer.authorize(&request("GET", &forged), NOW);
        assert_eq!(decision.reason, Reason::Token(TokenError::BadSignature));
    }
}
