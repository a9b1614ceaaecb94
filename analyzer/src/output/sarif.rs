//! SARIF 2.1.0, as GitHub code scanning reads it: every rule's metadata in the driver, one result
//! per finding, and the hot path as a code flow (root first, the sync last).

use std::io::{self, Write};
use std::path::Path;

use serde_json::{json, Value};

use crate::diagnostic::{Diagnostic, Heat, Location};
use crate::paths::display_path;
use crate::registry::RULES;
use crate::rule::{Family, Rule};

/// Stands for the results in the log written around them.
const RESULTS: &str = "graphlint: results go here";
/// How deep `runs[0].results[i]` sits in the pretty-printed log (two spaces a level).
const RESULT_INDENT: &str = "        ";

/// Writes the log, each result as it is built: a `Value` per finding costs about 30 KB, so a whole
/// tree of them held 300 MB for 10,000 findings. The bytes are those of the log printed in one go.
pub(super) fn write(out: &mut dyn Write, diagnostics: &[Diagnostic]) -> io::Result<()> {
    let rules: Vec<Value> = RULES.iter().map(|rule| rule_descriptor(rule)).collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "graphlint",
                    "version": env!("CARGO_PKG_VERSION"),
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                    "informationUri": env!("CARGO_PKG_REPOSITORY"),
                    "rules": rules,
                }
            },
            // graphlint's columns count characters, not UTF-16 code units.
            "columnKind": "unicodeCodePoints",
            "results": RESULTS,
        }]
    });
    let around = serde_json::to_string_pretty(&log)?;
    let (before, after) = around.split_once(&format!("\"{RESULTS}\"")).expect("the placeholder is in the log");
    out.write_all(before.as_bytes())?;
    if diagnostics.is_empty() {
        out.write_all(b"[]")?;
    } else {
        out.write_all(b"[")?;
        for (i, diagnostic) in diagnostics.iter().enumerate() {
            out.write_all(if i == 0 { b"\n" } else { b",\n" })?;
            // JSON strings hold no raw newline, so every line of a result is indented alike.
            for (j, line) in serde_json::to_string_pretty(&result(diagnostic))?.lines().enumerate() {
                if j > 0 {
                    out.write_all(b"\n")?;
                }
                out.write_all(RESULT_INDENT.as_bytes())?;
                out.write_all(line.as_bytes())?;
            }
        }
        write!(out, "\n{}]", &RESULT_INDENT[2..])?;
    }
    out.write_all(after.as_bytes())?;
    writeln!(out)
}

fn rule_descriptor(rule: &Rule) -> Value {
    let doc = rule.doc();
    let why = section(&doc, "## Why is this bad?").unwrap_or_else(|| rule.summary());
    json!({
        "id": rule.code,
        "name": rule.name,
        "shortDescription": { "text": rule.summary() },
        "fullDescription": { "text": why },
        "help": { "text": doc, "markdown": doc },
        "helpUri": rule.url(),
        "defaultConfiguration": { "level": if rule.family == Family::Meta { "error" } else { "warning" } },
        "properties": { "tags": [rule.family.title(), rule.language_name().to_string()] },
    })
}

/// The text of a `## ` section of a rule's doc, up to the next section.
fn section(doc: &str, heading: &str) -> Option<String> {
    let start = doc.find(heading)? + heading.len();
    let rest = &doc[start..];
    let end = rest.find("\n## ").unwrap_or(rest.len());
    let text = rest[..end].trim();
    (!text.is_empty()).then(|| text.to_string())
}

fn result(d: &Diagnostic) -> Value {
    let level = match (&d.heat, d.rule.code) {
        (_, code) if code == crate::meta::UNUSED_SUPPRESSION.code => "warning",
        (Heat::File, _) => "error",
        (Heat::Hot { .. }, _) => "warning",
        (Heat::Cold, _) => "note",
    };
    let mut text = d.message.clone();
    if let Some(help) = &d.help {
        text.push_str("\nhelp: ");
        text.push_str(help);
    }
    let mut result = json!({
        "ruleId": d.code(),
        "ruleIndex": RULES.iter().position(|r| r.code == d.code()).unwrap_or(0),
        "level": level,
        "message": { "text": text },
        "locations": [location(&d.file, d.start, Some(d.end), None)],
        "properties": { "hot": matches!(d.heat, Heat::Hot { .. }) },
    });
    if let Heat::Hot { reason } = &d.heat {
        let mut steps: Vec<Value> = d
            .hot_path
            .iter()
            .map(|link| {
                let at = Location { row: link.row, column: 1 };
                json!({ "location": location(Path::new(&link.filename), at, None, Some(&link.function)) })
            })
            .collect();
        steps.push(json!({ "location": location(&d.file, d.start, Some(d.end), Some("syncs here")) }));
        for (order, step) in steps.iter_mut().enumerate() {
            step["executionOrder"] = json!(order + 1);
        }
        result["codeFlows"] = json!([{
            "message": { "text": format!("hot path ({reason}): {}", d.chain_text()) },
            "threadFlows": [{ "locations": steps }],
        }]);
        result["properties"]["hotPathReason"] = json!(reason);
    }
    result
}

fn location(file: &Path, start: Location, end: Option<Location>, message: Option<&str>) -> Value {
    let mut region = json!({ "startLine": start.row.max(1), "startColumn": start.column.max(1) });
    if let Some(end) = end.filter(|end| *end >= start) {
        region["endLine"] = json!(end.row.max(1));
        region["endColumn"] = json!(end.column.max(1));
    }
    let mut location = json!({
        "physicalLocation": { "artifactLocation": { "uri": uri(file) }, "region": region }
    });
    if let Some(message) = message {
        location["message"] = json!({ "text": message });
    }
    location
}

/// A relative URI reference for a path under the working directory (what code scanning maps to
/// the repository), else a `file://` URI; percent-encoded either way.
fn uri(file: &Path) -> String {
    let shown = display_path(file);
    let absolute = Path::new(&shown).is_absolute();
    let mut uri = String::from(if absolute { "file://" } else { "" });
    for byte in shown.replace('\\', "/").bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => uri.push(byte as char),
            _ => uri.push_str(&format!("%{byte:02X}")),
        }
    }
    uri
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_percent_encoded() {
        assert_eq!(uri(Path::new("pkg/my model.py")), "pkg/my%20model.py");
        assert_eq!(uri(Path::new("/abs/ç.py")), "file:///abs/%C3%A7.py");
    }

    #[test]
    fn sections_of_a_rule_doc() {
        let doc = "## What it does\nA.\n\n## Why is this bad?\nB\nC.\n\n## Example\nD";
        assert_eq!(section(doc, "## Why is this bad?").as_deref(), Some("B\nC."));
        assert_eq!(section(doc, "## Example").as_deref(), Some("D"));
    }
}
