//! The `env.proxy_*` host functions, with the status codes Envoy returns.
//!
//! Each function follows the order of checks in proxy-wasm-cpp-host's `exports.cc` and Envoy's
//! `Context`: argument ranges first, then guest memory (`INVALID_MEMORY_ACCESS`), then the context's state.

use wasmtime::Caller;

use crate::abi::{BufferType, LogLevel, MapType, MetricKind, Status, StreamType};
use crate::guest::{copy_out, read, write_u32, write_u64};
use crate::headers::HeaderMap;
use crate::pairs;
use crate::properties;
use crate::record::{quote, quote_pairs};
use crate::state::{HostState, LocalReply};

/// What a host function hands back: the wasm return value and the decoded record of the call.
pub(crate) struct Ret {
    pub(crate) value: Option<u32>,
    pub(crate) args: String,
    pub(crate) result: String,
}

impl Ret {
    fn status(status: Status, args: String) -> Ret {
        Ret { value: Some(status.code()), args, result: status.to_string() }
    }

    fn ok_with(args: String, shown: String) -> Ret {
        Ret { value: Some(Status::Ok.code()), args, result: format!("Ok {shown}") }
    }
}

type R = wasmtime::Result<Ret>;

/// Parameters as Envoy's `Word`s: i32 arguments zero-extended, i64 arguments as their bits.
pub(crate) struct Args<'a>(pub(crate) &'a [u64]);

impl Args<'_> {
    fn w(&self, i: usize) -> u32 {
        self.0.get(i).map_or(0, |v| *v as u32)
    }

    fn l(&self, i: usize) -> u64 {
        self.0.get(i).copied().unwrap_or(0)
    }
}

/// Run `env.<name>`; `None` when the name is not an env function (never happens for linked functions).
pub(crate) fn call(name: &str, caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> Option<R> {
    Some(match name {
        "proxy_log" => log(caller, a),
        "proxy_get_log_level" => get_log_level(caller, a),
        "proxy_get_status" => get_status(caller, a),
        "proxy_set_property" => set_property(caller, a),
        "proxy_get_property" => get_property(caller, a),
        "proxy_send_local_response" => send_local_response(caller, a),
        "proxy_get_shared_data" => get_shared_data(caller, a),
        "proxy_set_shared_data" => set_shared_data(caller, a),
        "proxy_register_shared_queue" => register_shared_queue(caller, a),
        "proxy_resolve_shared_queue" => resolve_shared_queue(caller, a),
        "proxy_dequeue_shared_queue" => dequeue_shared_queue(caller, a),
        "proxy_enqueue_shared_queue" => enqueue_shared_queue(caller, a),
        "proxy_get_header_map_value" => get_header_map_value(caller, a),
        "proxy_add_header_map_value" => modify_header_map(caller, a, Modify::Add),
        "proxy_replace_header_map_value" => modify_header_map(caller, a, Modify::Replace),
        "proxy_remove_header_map_value" => modify_header_map(caller, a, Modify::Remove),
        "proxy_get_header_map_pairs" => get_header_map_pairs(caller, a),
        "proxy_set_header_map_pairs" => set_header_map_pairs(caller, a),
        "proxy_get_header_map_size" => get_header_map_size(caller, a),
        "proxy_get_buffer_status" => get_buffer_status(caller, a),
        "proxy_get_buffer_bytes" => get_buffer_bytes(caller, a),
        "proxy_set_buffer_bytes" => set_buffer_bytes(caller, a),
        "proxy_http_call" => http_call(caller, a),
        "proxy_grpc_call" => grpc_open(caller, a, Callout::GrpcCall),
        "proxy_grpc_stream" => grpc_open(caller, a, Callout::GrpcStream),
        "proxy_grpc_send" => grpc_send(caller, a),
        "proxy_grpc_cancel" => grpc_end(caller, a, "cancel"),
        "proxy_grpc_close" => grpc_end(caller, a, "close"),
        "proxy_set_tick_period_milliseconds" => set_tick_period(caller, a),
        "proxy_get_current_time_nanoseconds" => get_current_time(caller, a),
        "proxy_define_metric" => define_metric(caller, a),
        "proxy_increment_metric" => increment_metric(caller, a),
        "proxy_record_metric" => record_metric(caller, a),
        "proxy_get_metric" => get_metric(caller, a),
        "proxy_set_effective_context" => set_effective_context(caller, a),
        "proxy_done" => done(caller),
        "proxy_call_foreign_function" => call_foreign_function(caller, a),
        "proxy_continue_stream" => continue_stream(caller, a),
        "proxy_close_stream" => close_stream(caller, a),
        "pthread_equal" => Ok(Ret {
            value: Some(u32::from(a.w(0) == a.w(1))),
            args: format!("{}, {}", a.w(0), a.w(1)),
            result: u32::from(a.w(0) == a.w(1)).to_string(),
        }),
        "emscripten_notify_memory_growth" => Ok(Ret { value: None, args: a.w(0).to_string(), result: String::new() }),
        _ => return None,
    })
}

fn imo(args: String) -> R {
    Ok(Ret::status(Status::InvalidMemoryAccess, args))
}

// Logging and time.

fn log(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let Some(level) = LogLevel::from_code(a.w(0)) else {
        return Ok(Ret::status(Status::BadArgument, format!("level {}", a.w(0))));
    };
    let Some(message) = read(caller, a.w(1), a.w(2)) else { return imo(format!("{level:?}")) };
    caller.data_mut().log(level, &message);
    Ok(Ret::status(Status::Ok, format!("{level:?}, {}", quote(&message))))
}

fn get_log_level(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let level = caller.data().log_level;
    if !write_u32(caller, a.w(0), level.code()) {
        return imo(String::new());
    }
    Ok(Ret::ok_with(String::new(), format!("{level:?}")))
}

fn get_current_time(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let now = caller.data().now_nanos();
    if !write_u64(caller, a.w(0), now) {
        return imo(String::new());
    }
    Ok(Ret::ok_with(String::new(), now.to_string()))
}

fn set_tick_period(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let state = caller.data_mut();
    let root = state.target_root();
    state.tick_periods.insert(root, a.w(0));
    Ok(Ret::status(Status::Ok, format!("{} ms", a.w(0))))
}

fn get_status(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    // No HTTP or gRPC call ever completes in this host, so the root context's status is Envoy's initial one.
    if !write_u32(caller, a.w(0), 0) || !copy_out(caller, b"", a.w(1), a.w(2))? {
        return imo(String::new());
    }
    Ok(Ret::ok_with(String::new(), "0, \"\"".to_string()))
}

// Properties.

fn get_property(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let Some(path) = read(caller, a.w(0), a.w(1)) else { return imo(String::new()) };
    let shown = quote(&path);
    let Some(value) = properties::resolve(caller.data(), &path) else {
        return Ok(Ret::status(Status::NotFound, shown));
    };
    if !copy_out(caller, &value, a.w(2), a.w(3))? {
        return imo(shown);
    }
    Ok(Ret::ok_with(shown, quote(&value)))
}

fn set_property(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let (Some(path), Some(value)) = (read(caller, a.w(0), a.w(1)), read(caller, a.w(2), a.w(3))) else {
        return imo(String::new());
    };
    let shown = format!("{}, {}", quote(&path), quote(&value));
    match caller.data_mut().target_stream_mut() {
        Some(stream) => {
            stream.filter_state.insert(path, value);
            Ok(Ret::status(Status::Ok, shown))
        }
        // Envoy keeps properties in the stream info, which a root context does not have.
        None => Ok(Ret::status(Status::NotFound, shown)),
    }
}

// Local responses and stream control.

fn send_local_response(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let details = read(caller, a.w(1), a.w(2));
    let body = read(caller, a.w(3), a.w(4));
    let headers = read(caller, a.w(5), a.w(6));
    let (Some(details), Some(body), Some(headers)) = (details, body, headers) else {
        return imo(a.w(0).to_string());
    };
    let headers = pairs::decode(&headers);
    let grpc_status = a.w(7);
    let shown = format!("{}, {}, {}, {}, grpc {}", a.w(0), quote(&details), quote(&body), quote_pairs(&headers), grpc_status as i32);
    let state = caller.data_mut();
    // Envoy sends the reply after the callback returns, and only from a stream (a root context has no decoder
    // callbacks); either way the filter's return value is overridden with "stop".
    if let Some(stream) = state.target_stream_mut() {
        let details: String = String::from_utf8_lossy(&details)
            .chars()
            .map(|c| if c.is_whitespace() { '_' } else { c })
            .collect();
        stream.local_replies.push(LocalReply { status: a.w(0), details, body, headers, grpc_status });
    }
    state.stop_iteration = true;
    Ok(Ret::status(Status::Ok, shown))
}

fn continue_stream(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let Some(ty) = StreamType::from_code(a.w(0)) else {
        return Ok(Ret::status(Status::BadArgument, a.w(0).to_string()));
    };
    let shown = format!("{ty:?}");
    let state = caller.data_mut();
    match ty {
        StreamType::Upstream => Ok(Ret::status(Status::Unimplemented, shown)),
        StreamType::Downstream => Ok(Ret::status(Status::Ok, shown)),
        StreamType::HttpRequest | StreamType::HttpResponse => {
            if let Some(stream) = state.target_stream_mut() {
                if ty == StreamType::HttpRequest {
                    stream.continue_requested = true;
                }
                // Envoy forgets the request maps when either direction continues.
                stream.request_live = false;
                stream.request_trailers_live = false;
            }
            Ok(Ret::status(Status::Ok, shown))
        }
    }
}

fn close_stream(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let Some(ty) = StreamType::from_code(a.w(0)) else {
        return Ok(Ret::status(Status::BadArgument, a.w(0).to_string()));
    };
    if matches!(ty, StreamType::HttpRequest | StreamType::HttpResponse) {
        if let Some(stream) = caller.data_mut().target_stream_mut() {
            stream.reset_requested = true;
        }
    }
    Ok(Ret::status(Status::Ok, format!("{ty:?}")))
}

fn set_effective_context(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let id = a.w(0);
    let state = caller.data_mut();
    if !state.context_exists(id) {
        return Ok(Ret::status(Status::BadArgument, id.to_string()));
    }
    state.effective = Some(id);
    Ok(Ret::status(Status::Ok, id.to_string()))
}

fn done(caller: &mut Caller<'_, HostState>) -> R {
    let state = caller.data_mut();
    let target = state.target();
    if state.pending_done.remove(&target) {
        state.pending_delete.push(target);
        return Ok(Ret::status(Status::Ok, String::new()));
    }
    Ok(Ret::status(Status::NotFound, String::new()))
}

fn call_foreign_function(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let (Some(name), Some(_)) = (read(caller, a.w(0), a.w(1)), read(caller, a.w(2), a.w(3))) else {
        return imo(String::new());
    };
    // Envoy's foreign functions (compress, declare_property, ...) are not provided.
    Ok(Ret::status(Status::NotFound, quote(&name)))
}

// Shared data and queues.

fn get_shared_data(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let Some(key) = read(caller, a.w(0), a.w(1)) else { return imo(String::new()) };
    let shown = quote(&key);
    let Some((value, cas)) = caller.data().shared.get_data(&key) else {
        return Ok(Ret::status(Status::NotFound, shown));
    };
    if !copy_out(caller, &value, a.w(2), a.w(3))? || !write_u32(caller, a.w(4), cas) {
        return imo(shown);
    }
    Ok(Ret::ok_with(shown, format!("{}, cas {cas}", quote(&value))))
}

fn set_shared_data(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let (Some(key), Some(value)) = (read(caller, a.w(0), a.w(1)), read(caller, a.w(2), a.w(3))) else {
        return imo(String::new());
    };
    let status = caller.data().shared.set_data(&key, &value, a.w(4));
    Ok(Ret::status(status, format!("{}, {}, cas {}", quote(&key), quote(&value), a.w(4))))
}

fn register_shared_queue(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let Some(name) = read(caller, a.w(0), a.w(1)) else { return imo(String::new()) };
    let state = caller.data();
    let token = state.shared.register_queue(b"", &name, (state.vm, state.target_root()));
    if !write_u32(caller, a.w(2), token) {
        return imo(quote(&name));
    }
    Ok(Ret::ok_with(quote(&name), token.to_string()))
}

fn resolve_shared_queue(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let (Some(vm_id), Some(name)) = (read(caller, a.w(0), a.w(1)), read(caller, a.w(2), a.w(3))) else {
        return imo(String::new());
    };
    let shown = format!("{}, {}", quote(&vm_id), quote(&name));
    // Every VM started from one host has the empty VM id, which is also what an empty `vm_id` means.
    let Some(token) = caller.data().shared.resolve_queue(b"", &name).filter(|_| vm_id.is_empty()) else {
        return Ok(Ret::status(Status::NotFound, shown));
    };
    if !write_u32(caller, a.w(4), token) {
        return imo(shown);
    }
    Ok(Ret::ok_with(shown, token.to_string()))
}

fn dequeue_shared_queue(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let token = a.w(0);
    let value = match caller.data().shared.dequeue(token) {
        Ok(v) => v,
        Err(status) => return Ok(Ret::status(status, token.to_string())),
    };
    if !copy_out(caller, &value, a.w(1), a.w(2))? {
        return imo(token.to_string());
    }
    Ok(Ret::ok_with(token.to_string(), quote(&value)))
}

fn enqueue_shared_queue(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let token = a.w(0);
    let Some(value) = read(caller, a.w(1), a.w(2)) else { return imo(token.to_string()) };
    let shown = format!("{token}, {}", quote(&value));
    let state = caller.data_mut();
    match state.shared.enqueue(token, &value) {
        None => Ok(Ret::status(Status::NotFound, shown)),
        Some((vm, root)) => {
            // Envoy posts `proxy_on_queue_ready` to the registering VM's thread; this host delivers it to its own
            // VM after the current callback and does not reach other VMs.
            if vm == state.vm {
                state.pending_queue_ready.push((root, token));
            }
            Ok(Ret::status(Status::Ok, shown))
        }
    }
}

// Header maps.

/// The map Envoy's `getConstMap` returns for reads.
fn const_map(state: &HostState, ty: MapType) -> Option<&HeaderMap> {
    if ty == MapType::HttpCallResponseHeaders {
        return state.http_call_response.as_ref().map(|answer| &answer.headers).filter(|headers| headers.len() > 0);
    }
    let stream = state.target_stream()?;
    match ty {
        MapType::RequestHeaders if stream.access_log || stream.request_live => Some(&stream.request_headers),
        // Envoy gives no request trailers to `proxy_on_log`.
        MapType::RequestTrailers if stream.request_trailers_live => stream.request_trailers.as_ref(),
        MapType::ResponseHeaders if stream.access_log || stream.response_live => stream.response_headers.as_ref(),
        _ => None,
    }
}

/// The map Envoy's `getMap` returns for writes.
fn mut_map(state: &mut HostState, ty: MapType) -> Option<&mut HeaderMap> {
    let stream = state.target_stream_mut()?;
    match ty {
        MapType::RequestHeaders if stream.request_live => Some(&mut stream.request_headers),
        MapType::RequestTrailers if stream.request_trailers_live => stream.request_trailers.as_mut(),
        MapType::ResponseHeaders if stream.response_live => stream.response_headers.as_mut(),
        _ => None,
    }
}

fn access_log_phase(state: &HostState) -> bool {
    state.target_stream().is_some_and(|s| s.access_log)
}

fn get_header_map_value(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let Some(ty) = MapType::from_code(a.w(0)) else {
        return Ok(Ret::status(Status::BadArgument, format!("map {}", a.w(0))));
    };
    let Some(key) = read(caller, a.w(1), a.w(2)) else { return imo(format!("{ty:?}")) };
    let shown = format!("{ty:?}, {}", quote(&key));
    let state = caller.data();
    let value = match const_map(state, ty) {
        None if access_log_phase(state) => return Ok(Ret::status(Status::NotFound, shown)),
        None => return Ok(Ret::status(Status::BadArgument, shown)),
        Some(map) => match map.get(&key) {
            None => return Ok(Ret::status(Status::NotFound, shown)),
            Some(v) => v.to_vec(),
        },
    };
    if !copy_out(caller, &value, a.w(3), a.w(4))? {
        return imo(shown);
    }
    Ok(Ret::ok_with(shown, quote(&value)))
}

enum Modify {
    Add,
    Replace,
    Remove,
}

fn modify_header_map(caller: &mut Caller<'_, HostState>, a: &Args<'_>, op: Modify) -> R {
    let Some(ty) = MapType::from_code(a.w(0)) else {
        return Ok(Ret::status(Status::BadArgument, format!("map {}", a.w(0))));
    };
    let key = read(caller, a.w(1), a.w(2));
    let value = match op {
        Modify::Remove => Some(Vec::new()),
        Modify::Add | Modify::Replace => read(caller, a.w(3), a.w(4)),
    };
    let (Some(key), Some(value)) = (key, value) else { return imo(format!("{ty:?}")) };
    let shown = match op {
        Modify::Remove => format!("{ty:?}, {}", quote(&key)),
        Modify::Add | Modify::Replace => format!("{ty:?}, {}, {}", quote(&key), quote(&value)),
    };
    let Some(map) = mut_map(caller.data_mut(), ty) else { return Ok(Ret::status(Status::BadArgument, shown)) };
    match op {
        Modify::Add => map.add(&key, &value),
        Modify::Replace => map.replace(&key, &value),
        Modify::Remove => map.remove(&key),
    }
    Ok(Ret::status(Status::Ok, shown))
}

fn get_header_map_pairs(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let Some(ty) = MapType::from_code(a.w(0)) else {
        return Ok(Ret::status(Status::BadArgument, format!("map {}", a.w(0))));
    };
    let shown = format!("{ty:?}");
    // A missing map reads as empty (Envoy's `headerMapToPairs(nullptr)`).
    let pairs: Vec<(Vec<u8>, Vec<u8>)> = const_map(caller.data(), ty).map(|m| m.pairs().to_vec()).unwrap_or_default();
    let bytes = if pairs.is_empty() { Vec::new() } else { pairs::encode(&pairs) };
    if !copy_out(caller, &bytes, a.w(1), a.w(2))? {
        return imo(shown);
    }
    Ok(Ret::ok_with(shown, quote_pairs(&pairs)))
}

fn set_header_map_pairs(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let Some(ty) = MapType::from_code(a.w(0)) else {
        return Ok(Ret::status(Status::BadArgument, format!("map {}", a.w(0))));
    };
    let Some(bytes) = read(caller, a.w(1), a.w(2)) else { return imo(format!("{ty:?}")) };
    let pairs = pairs::decode(&bytes);
    let shown = format!("{ty:?}, {}", quote_pairs(&pairs));
    let Some(map) = mut_map(caller.data_mut(), ty) else { return Ok(Ret::status(Status::BadArgument, shown)) };
    map.set_all(&pairs);
    Ok(Ret::status(Status::Ok, shown))
}

fn get_header_map_size(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let Some(ty) = MapType::from_code(a.w(0)) else {
        return Ok(Ret::status(Status::BadArgument, format!("map {}", a.w(0))));
    };
    let shown = format!("{ty:?}");
    let Some(size) = mut_map(caller.data_mut(), ty).map(|m| m.byte_size()) else {
        return Ok(Ret::status(Status::BadArgument, shown));
    };
    let size = u32::try_from(size).unwrap_or(u32::MAX);
    if !write_u32(caller, a.w(1), size) {
        return imo(shown);
    }
    Ok(Ret::ok_with(shown, size.to_string()))
}

// Buffers.

/// What `getBuffer` gives for a buffer type in the current context.
enum Buffer {
    /// `nullptr`: `NOT_FOUND`.
    Missing,
    /// A read-only buffer; writes are `BAD_ARGUMENT`.
    Const(Vec<u8>),
    /// The response body of a local reply while `proxy_on_response_body` runs.
    ResponseBody,
}

fn buffer(state: &HostState, ty: BufferType) -> Buffer {
    match ty {
        BufferType::VmConfiguration => Buffer::Const(state.vm_config.clone()),
        BufferType::PluginConfiguration => match &state.plugin_config {
            Some(c) => Buffer::Const(c.clone()),
            None => Buffer::Missing,
        },
        BufferType::HttpCallResponseBody => match &state.http_call_response {
            Some(answer) => Buffer::Const(answer.body.clone()),
            None => Buffer::Missing,
        },
        BufferType::HttpResponseBody if state.target_stream().is_some_and(|s| s.response_body_live) => {
            Buffer::ResponseBody
        }
        // Envoy points these at absent Envoy buffers, which read as empty.
        BufferType::HttpRequestBody
        | BufferType::HttpResponseBody
        | BufferType::DownstreamData
        | BufferType::UpstreamData
        | BufferType::GrpcReceiveBuffer
        | BufferType::CallData => Buffer::Const(Vec::new()),
    }
}

fn buffer_bytes(state: &HostState, b: &Buffer) -> Vec<u8> {
    match b {
        Buffer::Missing => Vec::new(),
        Buffer::Const(v) => v.clone(),
        Buffer::ResponseBody => state.target_stream().map(|s| s.response_body.clone()).unwrap_or_default(),
    }
}

fn get_buffer_status(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let Some(ty) = BufferType::from_code(a.w(0)) else {
        return Ok(Ret::status(Status::BadArgument, format!("buffer {}", a.w(0))));
    };
    let shown = format!("{ty:?}");
    let state = caller.data();
    let b = buffer(state, ty);
    if matches!(b, Buffer::Missing) {
        return Ok(Ret::status(Status::NotFound, shown));
    }
    let len = u32::try_from(buffer_bytes(state, &b).len()).unwrap_or(u32::MAX);
    if !write_u32(caller, a.w(1), len) || !write_u32(caller, a.w(2), 0) {
        return imo(shown);
    }
    Ok(Ret::ok_with(shown, len.to_string()))
}

fn get_buffer_bytes(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let Some(ty) = BufferType::from_code(a.w(0)) else {
        return Ok(Ret::status(Status::BadArgument, format!("buffer {}", a.w(0))));
    };
    let (start, max) = (a.w(1), a.w(2));
    let shown = format!("{ty:?}, {start}, {max}");
    let state = caller.data();
    let b = buffer(state, ty);
    if matches!(b, Buffer::Missing) {
        return Ok(Ret::status(Status::NotFound, shown));
    }
    let bytes = buffer_bytes(state, &b);
    // Envoy clamps the range to the buffer; a range past the end reads as empty.
    let start = usize::try_from(start).unwrap_or(usize::MAX);
    let end = start.saturating_add(usize::try_from(max).unwrap_or(usize::MAX)).min(bytes.len());
    let slice = bytes.get(start..end).unwrap_or_default();
    if !copy_out(caller, slice, a.w(3), a.w(4))? {
        return imo(shown);
    }
    Ok(Ret::ok_with(shown, quote(slice)))
}

fn set_buffer_bytes(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let Some(ty) = BufferType::from_code(a.w(0)) else {
        return Ok(Ret::status(Status::BadArgument, format!("buffer {}", a.w(0))));
    };
    let (start, len) = (a.w(1), a.w(2));
    let b = buffer(caller.data(), ty);
    if matches!(b, Buffer::Missing) {
        return Ok(Ret::status(Status::NotFound, format!("{ty:?}, {start}, {len}")));
    }
    let Some(data) = read(caller, a.w(3), a.w(4)) else { return imo(format!("{ty:?}, {start}, {len}")) };
    let shown = format!("{ty:?}, {start}, {len}, {}", quote(&data));
    let Buffer::ResponseBody = b else { return Ok(Ret::status(Status::BadArgument, shown)) };
    let Some(stream) = caller.data_mut().target_stream_mut() else {
        return Ok(Ret::status(Status::BadArgument, shown));
    };
    let body = &mut stream.response_body;
    let current = u32::try_from(body.len()).unwrap_or(u32::MAX);
    // Envoy's `Buffer::copyFrom`: prepend, replace all, or append; anything else is refused.
    let status = if start == 0 && len == 0 {
        let mut v = data;
        v.extend_from_slice(body);
        *body = v;
        Status::Ok
    } else if start == 0 && len >= current {
        *body = data;
        Status::Ok
    } else if start >= current && start != 0 {
        body.extend_from_slice(&data);
        Status::Ok
    } else {
        Status::BadArgument
    };
    Ok(Ret::status(status, shown))
}

// Calls out.

#[derive(Clone, Copy)]
enum Callout {
    Http,
    GrpcCall,
    GrpcStream,
}

/// Envoy numbers callouts in steps of 4 with the kind in the two low bits.
fn next_callout(state: &mut HostState, kind: Callout) -> u32 {
    state.next_callout_id = state.next_callout_id.wrapping_add(4);
    let tag = match kind {
        Callout::Http => 0,
        Callout::GrpcCall => 1,
        Callout::GrpcStream => 2,
    };
    state.next_callout_id | tag
}

fn http_call(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let upstream = read(caller, a.w(0), a.w(1));
    let headers = read(caller, a.w(2), a.w(3));
    let body = read(caller, a.w(4), a.w(5));
    let trailers = read(caller, a.w(6), a.w(7));
    let (Some(upstream), Some(headers), Some(body), Some(trailers)) = (upstream, headers, body, trailers) else {
        return imo(String::new());
    };
    let headers = HeaderMap::from_pairs(&pairs::decode(&headers));
    let trailers = pairs::decode(&trailers);
    let timeout = a.w(8);
    let shown = format!(
        "{}, {}, {}, {}, {timeout} ms",
        quote(&upstream),
        quote_pairs(headers.pairs()),
        quote(&body),
        quote_pairs(&trailers)
    );
    // Envoy writes the token slot first to check the memory before starting the call.
    if !write_u32(caller, a.w(9), 0) {
        return imo(shown);
    }
    // Envoy takes the timeout as a signed int and needs a known cluster and the request pseudo-headers; any
    // non-empty cluster name counts as known here.
    let missing = [&b":path"[..], b":method", b":authority"].iter().any(|k| headers.get(k).is_none());
    let cluster = caller.data().shared.clusters.resolve(&upstream);
    if (timeout as i32) < 0 || upstream.is_empty() || missing || cluster == Some(None) {
        return Ok(Ret::status(Status::BadArgument, shown));
    }
    let token = next_callout(caller.data_mut(), Callout::Http);
    if let Some(Some(addr)) = cluster {
        let state = caller.data_mut();
        let (headers, root) = (headers.pairs().to_vec(), state.target_root());
        let call = crate::http_call::PendingCall { token, root, addr, headers, body, timeout: std::time::Duration::from_millis(timeout.into()) };
        state.pending_http_calls.push(call);
    }
    if !write_u32(caller, a.w(9), token) {
        return imo(shown);
    }
    Ok(Ret::ok_with(shown, format!("token {token}")))
}

fn grpc_open(caller: &mut Caller<'_, HostState>, a: &Args<'_>, kind: Callout) -> R {
    let upstream = read(caller, a.w(0), a.w(1));
    let service = read(caller, a.w(2), a.w(3));
    let method = read(caller, a.w(4), a.w(5));
    let metadata = read(caller, a.w(6), a.w(7));
    let (message, token_ptr) = match kind {
        Callout::GrpcCall => (read(caller, a.w(8), a.w(9)), a.w(11)),
        Callout::GrpcStream | Callout::Http => (Some(Vec::new()), a.w(8)),
    };
    let (Some(upstream), Some(service), Some(method), Some(metadata), Some(message)) =
        (upstream, service, method, metadata, message)
    else {
        return imo(String::new());
    };
    let shown = format!(
        "{}, {}, {}, {}, {}",
        quote(&upstream),
        quote(&service),
        quote(&method),
        quote_pairs(&pairs::decode(&metadata)),
        quote(&message)
    );
    if upstream.is_empty() {
        return Ok(Ret::status(Status::ParseFailure, shown));
    }
    let state = caller.data_mut();
    let token = next_callout(state, kind);
    match kind {
        Callout::GrpcStream => state.grpc_streams.insert(token),
        Callout::GrpcCall | Callout::Http => state.grpc_calls.insert(token),
    };
    if !write_u32(caller, token_ptr, token) {
        return imo(shown);
    }
    Ok(Ret::ok_with(shown, format!("token {token}")))
}

fn grpc_send(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let token = a.w(0);
    let Some(message) = read(caller, a.w(1), a.w(2)) else { return imo(token.to_string()) };
    let shown = format!("{token}, {}, end {}", quote(&message), a.w(3));
    let state = caller.data_mut();
    let status = if token & 3 != 2 {
        Status::BadArgument
    } else if !state.grpc_streams.contains(&token) {
        Status::NotFound
    } else {
        if a.w(3) != 0 {
            state.grpc_streams.remove(&token);
        }
        Status::Ok
    };
    Ok(Ret::status(status, shown))
}

fn grpc_end(caller: &mut Caller<'_, HostState>, a: &Args<'_>, what: &str) -> R {
    let token = a.w(0);
    let state = caller.data_mut();
    let status = match token & 3 {
        1 if state.grpc_calls.remove(&token) => Status::Ok,
        2 if state.grpc_streams.remove(&token) => Status::Ok,
        1 | 2 => Status::NotFound,
        _ => Status::BadArgument,
    };
    Ok(Ret::status(status, format!("{what} {token}")))
}

// Metrics.

fn define_metric(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let Some(name) = read(caller, a.w(1), a.w(2)) else { return imo(String::new()) };
    let name = String::from_utf8_lossy(&name).into_owned();
    let Some(kind) = MetricKind::from_code(a.w(0)) else {
        return Ok(Ret::status(Status::BadArgument, format!("kind {}, {name:?}", a.w(0))));
    };
    let shown = format!("{kind:?}, {name:?}");
    let state = caller.data_mut();
    let slot = match kind {
        MetricKind::Counter => 0,
        MetricKind::Gauge => 1,
        MetricKind::Histogram => 2,
    };
    let Some(next) = state.next_metric_id.get_mut(slot) else { return Ok(Ret::status(Status::InternalFailure, shown)) };
    *next = next.wrapping_add(4);
    let id = *next;
    state.shared.define_metric(kind, &name);
    state.metric_ids.insert(id, (kind, name));
    if !write_u32(caller, a.w(3), id) {
        return imo(shown);
    }
    Ok(Ret::ok_with(shown, format!("id {id}")))
}

fn metric(state: &HostState, id: u32) -> Option<(MetricKind, String)> {
    state.metric_ids.get(&id).filter(|(kind, _)| kind.tag() == id & 3).cloned()
}

fn increment_metric(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let (id, delta) = (a.w(0), a.l(1) as i64);
    let shown = format!("{id}, {delta}");
    let state = caller.data();
    let status = match (id & 3, metric(state, id)) {
        (0, Some((kind, name))) if delta > 0 => {
            state.shared.with_metric(kind, &name, |m| m.value = m.value.wrapping_add(delta.unsigned_abs()));
            Status::Ok
        }
        (0, Some(_)) => Status::BadArgument,
        (1, Some((kind, name))) => {
            state.shared.with_metric(kind, &name, |m| {
                m.value = if delta > 0 {
                    m.value.wrapping_add(delta.unsigned_abs())
                } else {
                    m.value.wrapping_sub(delta.unsigned_abs())
                }
            });
            Status::Ok
        }
        (0 | 1, None) => Status::NotFound,
        _ => Status::BadArgument,
    };
    Ok(Ret::status(status, shown))
}

fn record_metric(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let (id, value) = (a.w(0), a.l(1));
    let shown = format!("{id}, {value}");
    let state = caller.data();
    let status = match metric(state, id) {
        Some((kind, name)) => {
            state.shared.with_metric(kind, &name, |m| match kind {
                MetricKind::Counter => m.value = m.value.wrapping_add(value),
                MetricKind::Gauge => m.value = value,
                MetricKind::Histogram => {
                    m.samples.push(value);
                    m.value = u64::try_from(m.samples.len()).unwrap_or(u64::MAX);
                }
            });
            Status::Ok
        }
        None => Status::NotFound,
    };
    Ok(Ret::status(status, shown))
}

fn get_metric(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let id = a.w(0);
    let state = caller.data();
    let value = match (id & 3, metric(state, id)) {
        (0 | 1, Some((kind, name))) => state.shared.with_metric(kind, &name, |m| m.value).unwrap_or(0),
        (0 | 1, None) => return Ok(Ret::status(Status::NotFound, id.to_string())),
        _ => return Ok(Ret::status(Status::BadArgument, id.to_string())),
    };
    if !write_u64(caller, a.w(1), value) {
        return imo(id.to_string());
    }
    Ok(Ret::ok_with(id.to_string(), value.to_string()))
}
