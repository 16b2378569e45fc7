//! Exchanged passwords, remembered per username: the last good exchange (its access token, until
//! `cache_seconds` or the token's `exp`, whichever comes first) and the last failure (a penalty period answered
//! without a call). Pure: the caller gives `now`.
//!
//! No password is stored: a good exchange is remembered as HMAC-SHA256, under a per-VM key the host adapter derives,
//! of the username and password, compared in constant time. Without a key (hosts that cannot call the IdP) nothing
//! is remembered and every Basic request is refused.

use super::password::{ExchangeFailure, Login, PENALTY_SECONDS};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Most usernames remembered at once: beyond it, expired entries go first, then the one ending soonest.
const MAX_USERS: usize = 4096;

/// What a username and password are remembered by.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginKey {
    username: String,
    digest: [u8; 32],
}

impl LoginKey {
    /// The username.
    pub fn username(&self) -> &str {
        &self.username
    }
}

impl std::fmt::Debug for LoginKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginKey").field("username", &self.username).finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Entry {
    /// The last good exchange: its digest, access token, and when it stops serving.
    good: Option<([u8; 32], String, u64)>,
    /// The good exchange is not used yet: its first use is the request that made it, not a cache hit.
    fresh: bool,
    /// The last failure and when its penalty ends.
    penalty: Option<(ExchangeFailure, u64)>,
}

impl Entry {
    /// When this entry stops mattering.
    fn until(&self) -> u64 {
        let good = self.good.as_ref().map_or(0, |(_, _, until)| *until);
        let penalty = self.penalty.as_ref().map_or(0, |(_, until)| *until);
        good.max(penalty)
    }
}

/// What is known of a login at some time.
#[derive(Debug, PartialEq)]
pub enum Lookup {
    /// A good exchange of exactly this username and password: its access token.
    Token(String),
    /// A failed exchange of this username, within its penalty period: answered without a call.
    Penalized(ExchangeFailure),
    /// Nothing: an exchange is needed.
    Miss,
    /// This host gave no key: it cannot exchange passwords.
    NoKey,
}

/// The exchanges of one configuration.
#[derive(Default)]
pub struct PasswordCache {
    key: Option<[u8; 32]>,
    users: Mutex<HashMap<String, Entry>>,
    hits: AtomicU64,
}

impl std::fmt::Debug for PasswordCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordCache").field("keyed", &self.key.is_some()).finish_non_exhaustive()
    }
}

/// Equal bytes, in time that depends on the length only.
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

impl PasswordCache {
    /// A cache keyed with `key`, one per VM (the host adapter's).
    pub fn with_key(key: [u8; 32]) -> Self {
        Self { key: Some(key), ..Self::default() }
    }

    /// What `login` is remembered by; `None` without a key.
    pub fn key_of(&self, login: &Login) -> Option<LoginKey> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.key.as_ref()?).ok()?;
        // The username's length first, so that no other split of the same bytes gives the same digest.
        mac.update(&(login.username().len() as u64).to_be_bytes());
        mac.update(login.username().as_bytes());
        mac.update(login.password().as_bytes());
        Some(LoginKey { username: login.username().to_owned(), digest: mac.finalize().into_bytes().into() })
    }

    /// What is known of `login` at `now`. A good exchange of the same password comes first, so that a flood of
    /// wrong passwords for a username cannot lock out a client whose password was exchanged already.
    pub fn lookup(&self, login: &Login, now: u64) -> Lookup {
        let Some(key) = self.key_of(login) else { return Lookup::NoKey };
        let Ok(mut users) = self.users.lock() else { return Lookup::Miss };
        let Some(entry) = users.get_mut(key.username()) else { return Lookup::Miss };
        if let Some((digest, token, until)) = &entry.good {
            if now < *until && same(digest, &key.digest) {
                if !std::mem::take(&mut entry.fresh) {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                }
                return Lookup::Token(token.clone());
            }
        }
        match &entry.penalty {
            Some((failure, until)) if now < *until => Lookup::Penalized(failure.clone()),
            _ => Lookup::Miss,
        }
    }

    /// Remembers a good exchange of `key` until `until` (the caller bounds it by `cache_seconds` and `exp`), and
    /// ends that username's penalty.
    pub fn remember(&self, key: &LoginKey, token: String, until: u64, now: u64) {
        self.with_entry(key.username(), now, |entry| {
            entry.good = Some((key.digest, token, until));
            entry.fresh = true;
            entry.penalty = None;
        });
    }

    /// Puts `username` in a penalty period from `now` for `failure`. A good exchange of another password stays.
    pub fn penalize(&self, username: &str, failure: ExchangeFailure, now: u64) {
        self.with_entry(username, now, |entry| entry.penalty = Some((failure, now.saturating_add(PENALTY_SECONDS))));
    }

    fn with_entry(&self, username: &str, now: u64, change: impl FnOnce(&mut Entry)) {
        let Ok(mut users) = self.users.lock() else { return };
        if !users.contains_key(username) && users.len() >= MAX_USERS {
            users.retain(|_, entry| entry.until() > now);
            if users.len() >= MAX_USERS {
                let soonest = users.iter().min_by_key(|(_, entry)| entry.until()).map(|(name, _)| name.clone());
                if let Some(name) = soonest {
                    users.remove(&name);
                }
            }
        }
        change(users.entry(username.to_owned()).or_default());
    }

    /// Requests answered from a good exchange so far.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Usernames remembered.
    pub fn len(&self) -> usize {
        self.users.lock().map(|users| users.len()).unwrap_or(0)
    }

    /// Whether no username is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::token::password::parse_basic;
    use base64::Engine as _;

    fn login(user: &str, password: &str) -> Login {
        let value = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")));
        parse_basic(&value).unwrap().unwrap()
    }

    #[test]
    fn a_good_exchange_serves_its_password_only_until_its_end() {
        let cache = PasswordCache::with_key([7; 32]);
        let alice = login("alice", "right");
        assert_eq!(cache.lookup(&alice, 100), Lookup::Miss);
        cache.remember(&cache.key_of(&alice).unwrap(), "a.b.c".into(), 160, 100);
        // The first use is the request that made the exchange; the next ones are hits.
        assert_eq!(cache.lookup(&alice, 101), Lookup::Token("a.b.c".into()));
        assert_eq!(cache.hits(), 0);
        assert_eq!(cache.lookup(&alice, 159), Lookup::Token("a.b.c".into()));
        assert_eq!(cache.hits(), 1);
        assert_eq!(cache.lookup(&alice, 160), Lookup::Miss);
        assert_eq!(cache.lookup(&login("alice", "wrong"), 120), Lookup::Miss);
        // `al` + `ice...` is not `alice` + `...`: the username's length is in the digest.
        assert_ne!(cache.key_of(&login("al", "iceright")).unwrap().digest, cache.key_of(&alice).unwrap().digest);
        // Another VM's key gives another digest: nothing is comparable across VMs or offline without the key.
        assert_ne!(
            PasswordCache::with_key([8; 32]).key_of(&alice).unwrap().digest,
            cache.key_of(&alice).unwrap().digest
        );
        assert!(!format!("{:?}", cache.key_of(&alice).unwrap()).contains("right"));
    }

    #[test]
    fn failures_penalize_the_username_but_not_a_remembered_password() {
        let cache = PasswordCache::with_key([1; 32]);
        let (good, bad) = (login("bob", "right"), login("bob", "guess"));
        cache.penalize("bob", ExchangeFailure::WrongCredentials, 100);
        assert_eq!(cache.lookup(&good, 100), Lookup::Penalized(ExchangeFailure::WrongCredentials));
        assert_eq!(cache.lookup(&bad, 100 + PENALTY_SECONDS - 1), Lookup::Penalized(ExchangeFailure::WrongCredentials));
        assert_eq!(cache.lookup(&bad, 100 + PENALTY_SECONDS), Lookup::Miss);
        // A good exchange ends the penalty; a later wrong guess does not evict it.
        cache.remember(&cache.key_of(&good).unwrap(), "t".into(), 500, 110);
        cache.penalize("bob", ExchangeFailure::WrongCredentials, 120);
        assert_eq!(cache.lookup(&good, 121), Lookup::Token("t".into()));
        assert_eq!(cache.lookup(&bad, 121), Lookup::Penalized(ExchangeFailure::WrongCredentials));
        assert_eq!(cache.lookup(&login("carol", "x"), 121), Lookup::Miss);
    }

    #[test]
    fn without_a_key_nothing_is_remembered_and_the_size_is_bounded() {
        assert_eq!(PasswordCache::default().lookup(&login("a", "b"), 1), Lookup::NoKey);
        let cache = PasswordCache::with_key([2; 32]);
        // Nothing expires meanwhile: the entry ending soonest makes room each time.
        for index in 0..MAX_USERS + 10 {
            cache.penalize(&format!("user{index}"), ExchangeFailure::Unreachable, 100);
        }
        assert_eq!(cache.len(), MAX_USERS);
        assert!(matches!(cache.lookup(&login(&format!("user{}", MAX_USERS + 9), "p"), 101), Lookup::Penalized(_)));
        // Expired entries go first, all at once.
        cache.penalize("late", ExchangeFailure::Unreachable, 100 + PENALTY_SECONDS);
        assert_eq!(cache.len(), 1);
    }
}
