//! Every committed `artifacthub-pkg.yml` is what `harness/src/artifacthub.rs`
//! renders from its `metadata.yml` and `questions-ui.yml` (`make artifacthub`
//! rewrites them), and every `questions-ui.yml` covers every setting of its
//! policy's README settings table.

#[allow(dead_code)]
#[path = "../src/artifacthub.rs"]
mod artifacthub;

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Every policy dir, and the root (the bundle) when it has metadata.
fn package_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join("policies"))
        .expect("policies/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("metadata.yml").is_file())
        .collect();
    dirs.sort();
    if root().join("metadata.yml").is_file() {
        dirs.push(root());
    }
    dirs
}

/// With `WRITE_ARTIFACTHUB=1`, rewrites the files instead of checking them.
#[test]
fn committed_artifacthub_packages_are_current() {
    if std::env::var_os("WRITE_ARTIFACTHUB").is_some_and(|v| v == "1") {
        for dir in package_dirs() {
            let rendered = artifacthub::render_dir(&dir).unwrap_or_else(|e| panic!("{e:#}"));
            std::fs::write(dir.join("artifacthub-pkg.yml"), rendered).expect("writable");
        }
    }
    let failures: Vec<String> = package_dirs()
        .iter()
        .filter_map(|dir| artifacthub::check_dir(dir).err().map(|e| format!("{e:#}")))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Setting paths in the first column of the README's settings table.
fn readme_settings(readme: &str) -> Vec<String> {
    let mut in_table = false;
    let mut settings = Vec::new();
    for line in readme.lines() {
        if line.starts_with("| field |") || line.starts_with("| setting |") {
            in_table = true;
            continue;
        }
        if in_table {
            let Some(cell) = line.strip_prefix("| `") else {
                if !line.starts_with("| ---") {
                    in_table = false;
                }
                continue;
            };
            if let Some((name, _)) = cell.split_once('`') {
                settings.push(name.to_string());
            }
        }
    }
    settings
}

fn question_variables(questions: &serde_yaml::Value) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut stack: Vec<&serde_yaml::Value> = questions["questions"]
        .as_sequence()
        .map(|s| s.iter().collect())
        .unwrap_or_default();
    while let Some(q) = stack.pop() {
        if let Some(variable) = q["variable"].as_str() {
            let free_map = q["target"].as_bool().unwrap_or(false);
            out.push((variable.to_string(), free_map));
        }
        if let Some(sub) = q["subquestions"].as_sequence() {
            stack.extend(sub.iter());
        }
    }
    out
}

#[test]
fn questions_ui_covers_every_setting() {
    let mut checked = 0;
    for dir in package_dirs() {
        let path = dir.join("questions-ui.yml");
        let Ok(text) = std::fs::read_to_string(&path) else {
            println!("note: {} has no questions-ui.yml yet", dir.display());
            continue;
        };
        let questions: serde_yaml::Value = serde_yaml::from_str(&text).expect("questions-ui.yml");
        let variables = question_variables(&questions);
        let readme = std::fs::read_to_string(dir.join("README.md")).unwrap_or_default();
        let settings = readme_settings(&readme);
        assert!(
            !settings.is_empty(),
            "{}: README has no settings table",
            dir.display()
        );
        for setting in settings {
            let covered = variables.iter().any(|(variable, free_map)| {
                *variable == setting || (*free_map && setting.starts_with(&format!("{variable}.")))
            });
            assert!(
                covered,
                "{}: setting {setting} has no question",
                path.display()
            );
        }
        for (variable, _) in &variables {
            let known = readme.contains(&format!("`{variable}"));
            assert!(
                known,
                "{}: question {variable} is no documented setting",
                path.display()
            );
        }
        checked += 1;
    }
    assert!(checked >= 1, "object-size must ship a questions-ui.yml");
}
