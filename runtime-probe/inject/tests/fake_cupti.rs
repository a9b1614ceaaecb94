//! The injection library's CUPTI callback path on CPU: a fake libcupti (tests/fake/libcupti_fake.c,
//! built here with `cc`) calls the real library back around simulated CUDA calls made by a Python
//! program (tests/fake/fake_program.py): `.item()`-like copies and syncs inside steps, a capture
//! whose sync is refused, and two threads. Needs `cc` and `python3` (or `$PROBE_TEST_PYTHON`).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn library() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let lib = [deps, deps.parent().unwrap()].map(|d| d.join("libprobe_inject.so")).into_iter().find(|p| p.is_file());
    lib.expect("libprobe_inject.so built beside the tests")
}

/// Runs the fake program under the library; returns its trace records.
pub fn record(dir: &Path) -> Vec<Value> {
    let fake = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fake");
    let cupti = dir.join("libcupti_fake.so");
    let built = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&cupti)
        .arg(fake.join("libcupti_fake.c"))
        .status()
        .expect("cc runs");
    assert!(built.success());
    let traces = dir.join("traces");
    std::fs::create_dir(&traces).unwrap();
    let python = std::env::var("PROBE_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let status = Command::new(python)
        .arg(fake.join("fake_program.py"))
        .arg(library())
        .arg(&cupti)
        .env("PROBE_CUPTI", &cupti)
        .env("PROBE_TRACE_DIR", &traces)
        .status()
        .expect("python3 runs");
    assert!(status.success());
    let file = std::fs::read_dir(&traces).unwrap().next().expect("a trace file").unwrap().path();
    std::fs::read_to_string(file).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn syncs_are_classified_timed_and_attributed_and_captures_delimited() {
    let dir = tempfile::tempdir().unwrap();
    let records = record(dir.path());
    let of = |t: &str| records.iter().filter(|r| r["type"] == t).collect::<Vec<_>>();
    assert_eq!(of("tracer")[0]["status"], "traced");
    let watched = of("tracer")[0]["watched"].as_array().unwrap().clone();
    assert!(watched.contains(&Value::from("cudaStreamBeginCapture_v10000")), "capture calls found by name");
    let syncs = of("sync");
    // 4 steps x (copy + sync) + 2 extra syncs, 2 in the capture, 2 threads x 3 x 2.
    assert_eq!(syncs.len(), 8 + 2 + 2 + 12);
    for s in syncs.iter().filter(|s| s["python"][0]["function"] != "item") {
        // The odd steps' own extra sync.
        let top = &s["python"][0];
        assert_eq!(
            (top["function"].as_str(), top["line"].as_u64(), s["wait_ns"].as_u64()),
            (Some("step"), Some(35), Some(51000))
        );
    }
    for s in syncs.iter().filter(|s| s["python"][0]["function"] == "item") {
        let top = &s["python"][0];
        let (class, line, wait) = (s["class"].as_str().unwrap(), top["line"].as_u64().unwrap(), s["wait_ns"].as_u64());
        match s["api"].as_str().unwrap() {
            // A runtime D2H copy into memory the driver does not know: pageable.
            "cudaMemcpyAsync" => assert_eq!(
                (class, line, wait, s["bytes"].as_u64()),
                ("device_to_host_pageable", 27, Some(4000), Some(4))
            ),
            "cudaStreamSynchronize" => assert_eq!((class, line, wait), ("stream_synchronize", 28, Some(21000))),
            other => panic!("unexpected {other}"),
        }
    }
    let callers: std::collections::BTreeSet<&str> = syncs
        .iter()
        .filter(|s| s["python"][0]["function"] == "item")
        .map(|s| s["python"][1]["function"].as_str().unwrap())
        .collect();
    assert_eq!(callers, ["capture", "step", "worker"].into());
    assert_eq!(syncs.iter().filter(|s| s["python"][0]["function"] == "step").count(), 2);
    let in_capture: Vec<&&Value> = syncs.iter().filter(|s| !s["capture"].is_null()).collect();
    assert_eq!(in_capture.len(), 2);
    assert_eq!(in_capture[1]["result"], 900);
    let (begin, end) = (of("capture_begin"), of("capture_end"));
    assert_eq!(
        (begin[0]["capture"].as_u64(), end[0]["capture"].as_u64(), end[0]["result"].as_i64()),
        (Some(1), Some(1), Some(901))
    );
    assert_eq!(begin[0]["python"][0]["function"], "capture");
    assert_eq!(of("step").len(), 8);
    assert_eq!(of("exit").len(), 1);
    let threads: std::collections::BTreeSet<i64> = syncs.iter().map(|s| s["tid"].as_i64().unwrap()).collect();
    assert_eq!(threads.len(), 3);
}

#[test]
fn a_second_subscriber_is_refused_and_the_program_runs_on_untraced() {
    // The fake CUPTI refuses a second cuptiSubscribe, as the real one does; the library must say
    // so in the trace and return success to the driver.
    let dir = tempfile::tempdir().unwrap();
    let fake = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fake");
    let cupti = dir.path().join("libcupti_fake.so");
    assert!(Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&cupti)
        .arg(fake.join("libcupti_fake.c"))
        .status()
        .unwrap()
        .success());
    let program = "import ctypes, sys\ncupti = ctypes.CDLL(sys.argv[2])\ncb = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_void_p)(lambda *a: None)\nsub = ctypes.c_void_p()\nassert cupti.cuptiSubscribe(ctypes.byref(sub), cb, None) == 0  # the program's own profiler came first\nassert ctypes.CDLL(sys.argv[1]).InitializeInjection() == 1\nprint('ran on')\n";
    let script = dir.path().join("profiler_first.py");
    std::fs::write(&script, program).unwrap();
    let python = std::env::var("PROBE_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(python)
        .arg(&script)
        .arg(library())
        .arg(&cupti)
        .env("PROBE_CUPTI", &cupti)
        .env("PROBE_TRACE_DIR", dir.path())
        .output()
        .unwrap();
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("ran on"));
    let trace = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .unwrap();
    let tracer: Value = std::fs::read_to_string(trace)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["type"] == "tracer")
        .unwrap();
    assert_eq!(tracer["status"], "not_traced");
    assert!(tracer["why"].as_str().unwrap().contains("MULTIPLE_SUBSCRIBERS"), "{tracer}");
}
