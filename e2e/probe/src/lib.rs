//! A probe filter for `make bench`: the proxy-wasm SDK's context dispatch and a list of host calls, with no logic
//! of its own, so that the cost of the sandbox and of the host calls can be measured in the same run as the
//! authorizer (`e2e/src/bin/envoy_bench.rs`, `host-tests/benches/request.rs`).
//!
//! The plugin configuration is the list of steps each request makes, comma-separated; empty means none (the
//! empty filter). Steps:
//!
//! - `map`: the whole request header map (`proxy_get_header_map_pairs`);
//! - `get:NAME`: one request header (`proxy_get_header_map_value`);
//! - `property:a.b`: a property (`proxy_get_property`, path segments joined by NUL);
//! - `clock`, `log_level`, `metric` (one counter increment);
//! - `record:N`: `proxy_set_property("authz.decision", N bytes)`, the decision record;
//! - `replace:N`: N identity headers set with `proxy_replace_header_map_value`;
//! - `add:N`: N identity headers added with `proxy_add_header_map_value`;
//! - `remove:NAME`: `proxy_remove_header_map_value(NAME)`;
//! - `remove_spellings`: every spelling of the six default identity header names with `_` for `-`
//!   (lower case only: Envoy lower-cases header names and removes by lower-cased name).
//!
//! Every request continues. Host statuses are ignored: the probe only pays for the calls.

#![allow(unsafe_code, clippy::missing_safety_doc)]

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};
use std::ptr::null_mut;
use std::rc::Rc;

#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_get_buffer_bytes(
        buffer_type: u32,
        start: usize,
        max_size: usize,
        data: *mut *mut u8,
        size: *mut usize,
    ) -> u32;
    fn proxy_get_header_map_pairs(map_type: u32, data: *mut *mut u8, size: *mut usize) -> u32;
    fn proxy_get_header_map_value(
        map_type: u32,
        key: *const u8,
        key_size: usize,
        data: *mut *mut u8,
        size: *mut usize,
    ) -> u32;
    fn proxy_replace_header_map_value(
        map_type: u32,
        key: *const u8,
        key_size: usize,
        value: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_add_header_map_value(
        map_type: u32,
        key: *const u8,
        key_size: usize,
        value: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_remove_header_map_value(map_type: u32, key: *const u8, key_size: usize) -> u32;
    fn proxy_get_property(path: *const u8, path_size: usize, data: *mut *mut u8, size: *mut usize) -> u32;
    fn proxy_set_property(path: *const u8, path_size: usize, value: *const u8, value_size: usize) -> u32;
    fn proxy_get_current_time_nanoseconds(time: *mut u64) -> u32;
    fn proxy_get_log_level(level: *mut u32) -> u32;
    fn proxy_define_metric(metric_type: u32, name: *const u8, name_size: usize, id: *mut u32) -> u32;
    fn proxy_increment_metric(metric_id: u32, offset: i64) -> u32;
}

/// The steps that make the host calls `dist/authz.wasm` makes for the benchmarks' request (a cached token, allowed,
/// six identity headers set, nothing to remove, no property a policy reads): the host-call floor. The wasmtime
/// benchmark checks that the filter still makes exactly these calls.
pub const FILTER_CALLS: &str = "map,clock,record:211,metric,add:6";

const REQUEST_HEADERS: u32 = 0;
const PLUGIN_CONFIGURATION: u32 = 7;
/// The default identity header names of the authorizer.
const IDENTITY: [&str; 6] =
    ["x-authz-sub", "x-authz-username", "x-authz-client-id", "x-authz-groups", "x-authz-scopes", "x-authz-issuer"];
/// Values of the lengths the authorizer writes for the benchmark's token.
const VALUES: [&str; 6] = [
    "sub-alice",
    "alice",
    "app-client-1",
    "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example",
    "pet-veterinarian",
    "aws.cognito.signin.user.admin",
];

/// Frees a buffer the host allocated through the SDK's allocator.
fn drop_buffer(data: *mut u8, size: usize) {
    if !data.is_null() {
        // SAFETY: the host filled `data` with `size` bytes from the SDK allocator (a forgotten Vec of that capacity).
        drop(unsafe { Vec::from_raw_parts(data, size, size) });
    }
}

/// One step of a request.
#[derive(Debug, Clone)]
enum Step {
    Map,
    Get(String),
    Property(String),
    Clock,
    LogLevel,
    Metric,
    Record(String),
    Replace(usize),
    Add(usize),
    Remove(String),
}

/// Every name that equals `name` once `_` is read as `-` (lower case).
fn spellings(name: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    for ch in name.chars() {
        if ch == '-' {
            out = out.into_iter().flat_map(|prefix| [format!("{prefix}-"), format!("{prefix}_")]).collect();
        } else {
            for prefix in &mut out {
                prefix.push(ch);
            }
        }
    }
    out
}

fn parse(config: &str) -> Option<Vec<Step>> {
    let mut steps = Vec::new();
    for item in config.split(',').map(str::trim).filter(|item| !item.is_empty()) {
        let (name, argument) = item.split_once(':').unwrap_or((item, ""));
        match name {
            "map" => steps.push(Step::Map),
            "get" => steps.push(Step::Get(argument.to_owned())),
            "property" => steps.push(Step::Property(argument.replace('.', "\0"))),
            "clock" => steps.push(Step::Clock),
            "log_level" => steps.push(Step::LogLevel),
            "metric" => steps.push(Step::Metric),
            "record" => steps.push(Step::Record("r".repeat(argument.parse().ok()?))),
            "replace" => steps.push(Step::Replace(argument.parse().ok()?)),
            "add" => steps.push(Step::Add(argument.parse().ok()?)),
            "remove" => steps.push(Step::Remove(argument.to_owned())),
            "remove_spellings" => {
                steps.extend(IDENTITY.iter().flat_map(|name| spellings(name)).map(Step::Remove));
            }
            _ => return None,
        }
    }
    Some(steps)
}

fn run(step: &Step, metric: u32) {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY (every call): pointers and lengths describe live buffers for the duration of the call; returned
    // buffers are freed once.
    unsafe {
        match step {
            Step::Map => {
                proxy_get_header_map_pairs(REQUEST_HEADERS, &mut data, &mut size);
                drop_buffer(data, size);
            }
            Step::Get(name) => {
                proxy_get_header_map_value(REQUEST_HEADERS, name.as_ptr(), name.len(), &mut data, &mut size);
                drop_buffer(data, size);
            }
            Step::Property(path) => {
                proxy_get_property(path.as_ptr(), path.len(), &mut data, &mut size);
                drop_buffer(data, size);
            }
            Step::Clock => {
                let mut now = 0u64;
                proxy_get_current_time_nanoseconds(&mut now);
            }
            Step::LogLevel => {
                let mut level = 0u32;
                proxy_get_log_level(&mut level);
            }
            Step::Metric => {
                proxy_increment_metric(metric, 1);
            }
            Step::Record(value) => {
                let name = "authz.decision";
                proxy_set_property(name.as_ptr(), name.len(), value.as_ptr(), value.len());
            }
            Step::Replace(count) => {
                for (name, value) in IDENTITY.iter().zip(VALUES).take(*count) {
                    proxy_replace_header_map_value(
                        REQUEST_HEADERS,
                        name.as_ptr(),
                        name.len(),
                        value.as_ptr(),
                        value.len(),
                    );
                }
            }
            Step::Add(count) => {
                for (name, value) in IDENTITY.iter().zip(VALUES).take(*count) {
                    proxy_add_header_map_value(REQUEST_HEADERS, name.as_ptr(), name.len(), value.as_ptr(), value.len());
                }
            }
            Step::Remove(name) => {
                proxy_remove_header_map_value(REQUEST_HEADERS, name.as_ptr(), name.len());
            }
        }
    }
}

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(ProbeRoot { steps: Rc::new(Vec::new()), metric: 0 }) });
}}

struct ProbeRoot {
    steps: Rc<Vec<Step>>,
    metric: u32,
}

impl Context for ProbeRoot {}

impl RootContext for ProbeRoot {
    fn on_configure(&mut self, _size: usize) -> bool {
        let (mut data, mut size) = (null_mut(), 0usize);
        // SAFETY: the host writes an allocation pointer and its length.
        let status = unsafe { proxy_get_buffer_bytes(PLUGIN_CONFIGURATION, 0, 1 << 16, &mut data, &mut size) };
        let config = if status == 0 && !data.is_null() {
            // SAFETY: as in `drop_buffer`; ownership passes here once.
            String::from_utf8_lossy(&unsafe { Vec::from_raw_parts(data, size, size) }).into_owned()
        } else {
            String::new()
        };
        let Some(steps) = parse(&config) else { return false };
        if steps.iter().any(|step| matches!(step, Step::Metric)) {
            let name = "probe_requests";
            // SAFETY: the name is live for the call; the host writes one u32.
            unsafe { proxy_define_metric(0, name.as_ptr(), name.len(), &mut self.metric) };
        }
        self.steps = Rc::new(steps);
        true
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(ProbeRequest { steps: Rc::clone(&self.steps), metric: self.metric }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct ProbeRequest {
    steps: Rc<Vec<Step>>,
    metric: u32,
}

impl Context for ProbeRequest {}

impl HttpContext for ProbeRequest {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        for step in self.steps.iter() {
            run(step, self.metric);
        }
        Action::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_cover_every_underscore_choice() {
        assert_eq!(spellings("x-a-b"), ["x-a-b", "x-a_b", "x_a-b", "x_a_b"]);
        assert_eq!(IDENTITY.iter().map(|name| spellings(name).len()).sum::<usize>(), 28);
        assert!(parse("map, clock,record:120,replace:6,remove_spellings").is_some());
        assert!(parse("").is_some_and(|steps| steps.is_empty()));
        assert!(parse("nonsense").is_none());
    }
}
