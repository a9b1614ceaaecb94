//! Reading the trace files the injection library (runtime-probe/inject) writes: one JSON record a
//! line, one file per traced process. A file without an `exit` record was cut short.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::trace::SyncClass;

/// The record format this probe reads (`record::FORMAT` in the injection library).
pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Frame {
    pub file: Option<String>,
    pub line: Option<u32>,
    pub function: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    Process {
        format: u32,
        pid: u32,
        ppid: i64,
        forked_from: Option<u32>,
        #[serde(default)]
        argv: Vec<String>,
    },
    Tracer {
        status: String,
        #[serde(default)]
        why: Option<String>,
        #[serde(default)]
        cupti: Option<String>,
        #[serde(default)]
        watched: Vec<String>,
        #[serde(default)]
        python: serde_json::Value,
    },
    Sync(Call<SyncFields>),
    CaptureBegin(Call<CaptureFields>),
    CaptureEnd(Call<CaptureFields>),
    Step {
        edge: StepEdge,
        tid: i64,
        seq: u64,
    },
    /// The injection's stack probe (its tests); carries no sync.
    Stack(serde_json::Value),
    Exit {
        seq: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepEdge {
    Begin,
    End,
}

/// What every called-back CUDA call carries.
#[derive(Debug, Clone, Deserialize)]
pub struct Call<T> {
    pub seq: u64,
    pub tid: i64,
    #[serde(default)]
    pub api: String,
    #[serde(default)]
    pub result: i32,
    #[serde(default)]
    pub python: Option<Vec<Frame>>,
    #[serde(default)]
    pub python_unavailable: Option<String>,
    #[serde(default)]
    pub native: Option<Vec<Frame>>,
    #[serde(flatten)]
    pub fields: T,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SyncFields {
    pub class: SyncClass,
    pub bytes: Option<u64>,
    pub wait_ns: u64,
    pub capture: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CaptureFields {
    pub capture: Option<u64>,
}

/// One process's trace.
#[derive(Debug, Clone)]
pub struct ProcessTrace {
    pub pid: u32,
    pub ppid: i64,
    pub forked_from: Option<u32>,
    pub argv: Vec<String>,
    pub records: Vec<Record>,
    /// The process reached its normal exit (the `exit` record is there).
    pub complete: bool,
    /// Lines that were not records (a line cut by a kill mid-write).
    pub bad_lines: usize,
}

pub fn parse(text: &str) -> Result<ProcessTrace, String> {
    let mut records = Vec::new();
    let mut bad_lines = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<Record>(line) {
            Ok(r) => records.push(r),
            Err(_) => bad_lines += 1,
        }
    }
    let Some(Record::Process { format, pid, ppid, forked_from, argv }) = records.first().cloned() else {
        return Err("no process header: not a probe trace".into());
    };
    if format != FORMAT {
        return Err(format!(
            "trace format {format}, this probe reads {FORMAT}: use the injection library built with it"
        ));
    }
    let complete = records.iter().any(|r| matches!(r, Record::Exit { .. }));
    Ok(ProcessTrace { pid, ppid, forked_from, argv, records, complete, bad_lines })
}

/// Every `trace-*.jsonl` in `dir`, the first process first (the lowest pid with no traced parent).
pub fn read_dir(dir: &Path) -> Result<Vec<ProcessTrace>, String> {
    let mut traces = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !(name.starts_with("trace-") && name.ends_with(".jsonl")) {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        traces.push(parse(&text).map_err(|e| format!("{}: {e}", path.display()))?);
    }
    let pids: Vec<u32> = traces.iter().map(|t| t.pid).collect();
    traces.sort_by_key(|t| (pids.contains(&(t.ppid as u32)) || t.forked_from.is_some(), t.pid));
    Ok(traces)
}
