//! Request paths in the one spelling the policy and the upstream both see.

use super::model::RequestError;
use super::options::{EscapedSlashes, RequestOptions};

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

/// A character a path segment carries as itself (RFC 3986 `pchar` without `;`, which is refused): unreserved,
/// sub-delimiters, `:` and `@`. Its escape (`%24`, `%40`) is decoded, because upstreams (WSGI `PATH_INFO`, Go,
/// Spring, Rails) read `/pets/%24metadata` as `/pets/$metadata`: one resource must have one spelling, or a Deny
/// written with one spelling misses the other. Every other character has one spelling too: its escape.
fn is_path_char(byte: u8) -> bool {
    is_unreserved(byte)
        || matches!(byte, b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b'=' | b':' | b'@')
}

fn hex(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

const HEX_DIGITS: &[u8; 16] = b"0123456789ABCDEF";

/// [`normalize_path_with`] under the default (strict) options.
pub fn normalize_path(target: &str) -> Result<NormalizedPath, RequestError> {
    normalize_path_with(target, &RequestOptions::default())
}

/// Puts a request target in its one canonical spelling, or refuses it where spellings could be read two ways.
///
/// Every character has one spelling: escapes of path characters (unreserved, sub-delimiters, `:`, `@`) are
/// decoded (`%7E` → `~`, `%2e` → `.`, `%24` → `$`, `%40` → `@`), other escapes keep upper-case hex, and the raw
/// form of a character a path must encode (`"`, `<`, `{`, `|`, …) is refused. `//` merges, `.` and `..` segments
/// are removed. Encoded `/` (unless configured to unescape) or `\`, control characters, NUL, raw non-ASCII,
/// encoded non-ASCII (unless allowed), escapes that do not decode to UTF-8, double-encoded escapes (`%252e`), `;`
/// path parameters (raw or encoded), fragments, `..` above the root and bad escapes are refused:
/// upstreams disagree on what they mean. With `normalize_path` or `merge_slashes` off, a target that would need
/// that step is refused instead of rewritten.
pub fn normalize_path_with(target: &str, options: &RequestOptions) -> Result<NormalizedPath, RequestError> {
    if target.len() > options.max_path_bytes {
        return Err(RequestError::PathTooLong { len: target.len(), max: options.max_path_bytes });
    }
    let (raw_path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query.to_owned())),
        None => (target, None),
    };
    if !raw_path.starts_with('/') {
        return Err(RequestError::Path("does not start with `/`"));
    }
    // Most targets are already in normal form: the full pass below would give them back unchanged.
    if already_normal(raw_path) {
        return Ok(NormalizedPath { path: raw_path.to_owned(), query, changed: false });
    }
    normalize_raw_path(raw_path, query, options)
}

/// Whether `raw_path` (starting with `/`) is already in the one spelling [`normalize_path_with`] writes, whatever
/// the options: only `/` and characters a path carries as themselves ([`is_path_char`]), so nothing to decode,
/// refuse or re-encode; and no empty segment but a last one and no `.` or `..` segment, so nothing to merge or
/// remove.
pub(crate) fn already_normal(raw_path: &str) -> bool {
    let plain = raw_path.bytes().all(|byte| byte == b'/' || is_path_char(byte));
    if !plain {
        return false;
    }
    let mut segments = raw_path.get(1..).unwrap_or_default().split('/').peekable();
    while let Some(segment) = segments.next() {
        let last = segments.peek().is_none();
        if (segment.is_empty() && !last) || segment == "." || segment == ".." {
            return false;
        }
    }
    true
}

/// The full pass of [`normalize_path_with`] over a path starting with `/`.
fn normalize_raw_path(
    raw_path: &str,
    query: Option<String>,
    options: &RequestOptions,
) -> Result<NormalizedPath, RequestError> {
    let not_normal = RequestError::Path("not in normal form and normalize_path is off");
    let bytes = raw_path.as_bytes();
    let mut decoded = String::with_capacity(raw_path.len());
    // The path with every escape decoded: it must be UTF-8, or upstreams disagree on the characters (`%C0%AE` is
    // an overlong `.` to some of them).
    let mut fully_decoded = Vec::with_capacity(raw_path.len());
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        match byte {
            b'%' => {
                let (high, low) = (bytes.get(index + 1).copied(), bytes.get(index + 2).copied());
                let value = match (high.and_then(hex), low.and_then(hex)) {
                    (Some(high), Some(low)) => high * 16 + low,
                    _ => return Err(RequestError::Path("invalid percent escape")),
                };
                fully_decoded.push(value);
                if value == b'/' && options.escaped_slashes == EscapedSlashes::UnescapeAndForward {
                    decoded.push('/');
                } else if matches!(value, b'/' | b'\\') {
                    return Err(RequestError::Path("encoded slash or backslash"));
                } else if value < 0x20 || value == 0x7f {
                    return Err(RequestError::Path("encoded control character"));
                } else if value == b';' {
                    return Err(RequestError::Path("encoded `;`"));
                } else if value >= 0x80 && !options.allow_utf8_paths {
                    return Err(RequestError::Path("encoded non-ASCII and allow_utf8_paths is off"));
                } else if !options.normalize_path
                    && (is_path_char(value)
                        || high.is_some_and(|d| d.is_ascii_lowercase())
                        || low.is_some_and(|d| d.is_ascii_lowercase()))
                {
                    return Err(not_normal);
                } else if is_path_char(value) {
                    decoded.push(char::from(value));
                } else {
                    decoded.push('%');
                    decoded.push(char::from(HEX_DIGITS.get(usize::from(value >> 4)).copied().unwrap_or(b'0')));
                    decoded.push(char::from(HEX_DIGITS.get(usize::from(value & 15)).copied().unwrap_or(b'0')));
                }
                index += 3;
            }
            b'#' => return Err(RequestError::Path("fragment in request target")),
            b';' => return Err(RequestError::Path("path parameters (`;`)")),
            b'\\' => return Err(RequestError::Path("backslash")),
            b'/' => {
                decoded.push('/');
                fully_decoded.push(byte);
                index += 1;
            }
            0x21..=0x7e if !is_path_char(byte) => {
                return Err(RequestError::Path("a character a path must percent-encode (RFC 3986)"))
            }
            0x21..=0x7e => {
                decoded.push(char::from(byte));
                fully_decoded.push(byte);
                index += 1;
            }
            _ => return Err(RequestError::Path("control, space or non-ASCII byte")),
        }
    }
    if std::str::from_utf8(&fully_decoded).is_err() {
        return Err(RequestError::Path("escapes that do not decode to UTF-8"));
    }
    // `%252e` is `.` to an upstream that decodes twice; checked on the result, since decoding `%25%32%65` makes it.
    let escaped_percent = decoded.match_indices("%25").any(|(at, _)| {
        let digit = |offset: usize| decoded.as_bytes().get(at + offset).copied().and_then(hex).is_some();
        digit(3) && digit(4)
    });
    if escaped_percent {
        return Err(RequestError::Path("double-encoded escape"));
    }

    // `decoded` starts with `/`; what follows is one segment per slash, the last one possibly empty.
    let raw_segments: Vec<&str> = decoded.get(1..).unwrap_or_default().split('/').collect();
    let count = raw_segments.len();
    let mut segments: Vec<&str> = Vec::with_capacity(count);
    let mut trailing_slash = false;
    for (position, segment) in raw_segments.into_iter().enumerate() {
        let last = position + 1 == count;
        match segment {
            "" if last => trailing_slash = true,
            "" if options.merge_slashes => {}
            "" => return Err(RequestError::Path("repeated slashes and merge_slashes is off")),
            "." | ".." if !options.normalize_path => return Err(not_normal),
            "." => trailing_slash = last,
            ".." => {
                if segments.pop().is_none() {
                    return Err(RequestError::Path("`..` above the root"));
                }
                trailing_slash = last;
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn norm(target: &str) -> Result<String, RequestError> {
        normalize_path(target).map(|normalized| normalized.target())
    }

    /// Under `allow_utf8_paths`.
    fn norm8(target: &str) -> Result<String, RequestError> {
        normalize_path_with(target, &RequestOptions { allow_utf8_paths: true, ..RequestOptions::default() })
            .map(|normalized| normalized.target())
    }

    /// One resource, one spelling: what upstreams decode is decoded here, so a Deny on `$metadata` cannot be
    /// stepped around with `%24metadata`; what a path must encode has only its encoded spelling.
    #[test]
    fn sub_delimiters_colon_and_at_have_one_spelling() {
        for (target, wanted) in [
            ("/pets/%24metadata", "/pets/$metadata"),
            ("/pets/me%40example.com", "/pets/me@example.com"),
            ("/pets/urn%3asecret", "/pets/urn:secret"),
            ("/a%21%26%27%28%29%2A%2B%2C%3D", "/a!&'()*+,="),
        ] {
            let normalized = normalize_path(target).unwrap();
            assert_eq!(normalized.path, wanted, "{target}");
            assert!(normalized.changed, "{target}");
            assert_eq!(normalize_path(wanted).unwrap().path, wanted, "{wanted} is already normal");
        }
        // `%`, `?`, `#` and characters a path must encode keep their escape; their raw forms are refused.
        assert_eq!(
            norm("/a%25%3F%23%22%3C%3E%5B%5D%5E%60%7B%7C%7D%20").unwrap(),
            "/a%25%3F%23%22%3C%3E%5B%5D%5E%60%7B%7C%7D%20"
        );
        for raw in ["/a\"b", "/a<b", "/a>b", "/a[b", "/a]b", "/a^b", "/a`b", "/a{b", "/a|b", "/a}b"] {
            assert!(normalize_path(raw).is_err(), "{raw}");
        }
        let off = RequestOptions { normalize_path: false, ..RequestOptions::default() };
        assert!(with(off, "/pets/%24metadata").is_err(), "refused rather than forwarded in another spelling");
    }

    #[test]
    fn encoded_non_ascii_is_refused_like_raw_non_ascii_unless_allowed() {
        // Full-width dots: `..` to an upstream that applies NFKC.
        for target in ["/pets/%EF%BC%8E%EF%BC%8E/secret", "/caf%C3%A9", "/%F0%9F%90%88", "/a%c3%a9", "/%C0%AE"] {
            assert_eq!(
                normalize_path(target),
                Err(RequestError::Path("encoded non-ASCII and allow_utf8_paths is off")),
                "{target}"
            );
        }
        assert_eq!(norm8("/pets/%EF%BC%8E%EF%BC%8E/secret").unwrap(), "/pets/%EF%BC%8E%EF%BC%8E/secret");
        // Allowed or not, the escapes must still decode to UTF-8.
        assert!(norm8("/%C0%AE").is_err());
        assert!(norm8("/caf\u{e9}").is_err());
    }

    /// The shortcut for paths already in normal form answers exactly as the full pass, under every option.
    #[test]
    fn the_normal_form_shortcut_agrees_with_the_full_pass() {
        const ALPHABET: &[u8] = b"/./a%2eF;#\\ ~?e5%";
        let options = [
            RequestOptions::default(),
            RequestOptions { normalize_path: false, ..RequestOptions::default() },
            RequestOptions { merge_slashes: false, ..RequestOptions::default() },
            RequestOptions {
                escaped_slashes: EscapedSlashes::UnescapeAndForward,
                allow_utf8_paths: true,
                ..RequestOptions::default()
            },
        ];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..50_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 10) as usize;
            let mut target = String::from("/");
            let mut bits = state >> 8;
            for _ in 0..len {
                target.push(char::from(ALPHABET[(bits % ALPHABET.len() as u64) as usize]));
                bits /= ALPHABET.len() as u64;
            }
            for options in &options {
                let (path, query) = match target.split_once('?') {
                    Some((path, query)) => (path, Some(query.to_owned())),
                    None => (target.as_str(), None),
                };
                assert_eq!(
                    normalize_path_with(&target, options),
                    normalize_raw_path(path, query, options),
                    "{target:?} {options:?}"
                );
            }
        }
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
        assert_eq!(norm8("/a%c3%a9b").unwrap(), "/a%C3%A9b");
        assert!(normalize_path("//pets").unwrap().changed);
    }

    #[test]
    fn refuses_ambiguous_targets() {
        for target in [
            "pets",
            "/a%2Fb",
            "/a%5cb",
            "/a\\b",
            "/a%00",
            "/a%zz",
            "/a%2",
            "/..",
            "/a/../..",
            "/a;jsessionid=1",
            "/a#b",
            "/a b",
            "/caf\u{e9}",
        ] {
            assert!(normalize_path(target).is_err(), "{target}");
        }
    }

    fn with(options: RequestOptions, target: &str) -> Result<String, RequestError> {
        normalize_path_with(target, &options).map(|normalized| normalized.target())
    }

    /// Spellings an attacker uses to reach `/admin` past a policy that allows `/pets/*`: each becomes `/admin`
    /// (which the policy then judges) or is refused; none keeps a `pets/` prefix with `admin` behind it.
    #[test]
    fn bypass_spellings_become_the_path_they_reach_or_are_refused() {
        let reaches_admin = [
            "/pets/../admin",
            "/pets/%2e%2e/admin",
            "/pets/%2E%2E/admin",
            "/pets/.%2e/admin",
            "/pets/%2e./admin",
            "/pets/./../admin",
            "/pets/1/../../admin",
            "//admin",
            "///admin",
            "/./admin",
            "/pets//../admin",
            "/%61dmin",
            "/%61%64%6D%69%6E",
        ];
        for target in reaches_admin {
            let normalized = normalize_path(target).unwrap();
            assert_eq!(normalized.path, "/admin", "{target}");
            assert!(normalized.changed, "{target}");
        }
        let refused = [
            "/pets%2F..%2Fadmin",
            "/pets/..%2Fadmin",
            "/pets/..%2fadmin",
            "/pets%5c..%5cadmin",
            "/pets\\..\\admin",
            "/pets;/../admin",
            "/pets/..;/admin",
            "/admin;x=1",
            "/pets/%00/../admin",
            "/pets/%2",
            "/pets/%g0",
            "/pets/%%32%65",
            "/pets/%252e%252e/admin",
            "/pets/%252E%252e/admin",
            "/pets/%25%32%65",
            "/pets/%C0%AE%C0%AE/admin",
            "/pets/%c0%ae",
            "/pets/%e0%80%ae",
            "/pets/%ff",
            "/pets/%C3",
            "/pets/%ED%A0%80",
            "/pets/%3B/../admin",
            "/pets/%3bx",
            "/../admin",
            "/pets/../../admin",
            "/pets/%2e%2e/%2e%2e/admin",
            "/pets/\u{0}",
            "/pets/\u{7f}",
            "/pets/\n",
            "/pets/\t",
            "/pets/ admin",
            "/pets/\u{ff0e}\u{ff0e}/admin",
            "/pets/#/../admin",
            "admin",
            "*",
            "http://host/admin",
            "",
        ];
        for target in refused {
            assert!(normalize_path(target).is_err(), "{target:?}");
        }
    }

    #[test]
    fn encoded_percent_and_utf8_are_kept_when_unambiguous() {
        assert_eq!(norm("/discount/50%25OFF").unwrap(), "/discount/50%25OFF");
        assert_eq!(norm("/a/%25").unwrap(), "/a/%25");
        assert_eq!(norm8("/caf%C3%A9/%E2%82%AC").unwrap(), "/caf%C3%A9/%E2%82%AC");
        assert_eq!(norm8("/%F0%9F%90%88").unwrap(), "/%F0%9F%90%88");
        assert_eq!(norm("/a%3Fb%23c").unwrap(), "/a%3Fb%23c");
    }

    #[test]
    fn case_variants_of_escapes_have_one_spelling() {
        assert_eq!(norm8("/a%c3%a9").unwrap(), "/a%C3%A9");
        assert_eq!(norm8("/a%C3%A9").unwrap(), "/a%C3%A9");
        assert_eq!(norm("/%7e%7E").unwrap(), "/~~");
        // Letters in the path itself are case-sensitive, as in API Gateway and IAM: `/PETS` is not `/pets`.
        assert_eq!(norm("/PETS/1").unwrap(), "/PETS/1");
        for target in ["/a%2f", "/a%2F", "/a%5c", "/a%5C"] {
            assert!(normalize_path(target).is_err(), "{target}");
        }
    }

    #[test]
    fn the_query_is_never_normalised_or_read() {
        assert_eq!(norm("/pets/1?next=/../admin&x=%2F").unwrap(), "/pets/1?next=/../admin&x=%2F");
        assert_eq!(norm("/pets/../admin?x").unwrap(), "/admin?x");
        assert_eq!(norm("/?").unwrap(), "/?");
    }

    #[test]
    fn normalisation_is_idempotent() {
        for target in ["//a/./b/../c/", "/%7e/%3c//x/..", "/a/b/c/../../d", "/", "/a/"] {
            let once = normalize_path(target).unwrap();
            let twice = normalize_path(&once.target()).unwrap();
            assert_eq!(once.path, twice.path);
            assert!(!twice.changed, "{target}");
        }
    }

    #[test]
    fn overlong_targets_are_refused_before_reading() {
        let options = RequestOptions { max_path_bytes: 300, ..RequestOptions::default() };
        let long = format!("/{}", "a".repeat(300));
        assert_eq!(with(options.clone(), &long), Err(RequestError::PathTooLong { len: 301, max: 300 }));
        assert!(with(options.clone(), &long[..300]).is_ok());
        // Overlong even when it would normalise to something short, and even when malformed.
        let dots = format!("/a{}", "/.".repeat(200));
        assert!(matches!(with(options.clone(), &dots), Err(RequestError::PathTooLong { .. })));
        let huge = "%".repeat(1_000_000);
        assert!(matches!(normalize_path(&huge), Err(RequestError::PathTooLong { .. })));
    }

    #[test]
    fn normalisation_turned_off_refuses_instead_of_forwarding() {
        let off = RequestOptions { normalize_path: false, ..RequestOptions::default() };
        for target in ["/pets/../admin", "/pets/./1", "/%70ets", "/a%c3%a9", "/pets/.."] {
            assert!(with(off.clone(), target).is_err(), "{target}");
        }
        assert_eq!(with(off.clone(), "/a%3C/b/").unwrap(), "/a%3C/b/");
        assert_eq!(with(off.clone(), "//pets").unwrap(), "/pets");
        let no_merge = RequestOptions { merge_slashes: false, ..RequestOptions::default() };
        for target in ["//pets", "/pets//1", "/pets//"] {
            assert!(with(no_merge.clone(), target).is_err(), "{target}");
        }
        assert_eq!(with(no_merge.clone(), "/pets/").unwrap(), "/pets/");
        assert_eq!(with(no_merge, "/pets/../admin").unwrap(), "/admin");
    }

    #[test]
    fn escaped_slashes_can_be_unescaped_then_normalised() {
        let unescape =
            RequestOptions { escaped_slashes: EscapedSlashes::UnescapeAndForward, ..RequestOptions::default() };
        assert_eq!(with(unescape.clone(), "/pets%2F..%2Fadmin").unwrap(), "/admin");
        assert_eq!(with(unescape.clone(), "/a%2fb").unwrap(), "/a/b");
        assert_eq!(with(unescape.clone(), "/a%2F%2Fb").unwrap(), "/a/b");
        assert!(with(unescape.clone(), "/a%5Cb").is_err());
        assert!(with(unescape, "/%2F..").is_err());
    }
}
