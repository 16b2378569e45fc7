//! The host-neutral request, its normalised path and the execute-api method ARN built from it.

use std::net::IpAddr;

/// API Gateway refuses method ARNs longer than this with 414.
pub const MAX_METHOD_ARN_BYTES: usize = 1600;

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
        self.headers
            .iter()
            .filter(move |(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Why a request cannot be authorized as sent (answered with 400 or 414).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("method `{0}` is not supported")]
    Method(String),
    #[error("path is ambiguous or malformed: {0}")]
    Path(&'static str),
    #[error("method ARN is {0} bytes, over API Gateway's limit of {MAX_METHOD_ARN_BYTES}")]
    ArnTooLong(usize),
}

/// The request method as API Gateway writes it in the ARN: upper case, from a fixed set.
pub fn normalize_method(method: &str) -> Result<&'static str, RequestError> {
    METHODS
        .into_iter()
        .find(|known| known.eq_ignore_ascii_case(method))
        .ok_or_else(|| RequestError::Method(method.chars().take(32).collect()))
}

/// A request path in the one spelling the policy and the upstream both see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizedPath {
    /// Starts with `/`; no query, no dot segments, no repeated slashes, only needed escapes (upper-case hex).
    pub path: String,
    /// The query string after `?`, untouched.
    pub query: Option<String>,
    /// Whether `path` differs from what the client sent, so the upstream must be given the new one.
    pub changed: bool,
}

impl NormalizedPath {
    /// The request target to send upstream: the normalised path and the original query.
    pub fn target(&self) -> String {
        match &self.query {
            Some(query) => format!("{}?{}", self.path, query),
            None => self.path.clone(),
        }
    }

    /// The path segments after the leading slash (`/` has none, `/a/` has `a` and an empty one).
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.path.get(1..).filter(|rest| !rest.is_empty()).into_iter().flat_map(|rest| rest.split('/'))
    }
}

fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

fn hex(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// Puts a request target in its one canonical spelling, or refuses it where spellings could be read two ways.
///
/// Unreserved characters are decoded (`%7E` → `~`, `%2e` → `.`), other escapes keep upper-case hex, `//` merges,
/// `.` and `..` segments are removed. Encoded `/` or `\`, control characters, NUL, raw non-ASCII, `;` path
/// parameters, `..` above the root and bad escapes are refused: upstreams disagree on what they mean.
pub fn normalize_path(target: &str) -> Result<NormalizedPath, RequestError> {
    let (raw_path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query.to_owned())),
        None => (target, None),
    };
    if !raw_path.starts_with('/') {
        return Err(RequestError::Path("does not start with `/`"));
    }
    let bytes = raw_path.as_bytes();
    let mut decoded = String::with_capacity(raw_path.len());
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        match byte {
            b'%' => {
                let value = match (bytes.get(index + 1).copied().and_then(hex), bytes.get(index + 2).copied().and_then(hex)) {
                    (Some(high), Some(low)) => high * 16 + low,
                    _ => return Err(RequestError::Path("invalid percent escape")),
                };
                if is_unreserved(value) {
                    decoded.push(char::from(value));
                } else if matches!(value, b'/' | b'\\') {
                    return Err(RequestError::Path("encoded slash or backslash"));
                } else if value < 0x20 || value == 0x7f {
                    return Err(RequestError::Path("encoded control character"));
                } else {
                    decoded.push('%');
                    decoded.push(char::from(b"0123456789ABCDEF".get(usize::from(value >> 4)).copied().unwrap_or(b'0')));
                    decoded.push(char::from(b"0123456789ABCDEF".get(usize::from(value & 15)).copied().unwrap_or(b'0')));
                }
                index += 3;
            }
            b'#' => return Err(RequestError::Path("fragment in request target")),
            b';' => return Err(RequestError::Path("path parameters (`;`)")),
            b'\\' => return Err(RequestError::Path("backslash")),
            0x21..=0x7e => {
                decoded.push(char::from(byte));
                index += 1;
            }
            _ => return Err(RequestError::Path("control, space or non-ASCII byte")),
        }
    }

    let trailing_slash = decoded.len() > 1 && (decoded.ends_with('/') || decoded.ends_with("/.") || decoded.ends_with("/.."));
    let mut segments: Vec<&str> = Vec::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                if segments.pop().is_none() {
                    return Err(RequestError::Path("`..` above the root"));
                }
            }
            other => segments.push(other),
        }
    }
    let mut path = String::with_capacity(decoded.len());
    for segment in &segments {
        path.push('/');
        path.push_str(segment);
    }
    if path.is_empty() || trailing_slash {
        path.push('/');
    }
    let changed = path != raw_path;
    Ok(NormalizedPath { path, query, changed })
}

/// The API a request is addressed to: the fixed part of its method ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTarget {
    pub region: String,
    pub account_id: String,
    pub api_id: String,
    pub stage: String,
}

impl ApiTarget {
    /// `arn:aws:execute-api:{region}:{account}:{api}/{stage}/{METHOD}/{path without leading slash}`.
    pub fn method_arn(&self, method: &str, path: &NormalizedPath) -> Result<String, RequestError> {
        let resource = path.path.strip_prefix('/').unwrap_or(&path.path);
        let arn = format!(
            "arn:aws:execute-api:{}:{}:{}/{}/{}/{}",
            self.region, self.account_id, self.api_id, self.stage, method, resource
        );
        if arn.len() > MAX_METHOD_ARN_BYTES {
            return Err(RequestError::ArnTooLong(arn.len()));
        }
        Ok(arn)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn norm(target: &str) -> Result<String, RequestError> {
        normalize_path(target).map(|normalized| normalized.target())
    }

    #[test]
    fn leaves_canonical_paths_alone() {
        for target in ["/", "/pets", "/pets/a1b2", "/pets/", "/a%20b", "/pets?x=1&y=%2F"] {
            let normalized = normalize_path(target).unwrap();
            assert_eq!(normalized.target(), target);
            assert!(!normalized.changed, "{target}");
        }
    }

    #[test]
    fn rewrites_equivalent_spellings_to_one() {
        assert_eq!(norm("//pets///a").unwrap(), "/pets/a");
        assert_eq!(norm("/admin/../pets").unwrap(), "/pets");
        assert_eq!(norm("/pets/%2e%2e/admin").unwrap(), "/admin");
        assert_eq!(norm("/pets/./a/.").unwrap(), "/pets/a/");
        assert_eq!(norm("/%70ets/%7e").unwrap(), "/pets/~");
        assert_eq!(norm("/a%2fb".replace("%2f", "%c3%a9").as_str()).unwrap(), "/a%C3%A9b");
        assert!(normalize_path("//pets").unwrap().changed);
    }

    #[test]
    fn refuses_ambiguous_targets() {
        for target in [
            "pets", "/a%2Fb", "/a%5cb", "/a\\b", "/a%00", "/a%zz", "/a%2", "/..", "/a/../..", "/a;jsessionid=1",
            "/a#b", "/a b", "/caf\u{e9}",
        ] {
            assert!(normalize_path(target).is_err(), "{target}");
        }
    }

    #[test]
    fn methods_are_upper_case_from_a_fixed_set() {
        assert_eq!(normalize_method("get"), Ok("GET"));
        assert_eq!(normalize_method("DELETE"), Ok("DELETE"));
        assert!(normalize_method("TRACE").is_err());
        assert!(normalize_method("GET ").is_err());
    }

    #[test]
    fn builds_the_method_arn_without_query_or_leading_slash() {
        let api = ApiTarget {
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            api_id: "a1b2c3d4e5".into(),
            stage: "dev".into(),
        };
        let arn = api.method_arn("GET", &normalize_path("/pets/a1b2?x=1").unwrap()).unwrap();
        assert_eq!(arn, "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/dev/GET/pets/a1b2");
        let root = api.method_arn("GET", &normalize_path("/").unwrap()).unwrap();
        assert_eq!(root, "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/dev/GET/");
        let long = format!("/{}", "a".repeat(1600));
        assert!(matches!(api.method_arn("GET", &normalize_path(&long).unwrap()), Err(RequestError::ArnTooLong(_))));
    }
}
