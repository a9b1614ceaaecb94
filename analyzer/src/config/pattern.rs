//! Path globs of `exclude`, `extend-exclude` and `per-file-ignores`, anchored at the directory
//! of the configuration file that wrote them.
//!
//! As in ruff, a pattern matches a path when it matches the absolute path (the pattern joined
//! to its anchor) or, for a pattern without a `/`, the path's last component. `*` also matches
//! `/`, so `tests/*` covers everything under `tests/`.

use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use globset::{GlobBuilder, GlobMatcher};

#[derive(Debug, Clone)]
pub struct PathPattern {
    /// As written in the configuration.
    pub text: String,
    absolute: GlobMatcher,
    basename: Option<GlobMatcher>,
}

impl PathPattern {
    /// Compiles `pattern` relative to `anchor` (an absolute directory). The error is the glob
    /// syntax error, in words.
    pub fn new(pattern: &str, anchor: &Path) -> Result<Self, String> {
        let trimmed = pattern.trim_end_matches('/');
        let trimmed = trimmed.strip_prefix("./").unwrap_or(trimmed);
        if trimmed.is_empty() {
            return Err("an empty pattern matches nothing".into());
        }
        let compile = |glob: &str| {
            GlobBuilder::new(glob).literal_separator(false).build().map(|g| g.compile_matcher()).map_err(|e| {
                // globset's message repeats the glob; keep only the reason.
                let reason = e.kind().to_string();
                reason.strip_prefix("error parsing glob").map(str::trim).unwrap_or(&reason).to_string()
            })
        };
        let absolute = if Path::new(trimmed).is_absolute() {
            compile(trimmed)?
        } else {
            let anchor = globset::escape(&anchor.to_string_lossy());
            compile(&format!("{}/{trimmed}", anchor.trim_end_matches('/')))?
        };
        let basename = if trimmed.contains('/') { None } else { Some(compile(trimmed)?) };
        Ok(PathPattern { text: pattern.to_string(), absolute, basename })
    }

    /// Whether `path` (absolute and normalised) matches.
    pub fn matches(&self, path: &Path) -> bool {
        self.absolute.is_match(path)
            || self.basename.as_ref().is_some_and(|b| path.file_name().is_some_and(|name| b.is_match(name)))
    }
}

/// The working directory, read once: paths are made absolute and shown relative to it for
/// every file and finding, and graphlint never changes it.
pub fn current_dir() -> Option<&'static Path> {
    static CWD: OnceLock<Option<PathBuf>> = OnceLock::new();
    CWD.get_or_init(|| std::env::current_dir().ok()).as_deref()
}

/// `path` made absolute against the current directory, with `.` and `..` resolved lexically
/// (symlinks are left alone, so paths keep the spelling the user sees).
pub fn absolute(path: &Path) -> PathBuf {
    let joined = match current_dir() {
        Some(cwd) if !path.is_absolute() => cwd.join(path),
        _ => path.to_path_buf(),
    };
    let mut out = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchored_and_basename_matching() {
        let root = Path::new("/repo/sub");
        let tests = PathPattern::new("tests/*", root).unwrap();
        assert!(tests.matches(Path::new("/repo/sub/tests/a.py")));
        assert!(tests.matches(Path::new("/repo/sub/tests/deep/a.py")));
        assert!(!tests.matches(Path::new("/repo/tests/a.py")));
        let name = PathPattern::new("legacy/", root).unwrap();
        assert!(name.matches(Path::new("/repo/sub/legacy")));
        assert!(name.matches(Path::new("/repo/sub/x/legacy")), "a bare name matches at any depth");
        let glob = PathPattern::new("*_pb2.py", root).unwrap();
        assert!(glob.matches(Path::new("/elsewhere/m_pb2.py")));
        let weird_anchor = PathPattern::new("a.py", Path::new("/repo/[x]")).unwrap();
        assert!(weird_anchor.matches(Path::new("/repo/[x]/a.py")));
        assert!(PathPattern::new("src/[a-", root).is_err());
        assert!(PathPattern::new("{a,b", root).is_err());
        assert!(PathPattern::new("", root).is_err());
    }

    #[test]
    fn absolute_resolves_dots() {
        assert_eq!(absolute(Path::new("/a/b/../c/./d")), PathBuf::from("/a/c/d"));
    }
}
