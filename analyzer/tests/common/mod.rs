//! Helpers shared by the integration tests (each test file that needs them says `mod common;`).
// Each test binary compiles this module whole and uses only part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Copies the directory `from` into `to`, recursively (creating `to`).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_tree(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// The files under `dir` whose extension is one of `extensions`, sorted.
pub fn files_with(dir: &Path, extensions: &[&str]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().and_then(|e| e.to_str()).is_some_and(|e| extensions.contains(&e)) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// graphlint's JSON findings for `dir` (`--no-cache`, with `args`); the run must end with 0 or 1.
pub fn graphlint_json(dir: &Path, args: &[&str]) -> Vec<serde_json::Value> {
    let output = Command::new(env!("CARGO_BIN_EXE_graphlint"))
        .args(["--output-format", "json", "--no-cache"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(matches!(output.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap().as_array().unwrap().clone()
}

/// The `# expect: CODE` marks of the files in `dir/pkg`: how many of each `(file, row, code)`.
pub fn expectations(dir: &Path) -> BTreeMap<(String, u64, String), usize> {
    let mut expected = BTreeMap::new();
    for entry in std::fs::read_dir(dir.join("pkg")).unwrap() {
        let path = entry.unwrap().path();
        let relative = path.strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/");
        for (index, line) in std::fs::read_to_string(&path).unwrap().lines().enumerate() {
            if let Some(at) = line.find("# expect:") {
                for code in line[at + 9..].split_whitespace().take_while(|w| w.starts_with("GL")) {
                    *expected.entry((relative.clone(), index as u64 + 1, code.to_string())).or_insert(0) += 1;
                }
            }
        }
    }
    expected
}

/// Every finding graphlint reports in `dir` is hot, and they are exactly the `# expect:` marks.
pub fn assert_hot_findings_are_the_expectations(dir: &Path) {
    let mut actual = BTreeMap::new();
    for f in &graphlint_json(dir, &[]) {
        assert_eq!(f["hot"], true, "{f}");
        let key = (
            f["filename"].as_str().unwrap().to_string(),
            f["location"]["row"].as_u64().unwrap(),
            f["code"].as_str().unwrap().to_string(),
        );
        *actual.entry(key).or_insert(0) += 1;
    }
    assert_eq!(actual, expectations(dir));
}

/// The finding of `code` at `file:row` among `findings`.
pub fn finding<'f>(findings: &'f [serde_json::Value], file: &str, row: u64, code: &str) -> &'f serde_json::Value {
    findings
        .iter()
        .find(|f| f["filename"] == file && f["location"]["row"] == row && f["code"] == code)
        .unwrap_or_else(|| panic!("no {code} at {file}:{row} in {findings:#?}"))
}
