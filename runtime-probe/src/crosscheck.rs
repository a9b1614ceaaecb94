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
    fn confirms_misses_and_lists_hot_static_only_findings() {
        let runtime = [site("models/src/a.rs", 10), site("models/src/a.rs", 20)];
        let findings = [finding("models/src/a.rs", 10, true), finding("models/src/b.rs", 5, true), finding("models/src/b.rs", 9, false)];
        let c = cross_check(&runtime, &findings);
        assert_eq!(c.runtime[0].1, RuntimeMatch::Confirmed { code: "GL801".into(), suppressed: false });
        assert_eq!(c.runtime[1].1, RuntimeMatch::Missed);
        assert_eq!(c.static_only, vec![finding("models/src/b.rs", 5, true)]);
    }
}
