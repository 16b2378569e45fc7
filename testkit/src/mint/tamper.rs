//! Ways to spoil a token while or after signing it, for attack corpora.

use super::keys::{b64, DevKey};
use super::MintError;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE};
use base64::Engine as _;
use jwt_compact::alg::{Hs256, Hs256Key};
use jwt_compact::{Algorithm, AlgorithmSignature};

/// Ways to spoil a token while or after signing it, for attack corpora. Each names what an attacker (or a
/// sloppy issuer) would send; none of them may be accepted, except [`Tamper::EcdsaHighS`], which is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tamper {
    /// `header.payload.` (as `alg: none` tokens are sent).
    StripSignature,
    /// The last signature bit flipped.
    FlipSignatureBit,
    /// The last signature byte dropped.
    TruncateSignature,
    /// A zero byte appended to the signature.
    ExtendSignature,
    /// A zero byte prepended to the signature.
    PrependZero,
    /// As many zero bytes as the signature had.
    ZeroSignature,
    /// ES256 `r = s = 0` ("psychic signature", CVE-2022-21449).
    EcdsaZero,
    /// ES256 `r` replaced by the group order n.
    EcdsaRIsN,
    /// ES256 `s` replaced by the group order n.
    EcdsaSIsN,
    /// ES256 `s` replaced by `n - s`: the other valid signature.
    EcdsaHighS,
    /// ES256 signature in DER form instead of JWS's `r || s`.
    EcdsaDer,
    /// HMAC-SHA256 keyed with the public JWK text instead of the key's own signature (algorithm confusion).
    Hs256WithPublicKey,
    /// `=` padding on the header segment (signed as sent).
    PadHeader,
    /// `=` padding on the payload segment (signed as sent).
    PadPayload,
    /// `=` padding on the signature segment.
    PadSignature,
    /// The signature in the `+/` alphabet.
    StdAlphabetSignature,
    /// An unused bit set in the payload segment's last character (signed as sent).
    TrailingBitsPayload,
    /// An unused bit set in the signature segment's last character.
    TrailingBitsSignature,
}

impl std::str::FromStr for Tamper {
    type Err = MintError;

    fn from_str(name: &str) -> Result<Self, MintError> {
        Ok(match name {
            "strip_signature" => Self::StripSignature,
            "flip_signature_bit" => Self::FlipSignatureBit,
            "truncate_signature" => Self::TruncateSignature,
            "extend_signature" => Self::ExtendSignature,
            "prepend_zero" => Self::PrependZero,
            "zero_signature" => Self::ZeroSignature,
            "ecdsa_zero" => Self::EcdsaZero,
            "ecdsa_r_is_n" => Self::EcdsaRIsN,
            "ecdsa_s_is_n" => Self::EcdsaSIsN,
            "ecdsa_high_s" => Self::EcdsaHighS,
            "ecdsa_der" => Self::EcdsaDer,
            "hs256_with_public_key" => Self::Hs256WithPublicKey,
            "pad_header" => Self::PadHeader,
            "pad_payload" => Self::PadPayload,
            "pad_signature" => Self::PadSignature,
            "std_alphabet_signature" => Self::StdAlphabetSignature,
            "trailing_bits_payload" => Self::TrailingBitsPayload,
            "trailing_bits_signature" => Self::TrailingBitsSignature,
            other => return Err(MintError::Generate(format!("unknown tamper `{other}`"))),
        })
    }
}

/// The order of the P-256 group.
const P256_ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa,
    0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];
const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Sets the lowest unused bit of the last character of an unpadded base64url segment, if it has unused bits.
fn set_unused_bit(segment: &str) -> Option<String> {
    let last = *segment.as_bytes().last()?;
    let index = BASE64URL.iter().position(|&c| c == last)?;
    let bumped = match segment.len() % 4 {
        2 => index | 0x01,
        3 => index | 0x01,
        _ => return None,
    };
    let mut out = segment.get(..segment.len() - 1)?.to_owned();
    out.push(char::from(*BASE64URL.get(bumped)?));
    (out != segment).then_some(out)
}

/// A DER INTEGER holding the big-endian unsigned `bytes`.
pub fn der_integer(bytes: &[u8]) -> Vec<u8> {
    let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    let mut body = if trimmed.first().is_some_and(|b| b & 0x80 != 0) { vec![0] } else { Vec::new() };
    body.extend(trimmed);
    let mut out = vec![0x02, body.len() as u8];
    out.extend(body);
    out
}

fn ecdsa_halves(signature: &[u8]) -> Result<(&[u8], &[u8]), MintError> {
    if signature.len() != 64 {
        return Err(MintError::Generate("an ECDSA tamper needs an ES256 key".into()));
    }
    Ok(signature.split_at(32))
}

fn pad_json_to(text: &str, wanted_remainder: usize) -> String {
    // JSON allows trailing whitespace, so the length (and with it the base64 tail) can be chosen.
    let mut text = text.to_owned();
    while text.len() % 3 != wanted_remainder {
        text.push(' ');
    }
    text
}

impl DevKey {
    /// Signs exact `header` and `payload` text, spoiled by each of `tamper` in turn.
    pub fn forge(&self, header: &str, payload: &str, tamper: &[Tamper]) -> Result<String, MintError> {
        let has = |t: Tamper| tamper.contains(&t);
        let header = if has(Tamper::PadHeader) { pad_json_to(header, 1) } else { header.to_owned() };
        let payload = if has(Tamper::PadPayload) || has(Tamper::TrailingBitsPayload) {
            pad_json_to(payload, 1)
        } else {
            payload.to_owned()
        };
        let header_b64 =
            if has(Tamper::PadHeader) { URL_SAFE.encode(header.as_bytes()) } else { b64(header.as_bytes()) };
        let mut payload_b64 =
            if has(Tamper::PadPayload) { URL_SAFE.encode(payload.as_bytes()) } else { b64(payload.as_bytes()) };
        if has(Tamper::TrailingBitsPayload) {
            payload_b64 = set_unused_bit(&payload_b64).ok_or_else(|| MintError::Generate("no unused bits".into()))?;
        }
        let signing_input = format!("{header_b64}.{payload_b64}");
        let mut signature = if has(Tamper::Hs256WithPublicKey) {
            let secret = self.public_jwk().to_string();
            Hs256.sign(&Hs256Key::new(secret.as_bytes()), signing_input.as_bytes()).as_bytes().into_owned()
        } else {
            self.signature(signing_input.as_bytes())
        };
        for step in tamper {
            signature = match step {
                Tamper::FlipSignatureBit => {
                    let mut bytes = signature;
                    if let Some(last) = bytes.last_mut() {
                        *last ^= 1;
                    }
                    bytes
                }
                Tamper::TruncateSignature => {
                    signature.get(..signature.len().saturating_sub(1)).unwrap_or_default().to_vec()
                }
                Tamper::ExtendSignature => [signature, vec![0]].concat(),
                Tamper::PrependZero => [vec![0], signature].concat(),
                Tamper::ZeroSignature => vec![0; signature.len()],
                Tamper::EcdsaZero => {
                    ecdsa_halves(&signature)?;
                    vec![0; 64]
                }
                Tamper::EcdsaRIsN => [&P256_ORDER[..], ecdsa_halves(&signature)?.1].concat(),
                Tamper::EcdsaSIsN => [ecdsa_halves(&signature)?.0, &P256_ORDER[..]].concat(),
                Tamper::EcdsaHighS => {
                    ecdsa_halves(&signature)?;
                    let parsed = p256::ecdsa::Signature::from_slice(&signature)
                        .map_err(|err| MintError::Generate(err.to_string()))?;
                    let (r, s) = parsed.split_scalars();
                    p256::ecdsa::Signature::from_scalars(r.to_bytes(), (-s).to_bytes())
                        .map_err(|err| MintError::Generate(err.to_string()))?
                        .to_vec()
                }
                Tamper::EcdsaDer => {
                    let (r, s) = ecdsa_halves(&signature)?;
                    let body = [der_integer(r), der_integer(s)].concat();
                    [vec![0x30, body.len() as u8], body].concat()
                }
                _ => signature,
            };
        }
        let signature_b64 = if has(Tamper::StripSignature) {
            String::new()
        } else if has(Tamper::PadSignature) {
            URL_SAFE.encode(&signature)
        } else if has(Tamper::StdAlphabetSignature) {
            let standard = STANDARD_NO_PAD.encode(&signature);
            if standard == b64(&signature) {
                return Err(MintError::Generate("the signature has no `-` or `_` to change".into()));
            }
            standard
        } else if has(Tamper::TrailingBitsSignature) {
            set_unused_bit(&b64(&signature)).ok_or_else(|| MintError::Generate("no unused bits".into()))?
        } else {
            b64(&signature)
        };
        Ok(format!("{signing_input}.{signature_b64}"))
    }
}
