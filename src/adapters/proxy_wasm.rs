//! The proxy-wasm filter: the root context compiles the configuration once; each request is extract →
//! authorize → render. No policy or token logic lives here.

use crate::{Authorizer, Decision, HttpRequest};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, BufferType, ContextType, LogLevel, MapType, MetricType, Status};
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::UNIX_EPOCH;

const INTERNAL_ERROR_BODY: &str = r#"{"message":"Internal server error"}"#;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Trace);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(FilterRoot::default()) });
}}

extern "C" {
    // Declared here as well as in the SDK: the SDK's own decoder unwraps UTF-8 on every header value, and Envoy
    // passes obs-text bytes through, so one request with a 0xFF byte would trap the whole VM.
    fn proxy_get_header_map_pairs(map_type: u32, return_data: *mut *mut u8, return_size: *mut usize) -> u32;
}

/// Reads the request header map with every length checked; bytes that are not UTF-8 become U+FFFD, which no
/// later check accepts (paths and tokens must be ASCII).
fn request_headers() -> Option<Vec<(String, String)>> {
    let mut data: *mut u8 = std::ptr::null_mut();
    let mut size: usize = 0;
    // SAFETY: the host writes a pointer it allocated through the guest's exported allocator and its length.
    let status = unsafe { proxy_get_header_map_pairs(MapType::HttpRequestHeaders as u32, &mut data, &mut size) };
    if status != Status::Ok as u32 {
        return None;
    }
    if data.is_null() {
        return Some(Vec::new());
    }
    // SAFETY: ownership of the host-filled allocation passes to us (the SDK's allocator is a forgotten Vec).
    let bytes = unsafe { Vec::from_raw_parts(data, size, size) };
    decode_header_map(&bytes)
}

/// Decodes the proxy-wasm header map serialisation: count, (key length, value length) pairs, then NUL-terminated
/// keys and values.
fn decode_header_map(bytes: &[u8]) -> Option<Vec<(String, String)>> {
    let word = |at: usize| -> Option<usize> {
        let raw: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
        usize::try_from(u32::from_le_bytes(raw)).ok()
    };
    if bytes.is_empty() {
        return Some(Vec::new());
    }
    let count = word(0)?;
    let mut cursor = count.checked_mul(8)?.checked_add(4)?;
    let mut pairs = Vec::with_capacity(count.min(256));
    for index in 0..count {
        let key_len = word(4 + index * 8)?;
        let value_len = word(8 + index * 8)?;
        let key = bytes.get(cursor..cursor.checked_add(key_len)?)?;
        cursor = cursor.checked_add(key_len)?.checked_add(1)?;
        let value = bytes.get(cursor..cursor.checked_add(value_len)?)?;
        cursor = cursor.checked_add(value_len)?.checked_add(1)?;
        pairs.push((String::from_utf8_lossy(key).into_owned(), String::from_utf8_lossy(value).into_owned()));
    }
    Some(pairs)
}

fn log(level: LogLevel, message: &str) {
    let _ = hostcalls::log(level, message);
}

fn debug_enabled() -> bool {
    matches!(hostcalls::get_log_level(), Ok(LogLevel::Trace | LogLevel::Debug))
}

/// Counters visible in Envoy's stats as `wasmcustom.authz_*`.
#[derive(Clone, Copy, Default)]
struct Metrics {
    allowed: Option<u32>,
    unauthorized: Option<u32>,
    forbidden: Option<u32>,
    bad_request: Option<u32>,
    config_rejected: Option<u32>,
}

impl Metrics {
    fn define() -> Self {
        let counter = |name: &str| hostcalls::define_metric(MetricType::Counter, name).ok();
        Self {
            allowed: counter("authz_allowed"),
            unauthorized: counter("authz_unauthorized"),
            forbidden: counter("authz_forbidden"),
            bad_request: counter("authz_bad_request"),
            config_rejected: counter("authz_config_rejected"),
        }
    }

    fn bump(id: Option<u32>) {
        if let Some(id) = id {
            let _ = hostcalls::increment_metric(id, 1);
        }
    }
}

#[derive(Default)]
struct FilterRoot {
    authorizer: Option<Rc<Authorizer>>,
    metrics: Metrics,
}

impl Context for FilterRoot {}

impl RootContext for FilterRoot {
    fn on_vm_start(&mut self, _vm_configuration_size: usize) -> bool {
        self.metrics = Metrics::define();
        true
    }

    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let bytes = match hostcalls::get_buffer(BufferType::PluginConfiguration, 0, usize::MAX) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => Vec::new(),
            Err(status) => {
                log(LogLevel::Error, &format!("authz: cannot read the plugin configuration: {status:?}"));
                return false;
            }
        };
        match Authorizer::from_json(&bytes) {
            Ok(authorizer) => {
                for warning in authorizer.config().warnings() {
                    log(LogLevel::Warn, &format!("authz: configuration warning: {warning}"));
                }
                self.authorizer = Some(Rc::new(authorizer));
                log(LogLevel::Info, "authz: configuration loaded");
                true
            }
            Err(err) => {
                // The previous configuration, if any, keeps serving.
                Metrics::bump(self.metrics.config_rejected);
                log(LogLevel::Error, &format!("authz: configuration refused: {err}"));
                false
            }
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(FilterRequest { authorizer: self.authorizer.clone(), metrics: self.metrics }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct FilterRequest {
    authorizer: Option<Rc<Authorizer>>,
    metrics: Metrics,
}

impl Context for FilterRequest {}

fn source_ip() -> Option<IpAddr> {
    let bytes = hostcalls::get_property(vec!["source", "address"]).ok()??;
    let text = std::str::from_utf8(&bytes).ok()?;
    // Envoy writes `ip:port` (`[v6]:port`); some hosts write the bare address.
    text.parse::<SocketAddr>().map(|addr| addr.ip()).or_else(|_| text.parse::<IpAddr>()).ok()
}

fn pseudo(headers: &[(String, String)], name: &str) -> String {
    headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone()).unwrap_or_default()
}

impl FilterRequest {
    fn respond(&self, status: u32, headers: Vec<(&str, &str)>, body: &str) -> Action {
        if hostcalls::send_http_response(status, headers, Some(body.as_bytes())).is_err() {
            // If even the local reply fails, the stream must still not go upstream.
            let _ = hostcalls::reset_http_request();
        }
        Action::Pause
    }

    fn internal_error(&self, why: &str) -> Action {
        log(LogLevel::Error, &format!("authz: {why}; request refused"));
        self.respond(500, vec![("content-type", "application/json")], INTERNAL_ERROR_BODY)
    }

    fn forward(&self, authorizer: &Authorizer, decision: &Decision) -> Result<(), Status> {
        for name in authorizer.identity_header_names() {
            hostcalls::remove_map_value(MapType::HttpRequestHeaders, name)?;
        }
        for (name, value) in &decision.upstream_headers {
            hostcalls::set_map_value(MapType::HttpRequestHeaders, name, Some(value))?;
        }
        if let Some(path) = &decision.rewrite_path {
            hostcalls::set_map_value(MapType::HttpRequestHeaders, ":path", Some(path))?;
        }
        Ok(())
    }
}

impl HttpContext for FilterRequest {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let Some(authorizer) = self.authorizer.clone() else {
            return self.internal_error("no configuration loaded");
        };
        let Some(headers) = request_headers() else {
            return self.internal_error("cannot read the request headers");
        };
        let now = match hostcalls::get_current_time().map(|time| time.duration_since(UNIX_EPOCH)) {
            Ok(Ok(elapsed)) => elapsed.as_secs(),
            _ => return self.internal_error("cannot read the clock"),
        };
        let request = HttpRequest {
            method: pseudo(&headers, ":method"),
            path: pseudo(&headers, ":path"),
            secure_transport: None,
            source_ip: source_ip(),
            headers,
        };
        let decision = authorizer.authorize(&request, now);
        if debug_enabled() {
            log(LogLevel::Debug, &format!("authz: {} {}: {}", decision.status(), request.method, decision.reason));
        }
        if decision.is_allowed() {
            Metrics::bump(self.metrics.allowed);
            return match self.forward(&authorizer, &decision) {
                Ok(()) => Action::Continue,
                Err(status) => self.internal_error(&format!("cannot rewrite the request headers: {status:?}")),
            };
        }
        Metrics::bump(match decision.status() {
            401 => self.metrics.unauthorized,
            403 => self.metrics.forbidden,
            _ => self.metrics.bad_request,
        });
        let headers = decision.response_headers();
        let headers: Vec<(&str, &str)> = headers.iter().map(|(name, value)| (*name, value.as_str())).collect();
        let body = decision.outcome.body().unwrap_or(INTERNAL_ERROR_BODY);
        self.respond(u32::from(decision.status()), headers, body)
    }
}
