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

/// Setting paths in the first column of the README's settings table:
/// `a.{b,c}` is `a.b` and `a.c`; `a.b` / `c` is `a.b` and `a.c`; `…x[].y`
/// continues the row above that ends in `x`.
fn readme_settings(readme: &str) -> Vec<String> {
    let mut in_table = false;
    let mut settings: Vec<String> = Vec::new();
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
            let Some((name, rest)) = cell.split_once('`') else {
                continue;
            };
            // `exemptions.namespaces` / `users` / `groups`: siblings of the first.
            let first_cell = rest.split(" |").next().unwrap_or_default();
            let parent = name.rsplit_once('.').map(|(p, _)| p).unwrap_or_default();
            for sibling in first_cell.split("/ `").skip(1) {
                if let Some((sibling, _)) = sibling.split_once('`') {
                    settings.push(format!("{parent}.{sibling}"));
                }
            }
            let name = match name.strip_prefix('…') {
                Some(rest) => {
                    let head = rest.split(['.', '[']).next().unwrap_or_default();
                    let parent = settings
                        .iter()
                        .rev()
                        .find(|s| s.ends_with(head))
                        .unwrap_or_else(|| panic!("`…{rest}` continues no row above"));
                    format!("{}{rest}", &parent[..parent.len() - head.len()])
                }
                None => name.to_string(),
            };
            match name.split_once(".{") {
                Some((stem, alternatives)) => {
                    for alternative in alternatives.trim_end_matches('}').split(',') {
                        settings.push(format!("{stem}.{}", alternative.trim()));
                    }
                }
                None => settings.push(name),
            }
        }
    }
    settings
}

/// Every question's setting path, and whether it stands for all the settings
/// below it (a free-form map, `target: true`, or a list of objects). Questions
/// of a `sequence[` are the fields of each item: `<list>[].<field>`.
fn question_variables(questions: &serde_yaml::Value) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut stack: Vec<(String, &serde_yaml::Value)> = questions["questions"]
        .as_sequence()
        .map(|s| s.iter().map(|q| (String::new(), q)).collect())
        .unwrap_or_default();
    while let Some((prefix, q)) = stack.pop() {
        let Some(variable) = q["variable"].as_str() else {
            continue;
        };
        let path = format!("{prefix}{variable}");
        let covers_below =
            q["target"].as_bool().unwrap_or(false) || q["type"].as_str() == Some("sequence[");
        out.push((path.clone(), covers_below));
        if let Some(sub) = q["subquestions"].as_sequence() {
            stack.extend(sub.iter().map(|q| (prefix.clone(), q)));
        }
        if let Some(items) = q["sequence_questions"].as_sequence() {
            stack.extend(items.iter().map(|q| (format!("{path}[]."), q)));
        }
    }
    out
}

#[test]
fn questions_ui_covers_every_setting() {
    let mut checked = 0;
    for dir in package_dirs() {
        let path = dir.join("questions-ui.yml");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: every policy ships one: {e}", path.display()));
        let questions: serde_yaml::Value =
            serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let variables = question_variables(&questions);
        let readme = std::fs::read_to_string(dir.join("README.md")).unwrap_or_default();
        let settings = readme_settings(&readme);
        assert!(
            !settings.is_empty(),
            "{}: README has no settings table",
            dir.display()
        );
        let below = |parent: &str, child: &str| {
            child
                .strip_prefix(parent)
                .is_some_and(|rest| rest.starts_with(['.', '[']))
        };
        for setting in &settings {
            let covered = variables.iter().any(|(variable, covers_below)| {
                variable == setting || (*covers_below && below(variable, setting))
            });
            assert!(
                covered,
                "{}: setting {setting} has no question",
                path.display()
            );
        }
        for (variable, _) in &variables {
            let known = settings
                .iter()
                .any(|s| s == variable || below(variable, s) || below(s, variable));
            assert!(
                known,
                "{}: question {variable} is no documented setting",
                path.display()
            );
        }
        checked += 1;
    }
    assert_eq!(checked, package_dirs().len());
    assert!(checked >= 9, "eight policies and the bundle");
}
