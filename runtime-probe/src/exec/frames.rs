//! Which frame of a sync's stack is reported: for a Python stack, the innermost frame outside
//! the interpreter's own library and the framework internals (PyTorch, Triton and the packages
//! `--internal` names); for a native stack, the first user frame, as `probe run` picks it.

use std::path::Path;

use super::trace::Frame;
use crate::trace::{select_user_frame, FrameInfo};

/// Packages whose frames are never the answer: the syncs happen inside them, on behalf of a
/// caller's line.
pub const INTERNAL_PACKAGES: &[&str] = &["torch", "triton", "torchgen", "functorch", "typing_extensions"];

/// A reported location.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Site {
    pub file: String,
    pub line: u32,
    pub function: Option<String>,
    /// `python` or `native`.
    pub kind: &'static str,
}

/// The top-level package of a file installed under site-packages or dist-packages.
fn installed_package(file: &str) -> Option<&str> {
    let (_, rest) = file.rsplit_once("/site-packages/").or_else(|| file.rsplit_once("/dist-packages/"))?;
    let first = rest.split('/').next()?;
    Some(first.strip_suffix(".py").unwrap_or(first))
}

/// Python's own library: `<frozen …>`, `<string>`, and `…/lib/pythonX.Y/` outside site-packages.
fn is_stdlib(file: &str) -> bool {
    if file.starts_with('<') {
        return true;
    }
    let Some(i) = file.find("/lib/python3") else { return false };
    !file[i..].contains("-packages/")
}

pub fn is_internal(file: &str, extra: &[String]) -> bool {
    if is_stdlib(file) {
        return true;
    }
    let Some(package) = installed_package(file) else { return false };
    INTERNAL_PACKAGES.contains(&package) || extra.iter().any(|p| p == package)
}

/// The reported frame of a Python stack (innermost first).
pub fn python_site(stack: &[Frame], extra_internal: &[String]) -> Option<Site> {
    stack.iter().find_map(|f| {
        let (file, line) = (f.file.as_deref()?, f.line?);
        (!is_internal(file, extra_internal)).then(|| Site {
            file: file.to_string(),
            line,
            function: f.function.clone(),
            kind: "python",
        })
    })
}

/// The reported frame of a native stack (innermost first).
pub fn native_site(stack: &[Frame]) -> Option<Site> {
    let frames: Vec<FrameInfo> =
        stack.iter().map(|f| FrameInfo { function: f.function.clone(), file: f.file.clone(), line: f.line }).collect();
    // Paths stay absolute: the traced program was not built from this workspace.
    let site = select_user_frame(&frames, Path::new("/nonexistent-root"))?;
    Some(Site { file: site.file, line: site.line, function: site.function, kind: "native" })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(file: &str, line: u32, function: &str) -> Frame {
        Frame { file: Some(file.into()), line: Some(line), function: Some(function.into()) }
    }

    const SP: &str = "/opt/venv/lib/python3.12/site-packages";

    #[test]
    fn torch_internals_and_the_stdlib_are_skipped_for_the_calling_line() {
        let stack = vec![
            frame(&format!("{SP}/torch/_tensor.py"), 1100, "Tensor.__bool__"),
            frame("/usr/lib/python3.12/contextlib.py", 81, "ContextDecorator.inner"),
            frame(&format!("{SP}/toto/model/util.py"), 212, "KVCache.append"),
            frame(&format!("{SP}/toto/model/backbone.py"), 90, "TotoBackbone.forward"),
            frame("/home/u/forecast.py", 10, "<module>"),
        ];
        let site = python_site(&stack, &[]).unwrap();
        assert_eq!((site.file.as_str(), site.line), (&*format!("{SP}/toto/model/util.py"), 212));
        assert_eq!(site.function.as_deref(), Some("KVCache.append"));
        // Declared internal too: the caller in the program is reported.
        let site = python_site(&stack, &["toto".to_string()]).unwrap();
        assert_eq!((site.file.as_str(), site.line), ("/home/u/forecast.py", 10));
    }

    #[test]
    fn a_package_named_like_torch_is_not_torch_and_a_stack_of_internals_has_no_site() {
        assert!(!is_internal(&format!("{SP}/torchmetrics/functional.py"), &[]));
        assert!(is_internal(&format!("{SP}/torch.py"), &[]));
        assert!(is_internal("<frozen importlib._bootstrap>", &[]));
        assert!(!is_internal("/home/u/project/torch_utils.py", &[]));
        let stack = vec![frame(&format!("{SP}/torch/cuda/__init__.py"), 1000, "synchronize")];
        assert_eq!(python_site(&stack, &[]), None);
    }

    #[test]
    fn native_stacks_skip_frames_without_lines_and_rust_runtime_code() {
        let stack = vec![
            Frame { file: None, line: None, function: Some("cuStreamSynchronize".into()) },
            frame("/rustc/abc/library/core/src/ops/function.rs", 250, "core::ops::function::FnOnce::call_once"),
            frame("/src/app/main.cpp", 42, "step"),
        ];
        let site = native_site(&stack).unwrap();
        assert_eq!((site.file.as_str(), site.line, site.kind), ("/src/app/main.cpp", 42, "native"));
    }
}
