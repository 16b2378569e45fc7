//! Amazon Cognito token verification and execute-api policy evaluation with API Gateway's semantics.
//!
//! The core is pure: [`Authorizer::authorize`] takes a request, the compiled configuration and `now`, and
//! returns a [`Decision`]. Adapters (proxy-wasm, wasm-bindgen, the CLI) extract, call it, and render.

pub mod authorizer;
pub mod config;
pub mod decision;
pub mod json;
pub mod policy;
pub mod request;
pub mod routes;
pub mod text;
pub mod token;

#[cfg(any(test, feature = "mint"))]
pub mod mint;
#[cfg(any(test, feature = "mint"))]
pub mod scenario;

mod adapters;

pub use authorizer::Authorizer;
pub use config::{Config, ConfigError};
pub use decision::{Decision, Outcome, Reason};
pub use request::HttpRequest;

/// Verification never needs randomness; jwt-compact's RSA support links getrandom 0.2 all the same, which
/// requires a registered source on wasm32-unknown-unknown. Ours always refuses.
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
fn no_randomness(_: &mut [u8]) -> Result<(), getrandom::Error> {
    Err(getrandom::Error::UNSUPPORTED)
}
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
getrandom::register_custom_getrandom!(no_randomness);
