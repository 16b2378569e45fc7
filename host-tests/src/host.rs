//! [`FilterHost`]: a compiled module checked the way Envoy checks it before running it.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::{Config, Engine, ExternType, Module};

use crate::error::HostError;
use crate::functions::{self, ABI_MARKER, OTHER_ABI_MARKERS};
use crate::plugin::Plugin;
use crate::runtime::{spawn_ticker, Runtime};
use crate::shared::Shared;

/// The default time limit of one call into the VM.
const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A proxy-wasm module compiled once, from which plugins (VMs) are started, like Envoy's base VM.
pub struct FilterHost {
    runtime: Arc<Runtime>,
    imports: Vec<String>,
    call_timeout: Duration,
}

impl FilterHost {
    /// Compile a module (binary or WAT) and refuse it, naming the culprit, where Envoy would refuse it: no
    /// `proxy_abi_version_0_2_1` export, an import Envoy does not link or with another signature, no exported
    /// `memory` or allocator, or a callback export with the wrong signature.
    pub fn load(wasm: &[u8]) -> Result<Self, HostError> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        // `perf record` can name guest functions when the JIT writes /tmp/perf-<pid>.map (the benchmark's profile
        // mode sets this; see BENCHMARKS.md).
        if std::env::var_os("AUTHZ_HOST_PERFMAP").is_some() {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config).map_err(|e| host_failure("engine", &e))?;
        let module = Module::new(&engine, wasm).map_err(|e| HostError::InvalidModule { message: format!("{e:#}") })?;
        check_abi(&module)?;
        let imports = check_imports(&module)?;
        check_exports(&module)?;
        let linker = crate::linker::linker(&engine)?;
        let pre = linker.instantiate_pre(&module).map_err(|e| host_failure("link", &e))?;
        let runtime = Arc::new(Runtime::new(engine, pre, Arc::new(Shared::default())));
        spawn_ticker(Arc::downgrade(&runtime))
            .map_err(|e| HostError::Host { callback: "load".to_string(), message: format!("no epoch thread: {e}") })?;
        Ok(FilterHost { runtime, imports, call_timeout: DEFAULT_CALL_TIMEOUT })
    }

    /// Instantiate a VM and start it as Envoy does: `_initialize` (then `main`) or `_start`, then a root context
    /// (`proxy_on_context_create`, `proxy_on_vm_start(vm_config)`, `proxy_on_configure(plugin_config)`).
    /// Returns the plugin and whether `proxy_on_vm_start` and `proxy_on_configure` both returned true.
    pub fn start(&self, vm_config: &[u8], plugin_config: &[u8]) -> Result<(Plugin, bool), HostError> {
        Plugin::start(Arc::clone(&self.runtime), self.call_timeout, vm_config, plugin_config)
    }

    /// Make `proxy_http_call` to `cluster` a real HTTP/1.1 call to `addr` (a loopback address) for every VM of this
    /// host, answered with `proxy_on_http_call_response`. Once any cluster is named, calls to other names are
    /// refused with `BAD_ARGUMENT`, as Envoy refuses unknown clusters; before, calls are recorded and never answered.
    pub fn set_cluster(&self, cluster: &str, addr: std::net::SocketAddr) {
        self.runtime.shared.clusters.set(cluster, addr);
    }

    /// The module's imports as `module.name`, in declaration order.
    pub fn imports(&self) -> &[String] {
        &self.imports
    }

    /// Limit each call into VMs started afterwards to `timeout` of wall-clock time (default 10 s); a guest that
    /// runs longer is interrupted and reported as [`HostError::Timeout`].
    pub fn set_call_timeout(&mut self, timeout: Duration) {
        self.call_timeout = timeout;
    }
}

fn host_failure(callback: &str, e: &wasmtime::Error) -> HostError {
    HostError::Host { callback: callback.to_string(), message: format!("{e:#}") }
}

fn check_abi(module: &Module) -> Result<(), HostError> {
    let names: Vec<&str> = module.exports().map(|e| e.name()).collect();
    if names.contains(&ABI_MARKER) {
        return Ok(());
    }
    let reason = match OTHER_ABI_MARKERS.iter().find(|m| names.contains(m)) {
        Some(other) => format!("the module declares `{other}`; this host implements only ABI v0.2.1"),
        None => "missing: Envoy refuses a module without a known Proxy-Wasm ABI version".to_string(),
    };
    Err(HostError::Export { name: ABI_MARKER.to_string(), reason })
}

fn check_imports(module: &Module) -> Result<Vec<String>, HostError> {
    let mut names = Vec::new();
    for import in module.imports() {
        let (m, n) = (import.module(), import.name());
        let refuse = |reason: String| HostError::Import { module: m.to_string(), name: n.to_string(), reason };
        let ExternType::Func(ty) = import.ty() else {
            return Err(refuse("only function imports are supported".to_string()));
        };
        let Some(sig) = functions::host_function(m, n) else {
            return Err(refuse("no such host function (Envoy: \"missing import\")".to_string()));
        };
        if !sig.matches(&ty) {
            return Err(refuse(format!(
                "import type mismatch: the module wants {}, Envoy provides {sig}",
                show_type(&ty)
            )));
        }
        names.push(format!("{m}.{n}"));
    }
    Ok(names)
}

fn check_exports(module: &Module) -> Result<(), HostError> {
    let mut has_memory = false;
    let mut has_allocator = false;
    for export in module.exports() {
        let name = export.name();
        match export.ty() {
            ExternType::Memory(_) if name == "memory" => has_memory = true,
            ExternType::Func(ty) => {
                if let Some(sig) = functions::callback(name) {
                    if !sig.matches(&ty) {
                        return Err(HostError::Export {
                            name: name.to_string(),
                            reason: format!(
                                "bad function signature: Envoy wants {sig}, the module exports {}",
                                show_type(&ty)
                            ),
                        });
                    }
                    has_allocator |= name == "malloc" || name == "proxy_on_memory_allocate";
                }
            }
            _ => {}
        }
    }
    if !has_memory {
        return Err(HostError::Export {
            name: "memory".to_string(),
            reason: "the module exports no memory".to_string(),
        });
    }
    if !has_allocator {
        return Err(HostError::Export {
            name: "malloc".to_string(),
            reason: "missing: Envoy needs `malloc` or `proxy_on_memory_allocate` to hand data to the module"
                .to_string(),
        });
    }
    Ok(())
}

fn show_type(ty: &wasmtime::FuncType) -> String {
    let list =
        |it: &mut dyn Iterator<Item = wasmtime::ValType>| it.map(|t| t.to_string()).collect::<Vec<_>>().join(", ");
    format!("({}) -> ({})", list(&mut ty.params()), list(&mut ty.results()))
}
