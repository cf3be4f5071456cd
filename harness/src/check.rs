//! `harness check`: evaluates rendered manifests (e.g. `helm template` output) as CREATEs
//! against every rule module in dist/, before they reach a cluster.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::cluster::{str_at, CaseHost, ResourceType};
use crate::engine::{Engine, Module};
use crate::suite::{self, Outcome, Prepared};

#[derive(Args)]
pub struct CheckArgs {
    /// Manifest files or directories (read recursively for *.yaml, *.yml, *.json); `-` is stdin.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Project root holding dist/ and policies/.
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    /// A YAML/JSON map of rule name to that rule's settings; other rules use `{}`.
    #[arg(long)]
    pub settings: Option<PathBuf>,
    /// The requesting user.
    #[arg(long, default_value = "kubernetes-admin")]
    pub user: String,
    /// The requesting user's groups (repeat the flag); default system:authenticated.
    #[arg(long = "group")]
    pub groups: Vec<String>,
    /// Namespace for namespaced objects without metadata.namespace.
    #[arg(long, default_value = "default")]
    pub namespace: String,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

/// One verdict of one rule on one object, or an input problem (`rule: None`).
#[derive(Debug, Serialize)]
pub struct Finding {
    pub object: String,
    pub source: String,
    pub rule: Option<String>,
    pub allowed: bool,
    pub message: String,
    pub warnings: Vec<String>,
}

/// One object read from the input.
struct Manifest {
    source: String,
    object: Value,
}

/// A rule module and where the API server would send requests to it.
struct RuleModule {
    name: String,
    module: Module,
    routes: Vec<Route>,
    allowed: Vec<ResourceType>,
    settings: Value,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Route {
    api_groups: Vec<String>,
    api_versions: Vec<String>,
    resources: Vec<String>,
    operations: Vec<String>,
}

impl Route {
    fn matches(&self, group: &str, version: &str, resource: &str, operation: &str) -> bool {
        let has = |list: &[String], value: &str| list.iter().any(|v| v == "*" || v == value);
        has(&self.api_groups, group)
            && has(&self.api_versions, version)
            && self
                .resources
                .iter()
                .any(|r| r == "*" || r == "*/*" || r == resource)
            && has(&self.operations, operation)
    }
}

pub use crash_guard::apiserver::is_cluster_scoped;

/// Runs the check; `Ok(false)` when anything is refused or the input is bad.
pub fn run(engine: &Engine, args: &CheckArgs) -> Result<bool> {
    let mut findings = Vec::new();
    let mut manifests = Vec::new();
    for input in &args.inputs {
        read_input(input, &mut manifests, &mut findings)?;
    }
    let rules = load_rules(engine, &args.root, args.settings.as_deref(), &manifests)?;
    for manifest in &mut manifests {
        default_namespace(&mut manifest.object, &args.namespace);
    }
    let groups = if args.groups.is_empty() {
        vec!["system:authenticated".to_string()]
    } else {
        args.groups.clone()
    };
    let user_info = json!({"username": args.user, "groups": groups});
    let mut report: Vec<(String, String, Vec<Finding>)> = Vec::new();
    for (index, manifest) in manifests.iter().enumerate() {
        let cluster: Vec<Value> = manifests
            .iter()
            .enumerate()
            .filter(|(other, _)| *other != index)
            .map(|(_, m)| m.object.clone())
            .collect();
        let name = describe(&manifest.object);
        let mut object_findings = Vec::new();
        for rule in &rules {
            if let Some(finding) = evaluate(rule, manifest, index, &user_info, &cluster)? {
                object_findings.push(finding);
            }
        }
        report.push((name, manifest.source.clone(), object_findings));
    }
    let clean = findings.iter().all(|f| f.allowed)
        && report
            .iter()
            .all(|(_, _, found)| found.iter().all(|f| f.allowed));
    match args.output {
        OutputFormat::Json => {
            let all: Vec<&Finding> = findings
                .iter()
                .chain(report.iter().flat_map(|(_, _, found)| found.iter()))
                .collect();
            println!("{}", serde_json::to_string_pretty(&all)?);
        }
        OutputFormat::Text => print_text(&findings, &report),
    }
    Ok(clean)
}

fn print_text(errors: &[Finding], report: &[(String, String, Vec<Finding>)]) {
    for error in errors {
        println!("ERROR {}: {}", error.source, error.message);
    }
    let mut refused = 0;
    for (name, source, found) in report {
        let refusals: Vec<&Finding> = found.iter().filter(|f| !f.allowed).collect();
        let verdict = if refusals.is_empty() {
            let rules: Vec<&str> = found.iter().filter_map(|f| f.rule.as_deref()).collect();
            if rules.is_empty() {
                "ok (no rule applies)".to_string()
            } else {
                format!("ok ({})", rules.join(", "))
            }
        } else {
            refused += 1;
            "REFUSED".to_string()
        };
        println!("{name} ({source}): {verdict}");
        for finding in &refusals {
            println!(
                "  refused by {}: {}",
                finding.rule.as_deref().unwrap_or("?"),
                indent(&finding.message)
            );
        }
        for finding in found {
            for warning in &finding.warnings {
                println!(
                    "  warning from {}: {}",
                    finding.rule.as_deref().unwrap_or("?"),
                    indent(warning)
                );
            }
        }
    }
    println!(
        "{} objects: {} refused, {} ok; {} input errors",
        report.len(),
        refused,
        report.len() - refused,
        errors.len()
    );
}

fn indent(text: &str) -> String {
    text.replace('\n', "\n    ")
}

/// `Kind namespace/name` (or `Kind name` for cluster-scoped objects).
fn describe(object: &Value) -> String {
    let kind = str_at(object, &["kind"]);
    let name = str_at(object, &["metadata", "name"]);
    let name = if name.is_empty() {
        str_at(object, &["metadata", "generateName"])
    } else {
        name
    };
    match str_at(object, &["metadata", "namespace"]) {
        "" => format!("{kind} {name}"),
        namespace => format!("{kind} {namespace}/{name}"),
    }
}

/// Namespaced objects without a namespace land in the default one, as with `kubectl apply`.
fn default_namespace(object: &mut Value, namespace: &str) {
    if is_cluster_scoped(str_at(object, &["kind"]))
        || !str_at(object, &["metadata", "namespace"]).is_empty()
    {
        return;
    }
    if !object.get("metadata").is_some_and(Value::is_object) {
        object["metadata"] = json!({});
    }
    object["metadata"]["namespace"] = json!(namespace);
}

/// Every `policies/<rule>` with `dist/<rule>.wasm`, its routes, lookups and validated settings;
/// only the modules that some object is routed to (or that are given settings) are compiled.
fn load_rules(
    engine: &Engine,
    root: &Path,
    settings: Option<&Path>,
    manifests: &[Manifest],
) -> Result<Vec<RuleModule>> {
    let mut sections: BTreeMap<String, Value> = match settings {
        Some(path) => serde_json::from_value(suite::load_document(path)?).with_context(|| {
            format!(
                "{} must map rule names to settings (e.g. `object-size: {{limits: {{Secret: 512Ki}}}}`)",
                path.display()
            )
        })?,
        None => BTreeMap::new(),
    };
    let policies = root.join("policies");
    let names = suite::policy_names(root)?;
    if let Some(unknown) = sections.keys().find(|k| !names.contains(k)) {
        bail!(
            "--settings names `{unknown}`, which is not a rule (rules: {})",
            names.join(", ")
        );
    }
    let mut rules = Vec::new();
    for name in names {
        let metadata = suite::load_document(&policies.join(&name).join("metadata.yml"))?;
        let routes: Vec<Route> =
            serde_json::from_value(metadata.get("rules").cloned().unwrap_or(json!([])))
                .with_context(|| format!("bad `rules` in policies/{name}/metadata.yml"))?;
        let routed = manifests.iter().any(|m| {
            let (group, version, resource) = coordinates(&m.object);
            routes
                .iter()
                .any(|r| r.matches(group, version, &resource, "CREATE"))
        });
        if !routed && !sections.contains_key(&name) {
            continue;
        }
        let module = suite::load_module(engine, root, &name)
            .with_context(|| format!("rule {name}: run `make policies` first"))?;
        let settings = suite::host_settings(sections.remove(&name).unwrap_or_else(|| json!({})));
        validate_settings(&module, &settings).with_context(|| format!("settings of {name}"))?;
        rules.push(RuleModule {
            allowed: suite::context_aware_resources(root, &name)?,
            name,
            module,
            routes,
            settings,
        });
    }
    Ok(rules)
}

fn validate_settings(module: &Module, settings: &Value) -> Result<()> {
    if !settings.is_object() {
        bail!("not valid: {}", suite::SETTINGS_NOT_AN_OBJECT);
    }
    let instance = module.instantiate(Arc::new(CaseHost::default()))?;
    let answer = instance
        .call("validate_settings", &serde_json::to_vec(settings)?)
        .map_err(|e| anyhow!("{e}"))?;
    let answer: Value = serde_json::from_slice(&answer)?;
    if answer.get("valid") == Some(&Value::Bool(true)) {
        Ok(())
    } else {
        bail!(
            "not valid: {}",
            answer.get("message").and_then(Value::as_str).unwrap_or("")
        )
    }
}

/// The group, version and resource the API server would route the object as.
fn coordinates(object: &Value) -> (&str, &str, String) {
    let api_version = str_at(object, &["apiVersion"]);
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    (group, version, suite::plural(str_at(object, &["kind"])))
}

/// The rule's verdict on `manifest` as a CREATE, or `None` when the rule is not routed it.
fn evaluate(
    rule: &RuleModule,
    manifest: &Manifest,
    index: usize,
    user_info: &Value,
    cluster: &[Value],
) -> Result<Option<Finding>> {
    let object = &manifest.object;
    let kind = str_at(object, &["kind"]);
    let (group, version, resource) = coordinates(object);
    if !rule
        .routes
        .iter()
        .any(|r| r.matches(group, version, &resource, "CREATE"))
    {
        return Ok(None);
    }
    let gvk = json!({"group": group, "version": version, "kind": kind});
    let gvr = json!({"group": group, "version": version, "resource": resource});
    let mut request = json!({
        "uid": format!("check-{index}"),
        "kind": gvk,
        "resource": gvr,
        "requestKind": gvk,
        "requestResource": gvr,
        "name": str_at(object, &["metadata", "name"]),
        "operation": "CREATE",
        "userInfo": user_info,
        "object": object,
        "oldObject": null,
        "dryRun": false,
    });
    let namespace = str_at(object, &["metadata", "namespace"]);
    if !namespace.is_empty() && !is_cluster_scoped(kind) {
        request["namespace"] = json!(namespace);
    }
    let prepared = Prepared {
        id: format!("check/{index}/{}", rule.name),
        payload: crate::suite::validate_payload(&request, &rule.settings)?,
        settings: rule.settings.clone(),
        request,
        host: Arc::new(CaseHost::new(
            cluster.to_vec(),
            rule.allowed.clone(),
            None,
            None,
        )),
    };
    let (allowed, message, warnings) = match suite::run(&rule.module, &prepared) {
        Ok(Outcome::Response(response)) if suite::is_internal_server_error(&response) => (
            false,
            format!("the module failed (policy-server answers 500): {response}"),
            vec![],
        ),
        Ok(Outcome::Response(response)) => (
            response.get("allowed").and_then(Value::as_bool) == Some(true),
            response
                .pointer("/status/message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            response
                .get("warnings")
                .and_then(Value::as_array)
                .map(|w| {
                    w.iter()
                        .filter_map(Value::as_str)
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default(),
        ),
        Ok(Outcome::SettingsInvalid(message)) => {
            (false, format!("settings are not valid: {message}"), vec![])
        }
        Err(error) => (false, format!("the module failed: {error:#}"), vec![]),
    };
    Ok(Some(Finding {
        object: describe(object),
        source: manifest.source.clone(),
        rule: Some(rule.name.clone()),
        allowed,
        message,
        warnings,
    }))
}

/// Reads a file, a directory (recursively) or stdin (`-`); input problems become findings.
fn read_input(path: &Path, manifests: &mut Vec<Manifest>, errors: &mut Vec<Finding>) -> Result<()> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read stdin")?;
        parse_text("<stdin>", &text, false, manifests, errors);
        return Ok(());
    }
    if path.is_dir() {
        let mut files = Vec::new();
        collect_files(path, &mut files)?;
        if files.is_empty() {
            bail!("{} holds no *.yaml, *.yml or *.json files", path.display());
        }
        for file in files {
            read_file(&file, manifests, errors)?;
        }
        return Ok(());
    }
    read_file(path, manifests, errors)
}

fn collect_files(dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            collect_files(&entry, files)?;
        } else if entry
            .extension()
            .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        {
            files.push(entry);
        }
    }
    Ok(())
}

fn read_file(path: &Path, manifests: &mut Vec<Manifest>, errors: &mut Vec<Finding>) -> Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let json = path.extension().is_some_and(|e| e == "json");
    parse_text(&path.display().to_string(), &text, json, manifests, errors);
    Ok(())
}

fn input_error(source: String, message: String) -> Finding {
    Finding {
        object: source.clone(),
        source,
        rule: None,
        allowed: false,
        message,
        warnings: vec![],
    }
}

/// Multi-document YAML (JSON is YAML too; `.json` files are parsed as JSON).
fn parse_text(
    name: &str,
    text: &str,
    json: bool,
    manifests: &mut Vec<Manifest>,
    errors: &mut Vec<Finding>,
) {
    if json {
        match serde_json::from_str::<Value>(text) {
            Ok(document) => add_document(format!("{name}#1"), document, manifests, errors),
            Err(error) => errors.push(input_error(
                name.to_string(),
                format!("not valid JSON: {error}"),
            )),
        }
        return;
    }
    for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let source = format!("{name}#{}", index + 1);
        match Value::deserialize(document) {
            Ok(value) => add_document(source, value, manifests, errors),
            Err(error) => {
                errors.push(input_error(source, format!("not valid YAML: {error}")));
                // The parser cannot resynchronise after a syntax error.
                return;
            }
        }
    }
}

fn add_document(
    source: String,
    document: Value,
    manifests: &mut Vec<Manifest>,
    errors: &mut Vec<Finding>,
) {
    match document {
        Value::Null => {}
        Value::Object(_) => {
            let kind = str_at(&document, &["kind"]);
            let api_version = str_at(&document, &["apiVersion"]);
            if kind.is_empty() || api_version.is_empty() {
                errors.push(input_error(
                    source,
                    "not a Kubernetes object: `kind` and `apiVersion` are required strings"
                        .to_string(),
                ));
            } else if kind.ends_with("List") && document.get("items").is_some() {
                match document.get("items") {
                    Some(Value::Array(items)) => {
                        for (index, item) in items.iter().enumerate() {
                            add_document(
                                format!("{source}.items[{index}]"),
                                item.clone(),
                                manifests,
                                errors,
                            );
                        }
                    }
                    Some(Value::Null) => {}
                    _ => errors.push(input_error(
                        source,
                        format!("{kind}: `items` is not a list"),
                    )),
                }
            } else {
                manifests.push(Manifest {
                    source,
                    object: document,
                });
            }
        }
        other => errors.push(input_error(
            source,
            format!(
                "not a Kubernetes object: a {} instead of a mapping",
                match other {
                    Value::Array(_) => "sequence",
                    Value::String(_) => "string",
                    Value::Number(_) => "number",
                    _ => "boolean",
                }
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Vec<Manifest>, Vec<Finding>) {
        let (mut manifests, mut errors) = (Vec::new(), Vec::new());
        parse_text("in", text, false, &mut manifests, &mut errors);
        (manifests, errors)
    }

    #[test]
    fn reads_documents_and_list_items() {
        let (manifests, errors) = parse(
            "# Source: chart/a.yaml\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\n\
             apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Secret, metadata: {name: b}}\n",
        );
        assert!(errors.is_empty());
        let sources: Vec<&str> = manifests.iter().map(|m| m.source.as_str()).collect();
        assert_eq!(sources, ["in#1", "in#3.items[0]"]);
    }

    #[test]
    fn reports_objects_without_kind_and_bad_yaml() {
        let (manifests, errors) = parse("metadata: {name: a}\n---\n- 1\n---\nkind: [\n");
        assert!(manifests.is_empty());
        let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert!(messages[0].contains("`kind` and `apiVersion`"));
        assert!(messages[1].contains("sequence"));
        assert!(messages[2].contains("not valid YAML"));
    }

    #[test]
    fn defaults_namespace_only_for_namespaced_kinds() {
        let mut config_map =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}});
        default_namespace(&mut config_map, "apps");
        assert_eq!(describe(&config_map), "ConfigMap apps/a");
        let mut webhook = json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration", "metadata": {"name": "w"}});
        default_namespace(&mut webhook, "apps");
        assert_eq!(describe(&webhook), "ValidatingWebhookConfiguration w");
    }

    #[test]
    fn routes_like_the_api_server() {
        let route: Route = serde_yaml::from_str(
            "{apiGroups: [apps], apiVersions: [v1], resources: [deployments], operations: [CREATE, UPDATE]}",
        )
        .expect("route");
        assert!(route.matches("apps", "v1", "deployments", "CREATE"));
        assert!(!route.matches("apps", "v1", "daemonsets", "CREATE"));
        assert!(!route.matches("", "v1", "deployments", "CREATE"));
        let any: Route = serde_yaml::from_str(
            "{apiGroups: ['*'], apiVersions: ['*'], resources: ['*'], operations: ['*']}",
        )
        .expect("route");
        assert!(any.matches("x", "v9", "things", "CREATE"));
    }
}
