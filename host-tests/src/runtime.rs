//! What a host and all its plugins share, and the clock that bounds their calls. Its own module so that
//! [`crate::host`] (which starts plugins) and [`crate::plugin`] (which runs on this) both point here, not at
//! each other.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use wasmtime::{Engine, InstancePre};

use crate::shared::Shared;
use crate::state::HostState;

/// How often the epoch advances; a call's time limit is counted in these ticks.
pub(crate) const TICK: Duration = Duration::from_millis(10);

/// What every plugin of one host shares: the engine, the linked module, and the cross-VM state.
pub(crate) struct Runtime {
    pub(crate) engine: Engine,
    pub(crate) pre: InstancePre<HostState>,
    pub(crate) shared: Arc<Shared>,
    next_vm: AtomicU64,
}

impl Runtime {
    /// A runtime whose first VM is numbered 1.
    pub(crate) fn new(engine: Engine, pre: InstancePre<HostState>, shared: Arc<Shared>) -> Self {
        Self { engine, pre, shared, next_vm: AtomicU64::new(1) }
    }

    pub(crate) fn next_vm(&self) -> u64 {
        self.next_vm.fetch_add(1, Ordering::Relaxed)
    }
}

/// Advance the engine's epoch every [`TICK`] while any host or plugin of it is alive (Envoy does the same to
/// bound each call).
pub(crate) fn spawn_ticker(runtime: Weak<Runtime>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("authz-host-epoch".to_string())
        .spawn(move || loop {
            std::thread::sleep(TICK);
            match runtime.upgrade() {
                Some(rt) => rt.engine.increment_epoch(),
                None => break,
            }
        })
        .map(|_| ())
}
