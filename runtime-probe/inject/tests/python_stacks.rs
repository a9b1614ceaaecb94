//! The Python stack reader, on CPU: a Python process loads the injection library with ctypes and
//! asks it for its stack, exactly as a CUDA callback would, from several threads, with the GIL
//! released (`ctypes.CDLL`, as PyTorch ops do) and held (`ctypes.PyDLL`), while the main thread
//! keeps the GIL busy. Needs `python3` (3.10-3.13) on the PATH, or `$PROBE_TEST_PYTHON`.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// The interpreter: `$PROBE_TEST_PYTHON` (to run these under each CPython 3.10-3.13), else python3.
fn python() -> String {
    std::env::var("PROBE_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// The cdylib: cargo builds it into `deps/` beside this test (and copies it one folder up on
/// `cargo build`).
pub fn library() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let lib = [deps, deps.parent().unwrap()].map(|d| d.join("libprobe_inject.so")).into_iter().find(|p| p.is_file());
    lib.expect("libprobe_inject.so built beside the tests")
}

const PROGRAM: &str = r#"
import ctypes, sys, threading
released = ctypes.CDLL(sys.argv[1])
held = ctypes.PyDLL(sys.argv[1])

def sync_site(lib):
    lib.probe_record_stack()

def worker(n):
    for _ in range(n):
        sync_site(released)

sync_site(held)
threads = [threading.Thread(target=worker, args=(25,)) for _ in range(4)]
for t in threads:
    t.start()
busy = 0
for i in range(300000):
    busy += i
for t in threads:
    t.join()
"#;

#[test]
fn stacks_are_read_with_the_gil_held_or_released_from_several_threads() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("prog.py");
    std::fs::write(&script, PROGRAM).unwrap();
    let status = Command::new(python())
        .arg(&script)
        .arg(library())
        .env("PROBE_TRACE_DIR", dir.path())
        .status()
        .expect("python3 runs");
    assert!(status.success());
    let trace = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .expect("a trace file");
    let records: Vec<Value> =
        std::fs::read_to_string(trace).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(records[0]["type"], "process");
    let stacks: Vec<&Value> = records.iter().filter(|r| r["type"] == "stack").collect();
    assert_eq!(stacks.len(), 1 + 4 * 25, "one record per call");
    let script = script.to_string_lossy();
    let mut threads = std::collections::BTreeSet::new();
    for r in &stacks {
        let frames = r["python"].as_array().unwrap_or_else(|| panic!("no Python stack in {r}"));
        assert_eq!(frames[0]["file"], *script);
        assert_eq!((frames[0]["function"].as_str(), frames[0]["line"].as_u64()), (Some("sync_site"), Some(7)));
        let caller = (frames[1]["function"].as_str().unwrap(), frames[1]["line"].as_u64().unwrap());
        assert!(caller == ("worker", 11) || caller == ("<module>", 13), "{caller:?}");
        threads.insert(r["tid"].as_i64().unwrap());
    }
    assert_eq!(threads.len(), 5, "the main thread and four workers");
}

/// `probe exec --step`'s hook (runtime-probe/src/exec/sitecustomize.py) marks each call of the step
/// function, and only of it, through this library.
#[test]
fn the_step_hook_marks_each_call_of_the_step_function() {
    let dir = tempfile::tempdir().unwrap();
    let hook = dir.path().join("hook");
    std::fs::create_dir(&hook).unwrap();
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/../src/exec/sitecustomize.py"), hook.join("sitecustomize.py"))
        .unwrap();
    let pkg = dir.path().join("app");
    std::fs::create_dir(&pkg).unwrap();
    std::fs::write(pkg.join("__init__.py"), "").unwrap();
    std::fs::write(
        pkg.join("model.py"),
        "class Model:\n    def forward(self, x):\n        return helper(x) + 1\n\n\
         def helper(x):\n    return x\n\nclass Other:\n    def forward(self, x):\n        return x\n",
    )
    .unwrap();
    let main = dir.path().join("main.py");
    std::fs::write(
        &main,
        "from app.model import Model, Other\nm, o = Model(), Other()\nfor i in range(7):\n    m.forward(i)\n    o.forward(i)\n\
         try:\n    m.forward(None)\nexcept TypeError:\n    pass\n",
    )
    .unwrap();
    let traces = dir.path().join("traces");
    std::fs::create_dir(&traces).unwrap();
    let status = Command::new(python())
        .arg(&main)
        .current_dir(dir.path())
        .env("PYTHONPATH", &hook)
        .env("PROBE_STEP", "app.model:Model.forward")
        .env("PROBE_INJECT", library())
        .env("PROBE_TRACE_DIR", &traces)
        .status()
        .expect("python3 runs");
    assert!(status.success());
    let file = std::fs::read_dir(&traces).unwrap().next().expect("a trace file").unwrap().path();
    let edges: Vec<String> = std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["type"] == "step")
        .map(|r| r["edge"].as_str().unwrap().to_string())
        .collect();
    // Seven calls that return and one that raises: eight begins, each closed.
    assert_eq!(edges.len(), 16, "{edges:?}");
    assert!(edges.chunks(2).all(|p| p == ["begin", "end"]), "{edges:?}");
}
