use std::collections::HashMap;
use std::fmt;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, Severity, SourceCode};

use super::Style;
use crate::diagnostic::{Diagnostic, Heat};
use crate::paths::display_path;
use crate::rule::Family;
use crate::source::Overlay;

/// One diagnostic in miette's terms: the snippet, a primary label and the help line.
struct Report<'a> {
    diagnostic: &'a Diagnostic,
    source: NamedSource<Arc<str>>,
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(format!("{}({})", self.diagnostic.code(), self.diagnostic.rule.name)))
    }

    fn severity(&self) -> Option<Severity> {
        Some(if self.diagnostic.rule.family == Family::Meta { Severity::Error } else { Severity::Warning })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.diagnostic.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let range = &self.diagnostic.range;
        let label = match &self.diagnostic.heat {
            _ if self.diagnostic.rule.code == crate::meta::UNUSED_SUPPRESSION.code => "suppresses nothing",
            Heat::Cold => "syncs here (cold path)",
            Heat::File => "here",
            Heat::Hot { .. } => "syncs here",
        };
        let span = LabeledSpan::new_primary_with_span(Some(label.to_string()), range.start..range.end.max(range.start));
        Some(Box::new(std::iter::once(span)))
    }
}

/// A finding further than this from both ends of its line shows no snippet: miette pads the label
/// out to its column (and panics past column 65,535), and each finding on a one-line generated
/// file would print that whole line again.
const MAX_SNIPPET_LINE: usize = 1_000;

pub(super) fn write(out: &mut dyn Write, diagnostics: &[Diagnostic], style: Style<'_>) -> io::Result<()> {
    let theme = if style.color { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(style.width).with_links(false);
    let mut sources: HashMap<PathBuf, Arc<str>> = HashMap::new();
    let no_snippet: Arc<str> = Arc::from("");
    for diagnostic in diagnostics {
        let mut text = sources
            .entry(diagnostic.file.clone())
            .or_insert_with(|| read_for_display(&diagnostic.file, style.overlay))
            .clone();
        if on_a_long_line(text.as_bytes(), &diagnostic.range) {
            text = no_snippet.clone();
        }
        let report = Report { diagnostic, source: NamedSource::new(display_path(&diagnostic.file), text) };
        let handler = match note(diagnostic) {
            Some(note) => handler.clone().with_footer(note),
            None => handler.clone(),
        };
        let mut rendered = String::new();
        handler.render_report(&mut rendered, &report).map_err(|_| io::Error::other("rendering failed"))?;
        writeln!(out, "{rendered}")?;
    }
    Ok(())
}

/// Whether `range` starts more than [`MAX_SNIPPET_LINE`] bytes into its line or ends that far
/// from the line's end (only that many bytes either side are looked at).
fn on_a_long_line(text: &[u8], range: &std::ops::Range<usize>) -> bool {
    let start = range.start.min(text.len());
    let end = range.end.clamp(start, text.len());
    let far_from_start = start > MAX_SNIPPET_LINE && !text[start - MAX_SNIPPET_LINE..start].contains(&b'\n');
    let far_from_end = text.len() - end > MAX_SNIPPET_LINE && !text[end..end + MAX_SNIPPET_LINE].contains(&b'\n');
    far_from_start || far_from_end
}

/// The hot-path note under each finding.
fn note(diagnostic: &Diagnostic) -> Option<String> {
    match &diagnostic.heat {
        Heat::Hot { reason } => Some(format!("note: hot path ({reason}): {}", diagnostic.chain_text())),
        Heat::Cold => Some("note: not reachable from any hot-path root (reported because of --all-paths)".into()),
        Heat::File => None,
    }
}

/// The file's text for the snippet (its unsaved text when the overlay has one); a file that
/// vanished shows no snippet lines.
fn read_for_display(path: &PathBuf, overlay: Option<&Overlay>) -> Arc<str> {
    if let Some(text) = overlay.and_then(|o| o.get(path)) {
        return text.clone();
    }
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into(),
        Err(_) => Arc::from(""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Location;

    #[test]
    fn a_finding_far_into_a_long_line_shows_no_snippet() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("long.rs");
        let line = "x".repeat(100_000);
        std::fs::write(&path, format!("fn f() {{}}\n{line}\n")).unwrap();
        let at = 11 + 70_000;
        let mut diagnostic =
            Diagnostic::file_level(&crate::meta::UNUSED_SUPPRESSION, &path, "m".into(), None, at..at + 1);
        diagnostic.start = Location { row: 2, column: 70_001 };
        diagnostic.end = Location { row: 2, column: 70_002 };
        let mut out = Vec::new();
        write(&mut out, std::slice::from_ref(&diagnostic), Style { color: false, width: 100, overlay: None }).unwrap();
        assert!(out.len() < 1_000, "{} bytes", out.len());
        // Near the start of a line, the snippet is shown.
        diagnostic.range = 0..2;
        let mut out = Vec::new();
        write(&mut out, std::slice::from_ref(&diagnostic), Style { color: false, width: 100, overlay: None }).unwrap();
        assert!(String::from_utf8(out).unwrap().contains("fn f() {}"));
    }
}
