//! What a run checks: rule selection and hot-path options.
//!
//! [`Settings`] is what the language frontends see for the whole run. Configuration files
//! (see [`crate::config`]) resolve to one [`crate::config::Configuration`] per file; the engine
//! hands the frontends the union of what those enable, then filters each file's findings by its
//! own configuration.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::profiles::{Profile, PROFILES};
use crate::rule::{prefix_matches, selector_matches_any, CODES};
use crate::source::Overlay;

/// One layer of `select` / `extend-select` / `ignore`: a config file, a file it extends, or the
/// command line. Layers apply in order, like ruff's: a layer that sets `select` starts over from
/// what it selects; one that does not keeps what the layers before it enabled.
#[derive(Debug, Clone, Default)]
pub struct SelectionLayer {
    pub select: Option<Vec<String>>,
    pub extend_select: Vec<String>,
    pub ignore: Vec<String>,
}

/// The set of enabled rules. Within a layer the most specific matching selector wins
/// (`GL201` beats `GL2` beats `ALL`), and on a tie `ignore` wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSelection {
    /// Indexed like [`CODES`] (which is sorted).
    enabled: Vec<bool>,
}

impl Default for RuleSelection {
    fn default() -> Self {
        RuleSelection { enabled: vec![true; CODES.len()] }
    }
}

impl RuleSelection {
    /// `--select` / `--ignore` over the default (every rule). Each selector is validated against
    /// the registry, so a typo is an error and not a silent no-op.
    pub fn new(select: &[String], ignore: &[String]) -> Result<Self, UnknownSelector> {
        let layer = SelectionLayer {
            select: (!select.is_empty()).then(|| select.to_vec()),
            extend_select: Vec::new(),
            ignore: ignore.to_vec(),
        };
        Self::from_layers(&[layer])
    }

    /// Applies `layers` in order over the default selection (every rule).
    pub fn from_layers(layers: &[SelectionLayer]) -> Result<Self, UnknownSelector> {
        let mut selection = RuleSelection::default();
        for layer in layers {
            selection = selection.with_layer(layer)?;
        }
        Ok(selection)
    }

    /// This selection with one more layer applied on top.
    pub fn with_layer(&self, layer: &SelectionLayer) -> Result<Self, UnknownSelector> {
        let all = layer.select.iter().flatten().chain(&layer.extend_select).chain(&layer.ignore);
        for selector in all {
            validate_selector(selector)?;
        }
        let enabled = CODES
            .iter()
            .zip(&self.enabled)
            .map(|(&code, &was_enabled)| {
                let mut selected = specificity(layer.select.iter().flatten().chain(&layer.extend_select), code);
                if layer.select.is_none() && was_enabled {
                    // Inherited from an earlier layer: as weak as `ALL`.
                    selected = selected.max(0);
                }
                selected >= 0 && selected > specificity(layer.ignore.iter(), code)
            })
            .collect();
        Ok(RuleSelection { enabled })
    }

    /// The rules enabled by any of `selections`.
    pub fn union<'a>(selections: impl IntoIterator<Item = &'a RuleSelection>) -> RuleSelection {
        let mut enabled = vec![false; CODES.len()];
        for selection in selections {
            for (out, on) in enabled.iter_mut().zip(&selection.enabled) {
                *out |= on;
            }
        }
        RuleSelection { enabled }
    }

    pub fn is_enabled(&self, code: &str) -> bool {
        CODES.binary_search(&code).is_ok_and(|index| self.enabled[index])
    }
}

/// A `--select`/`--ignore`/configuration selector that names no rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownSelector(pub String);

impl std::fmt::Display for UnknownSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown rule selector `{}` (see `graphlint rule --all`)", self.0)
    }
}

/// Whether `selector` names a rule (`ALL`, a code or a code prefix).
pub fn validate_selector(selector: &str) -> Result<(), UnknownSelector> {
    if selector_matches_any(selector) {
        Ok(())
    } else {
        Err(UnknownSelector(selector.to_string()))
    }
}

/// How specific the most specific selector matching `code` is: -1 for none, 0 for `ALL`, else
/// its length.
fn specificity<'a>(selectors: impl Iterator<Item = &'a String>, code: &str) -> i32 {
    selectors
        .filter(|s| prefix_matches(s, code))
        .map(|s| if s.eq_ignore_ascii_case("ALL") { 0 } else { s.len() as i32 })
        .max()
        .unwrap_or(-1)
}

/// Hot-path root patterns (`pkg.mod:Class.method`, or globs such as `*.generate*`): `hot` makes
/// matching functions roots, `cold` keeps them (and what only they reach) off hot paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootPatterns {
    pub hot: Vec<String>,
    pub cold: Vec<String>,
    /// Framework profiles whose patterns are roots too (default: every built-in one).
    pub profiles: Vec<&'static Profile>,
}

impl Default for RootPatterns {
    fn default() -> Self {
        RootPatterns { hot: Vec::new(), cold: Vec::new(), profiles: PROFILES.iter().collect() }
    }
}

/// Everything the frontends need to know about a run.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Rules to check. With configuration files this is the union over every file's
    /// configuration; the engine filters each file's findings by its own.
    pub selection: RuleSelection,
    /// Report findings outside hot paths too (marked cold). With configuration files: whether
    /// any file's configuration asks for them.
    pub all_paths: bool,
    /// Root patterns for files without an entry in `file_roots` (the `--hot` flag alone).
    pub roots: RootPatterns,
    /// Root patterns of each file's configuration, by path as discovered.
    pub file_roots: FxHashMap<PathBuf, Arc<RootPatterns>>,
    /// Also list every hot function with its chain (`--show-hot`).
    pub list_hot: bool,
    /// Keep the findings that a `graphlint: ignore` silences, with [`Diagnostic::suppressed`]
    /// naming the directive and its reason, instead of dropping them. For tools that compare the
    /// analysis with something else (the probe's `--static-check`); the CLI never sets it, and
    /// the output formats do not show the mark.
    ///
    /// [`Diagnostic::suppressed`]: crate::diagnostic::Diagnostic::suppressed
    pub keep_suppressed: bool,
    /// Unsaved texts read instead of the files on disk (stdin, an editor's buffers).
    pub overlay: Option<Arc<Overlay>>,
    /// The files whose findings the run reports, when not all (the others are context for hot
    /// paths): a frontend may skip what only the others' findings need.
    pub reported: Option<Arc<FxHashSet<PathBuf>>>,
    /// The process exits once the run's result is out (the CLI, not the language server): what
    /// the run built is left for the exit to release, which it does at once, rather than freed
    /// piece by piece (1% of the CPU time on the transformers wheel).
    pub exits_after: bool,
}

impl Settings {
    /// The root patterns that apply to functions defined in `path`.
    pub fn roots_for(&self, path: &Path) -> &RootPatterns {
        self.file_roots.get(path).map_or(&self.roots, |roots| roots)
    }

    /// Whether the run reports the findings of the file at `path` (see [`Settings::reported`]).
    pub fn reports(&self, path: &Path) -> bool {
        self.reported.as_ref().is_none_or(|reported| reported.contains(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn sel(select: &[&str], ignore: &[&str]) -> RuleSelection {
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
        assert!(!sel(&[], &[]).is_enabled("GL999"), "a code not in the registry is never enabled");
    }

    #[test]
    fn unknown_selectors_are_errors() {
        assert!(RuleSelection::new(&["GL99".into()], &[]).is_err());
        assert!(RuleSelection::new(&[], &["E501".into()]).is_err());
    }

    #[test]
    fn layers_apply_in_order() {
        let layer = |select: Option<&[&str]>, extend: &[&str], ignore: &[&str]| SelectionLayer {
            select: select.map(owned),
            extend_select: owned(extend),
            ignore: owned(ignore),
        };
        // A base selects GL2; a child adds GL301 and drops GL202.
        let s = RuleSelection::from_layers(&[layer(Some(&["GL2"]), &[], &[]), layer(None, &["GL301"], &["GL202"])])
            .unwrap();
        assert!(s.is_enabled("GL201") && s.is_enabled("GL301"));
        assert!(!s.is_enabled("GL202") && !s.is_enabled("GL302"));
        // A later `select` starts over.
        let s =
            RuleSelection::from_layers(&[layer(Some(&["GL2"]), &[], &[]), layer(Some(&["GL3"]), &[], &[])]).unwrap();
        assert!(!s.is_enabled("GL201") && s.is_enabled("GL301"));
        // A later `extend-select` re-enables what an earlier layer ignored.
        let s = RuleSelection::from_layers(&[layer(None, &[], &["GL2"]), layer(None, &["GL201"], &[])]).unwrap();
        assert!(s.is_enabled("GL201") && !s.is_enabled("GL202"));
        // Within one layer, `ignore = ["ALL"]` plus `extend-select = ["GL1"]` keeps only GL1.
        let s = RuleSelection::from_layers(&[layer(None, &["GL1"], &["ALL"])]).unwrap();
        assert!(s.is_enabled("GL101") && !s.is_enabled("GL201"));
        assert_eq!(RuleSelection::union([&sel(&["GL1"], &[]), &sel(&["GL2"], &[])]), sel(&["GL1", "GL2"], &[]));
    }
}
