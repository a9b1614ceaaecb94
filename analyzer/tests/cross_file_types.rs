//! Issue 13 items 3 and 6: types that cross files. `fixtures/projects/declared_types` declares
//! dataclass, `NamedTuple` and class-level fields, functions' returns and an `int` parameter in
//! some files and reads them in others, and passes tensors and host data to other files'
//! parameters (`decode.py` to `helpers.py`); each `# expect: CODE` line must be reported on a hot
//! path, nothing else may be.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{assert_hot_findings_are_the_expectations, finding, graphlint_json};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/projects/declared_types")
}

#[test]
fn declared_fields_returns_and_callers_types_reach_other_files() {
    assert_hot_findings_are_the_expectations(&fixture());
}

#[test]
fn messages_say_what_proved_the_type() {
    let findings = graphlint_json(&fixture(), &[]);
    // An `Optional[torch.cuda.Event]` field of a `NamedTuple` is a proven event.
    let event = finding(&findings, "pkg/runner.py", 25, "GL102");
    assert!(!event["message"].as_str().unwrap().contains("judged by its name"), "{event}");
    // A field declared a tensor but named as a host copy is host data: no finding on its `.item()`.
    assert!(!findings.iter().any(|f| f["filename"] == "pkg/runner.py" && f["location"]["row"] == 23), "{findings:#?}");
    // Callers win over an `int` annotation, and the message names one.
    let step = finding(&findings, "pkg/scheduler.py", 9, "GL401");
    let message = step["message"].as_str().unwrap();
    assert!(message.contains("`timestep` is annotated as a Python number"), "{message}");
    assert!(message.contains("pkg/runner.py:43"), "{message}");
    // So do they over no annotation: an element of another file's answer, and a keyword argument.
    let advance = finding(&findings, "pkg/helpers.py", 11, "GL401");
    let message = advance["message"].as_str().unwrap();
    assert!(message.contains("`accepted` is not annotated, and callers pass a tensor: pkg/decode.py:27"), "{message}");
    let accept = finding(&findings, "pkg/helpers.py", 18, "GL401");
    assert!(accept["message"].as_str().unwrap().contains("pkg/decode.py:28"), "{accept}");
    // A loop that passes what its last iteration computed passes a tensor from the second on.
    let carried = finding(&findings, "pkg/generate.py", 10, "GL401");
    assert!(carried["message"].as_str().unwrap().contains("callers pass a tensor: pkg/generate.py:16"), "{carried}");
}

/// The same declarations are worthless alone: a file checked without the files that declare its
/// types, or whose callers are not given, gets no proven finding from them.
#[test]
fn without_the_declaring_files_nothing_is_proven() {
    let dir = fixture();
    let alone = graphlint_json(&dir, &["--all-paths", "pkg/scheduler.py"]);
    assert!(alone.iter().all(|f| f["code"] != "GL401"), "{alone:#?}");
    let runner = graphlint_json(&dir, &["pkg/runner.py"]);
    assert!(runner.iter().all(|f| f["code"] != "GL102" && f["code"] != "GL401"), "{runner:#?}");
}

/// How many files the types across files checked a second time (`GRAPHLINT_TIMINGS` says).
fn rechecked_files(dir: &Path) -> usize {
    let output = Command::new(env!("CARGO_BIN_EXE_graphlint"))
        .args(["--output-format", "json", "--no-cache", "."])
        .env("GRAPHLINT_TIMINGS", "1")
        .current_dir(dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr.lines().find(|l| l.contains("re-checks of ")).unwrap_or_else(|| panic!("{stderr}"));
    let count = line.split("re-checks of ").nth(1).unwrap().split_whitespace().next().unwrap();
    count.parse().unwrap()
}

/// A file is checked again only where an answer reaches a construct some rule reads: here a
/// declared tensor field used only in arithmetic gets no re-check, and read by a condition, one.
#[test]
fn only_files_whose_answers_a_rule_reads_are_checked_again() {
    let tree = |forward: &str| {
        let dir = tempfile::tempdir().unwrap();
        let pkg = dir.path().join("pkg");
        std::fs::create_dir(&pkg).unwrap();
        std::fs::write(pkg.join("__init__.py"), "").unwrap();
        std::fs::write(
            pkg.join("batch.py"),
            "import dataclasses\nimport torch\n\n\n@dataclasses.dataclass\nclass Info:\n    scale: torch.Tensor\n",
        )
        .unwrap();
        let model = format!(
            "import torch\nfrom torch import nn\n\nfrom .batch import Info\n\n\nclass M(nn.Module):\n    \
             def forward(self, x: torch.Tensor, info: Info):\n{forward}        return x\n"
        );
        std::fs::write(pkg.join("model.py"), model).unwrap();
        dir
    };
    let arithmetic = tree("        x = x * info.scale\n        y = helper(info.scale)\n");
    assert_eq!(rechecked_files(arithmetic.path()), 0);
    let condition = tree("        if info.scale.any():\n            x = x * 2\n");
    assert_eq!(rechecked_files(condition.path()), 1);
    let findings = graphlint_json(condition.path(), &[]);
    assert!(findings.iter().any(|f| f["code"] == "GL401" && f["hot"] == true), "{findings:#?}");
}

// Issue 13 item 3, what declared containers hold: `fixtures/projects/declared_containers`
// declares dataclass, `NamedTuple` and class-level fields as `Dict`/`List`/`Tuple`/`Optional`
// containers of tensors and events (`pkg/batch.py`), and parameters as such containers;
// `pkg/sampler.py` takes their elements out by iteration, `.items()`/`.values()`, comprehensions,
// subscripts and tuple unpacking, and indexes declared lists with device tensors. Each
// `# expect: CODE` line must be reported on a hot path, nothing else may be (elements declared as
// Python values, and host copies by name, are not tensors).

fn containers_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/projects/declared_containers")
}

#[test]
fn elements_of_declared_containers_have_their_declared_types() {
    assert_hot_findings_are_the_expectations(&containers_fixture());
    // The events of a `Dict[str, torch.cuda.Event]` field are proven, not judged by their name.
    let findings = graphlint_json(&containers_fixture(), &[]);
    let event = finding(&findings, "pkg/sampler.py", 28, "GL102");
    assert!(!event["message"].as_str().unwrap().contains("judged by its name"), "{event}");
}

/// Without the file that declares the fields, only the parameter's and the class's own
/// annotations prove anything (the event is judged by its name).
#[test]
fn without_the_declaring_file_only_the_parameter_is_known() {
    let findings = graphlint_json(&containers_fixture(), &["pkg/sampler.py"]);
    let mut rows: Vec<u64> = findings.iter().map(|f| f["location"]["row"].as_u64().unwrap()).collect();
    rows.sort_unstable();
    assert_eq!(rows, [16, 18, 28, 48, 51, 54], "{findings:#?}");
    let event = finding(&findings, "pkg/sampler.py", 28, "GL102");
    assert!(event["message"].as_str().unwrap().contains("judged by its name"), "{event}");
}

/// A second run takes the project pass's result from the cache, answers about containers
/// included: the same findings.
#[test]
fn cached_answers_keep_the_containers() {
    let (first, second) = two_cached_runs(&containers_fixture());
    assert!(first.contains("GL501"), "{first}");
    assert_eq!(second, first);
}

/// The JSON of two runs over a copy of `fixture`'s `pkg` with a cache: cold, then warm.
fn two_cached_runs(fixture: &Path) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path().join("pkg");
    std::fs::create_dir(&pkg).unwrap();
    for entry in std::fs::read_dir(fixture.join("pkg")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), pkg.join(entry.file_name())).unwrap();
    }
    let run = || {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_graphlint"))
            .args(["--output-format", "json", "--exit-zero", "--cache-dir", ".cache", "."])
            .current_dir(dir.path())
            .output()
            .unwrap();
        String::from_utf8(output.stdout).unwrap()
    };
    let first = run();
    (first, run())
}

// vLLM's multimodal fields kept on the CPU: `fixtures/projects/kept_on_cpu` declares fields with
// `keep_on_cpu=True` in `processing.py` and in `model.py` itself, and reads them from the model's
// keyword arguments in `model.py`; fields moved to the device, and a name one file keeps and
// another does not, stay reported.

fn kept_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/projects/kept_on_cpu")
}

#[test]
fn fields_kept_on_the_cpu_are_read_as_host_tensors() {
    assert_hot_findings_are_the_expectations(&kept_fixture());
}

/// Without the file that declares them, the fields another file keeps are not known to be host
/// data; the model's own declarations still are.
#[test]
fn without_the_declaring_file_other_fields_are_not_host_data() {
    let findings = graphlint_json(&kept_fixture(), &["pkg/model.py"]);
    let rows: Vec<u64> = findings
        .iter()
        .filter(|f| f["filename"] == "pkg/model.py")
        .map(|f| f["location"]["row"].as_u64().unwrap())
        .collect();
    for row in [24, 25, 27] {
        assert!(rows.contains(&row), "row {row}: {findings:#?}");
    }
    assert!(!rows.contains(&16), "declared in model.py itself: {findings:#?}");
}

/// A second run takes the project pass's result from the cache, kept fields included.
#[test]
fn cached_answers_keep_the_kept_fields() {
    let (first, second) = two_cached_runs(&kept_fixture());
    let findings: Vec<serde_json::Value> = serde_json::from_str(&first).unwrap();
    let rows: Vec<u64> = findings.iter().map(|f| f["location"]["row"].as_u64().unwrap()).collect();
    assert!(rows.contains(&33) && !rows.contains(&24), "{first}");
    assert_eq!(second, first);
}

// Host data across calls: `fixtures/projects/host_flow` calls functions of another file whose every
// `return` gives a tensor in host memory under a `-> torch.Tensor` annotation (and one of its
// own file), and calls private module classes and a public module function with tensors built in
// host memory; functions that return device tensors on some path, a private class one caller gives
// a device tensor, a public class, a public function a caller gives a device tensor, and one that
// holds a decode loop (its callers are outside the tree) stay reported.

fn host_flow_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/projects/host_flow")
}

#[test]
fn host_data_returned_or_passed_across_calls_is_read_as_host_data() {
    assert_hot_findings_are_the_expectations(&host_flow_fixture());
}

/// Without the file that returns them, the results are not known to be in host memory.
#[test]
fn without_the_returning_file_results_are_not_host_data() {
    let findings = graphlint_json(&host_flow_fixture(), &["pkg/model.py"]);
    let rows: Vec<u64> = findings
        .iter()
        .filter(|f| f["filename"] == "pkg/model.py")
        .map(|f| f["location"]["row"].as_u64().unwrap())
        .collect();
    for row in [18, 29] {
        assert!(rows.contains(&row), "row {row}: {findings:#?}");
    }
    assert!(!rows.contains(&22), "returned by model.py itself: {findings:#?}");
}

// What constructions fill dataclass fields with: `fixtures/projects/constructed_fields` declares
// fields as `torch.Tensor` and `Dict[int, Tuple[P, torch.Tensor]]` (`pkg/info.py`), which say
// nothing of the dtype; `pkg/batch.py` constructs them with boolean masks (a dict comprehension of
// tuples, a comparison), with indices, with both at two sites, and positionally. A field is a
// boolean mask only where every keyword construction agrees and none is positional.

#[test]
fn fields_every_construction_fills_with_masks_are_masks() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/projects/constructed_fields");
    assert_hot_findings_are_the_expectations(&dir);
}
