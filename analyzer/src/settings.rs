//! What a run checks: rule selection and reporting options. A config-file layer will fill the
//! same [`Settings`] later; the CLI is one source of it.

use crate::registry::{self, prefix_matches};

/// `--select` / `--ignore`, resolved like ruff: the most specific matching selector wins, and on a
/// tie `--ignore` wins.
#[derive(Debug, Clone)]
pub struct RuleSelection {
    select: Vec<String>,
    ignore: Vec<String>,
}

impl Default for RuleSelection {
    fn default() -> Self {
        RuleSelection { select: vec!["ALL".into()], ignore: Vec::new() }
    }
}

impl RuleSelection {
    /// Validates each selector against the registry, so a typo is an error and not a silent no-op.
    pub fn new(select: &[String], ignore: &[String]) -> Result<Self, String> {
        for selector in select.iter().chain(ignore) {
            if !registry::selector_matches_any(selector) {
                return Err(format!("unknown rule selector `{selector}` (see `graphlint rule --all`)"));
            }
        }
        let select = if select.is_empty() { vec!["ALL".to_string()] } else { select.to_vec() };
        Ok(RuleSelection { select, ignore: ignore.to_vec() })
    }

    pub fn is_enabled(&self, code: &str) -> bool {
        let specificity = |selectors: &[String]| {
            selectors
                .iter()
                .filter(|s| prefix_matches(s, code))
                .map(|s| if s.eq_ignore_ascii_case("ALL") { 0 } else { s.len() as i32 })
                .max()
                .unwrap_or(-1)
        };
        let selected = specificity(&self.select);
        selected >= 0 && selected > specificity(&self.ignore)
    }
}

/// Everything that shapes which diagnostics a run reports.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub selection: RuleSelection,
    /// Report findings outside hot paths too (marked cold).
    pub all_paths: bool,
    /// Extra hot-path roots: `pkg.mod:Class.method` or globs such as `*.generate*`.
    pub hot_patterns: Vec<String>,
    /// Also list every hot function with its chain (`--show-hot`).
    pub list_hot: bool,
    /// Keep the findings that a `graphlint: ignore` silences, with [`Diagnostic::suppressed`]
    /// naming the directive and its reason, instead of dropping them. For tools that compare the
    /// analysis with something else (the probe's `--static-check`); the CLI never sets it, and
    /// the output formats do not show the mark.
    ///
    /// [`Diagnostic::suppressed`]: crate::diagnostic::Diagnostic::suppressed
    pub keep_suppressed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(select: &[&str], ignore: &[&str]) -> RuleSelection {
        let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        RuleSelection::new(&owned(select), &owned(ignore)).unwrap()
    }

    #[test]
    fn most_specific_selector_wins() {
        assert!(sel(&[], &[]).is_enabled("GL201"));
        assert!(!sel(&["GL3"], &[]).is_enabled("GL201"));
        assert!(sel(&["GL3"], &[]).is_enabled("GL301"));
        assert!(!sel(&[], &["GL2"]).is_enabled("GL201"));
        assert!(sel(&["GL201"], &["GL2"]).is_enabled("GL201"));
        assert!(!sel(&["GL2"], &["GL201"]).is_enabled("GL201"));
        assert!(!sel(&["GL2"], &["GL2"]).is_enabled("GL201"));
        assert!(sel(&["gl201"], &[]).is_enabled("GL201"));
    }

    #[test]
    fn unknown_selectors_are_errors() {
        assert!(RuleSelection::new(&["GL99".into()], &[]).is_err());
        assert!(RuleSelection::new(&[], &["E501".into()]).is_err());
    }
}
