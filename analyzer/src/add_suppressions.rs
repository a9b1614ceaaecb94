//! `--add-suppressions`: write `graphlint: ignore[CODE]` comments for every current finding.
//!
//! The rules it keeps:
//! - nothing but the comment changes: a code joins an existing `ignore[...]` on the line, else a
//!   comment is appended at the end of the line (after any comment already there);
//! - every edit is checked by parsing the result: the new text must parse, its code tokens must
//!   be unchanged (so a `#` or `//` never lands inside a string), and the comment must read back
//!   as a suppression of the code. An edit that fails on the finding's first line is tried on
//!   its last; one that fails on both is left out with a warning;
//! - a second run changes nothing, since the findings are suppressed by then;
//! - files are replaced atomically (a temp file beside them, then a rename), and a file whose
//!   contents changed since graphlint read it is left alone with a warning, so no edit made
//!   during the run is lost.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};

use rustc_hash::FxHashMap;

use crate::diagnostic::{Diagnostic, Heat};
use crate::engine::Fingerprint;
use crate::rule::prefix_matches;
use crate::source::{is_python_stub, Language, LineIndex};
use crate::suppression::Directive;

/// What `--add-suppressions` did.
#[derive(Debug, Default)]
pub struct Report {
    /// Codes written (a comment listing two codes counts two).
    pub added: usize,
    pub files_changed: usize,
    /// Findings left without a suppression, and files left alone, in words.
    pub warnings: Vec<String>,
    /// How many findings could not be suppressed.
    pub not_suppressed: usize,
}

/// One finding to suppress: its code and the rows a suppression may sit on (first, last).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Target {
    pub start_row: u32,
    pub end_row: u32,
    pub code: &'static str,
}

/// Suppresses `diagnostics` in their files. Findings about a whole file (syntax errors,
/// unreadable files) and unused suppressions are not suppressed: they need a fix instead.
pub fn add_suppressions(diagnostics: &[Diagnostic], fingerprints: &FxHashMap<PathBuf, Option<Fingerprint>>) -> Report {
    let mut by_file: BTreeMap<&Path, BTreeSet<Target>> = BTreeMap::new();
    for d in diagnostics {
        if d.heat == Heat::File || d.rule.code == crate::meta::UNUSED_SUPPRESSION.code {
            continue;
        }
        let target = Target { start_row: d.start.row, end_row: d.end.row.max(d.start.row), code: d.code() };
        by_file.entry(&d.file).or_default().insert(target);
    }
    let mut report = Report::default();
    for (path, targets) in by_file {
        let targets: Vec<Target> = targets.into_iter().collect();
        let shown = crate::paths::display_path(path);
        let Some(bytes) = std::fs::read(path).ok() else {
            report.warnings.push(format!("{shown}: cannot read the file any more; not modified"));
            report.not_suppressed += targets.len();
            continue;
        };
        let before = Fingerprint::of(&bytes);
        if fingerprints.get(path).copied().flatten() != Some(before) {
            report.warnings.push(format!("{shown}: changed on disk during the run; not modified"));
            report.not_suppressed += targets.len();
            continue;
        }
        let Ok(text) = String::from_utf8(bytes) else { continue };
        let plan = plan(&text, path, &targets);
        for failure in &plan.failed {
            report.warnings.push(format!(
                "{shown}:{}: cannot place a suppression for {}: {}",
                failure.row, failure.code, failure.reason
            ));
        }
        report.not_suppressed += plan.failed.len();
        if plan.text == text {
            continue;
        }
        match write_atomically(path, plan.text.as_bytes(), before) {
            Ok(()) => {
                report.added += plan.added;
                report.files_changed += 1;
            }
            Err(reason) => {
                report.warnings.push(format!("{shown}: {reason}; not modified"));
                report.not_suppressed += plan.added;
            }
        }
    }
    report
}

/// A rewritten text, and the findings that could not be suppressed.
#[derive(Debug)]
pub struct Plan {
    pub text: String,
    pub added: usize,
    pub failed: Vec<Failure>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Failure {
    pub row: u32,
    pub code: &'static str,
    pub reason: String,
}

/// Plans the comments for `targets` in `text`.
pub fn plan(text: &str, path: &Path, targets: &[Target]) -> Plan {
    let (bom, body) = match text.strip_prefix('\u{feff}') {
        Some(body) => ("\u{feff}", body),
        None => ("", text),
    };
    let original = Checked::new(body, path);
    let mut plan = plan_all_at_once(body, path, &original, targets)
        .unwrap_or_else(|| plan_one_by_one(body, path, &original, targets));
    plan.text.insert_str(0, bom);
    plan
}

/// The fast path: every code on its finding's first row, one parse to check them all.
fn plan_all_at_once(text: &str, path: &Path, original: &Checked, targets: &[Target]) -> Option<Plan> {
    let mut rows: BTreeMap<u32, Vec<&'static str>> = BTreeMap::new();
    for target in targets {
        rows.entry(target.start_row).or_default().push(target.code);
    }
    let mut new = text.to_string();
    let mut added = 0;
    // Bottom-up, so earlier rows' offsets stay valid (no edit adds a line).
    for (&row, codes) in rows.iter().rev() {
        let (edited, count) = edit_row(&new, original, row, codes).ok()?;
        new = edited;
        added += count;
    }
    let checked = Checked::new(&new, path);
    let ok =
        checked.same_code_as(original) && rows.iter().all(|(&row, codes)| checked.row_suppresses(&new, row, codes));
    ok.then_some(Plan { text: new, added, failed: Vec::new() })
}

/// The careful path: one finding at a time, each edit checked before the next.
fn plan_one_by_one(text: &str, path: &Path, original: &Checked, targets: &[Target]) -> Plan {
    let mut current = text.to_string();
    let mut checked = Checked::new(&current, path);
    let mut added = 0;
    let mut failed = Vec::new();
    for target in targets {
        let mut reason = String::new();
        let rows = if target.end_row != target.start_row {
            vec![target.start_row, target.end_row]
        } else {
            vec![target.start_row]
        };
        let mut placed = false;
        for row in rows {
            if checked.row_suppresses(&current, row, &[target.code]) {
                placed = true;
                break;
            }
            match edit_row(&current, &checked, row, &[target.code]) {
                Ok((candidate, count)) => {
                    let after = Checked::new(&candidate, path);
                    if after.same_code_as(original) && after.row_suppresses(&candidate, row, &[target.code]) {
                        current = candidate;
                        checked = after;
                        added += count;
                        placed = true;
                        break;
                    }
                    reason = "a comment at the end of this line would not be read as one (the line ends inside a string or after a `\\` continuation, or starts inside a multi-line string)".into();
                }
                Err(why) => reason = why,
            }
        }
        if !placed {
            failed.push(Failure { row: target.start_row, code: target.code, reason });
        }
    }
    Plan { text: current, added, failed }
}

/// Adds `codes` to the suppression on `row`: into an existing `ignore[...]`, or as a new comment
/// at the end of the line. Returns the new text and how many codes were written.
fn edit_row(text: &str, checked: &Checked, row: u32, codes: &[&'static str]) -> Result<(String, usize), String> {
    let lines = LineIndex::new(text);
    let line = lines.line_range(text, row);
    let existing = checked.comment_on_row(row).filter(|c| text[c.clone()].contains("graphlint:"));
    let (insert_at, insertion, count) = match existing {
        Some(comment) => {
            let body = &text[comment.clone()][checked.language.comment_marker().len()..];
            let present = match Directive::parse(body) {
                Ok(Some(Directive::Ignore(present))) => present,
                _ => return Err("the line already has another `graphlint:` comment".into()),
            };
            let missing: Vec<&str> =
                dedup(codes).into_iter().filter(|c| !present.codes.iter().any(|p| prefix_matches(p, c))).collect();
            if missing.is_empty() {
                return Ok((text.to_string(), 0));
            }
            let at = comment.start + text[comment.clone()].find("graphlint:").unwrap_or(0);
            let close = text[at..comment.end].find(']').map(|i| at + i).ok_or("malformed `ignore[...]` comment")?;
            (close, format!(", {}", missing.join(", ")), missing.len())
        }
        None => {
            let codes = dedup(codes);
            let content = &text[line.clone()];
            let gap = if content.trim().is_empty() || content.ends_with(' ') { " " } else { "  " };
            (
                line.end,
                format!("{gap}{} graphlint: ignore[{}]", checked.language.comment_marker(), codes.join(", ")),
                codes.len(),
            )
        }
    };
    let mut new = String::with_capacity(text.len() + insertion.len());
    new.push_str(&text[..insert_at]);
    new.push_str(&insertion);
    new.push_str(&text[insert_at..]);
    Ok((new, count))
}

fn dedup(codes: &[&'static str]) -> Vec<&'static str> {
    let mut seen: Vec<&'static str> = Vec::new();
    for code in codes {
        if !seen.contains(code) {
            seen.push(code);
        }
    }
    seen
}

/// What a text parses to, as far as suppressions care: whether it parses, its code tokens (to
/// prove an edit touched only comments) and its line comments by row.
struct Checked {
    language: Language,
    parses: bool,
    code: String,
    comments: FxHashMap<u32, Range<usize>>,
}

impl Checked {
    fn new(text: &str, path: &Path) -> Self {
        let lines = LineIndex::new(text);
        let language = Language::from_path(path).unwrap_or(Language::Python);
        match language {
            Language::Python => {
                let parsed = crate::python::adapter::parse(text, is_python_stub(path), true);
                let comments = parsed.comments().iter().map(|c| (lines.row(c.start), c.clone())).collect();
                // Python's code tokens: the text with every comment blanked out.
                let mut code = String::with_capacity(text.len());
                let mut from = 0;
                for c in parsed.comments() {
                    code.push_str(text[from..c.start].trim_end_matches([' ', '\t']));
                    from = c.end;
                }
                code.push_str(&text[from..]);
                Checked { language, parses: parsed.errors().is_empty(), code, comments }
            }
            Language::Rust => {
                let parses = syn::parse_file(text).is_ok();
                let code = text.parse::<proc_macro2::TokenStream>().map(|t| t.to_string()).unwrap_or_default();
                let comments = crate::rust::line_comments(text).into_iter().map(|c| (lines.row(c.start), c)).collect();
                Checked { language, parses, code, comments }
            }
        }
    }

    fn comment_on_row(&self, row: u32) -> Option<Range<usize>> {
        self.comments.get(&row).cloned()
    }

    /// Same parse result and the same tokens: only comments and trailing blanks differ.
    fn same_code_as(&self, original: &Checked) -> bool {
        self.parses == original.parses && self.code == original.code
    }

    /// Whether the comment on `row` is a suppression covering every code in `codes`, as the
    /// frontend reads it.
    fn row_suppresses(&self, text: &str, row: u32, codes: &[&str]) -> bool {
        let Some(comment) = self.comments.get(&row) else { return false };
        let body = &text[comment.clone()];
        let body = match self.language {
            Language::Python => body.strip_prefix('#').unwrap_or(body),
            // The Rust frontend finds its directives line by line; it must see this one too.
            Language::Rust => {
                let lines = LineIndex::new(text);
                match crate::rust::directive_comments(text, &lines).into_iter().find(|(r, _)| *r == row) {
                    Some((_, seen)) if body.ends_with(seen) => seen,
                    _ => return false,
                }
            }
        };
        match Directive::parse(body) {
            Ok(Some(Directive::Ignore(present))) => {
                codes.iter().all(|c| present.codes.iter().any(|p| prefix_matches(p, c)))
            }
            _ => false,
        }
    }
}

/// Replaces `path` with `contents` through a temp file in the same directory and a rename, so a
/// reader never sees half a file. `expected` is what the file must still hold just before the
/// rename; otherwise someone edited it meanwhile and it is left alone.
fn write_atomically(path: &Path, contents: &[u8], expected: Fingerprint) -> Result<(), String> {
    // Write through a symlink to its target instead of replacing the link with a file.
    let target = std::fs::canonicalize(path).map_err(|e| format!("cannot resolve the path: {e}"))?;
    let dir = target.parent().ok_or("the file has no directory")?;
    let permissions =
        std::fs::metadata(&target).map_err(|e| format!("cannot read the file's metadata: {e}"))?.permissions();
    let mut temp = tempfile::Builder::new()
        .prefix(".graphlint-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| format!("cannot create a temp file beside it: {e}"))?;
    temp.write_all(contents)
        .and_then(|_| temp.as_file().sync_all())
        .map_err(|e| format!("cannot write the temp file: {e}"))?;
    std::fs::set_permissions(temp.path(), permissions)
        .map_err(|e| format!("cannot copy the file's permissions: {e}"))?;
    if Fingerprint::read(&target) != Some(expected) {
        return Err("changed on disk during the run".into());
    }
    temp.persist(&target).map_err(|e| format!("cannot replace the file: {}", e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(start_row: u32, end_row: u32, code: &'static str) -> Target {
        Target { start_row, end_row, code }
    }

    #[test]
    fn python_appends_merges_and_is_idempotent() {
        let text =
            "import torch\nx = t.item()\ny = t.cpu()  # keep on host\nz = t.tolist()  # graphlint: ignore[GL201]\n";
        let plan =
            plan(text, Path::new("t.py"), &[t(2, 2, "GL201"), t(2, 2, "GL203"), t(3, 3, "GL301"), t(4, 4, "GL202")]);
        assert_eq!(
            plan.text,
            "import torch\nx = t.item()  # graphlint: ignore[GL201, GL203]\ny = t.cpu()  # keep on host  # graphlint: ignore[GL301]\nz = t.tolist()  # graphlint: ignore[GL201, GL202]\n"
        );
        assert_eq!((plan.added, plan.failed.len()), (4, 0));
        let again = super::plan(&plan.text, Path::new("t.py"), &[t(2, 2, "GL201"), t(3, 3, "GL301")]);
        assert_eq!(again.text, plan.text, "already suppressed: nothing to add");
    }

    #[test]
    fn python_never_writes_into_a_string_or_after_a_continuation() {
        // Row 2 ends inside a triple-quoted string: the suppression goes on the last row.
        let text = "s = f\"\"\"{t.item()}\n{t.cpu()}\"\"\"\ny = a + \\\n    t.item()\n";
        let plan = plan(text, Path::new("t.py"), &[t(1, 2, "GL201"), t(3, 4, "GL201")]);
        assert_eq!(plan.text, "s = f\"\"\"{t.item()}\n{t.cpu()}\"\"\"  # graphlint: ignore[GL201]\ny = a + \\\n    t.item()  # graphlint: ignore[GL201]\n");
        // A finding whose both rows end inside the string cannot be suppressed by a line comment.
        let text = "s = f\"\"\"\n{t.item()}\n\"\"\"\n";
        let plan = super::plan(text, Path::new("t.py"), &[t(2, 2, "GL201")]);
        assert_eq!(plan.text, text);
        assert_eq!(plan.failed.len(), 1);
    }

    #[test]
    fn crlf_bom_and_other_directives() {
        let text = "\u{feff}x = t.item()\r\ndef f(a=t.item()):  # graphlint: hot\r\n    pass\r\n";
        let plan = super::plan(text, Path::new("t.py"), &[t(1, 1, "GL201"), t(2, 2, "GL201")]);
        assert_eq!(
            plan.text,
            "\u{feff}x = t.item()  # graphlint: ignore[GL201]\r\ndef f(a=t.item()):  # graphlint: hot\r\n    pass\r\n"
        );
        assert_eq!(
            plan.failed,
            vec![Failure { row: 2, code: "GL201", reason: "the line already has another `graphlint:` comment".into() }]
        );
    }

    #[test]
    fn rust_comments() {
        let text = "fn f(t: &Tensor) -> Result<()> {\n    let s = \"// not a comment\"; let v = t.to_scalar::<f32>()?;\n    let w = t.to_vec1::<f32>()?; // note\n    let r = r#\"\n\"#; t.to_vec1::<f32>()?;\n    Ok(())\n}\n";
        let plan = plan(text, Path::new("t.rs"), &[t(2, 2, "GL801"), t(3, 3, "GL801"), t(5, 5, "GL801")]);
        assert_eq!(
            plan.text,
            "fn f(t: &Tensor) -> Result<()> {\n    let s = \"// not a comment\"; let v = t.to_scalar::<f32>()?;  // graphlint: ignore[GL801]\n    let w = t.to_vec1::<f32>()?; // note  // graphlint: ignore[GL801]\n    let r = r#\"\n\"#; t.to_vec1::<f32>()?;  // graphlint: ignore[GL801]\n    Ok(())\n}\n"
        );
        // Row 5 starts inside a raw string that ends on it: the comment after it is read.
        assert!(plan.failed.is_empty(), "{:?}", plan.failed);
    }

    #[test]
    fn atomic_write_refuses_a_file_changed_meanwhile() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.py");
        std::fs::write(&path, "x = 1\n").unwrap();
        let before = Fingerprint::of(b"x = 1\n");
        std::fs::write(&path, "x = 2  # edited by someone\n").unwrap();
        assert!(write_atomically(&path, b"x = 1  # graphlint: ignore[GL201]\n", before).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "x = 2  # edited by someone\n");
        let now = Fingerprint::read(&path).unwrap();
        write_atomically(&path, b"new\n", now).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(leftovers.len(), 1, "no temp file left behind: {leftovers:?}");
    }
}
