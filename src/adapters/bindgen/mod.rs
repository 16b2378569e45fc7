//! The wasm-bindgen adapter for JavaScript hosts (Cloudflare Workers, Node, Lambda@Edge): extract → authorize →
//! render, with no token or policy logic of its own. `exports` is the JS surface; `request` shapes what JS gives
//! into the request Envoy would have delivered; `answer` is the decision as JS receives it.

mod answer;
mod request;

#[cfg(all(feature = "bindgen", target_arch = "wasm32"))]
mod exports;
