//! From trace records to what `probe exec` reports: the reported line of every sync, the steps,
//! the per-line counts and waits, and the captures. Plain data in, plain data out: tested on CPU
//! from recorded traces.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use super::frames::{native_site, python_site, Site};
use super::trace::{Frame, ProcessTrace, Record, StepEdge};
use crate::trace::{capture_error_name, SyncClass};

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `MODULE:QUALNAME` of the step function.
    pub step: Option<String>,
    /// Warm-up steps left out of the counts.
    pub skip: usize,
    /// More packages whose frames are never reported.
    pub internal: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProcessInfo {
    pub pid: u32,
    pub ppid: i64,
    pub forked_from: Option<u32>,
    pub argv: Vec<String>,
    /// Reached its normal exit; `false`: cut short (a signal), the trace holds what came before.
    pub complete: bool,
    pub tracer: String,
    /// Why the process was not traced (CUPTI taken by another subscriber, no CUPTI…).
    pub not_traced: Option<String>,
    pub cupti: Option<String>,
    pub python: serde_json::Value,
    /// The CUDA calls this process's tracer watched, by CUPTI's names.
    pub watched: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Steps {
    pub function: Option<String>,
    pub seen: usize,
    pub skipped: usize,
    pub counted: usize,
    /// Syncs in each counted step, in order.
    pub syncs_per_step: Vec<usize>,
}

/// Every sync made from one reported line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineSummary {
    #[serde(flatten)]
    pub site: Site,
    pub apis: Vec<String>,
    pub classes: Vec<SyncClass>,
    pub calls: usize,
    /// Calls inside counted steps (after `--skip`).
    pub in_steps: usize,
    /// `in_steps` / counted steps; `None` without `--step`.
    pub per_step: Option<f64>,
    /// Calls in skipped warm-up steps and outside any step.
    pub warmup: usize,
    pub outside_steps: usize,
    /// Calls made while a stream capture was open on the thread.
    pub in_capture: usize,
    /// Calls that returned an error (a capture error, most often).
    pub failed: usize,
    pub wait_total_ns: u64,
    pub wait_p50_ns: u64,
    /// Up to three distinct stacks seen at this line, innermost first.
    pub stacks: Vec<Vec<Frame>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaptureSync {
    pub site: Option<Site>,
    pub api: String,
    pub class: SyncClass,
    pub result: i32,
    pub result_name: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Capture {
    pub pid: u32,
    pub id: u64,
    pub tid: i64,
    pub begin_api: String,
    pub site: Option<Site>,
    /// `ok`, `invalidated` (ending it failed), or `not_ended`.
    pub status: &'static str,
    pub end_result: Option<i32>,
    pub end_result_name: Option<&'static str>,
    /// Sync-class calls made inside it, silent ones (success, recorded into the graph) included.
    pub syncs: Vec<CaptureSync>,
    /// The first call inside it that a capture error refused.
    pub invalidated_by: Option<CaptureSync>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Unattributed {
    pub calls: usize,
    pub apis: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    pub processes: Vec<ProcessInfo>,
    pub steps: Steps,
    /// Most calls first.
    pub lines: Vec<LineSummary>,
    pub captures: Vec<Capture>,
    /// Syncs with no reportable frame (only internals on the stack, or no line tables).
    pub unattributed: Unattributed,
    /// `(file, function)` of every Python frame seen on a stack: functions the program executed.
    #[serde(skip)]
    pub executed: BTreeSet<(String, String)>,
}

/// Where a sync counts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Region {
    Step(usize),
    Warmup,
    Outside,
}

fn site_of(python: &Option<Vec<Frame>>, native: &Option<Vec<Frame>>, options: &Options) -> Option<Site> {
    match python {
        Some(stack) if !stack.is_empty() => python_site(stack, &options.internal),
        _ => native.as_deref().and_then(native_site),
    }
}

fn median(values: &mut [u64]) -> u64 {
    if values.is_empty() {
        return 0;
    }
    values.sort_unstable();
    values[(values.len() - 1) / 2]
}

pub fn analyze(traces: &[ProcessTrace], options: &Options) -> Analysis {
    let mut processes = Vec::new();
    let mut steps_seen = 0usize;
    let mut per_step: Vec<usize> = Vec::new();
    type Key = Site;
    struct Acc {
        line: LineSummary,
        waits: Vec<u64>,
    }
    let mut lines: BTreeMap<Key, Acc> = BTreeMap::new();
    let mut captures: Vec<Capture> = Vec::new();
    let mut unattributed = Unattributed::default();
    let mut executed = BTreeSet::new();

    for trace in traces {
        let mut info = ProcessInfo {
            pid: trace.pid,
            ppid: trace.ppid,
            forked_from: trace.forked_from,
            argv: trace.argv.clone(),
            complete: trace.complete,
            tracer: "not_started".into(),
            not_traced: None,
            cupti: None,
            python: serde_json::Value::Null,
            watched: Vec::new(),
        };
        let mut records: Vec<&Record> = trace.records.iter().collect();
        records.sort_by_key(|r| seq_of(r));
        // Per thread: open step depth and the global index of its outermost open step.
        let mut open: HashMap<i64, (usize, usize)> = HashMap::new();
        let mut open_captures: HashMap<u64, usize> = HashMap::new();
        for record in records {
            match record {
                Record::Tracer { status, why, cupti, watched, python } => {
                    info.tracer = status.clone();
                    info.not_traced = why.clone();
                    info.cupti = cupti.clone();
                    info.python = python.clone();
                    info.watched = watched.clone();
                }
                Record::Step { edge, tid, .. } => {
                    let slot = open.entry(*tid).or_insert((0, 0));
                    match edge {
                        StepEdge::Begin => {
                            if slot.0 == 0 {
                                slot.1 = steps_seen;
                                steps_seen += 1;
                                if steps_seen > options.skip {
                                    per_step.push(0);
                                }
                            }
                            slot.0 += 1;
                        }
                        StepEdge::End => slot.0 = slot.0.saturating_sub(1),
                    }
                }
                Record::Sync(call) => {
                    for f in call.python.iter().flatten() {
                        if let (Some(file), Some(function)) = (&f.file, &f.function) {
                            executed.insert((file.clone(), function.clone()));
                        }
                    }
                    let region = match open.get(&call.tid) {
                        Some(&(depth, index)) if depth > 0 && index >= options.skip => {
                            Region::Step(index - options.skip)
                        }
                        Some(&(depth, _)) if depth > 0 => Region::Warmup,
                        _ if options.step.is_some() && steps_seen <= options.skip => Region::Warmup,
                        _ => Region::Outside,
                    };
                    if let Region::Step(i) = region {
                        per_step[i] += 1;
                    }
                    let site = site_of(&call.python, &call.native, options);
                    let capture_sync = |site: Option<Site>| CaptureSync {
                        site,
                        api: call.api.clone(),
                        class: call.fields.class,
                        result: call.result,
                        result_name: capture_error_name(call.result),
                    };
                    if let Some(&i) = call.fields.capture.and_then(|id| open_captures.get(&id)) {
                        let c = &mut captures[i];
                        let sync = capture_sync(site.clone());
                        if c.invalidated_by.is_none() && sync.result_name.is_some() {
                            c.invalidated_by = Some(sync.clone());
                        }
                        c.syncs.push(sync);
                    }
                    let Some(site) = site else {
                        unattributed.calls += 1;
                        if !unattributed.apis.contains(&call.api) {
                            unattributed.apis.push(call.api.clone());
                        }
                        continue;
                    };
                    let acc = lines.entry(site.clone()).or_insert_with(|| Acc {
                        line: LineSummary {
                            site,
                            apis: Vec::new(),
                            classes: Vec::new(),
                            calls: 0,
                            in_steps: 0,
                            per_step: None,
                            warmup: 0,
                            outside_steps: 0,
                            in_capture: 0,
                            failed: 0,
                            wait_total_ns: 0,
                            wait_p50_ns: 0,
                            stacks: Vec::new(),
                        },
                        waits: Vec::new(),
                    });
                    let l = &mut acc.line;
                    l.calls += 1;
                    match region {
                        Region::Step(_) => l.in_steps += 1,
                        Region::Warmup => l.warmup += 1,
                        Region::Outside => l.outside_steps += 1,
                    }
                    l.in_capture += usize::from(call.fields.capture.is_some());
                    l.failed += usize::from(call.result != 0);
                    l.wait_total_ns += call.fields.wait_ns;
                    acc.waits.push(call.fields.wait_ns);
                    if !l.apis.contains(&call.api) {
                        l.apis.push(call.api.clone());
                    }
                    if !l.classes.contains(&call.fields.class) {
                        l.classes.push(call.fields.class);
                    }
                    let stack = call.python.clone().or_else(|| call.native.clone()).unwrap_or_default();
                    if l.stacks.len() < 3 && !l.stacks.contains(&stack) {
                        l.stacks.push(stack);
                    }
                }
                Record::CaptureBegin(call) => {
                    let Some(id) = call.fields.capture else { continue };
                    open_captures.insert(id, captures.len());
                    captures.push(Capture {
                        pid: trace.pid,
                        id,
                        tid: call.tid,
                        begin_api: call.api.clone(),
                        site: site_of(&call.python, &call.native, options),
                        status: "not_ended",
                        end_result: None,
                        end_result_name: None,
                        syncs: Vec::new(),
                        invalidated_by: None,
                    });
                }
                Record::CaptureEnd(call) => {
                    let Some(i) = call.fields.capture.and_then(|id| open_captures.remove(&id)) else { continue };
                    let c = &mut captures[i];
                    c.end_result = Some(call.result);
                    c.end_result_name = capture_error_name(call.result);
                    c.status = if call.result == 0 { "ok" } else { "invalidated" };
                }
                Record::Process { .. } | Record::Stack(_) | Record::Exit { .. } => {}
            }
        }
        processes.push(info);
    }

    let counted = per_step.len();
    let mut lines: Vec<LineSummary> = lines
        .into_values()
        .map(|mut acc| {
            acc.line.wait_p50_ns = median(&mut acc.waits);
            if options.step.is_some() && counted > 0 {
                acc.line.per_step = Some(acc.line.in_steps as f64 / counted as f64);
            }
            acc.line
        })
        .collect();
    lines.sort_by(|a, b| b.in_steps.cmp(&a.in_steps).then(b.calls.cmp(&a.calls)).then_with(|| a.site.cmp(&b.site)));
    Analysis {
        processes,
        steps: Steps {
            function: options.step.clone(),
            seen: steps_seen,
            skipped: steps_seen.min(options.skip),
            counted,
            syncs_per_step: per_step,
        },
        lines,
        captures,
        unattributed,
        executed,
    }
}

fn seq_of(record: &Record) -> u64 {
    match record {
        Record::Process { .. } | Record::Tracer { .. } => 0,
        Record::Sync(c) => c.seq,
        Record::CaptureBegin(c) | Record::CaptureEnd(c) => c.seq,
        Record::Stack(v) => v["seq"].as_u64().unwrap_or(0),
        Record::Step { seq, .. } | Record::Exit { seq } => *seq,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::trace::parse;

    fn trace(lines: &[String]) -> ProcessTrace {
        let mut text =
            String::from(r#"{"type":"process","format":1,"pid":10,"ppid":1,"forked_from":null,"argv":["p"]}"#);
        for l in lines {
            text.push('\n');
            text.push_str(l);
        }
        parse(&text).unwrap()
    }

    fn step(seq: u64, tid: i64, edge: &str) -> String {
        format!(r#"{{"type":"step","edge":"{edge}","tid":{tid},"seq":{seq}}}"#)
    }

    fn sync(seq: u64, tid: i64, line: u32, capture: Option<u64>, result: i32) -> String {
        let capture = capture.map_or("null".to_string(), |c| c.to_string());
        format!(
            r#"{{"type":"sync","seq":{seq},"tid":{tid},"api":"cudaStreamSynchronize","class":"stream_synchronize","bytes":null,"wait_ns":{},"capture":{capture},"result":{result},"enter_ns":0,"python":[{{"file":"/app/m.py","line":{line},"function":"f"}}]}}"#,
            seq * 10
        )
    }

    #[test]
    fn recursion_is_one_step_threads_count_apart_and_skipped_steps_are_warmup() {
        let t = trace(&[
            step(1, 1, "begin"),
            sync(2, 1, 5, None, 0), // step 0: skipped
            step(3, 1, "end"),
            step(4, 1, "begin"),
            step(5, 1, "begin"), // a recursive call: still step 1
            sync(6, 1, 5, None, 0),
            step(7, 1, "end"),
            sync(8, 2, 6, None, 0), // another thread, in no step
            step(9, 1, "end"),
            step(10, 2, "begin"), // step 2, on thread 2
            sync(11, 2, 6, None, 0),
            sync(12, 1, 5, None, 0), // thread 1 is outside its steps
            step(13, 2, "end"),
        ]);
        let options = Options { step: Some("m:f".into()), skip: 1, internal: Vec::new() };
        let a = analyze(&[t], &options);
        assert_eq!((a.steps.seen, a.steps.skipped, a.steps.counted), (3, 1, 2));
        assert_eq!(a.steps.syncs_per_step, vec![1, 1]);
        let line = |n: u32| a.lines.iter().find(|l| l.site.line == n).unwrap();
        assert_eq!((line(5).calls, line(5).in_steps, line(5).warmup, line(5).outside_steps), (3, 1, 1, 1));
        assert_eq!((line(6).calls, line(6).in_steps, line(6).outside_steps), (2, 1, 1));
        assert_eq!(line(5).per_step, Some(0.5));
        assert_eq!(line(5).wait_p50_ns, 60, "median of 20, 60, 120");
    }

    #[test]
    fn captures_collect_their_syncs_and_the_first_refused_call() {
        let begin = r#"{"type":"capture_begin","seq":1,"tid":1,"api":"cudaStreamBeginCapture","capture":1,"result":0,"enter_ns":0,"python":[{"file":"/app/m.py","line":3,"function":"g"}]}"#;
        let end = r#"{"type":"capture_end","seq":4,"tid":1,"api":"cudaStreamEndCapture","capture":1,"result":901,"enter_ns":0}"#;
        let t = trace(&[begin.to_string(), sync(2, 1, 7, Some(1), 0), sync(3, 1, 8, Some(1), 900), end.to_string()]);
        let a = analyze(&[t], &Options::default());
        let c = &a.captures[0];
        assert_eq!((c.status, c.end_result_name), ("invalidated", Some("STREAM_CAPTURE_INVALIDATED")));
        assert_eq!(c.site.as_ref().unwrap().line, 3);
        assert_eq!(c.syncs.len(), 2);
        let by = c.invalidated_by.as_ref().unwrap();
        assert_eq!((by.site.as_ref().unwrap().line, by.result_name), (8, Some("STREAM_CAPTURE_UNSUPPORTED")));
        assert_eq!(a.lines.iter().map(|l| l.in_capture).sum::<usize>(), 2);
    }
}
