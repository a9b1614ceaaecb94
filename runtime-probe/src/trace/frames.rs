//! Which frame of a backtrace is "the user's": the first one, from the innermost outwards, that is
//! neither the Rust runtime, a dependency (candle, cudarc…), a CUDA library without line tables,
//! nor the probe's own tracer.

use serde::Serialize;
use std::path::Path;

/// One symbolised frame; inlined calls give several frames for one instruction address,
/// innermost first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameInfo {
    pub function: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
}

/// A source location in user code, with the file relative to the workspace when it lies inside it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Site {
    #[serde(rename = "crate")]
    pub crate_name: String,
    pub file: String,
    pub line: u32,
    pub function: Option<String>,
}

impl std::fmt::Display for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// Crates whose frames are never the answer, matched on the symbol's leading path segment. This
/// backs up the path rules for dependencies built from a vendored or patched path.
const RUNTIME_CRATES: &[&str] = &[
    "std",
    "core",
    "alloc",
    "backtrace",
    "candle_core",
    "candle_nn",
    "cudarc",
    "libloading",
    "half",
    "gemm",
    "gemm_common",
    "gemm_f32",
    "rayon",
    "rayon_core",
    "safetensors",
];

/// Files of the probe's tracer: its frames sit between the CUDA call and the user's code.
const TRACER_DIR: &str = "runtime-probe/src/trace/";

/// The workspace root this binary was built from, stripped from file paths in reports.
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("runtime-probe lives in the workspace")
}

/// The crate of a demangled symbol: `<models::toy::Toy as models::graph::GraphDecoder>::step`
/// gives `models`, `candle_core::tensor::Tensor::to_scalar` gives `candle_core`.
pub fn crate_of_symbol(symbol: &str) -> Option<&str> {
    let s = symbol.trim_start_matches(['<', '&', '*', ' ']);
    let s = s.strip_prefix("mut ").unwrap_or(s).strip_prefix("dyn ").unwrap_or(s);
    let end = s.find("::")?;
    let head = &s[..end];
    (!head.is_empty() && head.chars().all(|c| c.is_alphanumeric() || c == '_')).then_some(head)
}

fn is_runtime_file(file: &str) -> bool {
    file.starts_with("/rustc/")
        || file.contains("/.cargo/registry/")
        || file.contains("/.cargo/git/")
        || file.contains("/rustlib/src/rust/library/")
        || file.contains(TRACER_DIR)
}

fn is_runtime_symbol(function: &str) -> bool {
    crate_of_symbol(function).is_some_and(|c| RUNTIME_CRATES.contains(&c))
        || function.starts_with("runtime_probe::trace::")
}

/// `models/src/toy.rs` → `models`; `runtime-probe/src/x.rs` → `runtime_probe`.
fn crate_of_path(relative: &str) -> String {
    let first = relative.split('/').next().unwrap_or(relative);
    match first {
        "analyzer" => "graphlint".to_string(),
        other => other.replace('-', "_"),
    }
}

/// The first user frame, innermost first, or `None` when the whole stack is runtime code (or has no
/// line tables: a stripped binary).
pub fn select_user_frame(frames: &[FrameInfo], root: &Path) -> Option<Site> {
    frames.iter().find_map(|f| {
        let (file, line) = (f.file.as_deref()?, f.line?);
        if is_runtime_file(file) || f.function.as_deref().is_some_and(is_runtime_symbol) {
            return None;
        }
        let relative = Path::new(file)
            .strip_prefix(root)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| file.to_string());
        let crate_name = f
            .function
            .as_deref()
            .and_then(crate_of_symbol)
            .map(str::to_string)
            .unwrap_or_else(|| crate_of_path(&relative));
        Some(Site { crate_name, file: relative, line, function: f.function.clone() })
    })
}

/// Symbolises a captured backtrace into frames, innermost first.
pub fn resolve(bt: &mut backtrace::Backtrace) -> Vec<FrameInfo> {
    bt.resolve();
    bt.frames()
        .iter()
        .flat_map(|frame| {
            let symbols = frame.symbols();
            if symbols.is_empty() {
                return vec![FrameInfo { function: None, file: None, line: None }];
            }
            symbols
                .iter()
                .map(|s| FrameInfo {
                    // `{:#}` drops the hash suffix of legacy-mangled names.
                    function: s.name().map(|n| format!("{n:#}")),
                    file: s.filename().map(|p| p.to_string_lossy().into_owned()),
                    line: s.lineno(),
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(function: &str, file: &str, line: u32) -> FrameInfo {
        FrameInfo { function: Some(function.into()), file: Some(file.into()), line: Some(line) }
    }

    #[test]
    fn crate_names_come_from_the_leading_path_segment() {
        assert_eq!(crate_of_symbol("candle_core::tensor::Tensor::to_scalar"), Some("candle_core"));
        assert_eq!(crate_of_symbol("<models::toy::Toy as models::graph::GraphDecoder>::step"), Some("models"));
        assert_eq!(crate_of_symbol("<&mut dyn core::fmt::Write as core::fmt::Write>::write_str"), Some("core"));
        assert_eq!(crate_of_symbol("cuMemcpyDtoHAsync_v2"), None);
    }

    #[test]
    fn skips_tracer_cuda_dependencies_and_std_to_reach_the_model_line() {
        let root = Path::new("/work/main");
        let frames = vec![
            frame("backtrace::backtrace::trace", "/root/.cargo/registry/src/idx/backtrace-0.3.77/src/lib.rs", 1),
            frame("runtime_probe::trace::record_call", "/work/main/runtime-probe/src/trace/mod.rs", 80),
            FrameInfo { function: None, file: None, line: None }, // libcupti
            FrameInfo { function: Some("cuMemcpyDtoHAsync_v2".into()), file: None, line: None }, // libcuda
            frame(
                "cudarc::driver::result::memcpy_dtoh_async",
                "/root/.cargo/registry/src/idx/cudarc-0.19.10/src/driver/result.rs",
                900,
            ),
            frame(
                "candle_core::tensor::Tensor::to_scalar",
                "/root/.cargo/registry/src/idx/candle-core-0.11.1/src/tensor.rs",
                600,
            ),
            frame("core::ops::function::FnOnce::call_once", "/rustc/abc/library/core/src/ops/function.rs", 250),
            frame(
                "<runtime_probe::toy::Toy as models::graph::GraphDecoder>::step",
                "/work/main/runtime-probe/src/toy.rs",
                212,
            ),
            frame("runtime_probe::runner::decode", "/work/main/runtime-probe/src/runner.rs", 40),
        ];
        let site = select_user_frame(&frames, root).unwrap();
        assert_eq!(site.to_string(), "runtime-probe/src/toy.rs:212");
        assert_eq!(site.crate_name, "runtime_probe");
    }

    #[test]
    fn crate_falls_back_to_the_path_and_files_outside_the_root_stay_absolute() {
        let root = Path::new("/work/main");
        let site = select_user_frame(
            &[FrameInfo { function: None, file: Some("/work/main/models/src/kronos.rs".into()), line: Some(7) }],
            root,
        )
        .unwrap();
        assert_eq!((site.crate_name.as_str(), site.file.as_str()), ("models", "models/src/kronos.rs"));
        let site = select_user_frame(&[frame("app::main", "/elsewhere/src/main.rs", 3)], root).unwrap();
        assert_eq!(site.file, "/elsewhere/src/main.rs");
    }

    #[test]
    fn a_stack_of_runtime_code_only_has_no_user_frame() {
        let frames = vec![
            frame("std::rt::lang_start", "/rustc/abc/library/std/src/rt.rs", 1),
            FrameInfo { function: Some("main".into()), file: None, line: None },
        ];
        assert_eq!(select_user_frame(&frames, Path::new("/w")), None);
    }
}
