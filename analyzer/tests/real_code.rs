//! graphlint on real models from PyPI: Toto (`toto-ts==0.2.0`, byte-identical to upstream) and
//! Kronos (`kronos-finance==0.1.5`). The wheels are downloaded at test time (pinned by sha256)
//! into cargo's target tmpdir; nothing downloaded is committed. Each finding is reviewed in
//! `snapshots/projects/real/*_review.md`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Wheel {
    spec: &'static str,
    file: &'static str,
    sha256: &'static str,
}

const TOTO: Wheel = Wheel {
    spec: "toto-ts==0.2.0",
    file: "toto_ts-0.2.0-py3-none-any.whl",
    sha256: "8b51bb55ccf6a4dad4a517760accf3f41300f4256ad9a388fd1fe0f045a7bb9e",
};

const KRONOS: Wheel = Wheel {
    spec: "kronos-finance==0.1.5",
    file: "kronos_finance-0.1.5-py3-none-any.whl",
    sha256: "6b94d6a81b55f6ff0f1c66b58c4c01291cdbfb0f92af21adee363338387ac88a",
};

/// toto-ts's dependencies that ship Python packages named like other libraries (gluonts has a
/// `gluonts/torch/` subpackage).
const GLUONTS: Wheel = Wheel {
    spec: "gluonts==0.16.2",
    file: "gluonts-0.16.2-py3-none-any.whl",
    sha256: "351497c37bd0dd13776310f132b7f110f45821559cbc1a03c24908051fcf8155",
};

const ROTARY: Wheel = Wheel {
    spec: "rotary-embedding-torch==0.8.6",
    file: "rotary_embedding_torch-0.8.6-py3-none-any.whl",
    sha256: "1e92c09401af861dca768026af771885d51309ddf13a6028fce53e11801016de",
};

fn python(args: &[&str]) -> String {
    let output = Command::new("python3")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("python3 is needed to fetch the wheels: {e}"));
    assert!(output.status.success(), "python3 {args:?} failed:\n{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// Downloads (once) and unpacks a wheel; returns the unpacked directory.
fn fetch(wheel: &Wheel) -> PathBuf {
    fetch_side_by_side(wheel.file.trim_end_matches(".whl"), &[wheel])
}

/// Downloads (once) `wheels` and unpacks them into one directory, as site-packages holds them.
fn fetch_side_by_side(name: &str, wheels: &[&Wheel]) -> PathBuf {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("real-code");
    let unpacked = cache.join(name);
    if unpacked.join(".complete").is_file() {
        return unpacked;
    }
    std::fs::create_dir_all(&cache).unwrap();
    let _ = std::fs::remove_dir_all(&unpacked);
    for wheel in wheels {
        let path = download(&cache, wheel);
        python(&["-m", "zipfile", "-e", path.to_str().unwrap(), unpacked.to_str().unwrap()]);
    }
    std::fs::write(unpacked.join(".complete"), "").unwrap();
    unpacked
}

/// The wheel file in `cache`, downloaded if missing, its sha256 checked.
fn download(cache: &Path, wheel: &Wheel) -> PathBuf {
    let path = cache.join(wheel.file);
    if !path.is_file() {
        python(&[
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary",
            ":all:",
            "-d",
            cache.to_str().unwrap(),
            wheel.spec,
        ]);
    }
    let digest = python(&[
        "-c",
        "import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], 'rb').read()).hexdigest())",
        path.to_str().unwrap(),
    ]);
    assert_eq!(digest.trim(), wheel.sha256, "{} is not the wheel this test was reviewed against", wheel.file);
    path
}

fn graphlint(dir: &Path, args: &[&str]) -> std::process::Output {
    let output = Command::new(env!("CARGO_BIN_EXE_graphlint")).args(args).current_dir(dir).output().unwrap();
    assert!(matches!(output.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&output.stderr));
    output
}

struct Finding {
    file: String,
    code: String,
    /// The function holding the finding (last link of its chain).
    function: String,
    root: String,
    line: String,
}

fn findings(dir: &Path, package: &str) -> (Vec<Finding>, String) {
    let output = graphlint(dir, &[package, "--output-format", "json"]);
    let items: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    let mut text = String::new();
    let mut out = Vec::new();
    for f in &items {
        assert_eq!(f["hot"], true);
        let chain: Vec<(String, String, u64)> = f["hot_path"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["function"].as_str().unwrap().into(),
                    l["filename"].as_str().unwrap().into(),
                    l["row"].as_u64().unwrap(),
                )
            })
            .collect();
        assert!(!chain.is_empty(), "a hot finding has a chain: {f}");
        let rendered: Vec<String> = chain.iter().map(|(func, file, row)| format!("{func} ({file}:{row})")).collect();
        let line = format!(
            "{}:{}:{}: {} {}\n    hot path: {}\n",
            f["filename"].as_str().unwrap(),
            f["location"]["row"],
            f["location"]["column"],
            f["code"].as_str().unwrap(),
            f["message"].as_str().unwrap(),
            rendered.join(" → ")
        );
        text.push_str(&line);
        out.push(Finding {
            file: f["filename"].as_str().unwrap().into(),
            code: f["code"].as_str().unwrap().into(),
            function: chain.last().unwrap().0.clone(),
            root: chain[0].0.clone(),
            line,
        });
    }
    (out, text)
}

fn show_hot(dir: &Path, package: &str) -> String {
    String::from_utf8(graphlint(dir, &[package, "--show-hot"]).stdout).unwrap()
}

fn count(findings: &[Finding], file: &str, function: &str, code: &str) -> usize {
    findings.iter().filter(|f| f.file.ends_with(file) && f.function == function && f.code == code).count()
}

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({snapshot_path => "../../snapshots/projects/real", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!(name, text);
    });
}

#[test]
fn toto() {
    let dir = fetch(&TOTO);
    let (found, text) = findings(&dir, "toto");

    // The KV cache's per-step syncs.
    assert_eq!(count(&found, "model/util.py", "KVCache.current_len", "GL201"), 1);
    assert_eq!(count(&found, "model/util.py", "KVCache.seq_len", "GL201"), 1);
    assert_eq!(count(&found, "model/util.py", "KVCache.__getitem__", "GL201"), 2);
    assert_eq!(count(&found, "model/util.py", "KVCache.append", "GL201"), 1);
    assert_eq!(count(&found, "model/util.py", "KVCache.append", "GL204"), 8, "tensor-bounded slicing in append");
    assert_eq!(count(&found, "model/util.py", "KVCache.append", "GL403"), 1, "the tensor assert");
    // The scaler's per-step host-to-device tensor creation.
    assert_eq!(count(&found, "model/scaler.py", "compute_causal_statistics", "GL601"), 1);
    // The embedding's `.all()` assert.
    assert_eq!(count(&found, "model/embedding.py", "PatchEmbedding.forward", "GL403"), 1);
    // The forecast loop: per-step H2D tensor creation, from the decode loop.
    let forecast = found.iter().find(|f| f.function == "replace_extreme_values").expect("forecast-loop sync");
    assert!(forecast.root.starts_with("TotoForecaster.generate_"), "{}", forecast.line);
    // Nothing in code that only training (or tests, or evaluation scripts) calls.
    for f in &found {
        for cold in ["lightning_module.py", "losses.py", "/scripts/", "/test/", "/evaluation/", "finetune"] {
            assert!(!f.file.contains(cold), "training/evaluation-only code reported: {}", f.line);
        }
    }
    // The output head's Categorical validates its probabilities on construction (GL406).
    assert_eq!(count(&found, "model/distribution.py", "MixtureOfStudentTsOutput.forward", "GL406"), 1);
    // `StudentT(..., validate_args=False)` still uploads the 0.5 of its inner Gamma (seen at run time).
    assert_eq!(count(&found, "model/distribution.py", "StudentTOutput.forward", "GL406"), 1);
    assert_eq!(found.len(), 19, "every finding is reviewed in toto_review.md:\n{text}");
    snapshot("toto", &text);
    snapshot("toto_hot_functions", &show_hot(&dir, "toto"));
}

#[test]
fn kronos() {
    let dir = fetch(&KRONOS);
    let (found, text) = findings(&dir, "kronos_finance");
    let hot = show_hot(&dir, "kronos_finance");

    // The generation path: the decode loop of auto_regressive_inference is a root, and it
    // reaches the model's decode steps and the sampler.
    for function in ["Kronos.decode_s1", "Kronos.decode_s2", "sample_from_logits", "top_k_top_p_filtering"] {
        let entry = hot.split("\n").collect::<Vec<_>>();
        let position = entry
            .iter()
            .position(|l| l.ends_with(&format!(": {function}")))
            .unwrap_or_else(|| panic!("{function} is not hot:\n{hot}"));
        assert!(entry[position + 1].contains("decode loop in `auto_regressive_inference`"), "{}", entry[position + 1]);
    }
    // The tokenizer's quantizer runs in generation (encode before the loop, decode after).
    assert_eq!(count(&found, "module.py", "BinarySphericalQuantizer.quantize", "GL601"), 2);
    assert_eq!(count(&found, "module.py", "BinarySphericalQuantizer.forward", "GL503"), 1);
    // Nothing from the once-per-call setup of KronosPredictor.generate or the CLI/dashboard.
    for f in &found {
        assert!(f.file.ends_with("module.py"), "unexpected: {}", f.line);
    }
    assert_eq!(found.len(), 3, "every finding is reviewed in kronos_review.md:\n{text}");
    snapshot("kronos", &text);
    snapshot("kronos_hot_functions", &hot);
}

/// The seed's own case (issue 13): toto-ts unzipped beside gluonts and rotary-embedding-torch, as
/// `pip install toto-ts` lays them out. gluonts' `gluonts/torch/` once claimed the name `torch`
/// and `graphlint .` there said "All checks passed"; toto's findings must be the same whether
/// `toto/` is checked alone or with its neighbours.
#[test]
fn toto_beside_its_dependencies() {
    let dir = fetch_side_by_side("toto-site-packages", &[&TOTO, &GLUONTS, &ROTARY]);
    let key = |f: &Finding| (f.file.clone(), f.line.lines().next().unwrap_or("").to_string());
    let (alone, _) = findings(&dir, "toto");
    let (together, _) = findings(&dir, ".");
    let alone: BTreeSet<_> = alone.iter().map(key).collect();
    let together: BTreeSet<_> = together.iter().filter(|f| f.file.starts_with("toto/")).map(key).collect();
    assert_eq!(count_in(&together, "toto/model/util.py"), count_in(&alone, "toto/model/util.py"));
    assert!(count_in(&alone, "toto/model/util.py") >= 5, "the KV cache's syncs: {alone:?}");
    assert_eq!(together, alone, "toto/'s findings depend on what is checked beside it");
}

fn count_in(findings: &BTreeSet<(String, String)>, file: &str) -> usize {
    findings.iter().filter(|(f, _)| f == file).count()
}
