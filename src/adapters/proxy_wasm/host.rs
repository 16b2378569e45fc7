//! The host calls the filter makes, declared here rather than taken from the SDK's `hostcalls`: those wrappers
//! `panic!` on any status they did not expect (and unwrap UTF-8 on header values), and a panic traps the whole
//! VM. Every function here returns an error instead, and every length the host hands back is checked.

#![allow(unsafe_code, clashing_extern_declarations)] // the SDK declares the same imports with its own Status type

use std::ptr::{null, null_mut};

/// A non-Ok status from the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostStatus(pub u32);

/// Log levels of the ABI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Trace = 0,
    Debug = 1,
    Info = 2,
    Warn = 3,
    Error = 4,
}

/// The request's header maps the filter reads and changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Map {
    RequestHeaders = 0,
    RequestTrailers = 1,
}

const OK: u32 = 0;
const NOT_FOUND: u32 = 1;
const PLUGIN_CONFIGURATION: u32 = 7;
const HTTP_CALL_RESPONSE_BODY: u32 = 4;
const HTTP_CALL_RESPONSE_HEADERS: u32 = 6;
/// `proxy_set_shared_data`: the value changed since it was read.
pub const CAS_MISMATCH: u32 = 8;
/// `proxy_continue_stream`: the request direction of an HTTP stream.
const STREAM_HTTP_REQUEST: u32 = 0;
const COUNTER: u32 = 0;
/// `grpc_status` of `proxy_send_local_response` when the filter leaves the choice to the host.
const NO_GRPC_STATUS: i32 = -1;

#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_log(level: u32, message_data: *const u8, message_size: usize) -> u32;
    fn proxy_get_current_time_nanoseconds(return_time: *mut u64) -> u32;
    fn proxy_get_buffer_bytes(
        buffer_type: u32,
        start: usize,
        max_size: usize,
        return_data: *mut *mut u8,
        return_size: *mut usize,
    ) -> u32;
    fn proxy_get_header_map_pairs(map_type: u32, return_data: *mut *mut u8, return_size: *mut usize) -> u32;
    fn proxy_replace_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_add_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_remove_header_map_value(map_type: u32, key_data: *const u8, key_size: usize) -> u32;
    fn proxy_get_property(
        path_data: *const u8,
        path_size: usize,
        return_data: *mut *mut u8,
        return_size: *mut usize,
    ) -> u32;
    fn proxy_set_property(path_data: *const u8, path_size: usize, value_data: *const u8, value_size: usize) -> u32;
    fn proxy_send_local_response(
        status_code: u32,
        details_data: *const u8,
        details_size: usize,
        body_data: *const u8,
        body_size: usize,
        headers_data: *const u8,
        headers_size: usize,
        grpc_status: i32,
    ) -> u32;
    fn proxy_define_metric(metric_type: u32, name_data: *const u8, name_size: usize, return_id: *mut u32) -> u32;
    fn proxy_increment_metric(metric_id: u32, offset: i64) -> u32;
    fn proxy_set_tick_period_milliseconds(period: u32) -> u32;
    fn proxy_get_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
    ) -> u32;
    fn proxy_get_shared_data(
        key_data: *const u8,
        key_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
        return_cas: *mut u32,
    ) -> u32;
    fn proxy_set_shared_data(
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
        cas: u32,
    ) -> u32;
    fn proxy_set_effective_context(context_id: u32) -> u32;
    fn proxy_continue_stream(stream_type: u32) -> u32;
}

fn check(status: u32) -> Result<(), HostStatus> {
    if status == OK {
        Ok(())
    } else {
        Err(HostStatus(status))
    }
}

/// Takes ownership of bytes the host allocated through the guest's exported allocator.
fn take(data: *mut u8, size: usize) -> Vec<u8> {
    if data.is_null() {
        return Vec::new();
    }
    // SAFETY: the host filled `data` with `size` bytes from the SDK allocator, which hands out a forgotten
    // `Vec<u8>` of exactly that capacity; ownership passes to us here, once.
    unsafe { Vec::from_raw_parts(data, size, size) }
}

/// Writes a log line; a failure to log is not worth failing a request for.
pub fn log(level: Level, message: &str) {
    // SAFETY: pointer and length describe a live string for the duration of the call.
    let _ = unsafe { proxy_log(level as u32, message.as_ptr(), message.len()) };
}

/// Unix time in whole seconds, from the host's clock.
pub fn now_seconds() -> Result<u64, HostStatus> {
    let mut nanos = 0u64;
    // SAFETY: the host writes one u64 into `nanos`.
    check(unsafe { proxy_get_current_time_nanoseconds(&mut nanos) })?;
    Ok(nanos / 1_000_000_000)
}

/// The plugin configuration buffer, or its first `MAX_CONFIG_BYTES + 1` bytes: one byte over the limit is enough
/// for the configuration to be refused, and a huge one is never copied into the VM.
pub fn plugin_configuration() -> Result<Vec<u8>, HostStatus> {
    let (mut data, mut size) = (null_mut(), 0usize);
    let max = crate::config::MAX_CONFIG_BYTES + 1;
    // SAFETY: the host writes an allocation pointer and its length.
    match unsafe { proxy_get_buffer_bytes(PLUGIN_CONFIGURATION, 0, max, &mut data, &mut size) } {
        OK => Ok(take(data, size)),
        NOT_FOUND => Ok(Vec::new()),
        status => Err(HostStatus(status)),
    }
}

/// A header map in the ABI's serialisation (decode with `decode_header_map`).
pub fn header_map_bytes(map: Map) -> Result<Vec<u8>, HostStatus> {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: the host writes an allocation pointer and its length.
    check(unsafe { proxy_get_header_map_pairs(map as u32, &mut data, &mut size) })?;
    Ok(take(data, size))
}

/// Sets request header `name` to `value`, replacing every existing value.
pub fn replace_request_header(name: &str, value: &str) -> Result<(), HostStatus> {
    // SAFETY: both pointers and lengths describe live strings for the duration of the call.
    check(unsafe {
        proxy_replace_header_map_value(
            Map::RequestHeaders as u32,
            name.as_ptr(),
            name.len(),
            value.as_ptr(),
            value.len(),
        )
    })
}

/// Adds a value of request header `name` after any it has (cheaper in Envoy than a replace, which looks the
/// name up first).
pub fn add_request_header(name: &str, value: &str) -> Result<(), HostStatus> {
    // SAFETY: both pointers and lengths describe live strings for the duration of the call.
    check(unsafe {
        proxy_add_header_map_value(Map::RequestHeaders as u32, name.as_ptr(), name.len(), value.as_ptr(), value.len())
    })
}

/// Removes every value of `name` from `map`.
pub fn remove_header(map: Map, name: &str) -> Result<(), HostStatus> {
    // SAFETY: pointer and length describe a live string for the duration of the call.
    check(unsafe { proxy_remove_header_map_value(map as u32, name.as_ptr(), name.len()) })
}

/// A property by path segments, `None` when the host has none.
pub fn property(path: &[&str]) -> Result<Option<Vec<u8>>, HostStatus> {
    // The ABI joins the segments with NUL bytes.
    let joined = path.join("\0");
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: the path is live for the call; the host writes an allocation pointer and its length.
    match unsafe { proxy_get_property(joined.as_ptr(), joined.len(), &mut data, &mut size) } {
        OK => Ok(Some(take(data, size))),
        NOT_FOUND => Ok(None),
        status => Err(HostStatus(status)),
    }
}

/// Sets the stream's property `name` (one path segment) to `value`; Envoy keeps it in the request's filter
/// state as `wasm.<name>`.
pub fn set_property(name: &str, value: &str) -> Result<(), HostStatus> {
    // SAFETY: both pointers and lengths describe live strings for the duration of the call.
    check(unsafe { proxy_set_property(name.as_ptr(), name.len(), value.as_ptr(), value.len()) })
}

/// Answers the request locally; `details` shows in Envoy's `%RESPONSE_CODE_DETAILS%`. A gRPC request gets HTTP
/// 200 with `grpc-status: <grpc_status>` and the body as `grpc-message` instead (Envoy's local replies).
pub fn send_local_response(
    status: u32,
    details: &str,
    headers: &[(&str, &str)],
    body: &str,
    grpc_status: Option<u32>,
) -> Result<(), HostStatus> {
    let grpc_status = grpc_status.and_then(|code| i32::try_from(code).ok()).unwrap_or(NO_GRPC_STATUS);
    let headers = crate::adapters::header_map::encode_header_map(headers);
    // SAFETY: every pointer and length describes a live buffer for the duration of the call.
    check(unsafe {
        proxy_send_local_response(
            status,
            if details.is_empty() { null() } else { details.as_ptr() },
            details.len(),
            body.as_ptr(),
            body.len(),
            headers.as_ptr(),
            headers.len(),
            grpc_status,
        )
    })
}

/// Defines a counter, returning its id.
pub fn define_counter(name: &str) -> Result<u32, HostStatus> {
    let mut id = 0u32;
    // SAFETY: the name is live for the call; the host writes one u32.
    check(unsafe { proxy_define_metric(COUNTER, name.as_ptr(), name.len(), &mut id) })?;
    Ok(id)
}

/// Adds `by` to a counter; metrics never fail a request.
pub fn increment_by(id: u32, by: i64) {
    // SAFETY: plain values.
    let _ = unsafe { proxy_increment_metric(id, by) };
}

/// Asks for `proxy_on_tick` on the root context every `millis` milliseconds.
pub fn set_tick_period(millis: u32) -> Result<(), HostStatus> {
    // SAFETY: a plain value.
    check(unsafe { proxy_set_tick_period_milliseconds(millis) })
}

/// Starts an HTTP call to `cluster`; its answer arrives in `on_http_call_response` of the context that is active
/// now. This one goes through the SDK, which must record the call's token for its dispatcher (an unrecorded token
/// makes the SDK panic when the answer comes). The SDK panics on a status other than Ok, BadArgument and
/// InternalFailure: Envoy's `Context::httpCall` returns only those three (and InvalidMemoryAccess, which the live
/// buffers passed here cannot cause), so that path is not reached in Envoy; `:path`, `:method` and `:authority`
/// are always given, as Envoy requires.
pub fn http_call(cluster: &str, headers: &[(&str, &str)], timeout_ms: u32) -> Result<u32, HostStatus> {
    proxy_wasm::hostcalls::dispatch_http_call(
        cluster,
        headers.to_vec(),
        None,
        Vec::new(),
        std::time::Duration::from_millis(u64::from(timeout_ms)),
    )
    .map_err(|status| HostStatus(status as u32))
}

/// The `:status` of the HTTP call answer being delivered, if it has a readable one.
pub fn http_call_status() -> Option<u32> {
    let name = ":status";
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: the name is live for the call; the host writes an allocation pointer and its length.
    let status = unsafe {
        proxy_get_header_map_value(HTTP_CALL_RESPONSE_HEADERS, name.as_ptr(), name.len(), &mut data, &mut size)
    };
    if status != OK {
        return None;
    }
    std::str::from_utf8(&take(data, size)).ok()?.parse().ok()
}

/// The body of the HTTP call answer being delivered, or its first `max` bytes.
pub fn http_call_body(max: usize) -> Result<Vec<u8>, HostStatus> {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: the host writes an allocation pointer and its length.
    match unsafe { proxy_get_buffer_bytes(HTTP_CALL_RESPONSE_BODY, 0, max, &mut data, &mut size) } {
        OK => Ok(take(data, size)),
        NOT_FOUND => Ok(Vec::new()),
        status => Err(HostStatus(status)),
    }
}

/// A value of the host's shared data (every VM of the host sees it) with its compare-and-swap token; `None` when
/// the key has no value.
pub fn shared_data(key: &str) -> Result<Option<(Vec<u8>, u32)>, HostStatus> {
    let (mut data, mut size, mut cas) = (null_mut(), 0usize, 0u32);
    // SAFETY: the key is live for the call; the host writes an allocation pointer, its length and one u32.
    match unsafe { proxy_get_shared_data(key.as_ptr(), key.len(), &mut data, &mut size, &mut cas) } {
        OK => Ok(Some((take(data, size), cas))),
        NOT_FOUND => Ok(None),
        status => Err(HostStatus(status)),
    }
}

/// Sets a shared-data value if its token is still `cas` (0: whatever it is); [`CAS_MISMATCH`] when another VM
/// changed it since it was read.
pub fn set_shared_data(key: &str, value: &[u8], cas: u32) -> Result<(), HostStatus> {
    // SAFETY: both pointers and lengths describe live buffers for the duration of the call.
    check(unsafe { proxy_set_shared_data(key.as_ptr(), key.len(), value.as_ptr(), value.len(), cas) })
}

/// Makes later host calls of this callback act on the context `id` (a paused request, from the root context).
pub fn set_effective_context(id: u32) -> Result<(), HostStatus> {
    // SAFETY: a plain value.
    check(unsafe { proxy_set_effective_context(id) })
}

/// Lets the effective context's paused request go on to the upstream.
pub fn continue_request() -> Result<(), HostStatus> {
    // SAFETY: a plain value.
    check(unsafe { proxy_continue_stream(STREAM_HTTP_REQUEST) })
}

/// Unix time in nanoseconds, from the host's clock.
pub fn now_nanos() -> Result<u64, HostStatus> {
    let mut nanos = 0u64;
    // SAFETY: the host writes one u64 into `nanos`.
    check(unsafe { proxy_get_current_time_nanoseconds(&mut nanos) })?;
    Ok(nanos)
}

/// Starts an HTTP call with a body (see [`http_call`]); the host copies the body during the call.
pub fn http_call_with_body(
    cluster: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout_ms: u32,
) -> Result<u32, HostStatus> {
    proxy_wasm::hostcalls::dispatch_http_call(
        cluster,
        headers.to_vec(),
        Some(body),
        Vec::new(),
        std::time::Duration::from_millis(u64::from(timeout_ms)),
    )
    .map_err(|status| HostStatus(status as u32))
}
