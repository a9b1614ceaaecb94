//! The trace file: one JSON object per line, written with one `write` each as it happens, so a
//! program killed by any signal (SIGKILL included) leaves every record made before it died. There is
//! nothing to flush on a signal; only the final `exit` record is missing then.
//!
//! Each process writes its own file, `trace-<pid>.jsonl` in `PROBE_TRACE_DIR`: a child that
//! execs another CUDA program loads this library again and gets its own file; a forked child that
//! keeps running this copy notices the new pid and opens its own file too.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde_json::{json, Value};

/// The record schema's version, checked by `probe exec`.
pub const FORMAT: u32 = 1;

/// Orders records across threads: syncs and step edges are assigned to steps by it.
static SEQ: AtomicU64 = AtomicU64::new(0);

static OUT: Mutex<Option<(u32, File)>> = Mutex::new(None);

pub fn next_seq() -> u64 {
    SEQ.fetch_add(1, Ordering::Relaxed)
}

pub fn pid() -> u32 {
    std::process::id()
}

pub fn tid() -> i64 {
    // SAFETY: gettid has no preconditions.
    i64::from(unsafe { libc::gettid() })
}

fn trace_path(pid: u32) -> PathBuf {
    let dir = std::env::var_os("PROBE_TRACE_DIR").map_or_else(|| PathBuf::from("."), PathBuf::from);
    dir.join(format!("trace-{pid}.jsonl"))
}

fn cmdline() -> Vec<String> {
    std::fs::read("/proc/self/cmdline")
        .map(|b| {
            b.split(|c| *c == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect()
        })
        .unwrap_or_default()
}

fn open(pid: u32, forked_from: Option<u32>) -> Option<File> {
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(trace_path(pid)).ok()?;
    let header = json!({
        "type": "process",
        "format": FORMAT,
        "pid": pid,
        // SAFETY: getppid has no preconditions.
        "ppid": unsafe { libc::getppid() },
        "forked_from": forked_from,
        "argv": cmdline(),
    });
    file.write_all(format!("{header}\n").as_bytes()).ok()?;
    Some(file)
}

/// Appends one record (the writer adds nothing to it). A record that cannot be written is lost;
/// the traced program must never fail because of the tracer.
pub fn write(record: &Value) {
    let line = format!("{record}\n");
    let mut out = OUT.lock().unwrap_or_else(|e| e.into_inner());
    let me = pid();
    match out.as_ref().map(|(p, _)| *p) {
        Some(p) if p == me => {}
        previous => *out = open(me, previous).map(|f| (me, f)),
    }
    if let Some((_, file)) = out.as_mut() {
        // One write per record: concurrent processes never share a file, threads take the lock.
        let _ = file.write_all(line.as_bytes());
    }
}
