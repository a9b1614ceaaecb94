//! Partial runs in project context: `graphlint pkg/helpers.py` analyses the whole project for
//! hot paths and reports the named paths only, so a file's verdict is the full run's. The
//! project is `fixtures/projects/partial_run/` (a `graphlint.toml` marks its root), or a copy of
//! it without the configuration file for `--project-root`, `--project-context` and the errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

mod common;
use common::copy_tree;

fn project() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/projects/partial_run")
}

fn graphlint(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_graphlint")).args(args).current_dir(cwd).output().expect("run graphlint")
}

fn json(args: &[&str], cwd: &Path) -> Vec<Value> {
    let output = graphlint(&[&["--output-format", "json"], args].concat(), cwd);
    assert!(matches!(output.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice::<Value>(&output.stdout).unwrap().as_array().unwrap().clone()
}

fn only_file<'a>(findings: &'a [Value], prefix: &str) -> Vec<&'a Value> {
    findings.iter().filter(|f| f["filename"].as_str().unwrap().starts_with(prefix)).collect()
}

fn chain(finding: &Value) -> Vec<String> {
    let links = finding["hot_path"].as_array().unwrap();
    links.iter().map(|l| format!("{} ({})", l["function"].as_str().unwrap(), l["filename"].as_str().unwrap())).collect()
}

/// The project copied into a temporary directory, without its `graphlint.toml`.
fn unconfigured_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&project(), dir.path());
    std::fs::remove_file(dir.path().join("graphlint.toml")).unwrap();
    dir
}

#[test]
fn a_helper_checked_alone_is_hot_through_the_untouched_model_file() {
    let findings = json(&["pkg/helpers.py"], &project());
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let finding = &findings[0];
    assert_eq!((finding["code"].as_str(), finding["filename"].as_str()), (Some("GL201"), Some("pkg/helpers.py")));
    assert_eq!(finding["location"]["row"], 8);
    assert_eq!(chain(finding), ["Model.forward (pkg/model.py)", "normalize (pkg/helpers.py)"]);

    // Without the project, nothing calls the helper: what the hook used to report.
    assert!(json(&["--no-project-context", "pkg/helpers.py"], &project()).is_empty());
}

#[test]
fn a_partial_run_equals_the_full_run_restricted_to_its_paths() {
    for all_paths in [false, true] {
        let flag: &[&str] = if all_paths { &["--all-paths"] } else { &[] };
        let full = json(flag, &project());
        assert!(full.len() >= 2, "{full:#?}");
        for (named, prefix) in
            [("pkg/helpers.py", "pkg/helpers.py"), ("pkg/ops", "pkg/ops/"), ("pkg/model.py", "pkg/model.py")]
        {
            let partial = json(&[flag, &[named]].concat(), &project());
            let expected: Vec<Value> = only_file(&full, prefix).into_iter().cloned().collect();
            assert_eq!(partial, expected, "graphlint {flag:?} {named} against the full run");
        }
        // From a sub-directory the paths are shown from there, the verdict is the same.
        let inside = json(&[flag, &["helpers.py"]].concat(), &project().join("pkg"));
        let renamed: Vec<Value> = only_file(&full, "pkg/helpers.py")
            .into_iter()
            // Paths, the chain's included, are shown from pkg/.
            .map(|f| serde_json::from_str(&f.to_string().replace("\"pkg/", "\"")).unwrap())
            .collect();
        assert_eq!(inside, renamed, "graphlint {flag:?} helpers.py from pkg/");
    }
}

#[test]
fn the_summary_counts_the_checked_files_and_the_project() {
    let output = graphlint(&["pkg/helpers.py", "pkg/model.py"], &project());
    let out = String::from_utf8(output.stdout).unwrap();
    assert!(
        out.ends_with("Found 1 finding in 1 file (1 on hot paths; 2 files checked, 5 in project context).\n"),
        "{out}"
    );
}

#[test]
fn project_root_and_project_context_flags() {
    let dir = unconfigured_copy();
    // No configuration file: the named paths alone, as before, unless asked.
    assert!(json(&["pkg/helpers.py"], dir.path()).is_empty());
    let explicit = json(&["--project-root", ".", "pkg/helpers.py"], dir.path());
    assert_eq!(explicit.len(), 1, "{explicit:#?}");
    assert_eq!(chain(&explicit[0]), ["Model.forward (pkg/model.py)", "normalize (pkg/helpers.py)"]);
    // From below the root, the paths are shown from the working directory.
    let below = json(&["--project-root", "..", "ops/clip.py"], &dir.path().join("pkg"));
    assert_eq!(below.len(), 1, "{below:#?}");
    assert_eq!(below[0]["filename"], "ops/clip.py");
    assert_eq!(chain(&below[0])[0], "Model.forward (model.py)");

    // `--project-context` finds the root: here the common directory, in a checkout its root.
    let found = json(&["--project-context", "pkg/ops/clip.py"], dir.path());
    assert!(found.is_empty(), "pkg/ops alone has no root: {found:#?}");
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let found = json(&["--project-context", "pkg/ops/clip.py"], dir.path());
    assert_eq!(found.len(), 1, "the repository root is the project: {found:#?}");
    assert_eq!(chain(&found[0]).len(), 3, "{found:#?}");
}

#[test]
fn a_path_outside_the_project_root_is_an_error() {
    let dir = unconfigured_copy();
    std::fs::write(dir.path().join("outside.py"), "x = 1\n").unwrap();
    let output = graphlint(&["--project-root", "pkg", "outside.py"], dir.path());
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8(output.stderr).unwrap();
    assert!(err.contains("`outside.py` is outside the project root `pkg`"), "{err}");
    let output = graphlint(&["--project-root", "missing", "outside.py"], dir.path());
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8(output.stderr).unwrap();
    assert!(err.contains("`--project-root missing` is not a directory"), "{err}");
}

/// The editor's case: unsaved text on stdin for a file whose hot caller is on disk.
#[test]
fn stdin_text_is_checked_in_project_context() {
    use std::io::Write;
    let unsaved = "import torch\n\n\ndef normalize(x: torch.Tensor) -> torch.Tensor:\n    return x / float(x.sum())\n";
    let mut child = Command::new(env!("CARGO_BIN_EXE_graphlint"))
        .args(["-", "--stdin-filename", "pkg/helpers.py", "--output-format", "json"])
        .current_dir(project())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(unsaved.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let findings: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!((findings[0]["code"].as_str(), findings[0]["location"]["row"].as_u64()), (Some("GL203"), Some(5)));
    assert_eq!(chain(&findings[0]), ["Model.forward (pkg/model.py)", "normalize (pkg/helpers.py)"]);
}

/// A file analysed only as context reports nothing, warnings included: a malformed directive in
/// the untouched model file is not the business of a commit that changes the helper.
#[test]
fn warnings_of_context_only_files_are_not_printed() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&project(), dir.path());
    let append = |name: &str, line: &str| {
        let path = dir.path().join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{text}{line}\n")).unwrap();
    };
    append("pkg/model.py", "# graphlint: ignroe[GL201] -- in the model");
    append("pkg/helpers.py", "# graphlint: ignroe[GL201] -- in the helper");
    let stderr =
        |args: &[&str]| String::from_utf8(graphlint(&[&["--no-cache"], args].concat(), dir.path()).stderr).unwrap();

    let full = stderr(&["."]);
    assert!(full.contains("pkg/model.py:") && full.contains("pkg/helpers.py:"), "{full}");
    let partial = stderr(&["pkg/helpers.py"]);
    assert!(partial.contains("pkg/helpers.py:"), "the named file's warning stays: {partial}");
    assert!(!partial.contains("pkg/model.py"), "{partial}");
}
