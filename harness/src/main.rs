//! crash-guard's stand-in for kwctl and policy-server: runs built policy
//! modules with wasmtime + waPC, serving host capabilities from fixtures.

mod annotate;
mod artifacthub;
mod bench;
mod check;
mod cluster;
mod engine;
mod kwctl;
mod soak;
mod suite;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::{json, Value};

use crate::cluster::CaseHost;
use crate::engine::{Engine, HostSlot, Limits};
use crate::suite::{Outcome, Source};

#[derive(Parser)]
#[command(about = "Runs crash-guard policy modules as policy-server does")]
struct Cli {
    /// Execution deadline per call, in milliseconds: what policy-server's default
    /// timeout (2 ticks of 1 s) leaves a call that starts just before a tick.
    #[arg(long, global = true, default_value_t = 1000)]
    deadline_ms: u64,
    /// Memory cap per instance, in MiB (policy-server's since v1.38).
    #[arg(long, global = true, default_value_t = 256)]
    max_memory_mib: usize,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum EngineKind {
    /// This harness (wasmtime + waPC).
    Harness,
    /// The real kwctl, replaying the host calls the harness served.
    Kwctl,
}

#[derive(Subcommand)]
enum Command {
    /// Evaluates one request against one module and prints the AdmissionResponse.
    Run {
        /// The policy module.
        module: PathBuf,
        /// A bare AdmissionReview request or a whole AdmissionReview (JSON or YAML).
        #[arg(long)]
        request_path: PathBuf,
        #[arg(long, conflicts_with = "settings_path")]
        settings_json: Option<String>,
        #[arg(long)]
        settings_path: Option<PathBuf>,
        /// Cluster state for lookups: a YAML/JSON list of objects.
        #[arg(long)]
        cluster: Option<PathBuf>,
        /// The policy's metadata.yml, granting its contextAwareResources.
        #[arg(long)]
        metadata: Option<PathBuf>,
    },
    /// Replays every e2e-tests/<rule>/cases.yaml against dist/<rule>.wasm.
    Replay {
        /// Project root holding e2e-tests/, dist/ and policies/.
        #[arg(long, default_value = ".")]
        root: PathBuf,
        /// Only these suites (folder names).
        #[arg(long = "only")]
        only: Vec<String>,
        #[arg(long, value_enum, default_value_t = EngineKind::Harness)]
        engine: EngineKind,
        /// Writes each case's request, settings and kwctl session file here.
        #[arg(long)]
        sessions: Option<PathBuf>,
        /// Prints the policy's log records and lookups.
        #[arg(long, short)]
        verbose: bool,
    },
    /// Writes the module with its metadata embedded, as `kwctl annotate` does.
    Annotate {
        module: PathBuf,
        #[arg(long)]
        metadata: PathBuf,
        /// README embedded as `io.kubewarden.policy.usage`.
        #[arg(long)]
        usage: Option<PathBuf>,
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Renders artifacthub-pkg.yml from metadata.yml (and questions-ui.yml) of each folder.
    Artifacthub {
        /// Policy folders (each with a metadata.yml).
        dirs: Vec<PathBuf>,
        /// Write the files instead of checking that the committed ones are current.
        #[arg(long)]
        write: bool,
    },
    /// Evaluates manifests (files, directories or `-` for stdin) as CREATEs against every rule.
    Check(check::CheckArgs),
    /// Feeds every module mutations of its fixture cases on a warm instance; fails on any
    /// trap, guest error, malformed answer, or warm answer that differs from a fresh one.
    Soak(soak::SoakArgs),
    /// Times every module on every fixture case and writes a Markdown table.
    Bench {
        #[arg(long, default_value = ".")]
        root: PathBuf,
        #[arg(long = "only")]
        only: Vec<String>,
        /// Milliseconds spent measuring each figure.
        #[arg(long, default_value_t = 200)]
        budget_ms: u64,
        #[arg(long, default_value = "BENCHMARKS.md")]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let limits = Limits {
        deadline: Duration::from_millis(cli.deadline_ms),
        max_memory_bytes: cli.max_memory_mib * 1024 * 1024,
    };
    let result = Engine::new(limits).and_then(|engine| match cli.command {
        Command::Run {
            module,
            request_path,
            settings_json,
            settings_path,
            cluster,
            metadata,
        } => run_one(
            &engine,
            &module,
            &request_path,
            settings_json,
            settings_path,
            cluster,
            metadata,
        ),
        Command::Replay {
            root,
            only,
            engine: kind,
            sessions,
            verbose,
        } => replay(&engine, &root, &only, kind, sessions.as_deref(), verbose),
        Command::Annotate {
            module,
            metadata,
            usage,
            output,
        } => annotate_module(&engine, &module, &metadata, usage.as_deref(), &output),
        Command::Artifacthub { dirs, write } => {
            for dir in &dirs {
                if write {
                    std::fs::write(
                        dir.join("artifacthub-pkg.yml"),
                        artifacthub::render_dir(dir)?,
                    )?;
                } else {
                    artifacthub::check_dir(dir)?;
                }
            }
            Ok(true)
        }
        Command::Check(args) => check::run(&engine, &args),
        Command::Soak(args) => soak::run(&engine, &args),
        Command::Bench {
            root,
            only,
            budget_ms,
            out,
        } => {
            let options = bench::Options {
                only,
                budget: Duration::from_millis(budget_ms),
                out,
            };
            bench::run(&engine, &root, &options)
        }
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_one(
    engine: &Engine,
    module: &Path,
    request_path: &Path,
    settings_json: Option<String>,
    settings_path: Option<PathBuf>,
    cluster: Option<PathBuf>,
    metadata: Option<PathBuf>,
) -> Result<bool> {
    let settings: Value = match (settings_json, settings_path) {
        (Some(json), _) => serde_json::from_str(&json).context("--settings-json is not JSON")?,
        (None, Some(path)) => suite::load_document(&path)?,
        (None, None) => json!({}),
    };
    let settings = suite::host_settings(settings);
    let document = suite::load_document(request_path)?;
    let request = match document.get("kind").and_then(Value::as_str) {
        Some("AdmissionReview") => document.get("request").cloned().unwrap_or(Value::Null),
        _ => document,
    };
    let objects = match cluster {
        Some(path) => {
            match Source::File(path.to_string_lossy().into_owned()).load(Path::new(""))? {
                Value::Array(items) => items,
                other => vec![other],
            }
        }
        None => vec![],
    };
    let allowed = match metadata {
        Some(path) => serde_json::from_value(
            suite::load_document(&path)?
                .get("contextAwareResources")
                .cloned()
                .unwrap_or(json!([])),
        )?,
        None => vec![],
    };
    let compiled = engine.load(module)?;
    let prepared = suite::Prepared {
        id: "run".into(),
        payload: suite::validate_payload(&request, &settings)?,
        settings,
        request,
        host: Arc::new(CaseHost::new(objects, allowed, None, None)),
    };
    match suite::run(&compiled, &prepared)? {
        Outcome::SettingsInvalid(message) => {
            Err(anyhow!("Provided settings are not valid: {message}"))
        }
        Outcome::Response(response) => {
            println!("{}", serde_json::to_string_pretty(&response)?);
            Ok(true)
        }
    }
}

fn replay(
    engine: &Engine,
    root: &Path,
    only: &[String],
    kind: EngineKind,
    sessions: Option<&Path>,
    verbose: bool,
) -> Result<bool> {
    if kind == EngineKind::Kwctl && !kwctl::available() {
        return Err(anyhow!("kwctl is not installed; run with --engine harness"));
    }
    let scratch = std::env::temp_dir().join(format!("crash-guard-kwctl-{}", std::process::id()));
    let (mut passed, mut failed) = (0usize, 0usize);
    for suite in suite::discover(root)? {
        for module_name in suite.modules(root, only)? {
            let module = suite::load_module(engine, root, &module_name)?;
            let allowed = suite::context_aware_resources(root, &module_name)?;
            let slot = Arc::new(HostSlot::new(Arc::new(CaseHost::default())));
            let warm = module.instantiate_in(slot.clone())?;
            for case in &suite.cases {
                let id = suite.case_id(case, &module_name);
                let outcome = suite
                    .prepare_for(case, allowed.clone(), id.clone(), &module_name)
                    .and_then(|prepared| {
                        let outcome = suite::run(&module, &prepared)?;
                        let exchanges = prepared.host.exchanges();
                        suite::run_warm(&warm, &slot, &prepared, &outcome)?;
                        if let Some(dir) = sessions {
                            kwctl::write_case_files(
                                &dir.join(&prepared.id),
                                &prepared,
                                &exchanges,
                            )?;
                        }
                        let outcome = match kind {
                            EngineKind::Harness => outcome,
                            EngineKind::Kwctl => {
                                let wasm = annotated_or_plain(root, &module_name);
                                kwctl::run(
                                    &wasm,
                                    &scratch.join(&prepared.id),
                                    &prepared,
                                    &exchanges,
                                )?
                            }
                        };
                        if verbose {
                            if let Some(description) = &case.description {
                                println!("    {description}");
                            }
                            for line in prepared.host.logs() {
                                println!("    log: {line}");
                            }
                            for exchange in &exchanges {
                                println!("    lookup: {} {}", exchange.operation, exchange.request);
                            }
                        }
                        Ok(suite::check(&case.expect, &outcome, &exchanges))
                    });
                match outcome {
                    Ok(Ok(detail)) => {
                        passed += 1;
                        println!("PASS {id}: {}", shorten(&detail));
                    }
                    Ok(Err(difference)) => {
                        failed += 1;
                        println!("FAIL {id}: {difference}");
                    }
                    Err(error) => {
                        failed += 1;
                        println!("FAIL {id}: {error:#}");
                    }
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    println!("{passed} passed, {failed} failed");
    Ok(failed == 0 && passed > 0)
}

/// Embeds metadata the way kwctl does, asking the module for its protocol version.
fn annotate_module(
    engine: &Engine,
    module: &Path,
    metadata: &Path,
    usage: Option<&Path>,
    output: &Path,
) -> Result<bool> {
    let bytes =
        std::fs::read(module).with_context(|| format!("cannot read {}", module.display()))?;
    let instance = engine
        .compile(&bytes)?
        .instantiate(Arc::new(CaseHost::default()))?;
    let protocol = instance.protocol_version().map_err(|e| anyhow!("{e}"))?;
    let metadata = std::fs::read_to_string(metadata)
        .with_context(|| format!("cannot read {}", metadata.display()))?;
    let usage = usage.map(std::fs::read_to_string).transpose()?;
    let annotated = annotate::annotate(&bytes, &metadata, &protocol, usage.as_deref())?;
    if annotate::read_metadata(&annotated)?.is_none() {
        return Err(anyhow!("the annotated module has no metadata section"));
    }
    std::fs::write(output, annotated)
        .with_context(|| format!("cannot write {}", output.display()))?;
    println!(
        "{}: annotated ({} bytes)",
        output.display(),
        std::fs::metadata(output)?.len()
    );
    Ok(true)
}

fn annotated_or_plain(root: &Path, module: &str) -> PathBuf {
    let annotated = root.join("dist").join(format!("{module}.annotated.wasm"));
    if annotated.is_file() {
        annotated
    } else {
        root.join("dist").join(format!("{module}.wasm"))
    }
}

fn shorten(text: &str) -> String {
    const MAX: usize = 160;
    if text.chars().count() <= MAX {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(MAX).collect::<String>())
    }
}
