//! Thin host adapters: extract → [`crate::Authorizer::authorize`] (or [`crate::Authorizer::decide`], the same decision
//! lent rather than copied, on a hot request path) → render. No policy or token logic here.

// Plain and native: the filter decodes with it, and it is unit-tested and fuzzed (fuzz/) on the host.
pub mod header_map;
#[cfg(all(feature = "filter", target_arch = "wasm32"))]
mod proxy_wasm;

// The pure parts build (and are tested) natively too; the JS surface only on wasm32 with the feature.
#[cfg(any(test, all(feature = "bindgen", target_arch = "wasm32")))]
mod bindgen;
