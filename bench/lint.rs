//! Lint benchmark: graphlint vs. ruff's parse-only pipeline on the `transformers` wheel, and
//! graphlint on a Rust corpus (the `candle-transformers` sources, see `rust_corpus.rs`).
//!
//! `cargo bench --bench lint` downloads the pinned wheel and ruff from PyPI once into
//! `bench/.cache/` (ignored by git), and vendors the Rust corpus from crates.io there, then runs
//! each tool a few times on each corpus and prints files/s, MB per CPU-second and peak RSS. CPU
//! time is user + sys of the child process, so the numbers hold on a machine shared with other
//! work; wall time is shown for reference only.

mod rust_corpus;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const TRANSFORMERS: &str = "5.24.0";
const RUFF: &str = "0.17.6";
/// Runs per command on the Python corpus (each about a second).
const RUNS: usize = 3;

struct Measure {
    cpu_s: f64,
    wall_s: f64,
    max_rss_mb: f64,
    exit: i32,
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cache = root.join("bench/.cache");
    std::fs::create_dir_all(&cache).expect("create bench/.cache");
    let corpus = fetch_corpus(&cache);
    let ruff = fetch_ruff(&cache);
    let (files, bytes) = corpus_size(&corpus, &["py", "pyi"]);
    let mb = bytes as f64 / 1e6;
    println!("corpus: transformers {TRANSFORMERS} wheel, {files} Python files, {mb:.1} MB");
    println!("best of {RUNS} runs; CPU = user + sys of the child process\n");

    let graphlint = env!("CARGO_BIN_EXE_graphlint");
    let corpus_arg = corpus.to_str().unwrap();
    let rows = [
        (
            "graphlint --output-format json",
            best(graphlint, &["--no-cache", "--output-format", "json", "--exit-zero", corpus_arg], RUNS),
        ),
        (
            "graphlint --output-format json --all-paths",
            best(graphlint, &["--no-cache", "--output-format", "json", "--exit-zero", "--all-paths", corpus_arg], RUNS),
        ),
        (
            "ruff check --isolated --select E9",
            best(
                ruff.to_str().unwrap(),
                &[
                    "check",
                    "--isolated",
                    "--no-cache",
                    "--select",
                    "E9",
                    "--output-format",
                    "json",
                    "--exit-zero",
                    corpus_arg,
                ],
                RUNS,
            ),
        ),
    ];
    print_table(&rows, files, mb);
    println!("\nratio graphlint / ruff E9 (MB per CPU-s): {:.2}", (mb / rows[0].1.cpu_s) / (mb / rows[2].1.cpu_s));

    rust_corpus::report(&cache, graphlint);
}

fn print_table(rows: &[(&str, Measure)], files: usize, mb: f64) {
    println!("| command | CPU s | wall s | files / CPU-s | MB / CPU-s | peak RSS MB |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, m) in rows {
        assert_eq!(m.exit, 0, "{name} failed");
        println!(
            "| `{name}` | {:.2} | {:.2} | {:.0} | {:.1} | {:.0} |",
            m.cpu_s,
            m.wall_s,
            files as f64 / m.cpu_s,
            mb / m.cpu_s,
            m.max_rss_mb
        );
    }
}

fn best(program: &str, args: &[&str], runs: usize) -> Measure {
    (0..runs).map(|_| measure(program, args)).min_by(|a, b| a.cpu_s.total_cmp(&b.cpu_s)).unwrap()
}

/// Runs `program` and reads its own rusage with `wait4`, so only that process is counted.
fn measure(program: &str, args: &[&str]) -> Measure {
    let start = Instant::now();
    #[expect(clippy::zombie_processes, reason = "reaped by the wait4 below")]
    let child = Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let mut status = 0;
    // SAFETY: `usage` is a plain C struct that wait4 fills; the pid is our own child's.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        let pid = libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage);
        assert!(pid > 0, "wait4 failed");
        usage
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Measure {
        cpu_s: seconds(usage.ru_utime) + seconds(usage.ru_stime),
        wall_s: start.elapsed().as_secs_f64(),
        max_rss_mb: usage.ru_maxrss as f64 / 1024.0,
        exit: libc::WEXITSTATUS(status),
    }
}

fn run(program: &str, args: &[&str]) {
    let status = Command::new(program).args(args).status().unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(status.success(), "{program} {args:?} failed");
}

fn fetch_corpus(cache: &Path) -> PathBuf {
    let unpacked = cache.join(format!("transformers-{TRANSFORMERS}"));
    let package = unpacked.join("transformers");
    if package.is_dir() {
        return package;
    }
    let wheel = cache.join(format!("transformers-{TRANSFORMERS}-py3-none-any.whl"));
    if !wheel.is_file() {
        let spec = format!("transformers=={TRANSFORMERS}");
        run(
            "python3",
            &["-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-d", cache.to_str().unwrap(), &spec],
        );
    }
    run("python3", &["-m", "zipfile", "-e", wheel.to_str().unwrap(), unpacked.to_str().unwrap()]);
    package
}

fn fetch_ruff(cache: &Path) -> PathBuf {
    let venv = cache.join("venv");
    let ruff = venv.join("bin/ruff");
    if !ruff.is_file() {
        run("python3", &["-m", "venv", venv.to_str().unwrap()]);
        let spec = format!("ruff=={RUFF}");
        run(venv.join("bin/pip").to_str().unwrap(), &["install", "--quiet", &spec]);
    }
    ruff
}

/// The number and total size of the files under `dir` with one of `extensions`.
fn corpus_size(dir: &Path, extensions: &[&str]) -> (usize, u64) {
    let mut files = 0;
    let mut bytes = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().and_then(|e| e.to_str()).is_some_and(|e| extensions.contains(&e)) {
                files += 1;
                bytes += std::fs::metadata(&path).unwrap().len();
            }
        }
    }
    (files, bytes)
}
