//! The native backtrace of a sync made outside Python (a Rust or C++ program, a thread without a
//! Python frame), symbolised at once: the trace must be complete when the program is killed. Each
//! distinct stack is symbolised once.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::{json, Value};

const MAX_FRAMES: usize = 64;

static RESOLVED: Mutex<Option<HashMap<Vec<usize>, Value>>> = Mutex::new(None);

/// The caller's frames, innermost first, from the CUDA library down (this library's own frames,
/// CUPTI's callback machinery above them, are left out), as `{function, file, line}`.
pub fn stack() -> Value {
    let mut bt = backtrace::Backtrace::new_unresolved();
    let key: Vec<usize> = bt.frames().iter().map(|f| f.ip() as usize).collect();
    let mut cache = RESOLVED.lock().unwrap_or_else(|e| e.into_inner());
    let cache = cache.get_or_insert_with(HashMap::new);
    if let Some(v) = cache.get(&key) {
        return v.clone();
    }
    bt.resolve();
    let frames: Vec<(Option<String>, Option<String>, Option<u32>)> = bt
        .frames()
        .iter()
        .flat_map(|f| {
            let symbols = f.symbols();
            if symbols.is_empty() {
                return vec![(None, None, None)];
            }
            symbols
                .iter()
                .map(|s| {
                    (s.name().map(|n| format!("{n:#}")), s.filename().map(|p| p.display().to_string()), s.lineno())
                })
                .collect()
        })
        .collect();
    let ours =
        |f: &Option<String>| f.as_deref().is_some_and(|n| n.contains("probe_inject::") || n.starts_with("backtrace::"));
    let start = frames.iter().rposition(|(f, _, _)| ours(f)).map_or(0, |i| i + 1);
    let value = Value::Array(
        frames[start..]
            .iter()
            .take(MAX_FRAMES)
            .map(|(function, file, line)| json!({"function": function, "file": file, "line": line}))
            .collect(),
    );
    cache.insert(key, value.clone());
    value
}
