//! Rules about the input itself rather than about the code in it. They apply to every language.

use crate::declare_rule;

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
