//! Issue 13 items 3 and 6: tensors that reach a method through an attribute another method moved
//! to the device, then through the callers' arguments. `fixtures/projects/moved_attributes`
//! holds a diffusers-like pipeline: a helper calls `scheduler.set_timesteps(n, device=device)`
//! (which stores `torch.from_numpy(ts).to(device)` over the host tensor `__init__` made) and
//! returns `scheduler.timesteps`; the pipeline loops over it and passes each timestep to
//! `scheduler.step(out, t, x)`, annotated `timestep: int`, which passes it on to other methods,
//! and reads back what those return from it (`prev_t = self.previous(t)`, `shifted(t, 2)`).
//! Each `# expect: CODE` line must be reported on a hot path, nothing else may be.

mod common;

use std::path::{Path, PathBuf};

use common::{assert_hot_findings_are_the_expectations, finding, graphlint_json};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/projects/moved_attributes")
}

#[test]
fn timesteps_moved_by_set_timesteps_reach_step_and_its_helpers() {
    assert_hot_findings_are_the_expectations(&fixture());
}

#[test]
fn messages_name_the_caller_that_passes_the_tensor() {
    let findings = graphlint_json(&fixture(), &[]);
    let at = |row: u64, code: &str| {
        finding(&findings, "pkg/schedulers.py", row, code)["message"].as_str().unwrap().to_string()
    };
    // The pipeline's loop passes the timestep: the annotation `int` loses.
    let step = at(39, "GL401");
    assert!(step.contains("`timestep` is annotated as a Python number, but callers pass a tensor"), "{step}");
    assert!(step.contains("pkg/pipeline.py:37"), "{step}");
    // `step` passes it on to a helper, unannotated: the helper's caller is `step`.
    let helper = at(44, "GL204");
    assert!(
        helper.contains("`step_index` is not annotated, and callers pass a tensor: pkg/schedulers.py:27"),
        "{helper}"
    );
}
