//! Resource paths in the spelling requests are put in.
//!
//! A method ARN's resource part is `{api_id}/{stage}/{METHOD}{path}`, where the path is the request's path after
//! `normalize_path_with` (`src/request.rs`): escapes of characters a path carries raw are decoded (`%24` is `$`),
//! other escapes are upper-case hex, `//` is merged, `.`/`..` segments are gone, and there is no query and no
//! fragment. A `Resource` whose literal text is spelled any other way (`pets/%3ax5`, `pets//x`, `pets/./x`,
//! `pets/café`, `pets/{id}`, `pets/x${?}y=1`) never matches any request, whatever the `request` settings, so
//! a Deny written with it never applies. Route templates are held to the same rule (`check_literal` in
//! `src/routes.rs`); the rules are not written twice: the literal parts of a resource go through the normaliser.

use super::pattern::{ArnPattern, Seg};
use crate::request::{already_normal, normalize_path_with, RequestOptions};

/// A stretch of literal text in a resource part, and whether a wildcard or variable stands before and after it.
struct Run<'a> {
    text: &'a str,
    after_wildcard: bool,
    before_wildcard: bool,
}

/// The literal stretches of `pattern`'s resource part (consecutive text is one stretch, so whatever stands
/// between two of them is a wildcard or a variable).
fn runs(pattern: &ArnPattern) -> impl Iterator<Item = Run<'_>> + '_ {
    let count = pattern.resource.segs().count();
    pattern.resource.segs().enumerate().filter_map(move |(index, seg)| match seg {
        Seg::Text(text) => Some(Run { text, after_wildcard: index > 0, before_wildcard: index + 1 < count }),
        Seg::One | Seg::Star | Seg::Var(_) => None,
    })
}

fn is_hex(byte: u8) -> bool {
    byte.is_ascii_hexdigit()
}

/// Whether `bytes` starts with `%HH` for a byte outside ASCII: part of a UTF-8 sequence that a wildcard beside
/// it may complete.
fn starts_with_high_escape(bytes: &[u8]) -> bool {
    matches!(bytes, [b'%', high, low, ..] if is_hex(*high) && is_hex(*low) && !matches!(high, b'0'..=b'7'))
}

/// The part of a run that its own characters decide: an escape or a UTF-8 sequence that a wildcard beside it
/// could complete is left out (`%` or `%4` before a `*`, `%A9` after one).
fn decided<'a>(run: &Run<'a>) -> &'a str {
    let mut text = run.text;
    if run.after_wildcard {
        while starts_with_high_escape(text.as_bytes()) {
            text = text.get(3..).unwrap_or_default();
        }
    }
    if run.before_wildcard {
        let bytes = text.as_bytes();
        let partial = match bytes {
            [.., b'%'] => 1,
            [.., b'%', high] if is_hex(*high) => 2,
            _ => 0,
        };
        text = text.get(..text.len() - partial).unwrap_or_default();
        while text.len() >= 3 && starts_with_high_escape(text.get(text.len() - 3..).unwrap_or_default().as_bytes()) {
            text = text.get(..text.len() - 3).unwrap_or_default();
        }
    }
    text
}

/// Why `pattern`, the `Resource` or `NotResource` of a statement, can never match a request because of how its
/// path is spelled; `None` when its literal text could appear in a method ARN (or it names another service).
pub(crate) fn misspelled(pattern: &ArnPattern) -> Option<String> {
    if !pattern.service.matches_plain("execute-api") {
        return None;
    }
    // The most permissive settings: what no request can carry under these, none can under any.
    let options = RequestOptions { allow_utf8_paths: true, ..RequestOptions::default() };
    let mut target = String::new();
    for run in runs(pattern) {
        let text = decided(&run);
        if text.is_empty() {
            continue;
        }
        // Beside a wildcard, `x` stands for whatever it matches, so that only the run's own text is judged. The
        // api id is lint's to judge against the API (a standalone document's may be empty).
        let prefix = if run.after_wildcard || text.starts_with('/') { "/x" } else { "/" };
        let suffix = if run.before_wildcard { "x" } else { "" };
        target.clear();
        target.push_str(prefix);
        target.push_str(text);
        target.push_str(suffix);
        // Nearly every resource is spelled as requests are: the normaliser's own test for that, without its copy.
        if target.len() <= options.max_path_bytes && already_normal(&target) {
            continue;
        }
        let hint = hint(text);
        match normalize_path_with(&target, &options) {
            Err(why) => return Some(format!("`{text}` is never in a request's path ({why}){hint}")),
            Ok(normal) if normal.query.is_some() => {
                return Some(format!("`{text}` holds `?`, which starts a query, and a method ARN has none{hint}"))
            }
            Ok(normal) if normal.path != target => {
                let written = normal.path.strip_prefix(prefix).and_then(|rest| rest.strip_suffix(suffix));
                let normal = written.map_or_else(|| normal.path.clone(), str::to_owned);
                return Some(format!("requests spell `{text}` as `{normal}`{hint}"));
            }
            Ok(_) => {}
        }
    }
    None
}

/// What the author probably meant, for the commonest slips.
fn hint(text: &str) -> &'static str {
    if text.contains("${") {
        " (policy variables need `\"Version\": \"2012-10-17\"`)"
    } else if text.contains(['{', '}']) {
        " (`{name}` is route template syntax; in a Resource, `*` stands for a segment)"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::policy::variable::parse_pieces;

    fn check(resource: &str) -> Option<String> {
        misspelled(&ArnPattern::from_pieces(parse_pieces(resource, true, true).unwrap()).unwrap())
    }

    const API: &str = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5";

    #[test]
    fn resources_spelled_as_requests_are_accepted() {
        for path in [
            "dev/GET/",
            "dev/GET/pets",
            "dev/GET/pets/",
            "dev/*/pets/*",
            "*/GET/pets/1*",
            "dev/GET/pets/$metadata",
            "dev/GET/users/me@example.com",
            "dev/GET/urn:x:y",
            "dev/GET/a%20b",
            "dev/GET/caf%C3%A9",
            "dev/GET/a%25",
            "dev/GET/pets/...",
            "dev/GET/pets/.x",
            "dev/GET/pets/x.",
            "dev/GET/x*/.*",
            "dev/GET/pets/*.",
            "dev/GET/*./x",
            "dev/GET/*/..*",
            "dev/GET/caf%C3*",
            "dev/GET/*%A9",
            "dev/GET/x%*",
            "dev/GET/x%4?",
            "dev/GET/x%3?/y",
            "dev/GET/users/${aws:username}/*",
            "dev/GET/a${*}b",
            "dev/GET/a${$}b",
            "dev/GET/pets/x4?y",
        ] {
            assert_eq!(check(&format!("{API}/{path}")), None, "{path}");
        }
        // Other services are not requests' ARNs at all (lint says so).
        assert_eq!(check("arn:aws:s3:::bucket//x"), None);
        assert_eq!(check("arn:aws:execute-api:*:*:*"), None);
        // An empty api id (a standalone document without a request) is no spelling of a path.
        assert_eq!(check("arn:aws:execute-api:::/*"), None);
    }

    /// FG2: every spelling that no normalised request path has, with the reason given.
    #[test]
    fn resources_no_request_can_name_are_found() {
        let cases = [
            ("dev/GET/pets//x2", "requests spell `a1b2c3d4e5/dev/GET/pets//x2` as `a1b2c3d4e5/dev/GET/pets/x2`"),
            ("*/GET/pets/./x3", "requests spell `/GET/pets/./x3` as `/GET/pets/x3`"),
            ("*/GET/pets/../x", "requests spell `/GET/pets/../x` as `/GET/x`"),
            ("dev/GET/pets/.", "requests spell `a1b2c3d4e5/dev/GET/pets/.` as `a1b2c3d4e5/dev/GET/pets/`"),
            ("*/GET/pets/%3ax5", "requests spell `/GET/pets/%3ax5` as `/GET/pets/:x5`"),
            ("*/GET/pets/%24meta", "requests spell `/GET/pets/%24meta` as `/GET/pets/$meta`"),
            ("*/GET/pets/%61dmin", "as `/GET/pets/admin`"),
            ("*/GET/pets/%3c", "as `/GET/pets/%3C`"),
            ("*/GET/pets/x${?}y=1", "`/GET/pets/x?y=1` holds `?`, which starts a query"),
            ("*/GET/pets/x#y", "`/GET/pets/x#y` is never in a request's path (path is ambiguous or malformed: fragment in request target)"),
            ("*/GET/pets/café", "control, space or non-ASCII byte"),
            ("*/GET/pets/a b", "control, space or non-ASCII byte"),
            ("*/GET/pets/{petId}", "a character a path must percent-encode (RFC 3986)) (`{name}` is route template syntax"),
            ("*/GET/pets/a|b", "a character a path must percent-encode"),
            ("*/GET/pets/a;b", "path parameters"),
            ("*/GET/pets/a\\b", "backslash"),
            ("*/GET/pets/%2F", "encoded slash"),
            ("*/GET/pets/%zz", "invalid percent escape"),
            ("*/GET/pets/%2", "invalid percent escape"),
            ("*/GET/pets/%C3", "escapes that do not decode to UTF-8"),
            ("*/GET/pets/%252e", "double-encoded escape"),
            ("*/GET/pets/%00", "encoded control character"),
            ("*/GET/pets//*", "requests spell `/GET/pets//` as `/GET/pets/`"),
            ("dev/GET/x/*/./*", "requests spell `/./` as `/`"),
        ];
        for (path, expected) in cases {
            let found = check(&format!("{API}/{path}")).unwrap_or_default();
            assert!(found.contains(expected), "{path}: `{found}` lacks `{expected}`");
        }
        let legacy =
            misspelled(&ArnPattern::parse(&format!("{API}/dev/GET/users/${{aws:username}}/*")).unwrap()).unwrap();
        assert!(legacy.ends_with("(policy variables need `\"Version\": \"2012-10-17\"`)"), "{legacy}");
    }
}
