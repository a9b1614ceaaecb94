//! The benchmark's Rust corpus: the sources of `candle-transformers` (a few hundred model files,
//! the largest body of candle code on crates.io), vendored once with `cargo vendor` into
//! `bench/.cache/`.

use std::path::{Path, PathBuf};

use super::{best, corpus_size, print_table, run};

const CANDLE_TRANSFORMERS: &str = "0.11.1";
const RUNS: usize = 10;

pub fn report(cache: &Path, graphlint: &str) {
    let corpus = fetch(cache);
    let (files, bytes) = corpus_size(&corpus, &["rs"]);
    let mb = bytes as f64 / 1e6;
    println!("\ncorpus: candle-transformers {CANDLE_TRANSFORMERS} sources, {files} Rust files, {mb:.1} MB");
    println!("best of {RUNS} runs (a run takes well under 0.1 s, so one scheduling hiccup weighs more)\n");
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
    ];
    print_table(&rows, files, mb);
}

fn fetch(cache: &Path) -> PathBuf {
    let project = cache.join("candle-transformers-vendor");
    let crate_dir = project.join(format!("vendor/candle-transformers-{CANDLE_TRANSFORMERS}"));
    if crate_dir.is_dir() {
        return crate_dir;
    }
    std::fs::create_dir_all(&project).expect("create the vendoring project");
    let manifest = format!(
        "[workspace]\n\n[package]\nname = \"bench-corpus\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[lib]\npath = \"lib.rs\"\n\n[dependencies]\ncandle-transformers = \"={CANDLE_TRANSFORMERS}\"\n"
    );
    std::fs::write(project.join("Cargo.toml"), manifest).unwrap();
    std::fs::write(project.join("lib.rs"), "").unwrap();
    let manifest = project.join("Cargo.toml");
    let vendor = project.join("vendor");
    run(
        env!("CARGO"),
        &[
            "vendor",
            "--quiet",
            "--versioned-dirs",
            "--manifest-path",
            manifest.to_str().unwrap(),
            vendor.to_str().unwrap(),
        ],
    );
    crate_dir
}
