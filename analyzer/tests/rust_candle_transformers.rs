//! Real-code validation: graphlint on `candle-transformers` 0.11.1, vendored from crates.io at
//! test time (`cargo vendor` in a temporary project; nothing is committed).
//!
//! The findings in `generation/` and in the forwards of the mainstream text models are
//! snapshotted in `snapshots/rust/candle_transformers.snap`; `candle_transformers.md` next to it
//! reviews each one. The logits sampler's per-token read-back must be reported with its chain
//! from a sampling loop.
//!
//! The download is required: the test fails if it cannot vendor the crate, unless
//! `GRAPHLINT_SKIP_DOWNLOAD_TESTS=1` explicitly opts out (for offline machines).

use std::path::{Path, PathBuf};
use std::process::Command;

use graphlint::diagnostic::Diagnostic;
use graphlint::settings::Settings;

const VERSION: &str = "0.11.1";

/// Text models whose forwards are reviewed (decoder-only LMs, dense and MoE).
const TEXT_MODELS: &[&str] = &[
    "llama",
    "mistral",
    "mixtral",
    "qwen2",
    "qwen2_moe",
    "qwen3",
    "qwen3_moe",
    "phi",
    "phi3",
    "gemma",
    "gemma2",
    "gemma3",
    "starcoder2",
    "falcon",
    "quantized_llama",
];

fn vendor(dir: &Path) -> Option<PathBuf> {
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"vendor-candle-transformers\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[lib]\npath = \"lib.rs\"\n\n[dependencies]\ncandle-transformers = \"={VERSION}\"\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.join("lib.rs"), "").unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["vendor", "--versioned-dirs", "--quiet", "vendor"])
        .current_dir(dir)
        .output()
        .expect("run cargo vendor");
    let crate_dir = dir.join(format!("vendor/candle-transformers-{VERSION}"));
    if output.status.success() && crate_dir.is_dir() {
        return Some(crate_dir);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    if std::env::var("GRAPHLINT_SKIP_DOWNLOAD_TESTS").is_ok_and(|v| v == "1") {
        eprintln!("SKIPPED (GRAPHLINT_SKIP_DOWNLOAD_TESTS=1): cannot vendor candle-transformers {VERSION}: {stderr}");
        return None;
    }
    panic!(
        "cannot vendor candle-transformers {VERSION} from crates.io (needed for this test; set \
         GRAPHLINT_SKIP_DOWNLOAD_TESTS=1 to skip it on an offline machine):\n{stderr}"
    );
}

fn in_scope(relative: &str) -> bool {
    if relative.starts_with("src/generation/") {
        return true;
    }
    let Some(model) = relative.strip_prefix("src/models/").and_then(|m| m.strip_suffix(".rs")) else { return false };
    TEXT_MODELS.contains(&model)
}

fn render(d: &Diagnostic, root: &str) -> String {
    let strip = |path: &str| path.strip_prefix(root).unwrap_or(path).trim_start_matches('/').to_string();
    let chain: Vec<String> =
        d.hot_path.iter().map(|l| format!("{} ({}:{})", l.function, strip(&l.filename), l.row)).collect();
    format!(
        "{}:{}:{}: {} {}\n    chain: {}\n",
        strip(&d.file.to_string_lossy()),
        d.start.row,
        d.start.column,
        d.code(),
        d.message,
        chain.join(" → ")
    )
}

#[test]
fn candle_transformers_findings_are_reviewed() {
    let temp = tempfile::tempdir().unwrap();
    let Some(crate_dir) = vendor(temp.path()) else { return };
    let crate_dir = std::fs::canonicalize(crate_dir).unwrap();
    let result = graphlint::engine::run(std::slice::from_ref(&crate_dir), &Settings::default()).unwrap();
    assert!(!result.internal_error, "{:?}", result.warnings);
    assert!(result.files_checked > 200, "checked only {} files", result.files_checked);
    let root = crate_dir.to_string_lossy().into_owned();
    let relative = |d: &Diagnostic| d.file.strip_prefix(&crate_dir).unwrap().to_string_lossy().into_owned();
    assert!(result.diagnostics.iter().all(|d| d.code() != "GL000"), "every file of the crate parses");

    // The sampler reads the logits back on every token, reached from a sampling loop.
    let sampler: Vec<&Diagnostic> =
        result.diagnostics.iter().filter(|d| relative(d) == "src/generation/mod.rs").collect();
    let argmax = sampler.iter().find(|d| d.code() == "GL806").expect("the argmax read-back in sample_argmax");
    let chain: Vec<&str> = argmax.hot_path.iter().map(|l| l.function.as_str()).collect();
    assert!(chain.contains(&"LogitsProcessor::sample"), "{chain:?}");
    assert_eq!(chain.last(), Some(&"LogitsProcessor::sample_argmax"), "{chain:?}");
    let graphlint::diagnostic::Heat::Hot { reason } = &argmax.heat else { panic!("not hot") };
    assert!(reason.starts_with("decode loop in"), "{reason}");
    assert!(
        sampler.iter().any(|d| d.code() == "GL801" && d.message.contains("prs.to_vec1()")),
        "the softmax probabilities read back in sample_f"
    );

    let mut text = String::new();
    for d in result.diagnostics.iter().filter(|d| in_scope(&relative(d))) {
        text.push_str(&render(d, &root));
    }
    insta::with_settings!({snapshot_path => "../../snapshots/rust", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("candle_transformers", text);
    });
}
