//! `--output-format json-lines | sarif | github` on `fixtures/sarif/sample/`: hot findings with
//! two-step chains in Python and Rust, a cold one, a syntax error and an unused suppression.
//!
//! The SARIF log is validated against the official SARIF 2.1.0 JSON schema, committed as
//! `fixtures/sarif/sarif-schema-2.1.0.json` (its origin and licence are in the README beside it).

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn graphlint(args: &[&str]) -> Output {
    let cwd = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sarif");
    Command::new(env!("CARGO_BIN_EXE_graphlint")).args(args).current_dir(cwd).output().expect("run graphlint")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({snapshot_path => "../../snapshots/formats", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!(name, text);
    });
}

const SAMPLE: &[&str] = &["sample", "--all-paths", "--output-format"];

fn run(format: &str) -> String {
    let output = graphlint(&[SAMPLE, &[format]].concat());
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
    stdout(&output)
}

#[test]
fn json_lines_is_the_json_array_one_object_per_line() {
    let lines = run("json-lines");
    let array: Value = serde_json::from_str(&run("json")).unwrap();
    let objects: Vec<Value> =
        lines.lines().map(|line| serde_json::from_str(line).expect("one JSON object per line")).collect();
    assert_eq!(objects.len(), 6);
    assert_eq!(Value::Array(objects), array);
}

#[test]
fn github_workflow_commands() {
    let text = run("github");
    assert!(text.lines().all(|l| l.starts_with("::error file=") || l.starts_with("::warning file=")), "{text}");
    snapshot("github", &text);
}

fn schema_validator() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sarif/sarif-schema-2.1.0.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::draft4::options().should_validate_formats(true).build(&schema).expect("the SARIF schema compiles")
}

fn schema_errors(validator: &jsonschema::Validator, log: &Value) -> Vec<String> {
    validator.iter_errors(log).map(|e| format!("{} at {}", e, e.instance_path())).collect()
}

#[test]
fn sarif_validates_against_the_official_schema() {
    let log: Value = serde_json::from_str(&run("sarif")).unwrap();
    let validator = schema_validator();
    let errors = schema_errors(&validator, &log);
    assert!(errors.is_empty(), "SARIF schema violations:\n{}", errors.join("\n"));

    // The validator does reject what the schema forbids.
    let mut broken = log.clone();
    broken["runs"][0]["results"][0]["level"] = "fatal".into();
    broken["runs"][0]["results"][1]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0.into();
    broken.as_object_mut().unwrap().remove("version");
    assert_eq!(schema_errors(&validator, &broken).len(), 3, "{:?}", schema_errors(&validator, &broken));
}

#[test]
fn sarif_carries_rule_metadata_and_the_hot_path() {
    let log: Value = serde_json::from_str(&run("sarif")).unwrap();
    let run = &log["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), graphlint::registry::RULES.len());
    for rule in rules {
        for key in ["id", "name", "helpUri"] {
            assert!(rule[key].is_string(), "{key} missing: {rule}");
        }
        for key in ["shortDescription", "fullDescription", "help"] {
            assert!(!rule[key]["text"].as_str().unwrap().is_empty(), "{key} missing: {rule}");
        }
    }
    let results = run["results"].as_array().unwrap();
    for result in results {
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], result["ruleId"]);
    }
    let levels: Vec<(&str, &str)> =
        results.iter().map(|r| (r["ruleId"].as_str().unwrap(), r["level"].as_str().unwrap())).collect();
    assert_eq!(
        levels,
        vec![
            ("GL000", "error"),
            ("GL000", "error"),
            ("GL201", "warning"),
            ("GL701", "note"),
            ("GL002", "warning"),
            ("GL806", "warning")
        ]
    );

    let steps = |result: &Value| -> Vec<(String, u64, String)> {
        result["codeFlows"][0]["threadFlows"][0]["locations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|step| {
                let location = &step["location"];
                let physical = &location["physicalLocation"];
                (
                    physical["artifactLocation"]["uri"].as_str().unwrap().to_string(),
                    physical["region"]["startLine"].as_u64().unwrap(),
                    location["message"]["text"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let step = |file: &str, row: u64, text: &str| (file.to_string(), row, text.to_string());
    assert_eq!(
        steps(&results[2]),
        vec![
            step("sample/model.py", 8, "Model.forward"),
            step("sample/helpers.py", 4, "scale"),
            step("sample/helpers.py", 5, "syncs here")
        ]
    );
    assert_eq!(
        steps(&results[5]),
        vec![
            step("sample/sampler.rs", 14, "Sampler::forward"),
            step("sample/sampler.rs", 8, "Sampler::pick"),
            step("sample/sampler.rs", 9, "syncs here")
        ]
    );
    let with_flows: Vec<&str> =
        results.iter().filter(|r| r.get("codeFlows").is_some()).map(|r| r["ruleId"].as_str().unwrap()).collect();
    assert_eq!(with_flows, vec!["GL201", "GL806"], "only hot findings have a code flow");
}

#[test]
fn sarif_snapshot() {
    let log: Value = serde_json::from_str(&run("sarif")).unwrap();
    // The rule table is the registry's (checked above); the snapshot shows the results.
    let mut results = log["runs"][0]["results"].clone();
    for result in results.as_array_mut().unwrap() {
        result.as_object_mut().unwrap().remove("ruleIndex");
    }
    snapshot("sarif_results", &serde_json::to_string_pretty(&results).unwrap());
}
