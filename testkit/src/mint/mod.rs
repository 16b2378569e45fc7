//! Development keys and Cognito-shaped tokens, minted at run time for tests, benchmarks and `authz token`:
//! keys and signing (`keys`), ways to spoil a token for attack corpora (`tamper`), and Cognito's claims
//! (`claims`). Native only; nothing here is compiled into the library.

mod claims;
mod keys;
mod tamper;

/// The algorithms keys are minted for, as the library names them. Re-exported so that the library's own unit
/// tests, which link this crate against a second build of the library, can name the type [`DevKey`] takes.
pub use authz::token::JwsAlg;
pub use claims::CognitoClaims;
pub use keys::DevKey;
pub use tamper::{der_integer, Tamper};

/// Why a development key could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum MintError {
    #[error("key generation failed: {0}")]
    Generate(String),
    #[error("private key file: {0}")]
    Read(String),
}
