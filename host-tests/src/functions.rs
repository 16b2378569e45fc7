//! Every function Envoy links into a proxy-wasm v0.2.1 module, with the exact wasm signature Envoy registers,
//! and the callbacks it looks up in the module's exports.
//!
//! The lists mirror proxy-wasm-cpp-host (the code Envoy embeds): `registerCallbacks` for imports and
//! `getFunctions` for exports. A module importing anything else fails to link in Envoy, and so it fails to load
//! here.

use wasmtime::ValType;

/// A wasm value type in a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    I32,
    I64,
}

impl Ty {
    pub(crate) fn val_type(self) -> ValType {
        match self {
            Ty::I32 => ValType::I32,
            Ty::I64 => ValType::I64,
        }
    }

    pub(crate) fn matches(self, other: &ValType) -> bool {
        matches!((self, other), (Ty::I32, ValType::I32) | (Ty::I64, ValType::I64))
    }
}

/// A function signature: parameter and result types.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sig {
    pub(crate) params: &'static [Ty],
    pub(crate) results: &'static [Ty],
}

impl Sig {
    pub(crate) fn matches(&self, ty: &wasmtime::FuncType) -> bool {
        let params: Vec<ValType> = ty.params().collect();
        let results: Vec<ValType> = ty.results().collect();
        params.len() == self.params.len()
            && results.len() == self.results.len()
            && self.params.iter().zip(params.iter()).all(|(a, b)| a.matches(b))
            && self.results.iter().zip(results.iter()).all(|(a, b)| a.matches(b))
    }

    pub(crate) fn func_type(&self, engine: &wasmtime::Engine) -> wasmtime::FuncType {
        wasmtime::FuncType::new(
            engine,
            self.params.iter().map(|t| t.val_type()),
            self.results.iter().map(|t| t.val_type()),
        )
    }
}

impl std::fmt::Display for Sig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = |t: &Ty| match t {
            Ty::I32 => "i32",
            Ty::I64 => "i64",
        };
        let params: Vec<&str> = self.params.iter().map(name).collect();
        let results: Vec<&str> = self.results.iter().map(name).collect();
        write!(f, "({}) -> ({})", params.join(", "), results.join(", "))
    }
}

use Ty::{I32, I64};

const fn sig(params: &'static [Ty], results: &'static [Ty]) -> Sig {
    Sig { params, results }
}

const W0: Sig = sig(&[], &[I32]);
const W1: Sig = sig(&[I32], &[I32]);
const W2: Sig = sig(&[I32, I32], &[I32]);
const W3: Sig = sig(&[I32, I32, I32], &[I32]);
const W4: Sig = sig(&[I32, I32, I32, I32], &[I32]);
const W5: Sig = sig(&[I32, I32, I32, I32, I32], &[I32]);
const W6: Sig = sig(&[I32, I32, I32, I32, I32, I32], &[I32]);

/// Which module a host function is linked under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Namespace {
    Env,
    WasiSnapshotPreview1,
    WasiUnstable,
}

impl Namespace {
    pub(crate) fn module(self) -> &'static str {
        match self {
            Namespace::Env => "env",
            Namespace::WasiSnapshotPreview1 => "wasi_snapshot_preview1",
            Namespace::WasiUnstable => "wasi_unstable",
        }
    }
}

/// The `env.proxy_*` functions of ABI v0.2.1 (the common set plus `continue_stream`, `close_stream`,
/// `get_log_level`), and the two emscripten helpers Envoy always links.
pub(crate) const ENV_FUNCTIONS: &[(&str, Sig)] = &[
    ("proxy_log", W3),
    ("proxy_get_log_level", W1),
    ("proxy_get_status", W3),
    ("proxy_set_property", W4),
    ("proxy_get_property", W4),
    ("proxy_send_local_response", sig(&[I32, I32, I32, I32, I32, I32, I32, I32], &[I32])),
    ("proxy_get_shared_data", W5),
    ("proxy_set_shared_data", W5),
    ("proxy_register_shared_queue", W3),
    ("proxy_resolve_shared_queue", W5),
    ("proxy_dequeue_shared_queue", W3),
    ("proxy_enqueue_shared_queue", W3),
    ("proxy_get_header_map_value", W5),
    ("proxy_add_header_map_value", W5),
    ("proxy_replace_header_map_value", W5),
    ("proxy_remove_header_map_value", W3),
    ("proxy_get_header_map_pairs", W3),
    ("proxy_set_header_map_pairs", W3),
    ("proxy_get_header_map_size", W2),
    ("proxy_get_buffer_status", W3),
    ("proxy_get_buffer_bytes", W5),
    ("proxy_set_buffer_bytes", W5),
    ("proxy_http_call", sig(&[I32, I32, I32, I32, I32, I32, I32, I32, I32, I32], &[I32])),
    ("proxy_grpc_call", sig(&[I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32], &[I32])),
    ("proxy_grpc_stream", sig(&[I32, I32, I32, I32, I32, I32, I32, I32, I32], &[I32])),
    ("proxy_grpc_close", W1),
    ("proxy_grpc_cancel", W1),
    ("proxy_grpc_send", W4),
    ("proxy_set_tick_period_milliseconds", W1),
    ("proxy_get_current_time_nanoseconds", W1),
    ("proxy_define_metric", W4),
    ("proxy_increment_metric", sig(&[I32, I64], &[I32])),
    ("proxy_record_metric", sig(&[I32, I64], &[I32])),
    ("proxy_get_metric", W2),
    ("proxy_set_effective_context", W1),
    ("proxy_done", W0),
    ("proxy_call_foreign_function", W6),
    ("proxy_continue_stream", W1),
    ("proxy_close_stream", W1),
    ("pthread_equal", W2),
    ("emscripten_notify_memory_growth", sig(&[I32], &[])),
];

/// The WASI functions Envoy links under both `wasi_snapshot_preview1` and `wasi_unstable`. The signatures are
/// Envoy's, including its `path_link` (6 parameters) and `path_symlink` (4), which differ from the WASI
/// specification: a module importing the specification's versions fails to link in Envoy.
pub(crate) const WASI_FUNCTIONS: &[(&str, Sig)] = &[
    ("fd_write", W4),
    ("fd_read", W4),
    ("fd_seek", sig(&[I32, I64, I32, I32], &[I32])),
    ("fd_close", W1),
    ("fd_fdstat_get", W2),
    ("fd_fdstat_set_flags", W2),
    ("fd_fdstat_set_rights", sig(&[I32, I64, I64], &[I32])),
    ("environ_get", W2),
    ("environ_sizes_get", W2),
    ("args_get", W2),
    ("args_sizes_get", W2),
    ("clock_time_get", sig(&[I32, I64, I32], &[I32])),
    ("clock_res_get", W2),
    ("fd_advise", sig(&[I32, I64, I64, I32], &[I32])),
    ("fd_allocate", sig(&[I32, I64, I64], &[I32])),
    ("fd_datasync", W1),
    ("fd_filestat_set_size", sig(&[I32, I64], &[I32])),
    ("fd_filestat_set_times", sig(&[I32, I64, I64, I32], &[I32])),
    ("fd_pread", sig(&[I32, I32, I32, I64, I32], &[I32])),
    ("fd_pwrite", sig(&[I32, I32, I32, I64, I32], &[I32])),
    ("fd_readdir", sig(&[I32, I32, I32, I64, I32], &[I32])),
    ("fd_renumber", W2),
    ("fd_sync", W1),
    ("fd_tell", W2),
    ("path_create_directory", W3),
    ("path_filestat_set_times", sig(&[I32, I32, I32, I32, I64, I64, I32], &[I32])),
    ("path_link", W6),
    ("path_readlink", W6),
    ("path_remove_directory", W3),
    ("path_rename", W6),
    ("path_symlink", W4),
    ("path_unlink_file", W3),
    ("sock_accept", W3),
    ("sock_recv", W6),
    ("sock_send", W5),
    ("sock_shutdown", W2),
    ("random_get", W2),
    ("sched_yield", W0),
    ("poll_oneoff", W4),
    ("proc_exit", sig(&[I32], &[])),
    ("path_open", sig(&[I32, I32, I32, I32, I32, I64, I64, I32, I32], &[I32])),
    ("fd_prestat_get", W2),
    ("fd_prestat_dir_name", W3),
    ("path_filestat_get", W5),
    ("fd_filestat_get", W2),
];

/// The signature Envoy links for `module.name`, or `None` when Envoy links nothing under that name.
pub(crate) fn host_function(module: &str, name: &str) -> Option<Sig> {
    let table = match module {
        "env" => ENV_FUNCTIONS,
        "wasi_snapshot_preview1" | "wasi_unstable" => WASI_FUNCTIONS,
        _ => return None,
    };
    table.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// Host functions a module may call while `_initialize`/`_start`/`main` run; Envoy (V8) traps on any other
/// with `restricted_callback` (`WasmBase::startVm`).
pub(crate) fn allowed_during_start(module: &str, name: &str) -> bool {
    match module {
        "env" => matches!(name, "emscripten_notify_memory_growth" | "proxy_log"),
        // Every WASI function Envoy links is allowed during start-up.
        "wasi_snapshot_preview1" | "wasi_unstable" => true,
        _ => false,
    }
}

/// Host functions a module may call from inside its allocator (`WasmBase::allocMemory`).
pub(crate) fn allowed_during_malloc(module: &str, name: &str) -> bool {
    match module {
        "env" => name == "proxy_log",
        "wasi_snapshot_preview1" | "wasi_unstable" => {
            matches!(name, "fd_write" | "clock_time_get" | "poll_oneoff")
        }
        _ => false,
    }
}

/// The callbacks Envoy looks up in a v0.2.1 module, with the signature it requires (V8 fails the module on a
/// mismatch: "Bad function signature").
pub(crate) const CALLBACKS: &[(&str, Sig)] = &[
    ("_initialize", sig(&[], &[])),
    ("_start", sig(&[], &[])),
    ("main", W2),
    ("__main_void", W0),
    ("malloc", W1),
    ("proxy_on_memory_allocate", W1),
    ("proxy_validate_configuration", W2),
    ("proxy_on_vm_start", W2),
    ("proxy_on_configure", W2),
    ("proxy_on_tick", sig(&[I32], &[])),
    ("proxy_on_context_create", sig(&[I32, I32], &[])),
    ("proxy_on_new_connection", W1),
    ("proxy_on_downstream_data", W3),
    ("proxy_on_upstream_data", W3),
    ("proxy_on_downstream_connection_close", sig(&[I32, I32], &[])),
    ("proxy_on_upstream_connection_close", sig(&[I32, I32], &[])),
    ("proxy_on_request_headers", W3),
    ("proxy_on_request_body", W3),
    ("proxy_on_request_trailers", W2),
    ("proxy_on_request_metadata", W2),
    ("proxy_on_response_headers", W3),
    ("proxy_on_response_body", W3),
    ("proxy_on_response_trailers", W2),
    ("proxy_on_response_metadata", W2),
    ("proxy_on_http_call_response", sig(&[I32, I32, I32, I32, I32], &[])),
    ("proxy_on_grpc_receive", sig(&[I32, I32, I32], &[])),
    ("proxy_on_grpc_close", sig(&[I32, I32, I32], &[])),
    ("proxy_on_grpc_create_initial_metadata", sig(&[I32, I32, I32], &[])),
    ("proxy_on_grpc_receive_initial_metadata", sig(&[I32, I32, I32], &[])),
    ("proxy_on_grpc_receive_trailing_metadata", sig(&[I32, I32, I32], &[])),
    ("proxy_on_queue_ready", sig(&[I32, I32], &[])),
    ("proxy_on_foreign_function", sig(&[I32, I32, I32], &[])),
    ("proxy_on_done", W1),
    ("proxy_on_log", sig(&[I32], &[])),
    ("proxy_on_delete", sig(&[I32], &[])),
];

/// The signature Envoy requires of an exported callback, or `None` when Envoy never calls that export.
pub(crate) fn callback(name: &str) -> Option<Sig> {
    CALLBACKS.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// The export by which a module declares ABI v0.2.1.
pub(crate) const ABI_MARKER: &str = "proxy_abi_version_0_2_1";

/// ABI markers Envoy knows but this harness does not implement.
pub(crate) const OTHER_ABI_MARKERS: &[&str] = &["proxy_abi_version_0_1_0", "proxy_abi_version_0_2_0"];
