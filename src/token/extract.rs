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

fn is_token_char(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.')
}

/// Takes the token out of the `authorization` header values of one request.
pub fn bearer_token<'a>(mut values: impl Iterator<Item = &'a str>) -> Result<&'a str, AuthorizationError> {
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
    if token.is_empty() || !token.bytes().all(is_token_char) {
        return Err(AuthorizationError::BadForm);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_bearer_in_any_case_and_bare_tokens() {
        assert_eq!(bearer_token(["Bearer a.b.c"].into_iter()), Ok("a.b.c"));
        assert_eq!(bearer_token(["bearer   a.b.c "].into_iter()), Ok("a.b.c"));
        assert_eq!(bearer_token(["BEARER\ta.b.c"].into_iter()), Ok("a.b.c"));
        assert_eq!(bearer_token(["a.b.c"].into_iter()), Ok("a.b.c"));
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
