//! A wasmtime host that runs a proxy-wasm filter the way Envoy does (ABI v0.2.1), for integration tests and
//! the `authz --wasm` mode.
//!
//! [`FilterHost::load`] compiles a module and refuses it where Envoy would; [`FilterHost::start`] starts a VM
//! and configures a root context; [`Plugin::http_request`] runs one HTTP stream through it and returns what
//! the client or the upstream would see, while [`Plugin::host_calls`] records every call across the VM
//! boundary for assertions.
//!
//! The behaviour follows Envoy's embedding of proxy-wasm-cpp-host (status codes, header map semantics,
//! which buffers and maps exist in which callback, call restrictions during start-up, the order of
//! callbacks). Where this host simplifies, the item's documentation says so.

#![warn(missing_docs)]

mod abi;
mod env;
mod error;
mod functions;
mod guest;
mod headers;
mod host;
mod http_call;
mod linker;
mod pairs;
mod plugin;
mod properties;
mod record;
mod runtime;
mod shared;
mod state;
mod wasi;

pub use abi::{LogLevel, MetricKind, Status};
pub use error::HostError;
pub use host::FilterHost;
pub use plugin::{HttpOutcome, Plugin, Started};
pub use record::{Call, Direction, LogLine};
pub use shared::Metric;

#[cfg(test)]
mod tests {
    /// The CLI may move a plugin to a worker thread and share one compiled host between threads.
    #[test]
    fn hosts_are_shareable_and_plugins_movable() {
        fn send<T: Send>() {}
        fn sync<T: Sync>() {}
        send::<crate::FilterHost>();
        sync::<crate::FilterHost>();
        send::<crate::Plugin>();
        send::<crate::HostError>();
        sync::<crate::HostError>();
    }
}
