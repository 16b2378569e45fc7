//! A header map with the semantics of Envoy's `HeaderMapImpl` as the wasm filter sees it: keys are
//! lower-cased on the way in, pseudo-headers (`:name`) stay in front of regular headers, a key may repeat,
//! reads see the first value, replace changes the first value, remove drops every value.

/// An ordered multimap of HTTP header names to values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct HeaderMap {
    entries: Vec<(Vec<u8>, Vec<u8>)>,
}

fn lower(key: &[u8]) -> Vec<u8> {
    key.to_ascii_lowercase()
}

fn is_pseudo(key: &[u8]) -> bool {
    key.first() == Some(&b':')
}

impl HeaderMap {
    /// A map holding `pairs` in order, added one by one as Envoy's codec does.
    pub(crate) fn from_pairs<K: AsRef<[u8]>, V: AsRef<[u8]>>(pairs: &[(K, V)]) -> Self {
        let mut map = HeaderMap::default();
        for (k, v) in pairs {
            map.add(k.as_ref(), v.as_ref());
        }
        map
    }

    /// Number of entries (what Envoy passes as `num_headers`).
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Sum of key and value sizes, as Envoy's `byteSize()` reports for `proxy_get_header_map_size`.
    pub(crate) fn byte_size(&self) -> usize {
        self.entries.iter().map(|(k, v)| k.len() + v.len()).sum()
    }

    /// All entries in iteration order.
    pub(crate) fn pairs(&self) -> &[(Vec<u8>, Vec<u8>)] {
        &self.entries
    }

    /// The first value of `key`.
    pub(crate) fn get(&self, key: &[u8]) -> Option<&[u8]> {
        let key = lower(key);
        self.entries.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_slice())
    }

    /// Append an entry; a pseudo-header goes after the existing pseudo-headers.
    pub(crate) fn add(&mut self, key: &[u8], value: &[u8]) {
        let key = lower(key);
        let entry = (key, value.to_vec());
        if is_pseudo(&entry.0) {
            let at = self.entries.iter().position(|(k, _)| !is_pseudo(k)).unwrap_or(self.entries.len());
            self.entries.insert(at, entry);
        } else {
            self.entries.push(entry);
        }
    }

    /// Replace the first value of `key` in place, or add it (Envoy's `setCopy`).
    pub(crate) fn replace(&mut self, key: &[u8], value: &[u8]) {
        let lowered = lower(key);
        match self.entries.iter_mut().find(|(k, _)| *k == lowered) {
            Some((_, v)) => *v = value.to_vec(),
            None => self.add(key, value),
        }
    }

    /// Remove every value of `key`.
    pub(crate) fn remove(&mut self, key: &[u8]) {
        let key = lower(key);
        self.entries.retain(|(k, _)| *k != key);
    }

    /// Replace the whole map, as `proxy_set_header_map_pairs` does.
    pub(crate) fn set_all(&mut self, pairs: &[(Vec<u8>, Vec<u8>)]) {
        self.entries.clear();
        for (k, v) in pairs {
            self.add(k, v);
        }
    }

    /// The entries as strings (bytes that are not UTF-8 are replaced by U+FFFD).
    pub(crate) fn to_strings(&self) -> Vec<(String, String)> {
        self.entries
            .iter()
            .map(|(k, v)| (String::from_utf8_lossy(k).into_owned(), String::from_utf8_lossy(v).into_owned()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn keys_are_lower_cased_and_pseudo_headers_stay_first() {
        let mut m = HeaderMap::from_pairs(&[(":method", "GET"), ("Accept", "a")]);
        m.add(b":path", b"/p");
        m.add(b"X-Two", b"1");
        m.add(b"x-two", b"2");
        let keys: Vec<_> = m.pairs().iter().map(|(k, _)| String::from_utf8(k.clone()).unwrap()).collect();
        assert_eq!(keys, [":method", ":path", "accept", "x-two", "x-two"]);
        assert_eq!(m.get(b"X-TWO"), Some(&b"1"[..]));
    }

    #[test]
    fn replace_changes_the_first_value_and_remove_drops_all() {
        let mut m = HeaderMap::from_pairs(&[("a", "1"), ("b", "x"), ("a", "2")]);
        m.replace(b"A", b"3");
        assert_eq!(m.to_strings()[0], ("a".to_string(), "3".to_string()));
        assert_eq!(m.len(), 3);
        m.remove(b"a");
        assert_eq!(m.to_strings(), [("b".to_string(), "x".to_string())]);
        m.replace(b"c", b"new");
        assert_eq!(m.get(b"c"), Some(&b"new"[..]));
        assert_eq!(m.byte_size(), 2 + 4);
    }
}
