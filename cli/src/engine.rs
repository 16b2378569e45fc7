//! What decides: the core compiled into this binary, a built filter run inside the wasmtime host, or the built
//! Node package run by `node`.

use crate::answer::Answer;
use crate::delivery::as_delivered;
use crate::node::NodeEngine;
use crate::wasm::WasmEngine;
use anyhow::Context as _;
use authz::{Authorizer, HttpRequest};
use std::path::Path;

/// Which engine to load.
#[derive(Debug, Clone, Copy)]
pub enum Kind<'a> {
    Native,
    /// A proxy-wasm module (`dist/authz.wasm`).
    Wasm(&'a Path),
    /// A wasm-bindgen Node package (`dist/edge/nodejs`).
    Node(&'a Path),
}

impl<'a> Kind<'a> {
    /// The engine the `--wasm` and `--node` options select; both at once is an error.
    pub fn from_options(wasm: Option<&'a Path>, node: Option<&'a Path>) -> anyhow::Result<Self> {
        match (wasm, node) {
            (None, None) => Ok(Self::Native),
            (Some(wasm), None) => Ok(Self::Wasm(wasm)),
            (None, Some(node)) => Ok(Self::Node(node)),
            (Some(_), Some(_)) => anyhow::bail!("--wasm and --node each choose the engine: give one"),
        }
    }
}

/// One loaded configuration, ready to answer requests.
pub enum Engine {
    Native(Box<Authorizer>),
    Wasm(Box<WasmEngine>),
    Node(Box<NodeEngine>),
}

impl Engine {
    /// Compiles `config` natively, and then loads it into the engine asked for. The configuration is always
    /// compiled natively first, so that a bad one is reported with its path whichever engine runs.
    pub fn load(config: &[u8], kind: Kind<'_>) -> anyhow::Result<Self> {
        let authorizer = Authorizer::from_json(config).context("invalid configuration")?;
        match kind {
            Kind::Native => Ok(Self::Native(Box::new(authorizer))),
            Kind::Wasm(path) => Ok(Self::Wasm(Box::new(WasmEngine::load(path, config, &authorizer)?))),
            Kind::Node(path) => Ok(Self::Node(Box::new(NodeEngine::load(path, config)?))),
        }
    }

    /// Decides one request at unix time `now`, given to every engine as Envoy would deliver it (the Node package
    /// adds the pseudo-headers itself, as it does in Workers and Lambda@Edge). An error means the engine itself
    /// failed (a trapped filter, a package that threw), not that the request was refused.
    pub fn decide(&mut self, request: &HttpRequest, now: u64) -> anyhow::Result<Answer> {
        match self {
            Self::Native(authorizer) => Ok(Answer::from_decision(&authorizer.authorize(&as_delivered(request), now))),
            Self::Wasm(engine) => engine.decide(&as_delivered(request), now),
            Self::Node(engine) => engine.decide(request, now),
        }
    }
}
