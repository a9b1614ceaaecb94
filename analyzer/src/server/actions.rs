//! What the server offers on a finding: quick fixes that add a `graphlint: ignore[CODE]` comment
//! (placed and checked by `--add-suppressions`' planner) or a `graphlint: cold` marker on the
//! function holding it, and the hover that says why a function is hot.

use std::collections::HashMap;
use std::path::Path;

use lsp_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, Hover, HoverContents, MarkupContent, MarkupKind, TextEdit, Uri,
    WorkspaceEdit,
};

use crate::add_suppressions::{plan, Target};
use crate::diagnostic::HotFunction;
use crate::paths::display_path;
use crate::source::Language;
use crate::suppression::Directive;

use super::analysis::FindingData;
use super::text::Text;

/// The quick fixes for `diagnostics` (the client's copies, with the `data` the server put in
/// them) in the document `text` at `path`.
pub fn code_actions(
    uri: &Uri,
    path: &Path,
    text: &str,
    diagnostics: &[lsp_types::Diagnostic],
) -> Vec<CodeActionOrCommand> {
    let mut actions = Vec::new();
    let document = Text::new(text);
    for diagnostic in diagnostics {
        let Some(data) = diagnostic.data.clone().and_then(|d| serde_json::from_value::<FindingData>(d).ok()) else {
            continue;
        };
        let Some(rule) = crate::registry::by_code(&data.code) else { continue };
        // Syntax errors, unreadable files and unused suppressions need a fix, not a suppression.
        let suppressible = rule.family != crate::rule::Family::Meta;
        if suppressible {
            let target = Target { start_row: data.start_row, end_row: data.end_row, code: rule.code };
            let planned = plan(text, path, &[target]);
            if planned.failed.is_empty() && planned.text != text {
                let title = format!("Suppress {} with a `graphlint: ignore[{}]` comment", rule.code, rule.code);
                actions.push(quick_fix(title, uri, &document, &planned.text, diagnostic));
            }
        }
        if let Some((function, row)) = &data.function {
            if let Some(new) = mark_cold(text, path, *row) {
                let title = format!("Mark `{function}` cold (`graphlint: cold`): keep it off hot paths");
                actions.push(quick_fix(title, uri, &document, &new, diagnostic));
            }
        }
    }
    actions
}

fn quick_fix(
    title: String,
    uri: &Uri,
    document: &Text,
    new: &str,
    diagnostic: &lsp_types::Diagnostic,
) -> CodeActionOrCommand {
    let (range, new_text) = document.edit_to(new);
    // lsp-types' `Uri` hashes and compares its text only; the cell clippy sees is fluent-uri's
    // cache of where the URI's parts are.
    #[allow(clippy::mutable_key_type)]
    let changes = HashMap::from([(uri.clone(), vec![TextEdit { range, new_text }])]);
    CodeActionOrCommand::CodeAction(CodeAction {
        title,
        kind: Some(CodeActionKind::QUICKFIX),
        diagnostics: Some(vec![diagnostic.clone()]),
        edit: Some(WorkspaceEdit { changes: Some(changes), ..WorkspaceEdit::default() }),
        ..CodeAction::default()
    })
}

/// The text with a `graphlint: cold` comment at the end of row `row`, or `None` where the
/// marker would not be read there: the row is no `def`/`fn` line (a chain that ends in a loop
/// names the loop's row), already holds a `graphlint:` comment (a comment holds one directive),
/// or continues with a `\`.
fn mark_cold(text: &str, path: &Path, row: u32) -> Option<String> {
    let language = Language::from_path(path)?;
    let document = Text::new(text);
    let line = document.line_range(row);
    let content = &text[line.clone()];
    let code = content.trim_start();
    let defines = match language {
        Language::Python => code.starts_with("def ") || code.starts_with("async def "),
        Language::Rust => code.starts_with("fn ") || code.contains(" fn "),
    };
    if !defines || content.contains("graphlint:") || content.trim_end().ends_with('\\') {
        return None;
    }
    let comment = format!("{} graphlint: cold", language.comment_marker());
    debug_assert_eq!(Directive::parse(&comment), Ok(Some(Directive::Cold)));
    let separator = if language == Language::Python { "  " } else { " " };
    let at = line.start + content.trim_end().len();
    Some(format!("{}{separator}{comment}{}", &text[..at], &text[line.end..]))
}

/// Why the function (or loop) defined on `row` of `path` is hot, from the last analysis.
pub fn hover(hot: &[HotFunction], path: &Path, row: u32) -> Option<Hover> {
    let found: Vec<&HotFunction> = super::analysis::hot_at(hot, path, row).collect();
    if found.is_empty() {
        return None;
    }
    let mut value = String::new();
    for hot in found {
        let Some(last) = hot.chain.last() else { continue };
        value.push_str(&format!("**graphlint: `{}` is hot** (root: {})\n\n", last.function, hot.reason));
        for (at, link) in hot.chain.iter().enumerate() {
            let shown = display_path(Path::new(&link.filename));
            let step = if at == 0 { "root" } else { "calls" };
            value.push_str(&format!("{}. {step} `{}` ({shown}:{})\n", at + 1, link.function, link.row));
        }
        value.push('\n');
    }
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: value.trim_end().to_string(),
        }),
        range: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cold_marker_goes_after_the_code_of_the_def_line() {
        let text = "def helper(x):   \n    return x.item()\n";
        let new = mark_cold(text, Path::new("m.py"), 1).unwrap();
        assert_eq!(new, "def helper(x):  # graphlint: cold\n    return x.item()\n");
        let rust = mark_cold("fn step() {\n}\n", Path::new("m.rs"), 1).unwrap();
        assert_eq!(rust, "fn step() { // graphlint: cold\n}\n");
        assert_eq!(mark_cold("def f():  # graphlint: hot\n", Path::new("m.py"), 1), None);
        assert_eq!(mark_cold("x = 1\n", Path::new("m.txt"), 1), None);
        // A chain that ends in a decode loop names the loop's row: no marker goes there.
        assert_eq!(mark_cold("    for _ in range(n):\n", Path::new("m.py"), 1), None);
    }
}
