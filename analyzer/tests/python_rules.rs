//! One fixture per rule under `fixtures/python/`: every line marked `# expect: CODE ...` must get
//! exactly those findings, every other line none; the full output is snapshotted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use graphlint::output::{write_diagnostics, OutputFormat, Style};
use graphlint::registry::RULES;
use graphlint::rule::Family;
use graphlint::settings::Settings;
use graphlint::source::Language;

fn fixtures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir("fixtures/python")
        .expect("fixtures/python")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "py"))
        .collect();
    files.sort();
    files
}

/// `(row, code)` pairs declared by `# expect: GL201 GL301` comments.
fn expectations(path: &Path) -> BTreeMap<(u32, String), usize> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut expected = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        if let Some(at) = line.find("# expect:") {
            for code in line[at + "# expect:".len()..].split_whitespace().take_while(|w| w.starts_with("GL")) {
                *expected.entry((index as u32 + 1, code.to_string())).or_insert(0) += 1;
            }
        }
    }
    expected
}

#[test]
fn every_python_rule_has_a_fixture() {
    let names: Vec<String> = fixtures().iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    for rule in RULES.iter().filter(|r| r.language == Some(Language::Python) && r.family != Family::Meta) {
        let expected = format!("{}_{}.py", rule.code, rule.name.replace('-', "_"));
        assert!(names.contains(&expected), "missing fixture {expected}");
    }
}

#[test]
fn fixtures_get_exactly_their_expected_findings() {
    let mut failures = Vec::new();
    for fixture in fixtures() {
        let result = graphlint::engine::run(std::slice::from_ref(&fixture), &Settings::default()).unwrap();
        let mut actual = BTreeMap::new();
        for d in &result.diagnostics {
            *actual.entry((d.start.row, d.code().to_string())).or_insert(0) += 1;
        }
        let expected = expectations(&fixture);
        assert!(!expected.is_empty(), "{} declares no expected finding", fixture.display());
        if actual != expected {
            failures.push(format!("{}:\n  expected {expected:?}\n  actual   {actual:?}", fixture.display()));
        }
        let mut rendered = Vec::new();
        write_diagnostics(&mut rendered, &result.diagnostics, OutputFormat::Full, Style::default()).unwrap();
        let name = fixture.file_stem().unwrap().to_string_lossy().into_owned();
        insta::with_settings!({snapshot_path => "../../snapshots/python", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!(name, String::from_utf8(rendered).unwrap());
        });
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn keep_suppressed_marks_silenced_python_findings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kept.py");
    let source = "import torch\n\n\n# graphlint: hot\ndef step(x: torch.Tensor):\n    a = x.item()  # graphlint: ignore[GL201] -- logged once\n    return a + x.item()\n";
    std::fs::write(&path, source).unwrap();
    let settings = Settings { keep_suppressed: true, ..Settings::default() };
    let result = graphlint::engine::run(std::slice::from_ref(&path), &settings).unwrap();
    let found: Vec<(u32, Option<Option<String>>)> =
        result.diagnostics.iter().map(|d| (d.start.row, d.suppressed.as_ref().map(|s| s.reason.clone()))).collect();
    assert_eq!(found, vec![(6, Some(Some("logged once".into()))), (7, None)]);
    let rows: Vec<u32> = graphlint::engine::run(&[path], &Settings::default())
        .unwrap()
        .diagnostics
        .iter()
        .map(|d| d.start.row)
        .collect();
    assert_eq!(rows, vec![7]);
}

/// GL406 is silenced by a file-wide `set_default_validate_args(False)`, which a fixture cannot
/// show beside its positive cases.
#[test]
fn distribution_validation_respects_the_global_opt_out() {
    let dir = tempfile::tempdir().unwrap();
    let body = "import torch\n\n\n# graphlint: hot\ndef step(x: torch.Tensor):\n    return torch.distributions.Categorical(logits=x).sample()\n";
    let count = |name: &str, source: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, source).unwrap();
        let result = graphlint::engine::run(&[path], &Settings::default()).unwrap();
        result.diagnostics.iter().filter(|d| d.code() == "GL406").count()
    };
    assert_eq!(count("on.py", body.to_string()), 1);
    let off = format!("{body}\ntorch.distributions.Distribution.set_default_validate_args(False)\n");
    assert_eq!(count("off.py", off), 0);
}
