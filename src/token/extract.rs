//! Finding the token in a request: `Authorization: Bearer <token>` or, as API Gateway accepts, the bare token.

/// Why no token could be taken from the request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizationError {
    #[error("no authorization header")]
    Missing,
    #[error("more than one authorization header")]
    Repeated,
    #[error("authorization header is not `Bearer <token>` or a bare token")]
    BadForm,
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

/// The token text of the `authorization` header values, its scheme taken off; its bytes are not checked yet
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
