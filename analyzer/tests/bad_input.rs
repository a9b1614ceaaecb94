//! Bad input never panics or overflows the stack: it becomes a diagnostic, or nothing.

use std::path::Path;
use std::process::{Command, Output};

fn graphlint(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_graphlint")).args(args).current_dir(cwd).output().expect("run graphlint")
}

fn assert_no_crash(output: &Output) {
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(!err.contains("panicked") && !err.contains("overflow") && !err.contains("RUST_BACKTRACE"), "{err}");
    assert!(matches!(output.status.code(), Some(0 | 1)), "exit {:?}: {err}", output.status.code());
}

fn concise(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn syntax_error_is_gl000_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("broken.py"), "import torch\n\ndef f(x:\n    return x.item()\n").unwrap();
    std::fs::write(
        dir.path().join("ok.py"),
        "import torch\n\n# graphlint: hot\ndef g(x: torch.Tensor):\n    return x.item()\n",
    )
    .unwrap();
    let output = graphlint(&["--output-format", "concise", "-q"], dir.path());
    assert_no_crash(&output);
    assert_eq!(output.status.code(), Some(1));
    let text = concise(&output);
    assert!(text.lines().any(|l| l.starts_with("broken.py:4:") && l.contains("GL000 syntax error")), "{text}");
    assert!(text.contains("ok.py:5:12: GL201"), "the other file is still checked: {text}");
}

#[test]
fn non_utf8_file_is_gl001() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("latin1.py"), b"# caf\xe9\nx = 1\n").unwrap();
    let output = graphlint(&["--output-format", "concise", "-q"], dir.path());
    assert_no_crash(&output);
    let text = concise(&output);
    assert!(text.starts_with("latin1.py:1:1: GL001 file is not valid UTF-8 (invalid byte at line 1)"), "{text}");
}

#[test]
fn empty_file_has_no_findings() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("empty.py"), "").unwrap();
    let output = graphlint(&["empty.py"], dir.path());
    assert_no_crash(&output);
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn ten_megabyte_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("import torch\n\n\n# graphlint: hot\ndef step(x: torch.Tensor):\n");
    let mut i = 0;
    while text.len() < 10 * 1024 * 1024 {
        text.push_str(&format!("    y{i} = x * {i} + torch.relu(x) - x.mean(dim=0, keepdim=True)\n"));
        i += 1;
    }
    text.push_str("    return x.item()\n");
    std::fs::write(dir.path().join("big.py"), &text).unwrap();
    let output = graphlint(&["big.py", "--output-format", "concise", "-q"], dir.path());
    assert_no_crash(&output);
    let out = concise(&output);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.contains("GL201"));
}

/// `x + (x + (x + ...))` 5,000 levels deep, inside a hot function, with a sync at the bottom.
#[test]
fn deeply_nested_expression() {
    for depth in [5_000usize, 50_000] {
        let dir = tempfile::tempdir().unwrap();
        let mut expr = String::from("x.item()");
        for _ in 0..depth {
            expr = format!("(x + {expr})");
        }
        let text = format!("import torch\n\n\n# graphlint: hot\ndef step(x: torch.Tensor):\n    return {expr}\n");
        std::fs::write(dir.path().join("deep.py"), text).unwrap();
        let output = graphlint(&["deep.py", "--output-format", "concise", "-q"], dir.path());
        assert_no_crash(&output);
        assert!(concise(&output).contains("GL201"), "depth {depth}: the sync at the bottom is still found");
    }
}

#[test]
fn deeply_nested_unary_and_calls() {
    let dir = tempfile::tempdir().unwrap();
    let depth = 5_000;
    let text = format!("y = {}1{}\nz = {}0\n", "f(".repeat(depth), ")".repeat(depth), "-".repeat(depth));
    std::fs::write(dir.path().join("deep.py"), text).unwrap();
    let output = graphlint(&["deep.py"], dir.path());
    assert_no_crash(&output);
}
