//! The proxy-wasm filter: the root context compiles the configuration once; each request is extract →
//! authorize → render. No policy or token logic lives here. The SDK provides the ABI exports and context
//! dispatch; host calls go through `host`, which never panics.

mod fetch;
mod host;
mod password;

use super::header_map::{decode_header_map, decode_request};
use crate::config::LogLevel as ConfiguredLevel;
use crate::decision::{Code, DecisionRecord, Verdict};
use crate::token::CacheStats;
use crate::{Authorizer, HttpRequest};
use host::{Level, Map};
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};
use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;

const INTERNAL_ERROR_BODY: &str = r#"{"message":"Internal server error"}"#;
/// gRPC INTERNAL, for requests refused without a decision.
const GRPC_INTERNAL: u32 = 13;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Trace);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(FilterRoot::default()) });
}}

/// Counters visible in Envoy's stats as `wasmcustom.authz.*` (in `/stats/prometheus` as `authz_*`), named as
/// Envoy's own filters name theirs (`jwt_authn.allowed`, `jwt_authn.jwks_fetch_failed`): one per decision code,
/// so that each request moves exactly one of them, and the configuration and cache counters.
#[derive(Clone, Copy, Default)]
struct Metrics {
    /// By `Code as usize`, in the order of `Code::ALL`.
    decisions: [Option<u32>; Code::ALL.len()],
    config_loaded: Option<u32>,
    config_rejected: Option<u32>,
    cache_hit: Option<u32>,
    cache_miss: Option<u32>,
    cache_eviction: Option<u32>,
    /// `jwks_fetch`, `jwks_fetch_success`, `jwks_fetch_failed`, `jwks_loaded`, `jwks_paused`.
    fetch: fetch::FetchMetrics,
    /// `password_exchange`, its outcomes by kind, `password_cache_hit`.
    password: password::PasswordMetrics,
}

/// The counters' prefix.
const METRIC_PREFIX: &str = "authz.";

impl Metrics {
    fn define() -> Self {
        let counter = |name: &str| host::define_counter(&format!("{METRIC_PREFIX}{name}")).ok();
        let mut decisions = [None; Code::ALL.len()];
        for (slot, code) in decisions.iter_mut().zip(Code::ALL) {
            *slot = counter(code.as_str());
        }
        Self {
            decisions,
            config_loaded: counter("config_loaded"),
            config_rejected: counter("config_rejected"),
            cache_hit: counter("cache_hit"),
            cache_miss: counter("cache_miss"),
            cache_eviction: counter("cache_eviction"),
            fetch: fetch::FetchMetrics {
                started: counter("jwks_fetch"),
                success: counter("jwks_fetch_success"),
                failed: counter("jwks_fetch_failed"),
                loaded: counter("jwks_loaded"),
                paused: counter("jwks_paused"),
            },
            password: password::PasswordMetrics::define(counter),
        }
    }

    fn bump(id: Option<u32>) {
        Self::add(id, 1);
    }

    fn add(id: Option<u32>, by: u64) {
        if let (Some(id), Ok(by)) = (id, i64::try_from(by)) {
            if by > 0 {
                host::increment_by(id, by);
            }
        }
    }

    /// Counts one decided request: one host call.
    fn count(&self, code: Code) {
        Self::bump(self.decisions.get(code as usize).copied().flatten());
    }

    /// Adds what the cache did since `from` to the cache counters.
    fn add_cache(&self, from: CacheStats, to: CacheStats) {
        Self::add(self.cache_hit, to.hits.saturating_sub(from.hits));
        Self::add(self.cache_miss, to.misses.saturating_sub(from.misses));
        Self::add(self.cache_eviction, to.evictions.saturating_sub(from.evictions));
    }
}

/// How often the cache counters are brought up to date. They are counted in the VM and added to Envoy's counters
/// on this tick, not per request: a cached request would otherwise pay a second host call.
const CACHE_FLUSH_MILLIS: u32 = 1000;

/// Configuration warnings logged one per line at load; the rest are counted in one more line.
const LOGGED_WARNINGS: usize = 20;

/// Envoy's `%RESPONSE_CODE_DETAILS%` for a local reply: `authz_` and the code.
fn details(code: Code) -> &'static str {
    match code {
        Code::Allowed => "authz_allowed",
        Code::PublicRoute => "authz_public_route",
        Code::CorsPreflight => "authz_cors_preflight",
        Code::TokenMissing => "authz_token_missing",
        Code::TokenMalformed => "authz_token_malformed",
        Code::TokenExpired => "authz_token_expired",
        Code::TokenNotYetValid => "authz_token_not_yet_valid",
        Code::TokenSignature => "authz_token_signature",
        Code::TokenIssuer => "authz_token_issuer",
        Code::TokenUnknownKey => "authz_token_unknown_key",
        Code::TokenClient => "authz_token_client",
        Code::TokenUse => "authz_token_use",
        Code::TokenScope => "authz_token_scope",
        Code::TokenClaims => "authz_token_claims",
        Code::ImplicitDeny => "authz_implicit_deny",
        Code::ExplicitDeny => "authz_explicit_deny",
        Code::NoRoute => "authz_no_route",
        Code::BadMethod => "authz_bad_method",
        Code::MethodOverride => "authz_method_override",
        Code::BadPath => "authz_bad_path",
        Code::HeadersTooLarge => "authz_headers_too_large",
        Code::UriTooLong => "authz_uri_too_long",
        Code::InternalError => "authz_internal_error",
        Code::PasswordRefused => "authz_password_refused",
        Code::PasswordExchangeFailed => "authz_password_exchange_failed",
    }
}

/// The host's level for a configured one.
fn host_level(level: ConfiguredLevel) -> Level {
    match level {
        ConfiguredLevel::Trace => Level::Trace,
        ConfiguredLevel::Debug => Level::Debug,
        ConfiguredLevel::Info => Level::Info,
        ConfiguredLevel::Warn => Level::Warn,
        ConfiguredLevel::Error => Level::Error,
    }
}

/// What every request of one VM reuses, so that a warm VM decides a request without allocating for it: the
/// decoded request (its strings keep their capacity from one request to the next) and the decision record.
#[derive(Default)]
struct Scratch {
    request: HttpRequest,
    record: String,
    log: String,
}

/// Header maps larger than this are not kept in [`Scratch`] after their request: a hostile request's buffers
/// would otherwise stay allocated for the life of the VM.
const SCRATCH_KEEP_BYTES: usize = 16 * 1024;

#[derive(Default)]
struct FilterRoot {
    authorizer: Option<Rc<Authorizer>>,
    metrics: Metrics,
    scratch: Rc<RefCell<Scratch>>,
    /// The cache counts of `authorizer` already added to Envoy's counters.
    flushed: CacheStats,
    /// The password cache hits of `authorizer` already added to Envoy's counters.
    flushed_password_hits: u64,
    /// The key sources of `authorizer` that are fetched (`remote_jwks`), shared with its requests.
    sources: Option<Rc<RefCell<fetch::Sources>>>,
    /// The tick period asked for last.
    tick_millis: u32,
}

/// Decides again requests that waited for keys, in their own context; none of them waits again.
fn resume(waiters: Vec<fetch::Waiter>) {
    for waiter in waiters {
        if host::set_effective_context(waiter.context_id).is_err() {
            // The request ended meanwhile.
            continue;
        }
        if let Decided::Act(Action::Continue) = waiter.core.decide(|_, _, _| None, false) {
            if let Err(status) = host::continue_request() {
                host::log(Level::Error, &format!("authz: cannot resume a request: status {}", status.0));
            }
        }
    }
}

impl FilterRoot {
    /// Asks for ticks every `millis` unless that is the period already.
    fn tick_every(&mut self, millis: u32) {
        if self.tick_millis != millis {
            match host::set_tick_period(millis) {
                Ok(()) => self.tick_millis = millis,
                Err(status) => host::log(
                    Level::Warn,
                    &format!("authz: no tick, so no cache counters or key refresh: status {}", status.0),
                ),
            }
        }
    }

    /// Key fetches and waiting requests: what the tick and a fetch's answer both end with.
    fn settle_sources(&mut self, now: u64) {
        let Some(sources) = self.sources.clone() else { return };
        let Ok(mut borrowed) = sources.try_borrow_mut() else { return };
        let settled = borrowed.settled(now);
        let fast = borrowed.wants_fast_tick();
        drop(borrowed);
        resume(settled);
        self.tick_every(if fast { fetch::FAST_TICK_MILLIS } else { CACHE_FLUSH_MILLIS });
    }

    /// Brings the cache counters up to date.
    fn flush_cache_stats(&mut self) {
        if let Some(authorizer) = &self.authorizer {
            let now = authorizer.cache_stats();
            self.metrics.add_cache(self.flushed, now);
            self.flushed = now;
            let hits = authorizer.password_cache_hits();
            Metrics::add(self.metrics.password.cache_hit, hits.saturating_sub(self.flushed_password_hits));
            self.flushed_password_hits = hits;
        }
    }
}

impl Context for FilterRoot {
    fn on_done(&mut self) -> bool {
        self.flush_cache_stats();
        if let Some(sources) = self.sources.take() {
            let waiting = sources.try_borrow_mut().map(|mut s| s.drain()).unwrap_or_default();
            resume(waiting);
        }
        true
    }

    fn on_http_call_response(&mut self, token_id: u32, _num_headers: usize, _body_size: usize, _num_trailers: usize) {
        let (Some(sources), Some(authorizer), Ok(now)) =
            (self.sources.clone(), self.authorizer.clone(), host::now_seconds())
        else {
            return;
        };
        if let Ok(mut sources) = sources.try_borrow_mut() {
            sources.on_response(token_id, &authorizer, now);
        }
        self.settle_sources(now);
    }
}

impl RootContext for FilterRoot {
    fn on_vm_start(&mut self, _vm_configuration_size: usize) -> bool {
        self.metrics = Metrics::define();
        true
    }

    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let bytes = match host::plugin_configuration() {
            Ok(bytes) => bytes,
            Err(status) => {
                host::log(Level::Error, &format!("authz: cannot read the plugin configuration: status {}", status.0));
                return false;
            }
        };
        match Authorizer::from_json(&bytes) {
            Ok(mut authorizer) => {
                if authorizer.config().password_auth().is_some() {
                    // Without a key no password is remembered, and Basic requests are refused (503).
                    match password::vm_key(&bytes) {
                        Some(key) => authorizer = authorizer.with_password_key(key),
                        None => {
                            host::log(Level::Error, "authz: cannot read the clock: Basic credentials will be refused")
                        }
                    }
                }
                // One line per warning up to a cap, then their number: each line is a host call and an Envoy log
                // write in every VM, and a generated configuration can earn thousands (8,000 in the scaling
                // bench's, 15 ms of its load). `authz config validate` lists every one.
                let warnings = authorizer.take_warnings();
                for warning in warnings.iter().take(LOGGED_WARNINGS) {
                    host::log(Level::Warn, &format!("authz: configuration warning: {warning}"));
                }
                if let Some(more) = warnings.len().checked_sub(LOGGED_WARNINGS).filter(|more| *more > 0) {
                    host::log(
                        Level::Warn,
                        &format!("authz: {more} more configuration warnings (`authz config validate` lists every one)"),
                    );
                }
                drop(warnings);
                // The replaced configuration's cache counts go out first; the new cache starts from zero.
                self.flush_cache_stats();
                self.flushed = CacheStats::default();
                self.flushed_password_hits = 0;
                let authorizer = Rc::new(authorizer);
                self.authorizer = Some(Rc::clone(&authorizer));
                // Requests that waited under the replaced configuration are decided by it now.
                if let Some(old) = self.sources.take() {
                    let waiting = old.try_borrow_mut().map(|mut s| s.drain()).unwrap_or_default();
                    resume(waiting);
                }
                let mut sources = fetch::Sources::new(&authorizer, self.metrics.fetch);
                let fast = !sources.is_empty();
                if fast {
                    // Keys another VM fetched go in service now; fetches start on the first tick, when the host
                    // has its clusters.
                    sources.configure(&authorizer);
                    self.sources = Some(Rc::new(RefCell::new(sources)));
                }
                self.tick_millis = 0;
                self.tick_every(if fast { fetch::FAST_TICK_MILLIS } else { CACHE_FLUSH_MILLIS });
                Metrics::bump(self.metrics.config_loaded);
                host::log(Level::Info, "authz: configuration loaded");
                true
            }
            Err(err) => {
                // The previous configuration, if any, keeps serving.
                Metrics::bump(self.metrics.config_rejected);
                host::log(Level::Error, &format!("authz: configuration refused: {err}"));
                false
            }
        }
    }

    fn on_tick(&mut self) {
        self.flush_cache_stats();
        let (Some(sources), Some(authorizer), Ok(now)) =
            (self.sources.clone(), self.authorizer.clone(), host::now_seconds())
        else {
            return;
        };
        if let Ok(mut sources) = sources.try_borrow_mut() {
            sources.poll(&authorizer, now);
        }
        self.settle_sources(now);
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(FilterRequest {
            core: RequestCore {
                authorizer: self.authorizer.clone(),
                metrics: self.metrics,
                scratch: Rc::clone(&self.scratch),
                stage: Rc::new(Cell::new(Stage::Undecided)),
            },
            context_id,
            sources: self.sources.clone(),
            exchange: None,
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// Where a request stands. Only a forwarded request's later parts (its trailers) may go on; a refused one stays
/// refused whatever arrives after the refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Undecided,
    /// Paused until its issuer's keys are fetched; the root context decides it then.
    Waiting,
    Forwarded,
    Refused,
}

/// What deciding a request's headers came to.
enum Decided {
    /// What to tell the host.
    Act(Action),
    /// Wait for a fetch of the keys of this source (an index into `fetch::Sources`), at this time.
    Wait(usize, u64),
    /// Wait for this password exchange, which the request's own context started.
    Exchange(password::Pending),
}

/// What a request needs to be decided, by its own callback or later by the root context.
#[derive(Clone)]
pub(super) struct RequestCore {
    authorizer: Option<Rc<Authorizer>>,
    metrics: Metrics,
    scratch: Rc<RefCell<Scratch>>,
    stage: Rc<Cell<Stage>>,
}

struct FilterRequest {
    core: RequestCore,
    context_id: u32,
    sources: Option<Rc<RefCell<fetch::Sources>>>,
    /// The password exchange this request waits for.
    exchange: Option<password::Pending>,
}

impl Context for FilterRequest {
    /// The answer of this request's password exchange: decided again now, without another exchange.
    fn on_http_call_response(&mut self, token_id: u32, _num_headers: usize, _body_size: usize, _num_trailers: usize) {
        let Some(pending) = self.exchange.take() else { return };
        let (Some(authorizer), Ok(now)) = (self.core.authorizer.clone(), host::now_seconds()) else {
            self.core.internal_error("cannot read the clock after a password exchange");
            return;
        };
        if !password::finish(&pending, token_id, &authorizer, &self.core.metrics.password, now) {
            self.exchange = Some(pending);
            return;
        }
        // A token whose key is not fetched yet waits for the fetch as a bearer token's would (decided when it ends,
        // never allowed because it failed); it has not waited for keys before.
        let decided = self.core.decide(self.may_wait(), false);
        if let Action::Continue = self.act(decided) {
            if let Err(status) = host::continue_request() {
                host::log(Level::Error, &format!("authz: cannot resume a request: status {}", status.0));
            }
        }
    }

    fn on_done(&mut self) -> bool {
        if let Some(sources) = &self.sources {
            if let Ok(mut sources) = sources.try_borrow_mut() {
                sources.forget(self.context_id);
            }
        }
        true
    }
}

/// Overwrites what may hold a password once a request is decided: its `Authorization` values in the reused
/// scratch request, and the header map read from the host (the host's own copy is beyond the VM's reach).
fn wipe_credentials(request: &mut HttpRequest, bytes: &mut Vec<u8>) {
    use zeroize::Zeroize as _;
    for (name, value) in &mut request.headers {
        if name.eq_ignore_ascii_case("authorization") {
            value.zeroize();
        }
    }
    bytes.zeroize();
}

fn source_ip() -> Option<IpAddr> {
    let bytes = host::property(&["source", "address"]).ok()??;
    let text = std::str::from_utf8(&bytes).ok()?;
    // Envoy writes `ip:port` (`[v6]:port`); some hosts write the bare address.
    text.parse::<SocketAddr>().map(|addr| addr.ip()).or_else(|_| text.parse::<IpAddr>()).ok()
}

/// Whether the downstream connection is TLS: Envoy has `connection.tls_version` only then. Unknown on error.
fn secure_transport() -> Option<bool> {
    match host::property(&["connection", "tls_version"]) {
        Ok(Some(version)) => Some(!version.is_empty()),
        Ok(None) => Some(false),
        Err(_) => None,
    }
}

/// Keeps the decision record (its JSON) where operators look (Envoy's filter state, for access logs). A failure
/// costs the record, not the request: the answer itself is already decided.
fn record(json: &str) {
    if let Err(status) = host::set_property(crate::decision::DECISION_PROPERTY, json) {
        host::log(Level::Warn, &format!("authz: cannot record the decision: status {}", status.0));
    }
}

impl RequestCore {
    /// Answers locally and stops the request for good.
    fn respond(&self, reply: LocalReply<'_>) -> Action {
        self.stage.set(Stage::Refused);
        if let Err(err) =
            host::send_local_response(reply.status, reply.details, reply.headers, reply.body, Some(reply.grpc_status))
        {
            // Without a local reply the stream must still not reach the upstream: stay paused.
            host::log(Level::Error, &format!("authz: local reply failed: status {}", err.0));
        }
        Action::Pause
    }

    /// Refuses the request without a decision (500, gRPC INTERNAL).
    fn internal_error(&self, why: &str) -> Action {
        host::log(Level::Error, &format!("authz: {why}; request refused"));
        // Without a configuration nothing says the record is off: it is written.
        if self.authorizer.as_ref().is_none_or(|authorizer| authorizer.config().decision_record().records(false)) {
            record(&DecisionRecord::internal_error(why).to_json());
        }
        self.metrics.count(Code::InternalError);
        self.respond(LocalReply {
            status: 500,
            details: details(Code::InternalError),
            headers: &[("content-type", "application/json")],
            body: INTERNAL_ERROR_BODY,
            grpc_status: GRPC_INTERNAL,
        })
    }

    fn forward(&self, verdict: &Verdict<'_>) -> Result<(), host::HostStatus> {
        for name in verdict.remove_headers() {
            host::remove_header(Map::RequestHeaders, name)?;
        }
        // Every request header an upstream could take for an identity header is gone now (the whole map was
        // read, and each such name is in `remove_headers`), so no identity header is left to replace: adding
        // sets each one as replacing would, and costs Envoy one lookup less per header.
        for (name, value) in verdict.upstream_headers() {
            host::add_request_header(name, &value)?;
        }
        if let Some(path) = verdict.rewrite_path() {
            host::replace_request_header(":path", path)?;
        }
        Ok(())
    }

    /// Removes from the request trailers every field an upstream could read as an identity header or a token
    /// (`Authorizer::is_forbidden_trailer`): only the filter writes the first, only headers carry a verified token.
    fn clean_trailers(&self, authorizer: &Authorizer) -> Result<(), String> {
        let bytes = host::header_map_bytes(Map::RequestTrailers).map_err(|s| format!("status {}", s.0))?;
        let trailers = decode_header_map(&bytes).ok_or("a malformed trailer map")?;
        let mut removed: Vec<&str> = Vec::new();
        for (name, _) in &trailers {
            if authorizer.is_forbidden_trailer(name) && !removed.contains(&name.as_str()) {
                host::remove_header(Map::RequestTrailers, name).map_err(|s| format!("status {}", s.0))?;
                removed.push(name);
            }
        }
        Ok(())
    }
}

/// A local reply's parts.
struct LocalReply<'a> {
    status: u32,
    details: &'a str,
    headers: &'a [(&'a str, &'a str)],
    body: &'a str,
    grpc_status: u32,
}

impl RequestCore {
    /// Decides the request whose headers the host calls act on; `may_wait` says, for a token whose `kid` an issuer
    /// lacks, whether to wait for a fetch of that issuer's keys instead (nothing is logged, recorded or counted then);
    /// `may_exchange`, for a password not exchanged yet, whether to start its exchange and wait for it.
    fn decide(&self, may_wait: impl FnOnce(&Authorizer, &str, u64) -> Option<usize>, may_exchange: bool) -> Decided {
        let Some(authorizer) = self.authorizer.clone() else {
            return Decided::Act(self.internal_error("no configuration loaded"));
        };
        let Ok(mut bytes) = host::header_map_bytes(Map::RequestHeaders) else {
            return Decided::Act(self.internal_error("cannot read the request headers"));
        };
        let Ok(now) = host::now_seconds() else {
            return Decided::Act(self.internal_error("cannot read the clock"));
        };
        let scratch = Rc::clone(&self.scratch);
        // Requests of one VM run one at a time; should the scratch ever be in use, a fresh one does the same.
        let mut fresh = None;
        let mut borrowed = scratch.try_borrow_mut().ok();
        let Scratch { request, record: json, log } = match borrowed.as_deref_mut() {
            Some(scratch) => scratch,
            None => fresh.insert(Scratch::default()),
        };
        if decode_request(&bytes, request).is_none() {
            return Decided::Act(self.internal_error("cannot read the request headers"));
        }
        // Only what some policy can read is looked up: each is a host call on every request.
        request.secure_transport = if authorizer.reads_secure_transport() { secure_transport() } else { None };
        request.source_ip = if authorizer.reads_source_address() { source_ip() } else { None };
        let mut verdict = authorizer.decide(request, now);
        let passwords = authorizer.config().password_auth().is_some();
        if may_exchange && verdict.needs_password_exchange() {
            drop(verdict);
            let pending = password::start(&authorizer, request, &self.metrics.password, now);
            if let Some(pending) = pending {
                wipe_credentials(request, &mut bytes);
                return Decided::Exchange(pending);
            }
            // The call could not start: the failure is remembered, and this decision refuses the request.
            verdict = authorizer.decide(request, now);
        }
        if let Some(source) = verdict.unknown_key_issuer().and_then(|issuer| may_wait(&authorizer, issuer, now)) {
            drop(verdict);
            if passwords {
                wipe_credentials(request, &mut bytes);
            }
            return Decided::Wait(source, now);
        }
        let code = verdict.code();
        let levels = authorizer.config().decision_log();
        // Straight to the host, which drops a line below its level: asking for the level first would cost a host
        // call whenever the line is wanted, and save one only when it is not.
        if let Some(level) = if verdict.is_allowed() { levels.allow } else { levels.deny } {
            log.clear();
            // Writing into a String cannot fail.
            let _ = write!(
                log,
                "authz: {} {} {code}: {}",
                verdict.status(),
                crate::text::Untrusted(&request.method),
                verdict.reason()
            );
            host::log(host_level(level), log);
        }
        if authorizer.config().decision_record().records(verdict.is_allowed()) {
            verdict.write_record(json);
            record(json);
        }
        self.metrics.count(code);
        let action = if verdict.is_allowed() {
            match self.forward(&verdict) {
                Ok(()) => {
                    self.stage.set(Stage::Forwarded);
                    Action::Continue
                }
                Err(status) => self.internal_error(&format!("cannot rewrite the request headers: status {}", status.0)),
            }
        } else {
            let content_type = ("content-type", "application/json");
            let headers = match verdict.challenge() {
                Some(challenge) => [content_type, ("www-authenticate", challenge)],
                None => [content_type; 2],
            };
            let count = if verdict.challenge().is_some() { 2 } else { 1 };
            self.respond(LocalReply {
                status: u32::from(verdict.status()),
                details: details(code),
                headers: headers.get(..count).unwrap_or_default(),
                body: verdict.outcome.body().unwrap_or(INTERNAL_ERROR_BODY),
                grpc_status: verdict.outcome.grpc_status().unwrap_or(GRPC_INTERNAL),
            })
        };
        drop(verdict);
        let large = bytes.len() > SCRATCH_KEEP_BYTES;
        if passwords {
            wipe_credentials(request, &mut bytes);
        }
        if large {
            *request = HttpRequest::default();
            *json = String::new();
            *log = String::new();
        }
        Decided::Act(action)
    }
}

impl FilterRequest {
    /// Whether a token whose `kid` an issuer lacks should wait for a fetch of that issuer's keys: the source when so.
    fn may_wait(&self) -> impl FnOnce(&Authorizer, &str, u64) -> Option<usize> {
        let sources = self.sources.clone();
        move |authorizer: &Authorizer, issuer: &str, now: u64| {
            sources.as_ref()?.try_borrow_mut().ok()?.should_wait(authorizer, issuer, now)
        }
    }

    /// Carries out a decision: what to tell the host now (`Pause` while the request waits).
    fn act(&mut self, decided: Decided) -> Action {
        match decided {
            Decided::Act(action) => action,
            Decided::Exchange(pending) => {
                self.exchange = Some(pending);
                self.core.stage.set(Stage::Waiting);
                Action::Pause
            }
            Decided::Wait(source, now) => {
                let Some(sources) = &self.sources else { return self.core.internal_error("no key sources") };
                let Ok(mut sources) = sources.try_borrow_mut() else {
                    return self.core.internal_error("key sources busy");
                };
                sources.wait(self.context_id, source, now, self.core.clone());
                self.core.stage.set(Stage::Waiting);
                // The root context decides it when the fetch ends; it should look soon.
                if let Err(status) = host::set_tick_period(fetch::FAST_TICK_MILLIS) {
                    host::log(Level::Warn, &format!("authz: cannot hasten the tick: status {}", status.0));
                }
                Action::Pause
            }
        }
    }
}

impl HttpContext for FilterRequest {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let decided = self.core.decide(self.may_wait(), true);
        self.act(decided)
    }

    /// A body arriving while the headers wait must not let them go on (Envoy continues paused headers when a body
    /// callback continues), nor after a refusal.
    fn on_http_request_body(&mut self, _body_size: usize, _end_of_stream: bool) -> Action {
        match self.core.stage.get() {
            Stage::Waiting | Stage::Refused | Stage::Undecided => Action::Pause,
            Stage::Forwarded => Action::Continue,
        }
    }

    /// Runs only for requests that carry trailers (HTTP/2, or HTTP/1.1 with chunked trailers that Envoy keeps).
    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
        let core = &self.core;
        match core.stage.get() {
            Stage::Forwarded => {}
            // Envoy holds back the trailers of a request the filter stopped; should a host deliver them anyway,
            // continuing here would resume the refused or waiting request.
            Stage::Refused | Stage::Waiting => return Action::Pause,
            Stage::Undecided => return core.internal_error("request trailers before a decision on the headers"),
        }
        let Some(authorizer) = core.authorizer.clone() else {
            return core.internal_error("no configuration loaded");
        };
        match core.clean_trailers(&authorizer) {
            Ok(()) => Action::Continue,
            // The headers are upstream already; refusing now resets the upstream request before the trailers go.
            Err(why) => core.internal_error(&format!("cannot remove identity fields from the request trailers: {why}")),
        }
    }
}
