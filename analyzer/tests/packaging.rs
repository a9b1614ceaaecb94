//! Packaging, for real: pre-commit (from PyPI) runs this repository's hook, and pip installs the
//! wheel maturin builds. Nothing is mocked.
//!
//! Both build graphlint in release mode; they share one cargo target directory under
//! `CARGO_TARGET_TMPDIR` and run one after the other, so the dependencies are compiled once and
//! the second build only compiles graphlint itself (pre-commit builds from its own clone).
//!
//! Needs python3 with the venv module, git, cargo, and PyPI and crates.io. When one is missing
//! the tests fail and say which: a packaging test that cannot run must not pass.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::Instant;

/// Pinned so that a new release upstream cannot change what this test checks.
const PRE_COMMIT: &str = "pre-commit==4.7.0";
const MATURIN: &str = "maturin==1.16.0";

/// One release build at a time, into one target directory.
static BUILD: Mutex<()> = Mutex::new(());

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn shared_target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("packaging-release")
}

fn run(command: &mut Command, what: &str) -> Output {
    let program = command.get_program().to_string_lossy().into_owned();
    match command.output() {
        Ok(output) => output,
        Err(err) => panic!("{what}: cannot run `{program}`: {err} (is it installed?)"),
    }
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn tail(text: &str) -> &str {
    let start = text.len().saturating_sub(4000);
    let start = (start..text.len()).find(|&i| text.is_char_boundary(i)).unwrap_or(text.len());
    &text[start..]
}

/// A fresh virtualenv with `packages` installed from PyPI; returns its `bin/` directory.
fn venv(dir: &Path, packages: &[&str]) -> PathBuf {
    let created = run(Command::new("python3").args(["-m", "venv"]).arg(dir), "creating a virtualenv");
    assert!(
        created.status.success(),
        "`python3 -m venv` failed (on Debian, install python3-venv):\n{}",
        text(&created)
    );
    let bin = dir.join("bin");
    if !packages.is_empty() {
        let installed = run(
            Command::new(bin.join("pip")).args(["install", "--disable-pip-version-check", "--no-input"]).args(packages),
            "pip install",
        );
        assert!(
            installed.status.success(),
            "cannot install {packages:?} from PyPI; is PyPI reachable from here?\n{}",
            tail(&text(&installed))
        );
    }
    bin
}

fn write(dir: &Path, name: &str, contents: &str) {
    std::fs::write(dir.join(name), contents).unwrap();
}

const CLEAN: &str = "def add(a, b):\n    return a + b\n";
const SYNCING: &str = "import torch\n\n\n# graphlint: hot\ndef step(x: torch.Tensor):\n    return x.item()\n";
const SYNCING_RUST: &str = "use candle_core::{Module, Result, Tensor};\n\nstruct Head;\n\nimpl Module for Head {\n    fn forward(&self, xs: &Tensor) -> Result<Tensor> {\n        let _peak = xs.max_all()?.to_scalar::<f32>()?;\n        Ok(xs.clone())\n    }\n}\n";

#[test]
fn pre_commit_hook_from_this_repository() {
    let _build = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let bin = venv(&tmp.path().join("venv"), &[PRE_COMMIT]);

    let project = tmp.path().join("project");
    std::fs::create_dir(&project).unwrap();
    let init = run(Command::new("git").arg("init").arg("-q").current_dir(&project), "git init");
    assert!(init.status.success(), "{}", text(&init));
    write(&project, "clean.py", CLEAN);
    write(&project, "syncing.py", SYNCING);
    write(&project, "syncing.rs", SYNCING_RUST);
    let added = run(Command::new("git").args(["add", "."]).current_dir(&project), "git add");
    assert!(added.status.success(), "{}", text(&added));

    let try_repo = |files: &[&str]| {
        let output = run(
            Command::new(bin.join("pre-commit"))
                .args(["try-repo"])
                .arg(repo())
                .args(["graphlint", "--verbose", "--files"])
                .args(files)
                .current_dir(&project)
                .env("PRE_COMMIT_HOME", tmp.path().join("pre-commit-home"))
                // `cargo install` inside pre-commit builds into the shared directory.
                .env("CARGO_TARGET_DIR", shared_target_dir())
                .env("NO_COLOR", "1"),
            "pre-commit try-repo",
        );
        let out = text(&output);
        assert!(!out.contains("An error has occurred"), "pre-commit itself failed:\n{}", tail(&out));
        (output.status.code(), out)
    };

    // try-repo installs the hook afresh each time (`cargo install --path .` from a clone of this
    // repository, into a temporary store), so it runs twice only: each run costs a build of the
    // graphlint crate itself, the dependencies coming from the shared target directory.
    let (code, out) = try_repo(&["clean.py"]);
    assert_eq!(code, Some(0), "{}", tail(&out));
    // clean.py has no finding: the hook passes, having analysed the whole repository (the hot
    // roots in syncing.py and syncing.rs included) and reported clean.py alone.
    assert!(out.contains("Passed"), "{}", tail(&out));
    assert!(out.contains("All checks passed (1 file checked, 3 in project context)."), "{}", tail(&out));
    let installed = started.elapsed();

    // The syncing files fail the hook with graphlint's report; the clean one is not in it.
    let (code, out) = try_repo(&["clean.py", "syncing.py", "syncing.rs"]);
    assert_eq!(code, Some(1), "{}", tail(&out));
    assert!(out.contains("graphlint") && out.contains("Failed"), "{}", tail(&out));
    assert!(
        out.contains("GL201(item-call)") && out.contains("syncing.py:6:12"),
        "graphlint's message is missing:\n{}",
        tail(&out)
    );
    assert!(out.contains("GL801(tensor-to-host-value)") && out.contains("syncing.rs:7:"), "{}", tail(&out));
    assert!(!out.contains("clean.py:"), "{}", tail(&out));
    eprintln!(
        "pre-commit: hook installed and run in {:.0} s; everything in {:.0} s",
        installed.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn pip_installs_the_maturin_wheel() {
    let _build = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let build_bin = venv(&tmp.path().join("build-venv"), &[MATURIN]);
    let dist = tmp.path().join("dist");
    let built = run(
        Command::new(build_bin.join("maturin"))
            .args(["build", "--release", "--out"])
            .arg(&dist)
            .arg("--manifest-path")
            .arg(repo().join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", shared_target_dir()),
        "maturin build",
    );
    assert!(built.status.success(), "maturin build failed:\n{}", tail(&text(&built)));
    let wheels: Vec<PathBuf> = std::fs::read_dir(&dist).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(wheels.len(), 1, "{wheels:?}");
    let wheel_name = wheels[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(wheel_name.starts_with(&format!("graphlint-{}-py3-none-", env!("CARGO_PKG_VERSION"))), "{wheel_name}");
    let built_in = started.elapsed();

    // A fresh virtualenv gets only the wheel: no index, nothing else.
    let bin = venv(&tmp.path().join("venv"), &[]);
    let installed = run(
        Command::new(bin.join("pip")).args(["install", "--disable-pip-version-check", "--no-index"]).arg(&wheels[0]),
        "pip install of the wheel",
    );
    assert!(installed.status.success(), "{}", text(&installed));
    let graphlint = bin.join("graphlint");
    assert!(graphlint.is_file(), "the wheel did not put `graphlint` in the venv's bin/");

    let version = run(Command::new(&graphlint).arg("--version"), "graphlint --version");
    assert_eq!(String::from_utf8_lossy(&version.stdout).trim(), format!("graphlint {}", env!("CARGO_PKG_VERSION")));

    let project = tmp.path().join("project");
    std::fs::create_dir(&project).unwrap();
    write(&project, "clean.py", CLEAN);
    write(&project, "syncing.py", SYNCING);
    let lint =
        run(Command::new(&graphlint).args(["--output-format", "concise", "."]).current_dir(&project), "graphlint");
    assert_eq!(lint.status.code(), Some(1), "{}", text(&lint));
    assert_eq!(
        String::from_utf8_lossy(&lint.stdout),
        "syncing.py:6:12: GL201 `x.item()` copies the tensor's value to the host and waits for the device to produce it\n\
         Found 1 finding in 1 file (1 on hot paths; 2 files checked).\n"
    );
    eprintln!(
        "pip: wheel built in {:.0} s; installed and run in {:.0} s more",
        built_in.as_secs_f64(),
        (started.elapsed() - built_in).as_secs_f64()
    );
}
