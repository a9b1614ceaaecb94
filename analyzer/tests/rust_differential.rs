//! Differential test of the Rust frontend on real crates (issue 16 item 5).
//!
//! A few crates of varied syntax are downloaded from crates.io at test time, pinned by version
//! and sha256 (and cached: cargo's own download of the same file is used when present, else a
//! copy under the test target's temporary directory). On each crate:
//!
//! 1. Every file that `syn` accepts is read: no internal error (exit 2), no GL000 on it.
//! 2. The fallback path loses nothing outside what it skips. graphlint's parser reads these
//!    files, so each is rewritten with code that `syn` reads and graphlint's parser does not
//!    (`unsafe mod`): a statement at the start of every function body, an item at the start of
//!    every inline module and at the end of the file, each placed after a `{` that ends its line
//!    (or on a line of its own) so that no other code moves in rows or columns. Read through the
//!    fallback, the rewritten crate must give the same findings (code, start, end, length, message,
//!    help, heat, hot path) as the original read by the fast parser, and the note that `--verbose`
//!    prints must name exactly the inserted lines.
//!
//! The download is required: the test fails if it cannot fetch a crate, unless
//! `GRAPHLINT_SKIP_DOWNLOAD_TESTS=1` explicitly opts out (for offline machines).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use graphlint::diagnostic::Diagnostic;
use graphlint::engine::RunResult;
use graphlint::settings::Settings;

mod common;
use common::copy_tree;

/// Name, version and the sha256 of the `.crate` file (as in crates.io's index).
const CRATES: &[(&str, &str, &str)] = &[
    // candle code: the rules' findings (tensor reads, device syncs) to compare.
    ("candle-core", "0.11.1", "d11c8be87cfbaef9ebb62fb3f850d1fc8e00cc1d11d393fdbe55a4d5c2cdb325"),
    ("candle-nn", "0.11.1", "437fabe77547c2447c7bdf3cc946e19db29a2832440176b419f77c80b0a9a05e"),
    // A parser of all of Rust, with its own test data of rare syntax.
    ("syn", "2.0.119", "872831b642d1a07999a962a351ed35b955ea2cfc8f3862091e2a240a84f17297"),
    // Parser combinators: generic and macro-heavy.
    ("nom", "7.1.3", "d273983c5a657a70a3e8f2a01329822f3b8c8172b73826411a55751e404a0a4a"),
    // SIMD: intrinsics, const generics, large macro-generated impls.
    ("pulp", "0.22.3", "046aa45b989642ec2e4717c8e72d677b13edd831a4d3b6cf37d9a3e54912496a"),
    // macro_rules! everywhere.
    ("quote", "1.0.47", "1fbf4db142a473a8d80c26bbf18454ed458bf8d26c8219c331daecfdbd079001"),
];

/// Valid for `syn` (an item it keeps as verbatim tokens), not for graphlint's parser.
const UNREADABLE_ITEM: &str = "unsafe mod __graphlint_differential {}";

/// The fallback parses a file again for each construct it skips: this bounds the test's time.
const MAX_INSERTIONS_PER_FILE: usize = 200;

#[test]
fn every_file_syn_reads_is_read_and_both_paths_find_the_same() {
    let temp = tempfile::tempdir().unwrap();
    let mut compared = 0;
    let mut rewritten_files = 0;
    for &(name, version, sha256) in CRATES {
        let Some(archive) = fetch(name, version, sha256) else { return };
        let original = temp.path().join("original");
        let crate_dir = unpack(&archive, &original).join(format!("{name}-{version}"));
        let crate_dir = std::fs::canonicalize(crate_dir).unwrap();

        let sources = common::files_with(&crate_dir, &["rs"]);
        let mut syn_reads = Vec::new();
        let mut insertions = Vec::new();
        for path in &sources {
            let text = std::fs::read_to_string(path).unwrap();
            if let Ok(tree) = syn::parse_file(&text) {
                syn_reads.push(path.clone());
                insertions.push((path.clone(), rewrite(&text, &tree)));
            }
            proc_macro2::extra::invalidate_current_thread_spans();
        }
        assert!(
            syn_reads.len() * 10 >= sources.len() * 9,
            "{name}: syn reads only {} of {}",
            syn_reads.len(),
            sources.len()
        );

        let settings = Settings { all_paths: true, ..Settings::default() };
        let fast = graphlint::engine::run(std::slice::from_ref(&crate_dir), &settings).unwrap();
        assert!(!fast.internal_error, "{name}: {:?}", fast.warnings);
        let python_files = common::files_with(&crate_dir, &["py", "pyi"]).len();
        assert_eq!(fast.files_checked, sources.len() + python_files, "{name}: every file is checked");
        for d in fast.diagnostics.iter().filter(|d| d.code() == "GL000") {
            assert!(
                !syn_reads.contains(&d.file),
                "{name}: syn reads {} but graphlint reports {}",
                d.file.display(),
                d.message
            );
        }
        assert!(fast.warnings.iter().all(|w| !w.contains("does not read")), "{name}: {:?}", fast.warnings);

        // The same crate with an unreadable construct at each insertion point.
        let rewritten_root = temp.path().join("rewritten");
        let rewritten_dir = rewritten_root.join(format!("{name}-{version}"));
        copy_tree(&crate_dir, &rewritten_dir);
        let rewritten_dir = std::fs::canonicalize(rewritten_dir).unwrap();
        let mut expected_notes = Vec::new();
        for (path, rewrite) in &insertions {
            let Some((text, rows)) = rewrite else { continue };
            let relative = path.strip_prefix(&crate_dir).unwrap();
            std::fs::write(rewritten_dir.join(relative), text).unwrap();
            let rows: Vec<String> = rows.iter().map(|row| format!("{row}-{row}")).collect();
            expected_notes.push(format!(
                "note: {}: graphlint's Rust parser does not read some valid Rust here; lines {} were not checked",
                rewritten_dir.join(relative).display(),
                rows.join(", ")
            ));
            rewritten_files += 1;
        }
        let fallback = graphlint::engine::run(std::slice::from_ref(&rewritten_dir), &settings).unwrap();
        assert!(!fallback.internal_error, "{name}: {:?}", fallback.warnings);
        let mut notes: Vec<&String> = fallback.warnings.iter().filter(|w| w.contains("does not read")).collect();
        notes.sort();
        expected_notes.sort();
        assert_eq!(
            notes,
            expected_notes.iter().collect::<Vec<_>>(),
            "{name}: the fallback skips exactly what was inserted"
        );

        let fast_findings = render(&fast, &crate_dir);
        let fallback_findings = render(&fallback, &rewritten_dir);
        if fast_findings != fallback_findings {
            let only_fast: Vec<&String> = fast_findings.iter().filter(|f| !fallback_findings.contains(f)).collect();
            let only_fallback: Vec<&String> = fallback_findings.iter().filter(|f| !fast_findings.contains(f)).collect();
            panic!("{name}: the paths differ\nonly fast:\n{only_fast:#?}\nonly fallback:\n{only_fallback:#?}");
        }
        let inserted: usize = insertions.iter().flat_map(|(_, r)| r).map(|(_, rows)| rows.len()).sum();
        eprintln!(
            "{name} {version}: {} Rust files, syn reads {}; {} rewritten with {inserted} insertions; {} findings agree",
            sources.len(),
            syn_reads.len(),
            expected_notes.len(),
            fast_findings.len()
        );
        compared += fast_findings.len();
        std::fs::remove_dir_all(&original).unwrap();
        std::fs::remove_dir_all(&rewritten_root).unwrap();
    }
    // Guards against a vacuous comparison (no finding, nothing rewritten).
    assert!(compared > 0, "no finding in any crate");
    assert!(rewritten_files > 0, "no file rewritten");
}

/// `text` with [`UNREADABLE_ITEM`] inserted, and the (1-based) rows it was inserted on; `None`
/// for a file with a BOM or shebang, whose `syn` spans would need shifting.
fn rewrite(text: &str, tree: &syn::File) -> Option<(String, Vec<usize>)> {
    let shebang = text.starts_with("#!") && !text[2..].trim_start().starts_with('[');
    if text.starts_with('\u{feff}') || shebang {
        return None;
    }
    let mut points = Vec::new();
    items(&tree.items, text, &mut points);
    points.sort_unstable();
    points.dedup();
    points.truncate(MAX_INSERTIONS_PER_FILE - 1);
    let mut out = String::with_capacity(text.len() + 64 * points.len());
    let mut last = 0;
    let mut rows = Vec::new();
    for &at in &points {
        out.push_str(&text[last..at]);
        write!(out, " {UNREADABLE_ITEM}").unwrap();
        rows.push(text[..at].matches('\n').count() + 1);
        last = at;
    }
    out.push_str(&text[last..]);
    // On a line of its own after the last one.
    if !out.ends_with('\n') {
        out.push('\n');
    }
    rows.push(out.matches('\n').count() + 1);
    writeln!(out, "{UNREADABLE_ITEM}").unwrap();
    if let Err(error) = syn::parse_file(&out) {
        panic!("the rewritten text is not valid Rust ({error}):\n{out}");
    }
    Some((out, rows))
}

/// Insertion points: just after each function body's or inline module's `{`, where nothing but
/// whitespace follows it on its line.
fn items(items: &[syn::Item], text: &str, points: &mut Vec<usize>) {
    for item in items {
        match item {
            syn::Item::Fn(func) => block(&func.block, text, points),
            syn::Item::Mod(syn::ItemMod { content: Some((brace, items_inside)), .. }) => {
                after_brace(brace.span.open(), text, points);
                self::items(items_inside, text, points);
            }
            syn::Item::Impl(imp) => {
                for item in &imp.items {
                    if let syn::ImplItem::Fn(func) = item {
                        block(&func.block, text, points);
                    }
                }
            }
            syn::Item::Trait(tr) => {
                for item in &tr.items {
                    if let syn::TraitItem::Fn(syn::TraitItemFn { default: Some(body), .. }) = item {
                        block(body, text, points);
                    }
                }
            }
            _ => {}
        }
    }
}

fn block(body: &syn::Block, text: &str, points: &mut Vec<usize>) {
    after_brace(body.brace_token.span.open(), text, points);
    for stmt in &body.stmts {
        if let syn::Stmt::Item(item) = stmt {
            items(std::slice::from_ref(item), text, points);
        }
    }
}

fn after_brace(brace: proc_macro2::Span, text: &str, points: &mut Vec<usize>) {
    let at = brace.byte_range().end;
    assert_eq!(&text[at - 1..at], "{", "syn's span of a brace");
    let rest = &text[at..];
    let line_end = rest.find('\n').unwrap_or(rest.len());
    // Inner attributes and inner doc comments must stay first in their block.
    let inner = ["#!", "//!", "/*!"].iter().any(|p| rest.trim_start().starts_with(p));
    if rest[..line_end].trim().is_empty() && !inner {
        points.push(at);
    }
}

/// Each finding as text, with the crate's path left out, sorted.
fn render(result: &RunResult, root: &Path) -> Vec<String> {
    let root = root.to_string_lossy();
    let strip = |s: &str| s.replace(&*root, "<crate>");
    let mut found: Vec<String> = result
        .diagnostics
        .iter()
        .map(|d: &Diagnostic| {
            let chain: Vec<String> =
                d.hot_path.iter().map(|l| format!("{} ({}:{})", l.function, strip(&l.filename), l.row)).collect();
            strip(&format!(
                "{}:{}:{}-{}:{} ({} bytes) {} {} | help: {:?} | {:?} | {}",
                d.file.display(),
                d.start.row,
                d.start.column,
                d.end.row,
                d.end.column,
                d.range.len(),
                d.code(),
                d.message,
                d.help,
                d.heat,
                chain.join(" → ")
            ))
        })
        .collect();
    found.sort();
    found
}

/// The `.crate` file, checked against `sha256`: cargo's download when it has one, else ours
/// (cached under the test target's temporary directory).
fn fetch(name: &str, version: &str, sha256: &str) -> Option<PathBuf> {
    let file_name = format!("{name}-{version}.crate");
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")));
    let cargo_caches = cargo_home
        .and_then(|home| std::fs::read_dir(home.join("registry/cache")).ok())
        .into_iter()
        .flatten()
        .map(|index| index.unwrap().path().join(&file_name));
    for cached in cargo_caches {
        if cached.is_file() && sha256_of(&cached) == sha256 {
            return Some(cached);
        }
    }
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("differential-crates");
    let ours = cache.join(&file_name);
    if ours.is_file() && sha256_of(&ours) == sha256 {
        return Some(ours);
    }
    std::fs::create_dir_all(&cache).unwrap();
    let partial = cache.join(format!("{file_name}.part"));
    let url = format!("https://static.crates.io/crates/{name}/{file_name}");
    let output = Command::new("curl")
        .args(["--silent", "--show-error", "--fail", "--location", "--output"])
        .arg(&partial)
        .arg(&url)
        .output();
    let failure = match output {
        Ok(output) if output.status.success() => {
            let actual = sha256_of(&partial);
            assert_eq!(actual, sha256, "{url}: the download does not match the pinned sha256");
            std::fs::rename(&partial, &ours).unwrap();
            return Some(ours);
        }
        Ok(output) => String::from_utf8_lossy(&output.stderr).into_owned(),
        Err(error) => format!("cannot run curl: {error}"),
    };
    if std::env::var("GRAPHLINT_SKIP_DOWNLOAD_TESTS").is_ok_and(|v| v == "1") {
        eprintln!("SKIPPED (GRAPHLINT_SKIP_DOWNLOAD_TESTS=1): cannot download {url}: {failure}");
        return None;
    }
    panic!(
        "cannot download {url} (needed for this test; set GRAPHLINT_SKIP_DOWNLOAD_TESTS=1 to skip it on an \
         offline machine):\n{failure}"
    );
}

fn sha256_of(path: &Path) -> String {
    let output = Command::new("sha256sum").arg(path).output().expect("run sha256sum");
    assert!(output.status.success(), "sha256sum {}", path.display());
    String::from_utf8(output.stdout).unwrap().split_whitespace().next().unwrap().to_string()
}

/// Unpacks a `.crate` (a gzipped tarball of `name-version/`) into `dir`.
fn unpack(archive: &Path, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let status = Command::new("tar").arg("-xzf").arg(archive).arg("-C").arg(dir).status().expect("run tar");
    assert!(status.success(), "tar -xzf {}", archive.display());
    dir.to_path_buf()
}
