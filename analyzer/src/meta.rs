//! Rules about the input itself rather than about the code in it. They apply to every language.

use crate::declare_rule;
use crate::rule::Rule;

/// The meta rules, ordered by code.
pub static RULES: &[&Rule] = &[&SYNTAX_ERROR, &UNREADABLE_FILE, &UNUSED_SUPPRESSION];

declare_rule! {
    /// ## What it does
    /// Reports a file that does not parse, with the parser's message and location.
    ///
    /// ## Why is this bad?
    /// graphlint cannot see into code it cannot parse, so a syntax error hides every sync in the
    /// file. The rest of the run goes on: the other files are still checked.
    pub static SYNTAX_ERROR = Rule { code: "GL000", name: "syntax-error", family: Meta, language: Any }
}

declare_rule! {
    /// ## What it does
    /// Reports a file that could not be read or is not valid UTF-8.
    ///
    /// ## Why is this bad?
    /// Python 3 source is UTF-8 unless it declares otherwise; a file graphlint cannot decode is not
    /// checked at all. Re-encode it as UTF-8, or exclude it in `.gitignore` if it is not source.
    pub static UNREADABLE_FILE = Rule { code: "GL001", name: "unreadable-file", family: Meta, language: Any }
}

declare_rule! {
    /// ## What it does
    /// Reports a `graphlint: ignore[...]` or `graphlint: ignore-file[...]` code that suppresses
    /// nothing: no finding of that code is on the line (or in the file), the code is not enabled
    /// for the file, or no rule has that code.
    ///
    /// ## Why is this bad?
    /// A suppression outlives the sync it excused. Once the code is fixed, a stale
    /// `ignore[GL201]` silently hides the next `.item()` someone writes on that line. Remove the
    /// code from the comment (or the whole comment).
    ///
    /// A suppression counts as used when it matches a finding on a cold path too, so comments
    /// written with `--all-paths --add-suppressions` are not reported by a run without
    /// `--all-paths`. A code that is not enabled for the file (by `select`, `ignore` or
    /// `per-file-ignores`) is reported, as ruff's RUF100 does; this rule itself is only on when
    /// selected. To keep an unused code on purpose, add `GL002` to the same comment.
    pub static UNUSED_SUPPRESSION = Rule { code: "GL002", name: "unused-suppression", family: Meta, language: Any }
}
