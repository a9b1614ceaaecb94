//! `probe exec` end to end on CPU. The traced "programs" are shell scripts that write, as the
//! injection library would, JSON-line trace records into `$PROBE_TRACE_DIR` (the library itself is
//! tested in runtime-probe/inject/tests); `PROBE_EXEC_LIBCUDA` names a library that exists here in
//! place of the CUDA driver. Each error case checks the exit status, the message, and that no report
//! was written half-way.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const PROBE: &str = env!("CARGO_BIN_EXE_probe");

struct Case {
    dir: tempfile::TempDir,
}

/// A Python source whose lines the fake traces name: line 6 syncs and graphlint flags it (hot,
/// step root), line 7 syncs and is suppressed, line 8 syncs and graphlint has nothing, line 9 is
/// flagged but never synced.
const MODEL: &str = "import torch\n\n\nclass Model(torch.nn.Module):\n    def forward(self, x: torch.Tensor):\n        a = x.item()\n        b = x.cpu()  # graphlint: ignore[GL301] -- logged once per call\n        c = torch.add(x, 1)\n        d = x.tolist()\n        return a, b, c, d\n";

impl Case {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("app")).unwrap();
        std::fs::write(dir.path().join("app/__init__.py"), "").unwrap();
        std::fs::write(dir.path().join("app/model.py"), MODEL).unwrap();
        Case { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn model(&self) -> String {
        self.path("app/model.py").canonicalize().unwrap().display().to_string()
    }

    /// A fake program: writes `records` (with `$$` as its pid) as its trace, then runs `tail`.
    fn program(&self, records: &[Value], tail: &str) -> PathBuf {
        let mut script = String::from("#!/bin/sh\nT=\"$PROBE_TRACE_DIR/trace-$$.jsonl\"\n");
        for r in records {
            let line = r.to_string().replace('\'', "");
            script += &format!("echo '{}' | sed \"s/\\\"PID\\\"/$$/\" >> \"$T\"\n", line);
        }
        script += tail;
        script += "\n";
        let path = self.path("prog.sh");
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        path
    }

    fn exec(&self, args: &[&str], program: &[&str]) -> Output {
        Command::new(PROBE)
            .arg("exec")
            .args(["--inject", "/bin/sh"])
            .args(args)
            .arg("--")
            .args(program)
            .current_dir(self.dir.path())
            .env("PROBE_EXEC_LIBCUDA", "libc.so.6")
            .output()
            .unwrap()
    }
}

fn header() -> Vec<Value> {
    vec![
        serde_json::json!({"type": "process", "format": 1, "pid": "PID", "ppid": 1, "forked_from": null, "argv": ["prog"]}),
        serde_json::json!({"type": "tracer", "status": "traced", "cupti": "libcupti.so.13", "watched": ["cuStreamSynchronize"], "python": {"version": "3.12.3", "stacks": true}}),
    ]
}

fn sync(seq: u64, api: &str, class: &str, file: &str, line: u32, wait_ns: u64) -> Value {
    serde_json::json!({
        "type": "sync", "seq": seq, "tid": 7, "api": api, "class": class, "bytes": null, "wait_ns": wait_ns,
        "capture": null, "result": 0, "enter_ns": 1,
        "python": [
            {"file": "/venv/lib/python3.12/site-packages/torch/_tensor.py", "line": 1, "function": "Tensor.item"},
            {"file": file, "line": line, "function": "Model.forward"},
            {"file": "/home/u/main.py", "line": 3, "function": "<module>"}
        ]
    })
}

fn step(seq: u64, edge: &str) -> Value {
    serde_json::json!({"type": "step", "edge": edge, "tid": 7, "seq": seq})
}

fn exit(seq: u64) -> Value {
    serde_json::json!({"type": "exit", "seq": seq})
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Three steps; each syncs at lines 6 (twice: copy + stream sync), 7 and 8; one sync outside.
fn three_steps(model: &str) -> Vec<Value> {
    let mut r = header();
    let mut seq = 0;
    let mut next = || {
        seq += 1;
        seq
    };
    r.push(sync(next(), "cudaMalloc_v3020", "mem_alloc", "/home/u/main.py", 2, 5000));
    for _ in 0..3 {
        r.push(step(next(), "begin"));
        r.push(sync(next(), "cudaMemcpyAsync_v3020", "device_to_host_pageable", model, 6, 1000));
        r.push(sync(next(), "cudaStreamSynchronize_v3020", "stream_synchronize", model, 6, 3000));
        r.push(sync(next(), "cudaMemcpyAsync_v3020", "device_to_host_pageable", model, 7, 2000));
        r.push(sync(next(), "cudaStreamSynchronize_v3020", "stream_synchronize", model, 8, 4000));
        r.push(step(next(), "end"));
    }
    r.push(exit(next()));
    r
}

#[test]
fn counts_per_step_and_line_and_joins_graphlint() {
    let case = Case::new();
    let model = case.model();
    let prog = case.program(&three_steps(&model), "exit 0");
    let report = case.path("report.json");
    let out = case.exec(
        &["--step", "app.model:Model.forward", "--skip", "1", "--static-check", "--report", report.to_str().unwrap()],
        &[prog.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "syncs in steps: verdict FAIL\n{}{}", stdout(&out), stderr(&out));
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["schema"], "probe-exec/1");
    assert_eq!((r["steps"]["seen"].as_u64(), r["steps"]["counted"].as_u64()), (Some(3), Some(2)));
    assert_eq!(r["steps"]["syncs_per_step"], serde_json::json!([4, 4]));
    let line6 = r["lines"].as_array().unwrap().iter().find(|l| l["line"] == 6).unwrap();
    assert_eq!(
        (line6["calls"].as_u64(), line6["in_steps"].as_u64(), line6["warmup"].as_u64()),
        (Some(6), Some(4), Some(2))
    );
    assert_eq!(line6["per_step"].as_f64(), Some(2.0));
    assert_eq!(line6["wait_total_ns"].as_u64(), Some(3 * 4000));
    assert_eq!(line6["wait_p50_ns"].as_u64(), Some(1000));
    // The reported frame is the model's line, not torch's.
    assert_eq!(line6["file"].as_str(), Some(model.as_str()));
    let status = |line: u64| {
        r["static_check"]["lines"].as_array().unwrap().iter().find(|l| l["line"] == line).unwrap()["status"].clone()
    };
    assert_eq!(status(6), "confirmed");
    assert_eq!(status(7), "suppressed");
    assert_eq!(status(8), "missed");
    let not_observed: Vec<u64> =
        r["static_check"]["not_observed"].as_array().unwrap().iter().map(|f| f["line"].as_u64().unwrap()).collect();
    assert_eq!(not_observed, vec![9], "tolist() ran in Model.forward but never synced");
    assert_eq!(r["program"]["exit_code"], 0);
    assert_eq!(r["verdict"]["status"], "fail");
    // The findings are graphlint's JSON shape with the runtime codes; the malloc outside the steps is not one.
    let codes: Vec<&str> = r["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap()).collect();
    assert_eq!(codes, vec!["RT301", "RT301", "RT101"], "one finding per line; a copy and a sync make a copy");
    let text = stdout(&out);
    assert!(text.contains("CONFIRMED") && text.contains("MISSED") && text.contains("logged once per call"), "{text}");
}

#[test]
fn machine_formats_keep_stdout_parseable() {
    let case = Case::new();
    let prog = case.program(&three_steps(&case.model()), "exit 0");
    for (format, check) in [("json", "["), ("sarif", "{"), ("github", "title=RT301::"), ("concise", "RT301")] {
        let out = case.exec(&["--output-format", format], &[prog.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{format}: {}", stderr(&out));
        assert!(
            stdout(&out).trim_start().starts_with(check) || stdout(&out).contains(check),
            "{format}: {}",
            stdout(&out)
        );
        if format == "json" || format == "sarif" {
            serde_json::from_str::<Value>(&stdout(&out)).unwrap_or_else(|e| panic!("{format}: {e}"));
        }
    }
}

#[test]
fn no_sync_inside_the_steps_is_ok() {
    let case = Case::new();
    let mut r = header();
    r.push(sync(1, "cudaMalloc_v3020", "mem_alloc", "/home/u/main.py", 2, 5000));
    r.extend([step(2, "begin"), step(3, "end"), step(4, "begin"), step(5, "end"), exit(6)]);
    let prog = case.program(&r, "exit 0");
    let out = case.exec(&["--step", "app.model:Model.forward"], &[prog.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("verdict: OK"), "{}", stdout(&out));
}

#[test]
fn no_cuda_driver_is_an_error_before_the_program_runs() {
    let case = Case::new();
    let marker = case.path("ran");
    let prog = case.program(&header(), &format!("touch {}", marker.display()));
    let report = case.path("report.json");
    let out = Command::new(PROBE)
        .args(["exec", "--inject", "/bin/sh", "--report", report.to_str().unwrap(), "--", prog.to_str().unwrap()])
        .env("PROBE_EXEC_LIBCUDA", "libcuda-that-is-not-there.so.1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no CUDA driver"), "{}", stderr(&out));
    assert!(!marker.exists() && !report.exists());
}

#[test]
fn a_missing_program_or_injection_library_is_an_error() {
    let case = Case::new();
    let report = case.path("report.json");
    let out = case.exec(&["--report", report.to_str().unwrap()], &["no-such-program-anywhere"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("program not found: no-such-program-anywhere"), "{}", stderr(&out));
    let out = Command::new(PROBE)
        .args(["exec", "--inject", "/nonexistent/libprobe_inject.so", "--", "true"])
        .env("PROBE_EXEC_LIBCUDA", "libc.so.6")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("injection library /nonexistent/libprobe_inject.so does not exist"));
    assert!(!report.exists());
}

#[test]
fn a_program_that_never_initialises_cuda_has_nothing_to_report() {
    let case = Case::new();
    let out = case.exec(&[], &["true"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("without initialising CUDA"), "{}", stderr(&out));
}

#[test]
fn a_program_that_exits_non_zero_gets_no_verdict_but_its_trace_is_reported() {
    let case = Case::new();
    let mut records = three_steps(&case.model());
    records.pop();
    let prog = case.program(&records, "exit 3");
    let report = case.path("report.json");
    let out = case.exec(&["--report", report.to_str().unwrap()], &[prog.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("the program exited with status 3"), "{}", stderr(&out));
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!((r["program"]["exit_code"].as_i64(), r["verdict"]["status"].as_str()), (Some(3), Some("incomplete")));
    assert_eq!(r["lines"].as_array().unwrap().len(), 4);
}

#[test]
fn a_program_killed_by_a_signal_reports_what_was_traced() {
    let case = Case::new();
    let mut records = three_steps(&case.model());
    records.pop();
    let prog = case.program(&records, "kill -9 $$");
    let report = case.path("report.json");
    let out = case.exec(&["--report", report.to_str().unwrap()], &[prog.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("killed by SIGKILL (9)"), "{}", stderr(&out));
    assert!(stdout(&out).contains("RT301"), "the traced syncs are printed: {}", stdout(&out));
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!((r["program"]["signal"].as_i64(), r["processes"][0]["complete"].as_bool()), (Some(9), Some(false)));
    assert!(r["lines"].as_array().unwrap().iter().any(|l| l["line"] == 6));
}

#[test]
fn children_are_traced_each_in_its_own_file() {
    let case = Case::new();
    let model = case.model();
    let child: Vec<Value> = vec![
        serde_json::json!({"type": "process", "format": 1, "pid": "PID", "ppid": 1, "forked_from": null, "argv": ["child"]}),
        header()[1].clone(),
        sync(1, "cudaStreamSynchronize_v3020", "stream_synchronize", &model, 8, 10),
        exit(2),
    ];
    let child_script = case.path("child.sh");
    {
        // The child is another fake program, run by the parent like a worker process.
        let inner = Case { dir: tempfile::tempdir_in(case.dir.path()).unwrap() };
        let p = inner.program(&child, "exit 0");
        std::fs::rename(&p, &child_script).unwrap();
    }
    let mut parent = header();
    parent.push(sync(1, "cudaStreamSynchronize_v3020", "stream_synchronize", &model, 6, 10));
    parent.push(exit(2));
    let prog = case.program(&parent, &format!("{} &\nwait", child_script.display()));
    let report = case.path("report.json");
    let out = case.exec(&["--report", report.to_str().unwrap()], &[prog.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["processes"].as_array().unwrap().len(), 2);
    assert_eq!(r["processes"][1]["argv"][0], "child", "the parent first");
    assert!(stdout(&out).contains("2 processes traced"), "{}", stdout(&out));
    let lines: Vec<u64> = r["lines"].as_array().unwrap().iter().map(|l| l["line"].as_u64().unwrap()).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
}

#[test]
fn a_program_whose_cupti_was_taken_runs_on_and_the_report_says_it_was_not_traced() {
    let case = Case::new();
    let records = vec![
        header()[0].clone(),
        serde_json::json!({"type": "tracer", "status": "not_traced", "why": "cuptiSubscribe failed: CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED (another CUPTI subscriber, such as a profiler, came first)", "python": null}),
        exit(1),
    ];
    let prog = case.program(&records, "exit 0");
    let report = case.path("report.json");
    let out = case.exec(&["--report", report.to_str().unwrap()], &[prog.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("was not traced: cuptiSubscribe failed"), "{}", stderr(&out));
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(
        (r["processes"][0]["tracer"].as_str(), r["program"]["exit_code"].as_i64()),
        (Some("not_traced"), Some(0))
    );
}

#[test]
fn a_report_in_a_missing_folder_is_refused_before_running() {
    let case = Case::new();
    let marker = case.path("ran");
    let prog = case.program(&header(), &format!("touch {}", marker.display()));
    let out = case.exec(&["--report", "/nonexistent/dir/r.json"], &[prog.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!marker.exists());
    let _ = Path::new("/nonexistent/dir/r.json");
}
