//! The `graphlint` binary: exit codes, output formats, flags, `rule`, discovery, suppressions.

use std::path::Path;
use std::process::{Command, Output};

fn graphlint(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_graphlint")).args(args).current_dir(cwd).output().expect("run graphlint")
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({snapshot_path => "../../snapshots/cli", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!(name, text);
    });
}

const SAMPLE: &str = "fixtures/python/GL201_item_call.py";

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

const HOT_ITEM: &str = "import torch\n\n\n# graphlint: hot\ndef step(x: torch.Tensor):\n    return x.item()\n";

#[test]
fn exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "clean.py", "def f(x):\n    return x + 1\n");
    let clean = graphlint(&["clean.py"], dir.path());
    assert_eq!(clean.status.code(), Some(0), "{}", stderr(&clean));
    // No root in that file: the summary says nothing is hot rather than "All checks passed".
    assert!(stdout(&clean).contains("no root either"), "{}", stdout(&clean));

    write(dir.path(), "hot.py", HOT_ITEM);
    assert_eq!(graphlint(&["hot.py"], dir.path()).status.code(), Some(1));
    assert_eq!(graphlint(&["hot.py", "--exit-zero"], dir.path()).status.code(), Some(0));
    // With no path, the current directory is checked.
    assert_eq!(graphlint(&[], dir.path()).status.code(), Some(1));
}

#[test]
fn valid_rust_our_parser_cannot_read_is_checked_with_a_note_in_verbose_mode() {
    let dir = tempfile::tempdir().unwrap();
    // `unsafe mod` is valid for `syn`, not for graphlint's parser: the rest is still checked.
    write(
        dir.path(),
        "partly.rs",
        "unsafe mod m {}\n// graphlint: hot\nfn f(t: &candle_core::Tensor) -> f32 {\n    t.to_scalar::<f32>().unwrap()\n}\n",
    );
    let output = graphlint(&["partly.rs", "--output-format", "concise"], dir.path());
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stdout(&output).contains("partly.rs:4:7: GL801"), "{}", stdout(&output));
    assert!(stderr(&output).is_empty(), "{}", stderr(&output));
    let verbose = graphlint(&["partly.rs", "--verbose"], dir.path());
    assert_eq!(verbose.status.code(), Some(1), "{}", stderr(&verbose));
    assert!(
        stderr(&verbose).contains("graphlint: note: partly.rs: graphlint's Rust parser does not read some valid Rust here; lines 1-1 were not checked"),
        "{}",
        stderr(&verbose)
    );
    assert!(!stdout(&verbose).contains("Not every file could be checked"), "{}", stdout(&verbose));
}

#[test]
fn usage_errors_exit_2_without_a_backtrace() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["--output-format", "xml"],
        vec!["--select", "GL999"],
        vec!["--ignore", "E501"],
        vec!["--no-such-flag"],
        vec!["rule", "GL999"],
        vec!["rule"],
    ] {
        let output = graphlint(&args, dir.path());
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr(&output));
        let err = stderr(&output);
        assert!(!err.contains("panicked") && !err.contains("RUST_BACKTRACE"), "{args:?}: {err}");
        assert!(!err.trim().is_empty(), "{args:?} printed no error");
    }
}

/// As in ruff, a path that does not exist is a finding, the other paths are still checked, and
/// the run exits 2 at the end.
#[test]
fn a_missing_path_is_a_finding_and_the_rest_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("m.py"),
        "import torch\nclass M(torch.nn.Module):\n    def forward(self, x):\n        return x.item()\n",
    )
    .unwrap();
    let output = graphlint(&["does/not/exist.py", "m.py", "--output-format", "concise"], dir.path());
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(out.contains("does/not/exist.py:1:1: GL001 cannot read `does/not/exist.py`"), "{out}");
    assert!(out.contains("m.py:4:16: GL201"), "{out}");
    assert!(out.contains("Found 2 findings in 2 files (1 on hot paths; 1 file checked)."), "{out}");
}

/// ruff's habits: `check` as the primary form, rules by name, `--color`, a total in
/// `--statistics`.
#[test]
fn check_subcommand_rule_names_color_and_totals() {
    let bare = graphlint(&[SAMPLE, "--output-format", "concise"], repo());
    let check = graphlint(&["check", SAMPLE, "--output-format", "concise"], repo());
    assert_eq!(check.status.code(), Some(1));
    assert_eq!(stdout(&check), stdout(&bare));

    let by_name = graphlint(&["rule", "item-call"], repo());
    assert_eq!(by_name.status.code(), Some(0));
    assert_eq!(stdout(&by_name), stdout(&graphlint(&["rule", "GL201"], repo())));

    let never = stdout(&graphlint(&["check", SAMPLE, "--color", "never"], repo()));
    let always = stdout(&graphlint(&["check", SAMPLE, "--color", "always"], repo()));
    assert!(!never.contains('\x1b') && always.contains("\x1b["), "--color always must colour a pipe");

    let statistics = stdout(&graphlint(&["check", SAMPLE, "--statistics"], repo()));
    let counted: usize = statistics.lines().filter_map(|l| l.split('\t').next()?.trim().parse::<usize>().ok()).sum();
    assert!(statistics.ends_with(&format!("Found {counted} findings.\n")), "{statistics}");
}

#[test]
fn full_output() {
    let output = graphlint(&[SAMPLE], repo());
    assert_eq!(output.status.code(), Some(1));
    snapshot("full", &stdout(&output));
}

#[test]
fn concise_output() {
    let output = graphlint(&[SAMPLE, "--output-format", "concise"], repo());
    assert_eq!(output.status.code(), Some(1));
    snapshot("concise", &stdout(&output));
}

#[test]
fn json_output_has_ruffs_shape_plus_hot_path() {
    let output = graphlint(&[SAMPLE, "--output-format", "json"], repo());
    assert_eq!(output.status.code(), Some(1));
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).expect("valid JSON");
    let items = value.as_array().expect("an array");
    assert_eq!(items.len(), 3);
    for item in items {
        for key in ["code", "message", "filename", "location", "end_location", "fix", "noqa_row", "url", "hot_path"] {
            assert!(item.get(key).is_some(), "missing {key} in {item}");
        }
        assert!(item["fix"].is_null());
        assert!(item["location"]["row"].as_u64().unwrap() >= 1 && item["location"]["column"].as_u64().unwrap() >= 1);
        let chain = item["hot_path"].as_array().unwrap();
        assert_eq!(chain[0]["function"], "Head.forward");
        assert_eq!(chain[0]["row"], 11);
    }
    snapshot("json", &stdout(&output));
}

#[test]
fn statistics_and_quiet() {
    let output = graphlint(&["fixtures/python/GL203_scalar_conversion.py", "--statistics"], repo());
    assert_eq!(output.status.code(), Some(1));
    snapshot("statistics", &stdout(&output));

    let quiet = graphlint(&[SAMPLE, "--output-format", "concise", "--quiet"], repo());
    let text = stdout(&quiet);
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(!text.contains("Found"));
}

#[test]
fn select_and_ignore() {
    let args = ["fixtures/python/GL303_numpy_call.py", "--output-format", "concise", "-q"];
    let all = stdout(&graphlint(&args, repo()));
    assert!(all.contains(": GL301 ") && all.contains(": GL303 "), "{all}");
    let only = stdout(&graphlint(&[&args[..], &["--select", "GL303"]].concat(), repo()));
    assert!(!only.contains(": GL301 ") && only.contains(": GL303 "), "{only}");
    let ignored = stdout(&graphlint(&[&args[..], &["--ignore", "GL3"]].concat(), repo()));
    assert!(ignored.is_empty(), "{ignored}");
    let specific = stdout(&graphlint(&[&args[..], &["--ignore", "GL3", "--select", "GL301"]].concat(), repo()));
    assert!(specific.contains(": GL301 ") && !specific.contains(": GL303 "), "{specific}");
}

#[test]
fn all_paths_reports_cold_findings() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "m.py", "import torch\n\ndef cold(x: torch.Tensor):\n    return x.item()\n");
    let default = graphlint(&["m.py", "--output-format", "concise"], dir.path());
    assert_eq!(default.status.code(), Some(0), "cold findings are not reported by default");
    let all = graphlint(&["m.py", "--output-format", "concise", "--all-paths"], dir.path());
    assert_eq!(all.status.code(), Some(1));
    assert!(stdout(&all).contains("m.py:4:12: GL201") && stdout(&all).contains("[cold]"), "{}", stdout(&all));
}

#[test]
fn rule_prints_the_doc_comment() {
    let output = graphlint(&["rule", "GL203"], repo());
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    let rule = graphlint::registry::by_code("GL203").unwrap();
    assert!(text.contains(&rule.doc()), "{text}");
    for section in
        ["## What it does", "## Why is this bad?", "## Example", "## Use instead", "## Known false positives"]
    {
        assert!(text.contains(section), "missing {section}");
    }
    snapshot("rule_GL203", &text);

    let all = stdout(&graphlint(&["rule", "--all"], repo()));
    for rule in graphlint::registry::RULES.iter() {
        assert!(all.contains(rule.code) && all.contains(rule.name), "{} missing from --all", rule.code);
    }
}

#[test]
fn discovery_skips_ignored_and_vendored_directories() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "pkg/hot.py", HOT_ITEM);
    write(dir.path(), "pkg/stub.pyi", HOT_ITEM);
    for skipped in [
        ".git/x.py",
        ".venv/lib/x.py",
        "env2/lib/x.py",
        "pkg/__pycache__/x.py",
        "target/x.py",
        "build/gen.py",
        "notes.txt",
    ] {
        write(dir.path(), skipped, HOT_ITEM);
    }
    write(dir.path(), "env2/pyvenv.cfg", "home = /usr\n");
    write(dir.path(), ".gitignore", "build/\n");
    let output = graphlint(&["--output-format", "concise", "-q"], dir.path());
    let text = stdout(&output);
    let files: Vec<&str> = text.lines().map(|l| l.split(':').next().unwrap()).collect();
    assert_eq!(files, vec!["pkg/hot.py", "pkg/stub.pyi"], "{text}");
    // A file named explicitly is checked even when ignored.
    let explicit = graphlint(&["build/gen.py", "--output-format", "concise", "-q"], dir.path());
    assert!(stdout(&explicit).contains("build/gen.py:6:12: GL201"));
}

#[test]
fn suppression_comments() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "m.py",
        "import torch\n\n\n# graphlint: hot\ndef step(x: torch.Tensor):\n    a = x.item()  # graphlint: ignore[GL201]\n    b = x.cpu()  # graphlint: ignore[GL2]\n    c = x.tolist()\n    return a\n",
    );
    let text = stdout(&graphlint(&["m.py", "--output-format", "concise", "-q"], dir.path()));
    // `ignore[GL2]` does not cover GL301, so it suppresses nothing: GL002 says so.
    assert_eq!(text, "m.py:7:9: GL301 `x.cpu()` copies the tensor to host memory and waits for the device\nm.py:7:38: GL002 unused suppression: no `GL2` finding on this line\nm.py:8:9: GL202 `x.tolist()` copies the whole tensor to host memory and waits for the device\n");

    write(dir.path(), "f.py", "# graphlint: ignore-file[GL2]\nimport torch\n\n# graphlint: hot\ndef step(x: torch.Tensor):\n    a = x.item()\n    return x.cpu()\n");
    let text = stdout(&graphlint(&["f.py", "--output-format", "concise", "-q"], dir.path()));
    assert!(!text.contains("GL201") && text.contains("GL301"), "{text}");

    write(dir.path(), "bad.py", "x = 1  # graphlint: ignroe[GL201]\n");
    let bad = graphlint(&["bad.py"], dir.path());
    assert!(stderr(&bad).contains("unknown directive"), "{}", stderr(&bad));
}

/// A run that found nothing to analyse, or nothing hot, says so instead of "All checks passed".
#[test]
fn nothing_to_check_and_nothing_hot_are_said() {
    let dir = tempfile::tempdir().unwrap();
    let empty = graphlint(&[], dir.path());
    assert_eq!(empty.status.code(), Some(0));
    assert!(stdout(&empty).contains("No Python or Rust files to check."), "{}", stdout(&empty));

    write(dir.path(), "helpers.py", "def f(x):\n    return x.item()\n");
    let no_root = graphlint(&[], dir.path());
    assert_eq!(no_root.status.code(), Some(0));
    let out = stdout(&no_root);
    assert!(out.contains("no root either") && !out.contains("All checks passed"), "{out}");

    write(
        dir.path(),
        "model.py",
        "import torch\nclass M(torch.nn.Module):\n    def forward(self, x):\n        return x\n",
    );
    let clean = graphlint(&[], dir.path());
    assert!(stdout(&clean).contains("All checks passed (2 files checked)."), "{}", stdout(&clean));
}

fn graphlint_stdin(args: &[&str], cwd: &Path, input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_graphlint"))
        .args(args)
        .current_dir(cwd)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run graphlint");
    // graphlint may refuse before it reads stdin (a usage error): the pipe is closed then.
    let _ = child.stdin.take().unwrap().write_all(input);
    child.wait_with_output().unwrap()
}

/// `graphlint - --stdin-filename PATH` checks the text on stdin in place of the file on disk:
/// the finding, its row, its code frame and the unused-suppression rule all follow stdin's text.
#[test]
fn stdin_text_replaces_the_file_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "pkg/step.py", HOT_ITEM);
    // On disk: a finding at line 6. On stdin: none there, one at line 8, and a stale suppression.
    let unsaved = "import torch\n\n\n# graphlint: hot\ndef step(x: torch.Tensor):\n    y = x + 1  # graphlint: ignore[GL201]\n\n    return float(y)  # from stdin\n";
    let from_disk = graphlint(&["pkg/step.py", "--output-format", "concise"], dir.path());
    assert!(stdout(&from_disk).contains("pkg/step.py:6:12: GL201"), "{}", stdout(&from_disk));

    let args = ["-", "--stdin-filename", "pkg/step.py", "--output-format", "concise"];
    let output = graphlint_stdin(&args, dir.path(), unsaved.as_bytes());
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(out.contains("pkg/step.py:8:12: GL203"), "the finding follows stdin's text: {out}");
    assert!(out.contains("pkg/step.py:6:36: GL002"), "the suppression is read from stdin's text: {out}");
    assert!(!out.contains(":6:12: GL201"), "the disk's finding is gone: {out}");
    assert_eq!(std::fs::read_to_string(dir.path().join("pkg/step.py")).unwrap(), HOT_ITEM, "disk untouched");

    // The code frame of the full output shows stdin's line, not the disk's.
    let full = graphlint_stdin(&["-", "--stdin-filename", "pkg/step.py"], dir.path(), unsaved.as_bytes());
    assert!(stdout(&full).contains("return float(y)  # from stdin"), "{}", stdout(&full));

    // A name that is not on disk at all is checked too, as a new file.
    let new = graphlint_stdin(
        &["-", "--stdin-filename", "pkg/new.py", "--output-format", "concise"],
        dir.path(),
        HOT_ITEM.as_bytes(),
    );
    assert!(stdout(&new).contains("pkg/new.py:6:12: GL201"), "{}", stdout(&new));
}

#[test]
fn stdin_without_a_name_or_not_utf8_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let unnamed = graphlint_stdin(&["-"], dir.path(), HOT_ITEM.as_bytes());
    assert_eq!(unnamed.status.code(), Some(2));
    assert!(stderr(&unnamed).contains("needs `--stdin-filename PATH`"), "{}", stderr(&unnamed));

    let latin1 = graphlint_stdin(&["-", "--stdin-filename", "m.py"], dir.path(), b"x = 1\ns = '\xe9t\xe9'\n");
    assert_eq!(latin1.status.code(), Some(2));
    assert!(stderr(&latin1).contains("stdin is not valid UTF-8 (invalid byte at line 2)"), "{}", stderr(&latin1));
    assert!(stdout(&latin1).is_empty());

    let edit = graphlint_stdin(&["-", "--stdin-filename", "m.py", "--add-suppressions"], dir.path(), b"x = 1\n");
    assert_eq!(edit.status.code(), Some(2));
    assert!(stderr(&edit).contains("cannot suppress text read from stdin"), "{}", stderr(&edit));

    let orphan = graphlint(&["m.py", "--stdin-filename", "m.py"], dir.path());
    assert_eq!(orphan.status.code(), Some(2));
    assert!(stderr(&orphan).contains("pass `-` as the path"), "{}", stderr(&orphan));
}
