//! Tells the analyzer which sources it was built from: `GRAPHLINT_SOURCE_HASH` is a hash of every
//! file under `analyzer/src` and of `Cargo.lock` (the parser's version changes results too). The
//! cache (`analyzer/src/cache.rs`) keys on it, so that a build from changed sources never reads
//! results an older build stored, even under the same version number. Hashing ~1 MB of sources
//! takes milliseconds, and a git commit is not there in a crates.io or sdist build.

use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    collect(&root.join("analyzer/src"), &mut files);
    let lock = root.join("Cargo.lock");
    if lock.is_file() {
        files.push(lock);
        println!("cargo:rerun-if-changed=Cargo.lock");
    }
    files.sort();
    // FNV-1a: a fixed algorithm, so the same sources give the same key from any toolchain.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for &byte in bytes {
            hash = (hash ^ byte as u64).wrapping_mul(0x0100_0000_01b3);
        }
    };
    for file in &files {
        feed(file.strip_prefix(&root).unwrap_or(file).to_string_lossy().as_bytes());
        feed(&std::fs::read(file).unwrap_or_default());
    }
    println!("cargo:rustc-env=GRAPHLINT_SOURCE_HASH={hash:016x}");
    println!("cargo:rerun-if-changed=analyzer/src");
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}
