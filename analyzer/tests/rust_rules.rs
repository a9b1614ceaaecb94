//! The Rust frontend's fixtures under `fixtures/rust/`: one file per rule, a capture region and a
//! multi-module crate. Every line marked `// expect: CODE ...` must get exactly those findings,
//! every other line none; the full output is snapshotted. Also: bad input never panics.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use graphlint::output::{write_diagnostics, OutputFormat, Style};
use graphlint::registry::RULES;
use graphlint::rule::Family;
use graphlint::settings::{RootPatterns, Settings};
use graphlint::source::Language;

mod common;

/// The fixtures: each top-level `.rs` file, and each crate directory, is one case.
fn cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> =
        std::fs::read_dir("fixtures/rust").expect("fixtures/rust").map(|e| e.unwrap().path()).collect();
    cases.sort();
    cases
}

/// `(file, row, code)` triples declared by `// expect: GL801 GL804` comments.
fn expectations(case: &Path) -> BTreeMap<(PathBuf, u32, String), usize> {
    let files = if case.is_dir() { common::files_with(case, &["rs"]) } else { vec![case.to_path_buf()] };
    let mut expected = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (index, line) in text.lines().enumerate() {
            if let Some(at) = line.find("// expect:") {
                for code in line[at + "// expect:".len()..].split_whitespace().take_while(|w| w.starts_with("GL")) {
                    *expected.entry((file.clone(), index as u32 + 1, code.to_string())).or_insert(0) += 1;
                }
            }
        }
    }
    expected
}

fn render(diagnostics: &[graphlint::diagnostic::Diagnostic]) -> String {
    let mut rendered = Vec::new();
    write_diagnostics(&mut rendered, diagnostics, OutputFormat::Full, Style::default()).unwrap();
    String::from_utf8(rendered).unwrap()
}

#[test]
fn every_rust_rule_has_a_fixture() {
    let names: Vec<String> = cases().iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    let rust_rules: Vec<_> =
        RULES.iter().filter(|r| r.language == Some(Language::Rust) && r.family != Family::Meta).collect();
    assert!(rust_rules.len() >= 12, "the Rust rules are registered");
    for rule in rust_rules {
        let expected = format!("{}_{}.rs", rule.code, rule.name.replace('-', "_"));
        assert!(names.contains(&expected), "missing fixture {expected}");
        let doc = rule.doc();
        assert!(doc.contains("```rs"), "{} has no Rust example", rule.code);
        assert!(doc.contains("## Known false positives"), "{} documents no limits", rule.code);
    }
}

#[test]
fn fixtures_get_exactly_their_expected_findings() {
    let mut failures = Vec::new();
    for case in cases() {
        let result = graphlint::engine::run(std::slice::from_ref(&case), &Settings::default()).unwrap();
        assert!(result.warnings.is_empty(), "{}: {:?}", case.display(), result.warnings);
        let mut actual = BTreeMap::new();
        for d in &result.diagnostics {
            assert!(d.is_hot(), "{}: a default run reports hot findings only", case.display());
            assert!(!d.hot_path.is_empty(), "{}:{}: a hot finding shows its chain", case.display(), d.start.row);
            *actual.entry((d.file.clone(), d.start.row, d.code().to_string())).or_insert(0) += 1;
        }
        let expected = expectations(&case);
        assert!(!expected.is_empty(), "{} declares no expected finding", case.display());
        if actual != expected {
            failures.push(format!("{}:\n  expected {expected:?}\n  actual   {actual:?}", case.display()));
        }
        let name = case.file_stem().unwrap().to_string_lossy().into_owned();
        insta::with_settings!({snapshot_path => "../../snapshots/rust", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!(name, render(&result.diagnostics));
        });
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn cold_findings_appear_with_all_paths_only() {
    let fixture = PathBuf::from("fixtures/rust/GL801_tensor_to_host_value.rs");
    let settings = Settings { all_paths: true, ..Settings::default() };
    let result = graphlint::engine::run(&[fixture], &settings).unwrap();
    let cold: Vec<u32> = result.diagnostics.iter().filter(|d| !d.is_hot()).map(|d| d.start.row).collect();
    // `report_metrics` is called by nobody.
    assert_eq!(cold, vec![27]);
}

#[test]
fn hot_patterns_add_roots() {
    let fixture = PathBuf::from("fixtures/rust/GL801_tensor_to_host_value.rs");
    let roots = RootPatterns { hot: vec!["report_*".into()], ..RootPatterns::default() };
    let settings = Settings { roots, ..Settings::default() };
    let result = graphlint::engine::run(&[fixture], &settings).unwrap();
    let metrics = result.diagnostics.iter().find(|d| d.start.row == 27).expect("report_metrics is hot");
    assert_eq!(metrics.chain_text(), "report_metrics (GL801_tensor_to_host_value.rs:26)");
}

fn check_text(name: &str, text: &[u8]) -> graphlint::engine::RunResult {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    graphlint::engine::run(&[path], &Settings::default()).unwrap()
}

#[test]
fn syntax_errors_become_gl000_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("broken.rs"), "fn main() {\n    let x = ;\n}\n").unwrap();
    std::fs::write(
        dir.path().join("hot.rs"),
        "use candle_core::Tensor;\n// graphlint: hot\nfn f(t: &Tensor) -> f32 {\n    t.to_scalar::<f32>().unwrap()\n}\n",
    )
    .unwrap();
    let result = graphlint::engine::run(&[dir.path().to_path_buf()], &Settings::default()).unwrap();
    let codes: Vec<(String, u32)> = result.diagnostics.iter().map(|d| (d.code().to_string(), d.start.row)).collect();
    assert_eq!(codes, vec![("GL000".to_string(), 2), ("GL801".to_string(), 4)]);
    assert!(result.diagnostics[0].message.starts_with("syntax error:"), "{}", result.diagnostics[0].message);
}

#[test]
fn a_syntax_error_after_a_shebang_is_where_syn_says() {
    let result = check_text("script.rs", b"#!/usr/bin/env run-cargo-script\nfn f() { a b }\n");
    let at: Vec<(&str, u32, u32)> =
        result.diagnostics.iter().map(|d| (d.code(), d.start.row, d.start.column)).collect();
    assert_eq!(at, vec![("GL000", 2, 12)]);
    // The fallback's blanked lines count from the file's start too.
    let result = check_text("script.rs", b"#!/usr/bin/env run-cargo-script\n\nunsafe mod m {}\n");
    assert!(!result.internal_error && result.diagnostics.is_empty(), "{:?}", result.warnings);
    assert!(result.warnings.iter().any(|w| w.contains("lines 3-3 were not checked")), "{:?}", result.warnings);
}

#[test]
fn bad_input_never_panics() {
    let empty = check_text("empty.rs", b"");
    assert!(empty.diagnostics.is_empty() && !empty.internal_error);

    let latin1 = check_text("latin1.rs", b"fn main() { let s = \"caf\xe9\"; }\n");
    assert_eq!(latin1.diagnostics.len(), 1);
    assert_eq!(latin1.diagnostics[0].code(), "GL001");

    let unbalanced = check_text("unbalanced.rs", b"fn main() { (\n");
    assert_eq!(unbalanced.diagnostics[0].code(), "GL000");

    // 5,000 nested parentheses: no stack overflow, whatever syn decides about them.
    let deep = format!("fn main() {{ let x = {}1{}; }}\n", "(".repeat(5000), ")".repeat(5000));
    let deep = check_text("deep.rs", deep.as_bytes());
    assert!(!deep.internal_error, "{:?}", deep.warnings);

    // A 300-call builder chain (percent-encoding's `AsciiSet` style): receivers nest 300 deep,
    // and typing them must stay linear, not exponential.
    let chain = format!("// graphlint: hot\nfn f(set: Set) -> Set {{ set{} }}\n", ".add(b'a')".repeat(300));
    let chain = check_text("chain.rs", chain.as_bytes());
    assert!(chain.diagnostics.is_empty() && !chain.internal_error);

    // A 10 MB file of ordinary functions.
    let mut big = String::new();
    while big.len() < 10_000_000 {
        big.push_str(&format!("fn f{}(x: u32) -> u32 {{ x + {} }}\n", big.len(), big.len() % 7));
    }
    let big = check_text("big.rs", big.as_bytes());
    assert!(big.diagnostics.is_empty() && !big.internal_error);
}

#[test]
fn inner_attributes_belong_to_the_item_around_them() {
    // `#![cfg(test)]` at the top of a module makes it test code, never hot.
    let test_module = "mod helpers {\n    #![cfg(test)]\n    // graphlint: hot\n    pub fn step(t: &candle_core::Tensor) -> f32 {\n        t.to_scalar::<f32>().unwrap()\n    }\n}\n";
    assert!(check_text("test_module.rs", test_module.as_bytes()).diagnostics.is_empty());
    // A marker goes on the line above a function's first attribute, which may be an inner one
    // (as `syn` orders them: outer, then inner).
    let marked = "fn step(t: &candle_core::Tensor) -> f32 {\n    // graphlint: hot\n    #![allow(unused_variables)]\n    t.to_scalar::<f32>().unwrap()\n}\n";
    let marked = check_text("marked.rs", marked.as_bytes());
    assert_eq!(marked.diagnostics.len(), 1, "{:?}", marked.diagnostics);
    assert!(marked.diagnostics[0].is_hot());
}

#[test]
fn valid_rust_the_parser_cannot_read_is_still_checked() {
    // `unsafe mod` (which `syn` reads, and our parser does not) at the top and inside a module:
    // only those items are left out, with the same findings elsewhere as without them.
    let text = "unsafe mod a {}\nmod outer {\n    unsafe mod b {}\n    // graphlint: hot\n    fn f(t: &candle_core::Tensor) -> f32 {\n        t.to_scalar::<f32>().unwrap()\n    }\n}\n";
    let result = check_text("unsafe_mod.rs", text.as_bytes());
    assert!(!result.internal_error, "{:?}", result.warnings);
    let findings = |r: &graphlint::engine::RunResult| -> Vec<(String, u32, u32)> {
        r.diagnostics.iter().map(|d| (d.code().to_string(), d.start.row, d.start.column)).collect()
    };
    assert_eq!(findings(&result), vec![("GL801".to_string(), 6, 11)]);
    let readable = check_text("unsafe_mod.rs", text.replace("unsafe mod", "mod").as_bytes());
    assert_eq!(findings(&result), findings(&readable));
    assert!(
        result.warnings.iter().any(|w| w.starts_with("note: ") && w.contains("lines 1-1, 3-3 were not checked")),
        "{:?}",
        result.warnings
    );
}

#[test]
fn malformed_directives_are_warnings() {
    let result = check_text("typo.rs", b"// graphlint: ignroe[GL801]\nfn f() {}\n");
    assert_eq!(result.warnings.len(), 1, "{:?}", result.warnings);
    assert!(result.warnings[0].contains("unknown directive"), "{}", result.warnings[0]);
}

#[test]
fn suppressions_silence_one_line_or_a_whole_file() {
    let source = "use candle_core::Tensor;\n// graphlint: hot\nfn f(t: &Tensor) -> f32 {\n    let a = t.to_scalar::<f32>().unwrap(); // graphlint: ignore[GL801] -- read once per request\n    let b = t.to_scalar::<f32>().unwrap();\n    a + b\n}\n";
    let result = check_text("suppressed.rs", source.as_bytes());
    let rows: Vec<u32> = result.diagnostics.iter().map(|d| d.start.row).collect();
    assert_eq!(rows, vec![5]);
    let whole = format!("// graphlint: ignore-file[GL8]\n{source}");
    assert!(check_text("file.rs", whole.as_bytes()).diagnostics.is_empty());
}

#[test]
fn keep_suppressed_marks_silenced_findings_with_their_reason_instead_of_dropping_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kept.rs");
    let source = "use candle_core::Tensor;\n// graphlint: hot\nfn f(t: &Tensor) -> f32 {\n    let a = t.to_scalar::<f32>().unwrap(); // graphlint: ignore[GL801] -- read once per request\n    let b = t.to_scalar::<f32>().unwrap();\n    a + b\n}\n";
    std::fs::write(&path, source).unwrap();
    let settings = Settings { keep_suppressed: true, ..Settings::default() };
    let result = graphlint::engine::run(std::slice::from_ref(&path), &settings).unwrap();
    let found: Vec<(u32, Option<Option<String>>, bool)> = result
        .diagnostics
        .iter()
        .map(|d| (d.start.row, d.suppressed.as_ref().map(|s| s.reason.clone()), d.is_hot()))
        .collect();
    assert_eq!(found, vec![(4, Some(Some("read once per request".into())), true), (5, None, true)]);
    // A file-level ignore is kept too, and names its row; without the flag nothing changes.
    std::fs::write(&path, format!("// graphlint: ignore-file[GL8]\n{source}")).unwrap();
    let result = graphlint::engine::run(std::slice::from_ref(&path), &settings).unwrap();
    let marks: Vec<(u32, bool)> =
        result.diagnostics.iter().map(|d| d.suppressed.as_ref().map(|s| (s.row, s.file_level)).unwrap()).collect();
    assert_eq!(marks, vec![(5, false), (1, true)], "the line directive is the more specific one");
    assert!(graphlint::engine::run(&[path], &Settings::default()).unwrap().diagnostics.is_empty());
}

#[test]
fn json_output_carries_the_chain() {
    let settings = Settings::default();
    let result = graphlint::engine::run(&[PathBuf::from("fixtures/rust/crate_multi")], &settings).unwrap();
    let mut out = Vec::new();
    write_diagnostics(&mut out, &result.diagnostics, OutputFormat::Json, Style::default()).unwrap();
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out).unwrap();
    let sample = rows.iter().find(|r| r["code"] == "GL806").expect("the sampler finding");
    assert_eq!(sample["filename"], "fixtures/rust/crate_multi/src/generate.rs");
    assert_eq!(sample["location"]["row"], 19);
    assert_eq!(sample["hot"], true);
    let functions: Vec<&str> =
        sample["hot_path"].as_array().unwrap().iter().map(|l| l["function"].as_str().unwrap()).collect();
    assert_eq!(functions, ["generate", "sample"]);
    assert!(
        sample["url"].as_str().unwrap().ends_with("analyzer/src/rust/rules/argmax_to_scalar.rs"),
        "{}",
        sample["url"]
    );
}

#[test]
fn modules_nested_past_the_path_depth_keep_their_paths_and_parents() {
    // 40 nested modules (inline modules past 32 keep no path of their own): `--hot` on the full
    // path still matches, and `super::` still reaches the parent's function.
    let names: Vec<String> = (0..40).map(|i| format!("m{i}")).collect();
    let mut text = String::new();
    for name in &names {
        text.push_str(&format!("mod {name} {{\n"));
    }
    text.push_str("pub fn helper(t: &candle_core::Tensor) -> f32 { t.to_scalar::<f32>().unwrap() }\n");
    text.push_str("pub mod inner { pub fn step(t: &candle_core::Tensor) -> f32 { super::helper(t) } }\n");
    text.push_str(&"}\n".repeat(names.len()));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep.rs");
    std::fs::write(&path, text).unwrap();
    let pattern = format!("{}::inner::step", names.join("::"));
    let roots = RootPatterns { hot: vec![pattern], ..RootPatterns::default() };
    let result = graphlint::engine::run(&[path], &Settings { roots, ..Settings::default() }).unwrap();
    assert_eq!(result.diagnostics.len(), 1, "{:?}", result.diagnostics);
    assert_eq!(result.diagnostics[0].chain_text(), "step (deep.rs:42) → helper (deep.rs:41)");
}

#[test]
fn long_receivers_are_quoted_with_an_ellipsis_in_the_middle() {
    let chain = ".f()?".repeat(200);
    let text = format!("// graphlint: hot\nfn f(t: &candle_core::Tensor) -> candle_core::Result<f32> {{\n    t.exp()?{chain}.to_scalar::<f32>()\n}}\n");
    let result = check_text("chain.rs", text.as_bytes());
    let message = &result.diagnostics.iter().find(|d| d.code() == "GL801").expect("GL801").message;
    assert!(message.starts_with("`t.exp()?.f()?"), "{message}");
    assert!(message.contains("?.…") && message.contains(".f()?.f()?.to_scalar()` copies"), "{message}");
    assert!(message.len() < 300, "{message}");
}

#[test]
fn candle_nn_layers_return_proven_tensors() {
    fn write_file(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
    // `proj: candle_nn::Linear`: its `forward` returns a tensor (candle-nn's signature), so
    // formatting the result is GL805 and reading it back is GL801 with a proven receiver.
    let text = "use candle_core::{Result, Tensor};\nuse candle_nn::{embedding, Embedding, Module};\n\
        struct Block { proj: candle_nn::Linear, emb: Embedding }\n\
        impl Block {\n    fn forward(&self, xs: &Tensor) -> Result<Tensor> {\n        let h = self.proj.forward(xs)?;\n        println!(\"{h}\");\n        let e = self.emb.forward(xs)?.to_scalar::<f32>()?;\n        Ok(h)\n    }\n}\n\
        fn build(vb: candle_nn::VarBuilder, xs: &Tensor) -> Result<()> {\n    let layer = embedding(4, 4, vb)?;\n    let y = layer.forward(xs)?;\n    println!(\"{y:?}\");\n    Ok(())\n}\n";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("block.rs");
    std::fs::write(&path, text).unwrap();
    let settings = Settings { all_paths: true, ..Settings::default() };
    let result = graphlint::engine::run(&[path], &settings).unwrap();
    let found: Vec<(&str, u32)> = result.diagnostics.iter().map(|d| (d.code(), d.start.row)).collect();
    assert_eq!(found, vec![("GL805", 7), ("GL801", 8), ("GL805", 15)], "{:?}", result.diagnostics);
    let gl801 = &result.diagnostics[1].message;
    assert!(!gl801.contains("not proven"), "{gl801}");

    // `candle_nn::ops::rms_norm` is a tensor op that returns a tensor, not the `RmsNorm` layer.
    let op = "fn f(t: &candle_core::Tensor, a: &candle_core::Tensor) -> candle_core::Result<()> {\n    let y = candle_nn::ops::rms_norm(t, a, 1e-5)?;\n    println!(\"{y}\");\n    Ok(())\n}\n";
    let result = graphlint::engine::run(&[write_file(&dir, "op.rs", op)], &settings).unwrap();
    let found: Vec<(&str, u32)> = result.diagnostics.iter().map(|d| (d.code(), d.start.row)).collect();
    assert_eq!(found, vec![("GL805", 3)], "{:?}", result.diagnostics);

    // A `Linear` of the crate's own, not candle-nn's, proves nothing.
    let own = "struct Linear;\nimpl Linear { fn forward(&self, x: u32) -> u32 { x } }\n\
        struct Block { proj: Linear }\n\
        impl Block {\n    fn run(&self) {\n        let h = self.proj.forward(1);\n        println!(\"{h}\");\n    }\n}\n";
    let result = check_text("own.rs", own.as_bytes());
    assert!(result.diagnostics.is_empty(), "{:?}", result.diagnostics);
}
