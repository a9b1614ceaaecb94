//! The Python stack reader, on CPU: a Python process loads the injection library with ctypes and
//! asks it for its stack, exactly as a CUDA callback would, from several threads, with the GIL
//! released (`ctypes.CDLL`, as PyTorch ops do) and held (`ctypes.PyDLL`), while the main thread
//! keeps the GIL busy. Needs `python3` (3.10-3.13) on the PATH.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// The cdylib cargo built beside this test's `deps/` folder.
fn library() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let lib = dir.join("libprobe_inject.so");
    assert!(lib.is_file(), "{} not built", lib.display());
    lib
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
    let status = Command::new("python3")
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
