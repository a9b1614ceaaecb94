//! The `probe exec` report's shape, pinned by a snapshot made from a trace the injection library
//! wrote (fixtures/probe/exec/fake-cupti: its README says how it was recorded). Schema:
//! runtime-probe/REPORT.md.

use std::path::Path;

use runtime_probe::exec::analyze::Options;
use runtime_probe::exec::{build_report, trace, ProgramStatus};

#[test]
fn report_of_a_recorded_trace() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/probe/exec/fake-cupti");
    let traces = trace::read_dir(&dir).unwrap();
    let program = ProgramStatus {
        argv: vec!["python3".into(), "fake_program.py".into()],
        status: "exited",
        exit_code: Some(0),
        signal: None,
    };
    let options = Options { step: Some("__main__:step".into()), skip: 1, internal: Vec::new() };
    let mut report = serde_json::to_value(build_report(&traces, &options, program, false)).unwrap();
    // The probe's own commit changes with every commit; the rest is the recorded run's.
    report["probe"] = serde_json::Value::Null;
    assert_eq!(report["steps"]["syncs_per_step"], serde_json::json!([3, 2, 3]), "odd steps sync once more");
    assert_eq!(report["captures"][0]["status"], "invalidated");
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../../snapshots/probe");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_json_snapshot!("exec_report", report));
}
