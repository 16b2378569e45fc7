//! What decides: the core compiled into this binary, or a built filter run inside the wasmtime host.

use crate::answer::Answer;
use crate::delivery::as_delivered;
use crate::wasm::WasmEngine;
use anyhow::Context as _;
use authz::{Authorizer, HttpRequest};
use std::path::Path;

/// One loaded configuration, ready to answer requests.
pub enum Engine {
    Native(Box<Authorizer>),
    Wasm(Box<WasmEngine>),
}

impl Engine {
    /// Compiles `config` natively, and with `wasm` also loads it into that filter. The configuration is always
    /// compiled natively first, so that a bad one is reported with its path whichever engine runs.
    pub fn load(config: &[u8], wasm: Option<&Path>) -> anyhow::Result<Self> {
        let authorizer = Authorizer::from_json(config).context("invalid configuration")?;
        match wasm {
            None => Ok(Self::Native(Box::new(authorizer))),
            Some(path) => Ok(Self::Wasm(Box::new(WasmEngine::load(path, config, &authorizer)?))),
        }
    }

    /// Decides one request at unix time `now`, given to either engine as Envoy would deliver it. An error means
    /// the engine itself failed (a trapped filter), not that the request was refused.
    pub fn decide(&mut self, request: &HttpRequest, now: u64) -> anyhow::Result<Answer> {
        let request = as_delivered(request);
        match self {
            Self::Native(authorizer) => Ok(Answer::from_decision(&authorizer.authorize(&request, now))),
            Self::Wasm(engine) => engine.decide(&request, now),
        }
    }
}
