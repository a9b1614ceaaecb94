//! Imports resolved as Python resolves them (issue 13): a nested package or module named like a
//! library (`gluonts/torch/`, `diffusers/models/transformers/`, `vllm/.../torch.py`) never shadows
//! that library, namespace packages and scripts' sibling imports resolve, and a file gives the
//! same findings whether its package is checked alone or with its neighbours. Import graphs of
//! any shape (star-import cycles, missing modules, re-exports) never crash the run.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn fixtures() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/imports"))
}

/// Runs graphlint in `dir`; panics unless it exits 0 or 1. Returns (file, row, code, hot).
fn findings(dir: &Path, args: &[&str]) -> BTreeSet<(String, u64, String, bool)> {
    let output = Command::new(env!("CARGO_BIN_EXE_graphlint"))
        .args(["--output-format", "json", "--all-paths"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "graphlint {args:?} in {}: {:?}\n{}",
        dir.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON output");
    json.as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["filename"].as_str().unwrap().to_string(),
                f["location"]["row"].as_u64().unwrap(),
                f["code"].as_str().unwrap().to_string(),
                f["hot"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// The `# expect: CODE` lines under `dir`, each as a hot finding.
fn expected(dir: &Path) -> BTreeSet<(String, u64, String, bool)> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            // Sources only: not graphlint's own `.graphlint_cache/`.
            if path.file_name().is_some_and(|name| name.to_string_lossy().starts_with('.')) {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let relative = path.strip_prefix(dir).unwrap().to_string_lossy().to_string();
            for (index, line) in std::fs::read_to_string(&path).unwrap().lines().enumerate() {
                if let Some(at) = line.find("# expect: ") {
                    out.insert((relative.clone(), index as u64 + 1, line[at + 10..].trim().to_string(), true));
                }
            }
        }
    }
    out
}

fn only_file(all: &BTreeSet<(String, u64, String, bool)>, file: &str) -> BTreeSet<(u64, String, bool)> {
    all.iter().filter(|f| f.0.ends_with(file)).map(|f| (f.1, f.2.clone(), f.3)).collect()
}

#[test]
fn nested_packages_named_like_libraries_do_not_shadow_them() {
    let dir = fixtures().join("shadow");
    let alone = findings(&dir, &["b"]);
    assert_eq!(alone, expected(&dir), "b/m.py alone");
    let want = only_file(&alone, "b/m.py");
    for args in [&["a", "b"][..], &["."], &["a", "b", "c"], &["c", "b"], &["b/m.py", "a/torch/__init__.py"]] {
        let found = findings(&dir, args);
        assert_eq!(only_file(&found, "b/m.py"), want, "graphlint {args:?} must give b/m.py the findings it has alone");
    }
}

#[test]
fn namespace_packages_and_script_siblings_resolve() {
    let dir = fixtures().join("namespace");
    let want = expected(&dir);
    assert_eq!(findings(&dir, &["."]), want);
    let app: BTreeSet<_> = findings(&dir.join("app"), &["."])
        .into_iter()
        .map(|(file, row, code, hot)| (format!("app/{file}"), row, code, hot))
        .collect();
    assert_eq!(app, want, "the same findings from inside the package");
}

#[test]
fn a_star_import_of_a_missing_module_does_not_crash() {
    // lightning 2.6.6's `lightning/fabric/__init__.py` in three lines: this overflowed the stack.
    let found = findings(&fixtures().join("cycle"), &["."]);
    assert!(found.is_empty(), "{found:?}");
}

/// SplitMix64: a small deterministic generator, so a failing graph can be regenerated.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Random package graphs: star imports, re-exports and calls between modules that may or may not
/// exist, in cycles of any length, with packages nested and named like libraries. Every run must
/// end with exit 0 or 1 and JSON on stdout.
#[test]
fn generated_import_graphs_never_crash() {
    let mut rng = Rng(0x5EED_0013);
    let names = ["a", "b", "c", "torch", "nn", "util", "missing", "pkg"];
    for graph in 0..40 {
        let root = tempfile::tempdir().unwrap();
        let packages = ["pkg", "pkg/sub", "pkg/torch", "other", "pkg/sub/deep"];
        let modules = 4 + rng.below(6);
        for index in 0..modules {
            let package = packages[rng.below(packages.len())];
            let dir = root.path().join(package);
            std::fs::create_dir_all(&dir).unwrap();
            let mut text = String::new();
            for _ in 0..2 + rng.below(6) {
                let name = names[rng.below(names.len())];
                let dots = ".".repeat(rng.below(3));
                let line = match rng.below(10) {
                    0 => format!("from {dots}{name} import *\n"),
                    1 => format!("from {dots}{name} import f\n"),
                    2 => format!("from {dots}{name} import f as {name}\n"),
                    3 => format!("import pkg.{name} as {name}\n"),
                    4 => "from . import *\n".to_string(),
                    5 => format!("try:\n    import {name}\nexcept ImportError:\n    {name} = None\n"),
                    6 => {
                        format!("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from {dots}{name} import f\n")
                    }
                    7 => "def f(x):\n    return x.item()\n".to_string(),
                    8 => format!("class M({name}.Module):\n    def forward(self, x):\n        return f(x)\n"),
                    _ => format!("f({name})\n"),
                };
                text.push_str(&line);
            }
            let file =
                if rng.below(3) == 0 { "__init__.py".to_string() } else { format!("{}{index}.py", names[index % 3]) };
            std::fs::write(dir.join(file), text).unwrap();
        }
        // `findings` panics on any exit but 0 or 1 (a crash, an abort) or on output that is not JSON.
        eprintln!("generated graph {graph}");
        findings(root.path(), &["."]);
    }
}
