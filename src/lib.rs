//! Amazon Cognito token verification and execute-api policy evaluation with API Gateway's semantics.
//!
//! The core is pure: [`Authorizer::authorize`] takes a request, the compiled configuration and `now`, and
//! returns a [`Decision`]; [`Authorizer::decide`] is the same decision with its parts lent rather than copied, for
//! request paths that should allocate next to nothing. Adapters (proxy-wasm, wasm-bindgen, the CLI) extract, call
//! one of them, and render.

pub mod authorizer;
pub mod config;
pub mod decision;
pub mod json;
pub mod policy;
pub mod request;
pub mod routes;
pub mod text;
pub mod token;

mod adapters;
pub use adapters::header_map;

#[cfg(feature = "stages")]
#[doc(hidden)]
pub mod stages;

pub use authorizer::{Authorizer, Exchanged};
pub use config::{Config, ConfigError};
pub use decision::{Decision, Outcome, Reason};
pub use request::HttpRequest;
