//! The central list of rules: stable codes, names, families and their documentation.
//!
//! Codes are `GL` + three digits. The hundreds digit is the family (see [`Family`]); codes are
//! never reused. A frontend declares each rule next to its check with [`declare_rule!`], whose doc
//! comment becomes the text that `graphlint rule CODE` prints.

use std::fmt;

/// The language a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// Meta rules (parse errors, unreadable files) apply to every language.
    Any,
    Python,
    Rust,
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Language::Any => "any",
            Language::Python => "python",
            Language::Rust => "rust",
        })
    }
}

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
    pub language: Language,
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
        pub static $ident: $crate::registry::Rule = $crate::registry::Rule {
            code: $code,
            name: $name,
            family: $crate::registry::Family::$family,
            language: $crate::registry::Language::$language,
            raw_doc: concat!($($doc, "\n"),*),
            source_file: file!(),
        };
    };
}

/// Every rule graphlint knows, ordered by code. New frontends append their rules here.
pub static RULES: &[&Rule] = &[
    &crate::meta::SYNTAX_ERROR,
    &crate::meta::UNREADABLE_FILE,
    &crate::meta::UNUSED_SUPPRESSION,
    &crate::python::rules::cuda_synchronize::RULE,
    &crate::python::rules::stream_synchronize::RULE,
    &crate::python::rules::stream_query::RULE,
    &crate::python::rules::distributed_barrier::RULE,
    &crate::python::rules::item_call::RULE,
    &crate::python::rules::tolist_call::RULE,
    &crate::python::rules::scalar_conversion::RULE,
    &crate::python::rules::tensor_as_index::RULE,
    &crate::python::rules::cpu_call::RULE,
    &crate::python::rules::to_cpu::RULE,
    &crate::python::rules::numpy_call::RULE,
    &crate::python::rules::tensor_equality_bool::RULE,
    &crate::python::rules::tensor_condition::RULE,
    &crate::python::rules::tensor_bool_operator::RULE,
    &crate::python::rules::tensor_assert::RULE,
    &crate::python::rules::builtin_tensor_compare::RULE,
    &crate::python::rules::nonzero_like::RULE,
    &crate::python::rules::boolean_mask_read::RULE,
    &crate::python::rules::unique_call::RULE,
    &crate::python::rules::bincount_call::RULE,
    &crate::python::rules::repeat_interleave_size::RULE,
    &crate::python::rules::one_hot_num_classes::RULE,
    &crate::python::rules::boolean_mask_assign::RULE,
    &crate::python::rules::tensor_creation_on_device::RULE,
    &crate::python::rules::host_index_of_device_tensor::RULE,
    &crate::python::rules::host_to_device_move::RULE,
    &crate::python::rules::print_tensor::RULE,
    &crate::python::rules::format_tensor::RULE,
    &crate::python::rules::log_tensor::RULE,
    &crate::rust::rules::tensor_to_host_value::RULE,
    &crate::rust::rules::to_device_cpu::RULE,
    &crate::rust::rules::device_synchronize::RULE,
    &crate::rust::rules::tensor_from_host::RULE,
    &crate::rust::rules::tensor_in_format_macro::RULE,
    &crate::rust::rules::argmax_to_scalar::RULE,
    &crate::rust::rules::cudarc_synchronize::RULE,
    &crate::rust::rules::cudarc_device_to_host::RULE,
    &crate::rust::rules::cudarc_pageable_host_to_device::RULE,
    &crate::rust::rules::cudarc_blocking_alloc::RULE,
    &crate::rust::rules::tch_tensor_to_host_value::RULE,
    &crate::rust::rules::tch_to_cpu::RULE,
];

/// Looks a rule up by its exact code (case-insensitive).
pub fn by_code(code: &str) -> Option<&'static Rule> {
    RULES.iter().copied().find(|rule| rule.code.eq_ignore_ascii_case(code))
}

/// Every rule as a markdown table: what the README shows between its `rules-table` markers
/// (`graphlint rule --all --markdown` prints it; a test keeps the README in step).
pub fn markdown_table() -> String {
    let mut table =
        String::from("| Code | Name | Family | Language | What it does |\n| --- | --- | --- | --- | --- |\n");
    for rule in RULES {
        table.push_str(&format!(
            "| [`{}`]({}) | `{}` | {} | {} | {} |\n",
            rule.code,
            rule.source_file,
            rule.name,
            rule.family.title(),
            rule.language,
            rule.summary().replace('|', "\\|")
        ));
    }
    table
}

/// Whether `selector` (`ALL`, a code or a code prefix such as `GL2`) names at least one rule.
pub fn selector_matches_any(selector: &str) -> bool {
    selector.eq_ignore_ascii_case("ALL") || RULES.iter().any(|rule| prefix_matches(selector, rule.code))
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
    fn codes_are_unique_sorted_and_match_their_family() {
        let mut previous = "";
        for rule in RULES {
            assert!(rule.code > previous, "{} is out of order or duplicated", rule.code);
            previous = rule.code;
            assert_eq!(rule.code.len(), 5, "{}", rule.code);
            let hundreds = rule.code.as_bytes()[2] - b'0';
            let expected = match rule.family {
                Family::Meta => 0,
                Family::ExplicitSync => 1,
                Family::TensorToHost => 2,
                Family::DeviceToHost => 3,
                Family::ControlFlow => 4,
                Family::DynamicShape => 5,
                Family::HostToDevice => 6,
                Family::Formatting => 7,
                Family::Candle => 8,
                Family::RustCuda => 9,
            };
            assert_eq!(hundreds, expected, "{} is in the wrong family", rule.code);
        }
    }

    #[test]
    fn every_rule_has_the_ruff_doc_sections() {
        for rule in RULES {
            let doc = rule.doc();
            for section in ["## What it does", "## Why is this bad?"] {
                assert!(doc.contains(section), "{} lacks {section}", rule.code);
            }
            if rule.family != Family::Meta {
                for section in ["## Example", "## Use instead"] {
                    assert!(doc.contains(section), "{} lacks {section}", rule.code);
                }
            }
            assert!(!rule.summary().is_empty(), "{} has no summary", rule.code);
        }
    }

    #[test]
    fn selectors() {
        assert!(prefix_matches("GL2", "GL201"));
        assert!(prefix_matches("gl201", "GL201"));
        assert!(!prefix_matches("GL21", "GL201"));
        assert!(selector_matches_any("GL"));
        assert!(!selector_matches_any("XY1"));
        assert_eq!(by_code("gl201").map(|r| r.name), Some("item-call"));
    }
}
