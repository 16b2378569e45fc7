//! Thin host adapters: extract → [`crate::Authorizer::authorize`] → render. No policy or token logic here.

#[cfg(all(feature = "filter", target_arch = "wasm32"))]
mod proxy_wasm;

// The pure parts build (and are tested) natively too; the JS surface only on wasm32 with the feature.
#[cfg(any(test, all(feature = "bindgen", target_arch = "wasm32")))]
mod bindgen;
