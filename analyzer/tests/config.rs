//! Configuration files through the CLI: hierarchical discovery, `extend`, every key, `--config`,
//! `--isolated`, and errors that point into the TOML (exit 2).
//!
//! `fixtures/config/monorepo/` is a small project whose comments say what each key does to each
//! finding; its outputs are snapshotted under `snapshots/config/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn graphlint(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_graphlint"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .output()
        .expect("run graphlint")
}

fn monorepo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/config/monorepo")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({snapshot_path => "../../snapshots/config", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!(name, text);
    });
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The (file, code) pairs of a concise report, in order.
fn findings(output: &Output) -> Vec<(String, String)> {
    stdout(output)
        .lines()
        .filter(|l| l.contains(": GL"))
        .map(|l| {
            let file = l.split(':').next().unwrap().to_string();
            let code = l.split(": ").nth(1).unwrap().split(' ').next().unwrap().to_string();
            (file, code)
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected.iter().map(|(f, c)| (f.to_string(), c.to_string())).collect()
}

#[test]
fn nearest_configuration_with_extend_and_every_key() {
    let output = graphlint(&["--output-format", "concise"], &monorepo());
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(
        findings(&output),
        pairs(&[
            ("decoding.py", "GL203"),   // hot through `hot = ["*.decode_step"]`
            ("legacy/old.py", "GL301"), // legacy/graphlint.toml: select GL3, all-paths
            ("model.py", "GL201"),      // base.toml's select, through extend
            ("model.py", "GL701"),      // extend-select
        ])
    );
    // Not reported: model.py's GL301 (not selected), slow_path's GL202 (cold pattern),
    // scripts/ (per-file-ignores ALL), generated/ (extend-exclude), legacy's GL201 (nearest
    // config selects GL3 only).
    snapshot("monorepo", &stdout(&output));

    // The same answer when the files are named from outside the project.
    let from_above = graphlint(&["--output-format", "concise", "-q", "monorepo"], monorepo().parent().unwrap());
    let relative: Vec<(String, String)> =
        findings(&from_above).into_iter().map(|(f, c)| (f.trim_start_matches("monorepo/").to_string(), c)).collect();
    assert_eq!(relative, findings(&output));
}

#[test]
fn isolated_and_explicit_config() {
    let isolated = graphlint(&["--output-format", "concise", "--isolated"], &monorepo());
    assert_eq!(
        findings(&isolated),
        pairs(&[
            ("generated/ops.py", "GL201"),
            ("model.py", "GL201"),
            ("model.py", "GL301"),
            ("model.py", "GL701"),
            ("model.py", "GL202"),
            ("scripts/bench.py", "GL201"),
        ])
    );
    let explicit = graphlint(&["--output-format", "concise", "--config", "lint/base.toml"], &monorepo());
    assert_eq!(
        findings(&explicit),
        pairs(&[
            ("generated/ops.py", "GL201"),
            ("model.py", "GL201"),
            ("model.py", "GL202"),
            ("scripts/bench.py", "GL201")
        ])
    );
    // The command line is the last layer over the configuration.
    let cli = graphlint(&["--output-format", "concise", "--ignore", "GL7", "--extend-select", "GL301"], &monorepo());
    assert_eq!(
        findings(&cli),
        pairs(&[("decoding.py", "GL203"), ("legacy/old.py", "GL301"), ("model.py", "GL201"), ("model.py", "GL301")])
    );
    let cli = graphlint(&["--output-format", "concise", "--select", "GL203"], &monorepo());
    assert_eq!(findings(&cli), pairs(&[("decoding.py", "GL203")]));
    let missing = graphlint(&["--config", "nope.toml"], &monorepo());
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("cannot read configuration file `nope.toml`"), "{}", stderr(&missing));
}

#[test]
fn force_exclude_applies_to_named_files() {
    // pre-commit names every file; `--force-exclude` keeps the exclusions in force.
    let named = graphlint(&["--output-format", "concise", "generated/ops.py", "model.py"], &monorepo());
    assert!(findings(&named).iter().any(|(f, _)| f == "generated/ops.py"));
    let forced =
        graphlint(&["--output-format", "concise", "--force-exclude", "generated/ops.py", "model.py"], &monorepo());
    assert!(!findings(&forced).iter().any(|(f, _)| f == "generated/ops.py"), "{}", stdout(&forced));
    assert!(findings(&forced).iter().any(|(f, _)| f == "model.py"));
}

#[test]
fn exclude_replaces_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let hot = "import torch\n\n# graphlint: hot\ndef f(x: torch.Tensor):\n    return x.item()\n";
    write(dir.path(), "build/a.py", hot);
    write(dir.path(), "venv/b.py", hot);
    write(dir.path(), "src/c.py", hot);
    let files = |output: &Output| findings(output).into_iter().map(|(f, _)| f).collect::<Vec<_>>();
    assert_eq!(files(&graphlint(&["--output-format", "concise"], dir.path())), vec!["build/a.py", "src/c.py"]);
    write(dir.path(), ".graphlint.toml", "exclude = [\"build\"]\n");
    assert_eq!(files(&graphlint(&["--output-format", "concise"], dir.path())), vec!["src/c.py", "venv/b.py"]);
}

/// Runs graphlint in a directory holding `config_name` = `config`, expecting exit 2.
fn config_error(config_name: &str, config: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), config_name, config);
    write(dir.path(), "a.py", "x = 1\n");
    let output = graphlint(&[], dir.path());
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stdout(&output).is_empty());
    let err = stderr(&output);
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn unknown_key_points_at_the_key() {
    let err = config_error(
        "pyproject.toml",
        "[project]\nname = \"x\"\n\n[tool.graphlint]\nselect = [\"GL2\"]\nextend_ignore = [\"GL201\"]\n",
    );
    snapshot("error_unknown_key", &err);
}

#[test]
fn bad_code_points_at_the_code() {
    let err = config_error("graphlint.toml", "select = [\"GL2\", \"GL99\"]\n");
    snapshot("error_bad_code", &err);
}

#[test]
fn invalid_glob_points_at_the_glob() {
    let err = config_error(".graphlint.toml", "[per-file-ignores]\n\"tests/[a-\" = [\"GL2\"]\n");
    snapshot("error_invalid_glob", &err);
}

#[test]
fn every_config_error_exits_2() {
    for (name, text) in [
        ("graphlint.toml", "select = \"GL2\"\n"),
        ("graphlint.toml", "all-paths = 1\n"),
        ("graphlint.toml", "exclude = [\"{a,b\"]\n"),
        ("graphlint.toml", "extend = \"missing.toml\"\n"),
        ("graphlint.toml", "hot = [\"\"]\n"),
        ("graphlint.toml", "select = [\n"),
        ("pyproject.toml", "[tool]\ngraphlint = \"on\"\n"),
        ("graphlint.toml", "extend = \"graphlint.toml\"\n"),
    ] {
        let err = config_error(name, text);
        assert!(err.starts_with("graphlint: error: invalid configuration"), "{name}: {text}\n{err}");
        assert!(err.contains(name), "the report names the file: {err}");
    }
}

#[test]
fn errors_in_an_extended_file_point_into_that_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "graphlint.toml", "extend = \"shared/base.toml\"\n");
    write(dir.path(), "shared/base.toml", "ignore = [\"GL2\"]\nhott = []\n");
    write(dir.path(), "a.py", "x = 1\n");
    let output = graphlint(&[], dir.path());
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("shared/base.toml:2:1"), "{err}");
    assert!(err.contains("did you mean `hot`?"), "{err}");
}

#[test]
fn configuration_applies_to_rust_files() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "graphlint.toml",
        "hot = [\"Decoder::step\"]\ncold = [\"Model::debug_dump\"]\n[per-file-ignores]\n\"benches/*\" = [\"GL8\"]\n",
    );
    write(
        dir.path(),
        "src/decoder.rs",
        "use candle_core::{Result, Tensor};\n\npub struct Decoder;\n\nimpl Decoder {\n    pub fn step(&self, t: &Tensor) -> Result<f32> {\n        t.to_scalar::<f32>()\n    }\n}\n",
    );
    let model = "use candle_core::{Module, Result, Tensor};\n\nstruct Model;\n\nimpl Model {\n    fn debug_dump(&self, xs: &Tensor) -> Result<Vec<f32>> {\n        xs.flatten_all()?.to_vec1::<f32>()\n    }\n}\n\nimpl Module for Model {\n    fn forward(&self, xs: &Tensor) -> Result<Tensor> {\n        let _ = self.debug_dump(xs)?;\n        Ok(xs.clone())\n    }\n}\n";
    write(dir.path(), "src/model.rs", model);
    write(dir.path(), "benches/model.rs", &model.replace("debug_dump", "dump"));
    let output = graphlint(&["--output-format", "concise"], dir.path());
    // step is hot through `hot`; debug_dump is kept cold by `cold`; benches/ ignores GL8xx.
    assert_eq!(findings(&output), pairs(&[("src/decoder.rs", "GL801")]), "{}", stdout(&output));
    let isolated = graphlint(&["--output-format", "concise", "--isolated"], dir.path());
    assert_eq!(
        findings(&isolated),
        pairs(&[("benches/model.rs", "GL801"), ("src/model.rs", "GL801")]),
        "{}",
        stdout(&isolated)
    );
}
