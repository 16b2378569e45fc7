//! Test tooling over the `authz` library, kept out of it so that a deployment compiles only what it runs: key
//! minting, scenario corpora, the policy-corpus runner and the mapping of a policy case to a real request. The
//! CLI, the wasmtime host tests, the end-to-end runs, the benchmarks and the fuzz targets use it; it reaches the
//! library only through its public API. Native only.

pub mod corpus;
pub mod mint;
pub mod scenario;
pub mod via_request;
