//! Recall benchmark: graphlint against hand-labelled per-step syncs in real wheels (issue 13, item 8).
//!
//! `cargo bench --bench recall` reads `bench/recall/corpus.toml` (wheels pinned by version and sha256, and the
//! trees they form when unzipped side by side) and the labels `bench/recall/labels/<tree>.tsv` (see
//! `bench/recall/PROTOCOL.md`). It downloads each wheel once with pip into the target directory, checks its
//! sha256, unzips the trees, runs graphlint with `--all-paths` in each tree and prints, per tree, how many sync
//! labels graphlint reports hot, reports only cold, or misses, and how many clean labels get a hot finding.
//!
//! A finding matches a label when it is on the label's file and line. Recall is hot sync labels over all sync
//! labels; precision is hot sync labels over hot sync plus hot clean labels (a hot finding on a clean line is a
//! false positive). Labels marked `unsure` are counted in the table and also left out in a second recall column.
//!
//! `GRAPHLINT_BIN=/path/to/graphlint` scores another binary instead of the one this bench builds;
//! `RECALL_TREES=vllm,diffusers` limits the run to some trees; `RECALL_DETAILS=1` lists every miss and false
//! positive.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

#[derive(Deserialize)]
struct Corpus {
    wheel: Vec<Wheel>,
    tree: Vec<Tree>,
}

#[derive(Deserialize)]
struct Wheel {
    name: String,
    version: String,
    file: String,
    sha256: String,
}

#[derive(Deserialize)]
struct Tree {
    name: String,
    wheels: Vec<String>,
}

struct Label {
    path: String,
    line: u64,
    sync: bool,
    construct: String,
    unsure: bool,
    note: String,
}

#[derive(Clone, Copy, PartialEq)]
enum Seen {
    Hot,
    Cold,
    Missed,
}

#[derive(Default)]
struct Score {
    syncs: usize,
    hot: usize,
    cold: usize,
    missed: usize,
    sure_syncs: usize,
    sure_hot: usize,
    cleans: usize,
    clean_hot: usize,
}

impl Score {
    fn add(&mut self, label: &Label, seen: Seen) {
        if label.sync {
            self.syncs += 1;
            match seen {
                Seen::Hot => self.hot += 1,
                Seen::Cold => self.cold += 1,
                Seen::Missed => self.missed += 1,
            }
            if !label.unsure {
                self.sure_syncs += 1;
                self.sure_hot += usize::from(seen == Seen::Hot);
            }
        } else {
            self.cleans += 1;
            self.clean_hot += usize::from(seen == Seen::Hot);
        }
    }

    fn row(&self, name: &str) -> String {
        let ratio = |n: usize, d: usize| if d == 0 { "—".to_string() } else { format!("{:.2}", n as f64 / d as f64) };
        format!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            self.syncs,
            self.hot,
            self.cold,
            self.missed,
            ratio(self.hot, self.syncs),
            ratio(self.sure_hot, self.sure_syncs),
            self.cleans,
            self.clean_hot,
            ratio(self.hot, self.hot + self.clean_hot),
        )
    }

    fn merge(&mut self, other: &Score) {
        self.syncs += other.syncs;
        self.hot += other.hot;
        self.cold += other.cold;
        self.missed += other.missed;
        self.sure_syncs += other.sure_syncs;
        self.sure_hot += other.sure_hot;
        self.cleans += other.cleans;
        self.clean_hot += other.clean_hot;
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let recall = root.join("bench/recall");
    let corpus: Corpus = toml::from_str(&read(&recall.join("corpus.toml"))).expect("parse corpus.toml");
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("recall");
    std::fs::create_dir_all(&cache).expect("create the wheel cache");
    let graphlint = std::env::var("GRAPHLINT_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_graphlint").to_string());
    let only: Option<HashSet<String>> =
        std::env::var("RECALL_TREES").ok().map(|v| v.split(',').map(str::to_string).collect());
    let details = std::env::var_os("RECALL_DETAILS").is_some();
    let version = Command::new(&graphlint).arg("--version").output().expect("run graphlint --version");
    println!("graphlint: {graphlint} ({})", String::from_utf8_lossy(&version.stdout).trim());
    println!("labels: bench/recall/labels/*.tsv, trees: bench/recall/corpus.toml\n");

    let wheels: HashMap<&str, &Wheel> = corpus.wheel.iter().map(|w| (w.name.as_str(), w)).collect();
    let mut total = Score::default();
    let mut rows = Vec::new();
    let mut listed = Vec::new();
    for tree in &corpus.tree {
        let labels_file = recall.join("labels").join(format!("{}.tsv", tree.name));
        if !labels_file.is_file() || only.as_ref().is_some_and(|o| !o.contains(&tree.name)) {
            continue;
        }
        let labels = parse_labels(&read(&labels_file), &labels_file);
        let dir = unpack_tree(&cache, tree, &wheels);
        let Some(findings) = run_graphlint(&graphlint, &dir) else {
            rows.push(format!("| {} | graphlint crashed: no JSON |", tree.name));
            continue;
        };
        let mut score = Score::default();
        for label in &labels {
            let seen = findings.get(&(label.path.clone(), label.line)).copied().unwrap_or(Seen::Missed);
            score.add(label, seen);
            let wrong = if label.sync { seen != Seen::Hot } else { seen == Seen::Hot };
            if details && wrong {
                let what = match (label.sync, seen) {
                    (true, Seen::Cold) => "sync, cold only",
                    (true, _) => "sync, missed",
                    (false, _) => "clean, hot finding",
                };
                let unsure = if label.unsure { " (unsure)" } else { "" };
                listed.push(format!(
                    "- {}: `{}:{}` {} [{}]{unsure}: {}",
                    tree.name, label.path, label.line, what, label.construct, label.note
                ));
            }
        }
        rows.push(score.row(&tree.name));
        total.merge(&score);
    }

    println!(
        "| project | sync labels | found hot | found cold only | missed | recall | recall (sure labels) | clean \
         labels | clean with hot finding | precision |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in &rows {
        println!("{row}");
    }
    println!("{}", total.row("**all**"));
    if details {
        println!("\nLabels graphlint gets wrong:\n");
        for line in &listed {
            println!("{line}");
        }
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn parse_labels(text: &str, file: &Path) -> Vec<Label> {
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("path\tline\tlabel\tconstruct\tunsure\tnote"),
        "{}: unexpected header",
        file.display()
    );
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert_eq!(cols.len(), 6, "{}: six columns expected in {l:?}", file.display());
            assert!(matches!(cols[2], "sync" | "clean"), "{}: label is sync or clean in {l:?}", file.display());
            assert!(matches!(cols[4], "" | "yes"), "{}: unsure is empty or yes in {l:?}", file.display());
            Label {
                path: cols[0].to_string(),
                line: cols[1].parse().unwrap_or_else(|_| panic!("{}: bad line number in {l:?}", file.display())),
                sync: cols[2] == "sync",
                construct: cols[3].to_string(),
                unsure: cols[4] == "yes",
                note: cols[5].to_string(),
            }
        })
        .collect()
}

/// Unzips the tree's wheels side by side (once), after checking each wheel's sha256.
fn unpack_tree(cache: &Path, tree: &Tree, wheels: &HashMap<&str, &Wheel>) -> PathBuf {
    let dir = cache.join("trees").join(&tree.name);
    if dir.join(".complete").is_file() {
        return dir;
    }
    let _ = std::fs::remove_dir_all(&dir);
    for name in &tree.wheels {
        let wheel =
            wheels.get(name.as_str()).unwrap_or_else(|| panic!("tree {} names unknown wheel {name}", tree.name));
        let path = fetch_wheel(cache, wheel);
        python(&["-m", "zipfile", "-e", path.to_str().unwrap(), dir.to_str().unwrap()]);
    }
    std::fs::write(dir.join(".complete"), "").expect("mark the tree complete");
    dir
}

fn fetch_wheel(cache: &Path, wheel: &Wheel) -> PathBuf {
    let wheels = cache.join("wheels");
    let path = wheels.join(&wheel.file);
    if !path.is_file() {
        // Platform-specific wheels (vllm) are pinned to the manylinux/CPython 3.12 build named in corpus.toml.
        let spec = format!("{}=={}", wheel.name, wheel.version);
        let dest = wheels.to_str().unwrap();
        python(&[
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary",
            ":all:",
            "--platform",
            "manylinux_2_28_x86_64",
            "--python-version",
            "3.12",
            "-d",
            dest,
            &spec,
        ]);
    }
    let digest = python(&[
        "-c",
        "import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], 'rb').read()).hexdigest())",
        path.to_str().unwrap(),
    ]);
    assert_eq!(digest.trim(), wheel.sha256, "{} is not the wheel the labels were written for", wheel.file);
    path
}

fn python(args: &[&str]) -> String {
    let output = Command::new("python3").args(args).output().expect("python3 is needed to fetch the wheels");
    assert!(output.status.success(), "python3 {args:?} failed:\n{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("python3 prints UTF-8")
}

/// Every (file, line) with a finding, hot if any finding on it is hot; `None` when graphlint crashes.
fn run_graphlint(graphlint: &str, dir: &Path) -> Option<BTreeMap<(String, u64), Seen>> {
    let output = Command::new(graphlint)
        .args(["--output-format", "json", "--all-paths", "--exit-zero", "."])
        .current_dir(dir)
        .output()
        .expect("run graphlint");
    if !output.status.success() {
        eprintln!("graphlint in {} exited with {:?}", dir.display(), output.status);
        return None;
    }
    let items: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).expect("graphlint prints JSON");
    let mut seen = BTreeMap::new();
    for item in &items {
        let (Some(file), Some(row)) = (item["filename"].as_str(), item["location"]["row"].as_u64()) else {
            continue;
        };
        let entry = seen.entry((file.to_string(), row)).or_insert(Seen::Cold);
        if item["hot"] == true {
            *entry = Seen::Hot;
        }
    }
    Some(seen)
}
