//! `--add-suppressions` and the unused-suppression rule (GL002), end to end.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

fn graphlint(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_graphlint")).args(args).current_dir(cwd).output().expect("run graphlint")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({snapshot_path => "../../snapshots/suppressions", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!(name, text);
    });
}

const MODEL: &str = r#"import torch
from torch import nn


class Model(nn.Module):
    def forward(self, x: torch.Tensor):
        n = x.item()
        host = x.cpu()  # the caller wants numpy
        rows = x.tolist() + [x.item()]  # graphlint: ignore[GL202]
        total = (int(x.sum())
                 + int(x.max()))
        label = f"""{x.shape}
{x.mean().item()}"""
        if x.any(): n += 1
        return n, host, rows, total, label
"#;

const CLEAN: &str = "def add(a, b):\n    return a + b\n";

#[test]
fn adds_suppressions_idempotently_and_touches_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "model.py", MODEL);
    write(dir.path(), "clean.py", CLEAN);
    std::fs::set_permissions(dir.path().join("model.py"), std::fs::Permissions::from_mode(0o750)).unwrap();
    let before = graphlint(&["--output-format", "concise", "-q"], dir.path());
    assert_eq!(before.status.code(), Some(1));
    let findings = stdout(&before).lines().count();
    assert_eq!(findings, 7, "{}", stdout(&before));

    let clean_mtime = std::fs::metadata(dir.path().join("clean.py")).unwrap().modified().unwrap();
    let added = graphlint(&["--add-suppressions"], dir.path());
    assert_eq!(added.status.code(), Some(0), "{}", stderr(&added));
    assert!(stderr(&added).contains("added 7 suppressions in 1 file"), "{}", stderr(&added));
    assert!(stdout(&added).is_empty());
    let after = read(dir.path(), "model.py");
    snapshot("model_after_add", &after);
    // Only comments were added: each line is unchanged, has a suppression appended, or has a
    // code added to its existing one.
    assert_eq!(after.lines().count(), MODEL.lines().count());
    for (new, old) in after.lines().zip(MODEL.lines()) {
        let appended =
            new.strip_prefix(old).is_some_and(|rest| rest.is_empty() || rest.starts_with("  # graphlint: ignore["));
        let merged = new == old.replace("ignore[GL202]", "ignore[GL202, GL201]");
        assert!(appended || merged, "changed beyond a comment:\n{old}\n{new}");
    }
    assert_eq!(std::fs::metadata(dir.path().join("model.py")).unwrap().permissions().mode() & 0o777, 0o750);
    assert_eq!(std::fs::metadata(dir.path().join("clean.py")).unwrap().modified().unwrap(), clean_mtime);
    assert_eq!(read(dir.path(), "clean.py"), CLEAN);

    // Everything is suppressed now, and a second run changes nothing.
    let check = graphlint(&[], dir.path());
    assert_eq!(check.status.code(), Some(0), "{}", stdout(&check));
    let mtime = std::fs::metadata(dir.path().join("model.py")).unwrap().modified().unwrap();
    let again = graphlint(&["--add-suppressions"], dir.path());
    assert_eq!(again.status.code(), Some(0));
    assert!(stderr(&again).contains("added 0 suppressions in 0 files"), "{}", stderr(&again));
    assert_eq!(read(dir.path(), "model.py"), after);
    assert_eq!(std::fs::metadata(dir.path().join("model.py")).unwrap().modified().unwrap(), mtime);
    // (The cache directory aside: it is graphlint's own, git-ignored.)
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|name| name != ".graphlint_cache")
        .collect();
    assert_eq!(leftovers.len(), 2, "no temp file left behind: {leftovers:?}");

    // Once the sync is fixed, its suppression is reported as unused.
    let fixed = after.replace("n = x.item()", "n = 0");
    write(dir.path(), "model.py", &fixed);
    let stale = graphlint(&["--output-format", "concise", "-q"], dir.path());
    let stale = stdout(&stale);
    assert!(
        stale.starts_with("model.py:7:")
            && stale.ends_with(": GL002 unused suppression: no `GL201` finding on this line\n"),
        "{stale}"
    );
    assert_eq!(stale.lines().count(), 1, "{stale}");
}

#[test]
fn a_finding_that_cannot_be_suppressed_by_a_line_comment_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    // Row 7 ends inside the f-string and row 9 after a line continuation: no line comment can
    // go there. Row 10's finding can still be suppressed.
    let text = "import torch\n\n\n# graphlint: hot\ndef f(x: torch.Tensor):\n    s = f\"\"\"\n{x.item()}\n\"\"\"\n    n = x.sum().item() + \\\n        x.max().item()\n    return s, n\n";
    write(dir.path(), "m.py", text);
    let output = graphlint(&["--add-suppressions"], dir.path());
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("m.py:7: cannot place a suppression for GL201"), "{err}");
    assert!(err.contains("m.py:9: cannot place a suppression for GL201"), "{err}");
    assert!(err.contains("added 1 suppression in 1 file"), "{err}");
    assert!(err.contains("2 finding(s) could not be suppressed"), "{err}");
    assert_eq!(
        read(dir.path(), "m.py"),
        text.replace("x.max().item()\n", "x.max().item()  # graphlint: ignore[GL201]\n")
    );
}

#[test]
fn cold_suppressions_stay_used_without_all_paths() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "m.py", "import torch\n\n\ndef export(x: torch.Tensor):\n    return x.cpu()\n");
    let added = graphlint(&["--add-suppressions", "--all-paths"], dir.path());
    assert!(stderr(&added).contains("added 1 suppression in 1 file"), "{}", stderr(&added));
    for args in [&[][..], &["--all-paths"][..]] {
        let output = graphlint(args, dir.path());
        assert_eq!(output.status.code(), Some(0), "{args:?}: {}", stdout(&output));
    }
}

#[test]
fn writes_through_a_symlink() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "real/m.py",
        "import torch\n\n\n# graphlint: hot\ndef f(x: torch.Tensor):\n    return x.item()\n",
    );
    std::os::unix::fs::symlink(dir.path().join("real/m.py"), dir.path().join("link.py")).unwrap();
    let output = graphlint(&["--add-suppressions", "link.py"], dir.path());
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(std::fs::symlink_metadata(dir.path().join("link.py")).unwrap().file_type().is_symlink());
    assert!(read(dir.path(), "real/m.py").contains("return x.item()  # graphlint: ignore[GL201]"));
}

#[test]
fn a_file_changed_during_the_run_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let hot = "import torch\n\n\n# graphlint: hot\ndef f(x: torch.Tensor):\n    return x.item()\n";
    write(dir.path(), "edited.py", hot);
    write(dir.path(), "steady.py", hot);
    let resolver =
        graphlint::config::Resolver::new(graphlint::config::ConfigMode::Isolated, Default::default()).unwrap();
    let options = graphlint::engine::RunOptions { fingerprint_files: true, ..Default::default() };
    let result = graphlint::engine::check(&[dir.path().to_path_buf()], &resolver, options).unwrap();
    assert_eq!(result.diagnostics.len(), 2);
    // The user saves an edit after graphlint read the file, before it writes.
    let edited = hot.replace("return x.item()", "return x.item()  # my edit");
    write(dir.path(), "edited.py", &edited);
    let report = graphlint::add_suppressions::add_suppressions(&result.diagnostics, &result.fingerprints);
    assert_eq!(read(dir.path(), "edited.py"), edited, "the user's edit survives");
    assert!(read(dir.path(), "steady.py").contains("# graphlint: ignore[GL201]"));
    assert_eq!((report.added, report.files_changed, report.not_suppressed), (1, 1, 1));
    assert_eq!(report.warnings.len(), 1);
    assert!(
        report.warnings[0].ends_with("edited.py: changed on disk during the run; not modified"),
        "{:?}",
        report.warnings
    );
}

#[test]
fn gl002_reports_stale_unknown_and_disabled_codes() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "m.py",
        "# graphlint: ignore-file[GL5]\nimport torch\n\n\n# graphlint: hot\ndef f(x: torch.Tensor):\n    a = x + 1  # graphlint: ignore[GL201]\n    b = x.item()  # graphlint: ignore[GL201, GL999, GL301]\n    c = x.cpu()  # graphlint: ignore[GL301, GL002]\n    return a, b, c\n",
    );
    let output = graphlint(&["--output-format", "concise", "-q", "--ignore", "GL301"], dir.path());
    snapshot("gl002_concise", &stdout(&output));
    let full = graphlint(&["-q", "--ignore", "GL301"], dir.path());
    snapshot("gl002_full", &stdout(&full));
    // Not selected: no GL002 at all.
    let off = graphlint(&["--output-format", "concise", "-q", "--ignore", "GL301,GL002"], dir.path());
    assert_eq!(stdout(&off), "");
}

const RUST_MODEL: &str = "use candle_core::{Module, Result, Tensor};

struct Lengths {
    lengths: Tensor,
}

impl Module for Lengths {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let n = self.lengths.to_scalar::<u32>()? as usize;
        let all = self.lengths.to_vec1::<u32>()?; // host copy for the log line
        let label = \"// not a comment\"; let first = xs.to_vec2::<f32>()?;
        let _ = (all, label, first);
        xs.narrow(1, 0, n)
    }
}
";

#[test]
fn rust_files_get_line_comment_suppressions() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "src/lengths.rs", RUST_MODEL);
    let before = graphlint(&["--output-format", "concise", "-q"], dir.path());
    assert_eq!(stdout(&before).lines().count(), 3, "{}", stdout(&before));
    let added = graphlint(&["--add-suppressions"], dir.path());
    assert_eq!(added.status.code(), Some(0), "{}", stderr(&added));
    assert!(stderr(&added).contains("added 3 suppressions in 1 file"), "{}", stderr(&added));
    let after = read(dir.path(), "src/lengths.rs");
    snapshot("rust_after_add", &after);
    assert_eq!(graphlint(&[], dir.path()).status.code(), Some(0));
    let again = graphlint(&["--add-suppressions"], dir.path());
    assert!(stderr(&again).contains("added 0 suppressions in 0 files"), "{}", stderr(&again));
    assert_eq!(read(dir.path(), "src/lengths.rs"), after);

    write(
        dir.path(),
        "src/lengths.rs",
        &after.replace("let n = self.lengths.to_scalar::<u32>()? as usize;", "let n = 1;"),
    );
    let stale = stdout(&graphlint(&["--output-format", "concise", "-q"], dir.path()));
    assert!(
        stale.starts_with("src/lengths.rs:9:")
            && stale.contains("GL002 unused suppression: no `GL801` finding on this line"),
        "{stale}"
    );
}

/// A method call written over several lines is reported on the method's line (where CPython, and
/// so the runtime probe, puts the call), and a suppression on the expression's first line, on
/// the method's line or on its last line all still count.
#[test]
fn a_chained_call_over_several_lines_points_at_its_method() {
    let dir = tempfile::tempdir().unwrap();
    let model = "import torch\n\n\nclass M(torch.nn.Module):\n    def forward(self, x: torch.Tensor):\n        a = (x[\n            1:2]\n            .cpu()\n            .clone())\n        b = (x[0]  # graphlint: ignore[GL201]\n             .item())\n        c = (x[0]\n             .item())  # graphlint: ignore[GL201]\n        d = (x[0]\n             .tolist(\n             ))\n        return a, b, c, d\n";
    write(dir.path(), "m.py", model);
    let out = graphlint(&["--output-format", "concise", "--no-cache", "m.py"], dir.path());
    let text = stdout(&out);
    assert!(text.contains("m.py:8:14: GL301"), "`.cpu()` on its own line:\n{text}");
    assert!(text.contains("m.py:15:15: GL202"), "`.tolist(` with its arguments on the next line:\n{text}");
    assert!(!text.contains("GL201") && !text.contains("GL002"), "both suppressions count, neither is unused:\n{text}");
}
