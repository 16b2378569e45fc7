//! [`Plugin`]: one running VM with its root context, driven through Envoy's callback sequences.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::{Instance, Store, StoreLimitsBuilder, Trap, TypedFunc, WasmParams, WasmResults};

use crate::abi::{LogLevel, Status};
use crate::error::HostError;
use crate::headers::HeaderMap;
use crate::linker::Refusal;
use crate::record::{Call, Direction, LogLine};
use crate::runtime::{Runtime, TICK};
use crate::shared::Metric;
use crate::state::{Clock, HostState, LocalReply, Restriction, Stream};

/// Envoy's wasmtime and V8 runtimes cap a VM's memory at 1 GiB.
const MAX_MEMORY: usize = 1 << 30;
/// Bound on rounds of deferred work (deletes, queue notifications) after one operation.
const MAX_DEFERRED_ROUNDS: usize = 64;

/// How one HTTP stream ended, as the downstream client and the upstream would see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpOutcome {
    /// The filter let the request through; the request headers (and trailers) as it left them (after its add,
    /// replace and remove calls), in Envoy's order.
    Continue {
        /// Headers sent upstream.
        request_headers: Vec<(String, String)>,
        /// Trailers sent upstream; `None` when the request had none.
        request_trailers: Option<Vec<(String, String)>>,
    },
    /// The filter answered with `proxy_send_local_response` and stopped the request. The reply went through the
    /// filter's own response callbacks, as Envoy's local replies do. To a gRPC request (`content-type:
    /// application/grpc`), Envoy answers HTTP 200, `content-type: application/grpc`, `grpc-status` (the filter's
    /// `grpc_status` argument, or Envoy's mapping of the HTTP status when that is not a gRPC code) and the body,
    /// percent-encoded, as `grpc-message`, with no body.
    LocalResponse {
        /// The HTTP status (`:status` after the filter's response callbacks).
        status: u32,
        /// The response headers without `:status`: the filter's headers (keys lower-cased), then
        /// `content-length` and a default `content-type: text/plain` when the body is not empty, as Envoy adds.
        headers: Vec<(String, String)>,
        /// The response body.
        body: Vec<u8>,
        /// The response code details, whitespace replaced by `_` as Envoy does.
        details: String,
    },
    /// The filter paused the request without answering or resuming it; Envoy would hold it until a timeout.
    Paused {
        /// The request headers as the filter left them.
        request_headers: Vec<(String, String)>,
        /// The request trailers as the filter left them (held back with the rest); `None` when there were none.
        request_trailers: Option<Vec<(String, String)>>,
    },
    /// The filter reset the stream with `proxy_close_stream`.
    Reset,
}

struct Callbacks {
    initialize: Option<TypedFunc<(), ()>>,
    start: Option<TypedFunc<(), ()>>,
    main: Option<TypedFunc<(i32, i32), i32>>,
    main_void: Option<TypedFunc<(), i32>>,
    context_create: Option<TypedFunc<(i32, i32), ()>>,
    vm_start: Option<TypedFunc<(i32, i32), i32>>,
    configure: Option<TypedFunc<(i32, i32), i32>>,
    request_headers: Option<TypedFunc<(i32, i32, i32), i32>>,
    request_trailers: Option<TypedFunc<(i32, i32), i32>>,
    response_headers: Option<TypedFunc<(i32, i32, i32), i32>>,
    response_body: Option<TypedFunc<(i32, i32, i32), i32>>,
    done: Option<TypedFunc<i32, i32>>,
    log: Option<TypedFunc<i32, ()>>,
    delete: Option<TypedFunc<i32, ()>>,
    tick: Option<TypedFunc<i32, ()>>,
    queue_ready: Option<TypedFunc<(i32, i32), ()>>,
    http_call_response: Option<TypedFunc<CallResponseArgs, ()>>,
}

/// `proxy_on_http_call_response(root, token, headers, body size, trailers)`.
type CallResponseArgs = (i32, i32, i32, i32, i32);

impl Callbacks {
    fn new(instance: &Instance, store: &mut Store<HostState>) -> Self {
        macro_rules! get {
            ($name:literal) => {
                instance.get_typed_func(&mut *store, $name).ok()
            };
        }
        Callbacks {
            initialize: get!("_initialize"),
            start: get!("_start"),
            main: get!("main"),
            main_void: get!("__main_void"),
            context_create: get!("proxy_on_context_create"),
            vm_start: get!("proxy_on_vm_start"),
            configure: get!("proxy_on_configure"),
            request_headers: get!("proxy_on_request_headers"),
            request_trailers: get!("proxy_on_request_trailers"),
            response_headers: get!("proxy_on_response_headers"),
            response_body: get!("proxy_on_response_body"),
            done: get!("proxy_on_done"),
            log: get!("proxy_on_log"),
            delete: get!("proxy_on_delete"),
            tick: get!("proxy_on_tick"),
            queue_ready: get!("proxy_on_queue_ready"),
            http_call_response: get!("proxy_on_http_call_response"),
        }
    }
}

/// A running VM with a configured root context, fed whole HTTP streams.
pub struct Plugin {
    runtime: Arc<Runtime>,
    store: Store<HostState>,
    cb: Callbacks,
    call_timeout: Duration,
    /// The root context new streams belong to.
    root: u32,
    /// Whether the current root context's `proxy_on_vm_start` and `proxy_on_configure` returned true.
    configured: bool,
    next_context_id: u32,
    failed: Option<String>,
    /// HTTP calls wait for [`Plugin::deliver_http_calls`] instead of being made after the callback that started them.
    manual_http_calls: bool,
    /// Outcomes of streams that waited (see [`Plugin::start_request`]), by stream id, until taken.
    finished: std::collections::HashMap<u32, HttpOutcome>,
}

/// How [`Plugin::start_request`] left a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// It ended during its request headers.
    Done(HttpOutcome),
    /// The filter paused it and it is still open (stream id): the filter may resume or answer it later, from
    /// another callback; [`Plugin::outcome`] tells how it ended.
    Waiting(u32),
}

impl Plugin {
    pub(crate) fn start(
        runtime: Arc<Runtime>,
        call_timeout: Duration,
        vm_config: &[u8],
        plugin_config: &[u8],
    ) -> Result<(Plugin, bool), HostError> {
        let limits = StoreLimitsBuilder::new()
            .memory_size(MAX_MEMORY)
            .instances(1)
            .memories(1)
            .tables(10_000)
            .table_elements(10_000)
            .build();
        let state = HostState::new(runtime.next_vm(), Arc::clone(&runtime.shared), limits);
        let mut store = Store::new(&runtime.engine, state);
        store.limiter(|s| &mut s.limits);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(ticks(call_timeout));
        store.data_mut().vm_config = vm_config.to_vec();
        store.data_mut().restriction = Restriction::Start;
        let instance = runtime.pre.instantiate(&mut store).map_err(|e| classify("instantiate", &e, call_timeout))?;
        let memory = instance.get_memory(&mut store, "memory");
        // Envoy prefers the deprecated `malloc` and falls back to `proxy_on_memory_allocate`.
        let (malloc, malloc_name) = match instance.get_typed_func::<i32, i32>(&mut store, "malloc") {
            Ok(f) => (Some(f), "malloc"),
            Err(_) => (
                instance.get_typed_func::<i32, i32>(&mut store, "proxy_on_memory_allocate").ok(),
                "proxy_on_memory_allocate",
            ),
        };
        store.data_mut().memory = memory;
        store.data_mut().malloc = malloc;
        store.data_mut().malloc_name = malloc_name;
        let cb = Callbacks::new(&instance, &mut store);
        let mut plugin = Plugin {
            runtime,
            store,
            cb,
            call_timeout,
            root: 0,
            configured: false,
            next_context_id: 1,
            failed: None,
            manual_http_calls: false,
            finished: std::collections::HashMap::new(),
        };
        plugin.run_start_functions()?;
        plugin.store.data_mut().restriction = Restriction::None;
        let (root, configured) = plugin.start_root(plugin_config)?;
        plugin.root = root;
        plugin.configured = configured;
        plugin.after_calls()?;
        Ok((plugin, configured))
    }

    /// Configure the plugin again as Envoy does on a configuration update: the new configuration is first
    /// tried on a fresh VM (Envoy's canary); if that VM's `proxy_on_configure` returns false the update is
    /// rejected and this VM never sees it. Otherwise this VM gets a new root context (`proxy_on_context_create`,
    /// `proxy_on_vm_start`, `proxy_on_configure`), later streams use it, and the old root context is retired
    /// (`proxy_on_done`, then `proxy_on_delete`). Returns whether the update was accepted. The canary's log
    /// lines are added to [`Plugin::logs`]; its calls are not in [`Plugin::host_calls`].
    pub fn reconfigure(&mut self, plugin_config: &[u8]) -> Result<bool, HostError> {
        self.check_alive()?;
        self.store.data_mut().calls.clear();
        let vm_config = self.store.data().vm_config.clone();
        let canary = Plugin::start(Arc::clone(&self.runtime), self.call_timeout, &vm_config, plugin_config);
        let (canary, accepted) = canary?;
        let canary_logs = canary.store.data().logs.clone();
        drop(canary);
        self.store.data_mut().logs.extend(canary_logs);
        if !accepted {
            return Ok(false);
        }
        let (root, configured) = self.start_root(plugin_config)?;
        let retired = if configured {
            let old = std::mem::replace(&mut self.root, root);
            self.configured = true;
            old
        } else {
            root
        };
        self.retire_root(retired)?;
        self.after_calls()?;
        Ok(configured)
    }

    /// Freeze the time `proxy_get_current_time_nanoseconds` and WASI's realtime clock report (default: the
    /// system clock).
    pub fn set_time_nanos(&mut self, unix_nanos: u64) {
        self.store.data_mut().clock = Clock::Fixed(unix_nanos);
    }

    /// Set the value `proxy_get_property` returns for `path`, e.g. `["source", "address"]` →
    /// `b"192.0.2.10:53346"` (Envoy's `source.address` includes the port; the default is `127.0.0.1:53346`).
    /// Paths under `request`, `source`, `destination`, `connection` and `upstream` are visible only to streams.
    pub fn set_property(&mut self, path: &[&str], value: &[u8]) {
        let key = path.join("\0").into_bytes();
        self.store.data_mut().properties.insert(key, value.to_vec());
    }

    /// Set the level `proxy_get_log_level` reports; lines below it are dropped, as Envoy's logger does (default:
    /// trace, so every line is kept; Envoy's own default is info).
    pub fn set_log_level(&mut self, level: LogLevel) {
        self.store.data_mut().log_level = level;
    }

    /// Run one whole HTTP stream whose request headers (`:method`, `:path`, `:authority`, `:scheme`, ...)
    /// arrive with `end_of_stream`: `proxy_on_context_create(stream, root)`, `proxy_on_request_headers`,
    /// for a local reply `proxy_on_response_headers` and `proxy_on_response_body`, then, in Envoy's order,
    /// `proxy_on_log`, `proxy_on_done`, `proxy_on_delete`. Header names and values are bytes as Envoy passes them
    /// (`&[(String, String)]`, `&[(&str, &str)]` or raw `&[(Vec<u8>, Vec<u8>)]` with obs-text). There is no
    /// request body and no upstream: a request that continues gets no `proxy_on_response_*` callbacks here.
    pub fn http_request<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &mut self,
        headers: &[(K, V)],
    ) -> Result<HttpOutcome, HostError> {
        self.stream(HeaderMap::from_pairs(headers), None)
    }

    /// Like [`Plugin::http_request`], for a request that ends with trailers (HTTP/2, or HTTP/1.1 chunked with
    /// trailers kept): `proxy_on_request_headers` without `end_of_stream`, then, as in Envoy, only if that callback
    /// let the request go on, `proxy_on_request_trailers` with the trailer map live (Envoy turns every stop of the
    /// headers into "stop all iteration", which holds the trailers back from the filter too). The request trailers
    /// are readable and writable during that callback, until the filter continues.
    pub fn http_request_with_trailers<K: AsRef<[u8]>, V: AsRef<[u8]>, TK: AsRef<[u8]>, TV: AsRef<[u8]>>(
        &mut self,
        headers: &[(K, V)],
        trailers: &[(TK, TV)],
    ) -> Result<HttpOutcome, HostError> {
        self.stream(HeaderMap::from_pairs(headers), Some(HeaderMap::from_pairs(trailers)))
    }

    /// Make every later call of the `env` host function `function` (e.g. `proxy_remove_header_map_value`) answer
    /// `status` without doing anything, to test how the guest copes with a failing host; `Status::Ok` lifts it.
    pub fn fail_host_function(&mut self, function: &str, status: Status) {
        let failures = &mut self.store.data_mut().injected_failures;
        if status == Status::Ok {
            failures.remove(function);
        } else {
            failures.insert(function.to_string(), status);
        }
    }

    /// Like [`Plugin::http_request`], but a request the filter pauses without answering stays open, as in Envoy,
    /// rather than ending at once: the filter can resume it (`proxy_set_effective_context` and
    /// `proxy_continue_stream`) or answer it from a later callback (a tick, an HTTP call's answer), and only then
    /// does it get its response callbacks, `proxy_on_log`, `proxy_on_done` and `proxy_on_delete`.
    pub fn start_request<K: AsRef<[u8]>, V: AsRef<[u8]>>(&mut self, headers: &[(K, V)]) -> Result<Started, HostError> {
        self.check_alive()?;
        if !self.configured {
            return Err(HostError::Rejected);
        }
        self.store.data_mut().calls.clear();
        let id = self.next_id();
        let root = self.root;
        self.store.data_mut().stream = Some(Stream::new(id, root, HeaderMap::from_pairs(headers), None));
        let going_on = match self.begin_stream(id, root) {
            Ok(going_on) => going_on,
            Err(err) => {
                self.store.data_mut().stream = None;
                return Err(err);
            }
        };
        let open = self.with_stream(|s| s.local_replies.is_empty() && !s.reset_requested) && !going_on;
        if open {
            let state = self.store.data_mut();
            if let Some(stream) = state.stream.take() {
                state.parked.push(stream);
            }
            self.after_calls()?;
            return Ok(match self.finished.remove(&id) {
                Some(outcome) => Started::Done(outcome),
                None => Started::Waiting(id),
            });
        }
        let outcome = self.finish_stream(id, going_on);
        let state = self.store.data_mut();
        state.last_filter_state = state.stream.take().map(|s| s.filter_state).unwrap_or_default();
        let outcome = outcome?;
        self.after_calls()?;
        Ok(Started::Done(outcome))
    }

    /// How a stream that waited ended, once it has (taken: asked once).
    pub fn outcome(&mut self, id: u32) -> Option<HttpOutcome> {
        self.finished.remove(&id)
    }

    /// Streams still open and waiting.
    pub fn waiting(&self) -> usize {
        self.store.data().parked.len()
    }

    /// With `true`, HTTP calls are held until [`Plugin::deliver_http_calls`]; with `false` (the default) each is
    /// made, and answered, right after the callback that started it.
    pub fn set_manual_http_calls(&mut self, manual: bool) {
        self.manual_http_calls = manual;
    }

    /// Makes every HTTP call started so far and delivers the answers; returns how many.
    pub fn deliver_http_calls(&mut self) -> Result<usize, HostError> {
        self.check_alive()?;
        self.store.data_mut().calls.clear();
        let delivered = self.deliver_pending()?;
        self.after_calls()?;
        Ok(delivered)
    }

    /// HTTP calls started and not answered yet.
    pub fn pending_http_calls(&self) -> usize {
        self.store.data().pending_http_calls.len()
    }

    fn deliver_pending(&mut self) -> Result<usize, HostError> {
        let mut delivered = 0;
        for _ in 0..MAX_DEFERRED_ROUNDS {
            let calls = std::mem::take(&mut self.store.data_mut().pending_http_calls);
            if calls.is_empty() {
                break;
            }
            for call in calls {
                let answer = crate::http_call::perform(&call);
                let (headers, body) = (answer.headers.len(), answer.body.len());
                self.store.data_mut().http_call_response = Some(answer);
                let f = self.cb.http_call_response.clone();
                let root = call.root;
                let args = (id32(root), id32(call.token), len32(headers), len32(body), 0);
                let shown = format!("{root}, {}, {headers}, {body}, 0", call.token);
                let result = self.invoke("proxy_on_http_call_response", f, root, args, shown);
                self.store.data_mut().http_call_response = None;
                result?;
                delivered += 1;
            }
        }
        Ok(delivered)
    }

    /// Ends the waiting streams the filter resumed or answered.
    fn finish_parked(&mut self) -> Result<(), HostError> {
        loop {
            let state = self.store.data_mut();
            let Some(position) = state
                .parked
                .iter()
                .position(|s| s.continue_requested || s.reset_requested || !s.local_replies.is_empty())
            else {
                return Ok(());
            };
            let stream = state.parked.swap_remove(position);
            let (id, going_on) = (stream.id, stream.continue_requested);
            state.stream = Some(stream);
            state.stop_iteration = false;
            let outcome = self.finish_stream(id, going_on);
            let state = self.store.data_mut();
            state.last_filter_state = state.stream.take().map(|s| s.filter_state).unwrap_or_default();
            self.finished.insert(id, outcome?);
        }
    }

    fn stream(&mut self, headers: HeaderMap, trailers: Option<HeaderMap>) -> Result<HttpOutcome, HostError> {
        self.check_alive()?;
        if !self.configured {
            return Err(HostError::Rejected);
        }
        self.store.data_mut().calls.clear();
        let id = self.next_id();
        let root = self.root;
        self.store.data_mut().stream = Some(Stream::new(id, root, headers, trailers));
        let outcome = self.run_stream(id, root);
        let state = self.store.data_mut();
        state.last_filter_state = state.stream.take().map(|s| s.filter_state).unwrap_or_default();
        let outcome = outcome?;
        self.after_calls()?;
        Ok(outcome)
    }

    /// Call `proxy_on_tick` on the root context if the plugin set a tick period; returns whether it was called.
    pub fn tick(&mut self) -> Result<bool, HostError> {
        self.check_alive()?;
        self.store.data_mut().calls.clear();
        let root = self.root;
        if self.store.data().tick_periods.get(&root).copied().unwrap_or(0) == 0 {
            return Ok(false);
        }
        let f = self.cb.tick.clone();
        self.invoke("proxy_on_tick", f, root, id32(root), root.to_string())?;
        self.after_calls()?;
        Ok(true)
    }

    /// The value the last stream's filter set with `proxy_set_property(name, ...)`: what Envoy keeps in that
    /// stream's filter state as `wasm.<name>` and an access log prints with `%FILTER_STATE(wasm.<name>:PLAIN)%`.
    pub fn filter_state(&self, name: &str) -> Option<&[u8]> {
        self.store.data().last_filter_state.get(name.as_bytes()).map(Vec::as_slice)
    }

    /// The size of the VM's linear memory in bytes (what the guest has grown it to; Envoy's V8 holds as much).
    pub fn memory_bytes(&self) -> usize {
        self.store.data().memory.map_or(0, |memory| memory.data_size(&self.store))
    }

    /// Every line logged since the plugin started, at or above the log level.
    pub fn logs(&self) -> &[LogLine] {
        &self.store.data().logs
    }

    /// Every metric defined by any VM of this host, with its current value.
    pub fn metrics(&self) -> Vec<Metric> {
        self.store.data().shared.metrics()
    }

    /// The calls across the VM boundary during the last operation (start, reconfigure, request or tick), in
    /// order; a host function's record comes before the allocations it made.
    pub fn host_calls(&self) -> &[Call] {
        &self.store.data().calls
    }

    fn check_alive(&self) -> Result<(), HostError> {
        match &self.failed {
            Some(first) => Err(HostError::Failed { first: first.clone() }),
            None => Ok(()),
        }
    }

    fn next_id(&mut self) -> u32 {
        let id = self.next_context_id;
        self.next_context_id = self.next_context_id.wrapping_add(1).max(1);
        id
    }

    fn run_start_functions(&mut self) -> Result<(), HostError> {
        let cb = (self.cb.initialize.clone(), self.cb.main.clone(), self.cb.main_void.clone(), self.cb.start.clone());
        match cb {
            (Some(init), main, main_void, _) => {
                self.invoke("_initialize", Some(init), 0, (), String::new())?;
                if main.is_some() {
                    self.invoke("main", main, 0, (0, 0), "0, 0".to_string())?;
                } else {
                    self.invoke("__main_void", main_void, 0, (), String::new())?;
                }
            }
            (None, _, _, start) => {
                self.invoke("_start", start, 0, (), String::new())?;
            }
        }
        Ok(())
    }

    /// Envoy's `WasmBase::start` + `configure` for a new root context.
    fn start_root(&mut self, plugin_config: &[u8]) -> Result<(u32, bool), HostError> {
        let id = self.next_id();
        self.store.data_mut().roots.insert(id);
        // Envoy's `temp_plugin_` is set while the root context is created and configured, not during
        // `proxy_on_vm_start`.
        self.store.data_mut().plugin_config = Some(plugin_config.to_vec());
        let created = self.invoke(
            "proxy_on_context_create",
            self.cb.context_create.clone(),
            id,
            (id32(id), 0),
            format!("{id}, 0"),
        );
        self.store.data_mut().plugin_config = None;
        created?;
        let vm_size = self.store.data().vm_config.len();
        let f = self.cb.vm_start.clone();
        let vm_ok = self.invoke("proxy_on_vm_start", f, id, (id32(id), len32(vm_size)), format!("{id}, {vm_size}"))?;
        if vm_ok == Some(0) {
            return Ok((id, false));
        }
        self.store.data_mut().plugin_config = Some(plugin_config.to_vec());
        let f = self.cb.configure.clone();
        let size = plugin_config.len();
        let configured = self.invoke("proxy_on_configure", f, id, (id32(id), len32(size)), format!("{id}, {size}"));
        self.store.data_mut().plugin_config = None;
        Ok((id, configured? != Some(0)))
    }

    /// Envoy's `startShutdown` for one root context.
    fn retire_root(&mut self, id: u32) -> Result<(), HostError> {
        self.store.data_mut().roots.remove(&id);
        let f = self.cb.done.clone();
        let done = self.invoke("proxy_on_done", f, id, id32(id), id.to_string())?;
        if done == Some(0) {
            self.store.data_mut().pending_done.insert(id);
        } else {
            let f = self.cb.delete.clone();
            self.invoke("proxy_on_delete", f, id, id32(id), id.to_string())?;
        }
        Ok(())
    }

    fn run_stream(&mut self, id: u32, root: u32) -> Result<HttpOutcome, HostError> {
        let going_on = self.begin_stream(id, root)?;
        self.finish_stream(id, going_on)
    }

    /// The stream's context and its request callbacks; whether the request goes on.
    fn begin_stream(&mut self, id: u32, root: u32) -> Result<bool, HostError> {
        let f = self.cb.context_create.clone();
        self.invoke("proxy_on_context_create", f, id, (id32(id), id32(root)), format!("{id}, {root}"))?;
        let (count, has_trailers) = self.with_stream(|s| {
            s.request_live = true;
            (s.request_headers.len(), s.request_trailers.is_some())
        });
        let end_of_stream = !has_trailers;
        let f = self.cb.request_headers.clone();
        let action = self.invoke(
            "proxy_on_request_headers",
            f,
            id,
            (id32(id), len32(count), i32::from(end_of_stream)),
            format!("{id}, {count}, end_of_stream {end_of_stream}"),
        )?;
        let stopped = std::mem::take(&mut self.store.data_mut().stop_iteration);
        // Envoy turns any non-zero action (and any action after a local reply) into "stop all iteration".
        let continued = !stopped && action.unwrap_or(0) == 0;
        let (replied, reset, resumed) = self.with_stream(|s| {
            if continued {
                s.request_live = false;
            }
            (!s.local_replies.is_empty(), s.reset_requested, s.continue_requested)
        });
        let mut going_on = continued || resumed;
        if has_trailers && going_on && !replied && !reset {
            going_on = self.request_trailers(id)?;
        }
        Ok(going_on)
    }

    /// What the client and the upstream see of a stream, then its end callbacks.
    fn finish_stream(&mut self, id: u32, going_on: bool) -> Result<HttpOutcome, HostError> {
        let (reply, reset) = self.with_stream(|s| (s.local_replies.first().cloned(), s.reset_requested));
        let outcome = if let Some(reply) = reply {
            self.local_reply(id, reply)?
        } else if reset {
            HttpOutcome::Reset
        } else {
            let (request_headers, request_trailers) = self.with_stream(|s| {
                (s.request_headers.to_strings(), s.request_trailers.as_ref().map(HeaderMap::to_strings))
            });
            if going_on {
                HttpOutcome::Continue { request_headers, request_trailers }
            } else {
                HttpOutcome::Paused { request_headers, request_trailers }
            }
        };
        self.with_stream(|s| s.access_log = true);
        let f = self.cb.log.clone();
        self.invoke("proxy_on_log", f, id, id32(id), id.to_string())?;
        self.with_stream(|s| s.access_log = false);
        // Envoy's HTTP filter ignores what `proxy_on_done` returns and deletes the context right away.
        let f = self.cb.done.clone();
        self.invoke("proxy_on_done", f, id, id32(id), id.to_string())?;
        let f = self.cb.delete.clone();
        self.invoke("proxy_on_delete", f, id, id32(id), id.to_string())?;
        Ok(outcome)
    }

    /// Envoy's `decodeTrailers` for a request whose headers went on: `proxy_on_request_trailers` with the trailer
    /// map live. Returns whether the request still goes on (the filter continued, or resumed it).
    fn request_trailers(&mut self, id: u32) -> Result<bool, HostError> {
        let count = self.with_stream(|s| {
            s.request_trailers_live = true;
            s.continue_requested = false;
            s.request_trailers.as_ref().map_or(0, HeaderMap::len)
        });
        let f = self.cb.request_trailers.clone();
        let action =
            self.invoke("proxy_on_request_trailers", f, id, (id32(id), len32(count)), format!("{id}, {count}"))?;
        let stopped = std::mem::take(&mut self.store.data_mut().stop_iteration);
        let continued = !stopped && action.unwrap_or(0) == 0;
        let resumed = self.with_stream(|s| {
            if continued {
                s.request_trailers_live = false;
            }
            s.continue_requested
        });
        Ok(continued || resumed)
    }

    /// Envoy's local reply: response headers built from the status and the filter's headers, passed through
    /// the filter's encoder callbacks.
    fn local_reply(&mut self, id: u32, mut reply: LocalReply) -> Result<HttpOutcome, HostError> {
        let mut headers = HeaderMap::default();
        headers.add(b":status", reply.status.to_string().as_bytes());
        for (k, v) in &reply.headers {
            headers.add(k, v);
        }
        let (grpc, head) = self.with_stream(|s| {
            let grpc = s.request_headers.get(b"content-type").is_some_and(is_grpc_content_type);
            (grpc, s.request_headers.get(b":method") == Some(&b"HEAD"[..]))
        });
        if grpc {
            // Envoy's `Utility::prepareLocalReply` for gRPC requests: a trailers-only gRPC response.
            headers.replace(b":status", b"200");
            headers.replace(b"content-type", b"application/grpc");
            if headers.get(b"grpc-status").is_none() {
                let code = if reply.grpc_status <= MAX_GRPC_STATUS {
                    reply.grpc_status
                } else {
                    http_to_grpc_status(reply.status)
                };
                headers.replace(b"grpc-status", code.to_string().as_bytes());
            }
            if !reply.body.is_empty() && !head {
                headers.replace(b"grpc-message", &percent_encode(&reply.body));
            }
            headers.remove(b"content-length");
            reply.body = Vec::new();
        }
        if !reply.body.is_empty() {
            headers.replace(b"content-length", reply.body.len().to_string().as_bytes());
            if headers.get(b"content-type").is_none() {
                headers.replace(b"content-type", b"text/plain");
            }
        }
        let count = headers.len();
        let end_of_stream = reply.body.is_empty();
        self.with_stream(|s| {
            s.response_headers = Some(headers);
            s.response_live = true;
            s.response_body = reply.body.clone();
        });
        let f = self.cb.response_headers.clone();
        let action = self.invoke(
            "proxy_on_response_headers",
            f,
            id,
            (id32(id), len32(count), i32::from(end_of_stream)),
            format!("{id}, {count}, end_of_stream {end_of_stream}"),
        )?;
        let stopped = std::mem::take(&mut self.store.data_mut().stop_iteration);
        if !stopped && action.unwrap_or(0) == 0 {
            self.with_stream(|s| s.response_live = false);
        }
        if !end_of_stream {
            let size = reply.body.len();
            self.with_stream(|s| s.response_body_live = true);
            let f = self.cb.response_body.clone();
            let body = self.invoke(
                "proxy_on_response_body",
                f,
                id,
                (id32(id), len32(size), 1),
                format!("{id}, {size}, end_of_stream true"),
            );
            self.with_stream(|s| s.response_body_live = false);
            self.store.data_mut().stop_iteration = false;
            body?;
        }
        let (status, headers, body) = self.with_stream(|s| {
            let map = s.response_headers.clone().unwrap_or_default();
            let status = map
                .get(b":status")
                .and_then(|v| std::str::from_utf8(v).ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(reply.status);
            let headers = map.to_strings().into_iter().filter(|(k, _)| k != ":status").collect();
            (status, headers, s.response_body.clone())
        });
        Ok(HttpOutcome::LocalResponse { status, headers, body, details: reply.details })
    }

    fn with_stream<T: Default>(&mut self, f: impl FnOnce(&mut Stream) -> T) -> T {
        self.store.data_mut().stream.as_mut().map(f).unwrap_or_default()
    }

    /// Work Envoy defers until after a callback: `proxy_on_delete` for roots released by `proxy_done`, and
    /// `proxy_on_queue_ready` for items enqueued on this VM's queues.
    fn after_calls(&mut self) -> Result<(), HostError> {
        for _ in 0..MAX_DEFERRED_ROUNDS {
            let state = self.store.data_mut();
            let deletes = std::mem::take(&mut state.pending_delete);
            let ready = std::mem::take(&mut state.pending_queue_ready);
            let calls = !self.manual_http_calls && !state.pending_http_calls.is_empty();
            if deletes.is_empty() && ready.is_empty() && !calls {
                break;
            }
            if calls {
                self.deliver_pending()?;
            }
            for id in deletes {
                let f = self.cb.delete.clone();
                self.invoke("proxy_on_delete", f, id, id32(id), id.to_string())?;
            }
            for (root, token) in ready {
                if self.store.data().roots.contains(&root) {
                    let f = self.cb.queue_ready.clone();
                    self.invoke(
                        "proxy_on_queue_ready",
                        f,
                        root,
                        (id32(root), id32(token)),
                        format!("{root}, {token}"),
                    )?;
                }
            }
        }
        self.finish_parked()
    }

    /// Call an export with `context` active, recording the call; a failure fails the VM for good.
    fn invoke<P, R>(
        &mut self,
        name: &'static str,
        f: Option<TypedFunc<P, R>>,
        context: u32,
        params: P,
        shown: String,
    ) -> Result<Option<R>, HostError>
    where
        P: WasmParams,
        R: WasmResults + std::fmt::Debug,
    {
        let Some(f) = f else { return Ok(None) };
        self.check_alive()?;
        let state = self.store.data_mut();
        let saved = (state.active, state.effective);
        state.active = context;
        state.effective = None;
        let index = state.record(Direction::HostToVm, context, name, shown, String::new());
        self.store.set_epoch_deadline(ticks(self.call_timeout));
        let result = f.call(&mut self.store, params);
        let state = self.store.data_mut();
        (state.active, state.effective) = saved;
        match result {
            Ok(value) => {
                let shown = format!("{value:?}");
                state.set_result(index, if shown == "()" { String::new() } else { shown });
                Ok(Some(value))
            }
            Err(e) => {
                let error = classify(name, &e, self.call_timeout);
                state.set_result(index, format!("failed: {error}"));
                self.failed = Some(error.to_string());
                Err(error)
            }
        }
    }
}

/// gRPC's highest well-known status code (UNAUTHENTICATED); Envoy ignores a `grpc_status` above it.
const MAX_GRPC_STATUS: u32 = 16;

/// Envoy's `Grpc::Common::hasGrpcContentType`.
fn is_grpc_content_type(value: &[u8]) -> bool {
    let Some(rest) = value.strip_prefix(b"application/grpc") else { return false };
    rest.is_empty() || rest.starts_with(b"+") || rest.starts_with(b";")
}

/// Envoy's `Grpc::Utility::httpToGrpcStatus`.
fn http_to_grpc_status(status: u32) -> u32 {
    match status {
        400 => 13,
        401 => 16,
        403 => 7,
        404 => 12,
        429 | 502 | 503 | 504 => 14,
        _ => 2,
    }
}

/// Envoy's `PercentEncoding::encode` of a `grpc-message`: bytes outside printable ASCII, and `%`, as `%XX`.
fn percent_encode(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for &b in bytes {
        if (0x20..0x7f).contains(&b) && b != b'%' {
            out.push(b);
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
    out
}

fn id32(id: u32) -> i32 {
    id as i32
}

fn len32(n: usize) -> i32 {
    u32::try_from(n).unwrap_or(u32::MAX) as i32
}

fn ticks(timeout: Duration) -> u64 {
    let t = timeout.as_nanos().div_ceil(TICK.as_nanos()).max(1);
    u64::try_from(t).unwrap_or(u64::MAX)
}

/// Turn a failed call into the host's error: refusals, time-outs, and traps.
fn classify(callback: &str, e: &wasmtime::Error, timeout: Duration) -> HostError {
    if let Some(r) = e.downcast_ref::<Refusal>() {
        return HostError::Refused {
            callback: callback.to_string(),
            function: r.function.clone(),
            reason: r.reason.clone(),
        };
    }
    if let Some(Trap::Interrupt) = e.downcast_ref::<Trap>() {
        return HostError::Timeout {
            callback: callback.to_string(),
            limit_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
        };
    }
    HostError::Trap { callback: callback.to_string(), trap: format!("{e:?}") }
}
