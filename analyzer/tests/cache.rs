//! The persistent cache (`analyzer/src/cache.rs`), through the binary: a warm run reports what a
//! cold one does, a changed file misses alone, damaged or foreign packs are never trusted, an
//! unusable cache directory costs one warning, `--no-cache` writes nothing; and the project pass
//! is reused while every summary keeps its shape, never otherwise (at the end of this file).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

mod common;

/// A graphlint command in `cwd`, without the test-wide `GRAPHLINT_CACHE_DIR` (`.cargo/config.toml`):
/// these tests are about where the cache goes by default.
fn command(args: &[&str], cwd: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_graphlint"));
    command.args(args).current_dir(cwd).env_remove("GRAPHLINT_CACHE_DIR");
    command
}

fn graphlint(args: &[&str], cwd: &Path) -> Output {
    command(args, cwd).output().expect("run graphlint")
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A project whose findings depend on every part of a file's cached result: a hot chain across
/// two files (summaries), a suppressed and an unused suppression (suppressions and their
/// matches), a malformed directive (warnings), a syntax error (file-level findings), a cold
/// finding (with `--all-paths`) and a Rust file.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "pkg/__init__.py", "");
    write(
        dir.path(),
        "pkg/model.py",
        "import torch\nfrom torch import nn\n\nfrom .util import read_scale\n\n\n\
         class Model(nn.Module):\n    def forward(self, x):\n        s = read_scale(x)\n        \
         y = x.sum().item()  # graphlint: ignore[GL201] -- measured, once per call\n        \
         z = x.max().item()  # graphlint: ignore[GL301]\n        return x * s + y + z\n",
    );
    write(
        dir.path(),
        "pkg/util.py",
        "import torch\n\n\ndef read_scale(x):\n    if x.mean() > 0:  # graphlint: ignroe[GL401]\n        \
         return x.cpu()\n    return x\n\n\ndef cold(x):\n    return x.item()\n",
    );
    write(dir.path(), "pkg/broken.py", "def f(:\n    pass\n");
    write(
        dir.path(),
        "src/lib.rs",
        "use candle_core::Tensor;\n\n// graphlint: hot\nfn step(t: &Tensor) -> f32 {\n    \
         t.to_scalar::<f32>().unwrap()\n}\n",
    );
    dir
}

const FILES_PY: usize = 4;

/// The findings and warnings of a run, without the cache's notes.
fn report(output: &Output) -> (String, Vec<String>, Option<i32>) {
    let stderr = String::from_utf8(output.stderr.clone()).unwrap();
    let warnings = stderr.lines().filter(|l| !l.contains("note: cache:")).map(str::to_string).collect();
    (String::from_utf8(output.stdout.clone()).unwrap(), warnings, output.status.code())
}

/// How many Python files the run's cache note says were reused.
fn reused_python(output: &Output) -> usize {
    python_note(output).0
}

/// How many Python files the run's cache note says were reused, and how many of them unread
/// (their stamps matched).
fn python_note(output: &Output) -> (usize, usize) {
    let stderr = String::from_utf8(output.stderr.clone()).unwrap();
    let line = stderr.lines().find(|l| l.contains("python files reused")).unwrap_or_else(|| panic!("{stderr}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "cache:").unwrap();
    assert_eq!(words[at + 3], FILES_PY.to_string(), "{line}");
    assert_eq!(words[at + 8..], ["not", "read)"], "{line}");
    (words[at + 1].parse().unwrap(), words[at + 7].trim_start_matches('(').parse().unwrap())
}

/// Waits until files written now are older than the cache's racy window, so that their stamps
/// are stored.
fn settle() {
    std::thread::sleep(std::time::Duration::from_millis(graphlint::cache::RACY_SECONDS * 1000 + 300));
}

fn version_dir(cwd: &Path) -> PathBuf {
    cwd.join(".graphlint_cache").join(graphlint::cache::VERSION)
}

fn packs(cwd: &Path) -> Vec<PathBuf> {
    let mut packs: Vec<PathBuf> = std::fs::read_dir(version_dir(cwd))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pack"))
        .collect();
    packs.sort();
    packs
}

fn python_pack(cwd: &Path) -> PathBuf {
    packs(cwd).into_iter().find(|p| p.file_name().unwrap().to_string_lossy().starts_with("python-")).unwrap()
}

const ARGS: [&str; 4] = ["--all-paths", "--verbose", "--output-format", "json"];

#[test]
fn warm_runs_report_what_cold_runs_do() {
    let dir = project();
    let uncached = graphlint(&[&ARGS[..], &["--no-cache"]].concat(), dir.path());
    let (findings, warnings, code) = report(&uncached);
    for code in ["GL000", "GL002", "GL301", "GL201", "GL801"] {
        assert!(findings.contains(&format!("\"code\": \"{code}\"")), "the fixture should report {code}:\n{findings}");
    }
    assert!(warnings.iter().any(|w| w.contains("graphlint: ignroe")), "{warnings:?}");
    assert_eq!(code, Some(1));

    let cold = graphlint(&ARGS, dir.path());
    assert_eq!(reused_python(&cold), 0);
    assert_eq!(report(&cold), report(&uncached));
    let warm = graphlint(&ARGS, dir.path());
    assert_eq!(reused_python(&warm), FILES_PY);
    assert_eq!(report(&warm), report(&uncached));
    // Another rule selection has packs of its own, and the text output agrees too.
    let selected = ["--select", "GL0,GL3"];
    let text = graphlint(&selected, dir.path());
    assert_eq!(report(&graphlint(&selected, dir.path())), report(&text));
    assert_eq!(report(&text), report(&graphlint(&[&selected[..], &["--no-cache"]].concat(), dir.path())));
    assert!(!report(&text).0.contains("GL201("), "{}", report(&text).0);
    assert!(report(&text).0.contains("GL301("), "{}", report(&text).0);
    assert_eq!(packs(dir.path()).len(), 4, "python and rust, for two rule selections: {:?}", packs(dir.path()));

    let gitignore = std::fs::read_to_string(dir.path().join(".graphlint_cache/.gitignore")).unwrap();
    assert!(gitignore.lines().any(|l| l == "*"), "{gitignore}");
}

#[test]
fn a_changed_file_misses_alone() {
    let dir = project();
    graphlint(&ARGS, dir.path());
    assert_eq!(reused_python(&graphlint(&ARGS, dir.path())), FILES_PY);
    // The helper no longer syncs: its entry misses, and the model's chain through it is gone.
    write(dir.path(), "pkg/util.py", "def read_scale(x):\n    return x\n\n\ndef cold(x):\n    return x.item()\n");
    let changed = graphlint(&ARGS, dir.path());
    assert_eq!(reused_python(&changed), FILES_PY - 1);
    let uncached = graphlint(&[&ARGS[..], &["--no-cache"]].concat(), dir.path());
    assert_eq!(report(&changed), report(&uncached));
    assert!(!report(&changed).0.contains("\"code\": \"GL301\""), "{}", report(&changed).0);
    assert_eq!(reused_python(&graphlint(&ARGS, dir.path())), FILES_PY);
}

#[test]
fn damaged_packs_are_rebuilt_never_trusted() {
    let dir = project();
    let expected = report(&graphlint(&[&ARGS[..], &["--no-cache"]].concat(), dir.path()));
    graphlint(&ARGS, dir.path());
    let pack = python_pack(dir.path());
    let good = std::fs::read(&pack).unwrap();

    // One byte of the last entry's payload: that entry fails its checksum, the others hold.
    let mut flipped = good.clone();
    *flipped.last_mut().unwrap() ^= 0x5a;
    std::fs::write(&pack, &flipped).unwrap();
    let run = graphlint(&ARGS, dir.path());
    assert_eq!(reused_python(&run), FILES_PY - 1);
    assert_eq!(report(&run), expected);
    assert_eq!(reused_python(&graphlint(&ARGS, dir.path())), FILES_PY, "the entry was rewritten");

    // Cut in the middle of an entry: what precedes it is kept, the rest is rebuilt.
    std::fs::write(&pack, &good[..good.len() / 2]).unwrap();
    let run = graphlint(&ARGS, dir.path());
    assert!(reused_python(&run) < FILES_PY);
    assert_eq!(report(&run), expected);
    assert_eq!(reused_python(&graphlint(&ARGS, dir.path())), FILES_PY);

    // Not a pack at all.
    std::fs::write(&pack, b"not a pack").unwrap();
    let run = graphlint(&ARGS, dir.path());
    assert_eq!(reused_python(&run), 0);
    assert_eq!(report(&run), expected);
}

#[test]
fn another_versions_cache_is_ignored() {
    let dir = project();
    let expected = report(&graphlint(&[&ARGS[..], &["--no-cache"]].concat(), dir.path()));
    graphlint(&ARGS, dir.path());
    let pack = python_pack(dir.path());
    let good = std::fs::read(&pack).unwrap();
    // The header is a 16-byte magic, the version's length and the version: name another one.
    let version = graphlint::cache::VERSION.as_bytes();
    assert_eq!(&good[20..20 + version.len()], version);
    let mut foreign = good.clone();
    foreign[20] = if version[0] == b'9' { b'8' } else { b'9' };
    std::fs::write(&pack, &foreign).unwrap();
    // Another version's directory beside ours is neither read nor removed.
    let other = dir.path().join(".graphlint_cache/0.0.0-0000000000000000");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join(pack.file_name().unwrap()), &good).unwrap();

    let run = graphlint(&ARGS, dir.path());
    assert_eq!(reused_python(&run), 0);
    assert_eq!(report(&run), expected);
    assert_eq!(&std::fs::read(&pack).unwrap()[20..20 + version.len()], version, "rewritten by this version");
    assert_eq!(std::fs::read(other.join(pack.file_name().unwrap())).unwrap(), good);
}

#[test]
fn an_unusable_cache_directory_warns_once_and_the_run_goes_on() {
    let dir = project();
    let (findings, warnings, code) = report(&graphlint(&["--no-cache"], dir.path()));
    let cache_warnings = |output: &Output| {
        let stderr = String::from_utf8(output.stderr.clone()).unwrap();
        stderr.lines().filter(|l| l.contains("warning") && l.contains("cache")).count()
    };

    // The directory cannot be created: a file is in the way.
    write(dir.path(), "blocked", "a file, not a directory\n");
    let run = graphlint(&["--cache-dir", "blocked"], dir.path());
    assert_eq!(cache_warnings(&run), 1, "{}", String::from_utf8_lossy(&run.stderr));
    let (run_findings, run_warnings, run_code) = report(&run);
    assert_eq!((run_findings, run_code), (findings.clone(), code));
    assert_eq!(run_warnings.len(), warnings.len() + 1);

    // The directory exists, but neither pack can be written (a directory is where each goes):
    // one warning for the run, not one per language.
    graphlint(&["--cache-dir", "c"], dir.path());
    let version = dir.path().join("c").join(graphlint::cache::VERSION);
    for entry in std::fs::read_dir(&version).unwrap() {
        let pack = entry.unwrap().path();
        std::fs::remove_file(&pack).unwrap();
        std::fs::create_dir(&pack).unwrap();
        std::fs::write(pack.join("keep"), "").unwrap();
    }
    let run = graphlint(&["--cache-dir", "c"], dir.path());
    assert_eq!(cache_warnings(&run), 1, "{}", String::from_utf8_lossy(&run.stderr));
    assert_eq!((report(&run).0, report(&run).2), (findings, code));
}

#[test]
fn no_cache_writes_nothing() {
    let dir = project();
    graphlint(&["--no-cache"], dir.path());
    graphlint(&["--no-cache", "--all-paths"], dir.path());
    assert!(!dir.path().join(".graphlint_cache").exists());
    graphlint(&[], dir.path());
    assert!(dir.path().join(".graphlint_cache").is_dir(), "the default run does write its cache");
    // `--cache-dir` puts it elsewhere, and nothing in the default place.
    let elsewhere = project();
    graphlint(&["--cache-dir", "../cache-elsewhere"], &elsewhere.path().join("pkg"));
    assert!(elsewhere.path().join("cache-elsewhere").join(graphlint::cache::VERSION).is_dir());
    assert!(!elsewhere.path().join("pkg/.graphlint_cache").exists());
}

#[test]
fn concurrent_runs_agree_and_leave_a_whole_pack() {
    let dir = project();
    let expected = report(&graphlint(&[&ARGS[..], &["--no-cache"]].concat(), dir.path()));
    // Cold and racing: each run reads whatever pack is there and renames a whole one in place.
    let spawn = || {
        command(&ARGS, dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let runs: Vec<_> = (0..6).map(|_| spawn()).collect();
    for run in runs {
        assert_eq!(report(&run.wait_with_output().unwrap()), expected);
    }
    let warm = graphlint(&ARGS, dir.path());
    assert_eq!(reused_python(&warm), FILES_PY);
    assert_eq!(report(&warm), expected);
    let leftovers: Vec<_> = std::fs::read_dir(version_dir(dir.path())).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(
        leftovers.iter().all(|p| p.extension().is_some_and(|e| e == "pack" || e == "project")),
        "temporary files left: {leftovers:?}"
    );
}

#[test]
fn unchanged_files_are_not_read_once_their_stamps_settle() {
    let dir = project();
    // Just written: stamps are not stored yet, so every file is hashed.
    graphlint(&ARGS, dir.path());
    assert_eq!(python_note(&graphlint(&ARGS, dir.path())), (FILES_PY, 0));
    settle();
    // This run hashes them once more and stores their stamps; the next one reads none.
    graphlint(&ARGS, dir.path());
    let warm = graphlint(&ARGS, dir.path());
    assert_eq!(python_note(&warm), (FILES_PY, FILES_PY));
    assert_eq!(report(&warm), report(&graphlint(&[&ARGS[..], &["--no-cache"]].concat(), dir.path())));
}

/// The rule (see `cache.rs`): a file is read again when its size, inode, `mtime` or `ctime`
/// differs from its stamp. A rewrite that keeps the size and restores the `mtime` still sets
/// the `ctime`, so it misses.
#[test]
fn a_file_rewritten_with_its_size_and_mtime_restored_misses() {
    let dir = project();
    let util = dir.path().join("pkg/util.py");
    graphlint(&ARGS, dir.path());
    settle();
    graphlint(&ARGS, dir.path());
    assert_eq!(python_note(&graphlint(&ARGS, dir.path())), (FILES_PY, FILES_PY));
    let before = report(&graphlint(&ARGS, dir.path()));
    assert!(before.0.contains("\"code\": \"GL301\""), "{}", before.0);

    // `.cpu()` becomes `.abs()`: the same length, and no sync left in the helper.
    let old = std::fs::read_to_string(&util).unwrap();
    let new = old.replace("x.cpu()", "x.abs()");
    assert_eq!(old.len(), new.len());
    let modified = std::fs::metadata(&util).unwrap().modified().unwrap();
    std::fs::write(&util, &new).unwrap();
    std::fs::File::options().write(true).open(&util).unwrap().set_modified(modified).unwrap();
    assert_eq!(std::fs::metadata(&util).unwrap().modified().unwrap(), modified);
    assert_eq!(std::fs::metadata(&util).unwrap().len(), old.len() as u64);

    let run = graphlint(&ARGS, dir.path());
    assert_eq!(python_note(&run), (FILES_PY - 1, FILES_PY - 1), "only the rewritten file is read, and it misses");
    assert_eq!(report(&run), report(&graphlint(&[&ARGS[..], &["--no-cache"]].concat(), dir.path())));
    assert!(!report(&run).0.contains("\"code\": \"GL301\""), "{}", report(&run).0);
}

#[test]
fn a_corrupt_entry_of_an_unread_file_is_analysed_again() {
    let dir = project();
    let expected = report(&graphlint(&[&ARGS[..], &["--no-cache"]].concat(), dir.path()));
    graphlint(&ARGS, dir.path());
    settle();
    graphlint(&ARGS, dir.path());
    assert_eq!(python_note(&graphlint(&ARGS, dir.path())), (FILES_PY, FILES_PY));
    // The stamp matches, the payload does not: the file is read and analysed again.
    let pack = python_pack(dir.path());
    let mut bytes = std::fs::read(&pack).unwrap();
    *bytes.last_mut().unwrap() ^= 0x5a;
    std::fs::write(&pack, &bytes).unwrap();
    let run = graphlint(&ARGS, dir.path());
    assert_eq!(python_note(&run), (FILES_PY - 1, FILES_PY - 1));
    assert_eq!(report(&run), expected);
}

#[test]
fn the_cache_is_at_the_project_root() {
    let dir = project();
    // No configuration: the working directory, wherever that is.
    graphlint(&["."], &dir.path().join("pkg"));
    assert!(dir.path().join("pkg/.graphlint_cache").is_dir());
    std::fs::remove_dir_all(dir.path().join("pkg/.graphlint_cache")).unwrap();

    // A configuration marks the root: a run from below it and a partial run share its cache.
    write(dir.path(), "graphlint.toml", "select = [\"ALL\"]\n");
    graphlint(&["."], &dir.path().join("pkg"));
    graphlint(&["util.py"], &dir.path().join("pkg"));
    assert!(version_dir(dir.path()).is_dir());
    assert!(!dir.path().join("pkg/.graphlint_cache").exists());

    // The hook's run: `--project-context` in a repository without a configuration file.
    let repo = project();
    std::fs::create_dir(repo.path().join(".git")).unwrap();
    graphlint(&["--project-context", "util.py"], &repo.path().join("pkg"));
    assert!(version_dir(repo.path()).is_dir());
    assert!(!repo.path().join("pkg/.graphlint_cache").exists());

    // `$GRAPHLINT_CACHE_DIR` names another place; `--cache-dir` wins over it.
    let elsewhere = project();
    let env_dir = elsewhere.path().join("env-cache");
    command(&["."], elsewhere.path()).env("GRAPHLINT_CACHE_DIR", &env_dir).output().unwrap();
    assert!(env_dir.join(graphlint::cache::VERSION).is_dir());
    command(&["--cache-dir", "flag-cache", "."], elsewhere.path())
        .env("GRAPHLINT_CACHE_DIR", &env_dir)
        .output()
        .unwrap();
    assert!(elsewhere.path().join("flag-cache").join(graphlint::cache::VERSION).is_dir());
    assert!(!elsewhere.path().join(".graphlint_cache").exists());
}

// ----- The project pass reused between runs (`analyzer/src/python/project/incremental.rs`) -----
//
// A run whose summaries have the shapes of the last run's takes its project result from the
// cache (or from memory, in one process) and reports exactly what a `--no-cache` run does,
// positions moved by the edit included; an edit that changes a summary runs the pass again; a
// damaged or foreign stored result is never trusted. These runs name their cache directory.

const REUSED: &str = "python project result reused";

/// A run with the cache in `cache` (JSON findings, notes on stderr), and a `--no-cache` run:
/// their findings, which must be equal, and whether the cached run reused the project pass.
fn cached_and_uncached(dir: &Path, cache: &Path, extra: &[&str]) -> (String, bool) {
    let cache = cache.to_str().unwrap();
    let args = [&["--output-format", "json", "--verbose", "--cache-dir", cache], extra].concat();
    let cached = graphlint(&args, dir);
    let uncached = graphlint(&[&["--output-format", "json", "--no-cache"], extra].concat(), dir);
    let stderr = String::from_utf8(cached.stderr).unwrap();
    assert!(matches!(cached.status.code(), Some(0 | 1)), "{stderr}");
    let findings = String::from_utf8(cached.stdout).unwrap();
    assert_eq!(findings, String::from_utf8(uncached.stdout).unwrap(), "cached run against --no-cache\n{stderr}");
    (findings, stderr.contains(REUSED))
}

/// Issue 13's cross-file types fixture: answers to questions by byte range, a caller named by
/// line (`pkg/runner.py:43` passes a tensor to an `int` parameter of `pkg/scheduler.py`).
fn declared_types() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    common::copy_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/projects/declared_types"), dir.path());
    dir
}

fn edit_file(path: &Path, edit: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(path).unwrap();
    let edited = edit(text.clone());
    assert_ne!(edited, text, "the edit changes {}", path.display());
    std::fs::write(path, edited).unwrap();
}

#[test]
fn an_edit_that_only_moves_code_reuses_the_project_pass_and_reports_what_a_full_run_does() {
    let dir = declared_types();
    let cache = tempfile::tempdir().unwrap();
    let (before, reused) = cached_and_uncached(dir.path(), cache.path(), &[]);
    assert!(!reused, "a cold cache has no project result");
    assert!(before.contains("pkg/runner.py:43"), "the fixture names the tensor's caller by line:\n{before}");
    let (again, reused) = cached_and_uncached(dir.path(), cache.path(), &[]);
    assert!(reused && again == before);

    // Lines added above everything in both files, and a body changed without a new call or
    // question: every row and range after them moves, no summary's shape changes.
    edit_file(&dir.path().join("pkg/runner.py"), |text| format!("# a comment\n\n{text}"));
    edit_file(&dir.path().join("pkg/scheduler.py"), |text| {
        format!(
            "# moved\n{}",
            text.replace("output = output * 2\n", "output = output * 2 + 1\n        output = -output\n")
        )
    });
    let (moved, reused) = cached_and_uncached(dir.path(), cache.path(), &[]);
    assert!(reused, "positions alone changed: the project result is reused");
    assert_ne!(moved, before, "rows moved");
    assert!(moved.contains("pkg/runner.py:45"), "the caller's line is the moved one:\n{moved}");

    // The same with cold findings too: another key, computed once, then reused.
    let (_, reused) = cached_and_uncached(dir.path(), cache.path(), &["--all-paths"]);
    assert!(!reused);
    edit_file(&dir.path().join("pkg/batch.py"), |text| format!("{text}\n# the end\n"));
    let (_, reused) = cached_and_uncached(dir.path(), cache.path(), &["--all-paths"]);
    assert!(reused);
}

/// A model calling a helper in another file, which syncs.
fn model_and_helper() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "model.py",
        "import torch\nfrom torch import nn\n\nfrom helpers import scale\n\n\nclass Model(nn.Module):\n    \
         def forward(self, x):\n        return scale(x)\n\n    def unused(self, x):\n        return x\n",
    );
    write(dir.path(), "helpers.py", "import torch\n\n\ndef scale(x):\n    s = x.sum().item()\n    return x * s\n");
    dir
}

#[test]
fn an_edit_that_changes_a_summary_runs_the_pass_again() {
    let dir = model_and_helper();
    let cache = tempfile::tempdir().unwrap();
    let (hot, _) = cached_and_uncached(dir.path(), cache.path(), &[]);
    assert!(hot.contains("\"GL201\"") && hot.contains("Model.forward"), "{hot}");
    assert!(cached_and_uncached(dir.path(), cache.path(), &[]).1);

    // `forward` no longer calls the helper (the number of functions, and so of graph nodes,
    // stays): a reused result would still call the helper hot.
    edit_file(&dir.path().join("model.py"), |text| text.replace("return scale(x)", "return x"));
    let (cold, reused) = cached_and_uncached(dir.path(), cache.path(), &[]);
    assert!(!reused, "a changed summary must not reuse the last project result");
    assert_eq!(cold.trim(), "[]");
    // Its helper hot again through another function: a call added elsewhere.
    edit_file(&dir.path().join("model.py"), |text| text.replace("        return x\n", "        return scale(x)\n"));
    let (hot_again, reused) = cached_and_uncached(dir.path(), cache.path(), &[]);
    assert!(!reused);
    assert!(hot_again.contains("\"GL201\""), "{hot_again}");

    // A helper named alone (the hook's run): the project around it still counts.
    let (_, reused) = cached_and_uncached(dir.path(), cache.path(), &["helpers.py", "--project-root", "."]);
    assert!(reused, "naming a file changes what is reported, not the project result");
}

/// The stored project result of the run whose cache is in `cache`.
fn stored_result(cache: &Path) -> PathBuf {
    let version = cache.join(graphlint::cache::VERSION);
    let results: Vec<PathBuf> = std::fs::read_dir(&version)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "project"))
        .collect();
    assert_eq!(results.len(), 1, "{results:?}");
    results[0].clone()
}

#[test]
fn a_damaged_or_foreign_project_result_is_computed_again() {
    let dir = model_and_helper();
    let cache = tempfile::tempdir().unwrap();
    let (expected, _) = cached_and_uncached(dir.path(), cache.path(), &[]);
    let stored = stored_result(cache.path());
    let good = std::fs::read(&stored).unwrap();
    let version = graphlint::cache::VERSION.as_bytes();
    assert_eq!(&good[20..20 + version.len()], version, "magic (16 bytes), the version's length, the version");

    let mut flipped = good.clone();
    *flipped.last_mut().unwrap() ^= 0x5a;
    let mut other_version = good.clone();
    other_version[20] = if version[0] == b'9' { b'8' } else { b'9' };
    let damaged = [flipped, good[..good.len() / 2].to_vec(), b"not a result".to_vec(), Vec::new(), other_version];
    for bytes in damaged {
        std::fs::write(&stored, &bytes).unwrap();
        let (findings, reused) = cached_and_uncached(dir.path(), cache.path(), &[]);
        assert!(!reused, "a damaged result is not trusted");
        assert_eq!(findings, expected);
        assert_eq!(std::fs::read(&stored).unwrap(), good, "and it is written again");
        assert!(cached_and_uncached(dir.path(), cache.path(), &[]).1);
    }
}

/// The server's way: one process analyses the project again after each edit of an unsaved
/// text, and keeps the project result in memory.
#[test]
fn one_process_reuses_its_last_project_result_for_unsaved_edits() {
    use graphlint::config::{ConfigMode, Overrides, Resolver};
    use graphlint::engine::{check, RunOptions};

    let dir = model_and_helper();
    let cache = tempfile::tempdir().unwrap();
    let helper = dir.path().join("helpers.py");
    let saved = std::fs::read_to_string(&helper).unwrap();
    let run = |text: &str, cache_dir: Option<&Path>| {
        let mut overlay = graphlint::source::Overlay::default();
        overlay.insert(&helper, text);
        let resolver = Resolver::new(ConfigMode::Discover, Overrides::default()).unwrap();
        let options = RunOptions {
            overlay: Some(Arc::new(overlay)),
            project_root: Some(dir.path().to_path_buf()),
            cache_dir: cache_dir.map(Path::to_path_buf),
            ..RunOptions::default()
        };
        let result = check(std::slice::from_ref(&helper), &resolver, options).unwrap();
        let findings: Vec<String> = result.diagnostics.iter().map(|d| format!("{d:?}")).collect();
        let from_memory = result.warnings.iter().any(|w| w.contains("python project result reused from memory"));
        (findings, from_memory)
    };
    let (first, _) = run(&saved, Some(cache.path()));
    assert_eq!(first.len(), 1, "{first:?}");
    // Typing: a line above the function, a longer expression; then a new call in the helper.
    let typed = saved.replace("def scale", "# typing\n\ndef scale").replace("x * s", "x * s * 2");
    let (findings, from_memory) = run(&typed, Some(cache.path()));
    assert!(from_memory, "the summaries' shapes are unchanged");
    assert_eq!(findings, run(&typed, None).0);
    assert_ne!(findings, first, "the finding moved down two lines");
    let called = format!("import os\n{}", typed.replace("return x * s * 2", "return x.cpu() * s"));
    let (findings, from_memory) = run(&called, Some(cache.path()));
    assert_eq!(findings, run(&called, None).0);
    assert_eq!(findings.len(), 2, "{findings:?}");
    assert!(!from_memory, "a new call changes the helper's summary");
}

/// A run that changed a few entries appends them to the pack (the same file, grown) and the last
/// entry of a path wins; once what appends replaced passes a quarter of the pack, the pack is
/// written whole again (a new file, by rename).
#[cfg(unix)]
#[test]
fn a_few_changed_entries_are_appended_until_the_pack_is_written_whole() {
    use std::os::unix::fs::MetadataExt;
    let dir = project();
    let filler = |i: usize, op: &str| format!("import torch\n\n\ndef f{i}(x):\n    return x {op} {i}\n");
    for i in 0..12 {
        write(dir.path(), &format!("pkg/filler_{i}.py"), &filler(i, "+"));
    }
    let files = FILES_PY + 12;
    // (`reused_python` expects the project's own files only.)
    let reused = |output: &Output| -> usize {
        let stderr = String::from_utf8(output.stderr.clone()).unwrap();
        let line = stderr.lines().find(|l| l.contains("python files reused")).unwrap_or_else(|| panic!("{stderr}"));
        let words: Vec<&str> = line.split_whitespace().collect();
        let at = words.iter().position(|w| *w == "cache:").unwrap();
        assert_eq!(words[at + 3], files.to_string(), "{line}");
        words[at + 1].parse().unwrap()
    };
    settle();
    graphlint(&ARGS, dir.path());
    graphlint(&ARGS, dir.path());
    let pack = python_pack(dir.path());
    let before = std::fs::metadata(&pack).unwrap();

    write(dir.path(), "pkg/filler_0.py", &filler(0, "-"));
    let changed = graphlint(&ARGS, dir.path());
    assert_eq!(reused(&changed), files - 1);
    assert_eq!(report(&changed), report(&graphlint(&[&ARGS[..], &["--no-cache"]].concat(), dir.path())));
    let appended = std::fs::metadata(&pack).unwrap();
    assert_eq!(appended.ino(), before.ino(), "one changed entry is appended in place");
    assert!(appended.len() > before.len());
    assert_eq!(reused(&graphlint(&ARGS, dir.path())), files, "the appended entry wins");

    for i in 0..12 {
        write(dir.path(), &format!("pkg/filler_{i}.py"), &filler(i, "*"));
    }
    graphlint(&ARGS, dir.path());
    let whole = std::fs::metadata(&pack).unwrap();
    assert_ne!(whole.ino(), appended.ino(), "twelve changed entries: the pack is written whole");
    let warm = graphlint(&ARGS, dir.path());
    assert_eq!(reused(&warm), files);
    assert_eq!(report(&warm), report(&graphlint(&[&ARGS[..], &["--no-cache"]].concat(), dir.path())));
}
