//! The `env.proxy_*` host functions, with the status codes Envoy returns.
//!
//! Each function follows the order of checks in proxy-wasm-cpp-host's `exports.cc` and Envoy's
//! `Context`: argument ranges first, then guest memory (`INVALID_MEMORY_ACCESS`), then the context's state.
//! This module dispatches by name and holds what every area shares; each area of the ABI has its own module.

use wasmtime::Caller;

use crate::abi::{BufferType, LogLevel, MapType, MetricKind, Status, StreamType};
use crate::guest::{copy_out, read, write_u32, write_u64};
use crate::headers::HeaderMap;
use crate::pairs;
use crate::properties;
use crate::record::{quote, quote_pairs};
use crate::state::{HostState, LocalReply};

mod buffers;
mod calls;
mod header_maps;
mod logging;
mod metrics;
mod property;
mod shared_data;
mod stream;
use self::{buffers::*, calls::*, header_maps::*, logging::*, metrics::*, property::*, shared_data::*, stream::*};

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
