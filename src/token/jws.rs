//! Compact JWS parsing: three canonical base64url segments, a header we fully understand, claims as strict JSON.

use super::TokenError;
use crate::json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};

/// Header parameters that change how a JWS must be processed. We implement none of them, so a token that
/// carries one is refused rather than misread (RFC 7515 §4.1.11 `crit`, RFC 7797 `b64`, `cty` nesting or CBOR,
/// and JWE members).
const REFUSED_HEADER_PARAMS: [&str; 5] = ["crit", "b64", "cty", "zip", "enc"];

/// A compact JWS split and decoded, its signature not yet checked and its payload not yet read.
#[derive(Debug)]
pub struct UntrustedJws<'a> {
    /// `base64url(header) '.' base64url(payload)`: the bytes the signature covers.
    pub signing_input: &'a [u8],
    /// The header `alg`, compared with the key's algorithm, never used to pick one.
    pub alg: String,
    /// The header `kid`, used verbatim as a lookup key.
    pub kid: Option<String>,
    /// The decoded payload bytes.
    pub payload: Vec<u8>,
    /// The raw signature bytes.
    pub signature: Vec<u8>,
}

/// A token whose payload is a strict JSON object, its signature not yet checked.
#[derive(Debug)]
pub struct UntrustedToken<'a> {
    /// The JWS it came from; `kid` is known to be present.
    pub jws: UntrustedJws<'a>,
    /// The header `kid`.
    pub kid: String,
    /// The claims, parsed as strict JSON.
    pub claims: Map<String, Value>,
}

fn decode(segment: &str, part: &'static str) -> Result<Vec<u8>, TokenError> {
    // The engine refuses padding, characters outside the URL-safe alphabet and non-zero trailing bits, so every
    // token has exactly one spelling.
    URL_SAFE_NO_PAD.decode(segment).map_err(|_| TokenError::Malformed(part_message(part)))
}

fn part_message(part: &'static str) -> &'static str {
    match part {
        "header" => "header is not canonical base64url",
        "payload" => "payload is not canonical base64url",
        _ => "signature is not canonical base64url",
    }
}

/// Splits and decodes a compact JWS of at most `max_len` bytes; the payload may be anything.
pub fn parse_jws(token: &str, max_len: usize) -> Result<UntrustedJws<'_>, TokenError> {
    if token.len() > max_len {
        return Err(TokenError::TooLarge { len: token.len(), max: max_len });
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed("not three dot-separated segments"));
    };
    if signature_b64.is_empty() {
        return Err(TokenError::Malformed("empty signature"));
    }
    let signing_input = token
        .get(..header_b64.len() + 1 + payload_b64.len())
        .ok_or(TokenError::Malformed("not three dot-separated segments"))?
        .as_bytes();

    let header = json::parse_object(&decode(header_b64, "header")?)
        .map_err(|_| TokenError::Malformed("header is not a strict JSON object"))?;
    for param in REFUSED_HEADER_PARAMS {
        if header.contains_key(param) {
            return Err(TokenError::UnsupportedHeader(param));
        }
    }
    let alg = match header.get("alg") {
        Some(Value::String(alg)) => alg.clone(),
        Some(_) => return Err(TokenError::Malformed("header `alg` is not a string")),
        None => return Err(TokenError::Malformed("header has no `alg`")),
    };
    let kid = match header.get("kid") {
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(TokenError::Malformed("header `kid` is not a string")),
        None => None,
    };
    let payload = decode(payload_b64, "payload")?;
    let signature = decode(signature_b64, "signature")?;
    Ok(UntrustedJws { signing_input, alg, kid, payload, signature })
}

/// Splits and decodes a compact JWS of at most `max_len` bytes whose header names a key and whose payload is a
/// strict JSON object.
pub fn parse(token: &str, max_len: usize) -> Result<UntrustedToken<'_>, TokenError> {
    let jws = parse_jws(token, max_len)?;
    let kid = jws.kid.clone().ok_or(TokenError::MissingKid)?;
    let claims =
        json::parse_object(&jws.payload).map_err(|_| TokenError::Malformed("payload is not a strict JSON object"))?;
    Ok(UntrustedToken { jws, kid, claims })
}
