//! Finding the token in a request: `Authorization: Bearer <token>` or, as API Gateway accepts, the bare token; or
//! another configured header read the same way; or a cookie.

/// Why no token could be taken from the request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizationError {
    #[error("no authorization header")]
    Missing,
    #[error("more than one authorization header")]
    Repeated,
    #[error("authorization header is not `Bearer <token>` or a bare token")]
    BadForm,
    #[error("no token cookie")]
    MissingCookie,
    /// Two cookies of the name, or one whose name differs from it in letter case only: readers that pick the
    /// first, the last, or fold case would not agree on which token the request carries.
    #[error("more than one token cookie (names compared in any letter case)")]
    RepeatedCookie,
    #[error("token cookie is not a bare token")]
    BadCookie,
}

/// The bytes of a compact JWS (base64url and `.`), as a table: one load per byte of a ~1 KB token.
#[allow(clippy::indexing_slicing, reason = "evaluated at compile time; `byte` stays below 256")]
const TOKEN_CHARS: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        table[byte] = b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.';
        byte += 1;
    }
    table
};

/// Takes the token out of the `authorization` header values of one request.
pub fn bearer_token<'a>(values: impl Iterator<Item = &'a str>) -> Result<&'a str, AuthorizationError> {
    let token = bearer_candidate(values)?;
    check_token_chars(token)?;
    Ok(token)
}

/// Takes the token out of the values of the one header configured to carry it (`authorization` by default):
/// `Bearer <token>` or the bare token, exactly one header.
pub fn header_token<'a>(values: impl Iterator<Item = &'a str>) -> Result<&'a str, AuthorizationError> {
    bearer_token(values)
}

/// The token text of the token header's values, its scheme taken off; its bytes are not checked yet
/// ([`check_token_chars`]). The authorizer first looks a candidate up among the tokens it already verified, all
/// of which passed that check, so a repeated token is not scanned again.
pub fn bearer_candidate<'a>(mut values: impl Iterator<Item = &'a str>) -> Result<&'a str, AuthorizationError> {
    let value = values.next().ok_or(AuthorizationError::Missing)?;
    if values.next().is_some() {
        return Err(AuthorizationError::Repeated);
    }
    // Optional whitespace around a field value is not part of it (RFC 9110 §5.5).
    let value = value.trim_matches([' ', '\t']);
    let token = match value.split_once([' ', '\t']) {
        // The scheme is case-insensitive (RFC 9110 §11.1); one or more spaces may follow it.
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim_start_matches([' ', '\t']),
        Some(_) => return Err(AuthorizationError::BadForm),
        // A bare token (API Gateway accepts one) must at least look like a compact JWS, so that a lone scheme
        // word such as `Bearer` is not taken for a token.
        None if value.contains('.') => value,
        None => return Err(AuthorizationError::BadForm),
    };
    if token.is_empty() {
        return Err(AuthorizationError::BadForm);
    }
    Ok(token)
}

/// Whether an `Authorization` value carries a token or says it does: the `Bearer` scheme (any ASCII case, RFC 9110
/// §11.1), with or without a credential, or a bare token as [`bearer_candidate`] takes one. Other schemes (`Basic`)
/// do not.
pub fn carries_token(value: &str) -> bool {
    let trimmed = value.trim_start_matches([' ', '\t']);
    let bearer = trimmed.get(..6).is_some_and(|scheme| scheme.eq_ignore_ascii_case("bearer"))
        && trimmed.get(6..).is_none_or(|rest| rest.is_empty() || rest.starts_with([' ', '\t']));
    bearer || bearer_candidate(std::iter::once(value)).is_ok()
}

/// Whether a cookie name is `name` to a lenient reader: Unicode whitespace, controls and invisible format
/// characters (zero-width spaces, the byte-order mark) trimmed from both ends, letter case ignored (Express and
/// others); or percent-decoded, with `.`, ` ` and `[` read as `_` (PHP's `$_COOKIE`, which decodes names and
/// turns those characters into `_`: `__Host-id.token` and `__Host-id%5Ftoken` are `__Host-id_token` there).
fn loosely_named(key: &str, name: &str) -> bool {
    let invisible =
        |c: char| c.is_whitespace() || c.is_control() || matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}');
    let trimmed = key.trim_matches(invisible);
    let lower = |text: &str| text.chars().flat_map(char::to_lowercase).collect::<String>();
    lower(trimmed) == lower(name) || crate::text::php_key(key) == crate::text::php_key(name)
}

/// Takes the token out of the cookie called `name` in the `cookie` header values of one request (HTTP/2 may split
/// them over several fields, RFC 9113 §8.2.3, which proxies and fetch join with `, `). Stricter than browsers and
/// frameworks, so that no reader finds another token in the same request: pairs are separated by `;` and by `,`
/// (older readers split on both, RFC 2965), names match exactly (RFC 6265 §5.4 compares them byte for byte), and
/// a second cookie of the name, or one differing in letter case only, refuses the request; `=`-less pairs count
/// as names (some readers take them so); whitespace around names and values is ignored, and the value must be a
/// bare compact JWS: no quotes (readers disagree on whether they belong to the value), no escapes, no `Bearer`.
pub fn cookie_token<'a>(values: impl Iterator<Item = &'a str>, name: &str) -> Result<&'a str, AuthorizationError> {
    let mut found: Option<&'a str> = None;
    let mut case_mismatch = false;
    for value in values {
        for field in value.split(';') {
            let mut parts = field.split(',').peekable();
            while let Some(pair) = parts.next() {
                let (key, cookie) = pair.split_once('=').unwrap_or((pair, ""));
                let key = key.trim_matches([' ', '\t']);
                // Readers trim more than ASCII space and tab around names (`cookie` in Express trims U+00A0, some
                // fold case): a name that only such a reader takes for ours is a second copy, never skipped.
                if !key.eq_ignore_ascii_case(name) && !loosely_named(key, name) {
                    continue;
                }
                if found.is_some() || case_mismatch {
                    return Err(AuthorizationError::RepeatedCookie);
                }
                if key != name {
                    case_mismatch = true;
                    continue;
                }
                // `name=a.b.c,rest`: a reader splitting on `;` only would take `a.b.c,rest` for the value.
                if parts.peek().is_some() {
                    return Err(AuthorizationError::BadCookie);
                }
                found = Some(cookie.trim_matches([' ', '\t']));
            }
        }
    }
    if case_mismatch {
        return Err(AuthorizationError::RepeatedCookie);
    }
    let token = found.ok_or(AuthorizationError::MissingCookie)?;
    if !token.contains('.') || check_token_chars(token).is_err() {
        return Err(AuthorizationError::BadCookie);
    }
    Ok(token)
}

/// Refuses a token holding any byte a compact JWS cannot hold (only base64url and `.`).
pub fn check_token_chars(token: &str) -> Result<(), AuthorizationError> {
    if token.bytes().all(|byte| TOKEN_CHARS.get(usize::from(byte)).copied().unwrap_or(false)) {
        Ok(())
    } else {
        Err(AuthorizationError::BadForm)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn the_table_holds_base64url_and_the_dot() {
        for byte in 0..=255u8 {
            let expected = byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.');
            assert_eq!(TOKEN_CHARS[usize::from(byte)], expected, "{byte}");
        }
    }

    #[test]
    fn cookie_names_php_reads_as_ours_are_copies() {
        let name = "__Host-id_token";
        for copy in [
            "__Host-id.token",
            "__Host-id token",
            "__Host-id+token",
            "__Host-id%5Ftoken",
            "__Host-id%2etoken",
            "__Host-id[token",
            "%5F_Host-id_token",
            " __Host-id.token",
        ] {
            for header in [format!("{name}=a.b.c; {copy}=d.e.f"), format!("{copy}=d.e.f; {name}=a.b.c")] {
                assert_eq!(
                    cookie_token([header.as_str()].into_iter(), name),
                    Err(AuthorizationError::RepeatedCookie),
                    "{header}"
                );
            }
        }
        for other in ["__Host-id_tokens", "__Host-idtoken", "__Host-id-token", "__Host-id%5Etoken"] {
            let header = format!("{name}=a.b.c; {other}=d.e.f");
            assert_eq!(cookie_token([header.as_str()].into_iter(), name), Ok("a.b.c"), "{header}");
        }
    }

    #[test]
    fn a_cookie_token_is_one_exact_name_and_a_bare_token() {
        let cookie = |values: &[&'static str]| cookie_token(values.iter().copied(), "idToken");
        assert_eq!(cookie(&["idToken=a.b.c"]), Ok("a.b.c"));
        assert_eq!(cookie(&["theme=dark; idToken=a.b.c; lang=en"]), Ok("a.b.c"));
        assert_eq!(cookie(&["theme=dark;idToken = a.b.c ;lang=en"]), Ok("a.b.c"));
        assert_eq!(cookie(&["theme=dark", "idToken=a.b.c"]), Ok("a.b.c"));
        assert_eq!(cookie(&["xidToken=a.b.c; idTokens=d.e.f; idToken=g.h.i"]), Ok("g.h.i"));
        // Two fields joined by a proxy or by fetch.
        assert_eq!(cookie(&["theme=dark, idToken=a.b.c"]), Ok("a.b.c"));
        assert_eq!(cookie(&["prefs=a,b; idToken=a.b.c"]), Ok("a.b.c"));
        assert_eq!(cookie(&["idToken=a.b.c, theme=dark"]), Err(AuthorizationError::BadCookie));
        for (values, expected) in [
            (&["theme=dark"][..], AuthorizationError::MissingCookie),
            (&[][..], AuthorizationError::MissingCookie),
            // Two copies, in one field or in two, equal or not; a copy in another letter case; a bare name.
            (&["idToken=a.b.c; idToken=a.b.c"][..], AuthorizationError::RepeatedCookie),
            (&["idToken=a.b.c", "idToken=d.e.f"][..], AuthorizationError::RepeatedCookie),
            (&["idToken=a.b.c; IDTOKEN=d.e.f"][..], AuthorizationError::RepeatedCookie),
            (&["idtoken=d.e.f; idToken=a.b.c"][..], AuthorizationError::RepeatedCookie),
            (&["idtoken=a.b.c"][..], AuthorizationError::RepeatedCookie),
            (&["idToken=a.b.c; idToken"][..], AuthorizationError::RepeatedCookie),
            // A copy whose name only a lenient reader trims or folds to ours (U+00A0, U+3000, a zero-width space,
            // a byte-order mark, NEL, a Kelvin sign for `k`), in either order.
            (&["idToken\u{a0}=d.e.f; idToken=a.b.c"][..], AuthorizationError::RepeatedCookie),
            (&["idToken=a.b.c; \u{3000}idToken=d.e.f"][..], AuthorizationError::RepeatedCookie),
            (&["\u{200b}idToken=d.e.f; idToken=a.b.c"][..], AuthorizationError::RepeatedCookie),
            (&["\u{feff}idToken=d.e.f; idToken=a.b.c"][..], AuthorizationError::RepeatedCookie),
            (&["idToken\u{85}=d.e.f; idToken=a.b.c"][..], AuthorizationError::RepeatedCookie),
            (&["idTo\u{212a}en=d.e.f; idToken=a.b.c"][..], AuthorizationError::RepeatedCookie),
            // A copy PHP decodes to ours (`%54` is `T`).
            (&["id%54oken=d.e.f; idToken=a.b.c"][..], AuthorizationError::RepeatedCookie),
            // A copy a reader that splits on `,` would find, hidden from one that splits on `;` only.
            (&["a=1, idToken=d.e.f; idToken=a.b.c"][..], AuthorizationError::RepeatedCookie),
            // Values another reader could decode to something else, or that are no token.
            (&["idToken=\"a.b.c\""][..], AuthorizationError::BadCookie),
            (&["idToken=Bearer a.b.c"][..], AuthorizationError::BadCookie),
            (&["idToken=a.b.c%3D"][..], AuthorizationError::BadCookie),
            (&["idToken=a.b.c,d"][..], AuthorizationError::BadCookie),
            (&["idToken="][..], AuthorizationError::BadCookie),
            (&["idToken=abc"][..], AuthorizationError::BadCookie),
            (&["idToken=a.b.c=="][..], AuthorizationError::BadCookie),
        ] {
            assert_eq!(cookie(values), Err(expected), "{values:?}");
        }
    }

    #[test]
    fn accepts_bearer_in_any_case_and_bare_tokens() {
        assert_eq!(bearer_token(["Bearer a.b.c"].into_iter()), Ok("a.b.c"));
        assert_eq!(bearer_token(["bearer   a.b.c "].into_iter()), Ok("a.b.c"));
        assert_eq!(bearer_token(["BEARER\ta.b.c"].into_iter()), Ok("a.b.c"));
        assert_eq!(bearer_token(["a.b.c"].into_iter()), Ok("a.b.c"));
    }

    /// Header hygiene (issue 4, item 4): every odd spelling has one defined answer.
    #[test]
    fn odd_spellings_have_defined_answers() {
        let token = "a.b.c";
        for (value, expected) in [
            // Accepted: the scheme in any case, spaces or tabs around and after it, the bare token.
            ("Bearer a.b.c", Ok(token)),
            ("bEaReR a.b.c", Ok(token)),
            ("Bearer \t  a.b.c", Ok(token)),
            ("\t Bearer a.b.c \t", Ok(token)),
            ("  a.b.c  ", Ok(token)),
            // Refused: anything else around or inside the token, including what Envoy makes of two headers.
            ("Bearer a.b.c,Bearer d.e.f", Err(AuthorizationError::BadForm)),
            ("Bearer a.b.c, Bearer d.e.f", Err(AuthorizationError::BadForm)),
            ("Bearer a.b.c\r\n", Err(AuthorizationError::BadForm)),
            ("Bearer\u{a0}a.b.c", Err(AuthorizationError::BadForm)),
            ("Bearer a.b.c\u{0}", Err(AuthorizationError::BadForm)),
            ("Bearer\u{b}a.b.c", Err(AuthorizationError::BadForm)),
            ("Bearer: a.b.c", Err(AuthorizationError::BadForm)),
            ("Bearer=a.b.c", Err(AuthorizationError::BadForm)),
            ("Bearer Bearer a.b.c", Err(AuthorizationError::BadForm)),
            ("Bearer \"a.b.c\"", Err(AuthorizationError::BadForm)),
            ("Bearer a.b.c=", Err(AuthorizationError::BadForm)),
            ("Bearer a+b.c/d.e", Err(AuthorizationError::BadForm)),
            ("Bearer a.b.c;x", Err(AuthorizationError::BadForm)),
            ("Bearerr a.b.c", Err(AuthorizationError::BadForm)),
            ("DPoP a.b.c", Err(AuthorizationError::BadForm)),
            ("Bearer\u{e9} a.b.c", Err(AuthorizationError::BadForm)),
            (" ", Err(AuthorizationError::BadForm)),
        ] {
            assert_eq!(bearer_token([value].into_iter()), expected, "{value:?}");
        }
        // Two headers are refused even when both carry the same token, and an empty second one counts.
        assert_eq!(bearer_token(["Bearer a.b.c", "Bearer a.b.c"].into_iter()), Err(AuthorizationError::Repeated));
        assert_eq!(bearer_token(["Bearer a.b.c", ""].into_iter()), Err(AuthorizationError::Repeated));
    }

    #[test]
    fn refuses_missing_repeated_and_odd_headers() {
        assert_eq!(bearer_token([].into_iter()), Err(AuthorizationError::Missing));
        assert_eq!(bearer_token(["a.b.c", "a.b.c"].into_iter()), Err(AuthorizationError::Repeated));
        for bad in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Bearer a.b c", "", "a,b", "Bearer a=.b.c"] {
            assert_eq!(bearer_token([bad].into_iter()), Err(AuthorizationError::BadForm), "{bad:?}");
        }
    }
}
