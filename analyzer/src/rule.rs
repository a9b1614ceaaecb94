//! What a rule is: its code, name, family and language, the [`declare_rule!`] macro, and the
//! table of every code ([`CODES`]). Everything below the frontends (selection, suppressions,
//! diagnostics) knows rules through this module; the rules themselves, with their
//! documentation, are assembled above the frontends in [`crate::registry`].
//!
//! Codes are `GL` + three digits. The hundreds digit is the family (see [`Family`]); codes are
//! never reused. A frontend declares each rule next to its check with [`declare_rule!`], whose doc
//! comment becomes the text that `graphlint rule CODE` prints.

use crate::source::Language;

/// A rule family: the hundreds digit of its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// GL0xx: the linter's own findings (syntax errors, unreadable files, suppressions).
    Meta,
    /// GL1xx: calls whose whole purpose is to wait (`synchronize`, `barrier`, `query`).
    ExplicitSync,
    /// GL2xx: a tensor turned into a Python value (`.item()`, `int(t)`, `range(t)`).
    TensorToHost,
    /// GL3xx: device-to-host copies (`.cpu()`, `.numpy()`, `torch.equal`).
    DeviceToHost,
    /// GL4xx: Python control flow that reads a tensor (`if t:`, `assert t`, `max(a, b)`).
    ControlFlow,
    /// GL5xx: ops whose output shape depends on tensor values (`nonzero`, `x[mask]`).
    DynamicShape,
    /// GL6xx: host data copied to the device inside the hot path.
    HostToDevice,
    /// GL7xx: printing, formatting or logging a tensor.
    Formatting,
    /// GL8xx: the Rust frontend's candle rules.
    Candle,
    /// GL9xx: the Rust frontend's cudarc and tch rules.
    RustCuda,
}

impl Family {
    pub fn title(self) -> &'static str {
        match self {
            Family::Meta => "meta",
            Family::ExplicitSync => "explicit sync",
            Family::TensorToHost => "tensor to host value",
            Family::DeviceToHost => "device to host copy",
            Family::ControlFlow => "data-dependent control flow",
            Family::DynamicShape => "data-dependent shape",
            Family::HostToDevice => "host to device in the hot path",
            Family::Formatting => "printing and formatting",
            Family::Candle => "candle (Rust)",
            Family::RustCuda => "cudarc / tch (Rust)",
        }
    }
}

/// One rule: what `--select`, suppressions, `graphlint rule` and the outputs know about it.
#[derive(Debug)]
pub struct Rule {
    pub code: &'static str,
    /// kebab-case name, as in ruff (`item-call`).
    pub name: &'static str,
    pub family: Family,
    /// The language the rule checks; `None` for the meta rules, which apply to every file.
    pub language: Option<Language>,
    /// The rule's doc comment, one `#[doc]` line per line (each keeps rustdoc's leading space).
    pub raw_doc: &'static str,
    /// The source file that declares the rule (what the JSON `url` points at).
    pub source_file: &'static str,
}

impl Rule {
    /// The documentation as written in the rule's doc comment, without rustdoc's leading space.
    pub fn doc(&self) -> String {
        let mut out = String::with_capacity(self.raw_doc.len());
        for line in self.raw_doc.lines() {
            out.push_str(line.strip_prefix(' ').unwrap_or(line));
            out.push('\n');
        }
        out.trim_end().to_string()
    }

    /// The first paragraph of "What it does", used in `graphlint rule --all`.
    pub fn summary(&self) -> String {
        let doc = self.doc();
        let mut lines = doc.lines().skip_while(|l| !l.starts_with("## What it does")).skip(1);
        let mut summary = String::new();
        for line in lines.by_ref() {
            let line = line.trim();
            if line.is_empty() {
                if summary.is_empty() {
                    continue;
                }
                break;
            }
            if !summary.is_empty() {
                summary.push(' ');
            }
            summary.push_str(line);
        }
        summary
    }

    /// `any`, `python` or `rust`: the language as `graphlint rule` and the outputs name it.
    pub fn language_name(&self) -> &'static str {
        self.language.map_or("any", Language::name)
    }

    pub fn url(&self) -> String {
        format!("{}/blob/main/{}", env!("CARGO_PKG_REPOSITORY"), self.source_file)
    }
}

/// Declares a rule from a doc comment and its metadata:
///
/// ```ignore
/// declare_rule! {
///     /// ## What it does
///     /// ...
///     pub static ITEM_CALL = Rule { code: "GL201", name: "item-call", family: TensorToHost, language: Python }
/// }
/// ```
#[macro_export]
macro_rules! declare_rule {
    (
        $(#[doc = $doc:literal])*
        pub static $ident:ident = Rule {
            code: $code:literal,
            name: $name:literal,
            family: $family:ident,
            language: $language:ident $(,)?
        }
    ) => {
        $(#[doc = $doc])*
        pub static $ident: $crate::rule::Rule = $crate::rule::Rule {
            code: $code,
            name: $name,
            family: $crate::rule::Family::$family,
            language: $crate::declare_rule!(@language $language),
            raw_doc: concat!($($doc, "\n"),*),
            source_file: file!(),
        };
    };
    (@language Any) => {
        None
    };
    (@language $language:ident) => {
        Some($crate::source::Language::$language)
    };
}

/// Every rule code, sorted: the central table, as ruff's `codes.rs` is. A new rule adds its code
/// here; `registry`'s tests check that this table and the declared rules agree.
pub static CODES: &[&str] = &[
    "GL000", "GL001", "GL002", "GL101", "GL102", "GL103", "GL104", "GL201", "GL202", "GL203", "GL204", "GL205",
    "GL301", "GL302", "GL303", "GL304", "GL401", "GL402", "GL403", "GL404", "GL405", "GL406", "GL501", "GL502",
    "GL503", "GL504", "GL505", "GL506", "GL507", "GL601", "GL602", "GL603", "GL604", "GL701", "GL702", "GL703",
    "GL801", "GL802", "GL803", "GL804", "GL805", "GL806", "GL901", "GL902", "GL903", "GL904", "GL905", "GL906",
];

/// Whether `selector` (`ALL`, a code or a code prefix such as `GL2`) names at least one rule.
pub fn selector_matches_any(selector: &str) -> bool {
    selector.eq_ignore_ascii_case("ALL") || CODES.iter().any(|code| prefix_matches(selector, code))
}

/// Whether `selector` is `ALL` or a case-insensitive prefix of `code`.
pub fn prefix_matches(selector: &str, code: &str) -> bool {
    selector.eq_ignore_ascii_case("ALL")
        || (code.len() >= selector.len() && code[..selector.len()].eq_ignore_ascii_case(selector))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors() {
        assert!(prefix_matches("GL2", "GL201"));
        assert!(prefix_matches("gl201", "GL201"));
        assert!(!prefix_matches("GL21", "GL201"));
        assert!(selector_matches_any("GL"));
        assert!(!selector_matches_any("XY1"));
    }

    #[test]
    fn codes_are_unique_sorted_and_well_formed() {
        for pair in CODES.windows(2) {
            assert!(pair[0] < pair[1], "{} is out of order or duplicated", pair[1]);
        }
        assert!(CODES
            .iter()
            .all(|c| c.len() == 5 && c.starts_with("GL") && c[2..].bytes().all(|b| b.is_ascii_digit())));
    }
}
