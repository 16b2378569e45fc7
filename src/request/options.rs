//! The `request` section of the configuration: how request targets are read before the method ARN is built.

use super::model::{HttpRequest, RequestError};

/// What happens to `%2F` in a path, after Envoy's `path_with_escaped_slashes_action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EscapedSlashes {
    /// `REJECT_REQUEST` (default): 400, since upstreams disagree on whether it separates segments.
    Reject,
    /// `UNESCAPE_AND_FORWARD`: decoded to `/` before normalisation; the upstream gets the decoded path.
    UnescapeAndForward,
}

/// How request targets are read before the method ARN is built (the `request` section of configuration).
///
/// Every setting keeps one invariant: the path the policy sees is the path the upstream gets. Turning a
/// normalisation off therefore refuses the requests that would need it, never forwards them as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestOptions {
    /// Decode escaped unreserved characters, upper-case other escapes and remove `.`/`..` segments (rewriting
    /// the upstream path); when off, such targets are refused.
    pub normalize_path: bool,
    /// Merge repeated slashes (rewriting the upstream path); when off, such targets are refused.
    pub merge_slashes: bool,
    /// What an encoded slash does.
    pub escaped_slashes: EscapedSlashes,
    /// Longest request target (path and query) read; longer ones get 414 before any other work.
    pub max_path_bytes: usize,
    /// Largest total of header names and values; larger requests get 400 before any other work.
    pub max_header_bytes: usize,
    /// Accept percent-encoded UTF-8 beyond ASCII in paths (`/caf%C3%A9`). Off by default: such a path is refused
    /// like raw non-ASCII, because upstreams that apply Unicode normalisation (NFKC) read `%EF%BC%8E%EF%BC%8E`
    /// (two full-width dots) as `..`, a path the policy never saw.
    pub allow_utf8_paths: bool,
}

/// Envoy refuses request headers over 60 KiB by default; this bound holds on hosts that allow more.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 64 * 1024;
/// Far above API Gateway's 1600-byte method ARN limit, so only hostile targets reach it.
pub const DEFAULT_MAX_PATH_BYTES: usize = 8 * 1024;

impl Default for RequestOptions {
    fn default() -> Self {
        Self {
            normalize_path: true,
            merge_slashes: true,
            escaped_slashes: EscapedSlashes::Reject,
            max_path_bytes: DEFAULT_MAX_PATH_BYTES,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            allow_utf8_paths: false,
        }
    }
}

/// The `request` section as written; every field is optional and defaults to the strict choice.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRequestOptions {
    pub normalize_path: Option<bool>,
    pub merge_slashes: Option<bool>,
    /// `REJECT_REQUEST` (default) or `UNESCAPE_AND_FORWARD`.
    pub path_with_escaped_slashes_action: Option<String>,
    pub max_path_bytes: Option<usize>,
    pub max_header_bytes: Option<usize>,
    /// Default `false`: percent-encoded non-ASCII in a path is refused.
    pub allow_utf8_paths: Option<bool>,
}

/// A `request` setting that cannot be used, named by its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RequestOptionError {
    pub field: &'static str,
    pub message: String,
}

impl TryFrom<&RawRequestOptions> for RequestOptions {
    type Error = RequestOptionError;

    fn try_from(raw: &RawRequestOptions) -> Result<Self, RequestOptionError> {
        let fail = |field: &'static str, message: String| RequestOptionError { field, message };
        let escaped_slashes = match raw.path_with_escaped_slashes_action.as_deref() {
            None | Some("REJECT_REQUEST") => EscapedSlashes::Reject,
            Some("UNESCAPE_AND_FORWARD") => EscapedSlashes::UnescapeAndForward,
            // KEEP_UNCHANGED would let the policy see `a%2Fb` while an upstream reads `a/b`.
            Some(other) => {
                return Err(fail(
                    "path_with_escaped_slashes_action",
                    format!("`{other}` is not `REJECT_REQUEST` or `UNESCAPE_AND_FORWARD`"),
                ))
            }
        };
        let bounded = |field: &'static str, value: Option<usize>, default: usize, min: usize, max: usize| match value {
            None => Ok(default),
            Some(value) if (min..=max).contains(&value) => Ok(value),
            Some(_) => Err(fail(field, format!("must be between {min} and {max}"))),
        };
        Ok(Self {
            normalize_path: raw.normalize_path.unwrap_or(true),
            merge_slashes: raw.merge_slashes.unwrap_or(true),
            escaped_slashes,
            max_path_bytes: bounded("max_path_bytes", raw.max_path_bytes, DEFAULT_MAX_PATH_BYTES, 256, 65_536)?,
            max_header_bytes: bounded(
                "max_header_bytes",
                raw.max_header_bytes,
                DEFAULT_MAX_HEADER_BYTES,
                1024,
                1 << 20,
            )?,
            allow_utf8_paths: raw.allow_utf8_paths.unwrap_or(false),
        })
    }
}

impl RequestOptions {
    /// Refuses a request whose headers are over the limit, before anything reads them.
    pub fn check_headers(&self, request: &HttpRequest) -> Result<(), RequestError> {
        let len = request.header_bytes();
        if len > self.max_header_bytes {
            return Err(RequestError::HeadersTooLarge { len, max: self.max_header_bytes });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn request_options_load_strict_by_default_and_refuse_unknown_actions() {
        let raw: RawRequestOptions = serde_json::from_str("{}").unwrap();
        assert_eq!(RequestOptions::try_from(&raw).unwrap(), RequestOptions::default());
        let raw: RawRequestOptions =
            serde_json::from_str(r#"{"path_with_escaped_slashes_action": "KEEP_UNCHANGED"}"#).unwrap();
        assert_eq!(RequestOptions::try_from(&raw).unwrap_err().field, "path_with_escaped_slashes_action");
        let raw: RawRequestOptions = serde_json::from_str(r#"{"max_header_bytes": 10}"#).unwrap();
        assert_eq!(RequestOptions::try_from(&raw).unwrap_err().field, "max_header_bytes");
        assert!(serde_json::from_str::<RawRequestOptions>(r#"{"normalise_path": false}"#).is_err());
    }

    #[test]
    fn header_size_is_checked_on_names_and_values() {
        let options = RequestOptions { max_header_bytes: 1024, ..RequestOptions::default() };
        let mut request = HttpRequest { headers: vec![("a".into(), "b".repeat(1022))], ..HttpRequest::default() };
        assert!(options.check_headers(&request).is_ok());
        request.headers.push(("cd".into(), String::new()));
        assert_eq!(options.check_headers(&request), Err(RequestError::HeadersTooLarge { len: 1025, max: 1024 }));
    }
}
