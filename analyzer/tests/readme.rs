//! The documentation stays in step with the code: the README's rules table is the registry's,
//! the configuration reference documents exactly the keys graphlint reads, and its examples
//! are valid configurations.
//!
//! To refresh the table: `GRAPHLINT_UPDATE_README=1 cargo test -p graphlint --test readme`.

use std::path::Path;

const START: &str = "<!-- rules-table:start";
const END: &str = "<!-- rules-table:end -->";

fn read(relative: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)).unwrap()
}

#[test]
fn readme_rules_table_matches_the_registry() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let start = readme.find(START).expect("README.md lacks the `<!-- rules-table:start ... -->` marker");
    let table_start = start + readme[start..].find('\n').expect("a line break after the start marker") + 1;
    let table_end = table_start + readme[table_start..].find(END).expect("README.md lacks `<!-- rules-table:end -->`");
    let expected = graphlint::registry::markdown_table();
    if std::env::var_os("GRAPHLINT_UPDATE_README").is_some() {
        std::fs::write(&path, format!("{}{expected}{}", &readme[..table_start], &readme[table_end..])).unwrap();
        return;
    }
    assert!(
        readme[table_start..table_end] == expected,
        "README.md's rules table differs from the registry; refresh it with\n  \
         GRAPHLINT_UPDATE_README=1 cargo test -p graphlint --test readme\n\nexpected:\n{expected}"
    );
}

#[test]
fn every_rule_is_in_the_table() {
    let table = graphlint::registry::markdown_table();
    for rule in graphlint::registry::RULES.iter() {
        assert!(table.contains(&format!("[`{}`]", rule.code)), "{} is missing", rule.code);
        assert!(
            Path::new(env!("CARGO_MANIFEST_DIR")).join(rule.source_file).is_file(),
            "{} links to a missing file",
            rule.code
        );
    }
}

/// The `### \`key\`` headings of the `## Configuration` section.
fn documented_keys(doc: &str) -> Vec<String> {
    let start = doc.find("\n## Configuration\n").expect("a `## Configuration` section");
    let section = &doc[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |end| end + 3)];
    section
        .lines()
        .filter_map(|l| l.strip_prefix("### `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .collect()
}

#[test]
fn configuration_reference_documents_every_key() {
    let doc = read("README.md");
    let mut documented = documented_keys(&doc);
    documented.sort();
    let mut keys: Vec<String> = graphlint::config::KEYS.iter().map(|k| k.to_string()).collect();
    keys.sort();
    assert_eq!(documented, keys, "the `### `key`` sections of README.md");
}

#[test]
fn documented_configurations_are_valid() {
    let doc = read("README.md");
    let mut blocks = 0;
    let mut rest = doc.as_str();
    while let Some(at) = rest.find("```toml\n") {
        let body_start = at + "```toml\n".len();
        let body_end = body_start + rest[body_start..].find("```").unwrap();
        let body = &rest[body_start..body_end];
        rest = &rest[body_end..];
        let name = if body.contains("[tool.graphlint") { "pyproject.toml" } else { "graphlint.toml" };
        let path = Path::new("/project").join(name);
        // `extend` names a file that does not exist here; the options still have to parse.
        let parsed = graphlint::config::Options::parse(&path, body.into());
        assert!(matches!(parsed, Ok(Some(_))), "invalid example configuration:\n{body}\n{:?}", parsed.err());
        blocks += 1;
    }
    assert!(blocks >= 2, "expected example configurations in the reference");
}

#[test]
fn pre_commit_snippet_names_the_hook() {
    let doc = read("README.md");
    let hooks = read(".pre-commit-hooks.yaml");
    assert!(hooks.contains("- id: graphlint"));
    assert!(doc.contains("- id: graphlint"), "the pre-commit snippet must use the hook's id");
    assert!(doc.contains("--output-format sarif") && doc.contains("upload-sarif"));
}
