//! Errors of the host: a module Envoy would refuse, or a VM that failed while running.

/// Why a module could not be loaded or a call into it did not complete.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The bytes are not a valid wasm (or WAT) module.
    #[error("invalid wasm module: {message}")]
    InvalidModule {
        /// What wasmtime reported.
        message: String,
    },
    /// The module imports something Envoy does not link (Envoy: "missing import" or "import type mismatch").
    #[error("module imports `{module}.{name}`, which Envoy does not provide: {reason}")]
    Import {
        /// The import's module name, e.g. `env`.
        module: String,
        /// The import's field name, e.g. `proxy_get_configuration`.
        name: String,
        /// Why it is refused.
        reason: String,
    },
    /// The module lacks an export Envoy requires, or exports a callback with the wrong signature.
    #[error("module export `{name}`: {reason}")]
    Export {
        /// The export's name, e.g. `malloc` or `proxy_on_request_headers`.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The guest trapped (a Rust panic with `panic = "abort"` shows as `unreachable`); Envoy marks the VM as
    /// failed and every later call on it fails too.
    #[error("wasm trap in `{callback}`: {trap}")]
    Trap {
        /// The callback the host was running, e.g. `proxy_on_request_headers`.
        callback: String,
        /// The trap and the wasm backtrace.
        trap: String,
    },
    /// The guest called a host function at a point where Envoy refuses it (e.g. a restricted call during
    /// `_initialize`, or `proc_exit`); Envoy fails the VM.
    #[error("`{function}` called from `{callback}` was refused: {reason}")]
    Refused {
        /// The callback the host was running.
        callback: String,
        /// The host function the guest called.
        function: String,
        /// Why the host refused it.
        reason: String,
    },
    /// The guest ran past the time limit of one call (a runaway loop).
    #[error("`{callback}` ran for more than {limit_ms} ms and was interrupted")]
    Timeout {
        /// The callback the host was running.
        callback: String,
        /// The limit in milliseconds.
        limit_ms: u64,
    },
    /// The VM failed earlier (trap, refusal or timeout); like Envoy, the host does not call into it again.
    #[error("the VM failed earlier and is not called again: {first}")]
    Failed {
        /// The first failure.
        first: String,
    },
    /// The plugin's configuration was rejected (`proxy_on_vm_start` or `proxy_on_configure` returned false), so
    /// Envoy would send it no requests.
    #[error("the plugin configuration was rejected; Envoy sends such a plugin no requests")]
    Rejected,
    /// A callback returned a value the host cannot use, or the host itself could not run the call.
    #[error("host failure in `{callback}`: {message}")]
    Host {
        /// The callback the host was running.
        callback: String,
        /// What went wrong.
        message: String,
    },
}
