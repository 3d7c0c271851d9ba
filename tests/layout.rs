//! The shape of the code the architecture page promises: within each crate, no file imports
//! from a file that imports it (each helper lives in the module it belongs to), checked on the
//! sources themselves.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a source file under `src` (`publish::place`; `lib` for the root).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|p| p != "mod")
        .collect();
    parts.join("::")
}

/// The modules of the same crate a file names in code (comments left out): `crate::a`,
/// `crate::a::b`, and a sibling's `super::b`.
fn imports(module: &str, text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = BTreeSet::new();
    let path_after = |at: usize| -> Vec<&str> {
        code[at..]
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .next()
            .unwrap_or("")
            .split("::")
            .filter(|s| !s.is_empty())
            .collect()
    };
    for (at, _) in code.match_indices("crate::") {
        let names = path_after(at + "crate::".len());
        if names.len() >= 2 && modules.contains(&format!("{}::{}", names[0], names[1])) {
            found.insert(format!("{}::{}", names[0], names[1]));
        } else if let Some(first) = names.first().filter(|n| modules.contains(**n)) {
            found.insert(first.to_string());
        }
    }
    if let Some((parent, _)) = module.rsplit_once("::") {
        for (at, _) in code.match_indices("super::") {
            if let Some(first) = path_after(at + "super::".len()).first() {
                let sibling = format!("{parent}::{first}");
                if modules.contains(&sibling) {
                    found.insert(sibling);
                }
            }
        }
    }
    found.remove(module);
    found
}

#[test]
fn no_two_files_of_a_crate_import_each_other() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut circles = Vec::new();
    for entry in std::fs::read_dir(&crates).unwrap().flatten() {
        let src = entry.path().join("src");
        if !src.is_dir() {
            continue;
        }
        let mut files = Vec::new();
        sources(&src, &mut files);
        let modules: BTreeMap<String, PathBuf> = files
            .iter()
            .map(|f| (module_of(&src, f), f.clone()))
            .collect();
        let names: BTreeSet<String> = modules.keys().cloned().collect();
        let edges: BTreeMap<&String, BTreeSet<String>> = modules
            .iter()
            .map(|(m, f)| (m, imports(m, &std::fs::read_to_string(f).unwrap(), &names)))
            .collect();
        for (a, deps) in &edges {
            for b in deps {
                if a.as_str() < b.as_str() && edges.get(b).is_some_and(|d| d.contains(*a)) {
                    circles.push(format!(
                        "{}: {a} <-> {b}",
                        entry.file_name().to_string_lossy()
                    ));
                }
            }
        }
    }
    assert!(
        circles.is_empty(),
        "files importing each other: {circles:?}"
    );
}

/// The borderflow crates a `Cargo.toml` lists under `[dependencies]`, by short name.
fn dependencies_of(manifest: &str) -> BTreeSet<String> {
    manifest
        .split("\n[")
        .find(|section| section.starts_with("dependencies]"))
        .unwrap_or("")
        .lines()
        .filter_map(|l| l.strip_prefix("borderflow-"))
        .filter_map(|l| l.split(['.', ' ', '=']).next())
        .map(str::to_string)
        .collect()
}

#[test]
fn each_crates_dependencies_are_those_the_architecture_page_lists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let page = std::fs::read_to_string(root.join("docs/architecture.md")).unwrap();
    let mut listed = BTreeMap::new();
    for line in page.lines().filter(|l| l.starts_with("| `borderflow-")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let name = cells[1].trim_matches('`').trim_start_matches("borderflow-");
        let deps: BTreeSet<String> = cells[3]
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty() && *d != "—")
            .map(str::to_string)
            .collect();
        listed.insert(name.to_string(), deps);
    }
    let mut actual = BTreeMap::new();
    for entry in std::fs::read_dir(root.join("crates")).unwrap().flatten() {
        let manifest = entry.path().join("Cargo.toml");
        if let Ok(text) = std::fs::read_to_string(&manifest) {
            let name = entry.file_name().to_string_lossy().into_owned();
            let name = name.trim_start_matches("borderflow-").to_string();
            actual.insert(name, dependencies_of(&text));
        }
    }
    assert_eq!(
        listed, actual,
        "docs/architecture.md's crate table against the Cargo.toml files"
    );
}
