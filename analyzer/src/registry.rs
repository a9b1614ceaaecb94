//! Every rule graphlint knows, with its documentation: the rules each frontend declares (and the
//! meta rules), assembled in code order. It sits above the frontends; the layers below them know
//! rules only through [`crate::rule`].

use std::sync::LazyLock;

use crate::rule::Rule;

/// Every rule, ordered by code. Each frontend lists its own (`python::rules::RULES`,
/// `rust::rules::RULES`); a new frontend appends its list here.
pub static RULES: LazyLock<Vec<&'static Rule>> = LazyLock::new(|| {
    let mut rules: Vec<&'static Rule> =
        [crate::meta::RULES, crate::python::rules::RULES, crate::rust::rules::RULES].concat();
    rules.sort_by_key(|rule| rule.code);
    rules
});

/// Looks a rule up by its code (case-insensitive) or its name (`item-call`).
pub fn by_code_or_name(text: &str) -> Option<&'static Rule> {
    by_code(text).or_else(|| RULES.iter().copied().find(|rule| rule.name == text))
}

/// Looks a rule up by its exact code (case-insensitive).
pub fn by_code(code: &str) -> Option<&'static Rule> {
    RULES.iter().copied().find(|rule| rule.code.eq_ignore_ascii_case(code))
}

/// Every rule as a markdown table: what the README shows between its `rules-table` markers
/// (`graphlint rule --all --markdown` prints it; a test keeps the README in step).
pub fn markdown_table() -> String {
    let mut table =
        String::from("| Code | Name | Family | Language | What it does |\n| --- | --- | --- | --- | --- |\n");
    for rule in RULES.iter() {
        table.push_str(&format!(
            "| [`{}`]({}) | `{}` | {} | {} | {} |\n",
            rule.code,
            rule.source_file,
            rule.name,
            rule.family.title(),
            rule.language_name(),
            rule.summary().replace('|', "\\|")
        ));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::{Family, CODES};

    #[test]
    fn codes_are_unique_sorted_and_match_their_family() {
        let mut previous = "";
        for rule in RULES.iter() {
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
        for rule in RULES.iter() {
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
    fn by_code_ignores_case() {
        assert_eq!(by_code("gl201").map(|r| r.name), Some("item-call"));
        assert_eq!(by_code_or_name("item-call").map(|r| r.code), Some("GL201"));
        assert_eq!(by_code_or_name("GL201").map(|r| r.code), Some("GL201"));
        assert!(by_code_or_name("no-such-rule").is_none());
    }

    #[test]
    fn the_code_table_lists_exactly_the_declared_rules() {
        let declared: Vec<&str> = RULES.iter().map(|rule| rule.code).collect();
        assert_eq!(declared, CODES, "rule::CODES and the rules the frontends declare differ");
    }
}
