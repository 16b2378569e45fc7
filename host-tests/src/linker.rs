//! Links every host function Envoy provides into a wasmtime `Linker`, and dispatches calls to them with
//! Envoy's call restrictions and a record of each call.

use std::fmt;

use wasmtime::{Caller, Engine, Linker, Val};

use crate::env::{self, Args};
use crate::error::HostError;
use crate::functions::{self, Namespace, Sig, ENV_FUNCTIONS, WASI_FUNCTIONS};
use crate::record::Direction;
use crate::state::{HostState, Restriction};
use crate::wasi;

/// A host function refused to run; it fails the VM as a trap does (Envoy: V8 `restricted_callback`).
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) function: String,
    pub(crate) reason: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` refused: {}", self.function, self.reason)
    }
}

impl std::error::Error for Refusal {}

/// A linker holding all of Envoy's host functions for ABI v0.2.1.
pub(crate) fn linker(engine: &Engine) -> Result<Linker<HostState>, HostError> {
    let mut linker = Linker::new(engine);
    for (name, sig) in ENV_FUNCTIONS {
        define(&mut linker, engine, Namespace::Env, name, *sig)?;
    }
    for ns in [Namespace::WasiSnapshotPreview1, Namespace::WasiUnstable] {
        for (name, sig) in WASI_FUNCTIONS {
            define(&mut linker, engine, ns, name, *sig)?;
        }
    }
    Ok(linker)
}

fn define(
    linker: &mut Linker<HostState>,
    engine: &Engine,
    ns: Namespace,
    name: &'static str,
    sig: Sig,
) -> Result<(), HostError> {
    linker
        .func_new(ns.module(), name, sig.func_type(engine), move |mut caller, params, results| {
            dispatch(ns, name, &mut caller, params, results)
        })
        .map(|_| ())
        .map_err(|e| HostError::Host { callback: "link".to_string(), message: e.to_string() })
}

fn dispatch(
    ns: Namespace,
    name: &'static str,
    caller: &mut Caller<'_, HostState>,
    params: &[Val],
    results: &mut [Val],
) -> wasmtime::Result<()> {
    let module = ns.module();
    let raw: Vec<u64> = params
        .iter()
        .map(|v| match v {
            // Envoy widens i32 arguments as unsigned words.
            Val::I32(x) => u64::from(*x as u32),
            Val::I64(x) => *x as u64,
            _ => 0,
        })
        .collect();
    let shown_raw = raw.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
    let state = caller.data_mut();
    let context = state.target();
    let allowed = match state.restriction {
        Restriction::None => true,
        Restriction::Start => functions::allowed_during_start(module, name),
        Restriction::Malloc => functions::allowed_during_malloc(module, name),
    };
    let index = state.record(Direction::VmToHost, context, name, shown_raw, String::new());
    if !allowed {
        let when = match state.restriction {
            Restriction::Start => "while the module starts (_initialize/_start/main)",
            _ => "from inside the allocator",
        };
        let reason = format!("restricted_callback: Envoy does not allow this call {when}");
        state.set_result(index, format!("refused: {reason}"));
        return Err(wasmtime::Error::new(Refusal { function: format!("{module}.{name}"), reason }));
    }
    if let (Namespace::Env, Some(status)) = (ns, state.injected_failures.get(name).copied()) {
        state.set_result(index, format!("{status} (injected)"));
        if let Some(slot) = results.first_mut() {
            *slot = Val::I32(status.code() as i32);
        }
        return Ok(());
    }
    let args = Args(&raw);
    let ret = match ns {
        Namespace::Env => match env::call(name, caller, &args) {
            Some(r) => Some(r?),
            None => None,
        },
        Namespace::WasiSnapshotPreview1 | Namespace::WasiUnstable => wasi::call(name, caller, &args),
    };
    let Some(ret) = ret else {
        return Err(wasmtime::Error::new(Refusal {
            function: format!("{module}.{name}"),
            reason: "linked but not implemented by this host".to_string(),
        }));
    };
    let state = caller.data_mut();
    if let Some(call) = state.calls.get_mut(index) {
        call.args = ret.args;
        call.result = ret.result;
    }
    if let (Some(v), Some(slot)) = (ret.value, results.first_mut()) {
        *slot = Val::I32(v as i32);
    }
    Ok(())
}
