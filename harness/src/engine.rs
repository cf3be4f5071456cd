//! Loads policy modules with wasmtime + waPC and calls them as policy-server does.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use wapc::WapcHost;
use wasmtime_provider::wasmtime;
use wasmtime_provider::{
    EpochDeadlines, ResourceLimits, WasmtimeEngineProviderBuilder, WasmtimeEngineProviderPre,
};

use crate::cluster::CaseHost;

/// One epoch tick; deadlines are counted in ticks.
const TICK: Duration = Duration::from_millis(10);

/// Guards applied to every instance, as policy-server applies them.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub deadline: Duration,
    pub max_memory_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            // policy-server advances its epoch once a second and stops a call
            // at the `policy-timeout`-th tick (default 2) after it started: a
            // call that starts just before a tick has only 1 s.
            deadline: Duration::from_secs(1),
            // policy-server's cap on what a policy may allocate (since v1.38).
            max_memory_bytes: 256 * 1024 * 1024,
        }
    }
}

/// A wasmtime engine with a background thread advancing its epoch.
pub struct Engine {
    engine: wasmtime::Engine,
    limits: Limits,
    stop: Arc<AtomicBool>,
}

impl Engine {
    pub fn new(limits: Limits) -> Result<Self> {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        if std::env::var_os("HARNESS_PERF_MAP").is_some() {
            // /tmp/perf-<pid>.map, so `perf report` names the modules' functions.
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = wasmtime::Engine::new(&config).map_err(|e| anyhow!("{e}"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = engine.clone();
        let stopped = stop.clone();
        thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                thread::sleep(TICK);
                ticker.increment_epoch();
            }
        });
        Ok(Self {
            engine,
            limits,
            stop,
        })
    }

    /// Compiles a module once; instances are then cheap.
    pub fn load(&self, path: &Path) -> Result<Module> {
        let bytes = std::fs::read(path).with_context(|| {
            format!(
                "cannot read {} (run `make` to build the modules)",
                path.display()
            )
        })?;
        self.compile(&bytes)
            .with_context(|| format!("cannot load {}", path.display()))
    }

    pub fn compile(&self, bytes: &[u8]) -> Result<Module> {
        let module = wasmtime::Module::new(&self.engine, bytes).map_err(|e| anyhow!("{e}"))?;
        self.prepare(module, self.limits.max_memory_bytes)
    }

    /// The same compiled module under another memory cap.
    pub fn with_memory_cap(&self, module: &Module, max_memory_bytes: usize) -> Result<Module> {
        self.prepare(module.compiled.clone(), max_memory_bytes)
    }

    fn prepare(&self, compiled: wasmtime::Module, max_memory_bytes: usize) -> Result<Module> {
        let pre = WasmtimeEngineProviderBuilder::new()
            .engine(self.engine.clone())
            .module(compiled.clone())
            .enable_epoch_interruptions(self.deadlines())
            .enable_resource_limits(ResourceLimits {
                max_memory_size: Some(max_memory_bytes),
                max_table_elements: Some(100_000),
            })
            .build_pre()
            .map_err(|e| anyhow!("{e}"))?;
        Ok(Module {
            compiled,
            pre,
            deadlines: self.deadlines(),
        })
    }

    fn deadlines(&self) -> EpochDeadlines {
        let ticks = (self.limits.deadline.as_millis() / TICK.as_millis()).max(1) as u64;
        EpochDeadlines {
            wapc_init: ticks,
            wapc_func: ticks,
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A compiled policy module.
pub struct Module {
    compiled: wasmtime::Module,
    pre: WasmtimeEngineProviderPre,
    deadlines: EpochDeadlines,
}

impl Module {
    /// A fresh instance whose host capabilities are served by `host`.
    pub fn instantiate(&self, host: Arc<CaseHost>) -> Result<Instance> {
        self.instantiate_in(Arc::new(HostSlot::new(host)))
    }

    /// A fresh instance served by whichever host `slot` holds at each call.
    pub fn instantiate_in(&self, slot: Arc<HostSlot>) -> Result<Instance> {
        let provider = self
            .pre
            .rehydrate(Some(self.deadlines))
            .map_err(|e| anyhow!("{e}"))?;
        let callback =
            move |_id: u64, binding: &str, namespace: &str, operation: &str, payload: &[u8]| {
                slot.current()
                    .serve(binding, namespace, operation, payload)
                    .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { e.into() })
            };
        let wapc = WapcHost::new(Box::new(provider), Some(Box::new(callback)))
            .map_err(|e| anyhow!("waPC initialisation failed: {e}"))?;
        Ok(Instance { wapc })
    }
}

/// The host behind an instance; replaced between cases when one warm
/// instance serves many (policy-server rehydrates a fresh instance per
/// request; the warm replay checks that a module keeps no state between calls).
pub struct HostSlot(Mutex<Arc<CaseHost>>);

impl HostSlot {
    pub fn new(host: Arc<CaseHost>) -> Self {
        Self(Mutex::new(host))
    }

    pub fn set(&self, host: Arc<CaseHost>) {
        if let Ok(mut current) = self.0.lock() {
            *current = host;
        }
    }

    fn current(&self) -> Arc<CaseHost> {
        match self.0.lock() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

pub struct Instance {
    wapc: WapcHost,
}

/// How a guest call failed: policy-server turns all of these into a 500.
#[derive(Debug)]
pub struct GuestFailure(pub String);

impl std::fmt::Display for GuestFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Instance {
    pub fn call(
        &self,
        function: &str,
        payload: &[u8],
    ) -> std::result::Result<Vec<u8>, GuestFailure> {
        self.wapc.call(function, payload).map_err(|e| {
            let text = e.to_string();
            let kind = if text.contains("deadline exceeded") {
                "deadline exceeded"
            } else if text.contains("memory") || text.contains("unreachable") {
                "trap"
            } else {
                "guest error"
            };
            GuestFailure(format!("{kind} in `{function}`: {text}"))
        })
    }

    /// `protocol_version`, which policy-server checks before anything else.
    pub fn protocol_version(&self) -> std::result::Result<String, GuestFailure> {
        let raw = self.call("protocol_version", b"")?;
        serde_json::from_slice::<String>(&raw).map_err(|e| {
            GuestFailure(format!(
                "protocol_version answered {}: {e}",
                String::from_utf8_lossy(&raw)
            ))
        })
    }
}
