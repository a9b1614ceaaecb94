//! A finding, in a form every frontend and every output format shares.

use std::path::{Path, PathBuf};

use crate::rule::Rule;
pub use crate::source::Location;
use crate::suppression::Suppressed;

/// One step of a hot path: a function and where it is defined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainLink {
    /// `Class.method` or `function`.
    pub function: String,
    /// The file, as displayed (relative to the working directory when possible).
    pub filename: String,
    /// The line of the `def`.
    pub row: u32,
}

/// Whether a finding sits on a hot path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heat {
    /// Reachable from a root; `reason` says which root (e.g. "`forward` of an nn.Module subclass").
    Hot { reason: String },
    /// Not reachable from any root (reported only with `--all-paths`).
    Cold,
    /// A finding about the file itself (syntax error, unreadable file): always reported.
    File,
}

#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub rule: &'static Rule,
    /// Why this construct syncs, in one sentence.
    pub message: String,
    /// The sync-free alternative.
    pub help: Option<String>,
    pub file: PathBuf,
    /// Byte offsets into the file.
    pub range: std::ops::Range<usize>,
    pub start: Location,
    pub end: Location,
    /// From the root to the function holding the finding (empty when cold or file-level).
    pub hot_path: Vec<ChainLink>,
    pub heat: Heat,
    /// The owner's `graphlint: ignore` that silences this finding. Only set with
    /// [`Settings::keep_suppressed`](crate::settings::Settings::keep_suppressed); otherwise
    /// suppressed findings are dropped where they are found.
    pub suppressed: Option<Suppressed>,
}

impl Diagnostic {
    /// A finding about a file rather than about code on a hot path (it is always reported), at
    /// line 1, column 1 until the caller sets a position.
    pub fn file_level(
        rule: &'static Rule,
        path: &Path,
        message: String,
        help: Option<String>,
        range: std::ops::Range<usize>,
    ) -> Self {
        let start = Location { row: 1, column: 1 };
        Diagnostic {
            rule,
            message,
            help,
            file: path.to_path_buf(),
            range,
            start,
            end: start,
            hot_path: Vec::new(),
            heat: Heat::File,
            suppressed: None,
        }
    }

    pub fn code(&self) -> &'static str {
        self.rule.code
    }

    pub fn is_hot(&self) -> bool {
        matches!(self.heat, Heat::Hot { .. })
    }

    /// The hot path as one line: `A.forward (a.py:10) → helper (b.py:3)`.
    pub fn chain_text(&self) -> String {
        self.hot_path
            .iter()
            .map(|link| format!("{} ({}:{})", link.function, file_name(&link.filename), link.row))
            .collect::<Vec<_>>()
            .join(" → ")
    }

    /// Sort key: file, then position, then code.
    pub fn sort_key(&self) -> (&PathBuf, Location, &'static str) {
        (&self.file, self.start, self.rule.code)
    }
}

fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// A function (or a loop/graph region) on a hot path, for `--show-hot`.
#[derive(Debug, Clone)]
pub struct HotFunction {
    /// From the root to this function.
    pub chain: Vec<ChainLink>,
    /// Why the chain's root is a root.
    pub reason: String,
}
