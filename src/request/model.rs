//! The request as every adapter hands it to the core, its method, and why a request can be refused as sent.

use super::arn::MAX_METHOD_ARN_BYTES;
use std::net::IpAddr;

/// The methods API Gateway routes; anything else is refused before authorization.
const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];

/// One HTTP request as every adapter hands it to the core.
#[derive(Debug, Clone, Default)]
pub struct HttpRequest {
    /// The request method as received.
    pub method: String,
    /// The request target in origin form, query included (`/pets/1?x=y`).
    pub path: String,
    /// Every request header, in order, repeated names kept.
    pub headers: Vec<(String, String)>,
    /// The downstream peer address, without port.
    pub source_ip: Option<IpAddr>,
    /// Whether the downstream connection used TLS, when the host knows.
    pub secure_transport: Option<bool>,
}

impl HttpRequest {
    /// Values of header `name` (ASCII case-insensitive), in order.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers.iter().filter(move |(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }

    /// The total size of header names and values, the measure of [`RequestOptions::max_header_bytes`].
    pub fn header_bytes(&self) -> usize {
        self.headers.iter().fold(0, |total, (name, value)| total.saturating_add(name.len()).saturating_add(value.len()))
    }
}

/// Why a request cannot be authorized as sent (answered with 400 or 414).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("method `{}` is not supported", crate::text::Untrusted(.0))]
    Method(String),
    #[error("a method-override header or `_method` query parameter names another method than the request's")]
    MethodOverride,
    #[error("path is ambiguous or malformed: {0}")]
    Path(&'static str),
    #[error("request target is {len} bytes, over the limit of {max}")]
    PathTooLong { len: usize, max: usize },
    #[error("request headers are {len} bytes, over the limit of {max}")]
    HeadersTooLarge { len: usize, max: usize },
    #[error("method ARN is {0} bytes, over API Gateway's limit of {MAX_METHOD_ARN_BYTES}")]
    ArnTooLong(usize),
}

/// The request method, exactly as API Gateway routes it: one of a fixed set, in upper case. Methods are
/// case-sensitive (RFC 9110 §9.1): `get` is not `GET`, and a host that forwards the method as sent (Envoy does
/// over HTTP/2) would hand the upstream a method the policy never evaluated.
pub fn normalize_method(method: &str) -> Result<&'static str, RequestError> {
    METHODS
        .into_iter()
        .find(|known| *known == method)
        .ok_or_else(|| RequestError::Method(method.chars().take(65).collect()))
}

/// Headers that frameworks read as the method to run instead of the request's own (Express `method-override`,
/// Spring's `HiddenHttpMethodFilter` variants, Rails, ASP.NET): the policy decides the request's method.
const METHOD_OVERRIDES: [&str; 3] = ["x-http-method-override", "x-http-method", "x-method-override"];

/// Refuses a request that asks the upstream to run another method than its own through a method-override header
/// (in any spelling an upstream may merge with one) or a `_method` query parameter: the policy evaluated
/// `method`, not the override. One that names the request's own method is harmless and passes. A `_method`
/// field in a form body (Rails, Laravel, Spring's `HiddenHttpMethodFilter`) is beyond a filter that reads no
/// body: SECURITY.md says so.
pub fn check_method_overrides(request: &HttpRequest, method: &str) -> Result<(), RequestError> {
    let folded = |name: &str, wanted: &str| {
        name.len() == wanted.len()
            && name
                .bytes()
                .zip(wanted.bytes())
                .all(|(a, b)| (if a == b'_' { b'-' } else { a.to_ascii_lowercase() }) == b)
    };
    for (name, value) in &request.headers {
        if METHOD_OVERRIDES.iter().any(|wanted| folded(name, wanted)) && value.trim_matches([' ', '\t']) != method {
            return Err(RequestError::MethodOverride);
        }
    }
    // The `_method` query parameter (Symfony and Laravel with method overriding on, which read it from the query
    // as well as the body), its name as PHP decodes it (`%5Fmethod`, `.method`), its value in any case.
    let query = request.path.split_once('?').map_or("", |(_, query)| query);
    let query = query.split_once('#').map_or(query, |(query, _)| query);
    for pair in query.split(['&', ';']) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if crate::text::php_key_is(name, "_method") {
            let value = crate::text::php_key(value);
            if !value.trim().eq_ignore_ascii_case(method) {
                return Err(RequestError::MethodOverride);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn methods_are_upper_case_from_a_fixed_set() {
        assert!(normalize_method("get").is_err());
        assert!(normalize_method("Get").is_err());
        assert_eq!(normalize_method("GET"), Ok("GET"));
        assert_eq!(normalize_method("DELETE"), Ok("DELETE"));
        assert!(normalize_method("TRACE").is_err());
        assert!(normalize_method("GET ").is_err());
    }
}
