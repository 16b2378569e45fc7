//! Helpers shared by the integration tests: small WAT guests and the built filter.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use authz_host::{Call, Direction, FilterHost, HttpOutcome, Plugin};
use std::path::PathBuf;

/// Imports, memory, a bump allocator exported as `malloc`, and the ABI marker; `body` adds functions and data.
/// Scratch words: return pointer at 0, return size at 4, a third word at 8. Data segments belong at 1024+.
pub fn wat(body: &str) -> Vec<u8> {
    format!(
        r#"(module
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_log_level" (func $get_log_level (param i32) (result i32)))
  (import "env" "proxy_get_header_map_pairs" (func $get_pairs (param i32 i32 i32) (result i32)))
  (import "env" "proxy_set_header_map_pairs" (func $set_pairs (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_size" (func $get_map_size (param i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_value" (func $get_value (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_add_header_map_value" (func $add_value (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_replace_header_map_value" (func $replace_value (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_remove_header_map_value" (func $remove_value (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_property" (func $get_property (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_property" (func $set_property (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_send_local_response" (func $send_local_response (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_buffer_bytes" (func $get_buffer (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_buffer_bytes" (func $set_buffer (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_current_time_nanoseconds" (func $now (param i32) (result i32)))
  (import "env" "proxy_define_metric" (func $define_metric (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_increment_metric" (func $increment_metric (param i32 i64) (result i32)))
  (import "env" "proxy_record_metric" (func $record_metric (param i32 i64) (result i32)))
  (import "env" "proxy_get_metric" (func $get_metric (param i32 i32) (result i32)))
  (import "env" "proxy_set_shared_data" (func $set_shared (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_shared_data" (func $get_shared (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_register_shared_queue" (func $register_queue (param i32 i32 i32) (result i32)))
  (import "env" "proxy_enqueue_shared_queue" (func $enqueue (param i32 i32 i32) (result i32)))
  (import "env" "proxy_dequeue_shared_queue" (func $dequeue (param i32 i32 i32) (result i32)))
  (import "env" "proxy_http_call" (func $http_call (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_tick_period_milliseconds" (func $set_tick (param i32) (result i32)))
  (import "env" "proxy_continue_stream" (func $continue_stream (param i32) (result i32)))
  (import "env" "proxy_close_stream" (func $close_stream (param i32) (result i32)))
  (import "env" "proxy_set_effective_context" (func $set_effective_context (param i32) (result i32)))
  (import "env" "proxy_done" (func $done (result i32)))
  (memory (export "memory") 4)
  (global $heap (mut i32) (i32.const 65536))
  (func (export "malloc") (param $size i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $size)))
    (local.get $p))
  (func (export "proxy_abi_version_0_2_1"))
  ;; Log (at info) the buffer whose pointer and size a host function wrote at 0 and 4.
  (func $log_out
    (drop (call $log (i32.const 2) (i32.load (i32.const 0)) (i32.load (i32.const 4)))))
{body}
)"#
    )
    .into_bytes()
}

/// Start a WAT guest with an empty configuration; it must accept it.
pub fn start(body: &str) -> Plugin {
    let host = FilterHost::load(&wat(body)).unwrap();
    let (plugin, configured) = host.start(b"", b"").unwrap();
    assert!(configured);
    plugin
}

/// A request with the usual pseudo-headers plus `extra`.
pub fn request(method: &str, path: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut headers = vec![
        (":method".to_string(), method.to_string()),
        (":path".to_string(), path.to_string()),
        (":authority".to_string(), "api.example.com".to_string()),
        (":scheme".to_string(), "https".to_string()),
    ];
    headers.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    headers
}

/// The names of the callbacks the host made during the last operation.
pub fn callbacks(plugin: &Plugin) -> Vec<&'static str> {
    calls(plugin, Direction::HostToVm)
        .iter()
        .map(|c| c.function)
        .filter(|f| !matches!(*f, "malloc" | "proxy_on_memory_allocate"))
        .collect()
}

/// The calls in one direction during the last operation.
pub fn calls(plugin: &Plugin, direction: Direction) -> Vec<Call> {
    plugin.host_calls().iter().filter(|c| c.direction == direction).cloned().collect()
}

/// The only host call named `function` in the last operation.
pub fn only_call(plugin: &Plugin, function: &str) -> Call {
    let found: Vec<_> = plugin.host_calls().iter().filter(|c| c.function == function).cloned().collect();
    assert_eq!(found.len(), 1, "calls to {function}: {}", show(plugin));
    found.into_iter().next().unwrap()
}

/// The last operation's calls, one a line, for assertion messages.
pub fn show(plugin: &Plugin) -> String {
    plugin.host_calls().iter().map(|c| format!("\n  {c}")).collect()
}

/// The messages logged at any level.
pub fn messages(plugin: &Plugin) -> Vec<String> {
    plugin.logs().iter().map(|l| l.message.clone()).collect()
}

/// Value of the first header `name` in `headers`.
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The request headers a `Continue` outcome sent upstream; panics on anything else.
pub fn forwarded(outcome: &HttpOutcome) -> &[(String, String)] {
    match outcome {
        HttpOutcome::Continue { request_headers, .. } => request_headers,
        other => panic!("expected the request to continue, got {other:?}"),
    }
}

/// The path of the built filter: `$AUTHZ_WASM`, or `<workspace>/dist/authz.wasm`.
pub fn filter_path() -> PathBuf {
    match std::env::var_os("AUTHZ_WASM") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dist/authz.wasm"),
    }
}

/// The built filter's bytes. A missing file fails the test: the filter tests must never pass vacuously.
pub fn filter_wasm() -> Vec<u8> {
    let path = filter_path();
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!("cannot read the built filter at {} ({e}); run `make wasm` first (or set AUTHZ_WASM)", path.display())
    })
}
