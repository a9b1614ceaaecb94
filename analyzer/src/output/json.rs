use std::io::{self, Write};

use serde::Serialize;

use crate::diagnostic::{Diagnostic, Heat};
use crate::paths::display_path;

/// ruff's `--output-format json` object, plus `hot_path` and `hot`.
#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    code: &'a str,
    message: &'a str,
    filename: String,
    location: JsonLocation,
    end_location: JsonLocation,
    fix: Option<()>,
    noqa_row: u32,
    url: String,
    /// `null` for file-level findings, else whether the finding is on a hot path.
    hot: Option<bool>,
    hot_path: Vec<JsonLink<'a>>,
}

#[derive(Serialize)]
struct JsonLocation {
    row: u32,
    column: u32,
}

#[derive(Serialize)]
struct JsonLink<'a> {
    function: &'a str,
    filename: &'a str,
    row: u32,
}

/// A JSON array of every diagnostic (`--output-format json`).
pub(super) fn write(out: &mut dyn Write, diagnostics: &[Diagnostic]) -> io::Result<()> {
    let rows: Vec<JsonDiagnostic> = diagnostics.iter().map(to_json).collect();
    serde_json::to_writer_pretty(&mut *out, &rows)?;
    writeln!(out)
}

/// One JSON object per line (`--output-format json-lines`): streams, and greps well.
pub(super) fn write_lines(out: &mut dyn Write, diagnostics: &[Diagnostic]) -> io::Result<()> {
    for diagnostic in diagnostics {
        serde_json::to_writer(&mut *out, &to_json(diagnostic))?;
        writeln!(out)?;
    }
    Ok(())
}

fn to_json(d: &Diagnostic) -> JsonDiagnostic<'_> {
    JsonDiagnostic {
        code: d.code(),
        message: &d.message,
        filename: display_path(&d.file),
        location: JsonLocation { row: d.start.row, column: d.start.column },
        end_location: JsonLocation { row: d.end.row, column: d.end.column },
        fix: None,
        noqa_row: d.start.row,
        url: d.rule.url(),
        hot: match d.heat {
            Heat::Hot { .. } => Some(true),
            Heat::Cold => Some(false),
            Heat::File => None,
        },
        hot_path: d
            .hot_path
            .iter()
            .map(|l| JsonLink { function: &l.function, filename: &l.filename, row: l.row })
            .collect(),
    }
}
