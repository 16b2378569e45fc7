//! Remote JWKS in the filter: the root context fetches each `remote_jwks` source through the host
//! (`proxy_http_call`), and every VM of one Envoy shares what one of them fetched.
//!
//! One record per source lives in the host's shared data (`FetchRecord`, beside the last good document) and is
//! changed only by compare-and-swap: a VM that wants a fetch (first keys, refresh, a token with an unknown `kid`
//! outside the penalty period) claims a lease in the record first, and only the VM whose claim lands calls the
//! identity provider. Every VM reads the record on its tick and loads a newer document, checked again by the same
//! rules. Requests that need keys not yet there wait (paused) and are decided again when the fetch ends, or when
//! their deadline passes; a failed fetch keeps the last good keys, so nothing is ever allowed on a failure.
//!
//! When the record does not exist yet, the first write cannot be conditional (the ABI's `cas` 0 means "whatever is
//! there"), so each VM writes an empty record at configuration, before any tick claims a fetch.

use super::host::{self, Level};
use super::RequestCore;
use crate::token::remote::{parse_fetched_jwks, FetchError, FetchRecord, FetchWhy, RemoteJwks, MAX_JWKS_BYTES};
use crate::Authorizer;

/// The tick period while a fetch or a waiting request needs the root context soon.
pub(super) const FAST_TICK_MILLIS: u32 = 50;
/// Seconds a request waits beyond the fetch's own lease before it is decided with the keys there are.
const WAIT_MARGIN_SECONDS: u64 = 2;
/// Attempts at a compare-and-swap write before giving up (another VM keeps writing).
const CAS_ATTEMPTS: usize = 4;

/// Counters of fetches (the `authz.jwks_*` metrics), by id.
#[derive(Clone, Copy, Default)]
pub(super) struct FetchMetrics {
    /// Fetches this VM started.
    pub started: Option<u32>,
    /// Fetches that brought a good key set.
    pub success: Option<u32>,
    /// Fetches that failed (call, status, or a document refused by the key checks).
    pub failed: Option<u32>,
    /// Key sets this VM put in service from another VM's fetch.
    pub loaded: Option<u32>,
    /// Requests paused until keys arrived.
    pub paused: Option<u32>,
}

/// One issuer's key source, as this VM knows it.
struct Source {
    /// Index of the issuer in configuration order.
    issuer: usize,
    remote: RemoteJwks,
    key: String,
    /// Generation of the keys this VM has in service; `None` before any.
    generation: Option<u64>,
    /// The shared record as last read or written.
    record: FetchRecord,
    /// A token named an unknown `kid` and a fetch for it may start.
    kid_wanted: bool,
}

/// A request paused until its issuer's keys change or a fetch ends.
pub(super) struct Waiter {
    pub context_id: u32,
    source: usize,
    since: u64,
    deadline: u64,
    generation: Option<u64>,
    pub core: RequestCore,
}

/// Every remote key source of one configuration, the calls under way and the requests waiting.
#[derive(Default)]
pub(super) struct Sources {
    sources: Vec<Source>,
    waiters: Vec<Waiter>,
    /// Calls under way: token and source.
    calls: Vec<(u32, usize)>,
    pub metrics: FetchMetrics,
}

impl Sources {
    /// The sources of `authorizer`'s issuers that have `remote_jwks`.
    pub fn new(authorizer: &Authorizer, metrics: FetchMetrics) -> Self {
        let sources = authorizer
            .config()
            .verifier()
            .issuers()
            .iter()
            .enumerate()
            .filter_map(|(issuer, config)| {
                let remote = config.remote()?.clone();
                Some(Source {
                    issuer,
                    key: remote.shared_key(),
                    remote,
                    generation: None,
                    record: FetchRecord::default(),
                    kid_wanted: false,
                })
            })
            .collect();
        Self { sources, waiters: Vec::new(), calls: Vec::new(), metrics }
    }

    /// Whether no issuer fetches its keys.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// At configuration: creates each missing shared record, and puts in service the keys another VM fetched.
    pub fn configure(&mut self, authorizer: &Authorizer) {
        for index in 0..self.sources.len() {
            if let Ok(None) = self.sources.get(index).map_or(Ok(None), |source| host::shared_data(&source.key)) {
                if let Some(source) = self.sources.get(index) {
                    // Unconditional (cas 0): every VM writes the same empty record, before any claims a fetch.
                    let _ = host::set_shared_data(&source.key, &FetchRecord::default().encode(b""), 0);
                }
            }
            self.sync(index, authorizer);
        }
    }

    /// Whether a request refused because `issuer` lacks its token's `kid` should wait for a fetch rather than be
    /// refused now; if so, the fetch is asked for. Source index when it should.
    pub fn should_wait(&mut self, authorizer: &Authorizer, issuer: &str, now: u64) -> Option<usize> {
        let issuers = authorizer.config().verifier().issuers();
        let index =
            self.sources.iter().position(|source| issuers.get(source.issuer).is_some_and(|i| i.issuer() == issuer))?;
        let fetching = self.calls.iter().any(|&(_, s)| s == index);
        let source = self.sources.get_mut(index)?;
        let record = source.record;
        if fetching || record.fetching(now) {
            return Some(index);
        }
        if source.generation.is_none() {
            // No keys yet: wait for the first fetch, unless the last one failed and the next waits for its retry.
            return (!record.failed).then_some(index);
        }
        if record.kid_fetch_allowed(now) {
            source.kid_wanted = true;
            return Some(index);
        }
        None
    }

    /// Keeps a paused request until [`Self::settled`] hands it back.
    pub fn wait(&mut self, context_id: u32, source: usize, now: u64, core: RequestCore) {
        let Some(lease) = self.sources.get(source).map(|s| u64::from(s.remote.timeout_ms).div_ceil(1000)) else {
            return;
        };
        let generation = self.sources.get(source).and_then(|s| s.generation);
        let deadline = now.saturating_add(lease).saturating_add(WAIT_MARGIN_SECONDS);
        self.waiters.push(Waiter { context_id, source, since: now, deadline, generation, core });
        super::Metrics::bump(self.metrics.paused);
    }

    /// Forgets a request that ended while it waited.
    pub fn forget(&mut self, context_id: u32) {
        self.waiters.retain(|waiter| waiter.context_id != context_id);
    }

    /// Whether the root context should tick fast: requests wait, a fetch is wanted, or no keys arrived yet.
    pub fn wants_fast_tick(&self) -> bool {
        !self.waiters.is_empty()
            || self
                .sources
                .iter()
                .any(|source| source.kid_wanted || (source.generation.is_none() && !source.record.failed))
    }

    /// On the root context's tick: loads what other VMs fetched, then starts the fetches that are due and that
    /// this VM wins the claim for.
    pub fn poll(&mut self, authorizer: &Authorizer, now: u64) {
        for index in 0..self.sources.len() {
            self.sync(index, authorizer);
            if self.calls.iter().any(|&(_, s)| s == index) {
                continue;
            }
            let Some(source) = self.sources.get_mut(index) else { continue };
            if source.kid_wanted && !source.record.kid_fetch_allowed(now) {
                // Another VM fetched for an unknown kid meanwhile: the penalty period runs for every VM.
                source.kid_wanted = false;
            }
            if let Some(why) = source.record.due(now, source.remote.refresh_seconds, source.kid_wanted) {
                self.start(index, why, now, authorizer);
            }
        }
    }

    /// Reads the shared record of source `index` and puts a newer document's keys in service. The record, its
    /// token and the document.
    fn sync(&mut self, index: usize, authorizer: &Authorizer) -> Option<(FetchRecord, u32, Vec<u8>)> {
        let source = self.sources.get_mut(index)?;
        let (record, cas, document) = match host::shared_data(&source.key) {
            Ok(Some((value, cas))) => match FetchRecord::decode(&value) {
                Some((record, document)) => (record, cas, document.to_vec()),
                None => (FetchRecord::default(), cas, Vec::new()),
            },
            Ok(None) => (FetchRecord::default(), 0, Vec::new()),
            Err(status) => {
                host::log(Level::Warn, &format!("authz: cannot read the shared JWKS record: status {}", status.0));
                return None;
            }
        };
        if record.generation != 0 && source.generation != Some(record.generation) && !document.is_empty() {
            match parse_fetched_jwks(&document) {
                Ok(keys) => {
                    authorizer.replace_fetched_keys(source.issuer, keys);
                    source.generation = Some(record.generation);
                    super::Metrics::bump(self.metrics.loaded);
                }
                Err(err) => host::log(Level::Error, &format!("authz: shared JWKS of `{}` refused: {err}", source.key)),
            }
        }
        source.record = record;
        Some((record, cas, document))
    }

    /// Writes the record of source `index` as `change` makes it from the current one (with `document` in place of
    /// the last good one when given), retrying when another VM wrote first. The record written, if any.
    fn update(
        &mut self,
        index: usize,
        authorizer: &Authorizer,
        change: impl Fn(&FetchRecord) -> FetchRecord,
        document: Option<&[u8]>,
    ) -> Option<FetchRecord> {
        for _ in 0..CAS_ATTEMPTS {
            let (record, cas, old) = self.sync(index, authorizer)?;
            let next = change(&record);
            let key = &self.sources.get(index)?.key;
            match host::set_shared_data(key, &next.encode(document.unwrap_or(&old)), cas) {
                Ok(()) => {
                    if let Some(source) = self.sources.get_mut(index) {
                        source.record = next;
                    }
                    return Some(next);
                }
                Err(host::HostStatus(host::CAS_MISMATCH)) => continue,
                Err(status) => {
                    host::log(Level::Warn, &format!("authz: cannot write the shared JWKS record: status {}", status.0));
                    return None;
                }
            }
        }
        None
    }

    /// Claims the fetch of source `index` (compare-and-swap on the record read last) and calls the identity
    /// provider when the claim lands.
    fn start(&mut self, index: usize, why: FetchWhy, now: u64, authorizer: &Authorizer) {
        let Some(source) = self.sources.get_mut(index) else { return };
        let claimed = source.record.claimed(now, why, source.remote.timeout_ms);
        // The claim must land on exactly the record read: anything else means another VM moved first.
        let value = match host::shared_data(&source.key) {
            Ok(Some((value, cas))) => match FetchRecord::decode(&value) {
                Some((record, document)) if record == source.record => Some((claimed.encode(document), cas)),
                _ => None,
            },
            Ok(None) => Some((claimed.encode(b""), 0)),
            Err(_) => None,
        };
        let Some((value, cas)) = value else { return };
        if host::set_shared_data(&source.key, &value, cas).is_err() {
            return;
        }
        source.record = claimed;
        if why == FetchWhy::UnknownKid {
            source.kid_wanted = false;
        }
        let remote = &source.remote;
        let headers = [
            (":method", "GET"),
            (":path", remote.path.as_str()),
            (":authority", remote.authority.as_str()),
            ("accept", "application/json"),
        ];
        super::Metrics::bump(self.metrics.started);
        host::log(Level::Info, &format!("authz: fetching the JWKS of cluster `{}` ({})", remote.cluster, why.as_str()));
        match host::http_call(&remote.cluster, &headers, remote.timeout_ms) {
            Ok(token) => self.calls.push((token, index)),
            Err(status) => {
                // The call never started: the lease is released at once.
                let err = FetchError::Call(format!("the host refused the call: status {}", status.0));
                self.failed(index, authorizer, &err);
            }
        }
    }

    /// An HTTP call answer arrived: the keys if good (put in service here, and shared), else the lease released
    /// and the last good keys kept. Whether the call was one of ours.
    pub fn on_response(&mut self, token: u32, authorizer: &Authorizer, now: u64) -> bool {
        let Some(position) = self.calls.iter().position(|&(t, _)| t == token) else { return false };
        let (_, index) = self.calls.swap_remove(position);
        let body = host::http_call_body(MAX_JWKS_BYTES + 1);
        let result = match (host::http_call_status(), body) {
            (Some(200), Ok(body)) => parse_fetched_jwks(&body).map(|keys| (keys, body)),
            (Some(status), Ok(_)) => Err(FetchError::Status(status)),
            // Envoy delivers a failed call (no upstream, reset, timeout) with no headers at all.
            (None, _) => Err(FetchError::Call("no answer (unreachable, reset or timed out)".to_owned())),
            (Some(_), Err(status)) => Err(FetchError::Call(format!("cannot read the body: status {}", status.0))),
        };
        match result {
            Ok((keys, body)) => {
                super::Metrics::bump(self.metrics.success);
                let count = keys.len();
                let written = self.update(index, authorizer, |record| record.succeeded(now), Some(&body));
                if let (Some(record), Some(source)) = (written, self.sources.get_mut(index)) {
                    source.generation = Some(record.generation);
                }
                if let Some(issuer) = self.sources.get(index).map(|s| s.issuer) {
                    authorizer.replace_fetched_keys(issuer, keys);
                }
                let cluster = self.sources.get(index).map(|s| s.remote.cluster.as_str()).unwrap_or_default();
                host::log(Level::Info, &format!("authz: JWKS from cluster `{cluster}`: {count} keys in service"));
            }
            Err(err) => self.failed(index, authorizer, &err),
        }
        true
    }

    /// A fetch that failed: counted and logged, the lease released, the last good keys kept.
    fn failed(&mut self, index: usize, authorizer: &Authorizer, err: &FetchError) {
        super::Metrics::bump(self.metrics.failed);
        let cluster = self.sources.get(index).map(|s| s.remote.cluster.clone()).unwrap_or_default();
        host::log(
            Level::Error,
            &format!("authz: JWKS fetch from cluster `{cluster}` failed: {err}; the keys in service stay"),
        );
        self.update(index, authorizer, FetchRecord::failed, None);
    }

    /// The waiting requests that can be decided now: their keys changed, a fetch ended since they came, or they
    /// waited long enough.
    pub fn settled(&mut self, now: u64) -> Vec<Waiter> {
        let (ready, waiting): (Vec<Waiter>, Vec<Waiter>) =
            std::mem::take(&mut self.waiters).into_iter().partition(|waiter| {
                let Some(source) = self.sources.get(waiter.source) else { return true };
                let in_flight = self.calls.iter().any(|&(_, s)| s == waiter.source) || source.record.fetching(now);
                source.generation != waiter.generation
                    || (!in_flight && source.record.attempt_at >= waiter.since && !source.kid_wanted)
                    || now >= waiter.deadline
            });
        self.waiters = waiting;
        ready
    }

    /// Every waiting request, to be decided now (the configuration is going away).
    pub fn drain(&mut self) -> Vec<Waiter> {
        std::mem::take(&mut self.waiters)
    }
}
