//! The JSON report's schema, as a snapshot of its shape (every key, with the type of its value):
//! a change to the report that a reader could notice changes this snapshot. The optional sections
//! a CPU run leaves empty are filled with sample values first, so that all of them are covered.

use clap::Parser;
use runtime_probe::cli::{Cli, Command};
use runtime_probe::driver;
use runtime_probe::metrics;
use runtime_probe::phases::report::*;
use runtime_probe::phases::static_check::{
    runtime_sites, ChainLink, Finding, MatchedOn, SiteCheck, SiteStatus, StaticCheck, Summary,
};
use runtime_probe::trace::{CaptureFailure, Site, SiteSummary, Stage, SyncClass, SyncEvent};
use serde_json::Value;

fn shape(v: &Value) -> Value {
    match v {
        Value::Null => "null".into(),
        Value::Bool(_) => "bool".into(),
        Value::Number(_) => "number".into(),
        Value::String(_) => "string".into(),
        Value::Array(a) => Value::Array(a.first().map(shape).into_iter().collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
    }
}

fn cpu_report() -> driver::Outcome {
    let cli = Cli::parse_from(["probe", "run", "--model", "toy", "--device", "cpu", "--steps", "4", "--repeats", "1"]);
    let Command::Run(args) = cli.command else { unreachable!() };
    driver::run(&args).expect("a cpu run")
}

fn site() -> Site {
    Site { crate_name: "models".into(), file: "models/src/m.rs".into(), line: 7, function: Some("models::m::f".into()) }
}

#[test]
fn report_schema() {
    let mut r = cpu_report().report;
    let event = SyncEvent {
        class: SyncClass::DeviceToHostPageable,
        api: "cuMemcpyDtoHAsync_v2".into(),
        phase: Stage::Step,
        step: Some(0),
        bytes: Some(4),
        host_ptr: None,
        result: 0,
        site: Some(site()),
    };
    r.eager.syncs_per_step = vec![1];
    r.eager.syncs_per_phase.insert(Stage::Step, 1);
    r.eager.sites = vec![SiteSummary {
        class: event.class,
        api: event.api.clone(),
        site: Some(site()),
        total: 1,
        per_phase: [(Stage::Step, 1)].into(),
        steps_seen: 1,
    }];
    r.capture = CaptureSection {
        status: CaptureStatus::Refused,
        detail: Some("detail".into()),
        syncs_during_capture: vec![event],
        capture_errors: vec![CaptureFailure {
            api: "cuStreamSynchronize".into(),
            result: 900,
            result_name: "STREAM_CAPTURE_UNSUPPORTED",
            site: Some(site()),
        }],
        failing_call: Some(FailingCall { api: "cuStreamIsCapturing".into(), site: Some(site()) }),
        silent_syncs: vec![SilentSync {
            direction: "device_to_host",
            bytes: 4,
            api: Some("cuMemcpyDtoHAsync_v2".into()),
            site: Some(site()),
        }],
        nodes: Some(GraphNodes {
            total: 1,
            kernel: 1,
            memcpy: 0,
            memset: 0,
            mem_alloc: 0,
            mem_free: 0,
            host_function: 0,
            other: 0,
        }),
        context_usable_after_failure: Some(true),
        cleared_errors: vec!["error".into()],
    };
    r.forecast.graph = r.forecast.eager_rerun.clone();
    r.accuracy.graph = Some(r.accuracy.eager.clone());
    let stats = metrics::latency_stats(&[1.0]);
    r.timing.graph = stats;
    r.timing.speedup = Some(1.0);
    r.timing.capture_ms = Some(1.0);
    r.timing.instantiate_ms = Some(1.0);
    r.memory = Some(MemorySection { total_bytes: 1, used_before_bytes: 1, used_after_bytes: 1 });
    r.device.ordinal = Some(0);
    r.device.compute_capability = Some("9.0".into());
    r.device.driver_version = Some("13.0".into());
    r.data.first_timestamp = Some("t".into());
    r.model.weights = Some("dir".into());
    let finding = Finding {
        file: "models/src/m.rs".into(),
        line: 7,
        end_line: 7,
        code: "GL801".into(),
        name: "tensor-to-host-value".into(),
        message: "m".into(),
        hot: true,
        hot_reason: Some("r".into()),
        chain: vec![ChainLink { function: "M::step".into(), file: "models/src/m.rs".into(), line: 5 }],
        suppressed: true,
        suppression_reason: Some("deliberate".into()),
    };
    let (runtime_site, _) = runtime_sites(&serde_json::to_value(&r).unwrap());
    r.static_check = Some(StaticCheck {
        analyzed: vec!["models/src".into()],
        source_roots: vec!["/w".into()],
        hot_patterns: vec!["GraphDecoder::step".into()],
        files_checked: 1,
        runtime_sites: vec![SiteCheck {
            site: runtime_site[0].clone(),
            status: SiteStatus::Suppressed,
            matched_on: Some(MatchedOn::Line),
            findings: vec![finding.clone()],
            detail: Some("d".into()),
        }],
        static_only: vec![finding],
        unattributed_calls: 0,
        summary: Summary::default(),
        notes: vec!["n".into()],
    });

    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["schema_version"], SCHEMA_VERSION);
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../../snapshots/probe");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_json_snapshot!("report_schema", shape(&json)));
    // The table renders every filled section.
    let text = render_text(&r);
    for needle in [
        "SILENT SYNC: device_to_host memcpy node, 4 bytes, made by cuMemcpyDtoHAsync_v2 at models/src/m.rs:7",
        "offending call: cuStreamSynchronize returned STREAM_CAPTURE_UNSUPPORTED at models/src/m.rs:7",
        "speedup (eager / graph median): 1.00x",
        "SUPPRESSED  models/src/m.rs:7",
        "GL801 hot, suppressed: \"deliberate\"",
        "chain: M::step (m.rs:5)",
    ] {
        assert!(text.contains(needle), "{needle}\n{text}");
    }
}
