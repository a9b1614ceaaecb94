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

pub(super) fn write(out: &mut dyn Write, diagnostics: &[Diagnostic], style: Style<'_>) -> io::Result<()> {
    let theme = if style.color { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(style.width).with_links(false);
    let mut sources: HashMap<PathBuf, Arc<str>> = HashMap::new();
    for diagnostic in diagnostics {
        let text = sources
            .entry(diagnostic.file.clone())
            .or_insert_with(|| read_for_display(&diagnostic.file, style.overlay))
            .clone();
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
