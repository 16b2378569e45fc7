//! `proxy_get_property`: paths are segments joined by NUL, resolved like Envoy's attributes.
//!
//! Values are serialised as Envoy does: strings as their bytes, integers as 8 little-endian bytes, booleans
//! as one byte. Request attributes are derived from the stream's current request headers; connection
//! attributes default to a loopback connection and can be overridden with [`crate::Plugin::set_property`].

use crate::state::HostState;

/// Top-level identifiers that only exist while a stream is being processed (Envoy reads them from the
/// stream info, which a root context does not have).
const STREAM_SCOPED: &[&str] =
    &["request", "response", "source", "destination", "connection", "upstream", "connection_id"];

/// The default remote address of the simulated downstream connection.
pub(crate) const DEFAULT_SOURCE: (&str, i64) = ("127.0.0.1:53346", 53346);
/// The default local address of the simulated listener.
pub(crate) const DEFAULT_DESTINATION: (&str, i64) = ("127.0.0.1:10000", 10000);

/// The serialised value at `path`, or `None` for Envoy's `NOT_FOUND`.
pub(crate) fn resolve(state: &HostState, path: &[u8]) -> Option<Vec<u8>> {
    let segments: Vec<&[u8]> = path.split(|b| *b == 0).collect();
    let top = std::str::from_utf8(segments.first()?).ok()?;
    let stream = state.target_stream();
    let stream_scoped = STREAM_SCOPED.contains(&top);
    if stream_scoped && stream.is_none() {
        return None;
    }
    if let Some(v) = state.properties.get(path) {
        return Some(v.clone());
    }
    match (top, segments.get(1..).unwrap_or_default()) {
        ("plugin_name" | "plugin_root_id" | "plugin_vm_id", []) => Some(Vec::new()),
        ("source", [b"address"]) => Some(DEFAULT_SOURCE.0.as_bytes().to_vec()),
        ("source", [b"port"]) => Some(DEFAULT_SOURCE.1.to_le_bytes().to_vec()),
        ("destination", [b"address"]) => Some(DEFAULT_DESTINATION.0.as_bytes().to_vec()),
        ("destination", [b"port"]) => Some(DEFAULT_DESTINATION.1.to_le_bytes().to_vec()),
        ("connection", [b"mtls"]) => Some(vec![0]),
        ("connection", [b"id"]) | ("connection_id", []) => Some(1u64.to_le_bytes().to_vec()),
        ("request", rest) => request(state, rest),
        (_, []) => stream.and_then(|s| s.filter_state.get(path).cloned()),
        _ => None,
    }
}

fn request(state: &HostState, rest: &[&[u8]]) -> Option<Vec<u8>> {
    let headers = &state.target_stream()?.request_headers;
    let header = |name: &str| headers.get(name.as_bytes()).map(<[u8]>::to_vec);
    let path = headers.get(b":path");
    let split = |want_query: bool| {
        path.map(|p| {
            let at = p.iter().position(|b| *b == b'?');
            match (at, want_query) {
                (Some(i), false) => p.get(..i).unwrap_or_default().to_vec(),
                (Some(i), true) => p.get(i.saturating_add(1)..).unwrap_or_default().to_vec(),
                (None, false) => p.to_vec(),
                (None, true) => Vec::new(),
            }
        })
    };
    match rest {
        [b"path"] => header(":path"),
        [b"url_path"] => split(false),
        [b"query"] => split(true),
        [b"host"] => header(":authority"),
        [b"scheme"] => header(":scheme"),
        [b"method"] => header(":method"),
        [b"referer"] => header("referer"),
        [b"useragent"] => header("user-agent"),
        [b"id"] => header("x-request-id"),
        [b"protocol"] => Some(b"HTTP/1.1".to_vec()),
        [b"headers", name] => headers.get(name).map(<[u8]>::to_vec),
        _ => None,
    }
}
