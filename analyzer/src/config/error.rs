//! A configuration error, rendered by miette with a label pointing into the TOML.

use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceCode};

#[derive(Debug)]
pub struct ConfigError {
    pub message: String,
    /// The file and the span the label points at, when the error is inside a file.
    pub location: Option<Box<ErrorLocation>>,
    pub help: Option<String>,
}

#[derive(Debug)]
pub struct ErrorLocation {
    pub source: NamedSource<Arc<str>>,
    pub span: Range<usize>,
    pub label: String,
}

impl ConfigError {
    /// An error that is not about a place in a file (e.g. `--config` names a missing file).
    pub fn plain(message: impl Into<String>) -> Self {
        ConfigError { message: message.into(), location: None, help: None }
    }

    /// An error at `span` of the configuration file `path` whose text is `text`.
    pub fn at(
        path: &Path,
        text: &Arc<str>,
        span: Range<usize>,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> Self {
        let name = crate::paths::display_path(path);
        ConfigError {
            message: message.into(),
            location: Some(Box::new(ErrorLocation {
                source: NamedSource::new(name, text.clone()),
                span,
                label: label.into(),
            })),
            help: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The report as printed on stderr: the message, the TOML snippet with the label, the help.
    pub fn render(&self, color: bool) -> String {
        let theme = if color { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
        let handler = GraphicalReportHandler::new_themed(theme).with_width(100).with_links(false);
        let mut out = String::new();
        if handler.render_report(&mut out, self).is_err() {
            out = format!("{self}\n");
        }
        out
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

impl miette::Diagnostic for ConfigError {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.location.as_ref().map(|l| &l.source as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let location = self.location.as_ref()?;
        let span = LabeledSpan::new_primary_with_span(Some(location.label.clone()), location.span.clone());
        Some(Box::new(std::iter::once(span)))
    }
}

impl From<crate::settings::UnknownSelector> for ConfigError {
    fn from(error: crate::settings::UnknownSelector) -> Self {
        ConfigError::plain(error.to_string())
    }
}
