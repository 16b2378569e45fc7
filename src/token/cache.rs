//! Tokens already verified, so a client that sends the same token again costs a hash of a few bytes, one map
//! lookup and one comparison instead of an RSA verification.
//!
//! An entry is found only by a token equal to the stored one byte for byte: the map hashes the last bytes of the
//! token (the signature's tail, which differs between any two tokens an issuer signs) and compares the whole
//! text on every hit, so a different token can never find another's entry and no cryptographic digest of the
//! token is needed on the hot path. Only tokens that passed every check are stored (an attacker cannot choose
//! their bytes, so cannot crowd one bucket); a hit re-applies the time rules at the current `now`. The cache
//! belongs to one compiled configuration: a new configuration starts empty, so no decision outlives the keys or
//! rules it was made under. Its size is bounded (entries, and the configured longest token), whatever the traffic.

use super::{TokenError, VerifiedToken};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// How many trailing bytes of a token its hash reads.
const HASHED_TAIL: usize = 32;

/// The bucket a token belongs to: a hash of its last bytes only (cheap, and enough to spread tokens an issuer
/// signed, whose signatures differ). Which token of a bucket matches is decided by comparing whole texts.
fn bucket_of(token: &str) -> u64 {
    let bytes = token.as_bytes();
    let mut hasher = DefaultHasher::new();
    bytes.get(bytes.len().saturating_sub(HASHED_TAIL)..).unwrap_or(bytes).hash(&mut hasher);
    hasher.finish()
}

/// Whether `a` and `b` are the same token text. Slice `==` calls `memcmp`, which wasm32 builds get as a loop over
/// single bytes; this reads eight at a time, and without an early exit, so that how long a comparison takes says
/// nothing about how much of a stored token a candidate shares (only tokens of one bucket are ever compared).
fn same_text(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let word = |chunk: &[u8]| <[u8; 8]>::try_from(chunk).map_or(0, u64::from_le_bytes);
    let (mut left, mut right) = (a.chunks_exact(8), b.chunks_exact(8));
    let words = left.by_ref().zip(right.by_ref()).fold(0u64, |diff, (x, y)| diff | (word(x) ^ word(y)));
    let tail = left.remainder().iter().zip(right.remainder()).fold(0u8, |diff, (x, y)| diff | (x ^ y));
    words == 0 && tail == 0
}

/// Verified tokens by bucket; each stored with its whole text.
type Buckets = HashMap<u64, Vec<(Box<str>, Arc<VerifiedToken>)>, BuildHasherDefault<DefaultHasher>>;

/// A bounded map from token text to verified token.
#[derive(Debug)]
pub struct TokenCache {
    capacity: usize,
    entries: Mutex<Cache>,
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
}

/// What a cache has done since it was made, for hosts to report (counts only ever grow).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups that found the token (still valid, or expired since and dropped).
    pub hits: u64,
    /// Lookups that did not: the token was verified afresh.
    pub misses: u64,
    /// Entries dropped to make room for a new one.
    pub evictions: u64,
}

#[derive(Debug, Default)]
struct Cache {
    buckets: Buckets,
    len: usize,
}

impl TokenCache {
    /// A cache of at most `capacity` tokens; 0 turns caching off.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: Mutex::new(Cache::default()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
        }
    }

    /// What the cache has done so far.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
        }
    }

    /// Forgets every token (the keys they were verified with changed); the counts stay.
    pub fn clear(&self) {
        if let Ok(mut cache) = self.entries.lock() {
            *cache = Cache::default();
        }
    }

    /// Counts one lookup.
    fn count(&self, found: bool) {
        let counter = if found { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The cached token equal to `token`, if still valid at `now`; an expired one is dropped and reported as
    /// expired.
    pub fn get(&self, token: &str, now: u64, skew: u64) -> Option<Result<Arc<VerifiedToken>, TokenError>> {
        if self.capacity == 0 {
            return None;
        }
        // A poisoned lock cannot happen with panic=abort; if it ever did, the cache is simply not used.
        let mut cache = self.entries.lock().ok()?;
        let bucket = bucket_of(token);
        let found = cache
            .buckets
            .get_mut(&bucket)
            .and_then(|entries| Some((entries.iter().position(|(text, _)| same_text(text, token))?, entries)));
        self.count(found.is_some());
        let (position, entries) = found?;
        let (_, cached) = entries.get(position)?;
        match cached.check_times(now, skew) {
            Ok(()) => Some(Ok(Arc::clone(cached))),
            Err(err) => {
                entries.swap_remove(position);
                if entries.is_empty() {
                    cache.buckets.remove(&bucket);
                }
                cache.len = cache.len.saturating_sub(1);
                Some(Err(err))
            }
        }
    }

    /// Stores a token that passed every check. When full, expired entries go first, then everything.
    pub fn insert(&self, token: &str, verified: Arc<VerifiedToken>, now: u64, skew: u64) {
        if self.capacity == 0 {
            return;
        }
        let Ok(mut cache) = self.entries.lock() else { return };
        if cache.len >= self.capacity {
            let before = cache.len;
            cache.buckets.retain(|_, entries| {
                entries.retain(|(_, cached)| cached.check_times(now, skew).is_ok());
                !entries.is_empty()
            });
            cache.len = cache.buckets.values().map(Vec::len).sum();
            if cache.len >= self.capacity {
                *cache = Cache::default();
            }
            self.evictions.fetch_add(u64::try_from(before - cache.len).unwrap_or(u64::MAX), Ordering::Relaxed);
        }
        let entries = cache.buckets.entry(bucket_of(token)).or_default();
        if entries.iter().any(|(text, _)| same_text(text, token)) {
            return;
        }
        entries.push((token.into(), verified));
        cache.len += 1;
    }

    /// How many tokens are cached.
    pub fn len(&self) -> usize {
        self.entries.lock().map_or(0, |cache| cache.len)
    }

    /// Whether no token is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::token::TokenUse;

    fn token(expires_at: f64) -> Arc<VerifiedToken> {
        Arc::new(VerifiedToken {
            issuer: "https://issuer".into(),
            token_use: TokenUse::Access,
            sub: "s".into(),
            username: None,
            client_id: "c".into(),
            groups: Vec::new(),
            scopes: Vec::new(),
            expires_at,
            not_before: None,
            issued_at: None,
            claims: serde_json::Map::new(),
        })
    }

    #[test]
    fn hits_until_expiry_then_reports_expired_once() {
        let cache = TokenCache::new(4);
        cache.insert("a.b.c", token(1_000.0), 900, 0);
        assert!(matches!(cache.get("a.b.c", 999, 0), Some(Ok(_))));
        assert_eq!(cache.get("a.b.c", 1_000, 0).map(|r| r.err()), Some(Some(TokenError::Expired)));
        assert!(cache.get("a.b.c", 1_000, 0).is_none(), "the expired entry is gone");
        assert!(cache.get("a.b.d", 999, 0).is_none());
    }

    #[test]
    fn stays_within_capacity_and_can_be_off() {
        let cache = TokenCache::new(3);
        for i in 0..10 {
            cache.insert(&format!("t{i}"), token(2_000.0), 1_000, 0);
            assert!(cache.len() <= 3);
        }
        cache.insert("old", token(1_000.5), 1_000, 0);
        let off = TokenCache::new(0);
        off.insert("x", token(2_000.0), 1_000, 0);
        assert!(off.get("x", 1_000, 0).is_none());
        assert!(off.is_empty());
        assert_eq!(off.stats(), CacheStats::default(), "a cache that is off counts nothing");
    }

    #[test]
    fn counts_hits_misses_and_evictions() {
        let cache = TokenCache::new(2);
        assert!(cache.get("a", 1_000, 0).is_none());
        cache.insert("a", token(2_000.0), 1_000, 0);
        cache.insert("b", token(1_500.0), 1_000, 0);
        assert!(matches!(cache.get("a", 1_000, 0), Some(Ok(_))));
        assert_eq!(cache.stats(), CacheStats { hits: 1, misses: 1, evictions: 0 });
        // Full: the entry expired by then goes first (one eviction), then the whole cache (two more).
        cache.insert("c", token(2_000.0), 1_600, 0);
        assert_eq!(cache.stats().evictions, 1);
        cache.insert("d", token(2_000.0), 1_600, 0);
        assert_eq!(cache.stats(), CacheStats { hits: 1, misses: 1, evictions: 3 });
        assert!(cache.get("a", 1_600, 0).is_none());
        assert_eq!(cache.stats().misses, 2);
    }

    #[test]
    fn same_text_is_equality() {
        let mut texts: Vec<String> =
            ["", "a", "abcdefgh", "abcdefgi", "abcdefghi", "abcdefghj", "bbcdefghi", "abcdefgh\u{e9}"]
                .map(str::to_owned)
                .to_vec();
        texts.push("x".repeat(883));
        for a in &texts {
            for b in &texts {
                assert_eq!(same_text(a, b), a == b, "{a:?} {b:?}");
            }
        }
        let long = "y".repeat(1000);
        for at in [0, 7, 8, 500, 999] {
            let mut other = long.clone().into_bytes();
            other[at] = b'z';
            assert!(!same_text(&long, std::str::from_utf8(&other).unwrap()), "{at}");
        }
    }

    /// Tokens that share their hashed tail land in one bucket and still never find each other's entry: only an
    /// equal token hits.
    #[test]
    fn only_an_equal_token_hits_even_with_the_same_tail() {
        let cache = TokenCache::new(8);
        let tail = "x".repeat(HASHED_TAIL);
        let stored = format!("header.payload-alice.{tail}");
        cache.insert(&stored, token(2_000.0), 1_000, 0);
        for other in [
            format!("header.payload-mallory.{tail}"),
            format!("header.payload-alic.{tail}"),
            tail.clone(),
            String::new(),
        ] {
            assert!(cache.get(&other, 1_000, 0).is_none(), "{other}");
        }
        assert!(matches!(cache.get(&stored, 1_000, 0), Some(Ok(_))));
        // Shorter than the tail: hashed whole, compared whole.
        cache.insert("a.b", token(2_000.0), 1_000, 0);
        assert!(matches!(cache.get("a.b", 1_000, 0), Some(Ok(_))));
        assert!(cache.get("a.c", 1_000, 0).is_none());
    }
}
