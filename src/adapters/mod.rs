//! Thin host adapters: extract → [`crate::Authorizer::authorize`] → render. No policy or token logic here.

#[cfg(all(feature = "filter", target_arch = "wasm32"))]
mod proxy_wasm;
