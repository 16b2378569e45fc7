//! The serialisation of header maps across the ABI: a little-endian u32 count, then a (key size, value size)
//! u32 pair per entry, then each key and value followed by a NUL byte.

/// Envoy refuses serialised maps larger than this (`PROXY_WASM_HOST_PAIRS_MAX_BYTES`).
const MAX_BYTES: usize = 1024 * 1024;
/// Envoy refuses serialised maps with more entries than this (`PROXY_WASM_HOST_PAIRS_MAX_COUNT`).
const MAX_COUNT: usize = 1024;

/// Serialise pairs as Envoy does for `proxy_get_header_map_pairs` (callers send an empty map as zero bytes).
pub(crate) fn encode(pairs: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let size = 4 + pairs.iter().map(|(k, v)| 8 + k.len() + 1 + v.len() + 1).sum::<usize>();
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(&len32(pairs.len()).to_le_bytes());
    for (k, v) in pairs {
        out.extend_from_slice(&len32(k.len()).to_le_bytes());
        out.extend_from_slice(&len32(v.len()).to_le_bytes());
    }
    for (k, v) in pairs {
        out.extend_from_slice(k);
        out.push(0);
        out.extend_from_slice(v);
        out.push(0);
    }
    out
}

fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Parse a serialised map as Envoy's `PairsUtil::toPairs` does: anything malformed (short, over the limits,
/// a missing NUL terminator, trailing bytes) yields an empty map, not an error.
pub(crate) fn decode(buf: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    decode_strict(buf).unwrap_or_default()
}

fn decode_strict(buf: &[u8]) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    if buf.len() > MAX_BYTES {
        return None;
    }
    let mut r = Reader { buf, pos: 0 };
    let count = usize::try_from(r.u32()?).ok()?;
    if count > MAX_COUNT || count.checked_mul(8)? > r.remaining() {
        return None;
    }
    let mut sizes = Vec::with_capacity(count);
    for _ in 0..count {
        let k = usize::try_from(r.u32()?).ok()?;
        let v = usize::try_from(r.u32()?).ok()?;
        sizes.push((k, v));
    }
    let mut pairs = Vec::with_capacity(count);
    for (k, v) in sizes {
        let key = r.terminated(k)?;
        let value = r.terminated(v)?;
        pairs.push((key, value));
    }
    if r.remaining() != 0 {
        return None;
    }
    Some(pairs)
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    fn u32(&mut self) -> Option<u32> {
        let b: [u8; 4] = self.take(4)?.try_into().ok()?;
        Some(u32::from_le_bytes(b))
    }

    fn terminated(&mut self, n: usize) -> Option<Vec<u8>> {
        let s = self.take(n)?.to_vec();
        match self.take(1)? {
            [0] => Some(s),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn p(k: &str, v: &str) -> (Vec<u8>, Vec<u8>) {
        (k.as_bytes().to_vec(), v.as_bytes().to_vec())
    }

    #[test]
    fn encodes_the_spec_example() {
        // {{"a": "1"}, {"b": "22"}} from the specification's "Serialization" section.
        let bytes = encode(&[p("a", "1"), p("b", "22")]);
        let mut want = vec![2, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0];
        want.extend_from_slice(b"a\x001\x00b\x0022\x00");
        assert_eq!(bytes, want);
    }

    #[test]
    fn round_trips() {
        let pairs = vec![p(":path", "/x"), p("", ""), p("k", "v with spaces")];
        assert_eq!(decode(&encode(&pairs)), pairs);
    }

    #[test]
    fn malformed_input_is_an_empty_map() {
        let good = encode(&[p("a", "1")]);
        let mut missing_nul = good.clone();
        let last = missing_nul.len() - 1;
        missing_nul[last] = b'x';
        let mut trailing = good.clone();
        trailing.push(0);
        for bad in [&good[..good.len() - 1], &missing_nul[..], &trailing[..], &[1, 0, 0][..]] {
            assert!(decode(bad).is_empty(), "{bad:?}");
        }
        let mut too_many = vec![];
        too_many.extend_from_slice(&1025u32.to_le_bytes());
        too_many.extend(std::iter::repeat_n(0u8, 1025 * 10));
        assert!(decode(&too_many).is_empty());
    }
}
