//! ABI-level tests with small WAT guests: what the host refuses, how it serialises, which status codes it
//! returns, and in which order it calls back, as Envoy does.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use authz_host::{Direction, FilterHost, HostError, HttpOutcome, LogLevel, MetricKind};
use std::time::Duration;
use support::{callbacks, calls, forwarded, header, messages, only_call, request, show, start, wat};

const NOOP_CALLBACKS: &str = r#"
  (func (export "_initialize"))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_log") (param i32))
  (func (export "proxy_on_done") (param i32) (result i32) (i32.const 1))
  (func (export "proxy_on_delete") (param i32))
"#;

/// No-op callbacks for every lifecycle export `body` does not define itself.
fn with_callbacks(body: &str) -> String {
    let defaults: String = NOOP_CALLBACKS
        .lines()
        .filter(|line| match line.split('"').nth(1) {
            Some(name) => !body.contains(&format!("(export \"{name}\")")),
            None => true,
        })
        .map(|line| format!("{line}\n"))
        .collect();
    format!("{defaults}{body}")
}

/// The serialisation of the specification, built independently of the host.
fn serialise(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut out = (pairs.len() as u32).to_le_bytes().to_vec();
    for (k, v) in pairs {
        out.extend_from_slice(&(k.len() as u32).to_le_bytes());
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
    }
    for (k, v) in pairs {
        out.extend_from_slice(k.as_bytes());
        out.push(0);
        out.extend_from_slice(v.as_bytes());
        out.push(0);
    }
    out
}

fn minimal(imports: &str) -> Vec<u8> {
    format!(
        r#"(module {imports}
  (memory (export "memory") 1)
  (func (export "malloc") (param i32) (result i32) (i32.const 1024))
  (func (export "proxy_abi_version_0_2_1")))"#
    )
    .into_bytes()
}

fn load_err(wasm: &[u8]) -> HostError {
    match FilterHost::load(wasm) {
        Ok(_) => panic!("the module was accepted"),
        Err(e) => e,
    }
}

#[test]
fn imports_envoy_does_not_link_are_refused_by_name() {
    let cases = [
        (r#"(import "env" "not_a_proxy_function" (func (param i32) (result i32)))"#, "env.not_a_proxy_function"),
        (
            r#"(import "__wbindgen_placeholder__" "__wbindgen_describe" (func (param i32)))"#,
            "__wbindgen_placeholder__.__wbindgen_describe",
        ),
        // ABI v0.1.0 only: Envoy does not link it for a v0.2.1 module.
        (
            r#"(import "env" "proxy_get_configuration" (func (param i32 i32) (result i32)))"#,
            "env.proxy_get_configuration",
        ),
        // Right name, wrong signature.
        (r#"(import "env" "proxy_log" (func (param i32) (result i32)))"#, "env.proxy_log"),
        // The WASI specification's path_link has 7 parameters; Envoy registers 6.
        (
            r#"(import "wasi_snapshot_preview1" "path_link" (func (param i32 i32 i32 i32 i32 i32 i32) (result i32)))"#,
            "wasi_snapshot_preview1.path_link",
        ),
        (r#"(import "env" "table" (table 1 funcref))"#, "env.table"),
    ];
    for (import, name) in cases {
        let err = load_err(&minimal(import));
        assert!(matches!(err, HostError::Import { .. }), "{name}: {err:?}");
        assert!(err.to_string().contains(name), "{name}: {err}");
    }
}

#[test]
fn every_function_envoy_links_is_accepted() {
    let host = FilterHost::load(&minimal(
        r#"(import "env" "proxy_get_buffer_status" (func (param i32 i32 i32) (result i32)))
           (import "env" "proxy_grpc_call" (func (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
           (import "env" "proxy_call_foreign_function" (func (param i32 i32 i32 i32 i32 i32) (result i32)))
           (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
           (import "wasi_snapshot_preview1" "clock_time_get" (func (param i32 i64 i32) (result i32)))
           (import "wasi_unstable" "proc_exit" (func (param i32)))"#,
    ))
    .unwrap();
    assert_eq!(
        host.imports(),
        [
            "env.proxy_get_buffer_status",
            "env.proxy_grpc_call",
            "env.proxy_call_foreign_function",
            "wasi_snapshot_preview1.fd_write",
            "wasi_snapshot_preview1.clock_time_get",
            "wasi_unstable.proc_exit"
        ]
    );
}

#[test]
fn modules_without_the_abi_marker_memory_or_allocator_are_refused() {
    let no_marker =
        br#"(module (memory (export "memory") 1) (func (export "malloc") (param i32) (result i32) (i32.const 0)))"#;
    let err = load_err(no_marker);
    assert!(matches!(&err, HostError::Export { name, .. } if name == "proxy_abi_version_0_2_1"), "{err:?}");

    let old_abi =
        br#"(module (memory (export "memory") 1) (func (export "malloc") (param i32) (result i32) (i32.const 0))
        (func (export "proxy_abi_version_0_1_0")))"#;
    assert!(load_err(old_abi).to_string().contains("proxy_abi_version_0_1_0"));

    let no_malloc = br#"(module (memory (export "memory") 1) (func (export "proxy_abi_version_0_2_1")))"#;
    let err = load_err(no_malloc);
    assert!(matches!(&err, HostError::Export { name, .. } if name == "malloc"), "{err:?}");

    let no_memory = br#"(module (func (export "malloc") (param i32) (result i32) (i32.const 0)) (func (export "proxy_abi_version_0_2_1")))"#;
    assert!(matches!(load_err(no_memory), HostError::Export { name, .. } if name == "memory"));

    let bad_callback = wat(r#"(func (export "proxy_on_request_headers") (param i32 i32) (result i32) (i32.const 0))"#);
    let err = load_err(&bad_callback);
    assert!(matches!(&err, HostError::Export { name, .. } if name == "proxy_on_request_headers"), "{err:?}");

    assert!(matches!(load_err(b"not wasm"), HostError::InvalidModule { .. }));
}

#[test]
fn start_and_stream_callbacks_come_in_envoys_order() {
    let mut plugin = start(&with_callbacks(
        r#"(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) (i32.const 0))"#,
    ));
    assert_eq!(
        callbacks(&plugin),
        ["_initialize", "proxy_on_context_create", "proxy_on_vm_start", "proxy_on_configure"],
        "{}",
        show(&plugin)
    );
    let root = calls(&plugin, Direction::HostToVm)[1].clone();
    assert_eq!((root.context_id, root.args.as_str()), (1, "1, 0"));

    let headers = request("GET", "/x", &[("accept", "*/*")]);
    let outcome = plugin.http_request(&headers).unwrap();
    assert_eq!(forwarded(&outcome), headers.as_slice());
    // Envoy runs the access log (proxy_on_log) before it destroys the filter (proxy_on_done, proxy_on_delete).
    assert_eq!(
        callbacks(&plugin),
        ["proxy_on_context_create", "proxy_on_request_headers", "proxy_on_log", "proxy_on_done", "proxy_on_delete"],
        "{}",
        show(&plugin)
    );
    let cb = calls(&plugin, Direction::HostToVm);
    assert_eq!(cb[0].args, "2, 1");
    assert_eq!(cb[1].args, "2, 5, end_of_stream true");
    assert_eq!(cb[1].result, "0");
    plugin.http_request(&headers).unwrap();
    assert_eq!(calls(&plugin, Direction::HostToVm)[0].args, "3, 1");
}

#[test]
fn header_maps_serialise_as_the_spec_says_and_round_trip() {
    let mut plugin = start(&with_callbacks(
        r#"(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
             (drop (call $get_pairs (i32.const 0) (i32.const 0) (i32.const 4)))
             (call $log_out)
             (drop (call $set_pairs (i32.const 0) (i32.load (i32.const 0)) (i32.load (i32.const 4))))
             (i32.const 0))"#,
    ));
    let headers = request("POST", "/a?b=c", &[("x-two", "1"), ("x-two", "22"), ("empty", "")]);
    let outcome = plugin.http_request(&headers).unwrap();
    assert_eq!(forwarded(&outcome), headers.as_slice());
    let pairs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(plugin.logs().last().unwrap().message.as_bytes(), serialise(&pairs).as_slice());
    let get = only_call(&plugin, "proxy_get_header_map_pairs");
    assert!(get.result.starts_with("Ok {\":method\": \"POST\""), "{get}");
    // The returned buffer was allocated through the guest's malloc with the exact size.
    let malloc = calls(&plugin, Direction::HostToVm).into_iter().find(|c| c.function == "malloc").unwrap();
    assert_eq!(malloc.args, serialise(&pairs).len().to_string());
}

#[test]
fn serialised_maps_from_the_guest_replace_the_headers_and_malformed_ones_clear_them() {
    // The example map of the specification, {"a": "1", "b": "22"}, then the same bytes without the last NUL.
    let body = r#"
      (data (i32.const 1024) "\02\00\00\00\01\00\00\00\01\00\00\00\01\00\00\00\02\00\00\00a\001\00b\0022\00")
      (global $size (mut i32) (i32.const 29))
      (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
        (drop (call $set_pairs (i32.const 0) (i32.const 1024) (global.get $size)))
        (global.set $size (i32.const 28))
        (i32.const 0))"#;
    let mut plugin = start(&with_callbacks(body));
    let outcome = plugin.http_request(&request("GET", "/", &[])).unwrap();
    assert_eq!(forwarded(&outcome), [("a".to_string(), "1".to_string()), ("b".to_string(), "22".to_string())]);
    let outcome = plugin.http_request(&request("GET", "/", &[])).unwrap();
    assert_eq!(forwarded(&outcome), []);
}

#[test]
fn header_values_are_read_and_changed_with_envoys_statuses() {
    let body = r#"
      (data (i32.const 1024) "x-missingX-Keepx-addedonex-replacenewx-remove")
      (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
        (drop (call $get_value (i32.const 0) (i32.const 1024) (i32.const 9) (i32.const 0) (i32.const 4)))
        (drop (call $get_value (i32.const 0) (i32.const 1033) (i32.const 6) (i32.const 0) (i32.const 4)))
        (call $log_out)
        (drop (call $add_value (i32.const 0) (i32.const 1039) (i32.const 7) (i32.const 1046) (i32.const 3)))
        (drop (call $replace_value (i32.const 0) (i32.const 1049) (i32.const 9) (i32.const 1058) (i32.const 3)))
        (drop (call $remove_value (i32.const 0) (i32.const 1061) (i32.const 8)))
        ;; Response headers do not exist yet; map 9 does not exist at all.
        (drop (call $get_value (i32.const 2) (i32.const 1024) (i32.const 9) (i32.const 0) (i32.const 4)))
        (drop (call $get_value (i32.const 9) (i32.const 1024) (i32.const 9) (i32.const 0) (i32.const 4)))
        (drop (call $add_value (i32.const 2) (i32.const 1039) (i32.const 7) (i32.const 1046) (i32.const 3)))
        (drop (call $get_map_size (i32.const 0) (i32.const 8)))
        ;; A return pointer outside memory.
        (drop (call $get_value (i32.const 0) (i32.const 1033) (i32.const 6) (i32.const 0x7fffffff) (i32.const 4)))
        (i32.const 0))"#;
    let mut plugin = start(&with_callbacks(body));
    let headers = request(
        "GET",
        "/",
        &[("x-keep", "kept"), ("x-replace", "old"), ("x-remove", "a"), ("x-replace", "second"), ("x-remove", "b")],
    );
    let outcome = plugin.http_request(&headers).unwrap();
    let got = forwarded(&outcome);
    assert_eq!(header(got, "x-replace"), Some("new"));
    assert_eq!(got.iter().filter(|(k, _)| k == "x-replace").count(), 2, "replace changes the first value only");
    assert_eq!(header(got, "x-remove"), None, "remove drops every value");
    assert_eq!(got.last().unwrap(), &("x-added".to_string(), "one".to_string()));
    assert_eq!(plugin.logs().last().unwrap().message, "kept");
    let results: Vec<String> = plugin
        .host_calls()
        .iter()
        .filter(|c| c.direction == Direction::VmToHost && c.function != "proxy_log")
        .map(|c| c.result.split(' ').next().unwrap().to_string())
        .collect();
    assert_eq!(
        results,
        ["NotFound", "Ok", "Ok", "Ok", "Ok", "BadArgument", "BadArgument", "BadArgument", "Ok", "InvalidMemoryAccess"],
        "{}",
        show(&plugin)
    );
}

#[test]
fn properties_resolve_like_envoys_attributes() {
    let body = r#"
      (data (i32.const 1024) "source\00addressrequest\00url_pathrequest\00headers\00user-agentno.such")
      (func $read (param i32 i32)
        (if (i32.eqz (call $get_property (local.get 0) (local.get 1) (i32.const 0) (i32.const 4)))
          (then (call $log_out))))
      (func (export "proxy_on_configure") (param i32 i32) (result i32)
        (call $read (i32.const 1024) (i32.const 14))
        (i32.const 1))
      (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
        (call $read (i32.const 1024) (i32.const 14))
        (call $read (i32.const 1038) (i32.const 16))
        (call $read (i32.const 1054) (i32.const 26))
        (call $read (i32.const 1080) (i32.const 7))
        (i32.const 0))"#;
    let host = FilterHost::load(&wat(&format!(r#"(func (export "proxy_on_context_create") (param i32 i32)) {body}"#)))
        .unwrap();
    let (mut plugin, configured) = host.start(b"", b"").unwrap();
    assert!(configured);
    // A root context has no connection: source.address is not found there.
    assert_eq!(only_call(&plugin, "proxy_get_property").result, "NotFound");
    plugin.set_property(&["source", "address"], b"192.0.2.10:53346");
    plugin.http_request(&request("GET", "/pets/1?x=y", &[("user-agent", "curl/8")])).unwrap();
    assert_eq!(messages(&plugin), ["192.0.2.10:53346", "/pets/1", "curl/8"]);
    let unknown = plugin.host_calls().iter().rfind(|c| c.function == "proxy_get_property").unwrap().clone();
    assert_eq!((unknown.args.as_str(), unknown.result.as_str()), ("\"no.such\"", "NotFound"));
}

#[test]
fn a_local_response_stops_the_request_and_passes_through_the_response_callbacks() {
    let body = r#"
      (data (i32.const 1024) "token missing")
      (data (i32.const 1040) "{\22message\22:\22Unauthorized\22}")
      ;; {"WWW-Authenticate": "Bearer"}
      (data (i32.const 1100) "\01\00\00\00\10\00\00\00\06\00\00\00WWW-Authenticate\00Bearer\00")
      (data (i32.const 1200) "x-seen-by-response")
      (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
        (drop (call $send_local_response (i32.const 401) (i32.const 1024) (i32.const 13) (i32.const 1040)
          (i32.const 26) (i32.const 1100) (i32.const 36) (i32.const -1)))
        ;; Envoy ignores the action after a local response.
        (i32.const 0))
      (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32)
        (drop (call $add_value (i32.const 2) (i32.const 1200) (i32.const 18) (i32.const 1200) (i32.const 1)))
        (i32.const 0))
      (func (export "proxy_on_response_body") (param i32 i32 i32) (result i32) (i32.const 0))"#;
    let mut plugin = start(&with_callbacks(body));
    let outcome = plugin.http_request(&request("GET", "/", &[])).unwrap();
    let HttpOutcome::LocalResponse { status, headers, body, details } = outcome else {
        panic!("expected a local response: {outcome:?}")
    };
    assert_eq!(status, 401);
    assert_eq!(body, br#"{"message":"Unauthorized"}"#);
    assert_eq!(details, "token_missing");
    assert_eq!(
        headers,
        [
            ("www-authenticate", "Bearer"),
            ("content-length", "26"),
            ("content-type", "text/plain"),
            ("x-seen-by-response", "x")
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
    );
    assert_eq!(
        callbacks(&plugin),
        [
            "proxy_on_context_create",
            "proxy_on_request_headers",
            "proxy_on_response_headers",
            "proxy_on_response_body",
            "proxy_on_log",
            "proxy_on_done",
            "proxy_on_delete"
        ]
    );
    assert_eq!(
        only_call(&plugin, "proxy_send_local_response").args,
        r#"401, "token missing", "{\"message\":\"Unauthorized\"}", {"WWW-Authenticate": "Bearer"}, grpc -1"#
    );
}

#[test]
fn pausing_continuing_and_resetting_streams() {
    // The first request pauses, the second pauses then resumes, the third resets.
    let body = r#"
      (global $n (mut i32) (i32.const 0))
      (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
        (global.set $n (i32.add (global.get $n) (i32.const 1)))
        (if (i32.eq (global.get $n) (i32.const 2)) (then (drop (call $continue_stream (i32.const 0)))))
        (if (i32.eq (global.get $n) (i32.const 3)) (then (drop (call $close_stream (i32.const 0)))))
        (drop (call $continue_stream (i32.const 7)))
        (i32.const 1))"#;
    let mut plugin = start(&with_callbacks(body));
    let headers = request("GET", "/", &[]);
    assert!(matches!(plugin.http_request(&headers).unwrap(), HttpOutcome::Paused { .. }));
    assert!(matches!(plugin.http_request(&headers).unwrap(), HttpOutcome::Continue { .. }));
    assert_eq!(plugin.http_request(&headers).unwrap(), HttpOutcome::Reset);
    assert_eq!(
        plugin.host_calls().iter().rfind(|c| c.function == "proxy_continue_stream").unwrap().result,
        "BadArgument"
    );
}

#[test]
fn a_trap_is_reported_as_a_trap_and_fails_the_vm() {
    let mut plugin = start(&with_callbacks(
        r#"(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) (unreachable))"#,
    ));
    let err = plugin.http_request(&request("GET", "/", &[])).unwrap_err();
    let HostError::Trap { callback, trap } = &err else { panic!("expected a trap: {err:?}") };
    assert_eq!(callback, "proxy_on_request_headers");
    assert!(trap.contains("unreachable"), "{trap}");
    // Envoy does not call a failed VM again: no proxy_on_log, proxy_on_done or proxy_on_delete.
    assert_eq!(callbacks(&plugin), ["proxy_on_context_create", "proxy_on_request_headers"]);
    assert!(matches!(plugin.http_request(&request("GET", "/", &[])), Err(HostError::Failed { .. })));
}

#[test]
fn a_runaway_guest_times_out() {
    let mut host = FilterHost::load(&wat(&with_callbacks(
        r#"(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) (loop (br 0)) (i32.const 0))"#,
    )))
    .unwrap();
    host.set_call_timeout(Duration::from_millis(100));
    let (mut plugin, _) = host.start(b"", b"").unwrap();
    let started = std::time::Instant::now();
    let err = plugin.http_request(&request("GET", "/", &[])).unwrap_err();
    assert!(
        matches!(&err, HostError::Timeout { callback, limit_ms: 100 } if callback == "proxy_on_request_headers"),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn only_logging_and_wasi_are_allowed_while_the_module_starts() {
    let logs = wat(r#"
      (data (i32.const 1024) "starting")
      (func (export "_initialize") (drop (call $log (i32.const 1) (i32.const 1024) (i32.const 8))))"#);
    let (plugin, _) = FilterHost::load(&logs).unwrap().start(b"", b"").unwrap();
    assert_eq!(messages(&plugin), ["starting"]);

    let reads_time = wat(r#"(func (export "_initialize") (drop (call $now (i32.const 0))))"#);
    let err = FilterHost::load(&reads_time).unwrap().start(b"", b"").err().unwrap();
    assert!(
        matches!(&err, HostError::Refused { callback, function, .. }
            if callback == "_initialize" && function == "env.proxy_get_current_time_nanoseconds"),
        "{err:?}"
    );
}

#[test]
fn configuration_buffers_are_readable_only_where_envoy_allows() {
    let body = r#"
      (func (export "proxy_on_vm_start") (param i32 i32) (result i32)
        (drop (call $get_buffer (i32.const 6) (i32.const 0) (i32.const -1) (i32.const 0) (i32.const 4)))
        (call $log_out)
        (i32.const 1))
      (func (export "proxy_on_configure") (param i32 i32) (result i32)
        (drop (call $get_buffer (i32.const 7) (i32.const 0) (i32.const -1) (i32.const 0) (i32.const 4)))
        (call $log_out)
        ;; Bytes 2..5 only.
        (drop (call $get_buffer (i32.const 7) (i32.const 2) (i32.const 3) (i32.const 0) (i32.const 4)))
        (call $log_out)
        (i32.const 1))
      (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
        (drop (call $get_buffer (i32.const 7) (i32.const 0) (i32.const -1) (i32.const 0) (i32.const 4)))
        (drop (call $get_buffer (i32.const 9) (i32.const 0) (i32.const -1) (i32.const 0) (i32.const 4)))
        (drop (call $set_buffer (i32.const 6) (i32.const 0) (i32.const 0) (i32.const 1024) (i32.const 1)))
        (i32.const 0))"#;
    let host = FilterHost::load(&wat(body)).unwrap();
    let (mut plugin, configured) = host.start(b"vm-config", b"plugin-config").unwrap();
    assert!(configured);
    assert_eq!(messages(&plugin), ["vm-config", "plugin-config", "ugi"]);
    assert_eq!(only_call(&plugin, "proxy_on_vm_start").args, "1, 9");
    assert_eq!(only_call(&plugin, "proxy_on_configure").args, "1, 13");
    plugin.http_request(&request("GET", "/", &[])).unwrap();
    let results: Vec<_> = calls(&plugin, Direction::VmToHost).into_iter().map(|c| c.result).collect();
    assert_eq!(results, ["NotFound", "BadArgument", "BadArgument"], "{}", show(&plugin));
}

#[test]
fn time_log_level_and_log_statuses() {
    let body = r#"
      (data (i32.const 1024) "debug line")
      (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
        (drop (call $now (i32.const 0)))
        (drop (call $get_log_level (i32.const 0)))
        (drop (call $log (i32.const 1) (i32.const 1024) (i32.const 10)))
        (drop (call $log (i32.const 4) (i32.const 1024) (i32.const 10)))
        (drop (call $log (i32.const 6) (i32.const 1024) (i32.const 10)))
        (drop (call $log (i32.const 2) (i32.const 0x7ffffff0) (i32.const 100)))
        (i32.const 0))"#;
    let mut plugin = start(body);
    plugin.set_time_nanos(1_700_000_000_123_456_789);
    plugin.set_log_level(LogLevel::Warn);
    plugin.http_request(&request("GET", "/", &[])).unwrap();
    let results: Vec<_> = calls(&plugin, Direction::VmToHost).into_iter().map(|c| c.result).collect();
    assert_eq!(
        results,
        ["Ok 1700000000123456789", "Ok Warn", "Ok", "Ok", "BadArgument", "InvalidMemoryAccess"],
        "{}",
        show(&plugin)
    );
    // Below the level, the line is dropped as Envoy's logger drops it.
    assert_eq!(plugin.logs().iter().map(|l| l.level).collect::<Vec<_>>(), [LogLevel::Error]);
}

#[test]
fn metrics_follow_envoys_ids_and_rules() {
    let body = r#"
      (data (i32.const 1024) "requestsinflightlatency")
      (func (export "proxy_on_vm_start") (param i32 i32) (result i32)
        (drop (call $define_metric (i32.const 0) (i32.const 1024) (i32.const 8) (i32.const 16)))
        (drop (call $define_metric (i32.const 1) (i32.const 1032) (i32.const 8) (i32.const 20)))
        (drop (call $define_metric (i32.const 2) (i32.const 1040) (i32.const 7) (i32.const 24)))
        (drop (call $define_metric (i32.const 3) (i32.const 1040) (i32.const 7) (i32.const 28)))
        (i32.const 1))
      (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
        (drop (call $increment_metric (i32.load (i32.const 16)) (i64.const 1)))
        (drop (call $increment_metric (i32.load (i32.const 16)) (i64.const -1)))
        (drop (call $increment_metric (i32.load (i32.const 20)) (i64.const 5)))
        (drop (call $increment_metric (i32.load (i32.const 20)) (i64.const -2)))
        (drop (call $record_metric (i32.load (i32.const 24)) (i64.const 42)))
        (drop (call $increment_metric (i32.load (i32.const 24)) (i64.const 1)))
        (drop (call $get_metric (i32.load (i32.const 16)) (i32.const 32)))
        (drop (call $get_metric (i32.load (i32.const 24)) (i32.const 32)))
        (drop (call $get_metric (i32.const 400) (i32.const 32)))
        (i32.const 0))"#;
    let host = FilterHost::load(&wat(body)).unwrap();
    let (mut plugin, _) = host.start(b"", b"").unwrap();
    let defined: Vec<_> = calls(&plugin, Direction::VmToHost).into_iter().map(|c| c.result).collect();
    assert_eq!(defined, ["Ok id 4", "Ok id 5", "Ok id 6", "BadArgument"]);
    plugin.http_request(&request("GET", "/", &[])).unwrap();
    plugin.http_request(&request("GET", "/", &[])).unwrap();
    let results: Vec<_> = calls(&plugin, Direction::VmToHost).into_iter().map(|c| c.result).collect();
    assert_eq!(
        results,
        ["Ok", "BadArgument", "Ok", "Ok", "Ok", "BadArgument", "Ok 2", "BadArgument", "NotFound"],
        "{}",
        show(&plugin)
    );
    let metrics: Vec<_> = plugin.metrics().into_iter().map(|m| (m.kind, m.name, m.value, m.samples)).collect();
    assert_eq!(
        metrics,
        [
            (MetricKind::Counter, "requests".to_string(), 2, vec![]),
            (MetricKind::Gauge, "inflight".to_string(), 6, vec![]),
            (MetricKind::Histogram, "latency".to_string(), 2, vec![42, 42]),
        ]
    );
    // A second VM of the same host shares the stats, as Envoy's worker VMs do.
    let (other, _) = host.start(b"", b"").unwrap();
    assert_eq!(other.metrics().len(), 3);
}

#[test]
fn shared_data_compare_and_swap_and_queues() {
    let body = r#"
      (data (i32.const 1024) "keyv1v2queue")
      (func (export "proxy_on_configure") (param i32 i32) (result i32)
        (drop (call $register_queue (i32.const 1031) (i32.const 5) (i32.const 40)))
        (i32.const 1))
      (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
        (drop (call $set_shared (i32.const 1024) (i32.const 3) (i32.const 1027) (i32.const 2) (i32.const 0)))
        (drop (call $get_shared (i32.const 1024) (i32.const 3) (i32.const 0) (i32.const 4) (i32.const 8)))
        (drop (call $set_shared (i32.const 1024) (i32.const 3) (i32.const 1029) (i32.const 2) (i32.add (i32.load (i32.const 8)) (i32.const 1))))
        (drop (call $set_shared (i32.const 1024) (i32.const 3) (i32.const 1029) (i32.const 2) (i32.load (i32.const 8))))
        (drop (call $enqueue (i32.load (i32.const 40)) (i32.const 1027) (i32.const 2)))
        (i32.const 0))
      (func (export "proxy_on_queue_ready") (param i32 i32)
        (drop (call $dequeue (local.get 1) (i32.const 0) (i32.const 4)))
        (call $log_out)
        (drop (call $dequeue (local.get 1) (i32.const 0) (i32.const 4))))"#;
    let mut plugin = start(&with_callbacks(body));
    plugin.http_request(&request("GET", "/", &[])).unwrap();
    let results: Vec<_> = calls(&plugin, Direction::VmToHost).into_iter().map(|c| (c.function, c.result)).collect();
    let expected = [
        ("proxy_set_shared_data", "Ok"),
        ("proxy_get_shared_data", "Ok \"v1\", cas 1"),
        ("proxy_set_shared_data", "CasMismatch"),
        ("proxy_set_shared_data", "Ok"),
        ("proxy_enqueue_shared_queue", "Ok"),
        ("proxy_dequeue_shared_queue", "Ok \"v1\""),
        ("proxy_log", "Ok"),
        ("proxy_dequeue_shared_queue", "Empty"),
    ];
    assert_eq!(results, expected.map(|(f, r)| (f, r.to_string())), "{}", show(&plugin));
    // The notification comes after the stream, on the root context that registered the queue.
    assert_eq!(callbacks(&plugin).last(), Some(&"proxy_on_queue_ready"));
    let ready =
        calls(&plugin, Direction::HostToVm).into_iter().rfind(|c| c.function == "proxy_on_queue_ready").unwrap();
    assert_eq!(ready.context_id, 1);
}

#[test]
fn http_calls_are_recorded_and_need_the_request_pseudo_headers() {
    let body = r#"
      (data (i32.const 1024) "jwks_cluster")
      ;; {":method": "GET", ":path": "/jwks", ":authority": "idp"}
      (data (i32.const 1100) "\03\00\00\00\07\00\00\00\03\00\00\00\05\00\00\00\05\00\00\00\0a\00\00\00\03\00\00\00:method\00GET\00:path\00/jwks\00:authority\00idp\00")
      (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
        (drop (call $http_call (i32.const 1024) (i32.const 12) (i32.const 1100) (i32.const 67) (i32.const 0) (i32.const 0)
          (i32.const 0) (i32.const 0) (i32.const 5000) (i32.const 8)))
        ;; Without :authority (the map cut after two pairs is malformed, so it is empty).
        (drop (call $http_call (i32.const 1024) (i32.const 12) (i32.const 1100) (i32.const 40) (i32.const 0) (i32.const 0)
          (i32.const 0) (i32.const 0) (i32.const 5000) (i32.const 8)))
        (i32.const 0))"#;
    let mut plugin = start(&with_callbacks(body));
    plugin.http_request(&request("GET", "/", &[])).unwrap();
    let calls: Vec<_> = calls(&plugin, Direction::VmToHost);
    assert_eq!(calls[0].result, "Ok token 4");
    assert!(
        calls[0].args.starts_with(r#""jwks_cluster", {":method": "GET", ":path": "/jwks", ":authority": "idp"}"#),
        "{}",
        calls[0]
    );
    assert_eq!(calls[1].result, "BadArgument");
}

#[test]
fn the_effective_context_changes_what_host_functions_act_on() {
    let body = r#"
      (data (i32.const 1024) ":path")
      (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
        (drop (call $set_effective_context (i32.const 99)))
        (drop (call $set_effective_context (i32.const 1)))
        ;; The root context has no request headers.
        (drop (call $get_value (i32.const 0) (i32.const 1024) (i32.const 5) (i32.const 0) (i32.const 4)))
        (drop (call $set_effective_context (local.get 0)))
        (drop (call $get_value (i32.const 0) (i32.const 1024) (i32.const 5) (i32.const 0) (i32.const 4)))
        (drop (call $done))
        (i32.const 0))"#;
    let mut plugin = start(&with_callbacks(body));
    plugin.http_request(&request("GET", "/here", &[])).unwrap();
    let results: Vec<_> = calls(&plugin, Direction::VmToHost).into_iter().map(|c| (c.context_id, c.result)).collect();
    let expected = [(2, "BadArgument"), (2, "Ok"), (1, "BadArgument"), (1, "Ok"), (2, "Ok \"/here\""), (2, "NotFound")];
    assert_eq!(results, expected.map(|(c, r)| (c, r.to_string())), "{}", show(&plugin));
}

#[test]
fn reconfiguring_tries_a_canary_vm_then_swaps_root_contexts() {
    // Configurations of exactly three bytes are refused.
    let body = r#"
      (data (i32.const 1024) "bad configuration refused")
      (func (export "proxy_on_configure") (param i32 i32) (result i32)
        (if (result i32) (i32.eq (local.get 1) (i32.const 3))
          (then (drop (call $log (i32.const 4) (i32.const 1024) (i32.const 25))) (i32.const 0))
          (else (i32.const 1))))
      (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) (i32.const 0))"#;
    let host = FilterHost::load(&wat(&format!(
        r#"(func (export "_initialize"))
           (func (export "proxy_on_context_create") (param i32 i32))
           (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
           (func (export "proxy_on_log") (param i32))
           (func (export "proxy_on_done") (param i32) (result i32) (i32.const 1))
           (func (export "proxy_on_delete") (param i32))
           {body}"#
    )))
    .unwrap();
    let (mut plugin, configured) = host.start(b"", b"good").unwrap();
    assert!(configured);
    assert!(!host.start(b"", b"bad").unwrap().1);

    assert!(!plugin.reconfigure(b"bad").unwrap());
    // The running VM never saw the refused configuration; the canary's log line is kept.
    assert_eq!(plugin.host_calls(), []);
    assert_eq!(messages(&plugin), ["bad configuration refused"]);
    plugin.http_request(&request("GET", "/", &[])).unwrap();
    assert_eq!(calls(&plugin, Direction::HostToVm)[0].args, "2, 1");

    assert!(plugin.reconfigure(b"better").unwrap());
    let cb: Vec<_> = calls(&plugin, Direction::HostToVm).into_iter().map(|c| (c.function, c.args)).collect();
    let expected = [
        ("proxy_on_context_create", "3, 0"),
        ("proxy_on_vm_start", "3, 0"),
        ("proxy_on_configure", "3, 6"),
        ("proxy_on_done", "1"),
        ("proxy_on_delete", "1"),
    ];
    assert_eq!(cb, expected.map(|(f, a)| (f, a.to_string())));
    plugin.http_request(&request("GET", "/", &[])).unwrap();
    assert_eq!(calls(&plugin, Direction::HostToVm)[0].args, "4, 3");
}

#[test]
fn a_rejected_configuration_gets_no_requests() {
    let host =
        FilterHost::load(&wat(r#"(func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 0))"#))
            .unwrap();
    let (mut plugin, configured) = host.start(b"", b"x").unwrap();
    assert!(!configured);
    assert!(matches!(plugin.http_request(&request("GET", "/", &[])), Err(HostError::Rejected)));
}

#[test]
fn wasip1_modules_use_proxy_on_memory_allocate_and_log_through_stdout() {
    let module = br#"(module
      (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
      (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
      (import "env" "proxy_get_header_map_value" (func $get_value (param i32 i32 i32 i32 i32) (result i32)))
      (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
      (memory (export "memory") 2)
      (global $heap (mut i32) (i32.const 4096))
      (func (export "proxy_on_memory_allocate") (param i32) (result i32)
        (local $p i32) (local.set $p (global.get $heap))
        (global.set $heap (i32.add (global.get $heap) (local.get 0))) (local.get $p))
      (func (export "proxy_abi_version_0_2_1"))
      (data (i32.const 1024) "hello from stdout\n")
      (data (i32.const 1100) ":path")
      (func (export "_start")
        ;; iovec {1024, 18} at 64; stdout.
        (i32.store (i32.const 64) (i32.const 1024))
        (i32.store (i32.const 68) (i32.const 18))
        (drop (call $fd_write (i32.const 1) (i32.const 64) (i32.const 1) (i32.const 72)))
        (drop (call $clock (i32.const 0) (i64.const 1) (i32.const 80)))
        (drop (call $random (i32.const 88) (i32.const 8))))
      (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
        (drop (call $get_value (i32.const 0) (i32.const 1100) (i32.const 5) (i32.const 0) (i32.const 4)))
        (drop (call $log (i32.const 2) (i32.load (i32.const 0)) (i32.load (i32.const 4))))
        (i32.const 0)))"#;
    let host = FilterHost::load(module).unwrap();
    let (mut plugin, configured) = host.start(b"", b"").unwrap();
    assert!(configured);
    let results: Vec<_> = calls(&plugin, Direction::VmToHost).into_iter().map(|c| c.result).collect();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0], "errno 0, 18");
    assert!(results[1].starts_with("errno 0, "));
    assert_eq!(results[2], "errno 0");
    plugin.http_request(&request("GET", "/wasi", &[])).unwrap();
    assert_eq!(messages(&plugin), ["hello from stdout", "/wasi"]);
    assert!(plugin.host_calls().iter().any(|c| c.function == "proxy_on_memory_allocate"), "{}", show(&plugin));
    assert_eq!(plugin.logs()[0].level, LogLevel::Info);
}

#[test]
fn the_access_log_reads_the_request_but_changes_nothing() {
    let body = r#"
      (data (i32.const 1024) ":pathx-new")
      (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) (i32.const 0))
      (func (export "proxy_on_log") (param i32)
        (drop (call $get_value (i32.const 0) (i32.const 1024) (i32.const 5) (i32.const 0) (i32.const 4)))
        ;; No response went through this stream: missing maps read as NotFound in the access log.
        (drop (call $get_value (i32.const 2) (i32.const 1024) (i32.const 5) (i32.const 0) (i32.const 4)))
        (drop (call $add_value (i32.const 0) (i32.const 1029) (i32.const 5) (i32.const 1029) (i32.const 5))))"#;
    let mut plugin = start(&with_callbacks(body));
    let outcome = plugin.http_request(&request("GET", "/logged", &[])).unwrap();
    assert_eq!(header(forwarded(&outcome), "x-new"), None);
    let results: Vec<_> = calls(&plugin, Direction::VmToHost).into_iter().map(|c| c.result).collect();
    assert_eq!(results, ["Ok \"/logged\"", "NotFound", "BadArgument"], "{}", show(&plugin));
}

#[test]
fn ticks_reach_the_root_context_once_a_period_is_set() {
    let body = r#"
      (data (i32.const 1024) "tick")
      (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (drop (call $set_tick (i32.const 1000))) (i32.const 1))
      (func (export "proxy_on_tick") (param i32) (drop (call $log (i32.const 2) (i32.const 1024) (i32.const 4))))"#;
    let mut plugin = start(&with_callbacks(body));
    assert_eq!(only_call(&plugin, "proxy_set_tick_period_milliseconds").args, "1000 ms");
    assert!(plugin.tick().unwrap());
    assert_eq!(callbacks(&plugin), ["proxy_on_tick"]);
    assert_eq!(calls(&plugin, Direction::HostToVm)[0].context_id, 1);
    assert_eq!(messages(&plugin), ["tick"]);

    let mut quiet = start(&with_callbacks(r#"(func (export "proxy_on_tick") (param i32) (unreachable))"#));
    assert!(!quiet.tick().unwrap(), "no period was set");
}

#[test]
fn request_trailers_are_a_map_only_while_their_callback_runs() {
    // Headers: try to remove trailer `x-t` (not live yet), pause when the path is /stop. Trailers: remove `x-t`,
    // add `x-added`, and log the map.
    let body = r#"
      (data (i32.const 1200) "x-t")
      (data (i32.const 1210) "x-added")
      (data (i32.const 1220) "/stop")
      (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
        (drop (call $remove_value (i32.const 1) (i32.const 1200) (i32.const 3)))
        (drop (call $get_value (i32.const 0) (i32.const 1230) (i32.const 5) (i32.const 0) (i32.const 4)))
        (if (result i32) (i32.eq (i32.load (i32.const 4)) (i32.const 5)) (then (i32.const 1)) (else (i32.const 0))))
      (func (export "proxy_on_request_trailers") (param i32 i32) (result i32)
        (drop (call $remove_value (i32.const 1) (i32.const 1200) (i32.const 3)))
        (drop (call $add_value (i32.const 1) (i32.const 1210) (i32.const 7) (i32.const 1200) (i32.const 3)))
        (drop (call $get_pairs (i32.const 1) (i32.const 0) (i32.const 4)))
        (i32.const 0))
      (data (i32.const 1230) ":path")"#;
    let mut plugin = start(&with_callbacks(body));
    let outcome =
        plugin.http_request_with_trailers(&request("GET", "/go", &[]), &[("X-T", "1"), ("x-keep", "2")]).unwrap();
    let HttpOutcome::Continue { request_trailers: Some(trailers), .. } = &outcome else { panic!("{outcome:?}") };
    let trailers: Vec<(&str, &str)> = trailers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(trailers, [("x-keep", "2"), ("x-added", "x-t")]);
    assert_eq!(
        callbacks(&plugin),
        [
            "proxy_on_context_create",
            "proxy_on_request_headers",
            "proxy_on_request_trailers",
            "proxy_on_log",
            "proxy_on_done",
            "proxy_on_delete"
        ]
    );
    let headers_call = plugin.host_calls().iter().find(|c| c.function == "proxy_on_request_headers").unwrap();
    assert!(headers_call.args.ends_with("end_of_stream false"), "{headers_call}");
    let removes: Vec<&str> = plugin
        .host_calls()
        .iter()
        .filter(|c| c.function == "proxy_remove_header_map_value")
        .map(|c| c.result.as_str())
        .collect();
    assert_eq!(removes, ["BadArgument", "Ok"], "{}", show(&plugin));
    assert_eq!(only_call(&plugin, "proxy_on_request_trailers").args, "2, 2");

    // A request without trailers ends with its headers and never gets the trailers callback.
    let outcome = plugin.http_request(&request("GET", "/go", &[])).unwrap();
    assert!(matches!(outcome, HttpOutcome::Continue { request_trailers: None, .. }), "{outcome:?}");
    assert!(!callbacks(&plugin).contains(&"proxy_on_request_trailers"));

    // Envoy turns a stop of the headers into "stop all iteration": the trailers are held back, not delivered.
    let outcome = plugin.http_request_with_trailers(&request("GET", "/stop", &[]), &[("x-t", "1")]).unwrap();
    assert!(matches!(&outcome, HttpOutcome::Paused { request_trailers: Some(t), .. } if t.len() == 1), "{outcome:?}");
    assert!(!callbacks(&plugin).contains(&"proxy_on_request_trailers"), "{}", show(&plugin));
}
