//! Phase 7 on CPU: there are no CUDA syncs to trace here, so the cross-check is fed frames that
//! the tracer recorded on a GPU (`fixtures/probe/recorded-90f9e02/`, with the sources they were
//! recorded from), and frames at the deliberate sync lines of today's sources. The run itself is
//! tested end to end with `--device cpu --static-check`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn probe_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_probe")).current_dir(dir).args(args).output().expect("probe runs")
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn recorded() -> PathBuf {
    workspace().join("fixtures/probe/recorded-90f9e02")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// `probe static-check REPORT --report OUT` from `cwd`; returns OUT's `static_check` and stdout.
fn static_check(cwd: &Path, report: &Path, extra: &[&str]) -> (Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("checked.json");
    let mut args = vec!["static-check", report.to_str().unwrap(), "--report", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = probe_in(cwd, &args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    (json["static_check"].clone(), String::from_utf8_lossy(&o.stdout).into_owned())
}

fn site<'a>(check: &'a Value, file: &str, line: u64) -> &'a Value {
    check["runtime_sites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["file"] == file && s["line"] == line)
        .unwrap_or_else(|| panic!("no runtime site {file}:{line} in {check:#}"))
}

#[test]
fn recorded_gpu_frames_of_toy_bad_come_out_suppressed_by_their_owner() {
    let root = recorded();
    let (check, stdout) =
        static_check(&workspace(), &root.join("toy-bad.json"), &["--source-root", root.to_str().unwrap()]);
    // The deliberate `to_scalar` read: the tracer's frame, graphlint's suppressed GL801 on its line.
    let bad = site(&check, "runtime-probe/src/toy.rs", 227);
    assert_eq!(bad["status"], "suppressed", "{bad:#}");
    assert_eq!(bad["matched_on"], "line");
    assert_eq!(bad["seen_in"], serde_json::json!(["eager", "failing_call"]));
    let finding = &bad["findings"][0];
    assert_eq!((finding["code"].as_str(), finding["hot"].as_bool()), (Some("GL801"), Some(true)));
    assert_eq!(finding["suppression_reason"], "deliberate sync: the probe must catch this");
    let chain: Vec<&str> =
        finding["chain"].as_array().unwrap().iter().map(|l| l["function"].as_str().unwrap()).collect();
    assert_eq!(chain, ["Toy::step", "Toy::deliberate_sync"]);
    // candle's own upload in the step's broadcast op: no rule covers it.
    let upload = site(&check, "runtime-probe/src/toy.rs", 327);
    assert_eq!(upload["status"], "missed");
    assert!(upload["detail"].as_str().unwrap().contains("inside the candle op"), "{upload:#}");
    // The other variants' deliberate syncs are hot findings this run never hit.
    let never_hit: Vec<u64> =
        check["static_only"].as_array().unwrap().iter().map(|f| f["line"].as_u64().unwrap()).collect();
    assert!(never_hit.contains(&239) && never_hit.contains(&263), "{never_hit:?}");
    assert_eq!(check["summary"]["source_unavailable"], 0);
    assert!(stdout.contains("SUPPRESSED  runtime-probe/src/toy.rs:227"), "{stdout}");
    assert!(stdout.contains("chain: Toy::step (toy.rs:"), "{stdout}");
}

#[test]
fn a_suppression_naming_the_wrong_code_leaves_the_sync_confirmed() {
    // At 90f9e02 toy-sync's `synchronize()` line said `ignore[GL801]`; its finding is GL803.
    let root = recorded();
    let (check, stdout) =
        static_check(&workspace(), &root.join("toy-sync.json"), &["--source-root", root.to_str().unwrap()]);
    let sync = site(&check, "runtime-probe/src/toy.rs", 239);
    assert_eq!(sync["status"], "confirmed", "{sync:#}");
    assert_eq!(sync["findings"][0]["code"], "GL803");
    assert_eq!(sync["findings"][0]["suppressed"], false);
    assert!(stdout.contains("CONFIRMED   runtime-probe/src/toy.rs:239"), "{stdout}");
}

#[test]
fn sources_are_found_from_the_working_directory_or_reported_missing_per_site() {
    let root = recorded();
    // No --source-root: run from inside the tree; its parents are searched.
    let (check, _) = static_check(&root.join("runtime-probe/src"), &root.join("toy-bad.json"), &[]);
    assert_eq!(site(&check, "runtime-probe/src/toy.rs", 227)["status"], "suppressed");
    // A root without the sources: every site says so, and the command still succeeds.
    let empty = tempfile::tempdir().unwrap();
    let (check, stdout) =
        static_check(&workspace(), &root.join("toy-bad.json"), &["--source-root", empty.path().to_str().unwrap()]);
    let sites = check["runtime_sites"].as_array().unwrap();
    assert!(!sites.is_empty());
    for s in sites {
        assert_eq!(s["status"], "source_unavailable", "{s:#}");
        assert!(s["detail"].as_str().unwrap().contains("not found under --source-root"), "{s:#}");
    }
    assert!(stdout.contains("NO SOURCE"), "{stdout}");
}

#[test]
fn bad_inputs_are_usage_errors() {
    let ws = workspace();
    let o = probe_in(&ws, &["static-check", "/nonexistent.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("cannot read /nonexistent.json"), "{}", text(&o));
    let dir = tempfile::tempdir().unwrap();
    let not_a_report = dir.path().join("x.json");
    std::fs::write(&not_a_report, "{\"a\": 1}").unwrap();
    let o = probe_in(&ws, &["static-check", not_a_report.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("is not a probe report"), "{}", text(&o));
    let o = probe_in(&ws, &["run", "--model", "toy", "--device", "cpu", "--source-root", "/tmp"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("--source-root is for --static-check"), "{}", text(&o));
    let o =
        probe_in(&ws, &["run", "--model", "toy", "--device", "cpu", "--static-check", "--source-root", "/nonexistent"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("--source-root /nonexistent: not a directory"), "{}", text(&o));
}

/// Lines of today's sources that sync on purpose: `// graphlint: ignore[CODE] -- deliberate ...`.
fn deliberate_sync_lines(file: &str) -> Vec<(u64, String)> {
    let source = std::fs::read_to_string(workspace().join(file)).unwrap();
    source
        .lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let at = line.find("// graphlint: ignore[")?;
            let rest = &line[at + "// graphlint: ignore[".len()..];
            let (code, reason) = rest.split_once(']')?;
            reason.contains("deliberate").then(|| ((i + 1) as u64, code.to_string()))
        })
        .collect()
}

#[test]
fn cpu_run_with_static_check_and_frames_at_todays_deliberate_sync_lines() {
    let ws = workspace();
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let o = probe_in(
        &ws,
        &[
            "run",
            "--model",
            "toy-bad",
            "--device",
            "cpu",
            "--steps",
            "4",
            "--repeats",
            "1",
            "--static-check",
            "--report",
            report.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("[7] static check"), "{}", text(&o));
    let mut json: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let check = &json["static_check"];
    assert_eq!(check["runtime_sites"], serde_json::json!([]));
    assert!(check["notes"][0].as_str().unwrap().contains("a CPU run makes no CUDA calls to trace"), "{check:#}");

    // Frames at every line of today's toy, Kronos and Toto that syncs on purpose, as the tracer
    // would record them on a GPU: each must be graphlint's own suppressed finding, same code.
    let mut expected = Vec::new();
    for file in [
        "runtime-probe/src/toy.rs",
        "models/src/kronos/generation/graph.rs",
        "models/src/toto/graph.rs",
        "models/src/toto/model.rs",
    ] {
        expected.extend(deliberate_sync_lines(file).into_iter().map(|(line, code)| (file, line, code)));
    }
    assert!(expected.len() >= 7, "the deliberate syncs moved? {expected:?}");
    let sites: Vec<Value> = expected
        .iter()
        .map(|(file, line, _)| {
            serde_json::json!({"class": "device_to_host_pageable", "api": "cuMemcpyDtoHAsync_v2", "total": 1,
                "per_phase": {"step": 1}, "steps_seen": 1,
                "site": {"crate": "models", "file": file, "line": line, "function": null}})
        })
        .collect();
    json["eager"]["sites"] = Value::Array(sites);
    std::fs::write(&report, json.to_string()).unwrap();
    let (check, _) = static_check(&ws, &report, &[]);
    for (file, line, code) in &expected {
        let s = site(&check, file, *line);
        assert_eq!(s["status"], "suppressed", "{s:#}");
        assert_eq!(s["findings"][0]["code"], code.as_str(), "{s:#}");
        assert_eq!(s["findings"][0]["hot"], true, "a deliberate sync off the hot path proves nothing: {s:#}");
    }
}
