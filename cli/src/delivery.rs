//! A request as Envoy hands it to the filter, so that the core built into this command and the filter in the
//! wasmtime host are given the same thing: the filter passes every header, pseudo-headers included, to the core,
//! and limits such as `max_header_bytes` count them.

use authz::HttpRequest;

/// `:authority` when the request has no `host` header (Envoy always has one).
const DEFAULT_AUTHORITY: &str = "localhost";

/// The request with `:method`, `:path`, `:authority` and `:scheme` first, as Envoy orders them, and `host` turned
/// into `:authority` as Envoy's HTTP/1 codec does. Pseudo-headers the request already has are kept as they are.
pub fn as_delivered(request: &HttpRequest) -> HttpRequest {
    let has = |name: &str| request.headers.iter().any(|(key, _)| key == name);
    let authority = request.header_values("host").next().unwrap_or(DEFAULT_AUTHORITY).to_owned();
    let scheme = if request.secure_transport == Some(false) { "http" } else { "https" };
    let mut headers: Vec<(String, String)> = [
        (":method", request.method.clone()),
        (":path", request.path.clone()),
        (":authority", authority),
        (":scheme", scheme.to_owned()),
    ]
    .into_iter()
    .filter(|(name, _)| !has(name))
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    headers.extend(request.headers.iter().filter(|(name, _)| !name.eq_ignore_ascii_case("host")).cloned());
    HttpRequest { headers, ..request.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(request: &HttpRequest) -> Vec<(&str, &str)> {
        request.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    #[test]
    fn host_becomes_the_authority_and_pseudo_headers_come_first() {
        let request = HttpRequest {
            method: "GET".into(),
            path: "/a?b".into(),
            headers: vec![("host".into(), "api.example.com".into()), ("x".into(), "1".into())],
            secure_transport: Some(true),
            ..HttpRequest::default()
        };
        let delivered = as_delivered(&request);
        assert_eq!(
            names(&delivered),
            [
                (":method", "GET"),
                (":path", "/a?b"),
                (":authority", "api.example.com"),
                (":scheme", "https"),
                ("x", "1")
            ]
        );
        assert_eq!((delivered.method.as_str(), delivered.path.as_str()), ("GET", "/a?b"));
    }

    #[test]
    fn plain_connections_have_the_http_scheme_and_present_pseudo_headers_stay() {
        let request = HttpRequest {
            method: "GET".into(),
            path: "/".into(),
            headers: vec![(":authority".into(), "a.example".into())],
            secure_transport: Some(false),
            ..HttpRequest::default()
        };
        assert_eq!(
            names(&as_delivered(&request)),
            [(":method", "GET"), (":path", "/"), (":scheme", "http"), (":authority", "a.example")]
        );
    }
}
