//! The sync tracer's model: what counts as a sync, where the probe was when it happened, and the
//! collector that the CUPTI callback (`cupti.rs`, CUDA builds only) feeds.
//!
//! The collector is plain Rust so that attribution and aggregation are tested on CPU: a record
//! carries an unresolved backtrace, taken inside the CUDA call, and is symbolised only after the run.

pub mod frames;

/// The catalogue of sync-class calls lives in its own crate: `probe exec`'s injection library
/// (runtime-probe/inject) classifies with the same table.
pub use sync_catalogue::{cbid, SyncClass};

#[cfg(feature = "cuda")]
pub mod cupti;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Mutex;

use serde::Serialize;

pub use frames::{select_user_frame, workspace_root, FrameInfo, Site};

/// What the probe was running when a call happened: one of the decoder contract's calls, or the
/// probe's own work around them. Not one of the README's numbered phases: phase 1 (the eager run)
/// spans `Setup` to `Finish`, phase 2 is `Warmup` and `Capture`. The report keeps the key `phase`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Building the model, loading weights, prefill.
    Setup,
    Reset,
    Prepare,
    Step,
    Finish,
    /// The eager step run with the H2D cache guard alive, just before capture.
    Warmup,
    /// The step run inside the stream capture.
    Capture,
    /// The probe's own bookkeeping between stages.
    Probe,
}

impl Stage {
    const ALL: [Stage; 8] = [
        Stage::Setup,
        Stage::Reset,
        Stage::Prepare,
        Stage::Step,
        Stage::Finish,
        Stage::Warmup,
        Stage::Capture,
        Stage::Probe,
    ];
}

/// A recorded sync, attributed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncEvent {
    pub class: SyncClass,
    /// The CUDA API function (`cuMemcpyDtoHAsync_v2`, `cudaStreamSynchronize`…).
    pub api: String,
    pub phase: Stage,
    /// The decode step, for `prepare`, `step` and `capture` records.
    pub step: Option<usize>,
    pub bytes: Option<u64>,
    /// The host buffer of a copy; matches a captured memcpy node to the call that made it.
    #[serde(skip)]
    pub host_ptr: Option<usize>,
    /// The call's return code (0: success).
    pub result: i32,
    /// The first user-code frame; `None` when the stack had no line tables for user code.
    pub site: Option<Site>,
}

/// A CUDA call that failed with a stream-capture error while the step was being captured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaptureFailure {
    pub api: String,
    pub result: i32,
    pub result_name: &'static str,
    pub site: Option<Site>,
}

/// Everything the collector saw, symbolised.
#[derive(Debug, Default, Clone)]
pub struct Trace {
    pub events: Vec<SyncEvent>,
    pub capture_failures: Vec<CaptureFailure>,
    /// The last CUDA call made inside the capture (frees and destroys aside), with its site: when
    /// the step returns an error (candle refusing a host copy during capture, say), this is the
    /// call that led to it (candle's capture-status check, called from the offending line).
    pub last_capture_call: Option<(String, Option<Site>)>,
}

/// Names of the stream-capture errors (CUDA driver and runtime share the numbers 900–908).
pub fn capture_error_name(code: i32) -> Option<&'static str> {
    Some(match code {
        900 => "STREAM_CAPTURE_UNSUPPORTED",
        901 => "STREAM_CAPTURE_INVALIDATED",
        902 => "STREAM_CAPTURE_MERGE",
        903 => "STREAM_CAPTURE_UNMATCHED",
        904 => "STREAM_CAPTURE_UNJOINED",
        905 => "STREAM_CAPTURE_ISOLATION",
        906 => "STREAM_CAPTURE_IMPLICIT",
        907 => "CAPTURED_EVENT",
        908 => "STREAM_CAPTURE_WRONG_THREAD",
        _ => return None,
    })
}

struct RawEvent {
    class: SyncClass,
    api: &'static str,
    phase: Stage,
    step: Option<usize>,
    bytes: Option<u64>,
    host_ptr: Option<usize>,
    result: i32,
    stack: backtrace::Backtrace,
}

struct RawFailure {
    api: &'static str,
    result: i32,
    stack: backtrace::Backtrace,
}

#[derive(Default)]
struct Buffer {
    events: Vec<RawEvent>,
    failures: Vec<RawFailure>,
    last_capture_call: Option<(&'static str, backtrace::Backtrace)>,
}

static BUFFER: Mutex<Buffer> = Mutex::new(Buffer { events: Vec::new(), failures: Vec::new(), last_capture_call: None });
static STAGE: AtomicU8 = AtomicU8::new(Stage::Probe as u8);
const NO_STEP: usize = usize::MAX;
static STEP: AtomicUsize = AtomicUsize::new(NO_STEP);

fn buffer() -> std::sync::MutexGuard<'static, Buffer> {
    // A panic while holding the lock must not disable tracing for the rest of the run.
    BUFFER.lock().unwrap_or_else(|e| e.into_inner())
}

/// Tells the collector where the probe is; every record until the next call carries this.
pub fn set_position(stage: Stage, step: Option<usize>) {
    STAGE.store(stage as u8, Ordering::Relaxed);
    STEP.store(step.unwrap_or(NO_STEP), Ordering::Relaxed);
}

pub fn current_stage() -> Stage {
    let v = STAGE.load(Ordering::Relaxed);
    Stage::ALL.into_iter().find(|p| *p as u8 == v).unwrap_or(Stage::Probe)
}

fn current_step() -> Option<usize> {
    Some(STEP.load(Ordering::Relaxed)).filter(|&s| s != NO_STEP)
}

/// Records a sync-class call. Called from inside the CUDA call, so the backtrace taken here
/// reaches the user code that made it.
pub fn record_sync(class: SyncClass, api: &'static str, bytes: Option<u64>, host_ptr: Option<usize>, result: i32) {
    let stack = backtrace::Backtrace::new_unresolved();
    let event = RawEvent { class, api, phase: current_stage(), step: current_step(), bytes, host_ptr, result, stack };
    buffer().events.push(event);
}

/// Frees and destroys run when Rust drops values, also while an error propagates out of the
/// step: they never explain a failure, so they are not "the last call".
fn is_release(api: &str) -> bool {
    api.contains("Free") || api.contains("Destroy")
}

/// Called for every CUDA call made while the step is being captured.
pub fn record_capture_call(api: &'static str, result: i32) {
    let failed = capture_error_name(result).is_some();
    if !failed && is_release(api) {
        return;
    }
    let stack = backtrace::Backtrace::new_unresolved();
    let mut buf = buffer();
    if failed {
        buf.failures.push(RawFailure { api, result, stack: stack.clone() });
    }
    if !is_release(api) {
        buf.last_capture_call = Some((api, stack));
    }
}

/// Resolves a stack once per distinct set of return addresses: a sync inside a loop is the same
/// stack every time.
struct Resolver(HashMap<Vec<usize>, Option<Site>>);

impl Resolver {
    fn site(&mut self, mut stack: backtrace::Backtrace) -> Option<Site> {
        let key: Vec<usize> = stack.frames().iter().map(|f| f.ip() as usize).collect();
        self.0.entry(key).or_insert_with(|| select_user_frame(&frames::resolve(&mut stack), workspace_root())).clone()
    }
}

/// Takes and symbolises everything recorded so far.
pub fn take() -> Trace {
    let raw = std::mem::take(&mut *buffer());
    let mut resolver = Resolver(HashMap::new());
    let events = raw
        .events
        .into_iter()
        .map(|e| SyncEvent {
            class: e.class,
            api: e.api.to_string(),
            phase: e.phase,
            step: e.step,
            bytes: e.bytes,
            host_ptr: e.host_ptr,
            result: e.result,
            site: resolver.site(e.stack),
        })
        .collect();
    let capture_failures = raw
        .failures
        .into_iter()
        .map(|f| CaptureFailure {
            api: f.api.to_string(),
            result: f.result,
            result_name: capture_error_name(f.result).unwrap_or("?"),
            site: resolver.site(f.stack),
        })
        .collect();
    let last_capture_call = raw.last_capture_call.map(|(api, st)| (api.to_string(), resolver.site(st)));
    Trace { events, capture_failures, last_capture_call }
}

/// One row of the per-site table: every call of one API from one source line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteSummary {
    pub class: SyncClass,
    pub api: String,
    pub site: Option<Site>,
    pub total: usize,
    /// Calls per stage (`step` is the decode step itself).
    pub per_phase: BTreeMap<Stage, usize>,
    /// How many decode steps made at least one such call in the `step` stage.
    pub steps_seen: usize,
}

/// Groups events by (site, API), most frequent first.
pub fn summarize(events: &[SyncEvent]) -> Vec<SiteSummary> {
    type Key = (Option<Site>, String, SyncClass);
    let mut groups: BTreeMap<Key, (BTreeMap<Stage, usize>, Vec<usize>)> = BTreeMap::new();
    for e in events {
        let (stages, steps) = groups.entry((e.site.clone(), e.api.clone(), e.class)).or_default();
        *stages.entry(e.phase).or_default() += 1;
        if e.phase == Stage::Step {
            steps.extend(e.step);
        }
    }
    let mut out: Vec<SiteSummary> = groups
        .into_iter()
        .map(|((site, api, class), (per_phase, mut steps))| {
            steps.sort_unstable();
            steps.dedup();
            SiteSummary { class, api, site, total: per_phase.values().sum(), per_phase, steps_seen: steps.len() }
        })
        .collect();
    out.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.site.cmp(&b.site)));
    out
}

/// Syncs made by the decode step itself (stage `step`), per step index.
pub fn per_step_counts(events: &[SyncEvent], num_steps: usize) -> Vec<usize> {
    let mut counts = vec![0; num_steps];
    for e in events.iter().filter(|e| e.phase == Stage::Step) {
        if let Some(c) = e.step.and_then(|s| counts.get_mut(s)) {
            *c += 1;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(phase: Stage, step: Option<usize>, line: u32) -> SyncEvent {
        SyncEvent {
            class: SyncClass::DeviceToHostPageable,
            api: "cuMemcpyDtoHAsync_v2".into(),
            phase,
            step,
            bytes: Some(4),
            host_ptr: None,
            result: 0,
            site: Some(Site { crate_name: "models".into(), file: "models/src/m.rs".into(), line, function: None }),
        }
    }

    #[test]
    fn summaries_group_by_site_and_count_steps_and_stages() {
        let events = vec![
            event(Stage::Step, Some(0), 10),
            event(Stage::Step, Some(1), 10),
            event(Stage::Step, Some(1), 10),
            event(Stage::Finish, None, 10),
            event(Stage::Step, Some(0), 20),
        ];
        let s = summarize(&events);
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].total, s[0].steps_seen), (4, 2));
        assert_eq!(s[0].per_phase[&Stage::Step], 3);
        assert_eq!(s[0].per_phase[&Stage::Finish], 1);
        assert_eq!(s[1].site.as_ref().unwrap().line, 20);
        assert_eq!(per_step_counts(&events, 3), vec![2, 2, 0]);
    }

    #[test]
    fn capture_errors_have_names() {
        assert_eq!(capture_error_name(900), Some("STREAM_CAPTURE_UNSUPPORTED"));
        assert_eq!(capture_error_name(0), None);
    }
}
