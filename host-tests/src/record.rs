//! What a plugin leaves behind for tests to read: its log lines and the calls across the VM boundary.

use std::fmt;

use crate::abi::LogLevel;

/// One line the guest logged with `proxy_log` (or wrote to stdout/stderr through WASI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// The level it was logged at.
    pub level: LogLevel,
    /// The message, with bytes that are not UTF-8 replaced by U+FFFD.
    pub message: String,
}

/// Which way a call crossed the VM boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The host called an export of the module (`proxy_on_*`, `malloc`, `_initialize`); Envoy's trace log
    /// prints these as `[host->vm]`.
    HostToVm,
    /// The module called a host function (`proxy_*`, WASI); Envoy prints `[vm->host]`.
    VmToHost,
}

/// One call across the VM boundary, with its arguments decoded from guest memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// Who called whom.
    pub direction: Direction,
    /// The context the call applies to: the context id passed to a callback, or the (effective) context a host
    /// function acted on (0 is the VM context used for start-up and allocation).
    pub context_id: u32,
    /// The function's name, e.g. `proxy_on_request_headers` or `proxy_get_header_map_value`.
    pub function: &'static str,
    /// The arguments, decoded: enumerations by name, guest strings quoted, e.g. `RequestHeaders, "authorization"`.
    pub args: String,
    /// The outcome, decoded: a status name such as `Ok` or `NotFound` (WASI: `errno 0`), the value handed back
    /// to the guest when there is one, or a callback's return value.
    pub result: String,
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let arrow = match self.direction {
            Direction::HostToVm => "host->vm",
            Direction::VmToHost => "vm->host",
        };
        write!(f, "[{arrow}] #{} {}({}) -> {}", self.context_id, self.function, self.args, self.result)
    }
}

/// Guest bytes as a short quoted string for call records.
pub(crate) fn quote(bytes: &[u8]) -> String {
    const MAX: usize = 200;
    let text = String::from_utf8_lossy(bytes);
    if text.chars().count() <= MAX {
        format!("{text:?}")
    } else {
        let head: String = text.chars().take(MAX).collect();
        format!("{head:?}... ({} bytes)", bytes.len())
    }
}

/// Header pairs for call records: `{"k": "v", ...}`.
pub(crate) fn quote_pairs(pairs: &[(Vec<u8>, Vec<u8>)]) -> String {
    let items: Vec<String> = pairs.iter().map(|(k, v)| format!("{}: {}", quote(k), quote(v))).collect();
    format!("{{{}}}", items.join(", "))
}
