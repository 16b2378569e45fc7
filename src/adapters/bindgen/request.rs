//! The JS API's request → the [`HttpRequest`] the core decides, shaped as Envoy delivers it to the filter, so that
//! every limit means the same in every host.
//!
//! Envoy hands the filter `:method`, `:path`, `:authority` and `:scheme` as headers, with `host` turned into
//! `:authority` by its HTTP/1 codec, and header names in lower case; `max_header_bytes` counts all of them. The
//! edge runtimes give the method, target and headers separately, so they are put back in that shape here.
//! Pseudo-headers from the caller are refused: they can only come from `method`, `path` and `host`.

use crate::HttpRequest;
use std::net::IpAddr;

/// One request as read from JavaScript, types checked but values not yet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EdgeRequest {
    pub method: String,
    /// The request target, query included.
    pub path: String,
    /// Every header in order, repeated names kept.
    pub headers: Vec<(String, String)>,
    /// The client address as text (`CF-Connecting-IP`, CloudFront's `clientIp`); none when absent.
    pub source_ip: Option<String>,
    /// Whether the client used TLS; unknown when absent, and then `aws:SecureTransport` is absent too.
    pub secure_transport: Option<bool>,
}

/// Why a request given to `authorize` is not one an HTTP host could have delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("header `{0}`: pseudo-headers come from `method`, `path` and `host`")]
    PseudoHeader(String),
    #[error("header name `{0}` is not an HTTP token")]
    HeaderName(String),
    #[error("header `{0}`: value contains NUL, CR or LF")]
    HeaderValue(String),
    #[error("sourceIp `{0}` is not an IP address (no port, no brackets)")]
    SourceIp(String),
}

/// RFC 9110 `tchar`: what a header name is made of.
fn is_token_char(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// User text in an error message: at most 64 characters, escaped.
fn shown(text: &str) -> String {
    text.chars().take(64).collect::<String>().escape_debug().to_string()
}

impl EdgeRequest {
    /// The request as the core sees it from Envoy: pseudo-headers first (`:authority` from the first `host`,
    /// which is then dropped, and absent without one), then every other header with its name in lower case.
    pub fn into_http_request(self) -> Result<HttpRequest, InputError> {
        let source_ip = self
            .source_ip
            .map(|text| text.parse::<IpAddr>().map_err(|_| InputError::SourceIp(shown(&text))))
            .transpose()?;
        let mut authority = None;
        let mut rest = Vec::with_capacity(self.headers.len());
        for (name, value) in self.headers {
            if name.starts_with(':') {
                return Err(InputError::PseudoHeader(shown(&name)));
            }
            if name.is_empty() || !name.bytes().all(is_token_char) {
                return Err(InputError::HeaderName(shown(&name)));
            }
            if value.bytes().any(|b| matches!(b, b'\0' | b'\r' | b'\n')) {
                return Err(InputError::HeaderValue(shown(&name)));
            }
            let name = name.to_ascii_lowercase();
            if name == "host" {
                authority.get_or_insert(value);
            } else {
                rest.push((name, value));
            }
        }
        let scheme = if self.secure_transport == Some(false) { "http" } else { "https" };
        let mut headers = Vec::with_capacity(rest.len() + 4);
        headers.push((":method".to_owned(), self.method.clone()));
        headers.push((":path".to_owned(), self.path.clone()));
        if let Some(authority) = authority {
            headers.push((":authority".to_owned(), authority));
        }
        headers.push((":scheme".to_owned(), scheme.to_owned()));
        headers.extend(rest);
        Ok(HttpRequest {
            method: self.method,
            path: self.path,
            headers,
            source_ip,
            secure_transport: self.secure_transport,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(request: &HttpRequest) -> Vec<(&str, &str)> {
        request.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    fn edge(headers: &[(&str, &str)]) -> EdgeRequest {
        EdgeRequest {
            method: "GET".into(),
            path: "/a?b".into(),
            headers: headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            ..EdgeRequest::default()
        }
    }

    #[test]
    fn delivered_as_envoy_delivers_it() {
        let mut request = edge(&[("Host", "api.example.com"), ("X-Thing", "1"), ("x-thing", "2"), ("host", "second")]);
        request.secure_transport = Some(true);
        request.source_ip = Some("2001:db8::1".into());
        let delivered = request.into_http_request().unwrap();
        assert_eq!(
            pairs(&delivered),
            [
                (":method", "GET"),
                (":path", "/a?b"),
                (":authority", "api.example.com"),
                (":scheme", "https"),
                ("x-thing", "1"),
                ("x-thing", "2")
            ]
        );
        assert_eq!((delivered.method.as_str(), delivered.path.as_str()), ("GET", "/a?b"));
        assert_eq!(delivered.source_ip, Some("2001:db8::1".parse().unwrap()));
        assert_eq!(delivered.secure_transport, Some(true));
    }

    #[test]
    fn the_scheme_follows_secure_transport_and_no_host_means_no_authority() {
        let mut plain = edge(&[]);
        plain.secure_transport = Some(false);
        assert_eq!(
            pairs(&plain.into_http_request().unwrap()),
            [(":method", "GET"), (":path", "/a?b"), (":scheme", "http")]
        );
        let unknown = edge(&[]).into_http_request().unwrap();
        assert_eq!(unknown.secure_transport, None);
        assert_eq!(unknown.headers.last().unwrap(), &(":scheme".to_owned(), "https".to_owned()));
    }

    #[test]
    fn refuses_what_no_http_host_delivers() {
        let cases: [(EdgeRequest, InputError); 6] = [
            (edge(&[(":path", "/admin")]), InputError::PseudoHeader(":path".into())),
            (edge(&[("a b", "x")]), InputError::HeaderName("a b".into())),
            (edge(&[("", "x")]), InputError::HeaderName(String::new())),
            (edge(&[("x", "a\r\nx-authz-sub: root")]), InputError::HeaderValue("x".into())),
            (edge(&[("x", "a\0")]), InputError::HeaderValue("x".into())),
            (
                EdgeRequest { source_ip: Some("192.0.2.1:80".into()), ..edge(&[]) },
                InputError::SourceIp("192.0.2.1:80".into()),
            ),
        ];
        for (request, error) in cases {
            assert_eq!(request.into_http_request().unwrap_err(), error);
        }
        let long = "é".repeat(100);
        let err = EdgeRequest { source_ip: Some(long), ..edge(&[]) }.into_http_request().unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("sourceIp `{}` is not an IP address (no port, no brackets)", "é".repeat(64))
        );
    }
}
