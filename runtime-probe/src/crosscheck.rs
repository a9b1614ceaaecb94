//! Phase 7, `--static-check`: compares the sync sites the tracer saw at run time with graphlint's
//! static findings on the same files.
//!
//! graphlint's Rust frontend does not exist yet, so the flag reports that and exits 2. The matching
//! is written against the interface the probe expects from it: a list of findings with a file
//! (relative to the workspace root, as the tracer reports it), a line, a rule code, and whether the
//! finding is in a hot path and whether it was suppressed (`# graphlint: ignore[...]`).

use serde::Serialize;

use crate::trace::Site;

pub const NOT_AVAILABLE: &str = "--static-check is not available yet: it needs graphlint's Rust \
    frontend (candle/cudarc analysis), which has not landed. Run without --static-check; the \
    runtime sites are in the report's `eager.sites` and `capture` sections.";

/// One static finding, as the probe expects graphlint's Rust analysis to give it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaticFinding {
    pub file: String,
    pub line: u32,
    pub code: String,
    /// Reachable from a decode step / capture region.
    pub hot: bool,
    /// Silenced in the source with a graphlint ignore comment.
    pub suppressed: bool,
}

impl StaticFinding {
    /// Reads graphlint's `--output-format json` (ruff's shape, issue 2: `code`, `filename`,
    /// `location.row`, plus `hot_path`). Suppressed findings are not in that output, so
    /// `suppressed` is false; paths are made relative to `root` like the tracer's.
    pub fn from_graphlint_json(json: &str, root: &std::path::Path) -> Result<Vec<Self>, String> {
        let items: Vec<serde_json::Value> = serde_json::from_str(json).map_err(|e| format!("graphlint JSON: {e}"))?;
        items
            .iter()
            .map(|f| {
                let field = |k: &str| f.get(k).ok_or_else(|| format!("graphlint JSON: a finding without `{k}`"));
                let filename = field("filename")?.as_str().unwrap_or_default();
                let file = std::path::Path::new(filename)
                    .strip_prefix(root)
                    .map_or_else(|_| filename.to_string(), |p| p.to_string_lossy().into_owned());
                Ok(Self {
                    file,
                    line: field("location")?.get("row").and_then(serde_json::Value::as_u64).unwrap_or(0) as u32,
                    code: field("code")?.as_str().unwrap_or_default().to_string(),
                    hot: f.get("hot_path").and_then(serde_json::Value::as_array).is_some_and(|a| !a.is_empty()),
                    suppressed: false,
                })
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RuntimeMatch {
    /// graphlint flagged the line the tracer saw.
    Confirmed { code: String, suppressed: bool },
    /// The tracer saw a sync graphlint did not flag.
    Missed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CrossCheck {
    pub runtime: Vec<(Site, RuntimeMatch)>,
    /// Hot static findings the run never hit (not necessarily false positives: the run may not
    /// have taken that path).
    pub static_only: Vec<StaticFinding>,
}

/// Matches on (file, line). A multi-line call is attributed by the backtrace to the line of the
/// call expression, which is where graphlint reports it as well.
pub fn cross_check(runtime: &[Site], findings: &[StaticFinding]) -> CrossCheck {
    let runtime_matches = runtime
        .iter()
        .map(|site| {
            let hit = findings.iter().find(|f| f.file == site.file && f.line == site.line);
            let m = hit.map_or(RuntimeMatch::Missed, |f| RuntimeMatch::Confirmed {
                code: f.code.clone(),
                suppressed: f.suppressed,
            });
            (site.clone(), m)
        })
        .collect();
    let static_only = findings
        .iter()
        .filter(|f| f.hot && !runtime.iter().any(|s| s.file == f.file && s.line == f.line))
        .cloned()
        .collect();
    CrossCheck { runtime: runtime_matches, static_only }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(file: &str, line: u32) -> Site {
        Site { crate_name: "models".into(), file: file.into(), line, function: None }
    }

    fn finding(file: &str, line: u32, hot: bool) -> StaticFinding {
        StaticFinding { file: file.into(), line, code: "GL801".into(), hot, suppressed: false }
    }

    #[test]
    fn reads_graphlint_json_findings() {
        let json = r#"[{"code": "GL801", "message": "m", "filename": "/w/models/src/a.rs",
            "location": {"row": 10, "column": 5}, "hot_path": [{"function": "step", "filename": "x", "row": 1}]},
            {"code": "GL802", "message": "m", "filename": "models/src/b.rs", "location": {"row": 3, "column": 1}, "hot_path": []}]"#;
        let f = StaticFinding::from_graphlint_json(json, std::path::Path::new("/w")).unwrap();
        assert_eq!(f[0], finding("models/src/a.rs", 10, true));
        assert_eq!((f[1].file.as_str(), f[1].hot, f[1].code.as_str()), ("models/src/b.rs", false, "GL802"));
        assert!(StaticFinding::from_graphlint_json(r#"[{"code": "X"}]"#, std::path::Path::new("/")).is_err());
    }

    #[test]
    fn confirms_misses_and_lists_hot_static_only_findings() {
        let runtime = [site("models/src/a.rs", 10), site("models/src/a.rs", 20)];
        let findings = [finding("models/src/a.rs", 10, true), finding("models/src/b.rs", 5, true), finding("models/src/b.rs", 9, false)];
        let c = cross_check(&runtime, &findings);
        assert_eq!(c.runtime[0].1, RuntimeMatch::Confirmed { code: "GL801".into(), suppressed: false });
        assert_eq!(c.runtime[1].1, RuntimeMatch::Missed);
        assert_eq!(c.static_only, vec![finding("models/src/b.rs", 5, true)]);
    }
}
