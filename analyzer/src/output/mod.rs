//! Writing diagnostics: `full` (miette), `concise` (one line each), `json` (ruff's shape),
//! `json-lines`, `sarif` (2.1.0, for code scanning) and `github` (workflow commands).

mod concise;
mod full;
mod github;
mod json;
mod sarif;

use std::io::{self, Write};

use crate::diagnostic::Diagnostic;
use crate::source::Overlay;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    #[default]
    Full,
    Concise,
    Json,
    JsonLines,
    Sarif,
    Github,
}

impl OutputFormat {
    /// Whether the format is read by people (and so gets the summary line).
    pub fn is_human(self) -> bool {
        matches!(self, OutputFormat::Full | OutputFormat::Concise)
    }
}

/// How the `full` format looks, and where its code frames read the files.
#[derive(Debug, Clone, Copy)]
pub struct Style<'a> {
    pub color: bool,
    pub width: usize,
    /// The run's unsaved texts: a code frame shows the text that was checked, not the disk's.
    pub overlay: Option<&'a Overlay>,
}

impl Default for Style<'_> {
    fn default() -> Self {
        Style { color: false, width: 100, overlay: None }
    }
}

/// Writes `diagnostics` (already sorted) in `format`.
pub fn write_diagnostics(
    out: &mut dyn Write,
    diagnostics: &[Diagnostic],
    format: OutputFormat,
    style: Style<'_>,
) -> io::Result<()> {
    match format {
        OutputFormat::Full => full::write(out, diagnostics, style),
        OutputFormat::Concise => concise::write(out, diagnostics),
        OutputFormat::Json => json::write(out, diagnostics),
        OutputFormat::JsonLines => json::write_lines(out, diagnostics),
        OutputFormat::Sarif => sarif::write(out, diagnostics),
        OutputFormat::Github => github::write(out, diagnostics),
    }
}

/// One line per code, most frequent first (`--statistics`), then the total (unless `total` is
/// false; JSON gets none: its rows add up).
pub fn write_statistics(
    out: &mut dyn Write,
    diagnostics: &[Diagnostic],
    format: OutputFormat,
    total: bool,
) -> io::Result<()> {
    let mut counts: Vec<(&'static crate::rule::Rule, usize)> = Vec::new();
    for diagnostic in diagnostics {
        match counts.iter_mut().find(|(rule, _)| rule.code == diagnostic.rule.code) {
            Some((_, count)) => *count += 1,
            None => counts.push((diagnostic.rule, 1)),
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.code.cmp(b.0.code)));
    if format == OutputFormat::Json {
        let rows: Vec<_> = counts
            .iter()
            .map(|(rule, count)| serde_json::json!({"code": rule.code, "name": rule.name, "count": count}))
            .collect();
        serde_json::to_writer_pretty(&mut *out, &rows)?;
        return writeln!(out);
    }
    let width = counts.iter().map(|(_, c)| c.to_string().len()).max().unwrap_or(1);
    for (rule, count) in &counts {
        writeln!(out, "{count:>width$}\t{}\t{}", rule.code, rule.name)?;
    }
    if total {
        let noun = if diagnostics.len() == 1 { "finding" } else { "findings" };
        writeln!(out, "Found {} {noun}.", diagnostics.len())?;
    }
    Ok(())
}
