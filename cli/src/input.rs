//! `authz check` input: one JSON object per line → an [`HttpRequest`] and the time to decide it at.

use authz::HttpRequest;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;
use std::net::IpAddr;

/// One input line as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheckLine {
    method: String,
    /// The request target, query included.
    path: String,
    #[serde(default)]
    headers: RawHeaders,
    source_ip: Option<String>,
    /// Whether the client reached the proxy over TLS (`aws:SecureTransport`); true when absent.
    secure_transport: Option<bool>,
    /// Unix seconds; the caller's clock when absent.
    now: Option<u64>,
}

/// Headers written either as an object (`{"name": "value"}`) or as `[name, value]` pairs, which can repeat names.
#[derive(Debug, Default)]
struct RawHeaders(Vec<(String, String)>);

impl<'de> Deserialize<'de> for RawHeaders {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(HeadersVisitor)
    }
}

struct HeadersVisitor;

impl<'de> Visitor<'de> for HeadersVisitor {
    type Value = RawHeaders;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of header values or a list of [name, value] pairs")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawHeaders, A::Error> {
        // Every entry is kept, in order, so that a repeated key is a repeated header rather than a lost one.
        let mut headers = Vec::new();
        while let Some(entry) = map.next_entry::<String, String>()? {
            headers.push(entry);
        }
        Ok(RawHeaders(headers))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawHeaders, A::Error> {
        let mut headers = Vec::new();
        while let Some(pair) = seq.next_element::<(String, String)>()? {
            headers.push(pair);
        }
        Ok(RawHeaders(headers))
    }

    fn visit_unit<E: de::Error>(self) -> Result<RawHeaders, E> {
        Ok(RawHeaders::default())
    }
}

/// A request ready for the authorizer.
#[derive(Debug, Clone)]
pub struct CheckRequest {
    pub request: HttpRequest,
    pub now: Option<u64>,
}

/// RFC 9110 `tchar`: what a header name is made of.
fn is_token_char(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// Header names are lower-cased, as Envoy hands them to filters. Names that are not tokens and values with
/// NUL, CR or LF are refused: Envoy's codecs reject such requests before any filter sees them.
fn validate_headers(raw: Vec<(String, String)>) -> Result<Vec<(String, String)>, String> {
    raw.into_iter()
        .map(|(name, value)| {
            if name.starts_with(':') {
                return Err(format!("header `{name}`: pseudo-headers come from `method` and `path`"));
            }
            if name.is_empty() || !name.bytes().all(is_token_char) {
                return Err(format!("header name `{}` is not an HTTP token", name.escape_debug()));
            }
            if value.bytes().any(|b| matches!(b, b'\0' | b'\r' | b'\n')) {
                return Err(format!("header `{name}`: value contains NUL, CR or LF"));
            }
            Ok((name.to_ascii_lowercase(), value))
        })
        .collect()
}

/// serde_json's message without the position, which for a one-line document only repeats the column.
pub fn json_message(err: &serde_json::Error) -> String {
    let text = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    match text.strip_suffix(&suffix) {
        Some(message) if err.line() > 0 => format!("column {}: {message}", err.column()),
        _ => text,
    }
}

/// Refuses a line that names a member twice anywhere (a policy's `Effect`, a context key): a lenient read would
/// keep the last copy, which is not what the core does with configurations or tokens. (Check lines do not need
/// it: their fields are typed, which refuses duplicates, and a repeated `headers` key is a repeated header.)
pub fn unique_names(line: &str) -> Result<(), String> {
    match authz::json::check_unique_names(line.as_bytes()) {
        Ok(()) => Ok(()),
        Err(authz::json::NameCheckError::Duplicate(found)) => {
            Err(format!("{}: duplicate member name `{}`", found.path, found.name))
        }
        Err(authz::json::NameCheckError::Syntax(err)) => Err(json_message(&err)),
    }
}

/// Reads one input line.
pub fn parse_check_line(line: &str) -> Result<CheckRequest, String> {
    let raw: RawCheckLine = serde_json::from_str(line).map_err(|err| json_message(&err))?;
    let source_ip = raw
        .source_ip
        .map(|text| {
            let why = || format!("source_ip `{}` is not an IP address (no port, no brackets)", text.escape_debug());
            text.parse::<IpAddr>().map_err(|_| why())
        })
        .transpose()?;
    let headers = validate_headers(raw.headers.0)?;
    let request = HttpRequest {
        method: raw.method,
        path: raw.path,
        headers,
        source_ip,
        secure_transport: Some(raw.secure_transport.unwrap_or(true)),
    };
    Ok(CheckRequest { request, now: raw.now })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_the_documented_line() {
        let line = r#"{"method": "GET", "path": "/petstore/v2/status?x=1", "headers": {"Authorization": "Bearer t"},
            "source_ip": "192.0.2.10", "now": 1763800000}"#;
        let parsed = parse_check_line(line).unwrap();
        assert_eq!(parsed.request.method, "GET");
        assert_eq!(parsed.request.path, "/petstore/v2/status?x=1");
        assert_eq!(parsed.request.headers, vec![("authorization".to_owned(), "Bearer t".to_owned())]);
        assert_eq!(parsed.request.source_ip, Some("192.0.2.10".parse().unwrap()));
        assert_eq!(parsed.now, Some(1763800000));
    }

    #[test]
    fn pairs_and_repeated_object_keys_keep_every_header() {
        let pairs = parse_check_line(r#"{"method":"GET","path":"/","headers":[["a","1"],["A","2"]]}"#).unwrap();
        assert_eq!(pairs.request.headers, vec![("a".into(), "1".into()), ("a".into(), "2".into())]);
        let object = parse_check_line(r#"{"method":"GET","path":"/","headers":{"a":"1","a":"2"}}"#).unwrap();
        assert_eq!(object.request.headers, pairs.request.headers);
        let none = parse_check_line(r#"{"method":"GET","path":"/"}"#).unwrap();
        assert!(none.request.headers.is_empty() && none.now.is_none() && none.request.source_ip.is_none());
        assert_eq!(none.request.secure_transport, Some(true));
        let plain = parse_check_line(r#"{"method":"GET","path":"/","secure_transport":false}"#).unwrap();
        assert_eq!(plain.request.secure_transport, Some(false));
    }

    #[test]
    fn refuses_what_a_proxy_would_never_deliver() {
        for line in [
            r#"{"method":"GET"}"#,
            r#"{"method":"GET","path":"/","extra":1}"#,
            r#"{"method":"GET","path":"/","path":"/admin"}"#,
            r#"{"method":"GET","path":"/","headers":{"a":1}}"#,
            r#"{"method":"GET","path":"/","headers":[["a"]]}"#,
            r#"{"method":"GET","path":"/","headers":"a: b"}"#,
            r#"{"method":"GET","path":"/","headers":{":path":"/x"}}"#,
            r#"{"method":"GET","path":"/","headers":{"a b":"x"}}"#,
            r#"{"method":"GET","path":"/","headers":{"a":"x\r\nb: y"}}"#,
            r#"{"method":"GET","path":"/","source_ip":"192.0.2.1:80"}"#,
            r#"{"method":"GET","path":"/","now":-1}"#,
            "not json",
        ] {
            assert!(parse_check_line(line).is_err(), "{line}");
        }
    }

    #[test]
    fn errors_name_the_column_once() {
        let err = parse_check_line(r#"{"method":"GET"}"#).unwrap_err();
        assert_eq!(err, "column 16: missing field `path`");
    }
}
