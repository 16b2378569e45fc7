//! The proxy-wasm header map serialisation (ABI v0.2.1: a count, each pair's key and value lengths, then the
//! keys and values, each followed by a NUL), decoded with every length checked, so that no host can make the
//! filter read out of bounds or panic. A plain module, compiled in every build: the filter decodes with it, and it
//! is public so that the fuzz target (`fuzz/fuzz_targets/header_map.rs`) drives exactly the code the filter runs.

use crate::HttpRequest;
use std::borrow::Cow;

/// The header map serialisation's layout (count, then key and value lengths, then NUL-terminated keys and
/// values): each pair's key and value ranges in `bytes`, every length checked, or `None` if malformed.
fn header_map_ranges(
    bytes: &[u8],
) -> Option<impl Iterator<Item = Option<(std::ops::Range<usize>, std::ops::Range<usize>)>> + '_> {
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
    let borrowed =
        text.and_then(|(start, text)| text.get(range.start.checked_sub(start)?..range.end.checked_sub(start)?));
    match borrowed {
        Some(piece) => Cow::Borrowed(piece),
        None => String::from_utf8_lossy(bytes.get(range).unwrap_or_default()),
    }
}

/// Decodes a header map into pairs of owned strings (the trailers, which are rare), or `None` if malformed.
pub fn decode_header_map(bytes: &[u8]) -> Option<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    decode_header_map_into(bytes, &mut pairs)?;
    Some(pairs)
}

/// Decodes a header map into `pairs`, overwriting the strings already there so that their capacity is reused:
/// a warm VM decodes a request's headers without allocating. `None` if malformed, and `pairs` then holds
/// nothing to rely on.
pub fn decode_header_map_into(bytes: &[u8], pairs: &mut Vec<(String, String)>) -> Option<()> {
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
pub fn decode_request(bytes: &[u8], request: &mut HttpRequest) -> Option<()> {
    decode_header_map_into(bytes, &mut request.headers)?;
    pseudo(&request.headers, ":method", &mut request.method);
    pseudo(&request.headers, ":path", &mut request.path);
    Some(())
}

/// Serialises header pairs as the ABI does: count, lengths, then NUL-terminated names and values.
pub fn encode_header_map<K: AsRef<str>, V: AsRef<str>>(headers: &[(K, V)]) -> Vec<u8> {
    let mut bytes =
        Vec::with_capacity(4 + headers.iter().map(|(n, v)| n.as_ref().len() + v.as_ref().len() + 10).sum::<usize>());
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

    fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    /// A little-endian word, as the map's count and lengths are written.
    fn word(value: u32) -> [u8; 4] {
        value.to_le_bytes()
    }

    #[test]
    fn round_trips_any_text_including_nul_empty_and_many_pairs() {
        let cases: Vec<Vec<(String, String)>> = vec![
            Vec::new(),
            owned(&[("", "")]),
            owned(&[("a\0b", "c\0"), ("\0", "\0\0")]),
            owned(&[(":path", "/caf\u{e9}/\u{1f600}"), ("x", &"v".repeat(70_000))]),
            (0..1000).map(|i| (format!("h{i}"), i.to_string())).collect(),
        ];
        for pairs in cases {
            let bytes = encode_header_map(&pairs);
            assert_eq!(bytes.len(), 4 + pairs.iter().map(|(k, v)| 8 + k.len() + v.len() + 2).sum::<usize>());
            assert_eq!(decode_header_map(&bytes).unwrap(), pairs);
            let mut reused = owned(&[("stale", "stale")]);
            decode_header_map_into(&bytes, &mut reused).unwrap();
            assert_eq!(reused, pairs);
        }
        // The empty map may also come as a zero count (Envoy sends it as no bytes at all).
        assert_eq!(decode_header_map(&word(0)).unwrap(), []);
    }

    #[test]
    fn truncated_and_short_inputs_are_refused() {
        for short in [&[0u8][..], &[1, 0], &[1, 0, 0]] {
            assert!(decode_header_map(short).is_none(), "{short:?}");
        }
        // A count with no length table, and a table cut inside a pair's lengths.
        assert!(decode_header_map(&word(1)).is_none());
        assert!(decode_header_map(&[word(1), word(1)].concat()).is_none());
        // Lengths that point past the end, by one byte and by far.
        let past = [word(1), word(1), word(1), *b"k\0v\0"].concat();
        assert!(decode_header_map(&past[..past.len() - 2]).is_none());
        let far = [word(1), word(1), word(1 << 20), *b"k\0v\0"].concat();
        assert!(decode_header_map(&far).is_none());
    }

    #[test]
    fn oversized_counts_and_lengths_are_refused_without_overflow() {
        for count in [2, 0x1000_0000, 0x2000_0000, u32::MAX] {
            let bytes = [word(count), word(0), word(0), *b"\0\0\0\0"].concat();
            assert!(decode_header_map(&bytes).is_none(), "{count}");
        }
        for (key, value) in [(u32::MAX, 0), (0, u32::MAX), (u32::MAX, u32::MAX), (u32::MAX - 1, 1)] {
            let bytes = [&word(1)[..], &word(key), &word(value), b"\0\0"].concat();
            assert!(decode_header_map(&bytes).is_none(), "{key} {value}");
        }
        let mut request = HttpRequest::default();
        assert!(decode_request(&[word(u32::MAX), word(u32::MAX)].concat(), &mut request).is_none());
    }

    #[test]
    fn odd_inputs_decode_as_their_lengths_say() {
        // The NULs are not checked, and bytes after the last pair are ignored: the lengths alone delimit.
        let unterminated = [&word(1)[..], &word(1), &word(1), b"kXvY", b"trailing"].concat();
        assert_eq!(decode_header_map(&unterminated).unwrap(), owned(&[("k", "v")]));
        // Bytes that are not UTF-8 anywhere in the map (even outside any pair) make every piece decode on its own.
        let mut odd = encode_header_map(&[("k", "v"), ("\u{e9}", "w")]);
        odd.push(0xff);
        assert_eq!(decode_header_map(&odd).unwrap(), owned(&[("k", "v"), ("\u{e9}", "w")]));
        // A length that cuts a multi-byte character decodes its piece as U+FFFD, never as a panic on a char
        // boundary (the map as a whole is UTF-8: `é` then a NUL, read as a 1-byte key and a 1-byte value).
        let cut = [&word(1)[..], &word(1), &word(1), "\u{e9}".as_bytes(), b"\0"].concat();
        assert_eq!(decode_header_map(&cut).unwrap(), owned(&[("\u{fffd}", "\0")]));
        // Pseudo-headers missing, or given twice: empty method and path, or the first of each.
        let mut request = HttpRequest::default();
        decode_request(&encode_header_map(&[("x", "y")]), &mut request).unwrap();
        assert_eq!((request.method.as_str(), request.path.as_str()), ("", ""));
        decode_request(&encode_header_map(&[(":path", "/1"), (":path", "/2")]), &mut request).unwrap();
        assert_eq!(request.path, "/1");
    }
}
