//! The analyzer's modules import only downward. The layer table is the one in
//! `analyzer/README.md` (section "Layers"); this test reads it, reads every `crate::` path in the
//! analyzer's sources (comments left out), and fails on an import of a higher layer, on an import
//! between the two frontends, and on a module the table does not place.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Module name → (layer, whether modules of that layer may import each other).
type Layers = BTreeMap<String, (usize, bool)>;

/// Rows of the table under the `Layers` heading: `| 3 | `frontend`, `hotpath` | ... |`. A layer whose
/// description starts with "apart:" holds modules that never import each other.
fn read_layers(readme: &str) -> Layers {
    let mut lines = readme.lines().skip_while(|l| !(l.starts_with('#') && l.trim_start_matches('#') == " Layers"));
    assert!(lines.next().is_some(), "no `Layers` heading");
    let mut layers = Layers::new();
    for row in lines.take_while(|l| !l.starts_with('#')).filter(|l| l.starts_with('|')) {
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        let Ok(layer) = cells[0].parse::<usize>() else { continue };
        let apart = cells.get(2).is_some_and(|what| what.starts_with("apart:"));
        for module in cells[1].split(',') {
            let module = module.trim().trim_matches('`');
            assert!(layers.insert(module.to_string(), (layer, !apart)).is_none(), "{module} is placed twice");
        }
    }
    assert!(!layers.is_empty(), "the layer table was not found");
    layers
}

/// The crate-level module a source file belongs to (`python/checker/mod.rs` → `python`).
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap();
    let first = relative.components().next().unwrap().as_os_str().to_string_lossy().to_string();
    first.trim_end_matches(".rs").to_string()
}

/// The first segment of every `crate::` path in `text` (comments removed), with its line.
fn crate_imports(text: &str) -> Vec<(usize, String)> {
    let code: String = text.lines().map(|line| line.split("//").next().unwrap()).collect::<Vec<_>>().join("\n");
    let ident = |s: &str| -> String { s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect() };
    let mut found = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let line = code[..at].matches('\n').count() + 1;
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a, b::c}`, possibly over several lines.
            for part in split_top_level(&group[..matching_brace(group)]) {
                let name = ident(part.trim());
                if !name.is_empty() && name != "self" {
                    found.push((line, name));
                }
            }
        } else {
            let name = ident(rest);
            if !name.is_empty() {
                found.push((line, name));
            }
        }
    }
    found
}

/// The length of `text` up to the `}` that closes a group opened just before it.
fn matching_brace(text: &str) -> usize {
    let mut depth = 1;
    for (at, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return at;
                }
            }
            _ => {}
        }
    }
    text.len()
}

fn split_top_level(group: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (at, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&group[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    parts.push(&group[start..]);
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every import that breaks the table, as `file:line: what`.
fn violations(layers: &Layers, files: &[(String, String, String)]) -> Vec<String> {
    let modules: Vec<&String> = files.iter().map(|(_, module, _)| module).collect();
    let mut problems = Vec::new();
    for (shown, module, text) in files {
        if module == "lib" || module == "main" {
            continue;
        }
        let Some(&(from, siblings_ok)) = layers.get(module) else {
            problems.push(format!("{shown}: module `{module}` is not in the layer table"));
            continue;
        };
        for (line, target) in crate_imports(text) {
            // Items at the crate root that are no module (`crate::declare_rule!`) are nobody's layer.
            if target == *module || !modules.contains(&&target) {
                continue;
            }
            match layers.get(&target) {
                None => {} // reported once, as the importing module's own file
                Some(&(to, _)) if to > from => {
                    problems.push(format!("{shown}:{line}: `{module}` (layer {from}) imports `{target}` (layer {to})"))
                }
                Some(&(to, _)) if to == from && !siblings_ok => problems
                    .push(format!("{shown}:{line}: `{module}` imports `{target}`, which must stay apart from it")),
                _ => {}
            }
        }
    }
    problems
}

#[test]
fn analyzer_modules_import_only_downward() {
    let layers = read_layers(&std::fs::read_to_string(Path::new(ROOT).join("analyzer/README.md")).unwrap());
    let src = Path::new(ROOT).join("analyzer/src");
    let mut paths = Vec::new();
    rust_files(&src, &mut paths);
    paths.sort();
    let files: Vec<(String, String, String)> = paths
        .iter()
        .map(|p| {
            let shown = p.strip_prefix(ROOT).unwrap().display().to_string();
            (shown, module_of(&src, p), std::fs::read_to_string(p).unwrap())
        })
        .collect();
    let problems = violations(&layers, &files);
    assert!(problems.is_empty(), "imports that break analyzer/README.md's layer table:\n{}", problems.join("\n"));
}

#[test]
fn the_root_readme_shows_the_same_layer_table() {
    let analyzer = read_layers(&std::fs::read_to_string(Path::new(ROOT).join("analyzer/README.md")).unwrap());
    let root = read_layers(&std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap());
    assert_eq!(root, analyzer, "README.md's Architecture table differs from analyzer/README.md's");
}

/// The checker itself catches what it is for: an upward import, a group import, frontends that
/// import each other, and a module the table does not know.
#[test]
fn the_check_reports_what_breaks_the_table() {
    let layers = read_layers(
        "## Layers\n| layer | modules | what |\n| --- | --- | --- |\n| 0 | `paths` | leaf |\n| 1 | `python`, `rust` | apart: frontends |\n| 2 | `engine` | top |\n",
    );
    let file = |module: &str, text: &str| (format!("{module}.rs"), module.to_string(), text.to_string());
    let problems = violations(
        &layers,
        &[
            file("paths", "use crate::engine::run; // crate::python in a comment is fine\n"),
            file("python", "use crate::{paths,\n    rust::x};\n"),
            file("engine", "fn f() { crate::python::check(); crate::paths::absolute(); crate::declare_rule! {} }\n"),
            file("rust", "use crate::declare_rule;\n"),
            file("stray", "use crate::paths;\n"),
        ],
    );
    assert_eq!(
        problems,
        [
            "paths.rs:1: `paths` (layer 0) imports `engine` (layer 2)",
            "python.rs:1: `python` imports `rust`, which must stay apart from it",
            "stray.rs: module `stray` is not in the layer table",
        ]
    );
}
