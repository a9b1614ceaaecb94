//! Path globs of `exclude`, `extend-exclude` and `per-file-ignores`, anchored at the directory
//! of the configuration file that wrote them.
//!
//! As in ruff, a pattern matches a path when it matches the absolute path (the pattern joined
//! to its anchor) or, for a pattern without a `/`, the path's last component. `*` also matches
//! `/`, so `tests/*` covers everything under `tests/`.

use std::path::Path;

use globset::{GlobBuilder, GlobMatcher};

/// Why a pattern is not a glob, in words (globset's message without the glob it repeats).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidPattern(pub String);

#[derive(Debug, Clone)]
pub struct PathPattern {
    /// As written in the configuration.
    pub text: String,
    absolute: GlobMatcher,
    basename: Option<GlobMatcher>,
}

impl PathPattern {
    /// Compiles `pattern` relative to `anchor` (an absolute directory).
    pub fn new(pattern: &str, anchor: &Path) -> Result<Self, InvalidPattern> {
        let trimmed = pattern.trim_end_matches('/');
        let trimmed = trimmed.strip_prefix("./").unwrap_or(trimmed);
        if trimmed.is_empty() {
            return Err(InvalidPattern("an empty pattern matches nothing".into()));
        }
        let compile = |glob: &str| {
            GlobBuilder::new(glob).literal_separator(false).build().map(|g| g.compile_matcher()).map_err(|e| {
                // globset's message repeats the glob; keep only the reason.
                let reason = e.kind().to_string();
                InvalidPattern(reason.strip_prefix("error parsing glob").map(str::trim).unwrap_or(&reason).to_string())
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
}
