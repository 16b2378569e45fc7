//! The proxy-wasm filter: the root context compiles the configuration once; each request is extract →
//! authorize → render. No policy or token logic lives here. The SDK provides the ABI exports and context
//! dispatch; host calls go through `host`, which never panics.

mod host;

use crate::{Authorizer, Decision, HttpRequest};
use host::Level;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;

const INTERNAL_ERROR_BODY: &str = r#"{"message":"Internal server error"}"#;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Trace);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(FilterRoot::default()) });
}}

/// Decodes the proxy-wasm header map serialisation (count, then key and value lengths, then NUL-terminated keys
/// and values) with every length checked. Bytes that are not UTF-8 become U+FFFD, which no later check accepts:
/// paths and tokens must be ASCII.
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
        let counter = |name: &str| host::define_counter(name).ok();
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
            host::increment(id);
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
        let bytes = match host::plugin_configuration() {
            Ok(bytes) => bytes,
            Err(status) => {
                host::log(Level::Error, &format!("authz: cannot read the plugin configuration: status {}", status.0));
                return false;
            }
        };
        match Authorizer::from_json(&bytes) {
            Ok(authorizer) => {
                for warning in authorizer.config().warnings() {
                    host::log(Level::Warn, &format!("authz: configuration warning: {warning}"));
                }
                self.authorizer = Some(Rc::new(authorizer));
                host::log(Level::Info, "authz: configuration loaded");
                true
            }
            Err(err) => {
                // The previous configuration, if any, keeps serving.
                Metrics::bump(self.metrics.config_rejected);
                host::log(Level::Error, &format!("authz: configuration refused: {err}"));
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
    let bytes = host::property(&["source", "address"]).ok()??;
    let text = std::str::from_utf8(&bytes).ok()?;
    // Envoy writes `ip:port` (`[v6]:port`); some hosts write the bare address.
    text.parse::<SocketAddr>().map(|addr| addr.ip()).or_else(|_| text.parse::<IpAddr>()).ok()
}

/// Whether the downstream connection is TLS: Envoy has `connection.tls_version` only then. Unknown on error.
fn secure_transport() -> Option<bool> {
    match host::property(&["connection", "tls_version"]) {
        Ok(Some(version)) => Some(!version.is_empty()),
        Ok(None) => Some(false),
        Err(_) => None,
    }
}

fn pseudo(headers: &[(String, String)], name: &str) -> String {
    headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone()).unwrap_or_default()
}

/// The response-code details Envoy logs for each kind of local reply.
fn details(status: u16) -> &'static str {
    match status {
        401 => "authz_unauthorized",
        403 => "authz_forbidden",
        400 | 414 => "authz_bad_request",
        _ => "authz_internal_error",
    }
}

impl FilterRequest {
    fn respond(&self, status: u16, headers: &[(&str, &str)], body: &str) -> Action {
        if let Err(err) = host::send_local_response(u32::from(status), details(status), headers, body) {
            // Without a local reply the stream must still not reach the upstream: stay paused.
            host::log(Level::Error, &format!("authz: local reply failed: status {}", err.0));
        }
        Action::Pause
    }

    fn internal_error(&self, why: &str) -> Action {
        host::log(Level::Error, &format!("authz: {why}; request refused"));
        self.respond(500, &[("content-type", "application/json")], INTERNAL_ERROR_BODY)
    }

    fn forward(&self, decision: &Decision) -> Result<(), host::HostStatus> {
        for name in &decision.remove_headers {
            host::remove_request_header(name)?;
        }
        for (name, value) in &decision.upstream_headers {
            host::replace_request_header(name, value)?;
        }
        if let Some(path) = &decision.rewrite_path {
            host::replace_request_header(":path", path)?;
        }
        Ok(())
    }
}

impl HttpContext for FilterRequest {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let Some(authorizer) = self.authorizer.clone() else {
            return self.internal_error("no configuration loaded");
        };
        let Some(headers) = host::request_header_bytes().ok().and_then(|bytes| decode_header_map(&bytes)) else {
            return self.internal_error("cannot read the request headers");
        };
        let Ok(now) = host::now_seconds() else {
            return self.internal_error("cannot read the clock");
        };
        let request = HttpRequest {
            method: pseudo(&headers, ":method"),
            path: pseudo(&headers, ":path"),
            secure_transport: secure_transport(),
            source_ip: source_ip(),
            headers,
        };
        let decision = authorizer.authorize(&request, now);
        if host::log_level().is_ok_and(|level| level <= Level::Debug) {
            host::log(Level::Debug, &format!("authz: {} {}: {}", decision.status(), request.method, decision.reason));
        }
        if decision.is_allowed() {
            Metrics::bump(self.metrics.allowed);
            return match self.forward(&decision) {
                Ok(()) => Action::Continue,
                Err(status) => self.internal_error(&format!("cannot rewrite the request headers: status {}", status.0)),
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
        self.respond(decision.status(), &headers, body)
    }
}
