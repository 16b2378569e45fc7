//! The proxy-wasm v0.2.1 enumerations, with the numeric values of the specification.

use std::fmt;

/// A `proxy_status_t` as returned by every `env.proxy_*` host function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// `OK` (0).
    Ok,
    /// `NOT_FOUND` (1).
    NotFound,
    /// `BAD_ARGUMENT` (2).
    BadArgument,
    /// `SERIALIZATION_FAILURE` (3).
    SerializationFailure,
    /// `PARSE_FAILURE` (4).
    ParseFailure,
    /// `INVALID_MEMORY_ACCESS` (6).
    InvalidMemoryAccess,
    /// `EMPTY` (7).
    Empty,
    /// `CAS_MISMATCH` (8).
    CasMismatch,
    /// `INTERNAL_FAILURE` (10).
    InternalFailure,
    /// `UNIMPLEMENTED` (12).
    Unimplemented,
}

impl Status {
    /// The numeric value the guest receives.
    pub fn code(self) -> u32 {
        match self {
            Status::Ok => 0,
            Status::NotFound => 1,
            Status::BadArgument => 2,
            Status::SerializationFailure => 3,
            Status::ParseFailure => 4,
            Status::InvalidMemoryAccess => 6,
            Status::Empty => 7,
            Status::CasMismatch => 8,
            Status::InternalFailure => 10,
            Status::Unimplemented => 12,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A `proxy_log_level_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// `TRACE` (0).
    Trace,
    /// `DEBUG` (1).
    Debug,
    /// `INFO` (2).
    Info,
    /// `WARN` (3).
    Warn,
    /// `ERROR` (4).
    Error,
    /// `CRITICAL` (5).
    Critical,
}

impl LogLevel {
    /// The level for a numeric `proxy_log_level_t`; `None` past `CRITICAL`.
    pub fn from_code(code: u32) -> Option<Self> {
        Some(match code {
            0 => LogLevel::Trace,
            1 => LogLevel::Debug,
            2 => LogLevel::Info,
            3 => LogLevel::Warn,
            4 => LogLevel::Error,
            5 => LogLevel::Critical,
            _ => return None,
        })
    }

    /// The numeric value the guest receives from `proxy_get_log_level`.
    pub fn code(self) -> u32 {
        match self {
            LogLevel::Trace => 0,
            LogLevel::Debug => 1,
            LogLevel::Info => 2,
            LogLevel::Warn => 3,
            LogLevel::Error => 4,
            LogLevel::Critical => 5,
        }
    }
}

/// A `proxy_map_type_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MapType {
    RequestHeaders,
    RequestTrailers,
    ResponseHeaders,
    ResponseTrailers,
    GrpcInitialMetadata,
    GrpcTrailingMetadata,
    HttpCallResponseHeaders,
    HttpCallResponseTrailers,
}

impl MapType {
    /// Envoy answers `BAD_ARGUMENT` for any value past `HTTP_CALL_RESPONSE_TRAILERS`.
    pub(crate) fn from_code(code: u32) -> Option<Self> {
        Some(match code {
            0 => MapType::RequestHeaders,
            1 => MapType::RequestTrailers,
            2 => MapType::ResponseHeaders,
            3 => MapType::ResponseTrailers,
            4 => MapType::GrpcInitialMetadata,
            5 => MapType::GrpcTrailingMetadata,
            6 => MapType::HttpCallResponseHeaders,
            7 => MapType::HttpCallResponseTrailers,
            _ => return None,
        })
    }
}

/// A `proxy_buffer_type_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BufferType {
    HttpRequestBody,
    HttpResponseBody,
    DownstreamData,
    UpstreamData,
    HttpCallResponseBody,
    GrpcReceiveBuffer,
    VmConfiguration,
    PluginConfiguration,
    CallData,
}

impl BufferType {
    /// Envoy answers `BAD_ARGUMENT` for any value past `FOREIGN_FUNCTION_ARGUMENTS`.
    pub(crate) fn from_code(code: u32) -> Option<Self> {
        Some(match code {
            0 => BufferType::HttpRequestBody,
            1 => BufferType::HttpResponseBody,
            2 => BufferType::DownstreamData,
            3 => BufferType::UpstreamData,
            4 => BufferType::HttpCallResponseBody,
            5 => BufferType::GrpcReceiveBuffer,
            6 => BufferType::VmConfiguration,
            7 => BufferType::PluginConfiguration,
            8 => BufferType::CallData,
            _ => return None,
        })
    }
}

/// A `proxy_stream_type_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamType {
    HttpRequest,
    HttpResponse,
    Downstream,
    Upstream,
}

impl StreamType {
    pub(crate) fn from_code(code: u32) -> Option<Self> {
        Some(match code {
            0 => StreamType::HttpRequest,
            1 => StreamType::HttpResponse,
            2 => StreamType::Downstream,
            3 => StreamType::Upstream,
            _ => return None,
        })
    }
}

/// The kind of a metric defined with `proxy_define_metric`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetricKind {
    /// `COUNTER` (0): only grows.
    Counter,
    /// `GAUGE` (1): set or moved up and down.
    Gauge,
    /// `HISTOGRAM` (2): records samples.
    Histogram,
}

impl MetricKind {
    pub(crate) fn from_code(code: u32) -> Option<Self> {
        Some(match code {
            0 => MetricKind::Counter,
            1 => MetricKind::Gauge,
            2 => MetricKind::Histogram,
            _ => return None,
        })
    }

    /// Envoy keeps the kind in the two low bits of a metric id.
    pub(crate) fn tag(self) -> u32 {
        match self {
            MetricKind::Counter => 0,
            MetricKind::Gauge => 1,
            MetricKind::Histogram => 2,
        }
    }
}

/// WASI errno values used by Envoy's WASI functions.
pub(crate) mod errno {
    pub(crate) const SUCCESS: u32 = 0;
    pub(crate) const BADF: u32 = 8;
    pub(crate) const NOTDIR: u32 = 20;
    pub(crate) const FAULT: u32 = 21;
    pub(crate) const INVAL: u32 = 28;
    pub(crate) const NOENT: u32 = 44;
    pub(crate) const NOSYS: u32 = 52;
    pub(crate) const NOTSUP: u32 = 58;
}
