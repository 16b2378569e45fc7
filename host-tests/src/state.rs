//! The per-VM state host functions read and change (wasmtime's store data).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use wasmtime::{Memory, StoreLimits, TypedFunc};

use crate::abi::{LogLevel, MetricKind, Status};
use crate::headers::HeaderMap;
use crate::record::{Call, Direction, LogLine};
use crate::shared::Shared;

/// Which host functions the guest may call right now (Envoy's "restricted callbacks").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Restriction {
    None,
    /// `_initialize`, `_start`, `main`: only logging, WASI and emscripten helpers.
    Start,
    /// Inside the guest allocator: only logging, clocks and `poll_oneoff`.
    Malloc,
}

/// A `proxy_send_local_response` the filter asked for.
#[derive(Debug, Clone)]
pub(crate) struct LocalReply {
    pub(crate) status: u32,
    pub(crate) details: String,
    pub(crate) body: Vec<u8>,
    pub(crate) headers: Vec<(Vec<u8>, Vec<u8>)>,
    /// The `grpc_status` argument as Envoy reads it (an unsigned word; -1 reads as 4294967295).
    pub(crate) grpc_status: u32,
}

/// The one HTTP stream in flight.
#[derive(Debug)]
pub(crate) struct Stream {
    pub(crate) id: u32,
    pub(crate) root: u32,
    pub(crate) request_headers: HeaderMap,
    /// Envoy's `request_headers_` is set: from `proxy_on_request_headers` until the filter continues.
    pub(crate) request_live: bool,
    /// The request's trailers, when it has any.
    pub(crate) request_trailers: Option<HeaderMap>,
    /// Envoy's `request_trailers_` is set: from `proxy_on_request_trailers` until the filter continues.
    pub(crate) request_trailers_live: bool,
    pub(crate) response_headers: Option<HeaderMap>,
    pub(crate) response_live: bool,
    pub(crate) response_body: Vec<u8>,
    pub(crate) response_body_live: bool,
    /// Inside `proxy_on_log`: maps are read-only and missing ones read as `NOT_FOUND`.
    pub(crate) access_log: bool,
    /// Values written with `proxy_set_property` (Envoy's filter state, `wasm.` prefix).
    pub(crate) filter_state: BTreeMap<Vec<u8>, Vec<u8>>,
    pub(crate) local_replies: Vec<LocalReply>,
    pub(crate) continue_requested: bool,
    pub(crate) reset_requested: bool,
}

impl Stream {
    pub(crate) fn new(id: u32, root: u32, headers: HeaderMap, trailers: Option<HeaderMap>) -> Self {
        Stream {
            id,
            root,
            request_headers: headers,
            request_live: false,
            request_trailers: trailers,
            request_trailers_live: false,
            response_headers: None,
            response_live: false,
            response_body: Vec::new(),
            response_body_live: false,
            access_log: false,
            filter_state: BTreeMap::new(),
            local_replies: Vec::new(),
            continue_requested: false,
            reset_requested: false,
        }
    }
}

/// The time `proxy_get_current_time_nanoseconds` reports.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Clock {
    System,
    Fixed(u64),
}

/// Store data of one VM.
pub(crate) struct HostState {
    pub(crate) limits: StoreLimits,
    /// Distinguishes the VMs started from one host (shared queues notify the VM that registered them).
    pub(crate) vm: u64,
    pub(crate) shared: Arc<Shared>,
    pub(crate) memory: Option<Memory>,
    pub(crate) malloc: Option<TypedFunc<i32, i32>>,
    /// The allocator's export name (`malloc` or `proxy_on_memory_allocate`), for call records.
    pub(crate) malloc_name: &'static str,
    pub(crate) restriction: Restriction,
    /// The context the host called into.
    pub(crate) active: u32,
    /// Set by `proxy_set_effective_context` for the rest of the callback.
    pub(crate) effective: Option<u32>,
    /// Live root contexts (the newest serves new streams).
    pub(crate) roots: BTreeSet<u32>,
    /// Root contexts whose `proxy_on_done` returned false, waiting for `proxy_done`.
    pub(crate) pending_done: BTreeSet<u32>,
    /// Root contexts released by `proxy_done`, to get `proxy_on_delete` after the current callback.
    pub(crate) pending_delete: Vec<u32>,
    pub(crate) vm_config: Vec<u8>,
    /// Envoy's `temp_plugin_`: the plugin configuration is readable only while the root context is created and
    /// configured.
    pub(crate) plugin_config: Option<Vec<u8>>,
    pub(crate) stream: Option<Stream>,
    /// Streams the filter paused and left waiting (see `Plugin::start_request`), until it resumes or answers them.
    pub(crate) parked: Vec<Stream>,
    /// HTTP calls started during the current callback, made after it.
    pub(crate) pending_http_calls: Vec<crate::http_call::PendingCall>,
    /// The answer being delivered by `proxy_on_http_call_response`.
    pub(crate) http_call_response: Option<crate::http_call::CallResponse>,
    pub(crate) properties: BTreeMap<Vec<u8>, Vec<u8>>,
    pub(crate) log_level: LogLevel,
    pub(crate) logs: Vec<LogLine>,
    pub(crate) calls: Vec<Call>,
    pub(crate) clock: Clock,
    pub(crate) monotonic_origin: std::time::Instant,
    pub(crate) metric_ids: HashMap<u32, (MetricKind, String)>,
    pub(crate) next_metric_id: [u32; 3],
    pub(crate) tick_periods: BTreeMap<u32, u32>,
    pub(crate) next_callout_id: u32,
    pub(crate) grpc_calls: BTreeSet<u32>,
    pub(crate) grpc_streams: BTreeSet<u32>,
    /// Set by `proxy_send_local_response`: the filter's return value is overridden with "stop".
    pub(crate) stop_iteration: bool,
    pub(crate) pending_queue_ready: Vec<(u32, u32)>,
    pub(crate) random_state: u64,
    /// The filter state of the last stream, kept after it ends (as Envoy's access logs read it).
    pub(crate) last_filter_state: BTreeMap<Vec<u8>, Vec<u8>>,
    /// `env` functions made to answer a status without doing anything (set by tests; Envoy has no such switch).
    pub(crate) injected_failures: HashMap<String, Status>,
}

impl HostState {
    pub(crate) fn new(vm: u64, shared: Arc<Shared>, limits: StoreLimits) -> Self {
        HostState {
            limits,
            vm,
            shared,
            memory: None,
            malloc: None,
            malloc_name: "malloc",
            restriction: Restriction::None,
            active: 0,
            effective: None,
            roots: BTreeSet::new(),
            pending_done: BTreeSet::new(),
            pending_delete: Vec::new(),
            vm_config: Vec::new(),
            plugin_config: None,
            stream: None,
            parked: Vec::new(),
            pending_http_calls: Vec::new(),
            http_call_response: None,
            properties: BTreeMap::new(),
            log_level: LogLevel::Trace,
            logs: Vec::new(),
            calls: Vec::new(),
            clock: Clock::System,
            monotonic_origin: std::time::Instant::now(),
            metric_ids: HashMap::new(),
            next_metric_id: [0, 1, 2],
            tick_periods: BTreeMap::new(),
            next_callout_id: 0,
            grpc_calls: BTreeSet::new(),
            grpc_streams: BTreeSet::new(),
            stop_iteration: false,
            pending_queue_ready: Vec::new(),
            random_state: seed(),
            last_filter_state: BTreeMap::new(),
            injected_failures: HashMap::new(),
        }
    }

    /// Whether `id` names a context of this VM (0 is the VM context).
    pub(crate) fn context_exists(&self, id: u32) -> bool {
        id == 0
            || self.roots.contains(&id)
            || self.pending_done.contains(&id)
            || self.stream.as_ref().is_some_and(|s| s.id == id)
            || self.parked.iter().any(|s| s.id == id)
    }

    /// The context host functions act on: the effective context if it still exists, else the active one.
    pub(crate) fn target(&self) -> u32 {
        match self.effective {
            Some(id) if self.context_exists(id) => id,
            _ => self.active,
        }
    }

    /// The stream, when host functions act on it.
    pub(crate) fn target_stream(&self) -> Option<&Stream> {
        let t = self.target();
        self.stream.as_ref().filter(|s| s.id == t).or_else(|| self.parked.iter().find(|s| s.id == t))
    }

    /// The stream, mutably, when host functions act on it.
    pub(crate) fn target_stream_mut(&mut self) -> Option<&mut Stream> {
        let t = self.target();
        match self.stream.as_mut().filter(|s| s.id == t) {
            Some(stream) => Some(stream),
            None => self.parked.iter_mut().find(|s| s.id == t),
        }
    }

    /// The root context of the target context (Envoy's `root_context()`).
    pub(crate) fn target_root(&self) -> u32 {
        self.target_stream().map_or(self.target(), |s| s.root)
    }

    pub(crate) fn now_nanos(&self) -> u64 {
        match self.clock {
            Clock::Fixed(n) => n,
            Clock::System => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
                .unwrap_or(0),
        }
    }

    pub(crate) fn monotonic_nanos(&self) -> u64 {
        u64::try_from(self.monotonic_origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    pub(crate) fn log(&mut self, level: LogLevel, message: &[u8]) {
        // Envoy's logger drops lines below its level.
        if level >= self.log_level {
            self.logs.push(LogLine { level, message: String::from_utf8_lossy(message).into_owned() });
        }
    }

    pub(crate) fn record(
        &mut self,
        direction: Direction,
        context_id: u32,
        function: &'static str,
        args: String,
        result: String,
    ) -> usize {
        self.calls.push(crate::record::Call { direction, context_id, function, args, result });
        self.calls.len().saturating_sub(1)
    }

    pub(crate) fn set_result(&mut self, index: usize, result: String) {
        if let Some(c) = self.calls.get_mut(index) {
            c.result = result;
        }
    }

    /// Pseudo-random bytes for `random_get` (xorshift seeded per VM; not for cryptography, like the rest of a test
    /// host).
    pub(crate) fn random_bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let mut x = self.random_state;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.random_state = x;
            out.extend_from_slice(&x.to_le_bytes());
        }
        out.truncate(n);
        out
    }
}

fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x5eed);
    h.finish() | 1
}
