//! Test tooling over the `authz` library, kept out of it so that a deployment compiles only what it runs: key
//! minting, scenario corpora, the policy-corpus runner, the mapping of a policy case to a real request, and the
//! Python tools some tests drive. The
//! CLI, the wasmtime host tests, the end-to-end runs, the benchmarks and the fuzz targets use it; it reaches the
//! library only through its public API. Native only.

pub mod corpus;
pub mod mint;
pub mod python;
pub mod scenario;
pub mod via_request;
