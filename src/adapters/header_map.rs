//! The proxy-wasm header map serialisation (ABI v0.2.1: a count, each pair's key and value lengths, then the
//! keys and values, each followed by a NUL), decoded with every length checked, so that no host can make the
//! filter read out of bounds or panic.

use crate::HttpRequest;
use std::borrow::Cow;

/// The header map serialisation's layout (count, then key and value lengths, then NUL-terminated keys and
/// values): each pair's key and value ranges in `bytes`, every length checked, or `None` if malformed.
fn header_map_ranges(bytes: &[u8]) -> Option<impl Iterator<Item = Option<(std::ops::Range<usize>, std::ops::Range<usize>)>> + '_> {
    let word = move |at: usize| -> Option<usize> {
        let raw: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
        usize::try_from(u32::from_le_bytes(raw)).ok()
    };
    let count = if bytes.is_empty() { 0 } else { word(0)? };
    let mut cursor = count.checked_mul(8)?.checked_add(4)?;
    Some((0..count).map(move |index| {
        let key_len = word(4 + index * 8)?;
        let value_len = word(8 + index * 8)?;
        let key = cursor..cursor.checked_add(key_len)?;
        cursor = key.end.checked_add(1)?;
        let value = cursor..cursor.checked_add(value_len)?;
        cursor = value.end.checked_add(1)?;
        if value.end > bytes.len() {
            return None;
        }
        Some((key, value))
    }))
}

/// The map's keys and values as text, with the offset it starts at: everything after the length table, checked
/// as UTF-8 once for the whole map. `None` when some byte is not UTF-8 (obs-text).
fn utf8_after_table(bytes: &[u8]) -> Option<(usize, &str)> {
    let count = usize::try_from(u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?)).ok()?;
    let start = count.checked_mul(8)?.checked_add(4)?;
    Some((start, std::str::from_utf8(bytes.get(start..)?).ok()?))
}

/// One key or value of a header map: borrowed from `text` when the map is UTF-8, else with the bytes that are
/// not UTF-8 as U+FFFD, which no later check accepts (paths and tokens must be ASCII).
fn header_text<'b>(bytes: &'b [u8], text: Option<(usize, &'b str)>, range: std::ops::Range<usize>) -> Cow<'b, str> {
    let borrowed = text.and_then(|(start, text)| text.get(range.start.checked_sub(start)?..range.end.checked_sub(start)?));
    match borrowed {
        Some(piece) => Cow::Borrowed(piece),
        None => String::from_utf8_lossy(bytes.get(range).unwrap_or_default()),
    }
}

/// Decodes a header map into pairs of owned strings (the trailers, which are rare).
#[cfg(any(all(feature = "filter", target_arch = "wasm32"), test))]
pub(crate) fn decode_header_map(bytes: &[u8]) -> Option<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    decode_header_map_into(bytes, &mut pairs)?;
    Some(pairs)
}

/// Decodes a header map into `pairs`, overwriting the strings already there so that their capacity is reused:
/// a warm VM decodes a request's headers without allocating.
pub(crate) fn decode_header_map_into(bytes: &[u8], pairs: &mut Vec<(String, String)>) -> Option<()> {
    let ranges = header_map_ranges(bytes)?;
    let text = utf8_after_table(bytes);
    let mut used = 0;
    for pair in ranges {
        let (key, value) = pair?;
        let (key, value) = (header_text(bytes, text, key), header_text(bytes, text, value));
        match pairs.get_mut(used) {
            Some((old_key, old_value)) => {
                old_key.clear();
                old_key.push_str(&key);
                old_value.clear();
                old_value.push_str(&value);
            }
            None => pairs.push((key.into_owned(), value.into_owned())),
        }
        used += 1;
    }
    pairs.truncate(used);
    Some(())
}

/// Sets `out` to the first value of pseudo-header `name` (empty if none), reusing its capacity.
fn pseudo(headers: &[(String, String)], name: &str, out: &mut String) {
    out.clear();
    if let Some((_, value)) = headers.iter().find(|(key, _)| key == name) {
        out.push_str(value);
    }
}

/// Decodes the request headers into `request` (pseudo-headers into its method and path), reusing its strings.
pub(crate) fn decode_request(bytes: &[u8], request: &mut HttpRequest) -> Option<()> {
    decode_header_map_into(bytes, &mut request.headers)?;
    pseudo(&request.headers, ":method", &mut request.method);
    pseudo(&request.headers, ":path", &mut request.path);
    Some(())
}

/// Serialises header pairs as the ABI does: count, lengths, then NUL-terminated names and values.
pub(crate) fn encode_header_map<K: AsRef<str>, V: AsRef<str>>(headers: &[(K, V)]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(4 + headers.iter().map(|(n, v)| n.as_ref().len() + v.as_ref().len() + 10).sum::<usize>());
    let count = u32::try_from(headers.len()).unwrap_or(u32::MAX);
    bytes.extend_from_slice(&count.to_le_bytes());
    for (name, value) in headers {
        bytes.extend_from_slice(&u32::try_from(name.as_ref().len()).unwrap_or(u32::MAX).to_le_bytes());
        bytes.extend_from_slice(&u32::try_from(value.as_ref().len()).unwrap_or(u32::MAX).to_le_bytes());
    }
    for (name, value) in headers {
        bytes.extend_from_slice(name.as_ref().as_bytes());
        bytes.push(0);
        bytes.extend_from_slice(value.as_ref().as_bytes());
        bytes.push(0);
    }
    bytes
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn decodes_what_it_encodes_and_refuses_short_maps() {
        let pairs = [(":method", "GET"), (":path", "/a"), ("x-caf\u{e9}", "v"), ("empty", "")];
        let bytes = encode_header_map(&pairs);
        let decoded = decode_header_map(&bytes).unwrap();
        assert_eq!(decoded, pairs.map(|(k, v)| (k.to_owned(), v.to_owned())));
        // Every cut that loses a byte of a key or value is refused (the last NUL is not needed).
        for cut in 1..bytes.len() - 1 {
            assert!(decode_header_map(&bytes[..cut]).is_none(), "{cut}");
        }
        assert_eq!(decode_header_map(&[]).unwrap(), []);
        // Bytes that are not UTF-8 decode as U+FFFD, and the reused strings shrink to the new values.
        let mut bytes = encode_header_map(&[("k", "ab")]);
        let at = bytes.len() - 3;
        bytes[at] = 0xff;
        let mut reused = vec![("long key".to_owned(), "long value".to_owned()), ("x".to_owned(), "y".to_owned())];
        decode_header_map_into(&bytes, &mut reused).unwrap();
        assert_eq!(reused, [("k".to_owned(), "\u{fffd}b".to_owned())]);
        let mut request = HttpRequest::default();
        decode_request(&encode_header_map(&pairs), &mut request).unwrap();
        assert_eq!((request.method.as_str(), request.path.as_str(), request.headers.len()), ("GET", "/a", 4));
    }
}
