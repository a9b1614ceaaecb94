//! The runtime family of codes (`RT…`) and the findings `probe exec` prints in graphlint's output
//! formats: one per reported line and code, with the observed counts and waits in the message.
//! The hundreds digit follows graphlint's families (1 explicit sync, 3 device to host, 6 host to
//! device); RT9xx are about captures.

use std::path::PathBuf;

use graphlint::diagnostic::{ChainLink, Diagnostic, Heat, Location};
use graphlint::rule::Rule;

use super::analyze::{Analysis, Capture, LineSummary};
use super::frames::Site;
use crate::trace::SyncClass;

graphlint::declare_rule! {
    /// ## What it does
    /// Reports a line where the traced program waited in a stream, event or device synchronize.
    pub static RT_EXPLICIT_SYNC = Rule { code: "RT101", name: "runtime-synchronize", family: ExplicitSync, language: Any }
}

graphlint::declare_rule! {
    /// ## What it does
    /// Reports a line where the traced program polled a stream or an event (`query`).
    pub static RT_QUERY = Rule { code: "RT102", name: "runtime-query", family: ExplicitSync, language: Any }
}

graphlint::declare_rule! {
    /// ## What it does
    /// Reports a line where a blocking `cudaMalloc`/`cudaFree` made the traced program wait.
    pub static RT_BLOCKING_ALLOC = Rule { code: "RT103", name: "runtime-blocking-alloc", family: ExplicitSync, language: Any }
}

graphlint::declare_rule! {
    /// ## What it does
    /// Reports a line where the traced program copied device memory to the host and waited for it
    /// (`.item()`, `.cpu()`, `.tolist()`, `if t:` end here).
    pub static RT_DEVICE_TO_HOST = Rule { code: "RT301", name: "runtime-device-to-host", family: DeviceToHost, language: Any }
}

graphlint::declare_rule! {
    /// ## What it does
    /// Reports a line where the traced program copied pageable host memory to the device, which
    /// the driver stages before returning.
    pub static RT_HOST_TO_DEVICE = Rule { code: "RT601", name: "runtime-pageable-upload", family: HostToDevice, language: Any }
}

graphlint::declare_rule! {
    /// ## What it does
    /// Reports a sync-class call made while a stream capture was open: refused (the capture is
    /// invalidated) or, worse, silently recorded into the graph (a pageable copy).
    pub static RT_SYNC_IN_CAPTURE = Rule { code: "RT901", name: "runtime-sync-in-capture", family: ExplicitSync, language: Any }
}

graphlint::declare_rule! {
    /// ## What it does
    /// Reports a stream capture that did not end cleanly, at the line that began it.
    pub static RT_CAPTURE_BROKEN = Rule { code: "RT902", name: "runtime-capture-failed", family: ExplicitSync, language: Any }
}

pub fn rule_of(class: SyncClass) -> &'static Rule {
    use SyncClass::*;
    match class {
        StreamSynchronize | ContextSynchronize | EventSynchronize => &RT_EXPLICIT_SYNC,
        StreamQuery | EventQuery => &RT_QUERY,
        MemAlloc | MemFree => &RT_BLOCKING_ALLOC,
        DeviceToHost | DeviceToHostPageable => &RT_DEVICE_TO_HOST,
        HostToDevicePageable => &RT_HOST_TO_DEVICE,
    }
}

/// `12.3 µs`, `4.56 ms`.
pub fn duration(ns: u64) -> String {
    match ns {
        0..=999 => format!("{ns} ns"),
        1_000..=999_999 => format!("{:.1} µs", ns as f64 / 1e3),
        1_000_000..=999_999_999 => format!("{:.2} ms", ns as f64 / 1e6),
        _ => format!("{:.2} s", ns as f64 / 1e9),
    }
}

/// Byte range and end of `line` (1-based) in `file`, for the code frame; empty when unreadable.
fn line_span(file: &str, line: u32) -> (std::ops::Range<usize>, Location, Location) {
    let start = Location { row: line, column: 1 };
    let Ok(text) = std::fs::read_to_string(file) else { return (0..0, start, start) };
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line as usize {
            let body = l.trim_end_matches(['\n', '\r']);
            let indent = body.len() - body.trim_start().len();
            let begin = Location { row: line, column: indent as u32 + 1 };
            let end = Location { row: line, column: body.chars().count() as u32 + 1 };
            return (offset + indent..offset + body.len(), begin, end);
        }
        offset += l.len();
    }
    (0..0, start, start)
}

/// The runtime call chain of a line's first stack, outermost first, for the hot-path note.
fn chain(line: &LineSummary) -> Vec<ChainLink> {
    let Some(stack) = line.stacks.first() else { return Vec::new() };
    let mut links: Vec<ChainLink> = stack
        .iter()
        .rev()
        .filter_map(|f| Some(ChainLink { function: f.function.clone()?, filename: f.file.clone()?, row: f.line? }))
        .collect();
    // Down to the reported frame; the internals below it are in the report's stacks.
    if let Some(i) = links.iter().position(|l| l.filename == line.site.file && l.row == line.site.line) {
        links.truncate(i + 1);
    }
    links
}

fn diagnostic(
    rule: &'static Rule,
    site: &Site,
    message: String,
    help: Option<String>,
    reason: String,
    hot_path: Vec<ChainLink>,
) -> Diagnostic {
    let (range, start, end) = line_span(&site.file, site.line);
    Diagnostic {
        rule,
        message,
        help,
        file: PathBuf::from(&site.file),
        range,
        start,
        end,
        hot_path,
        heat: Heat::Hot { reason },
        suppressed: None,
    }
}

fn line_message(line: &LineSummary, class_rule: &'static Rule, steps_counted: usize) -> String {
    let apis = line.apis.join(", ");
    let per_step = match line.per_step {
        Some(p) => format!(", {p:.1} per step over {steps_counted} steps"),
        None => String::new(),
    };
    let what = match class_rule.code {
        "RT101" => "the host waited for the device",
        "RT102" => "the host polled the device",
        "RT103" => "a blocking allocation or free waited for the device",
        "RT301" => "a device-to-host copy made the host wait",
        _ => "a pageable host-to-device copy was staged by the driver",
    };
    format!(
        "{what} ({apis}): {} call{}{per_step}, waited {} in total, p50 {}",
        line.calls,
        if line.calls == 1 { "" } else { "s" },
        duration(line.wait_total_ns),
        duration(line.wait_p50_ns)
    )
}

/// The code of a line: what its calls amount to. An `.item()` is a copy and a stream sync: a
/// device-to-host copy, so the copy classes come first.
pub fn line_rule(classes: &[SyncClass]) -> &'static Rule {
    const ORDER: [&Rule; 5] =
        [&RT_DEVICE_TO_HOST, &RT_HOST_TO_DEVICE, &RT_EXPLICIT_SYNC, &RT_QUERY, &RT_BLOCKING_ALLOC];
    let present: Vec<&'static Rule> = classes.iter().map(|c| rule_of(*c)).collect();
    ORDER.into_iter().find(|r| present.iter().any(|p| p.code == r.code)).unwrap_or(&RT_EXPLICIT_SYNC)
}

/// The findings of a run, sorted like graphlint's: one per reported line, then one per capture
/// problem.
pub fn diagnostics(analysis: &Analysis) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let counted = analysis.steps.counted;
    for line in &analysis.lines {
        let rule = line_rule(&line.classes);
        let reason = match (&analysis.steps.function, line.in_steps) {
            (Some(step), n) if n > 0 => format!("observed inside `{step}`"),
            (Some(_), _) => "observed outside the counted steps".to_string(),
            (None, _) => "observed at run time".to_string(),
        };
        out.push(diagnostic(rule, &line.site, line_message(line, rule, counted), None, reason, chain(line)));
    }
    for capture in &analysis.captures {
        out.extend(capture_diagnostics(capture));
    }
    out.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    out
}

fn capture_diagnostics(c: &Capture) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let reason = format!("inside stream capture {} (pid {})", c.id, c.pid);
    for s in &c.syncs {
        let Some(site) = &s.site else { continue };
        let fate = match s.result_name {
            Some(name) => format!("refused with {name}"),
            None if s.result == 0 => "returned success: recorded into the graph, it will not wait at replay".into(),
            None => format!("failed with CUDA error {}", s.result),
        };
        let message = format!("{} ({}) inside a stream capture: {fate}", s.api, s.class.label());
        out.push(diagnostic(&RT_SYNC_IN_CAPTURE, site, message, None, reason.clone(), Vec::new()));
    }
    if c.status != "ok" {
        if let Some(site) = &c.site {
            let why = match (&c.invalidated_by, c.end_result_name) {
                (Some(by), _) => {
                    let at = by
                        .site
                        .as_ref()
                        .map_or("an unattributed line".to_string(), |s| format!("{}:{}", s.file, s.line));
                    format!("invalidated by {} at {at}", by.api)
                }
                (None, Some(name)) => format!("ending it failed with {name}"),
                (None, None) if c.status == "not_ended" => "it never ended".to_string(),
                (None, None) => format!("ending it failed with CUDA error {}", c.end_result.unwrap_or(0)),
            };
            let message = format!("stream capture begun here ({}) failed: {why}", c.begin_api);
            out.push(diagnostic(&RT_CAPTURE_BROKEN, site, message, None, reason.clone(), Vec::new()));
        }
    }
    out
}
