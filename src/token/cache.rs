//! Tokens already verified, so a client that sends the same token again costs a hash and a lookup instead of
//! an RSA verification.
//!
//! Keys are SHA-256 digests of the whole token, so a different token can never find another's entry. Only
//! tokens that passed every check are stored; a hit re-applies the time rules at the current `now`. The cache
//! belongs to one compiled configuration: a new configuration starts empty, so no decision outlives the keys
//! or rules it was made under. Its size is bounded, whatever the traffic.

use super::{TokenError, VerifiedToken};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A token's identity in the cache.
pub type TokenDigest = [u8; 32];

/// A bounded map from token digest to verified token.
#[derive(Debug)]
pub struct TokenCache {
    capacity: usize,
    entries: Mutex<HashMap<TokenDigest, Arc<VerifiedToken>>>,
}

impl TokenCache {
    /// A cache of at most `capacity` tokens; 0 turns caching off.
    pub fn new(capacity: usize) -> Self {
        Self { capacity, entries: Mutex::new(HashMap::new()) }
    }

    /// The digest a token is stored under.
    pub fn digest(token: &str) -> TokenDigest {
        Sha256::digest(token.as_bytes()).into()
    }

    /// A cached token still valid at `now`; an expired one is dropped and reported as expired.
    pub fn get(&self, digest: &TokenDigest, now: u64, skew: u64) -> Option<Result<Arc<VerifiedToken>, TokenError>> {
        if self.capacity == 0 {
            return None;
        }
        // A poisoned lock cannot happen with panic=abort; if it ever did, the cache is simply not used.
        let mut entries = self.entries.lock().ok()?;
        let token = entries.get(digest)?;
        match token.check_times(now, skew) {
            Ok(()) => Some(Ok(Arc::clone(token))),
            Err(err) => {
                entries.remove(digest);
                Some(Err(err))
            }
        }
    }

    /// Stores a token that passed every check. When full, expired entries go first, then everything.
    pub fn insert(&self, digest: TokenDigest, token: Arc<VerifiedToken>, now: u64, skew: u64) {
        if self.capacity == 0 {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else { return };
        if entries.len() >= self.capacity {
            entries.retain(|_, cached| cached.check_times(now, skew).is_ok());
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(digest, token);
    }

    /// How many tokens are cached.
    pub fn len(&self) -> usize {
        self.entries.lock().map_or(0, |entries| entries.len())
    }

    /// Whether no token is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
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
        let digest = TokenCache::digest("a.b.c");
        cache.insert(digest, token(1_000.0), 900, 0);
        assert!(matches!(cache.get(&digest, 999, 0), Some(Ok(_))));
        assert_eq!(cache.get(&digest, 1_000, 0).map(|r| r.err()), Some(Some(TokenError::Expired)));
        assert!(cache.get(&digest, 1_000, 0).is_none(), "the expired entry is gone");
        assert!(cache.get(&TokenCache::digest("a.b.d"), 999, 0).is_none());
    }

    #[test]
    fn stays_within_capacity_and_can_be_off() {
        let cache = TokenCache::new(3);
        for i in 0..10 {
            cache.insert(TokenCache::digest(&format!("t{i}")), token(2_000.0), 1_000, 0);
            assert!(cache.len() <= 3);
        }
        cache.insert(TokenCache::digest("old"), token(1_000.5), 1_000, 0);
        let off = TokenCache::new(0);
        off.insert(TokenCache::digest("x"), token(2_000.0), 1_000, 0);
        assert!(off.get(&TokenCache::digest("x"), 1_000, 0).is_none());
        assert!(off.is_empty());
    }
}
