//! Multi-file packages under `fixtures/projects/`: each `# expect: CODE` line must be reported
//! on a hot path, nothing else may be, and the findings with their chains are snapshotted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn graphlint_json(dir: &Path, extra: &[&str]) -> Vec<serde_json::Value> {
    let output = Command::new(env!("CARGO_BIN_EXE_graphlint"))
        .args(["--output-format", "json"])
        .args(extra)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(matches!(output.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap().as_array().unwrap().clone()
}

fn python_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            python_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "py") {
            out.push(path);
        }
    }
}

fn expectations(dir: &Path) -> BTreeMap<(String, u64, String), usize> {
    let mut files = Vec::new();
    python_files(dir, &mut files);
    let mut expected = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/");
        for (index, line) in std::fs::read_to_string(&file).unwrap().lines().enumerate() {
            if let Some(at) = line.find("# expect:") {
                for code in line[at + 9..].split_whitespace().take_while(|w| w.starts_with("GL")) {
                    *expected.entry((relative.clone(), index as u64 + 1, code.to_string())).or_insert(0) += 1;
                }
            }
        }
    }
    expected
}

/// One line per finding, then its chain: what a reviewer needs to check the hot-path logic.
fn render(findings: &[serde_json::Value]) -> String {
    let mut text = String::new();
    for f in findings {
        let chain: Vec<String> = f["hot_path"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| format!("{} ({}:{})", l["function"].as_str().unwrap(), l["filename"].as_str().unwrap(), l["row"]))
            .collect();
        text.push_str(&format!(
            "{}:{}:{}: {} {}\n    hot path: {}\n",
            f["filename"].as_str().unwrap(),
            f["location"]["row"],
            f["location"]["column"],
            f["code"].as_str().unwrap(),
            f["message"].as_str().unwrap(),
            chain.join(" → ")
        ));
    }
    text
}

fn check_project(name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/projects").join(name);
    let findings = graphlint_json(&dir, &[]);
    let mut actual = BTreeMap::new();
    for f in &findings {
        assert_eq!(f["hot"], true, "only hot findings are reported by default: {f}");
        assert!(!f["hot_path"].as_array().unwrap().is_empty(), "a hot finding has a chain: {f}");
        let key = (
            f["filename"].as_str().unwrap().to_string(),
            f["location"]["row"].as_u64().unwrap(),
            f["code"].as_str().unwrap().to_string(),
        );
        *actual.entry(key).or_insert(0) += 1;
    }
    assert_eq!(actual, expectations(&dir), "{name}");
    insta::with_settings!({snapshot_path => "../../snapshots/projects", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!(name, render(&findings));
    });
}

#[test]
fn sync_in_a_helper_two_files_away() {
    check_project("two_files_away");
}

#[test]
fn helper_called_only_from_a_training_loop_is_not_reported() {
    check_project("training_only");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/projects/training_only");
    // It is there, and cold...
    let all = graphlint_json(&dir, &["--all-paths"]);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["hot"], false);
    assert_eq!(all[0]["filename"], "pkg/metrics.py");
    // ...until a `--hot` pattern makes it a root.
    let patterned = graphlint_json(&dir, &["--hot", "pkg.metrics:report_*"]);
    assert_eq!(patterned.len(), 1);
    assert_eq!(patterned[0]["hot_path"][0]["function"], "report_loss");
    let glob = graphlint_json(&dir, &["--hot", "*report_loss"]);
    assert_eq!(glob.len(), 1);
}

#[test]
fn torch_compile_decorators_and_call_sites() {
    check_project("compiled");
}

#[test]
fn cuda_graph_capture_and_graphed_callables() {
    check_project("cuda_graph");
}

#[test]
fn decode_loop() {
    check_project("decode_loop");
}

#[test]
fn super_forward() {
    check_project("super_forward");
}

#[test]
fn module_list_and_sequential() {
    check_project("module_list");
}

#[test]
fn relative_imports_and_reexports() {
    check_project("relative_imports");
}

#[test]
fn import_cycle_terminates() {
    check_project("import_cycle");
}

#[test]
fn cold_marker() {
    check_project("cold_marker");
}

/// Issue 13's roots that mean per-step: loops in setup code (merging, loading), a loss module's
/// `forward`, an optimizer's `step`, tests, and what a forward reaches only through `unmerge`, a
/// `compute_loss` or a `*Training*` class (or a subclass of one) are not hot, nor is a loop over
/// logged values calling a Module's `log`, nor one weighting adapters, nor the functions of a
/// training script (a module whose top-level code or `main` trains), nor a loop that calls a
/// function training a model a few calls down (an attack optimizing each batch); the generation
/// loop is, also in a library module that trains in another function.
#[test]
fn setup_loops_losses_optimizers_and_tests_are_not_per_step() {
    check_project("not_per_step");
    assert_found_cold(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/projects/not_per_step"),
        &[
            ("pkg/model.py", 11),
            ("pkg/model.py", 25),
            ("pkg/model.py", 29),
            ("pkg/model.py", 34),
            ("pkg/model.py", 41),
            ("pkg/model.py", 47),
            ("pkg/model.py", 75),
            ("pkg/model.py", 83),
            ("pkg/model.py", 95),
            ("pkg/tests/test_model.py", 11),
            ("pkg/train_draft.py", 15),
            ("pkg/finetune.py", 10),
            ("pkg/attack.py", 33),
        ],
    );
}

/// Issue 13 item 5: a loop over a model's modules, parameters or adapters (directly, or through a
/// list made of them) runs no step, so it is no decode loop; the decode loop beside them still is.
#[test]
fn loops_over_model_parts_are_not_decode_loops() {
    check_project("model_parts");
    assert_found_cold(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/projects/model_parts"),
        &[("pkg/model.py", 13), ("pkg/model.py", 18), ("pkg/model.py", 23)],
    );
}

/// Issue 13 item 2: a call on a receiver declared as a base class (`criteria: list[Criterion]`)
/// reaches the subclasses' overrides; a `list` subclass holds what the tree appends to it and,
/// named `ProcessorList`, `Processor`s. A method no hot code calls, and a same-named method of a
/// class outside the hierarchy, stay cold.
#[test]
fn dispatch_to_overrides() {
    check_project("dispatch");
    assert_found_cold(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/projects/dispatch"),
        &[("pkg/processors.py", 27), ("pkg/stopping.py", 23)],
    );
}

/// A base class's method calling `self.m(...)` where its own `m` is a stub (`@abstractmethod`,
/// a docstring, `pass`, `raise NotImplementedError`) runs the subclasses' overrides; the
/// instances come from a dict comprehension over `Set[Type[Base]]` and are read with
/// `.values()`. A `self.m(...)` whose `m` has a body of its own is not dispatched (the override
/// stays cold, a known false negative). A list of layers declared by a parameter with an empty
/// default (`layers if layers is not None else []`) reaches its elements' overrides
/// (`layers.py`).
#[test]
fn self_calls_of_stubs_reach_the_overrides() {
    check_project("abstract_dispatch");
    assert_found_cold(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/projects/abstract_dispatch"),
        &[("pkg/penalties.py", 49)],
    );
}

/// Receivers the hot-path pass resolves beyond assignments: a parameter annotated with an `Enum`
/// whose members are named like classes (diffusers' `scheduler: KarrasDiffusionSchedulers`), an
/// attribute stored by a method that `setattr`s its `**kwargs` (`register_modules`), a property
/// read (`cache.size`), a function's quoted return annotation (`-> "Sampler"`). The `int`
/// parameter the pipeline passes a tensor is read as one. A property or method nothing hot
/// reaches, and a scheduler outside the enum, stay cold.
#[test]
fn receivers_from_enums_kwargs_properties_and_returns() {
    check_project("resolved_receivers");
    assert_found_cold(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/projects/resolved_receivers"),
        &[("pkg/cache.py", 22), ("pkg/scheduling.py", 30), ("pkg/scheduling.py", 37)],
    );
}

/// `(row, code)` of the cold findings of a fixture project, with `--all-paths`.
/// Asserts that each `(file, row)` of the project in `dir` is found with `--all-paths`, and cold.
fn assert_found_cold(dir: &Path, rows: &[(&str, u64)]) {
    let all = graphlint_json(dir, &["--all-paths"]);
    for &(file, row) in rows {
        let cold = all.iter().any(|f| f["filename"] == file && f["location"]["row"] == row && f["hot"] == false);
        assert!(cold, "{file}:{row} must be found, and cold:\n{all:#?}");
    }
}

fn cold_findings(name: &str) -> Vec<(u64, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/projects").join(name);
    let all = graphlint_json(&dir, &["--all-paths"]);
    let mut cold: Vec<(u64, String)> = all
        .iter()
        .filter(|f| f["hot"] == false)
        .map(|f| (f["location"]["row"].as_u64().unwrap(), f["code"].as_str().unwrap().to_string()))
        .collect();
    cold.sort();
    cold
}

/// A branch taken only when the function's `labels` parameter is given (`if labels is not None:`,
/// the rest of `labels is not None and ...`, the other branches of `if labels is None:`) computes
/// a loss: it is cold, and so is what only it calls; so with `labels = kwargs.pop("labels")`.
/// Other names and a local `labels` are not.
#[test]
fn branches_on_given_labels_are_cold() {
    check_project("labels_branch");
    let cold = cold_findings("labels_branch");
    let rows: Vec<u64> = cold.iter().map(|(row, _)| *row).collect();
    assert_eq!(rows, [6, 20, 24, 25, 54], "{cold:?}");
}

/// What a `raise` evaluates, and an `assert`'s message, run once, when failing: cold, with what
/// only they call; the `assert`'s test stays hot.
#[test]
fn error_paths_are_cold() {
    check_project("error_path");
    let cold = cold_findings("error_path");
    let rows: Vec<u64> = cold.iter().map(|(row, _)| *row).collect();
    assert_eq!(rows, [6, 14, 17], "{cold:?}");
}

/// The body of an `lru_cache`/`cache`/`cached_property` function runs once per distinct argument:
/// cold unless a marker says otherwise; the caller's own syncs stay hot.
#[test]
fn cached_functions_are_cold() {
    check_project("cached_once");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/projects/cached_once");
    let all = graphlint_json(&dir, &["--all-paths"]);
    let cold_rows = |file: &str| -> Vec<u64> {
        all.iter()
            .filter(|f| f["filename"] == file && f["hot"] == false)
            .map(|f| f["location"]["row"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(cold_rows("pkg/model.py"), [9, 25, 39], "{all:#?}");
    // A table the module keeps, rebuilt when it is too small (`if needed > self.weights.size(0):`,
    // also inside an `and`): the branch is cold, and so is `make_weights`, which only it and
    // `__init__` call; the opposite comparison is the usual path and stays hot (row 32).
    assert_eq!(cold_rows("pkg/positions.py"), [14, 27, 29], "{all:#?}");
    // State filled on first use (`if self.scale is None: self.scale = ...`) is cold; an `is None`
    // test whose body does not fill that attribute is the usual path (row 17 stays hot). So is
    // state rebuilt when it went stale (`or self.mask.size(0) != n`, `or self.signs.device != d`:
    // rows 32, 34); another `or` condition keeps the body hot (row 37). The object may be one the
    // function is given (row 45); a body that fills another object's attribute stays hot (48).
    // `if not hasattr(self, "x"):` filling `x` by `register_buffer` or `setattr` is lazy too
    // (rows 56, 58); a body that registers another name stays hot (61).
    assert_eq!(cold_rows("pkg/lazy.py"), [14, 32, 34, 45, 56, 58], "{all:#?}");
}

/// `if self.training:` bodies (and the rest of `self.training and ...`), and the other branches of
/// `if not self.training:`, are never hot; neither is what only they call. Nor is what follows a
/// guard that leaves whenever the model infers (`if not self.training: return x`, `if
/// self.training is False:`, `if labels is None: return logits`), or one on a parameter that every
/// call gives a training value (`drop_path(x, p, self.training)`); a guard that does not leave, or
/// a call passing `True`, keeps the heat.
#[test]
fn training_only_branches_are_cold() {
    check_project("training_branch");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/projects/training_branch");
    let all = graphlint_json(&dir, &["--all-paths"]);
    let cold_rows = |file: &str| -> Vec<u64> {
        all.iter()
            .filter(|f| f["hot"] == false && f["filename"] == file)
            .map(|f| f["location"]["row"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(cold_rows("pkg/model.py"), [6, 20, 25, 26], "{all:#?}");
    assert_eq!(cold_rows("pkg/guards.py"), [9, 30, 38, 46], "{all:#?}");
}

/// `if debug:` (and `verbose_timing and ...`) on a parameter that defaults to `False` guards
/// diagnostics a caller opts into: cold. A flag on by default, or one the function binds again,
/// keeps its heat.
#[test]
fn opt_in_diagnostics_are_cold() {
    check_project("opt_in_diagnostics");
    assert_eq!(cold_findings("opt_in_diagnostics").iter().map(|(row, _)| *row).collect::<Vec<_>>(), [15, 15, 19]);
}

/// An `if` arm on a parameter that every call passes `False`, leaves to a `False` default, or
/// gives a value that holds only in training (`self.training and ...`, or a name bound to one)
/// runs only in training: cold, in a public method too (peft's `get_delta_weight(...,
/// apply_rank_dropout=...)`). A call passing `True` keeps the arm hot.
#[test]
fn arms_on_training_only_flags_are_cold() {
    check_project("training_flags");
    assert_eq!(cold_findings("training_flags").iter().map(|(row, _)| *row).collect::<Vec<_>>(), [16]);
}

/// Issue 13 item 5, roots that mean per-step: a loop that runs the model through a helper is a
/// decode loop, and a function defined in per-step code is per-step; loops in evaluation and
/// benchmark code, in checkpoint filters, and loops that only reset the layers' state are not.
#[test]
fn per_step_roots() {
    check_project("per_step_roots");
    assert_found_cold(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/projects/per_step_roots"),
        &[
            ("pkg/model.py", 10),
            ("pkg/generation.py", 40),
            ("pkg/generation.py", 49),
            ("pkg/generation.py", 60),
            ("pkg/benchmarks/latency.py", 9),
        ],
    );
}

/// Issue 13 item 5: a loop beside a diffusion pipeline's timestep loop (the one calling
/// `scheduler.step`) runs once per request, even when it calls the denoiser; a loop in a
/// likelihood or loss (`log_prob`, `*_nll`) runs no inference step, and a function so named is
/// cold where a `forward` calls it. A loop that sets a schedule up again on each iteration (a long
/// video's windows) runs whole denoising runs: what it calls beside the timestep loop is cold, the
/// timestep loop inside it hot, also where the schedulers are per-frame copies in a list. Loops in a function without a scheduler step, and a sampling
/// loop, stay decode loops. A loop over the elements of one tensor that calls only the Module's
/// helpers (a CDF built element by element) runs no model step; one that calls the model does.
#[test]
fn setup_loops_beside_the_denoising_loop_and_likelihood_loops_are_not_per_step() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/projects/per_step_loops");
    let findings = graphlint_json(&dir, &[]);
    let mut actual = BTreeMap::new();
    for f in &findings {
        let key = (
            f["filename"].as_str().unwrap().to_string(),
            f["location"]["row"].as_u64().unwrap(),
            f["code"].as_str().unwrap().to_string(),
        );
        *actual.entry(key).or_insert(0) += 1;
    }
    assert_eq!(actual, expectations(&dir));
    assert_found_cold(
        &dir,
        &[
            ("pkg/pipeline.py", 24),
            ("pkg/pipeline.py", 34),
            ("pkg/pipeline.py", 52),
            ("pkg/likelihood.py", 12),
            ("pkg/likelihood.py", 29),
            ("pkg/pipeline.py", 65),
            ("pkg/pipeline.py", 72),
            ("pkg/pipeline.py", 93),
            ("pkg/elements.py", 11),
            ("pkg/elements.py", 31),
        ],
    );
}

/// An `if` arm of a private function that every call in the tree rules out (each passes one
/// literal for the parameter the arm tests, or leaves it to a literal default) is cold, and so is
/// what only it calls, across files too; so is the arm of a public function whose every call
/// leaves the parameter at its default. Calls that pass different values, a function read as a
/// value (`functools.partial`), a call that does not resolve and a parameter bound again keep
/// their arms hot.
#[test]
fn arms_that_no_call_takes_are_cold() {
    check_project("constant_arms");
    // model.py 17, 22, 24, 55 (`public`), 74; helpers.py 7 (the `flip` arm: a tensor built from
    // `.tolist()`) and 13 (`_expensive`, called only from the arm at model.py 13).
    let cold: Vec<(u64, &str)> = vec![
        (7, "GL202"),
        (7, "GL601"),
        (13, "GL201"),
        (17, "GL201"),
        (22, "GL201"),
        (24, "GL201"),
        (55, "GL201"),
        (74, "GL201"),
    ];
    let cold: Vec<(u64, String)> = cold.into_iter().map(|(row, code)| (row, code.to_string())).collect();
    assert_eq!(cold_findings("constant_arms"), cold);
}

/// A `while` loop whose test reads one sequence at an index its body steps (`while x > edges[i]
/// ... i += 1`) walks that sequence like a loop over its elements: calling the Module's own helpers
/// there runs no model step. A counter loop that indexes nothing, and an index walk that calls the
/// model, stay decode loops.
#[test]
fn loops_walking_a_sequence_by_index_are_no_decode_loops() {
    check_project("index_walk");
    assert_eq!(cold_findings("index_walk"), [(22, "GL401".to_string())]);
}

/// A function picked by name from a registry object (a class with `__getitem__` whose
/// class-level dict maps names to functions, as transformers' `ALL_MASK_ATTENTION_FUNCTIONS`)
/// and called in a forward is hot; a branch taken only under `torch.jit.is_tracing()` is not.
#[test]
fn registry_entries_are_hot_and_tracing_branches_cold() {
    check_project("registry_dispatch");
    assert_eq!(
        cold_findings("registry_dispatch"),
        [(17, "GL401".to_string()), (20, "GL201".to_string())],
        "the unregistered function's `if` (masks.py:17) and the tracing-only `.item()` (model.py:20)"
    );
}

/// A call graph edge through a receiver that only arguments give (`engine.step(x)` with `engine`
/// a parameter): resolved again after arguments flow, not taken from the first round, in which a
/// caller later in the file order had not yet passed it anything.
#[test]
fn receivers_given_by_later_callers() {
    check_project("flowed_receivers");
}
