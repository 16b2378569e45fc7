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
}

#[derive(Debug, Default)]
struct Cache {
    buckets: Buckets,
    len: usize,
}

impl TokenCache {
    /// A cache of at most `capacity` tokens; 0 turns caching off.
    pub fn new(capacity: usize) -> Self {
        Self { capacity, entries: Mutex::new(Cache::default()) }
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
        let entries = cache.buckets.get_mut(&bucket)?;
        let position = entries.iter().position(|(text, _)| same_text(text, token))?;
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
            cache.buckets.retain(|_, entries| {
                entries.retain(|(_, cached)| cached.check_times(now, skew).is_ok());
                !entries.is_empty()
            });
            cache.len = cache.buckets.values().map(Vec::len).sum();
            if cache.len >= self.capacity {
                *cache = Cache::default();
            }
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
    }

    #[test]
    fn same_text_is_equality() {
        let mut texts: Vec<String> =
            ["", "a", "abcdefgh", "abcdefgi", "abcdefghi", "abcdefghj", "bbcdefghi", "abcdefgh\u{e9}"].map(str::to_owned).to_vec();
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
        for other in [format!("header.payload-mallory.{tail}"), format!("header.payload-alic.{tail}"), tail.clone(), String::new()] {
            assert!(cache.get(&other, 1_000, 0).is_none(), "{other}");
        }
        assert!(matches!(cache.get(&stored, 1_000, 0), Some(Ok(_))));
        // Shorter than the tail: hashed whole, compared whole.
        cache.insert("a.b", token(2_000.0), 1_000, 0);
        assert!(matches!(cache.get("a.b", 1_000, 0), Some(Ok(_))));
        assert!(cache.get("a.c", 1_000, 0).is_none());
    }
}
