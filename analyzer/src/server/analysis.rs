//! One analysis for the server: which project an open document belongs to, a run of the engine
//! over that whole project with the open documents' unsaved texts, and its findings in the
//! protocol's terms.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use lsp_types::{
    CodeDescription, DiagnosticRelatedInformation, DiagnosticSeverity, DiagnosticTag, Location as LspLocation,
    NumberOrString, Position, Range, Uri,
};
use serde::{Deserialize, Serialize};

use crate::config::{is_config_dir, ConfigMode, Overrides, Resolver};
use crate::diagnostic::{Diagnostic, Heat, HotFunction};
use crate::discovery::find_project_root;
use crate::engine::{RunError, RunOptions, RunResult};
use crate::paths::absolute;
use crate::source::Overlay;

use super::text::{path_to_uri, Text};

/// An open document as one analysis saw it.
#[derive(Debug, Clone)]
pub struct Document {
    pub uri: Uri,
    /// Absolute, spelled as the client spelled the URI.
    pub path: PathBuf,
    pub version: i32,
    pub text: Arc<str>,
}

/// The project a file belongs to: the innermost workspace folder holding it; outside every
/// folder, the project a CLI run on the file would analyse as its context (the outermost
/// directory with a configuration file inside its repository, else the repository root, else
/// the file's directory).
pub fn project_root(path: &Path, workspace_folders: &[PathBuf]) -> PathBuf {
    if let Some(folder) =
        workspace_folders.iter().filter(|folder| path.starts_with(folder)).max_by_key(|f| f.components().count())
    {
        return folder.clone();
    }
    find_project_root(&[path.to_path_buf()], &is_config_dir).0
}

/// Checks the open `documents`, read from their unsaved texts, with the whole project at `root`
/// as their context and the configuration files the CLI reads; only the documents' findings
/// (and hot functions) are reported. A document the configuration excludes is not checked, as
/// in a run over the project.
pub fn run_project(root: &Path, documents: &[Document]) -> Result<RunResult, RunError> {
    let resolver = Resolver::new(ConfigMode::Discover, Overrides::default()).map_err(RunError::Config)?;
    let mut overlay = Overlay::default();
    for document in documents {
        overlay.insert(&document.path, document.text.clone());
    }
    // The project's cache makes a re-analysis re-read only what changed, and reuse the last
    // project pass while the edits leave every summary's shape as it was (see `crate::cache`).
    let options = RunOptions {
        list_hot: true,
        force_exclude: true,
        overlay: Some(Arc::new(overlay)),
        project_root: Some(root.to_path_buf()),
        cache_dir: Some(crate::cache::dir_for(root)),
        ..RunOptions::default()
    };
    let paths: Vec<PathBuf> = documents.iter().map(|document| document.path.clone()).collect();
    crate::engine::check(&paths, &resolver, options)
}

/// What a published diagnostic carries for the code actions (`data`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingData {
    pub code: String,
    /// The finding's first and last rows (1-based): where a suppression may go.
    pub start_row: u32,
    pub end_row: u32,
    /// The function holding a hot finding, and the row of its `def`/`fn`.
    pub function: Option<(String, u32)>,
}

/// A finding of the document `text` in the protocol's terms.
pub fn to_lsp(d: &Diagnostic, text: &Text) -> lsp_types::Diagnostic {
    let range = Range { start: text.position_of(d.start), end: text.position_of(d.end) };
    let unused_suppression = d.rule.code == crate::meta::UNUSED_SUPPRESSION.code;
    let severity = match d.heat {
        Heat::File if !unused_suppression => DiagnosticSeverity::ERROR,
        Heat::File | Heat::Hot { .. } => DiagnosticSeverity::WARNING,
        Heat::Cold => DiagnosticSeverity::INFORMATION,
    };
    let message = match &d.help {
        Some(help) => format!("{}\nhelp: {help}", d.message),
        None => d.message.clone(),
    };
    let data = FindingData {
        code: d.rule.code.to_string(),
        start_row: d.start.row,
        end_row: d.end.row.max(d.start.row),
        function: d.hot_path.last().map(|link| (link.function.clone(), link.row)),
    };
    lsp_types::Diagnostic {
        range,
        severity: Some(severity),
        code: Some(NumberOrString::String(d.rule.code.to_string())),
        code_description: Uri::from_str(&d.rule.url()).ok().map(|href| CodeDescription { href }),
        source: Some("graphlint".into()),
        message,
        related_information: chain_information(d),
        tags: unused_suppression.then(|| vec![DiagnosticTag::UNNECESSARY]),
        data: serde_json::to_value(data).ok(),
    }
}

/// The hot path, one entry per function from the root to the one holding the finding.
fn chain_information(d: &Diagnostic) -> Option<Vec<DiagnosticRelatedInformation>> {
    let Heat::Hot { reason } = &d.heat else { return None };
    let links = &d.hot_path;
    let information = links
        .iter()
        .enumerate()
        .map(|(at, link)| {
            let message = match at {
                0 => format!("hot path root `{}`: {reason}", link.function),
                _ => format!("`{}` calls `{}`", links[at - 1].function, link.function),
            };
            DiagnosticRelatedInformation { location: link_location(&link.filename, link.row), message }
        })
        .collect::<Vec<_>>();
    (!information.is_empty()).then_some(information)
}

/// The start of row `row` of a file named as graphlint displays it.
pub fn link_location(filename: &str, row: u32) -> LspLocation {
    let start = Position { line: row.saturating_sub(1), character: 0 };
    LspLocation { uri: path_to_uri(&absolute(Path::new(filename))), range: Range { start, end: start } }
}

/// The hot functions (and loops) defined on `row` of the file at `path`.
pub fn hot_at<'h>(hot: &'h [HotFunction], path: &'h Path, row: u32) -> impl Iterator<Item = &'h HotFunction> {
    hot.iter().filter(move |h| {
        h.chain.last().is_some_and(|last| last.row == row && absolute(Path::new(&last.filename)) == path)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_innermost_workspace_folder_is_the_project() {
        let folders = [PathBuf::from("/work/a"), PathBuf::from("/work/a/b"), PathBuf::from("/work/c")];
        assert_eq!(project_root(Path::new("/work/a/b/m.py"), &folders), PathBuf::from("/work/a/b"));
        assert_eq!(project_root(Path::new("/work/a/m.py"), &folders), PathBuf::from("/work/a"));
        // `/work/ab` is not inside `/work/a`: paths are compared by components.
        assert_ne!(project_root(Path::new("/work/ab/m.py"), &folders), PathBuf::from("/work/a"));
    }
}
