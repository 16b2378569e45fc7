//! Username/password clients in the filter: a request with `Authorization: Basic` that the authorizer has not
//! exchanged yet is paused while its own HTTP context calls Cognito `InitiateAuth` (proxy-wasm delivers the answer
//! to the context that made the call), then decided again: the answer is remembered or penalized by the
//! authorizer, so the second decision finds it. The password exists in the VM only in the request's headers and
//! the call's body, both overwritten once the call is made.

use super::host::{self, Level};
use super::Metrics;
use crate::token::password::{parse_initiate_auth, ExchangeFailure, MAX_RESPONSE_BYTES};
use crate::token::password_cache::LoginKey;
use crate::Authorizer;
use zeroize::Zeroizing;

/// Counters of exchanges (the `authz.password_*` metrics), by id.
#[derive(Clone, Copy, Default)]
pub(super) struct PasswordMetrics {
    /// Exchanges started.
    pub exchange: Option<u32>,
    /// Exchanges that brought a verified token.
    pub success: Option<u32>,
    /// Failures by kind: credentials refused, a challenge, no answer, an error answer, a token that failed
    /// verification.
    pub refused: Option<u32>,
    pub challenge: Option<u32>,
    pub unreachable: Option<u32>,
    pub error: Option<u32>,
    pub token_refused: Option<u32>,
    /// Requests answered from a remembered exchange.
    pub cache_hit: Option<u32>,
}

impl PasswordMetrics {
    pub fn define(counter: impl Fn(&str) -> Option<u32>) -> Self {
        Self {
            exchange: counter("password_exchange"),
            success: counter("password_exchange_success"),
            refused: counter("password_exchange_refused"),
            challenge: counter("password_exchange_challenge"),
            unreachable: counter("password_exchange_unreachable"),
            error: counter("password_exchange_error"),
            token_refused: counter("password_exchange_token_refused"),
            cache_hit: counter("password_cache_hit"),
        }
    }

    fn failed(&self, failure: &ExchangeFailure) {
        Metrics::bump(match failure.kind() {
            "refused" => self.refused,
            "challenge" => self.challenge,
            "unreachable" => self.unreachable,
            "token_refused" => self.token_refused,
            _ => self.error,
        });
    }
}

/// The key of this VM's password cache. The proxy-wasm ABI has no source of randomness, and importing WASI's
/// `random_get` would make the module import more than `env.proxy_*` (host-tests/tests/filter.rs holds it to that),
/// so the key is SHA-256 of the host clock's nanoseconds at configuration, the address of a fresh allocation and the
/// configuration: unguessable from outside the VM in practice, though not a cryptographic random draw. Its job is to
/// keep the cache's digests useless away from this VM (nothing in the VM stores a password either way).
pub(super) fn vm_key(configuration: &[u8]) -> Option<[u8; 32]> {
    use sha2::Digest as _;
    let nanos = host::now_nanos().ok()?;
    let probe = Box::new(0u8);
    let mut hash = sha2::Sha256::new();
    hash.update(b"authz password cache key\0");
    hash.update(nanos.to_le_bytes());
    hash.update((std::ptr::addr_of!(*probe) as usize).to_le_bytes());
    hash.update(configuration);
    Some(hash.finalize().into())
}

/// An exchange under way for a paused request.
pub(super) struct Pending {
    token: u32,
    key: LoginKey,
}

/// Starts the exchange of `request`'s password from its HTTP context. `None` when it cannot start: the failure is
/// then remembered (the username's penalty), so deciding again refuses the request.
pub(super) fn start(
    authorizer: &Authorizer,
    request: &crate::HttpRequest,
    metrics: &PasswordMetrics,
    now: u64,
) -> Option<Pending> {
    let auth = authorizer.config().password_auth()?;
    let exchange = authorizer.start_exchange(request)?;
    Metrics::bump(metrics.exchange);
    match host::http_call_with_body(&auth.cluster, &auth.call_headers(), &exchange.body, auth.timeout_ms) {
        Ok(token) => Some(Pending { token, key: exchange.key }),
        Err(status) => {
            host::log(
                Level::Error,
                &format!("authz: cannot call cluster `{}` to exchange a password: status {}", auth.cluster, status.0),
            );
            let failure = ExchangeFailure::Unreachable;
            metrics.failed(&failure);
            let _ = authorizer.finish_exchange(&exchange.key, Err(failure), now);
            None
        }
    }
}

/// The answer of `pending`'s call, read and handed to the authorizer (which remembers it, or penalizes the username;
/// a token of a key not fetched yet is remembered unverified, and the caller may wait for the keys). Whether the
/// token was this call's.
pub(super) fn finish(
    pending: &Pending,
    token: u32,
    authorizer: &Authorizer,
    metrics: &PasswordMetrics,
    now: u64,
) -> bool {
    if pending.token != token {
        return false;
    }
    // The body holds the tokens, the refresh token among them: overwritten when dropped.
    let body = Zeroizing::new(host::http_call_body(MAX_RESPONSE_BYTES + 1).unwrap_or_default());
    let answer = parse_initiate_auth(host::http_call_status(), &body);
    drop(body);
    match authorizer.finish_exchange(&pending.key, answer, now) {
        Ok(crate::Exchanged::Verified) => Metrics::bump(metrics.success),
        // Not a failure of the password: the request waits for the keys (or is refused `token_unknown_key`).
        Ok(crate::Exchanged::KeyUnknown) => {
            let user = crate::text::Untrusted(pending.key.username());
            host::log(
                Level::Info,
                &format!("authz: password exchange for `{user}` brought a token of a key not fetched yet"),
            );
        }
        Err(failure) => {
            metrics.failed(&failure);
            // The username is the client's own claim; the password is in no log line.
            let user = crate::text::Untrusted(pending.key.username());
            let level = if failure.refuses_credentials() { Level::Info } else { Level::Error };
            host::log(level, &format!("authz: password exchange for `{user}` failed: {failure}"));
        }
    }
    true
}
