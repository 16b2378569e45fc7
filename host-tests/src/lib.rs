//! The wasmtime proxy-wasm host (in progress).
