//! `kwctl scaffold artifacthub` without kwctl: renders `artifacthub-pkg.yml`
//! from `metadata.yml` (and `questions-ui.yml`), and checks committed ones.
//!
//! Same fields, order and YAML (serde_yaml 0.9, as kwctl) as policy-evaluator's
//! `ArtifactHubPkg`; annotations sorted by key. One deliberate difference: the
//! `policy` link points at this repository's per-rule release asset
//! (`releases/download/<rule>-v<version>/<rule>.wasm`), not at kwctl's
//! single-policy `releases/download/v<version>/policy.wasm`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};

pub const HEADER: &str = "# Kubewarden Artifacthub Package config\n\
#\n\
# Use this config to submit the policy to https://artifacthub.io.\n\
#\n\
# This config can be saved to its default location with:\n\
#   kwctl scaffold artifacthub > artifacthub-pkg.yml\n";

const RECOMMENDATION: &str =
    "https://artifacthub.io/packages/helm/kubewarden/kubewarden-controller";

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    api_groups: Vec<String>,
    api_versions: Vec<String>,
    resources: Vec<String>,
    operations: Vec<String>,
}

#[derive(Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "camelCase")]
struct ContextAwareResource {
    api_version: String,
    kind: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    #[serde(default)]
    rules: Vec<Rule>,
    #[serde(default)]
    mutating: bool,
    #[serde(default)]
    context_aware_resources: BTreeSet<ContextAwareResource>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Package {
    version: String,
    name: String,
    display_name: String,
    created_at: String,
    description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    license: Option<String>,
    #[serde(rename = "homeURL", skip_serializing_if = "Option::is_none")]
    home_url: Option<String>,
    containers_images: Vec<NameValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    keywords: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    links: Option<Vec<Link>>,
    install: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    maintainers: Option<Vec<Maintainer>>,
    provider: Provider,
    recommendations: Vec<Recommendation>,
    annotations: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct NameValue {
    name: String,
    image: String,
}

#[derive(Serialize)]
struct Link {
    name: String,
    url: String,
}

#[derive(Serialize)]
struct Maintainer {
    name: String,
    email: String,
}

#[derive(Serialize)]
struct Provider {
    name: String,
}

#[derive(Serialize)]
struct Recommendation {
    url: String,
}

fn required<'a>(annotations: &'a BTreeMap<String, String>, key: &str) -> Result<&'a str> {
    annotations
        .get(key)
        .map(String::as_str)
        .ok_or_else(|| anyhow!("metadata.yml lacks the annotation {key}"))
}

/// `artifacthub-pkg.yml` for `metadata_yml`, with `questions_ui` (the content
/// of questions-ui.yml) and the given `createdAt` (RFC 3339).
pub fn render(metadata_yml: &str, questions_ui: Option<&str>, created_at: &str) -> Result<String> {
    let metadata: Metadata =
        serde_yaml::from_str(metadata_yml).context("metadata.yml is not valid metadata")?;
    let annotations = &metadata.annotations;
    let version = required(annotations, "io.kubewarden.policy.version")?;
    if !is_semver(version) {
        bail!("io.kubewarden.policy.version {version:?} is not semver");
    }
    let oci_url = required(annotations, "io.kubewarden.policy.ociUrl")?;
    let image = format!("{oci_url}:v{version}");
    let rule = oci_url.rsplit('/').next().unwrap_or(oci_url);
    if questions_ui.is_some_and(str::is_empty) {
        bail!("questions-ui.yml is empty");
    }

    let keywords = annotations
        .get("io.artifacthub.keywords")
        .map(|csv| {
            let words: Vec<String> = csv.split(',').map(|w| w.trim().to_string()).collect();
            if words.iter().any(String::is_empty) {
                bail!("io.artifacthub.keywords has an empty keyword");
            }
            Ok(words)
        })
        .transpose()?;
    let links = annotations
        .get("io.kubewarden.policy.source")
        .map(|source| {
            let source = url(source, "io.kubewarden.policy.source")?;
            let mut links = Vec::new();
            if host(&source) == "github.com" {
                links.push(Link {
                    name: "policy".into(),
                    url: format!(
                        "{}/releases/download/{rule}-v{version}/{rule}.wasm",
                        source.trim_end_matches('/')
                    ),
                });
            }
            links.push(Link {
                name: "source".into(),
                url: source,
            });
            Ok::<_, anyhow::Error>(links)
        })
        .transpose()?;
    let maintainers = annotations
        .get("io.kubewarden.policy.author")
        .map(|authors| maintainers(authors))
        .transpose()?;

    let mut hub_annotations = BTreeMap::new();
    hub_annotations.insert("kubewarden/mutation".into(), metadata.mutating.to_string());
    if !metadata.context_aware_resources.is_empty() {
        hub_annotations.insert(
            "kubewarden/contextAwareResources".into(),
            serde_yaml::to_string(&metadata.context_aware_resources)?,
        );
    }
    hub_annotations.insert(
        "kubewarden/rules".into(),
        serde_yaml::to_string(&metadata.rules)?,
    );
    if let Some(questions) = questions_ui {
        hub_annotations.insert("kubewarden/questions-ui".into(), questions.to_string());
    }
    if let Some(hidden) = annotations.get("io.kubewarden.hidden-ui") {
        let hidden: bool = hidden
            .parse()
            .map_err(|_| anyhow!("io.kubewarden.hidden-ui must be true or false"))?;
        hub_annotations.insert("kubewarden/hidden-ui".into(), hidden.to_string());
    }
    if let Some(resources) = annotations.get("io.artifacthub.resources") {
        hub_annotations.insert("kubewarden/resources".into(), resources.clone());
    }

    let package = Package {
        version: version.to_string(),
        name: required(annotations, "io.kubewarden.policy.title")?.to_string(),
        display_name: required(annotations, "io.artifacthub.displayName")?.to_string(),
        created_at: created_at.to_string(),
        description: required(annotations, "io.kubewarden.policy.description")?.to_string(),
        license: annotations.get("io.kubewarden.policy.license").cloned(),
        home_url: annotations
            .get("io.kubewarden.policy.url")
            .map(|u| url(u, "io.kubewarden.policy.url"))
            .transpose()?,
        containers_images: vec![NameValue {
            name: "policy".into(),
            image: image.clone(),
        }],
        keywords,
        links,
        install: format!(
            "The policy can be obtained using [`kwctl`](https://github.com/kubewarden/kwctl):\n\
             ```console\nkwctl pull {image}\n```\n\
             Then, generate the policy manifest and tune it to your liking. For example:\n\
             ```console\nkwctl scaffold manifest -t ClusterAdmissionPolicy registry://{image}\n```\n"
        ),
        maintainers,
        provider: Provider {
            name: "kubewarden".into(),
        },
        recommendations: vec![Recommendation {
            url: RECOMMENDATION.into(),
        }],
        annotations: hub_annotations,
    };
    Ok(format!("{HEADER}{}", serde_yaml::to_string(&package)?))
}

/// `render` for a policy folder (`metadata.yml`, optional `questions-ui.yml`),
/// keeping the `createdAt` of its committed `artifacthub-pkg.yml` if any.
pub fn render_dir(dir: &Path) -> Result<String> {
    let metadata = std::fs::read_to_string(dir.join("metadata.yml"))
        .with_context(|| format!("cannot read {}/metadata.yml", dir.display()))?;
    let questions = match std::fs::read_to_string(dir.join("questions-ui.yml")) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).context("cannot read questions-ui.yml"),
    };
    let created_at = std::fs::read_to_string(dir.join("artifacthub-pkg.yml"))
        .ok()
        .and_then(|committed| created_at_of(&committed))
        .unwrap_or_else(now_rfc3339);
    render(&metadata, questions.as_deref(), &created_at)
        .with_context(|| format!("{}", dir.display()))
}

/// Whether the committed `artifacthub-pkg.yml` of `dir` is what `render_dir`
/// writes; the error says what to run.
pub fn check_dir(dir: &Path) -> Result<()> {
    let path = dir.join("artifacthub-pkg.yml");
    let committed = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let rendered = render_dir(dir)?;
    if committed != rendered {
        let line = committed
            .lines()
            .zip(rendered.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(rendered.lines().count()));
        bail!(
            "{} is not current (first difference at line {}): run `make artifacthub`",
            path.display(),
            line + 1
        );
    }
    Ok(())
}

/// The `createdAt` of an artifacthub-pkg.yml.
pub fn created_at_of(package_yml: &str) -> Option<String> {
    package_yml.lines().find_map(|line| {
        line.strip_prefix("createdAt:")
            .map(|v| v.trim().trim_matches(['\'', '"']).to_string())
    })
}

/// Now, as `2026-11-26T11:05:37Z`.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn is_semver(version: &str) -> bool {
    let core = version.split(['-', '+']).next().unwrap_or_default();
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && (p.len() == 1 || !p.starts_with('0'))
        })
}

/// Absolute http(s) URL, with the `/` path the url crate adds to a bare host.
fn url(text: &str, annotation: &str) -> Result<String> {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .ok_or_else(|| anyhow!("{annotation}: {text:?} is not an http(s) URL"))?;
    if rest.is_empty() || rest.contains(char::is_whitespace) {
        bail!("{annotation}: {text:?} is not a URL");
    }
    Ok(if rest.contains('/') {
        text.to_string()
    } else {
        format!("{text}/")
    })
}

fn host(url: &str) -> &str {
    url.split("://")
        .nth(1)
        .and_then(|rest| rest.split(['/', ':']).next())
        .unwrap_or_default()
}

/// `Name <email>, Other <email>` (RFC 5322 name-addr), as kwctl requires.
fn maintainers(authors: &str) -> Result<Vec<Maintainer>> {
    let mut list = Vec::new();
    for author in authors.split(',').map(str::trim).filter(|a| !a.is_empty()) {
        let (name, rest) = author.split_once('<').ok_or_else(|| {
            anyhow!(
                "io.kubewarden.policy.author: {author:?} has no <email>; \
                 kwctl scaffold artifacthub needs `Name <email>`"
            )
        })?;
        let email = rest
            .strip_suffix('>')
            .filter(|e| {
                e.split_once('@')
                    .is_some_and(|(user, domain)| !user.is_empty() && domain.contains('.'))
            })
            .ok_or_else(|| anyhow!("io.kubewarden.policy.author: bad email in {author:?}"))?;
        list.push(Maintainer {
            name: name.trim().to_string(),
            email: email.to_string(),
        });
    }
    if list.is_empty() {
        bail!("io.kubewarden.policy.author is empty");
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    const METADATA: &str = r#"
rules:
  - apiGroups: [""]
    apiVersions: ["v1"]
    resources: ["*"]
    operations: ["CREATE"]
mutating: false
contextAwareResources:
  - apiVersion: v1
    kind: Namespace
annotations:
  io.artifacthub.displayName: CEL Policy
  io.artifacthub.resources: Any
  io.artifacthub.keywords: compliance, CEL
  io.kubewarden.policy.title: cel-policy
  io.kubewarden.policy.version: 1.3.3
  io.kubewarden.policy.description: A policy that evaluates CEL expressions
  io.kubewarden.policy.author: Kubewarden developers <cncf-kubewarden-maintainers@lists.cncf.io>
  io.kubewarden.policy.url: https://github.com/kubewarden/cel-policy
  io.kubewarden.policy.source: https://github.com/kubewarden/cel-policy
  io.kubewarden.policy.ociUrl: ghcr.io/kubewarden/policies/cel-policy
  io.kubewarden.policy.license: Apache-2.0
"#;

    #[test]
    fn renders_what_kwctl_scaffold_artifacthub_writes() {
        let rendered = render(METADATA, None, "2025-06-12T12:18:10.18473343Z").unwrap();
        let expected = format!(
            "{HEADER}version: 1.3.3
name: cel-policy
displayName: CEL Policy
createdAt: 2025-06-12T12:18:10.18473343Z
description: A policy that evaluates CEL expressions
license: Apache-2.0
homeURL: https://github.com/kubewarden/cel-policy
containersImages:
- name: policy
  image: ghcr.io/kubewarden/policies/cel-policy:v1.3.3
keywords:
- compliance
- CEL
links:
- name: policy
  url: https://github.com/kubewarden/cel-policy/releases/download/cel-policy-v1.3.3/cel-policy.wasm
- name: source
  url: https://github.com/kubewarden/cel-policy
install: |
  The policy can be obtained using [`kwctl`](https://github.com/kubewarden/kwctl):
  ```console
  kwctl pull ghcr.io/kubewarden/policies/cel-policy:v1.3.3
  ```
  Then, generate the policy manifest and tune it to your liking. For example:
  ```console
  kwctl scaffold manifest -t ClusterAdmissionPolicy registry://ghcr.io/kubewarden/policies/cel-policy:v1.3.3
  ```
maintainers:
- name: Kubewarden developers
  email: cncf-kubewarden-maintainers@lists.cncf.io
provider:
  name: kubewarden
recommendations:
- url: https://artifacthub.io/packages/helm/kubewarden/kubewarden-controller
annotations:
  kubewarden/contextAwareResources: |
    - apiVersion: v1
      kind: Namespace
  kubewarden/mutation: 'false'
  kubewarden/resources: Any
  kubewarden/rules: |
    - apiGroups:
      - ''
      apiVersions:
      - v1
      resources:
      - '*'
      operations:
      - CREATE
"
        );
        assert_eq!(rendered, expected);
    }

    #[test]
    fn embeds_questions_and_refuses_incomplete_metadata() {
        let rendered = render(METADATA, Some("questions:\n- variable: a\n"), "t").unwrap();
        assert!(
            rendered.contains("  kubewarden/questions-ui: |\n    questions:\n    - variable: a\n")
        );
        let no_email = METADATA.replace(" <cncf-kubewarden-maintainers@lists.cncf.io>", "");
        assert!(render(&no_email, None, "t").is_err());
        let no_oci = METADATA.replace("io.kubewarden.policy.ociUrl", "x");
        assert!(render(&no_oci, None, "t").is_err());
        let not_semver = METADATA.replace("1.3.3", "1.3");
        assert!(render(&not_semver, None, "t").is_err());
        assert!(render(METADATA, Some(""), "t").is_err());
    }

    #[test]
    fn created_at_and_now() {
        assert_eq!(
            created_at_of("name: x\ncreatedAt: 2026-11-26T00:00:00Z\n").as_deref(),
            Some("2026-11-26T00:00:00Z")
        );
        let now = now_rfc3339();
        assert_eq!(now.len(), 20);
        assert!(now.starts_with("20"));
    }
}
