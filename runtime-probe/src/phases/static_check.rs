//! Phase 7, `--static-check`: runs graphlint's Rust analysis, in process, on the sources the
//! tracer's frames point to, and says for every runtime sync site whether graphlint flagged it,
//! and which hot static findings the run never hit.
//!
//! **The same site.** The tracer names the first user frame of each sync: a file (as compiled,
//! relative to the workspace the binary was built from) and a line. rustc attributes a call to the
//! line of its method name (`.to_vec1()` on its own line in a chain) or of its path
//! (`Tensor::from_vec(`), and graphlint's finding starts at exactly that token, so a finding
//! that *starts* on the frame's line is the same site. A frame on a later line of a multi-line
//! finding (inlined code, a call inside the arguments) matches the innermost finding spanning
//! it. Frames in candle, cudarc or std never get here: the tracer skips them.
//!
//! **Findings.** graphlint runs with every rule, cold findings kept (`all_paths`), suppressed
//! ones kept and marked (`keep_suppressed`), and `GraphDecoder::step` as an extra root: the probe
//! knows that is the decode step it runs and captures. A site with a hot unsuppressed finding is
//! `confirmed`; one whose finding the owner suppressed (`// graphlint: ignore[CODE] -- reason`)
//! is `suppressed`, i.e. known and acknowledged; one flagged only off every hot path is `cold`;
//! one without a finding is `missed`; one whose source cannot be read is `source_unavailable`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use graphlint::diagnostic::{Diagnostic, Heat};
use graphlint::settings::{RootPatterns, Settings};
use serde::Serialize;
use serde_json::Value;

/// The probe's decode step: a root whatever markers the analysed crates carry.
pub const HOT_PATTERNS: &[&str] = &["GraphDecoder::step"];

/// A source line where the run synced, with what the report says happened there.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuntimeSite {
    pub file: String,
    pub line: u32,
    #[serde(rename = "crate")]
    pub crate_name: String,
    pub function: Option<String>,
    /// Sync classes recorded at this line (`device_to_host_pageable`…).
    pub classes: Vec<String>,
    pub apis: Vec<String>,
    /// Calls in the traced eager run.
    pub calls: u64,
    /// Eager calls per phase.
    pub per_phase: BTreeMap<String, u64>,
    /// Where the report saw it: `eager`, `capture` (a sync during capture), `capture_error`,
    /// `failing_call`, `silent_sync`.
    pub seen_in: Vec<String>,
}

/// One graphlint finding, with paths shown like the tracer's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub file: String,
    pub line: u32,
    pub end_line: u32,
    pub code: String,
    pub name: String,
    pub message: String,
    pub hot: bool,
    /// Why the chain's root is a root.
    pub hot_reason: Option<String>,
    /// From the root to the function holding the finding (empty when cold).
    pub chain: Vec<ChainLink>,
    pub suppressed: bool,
    /// The reason the `graphlint: ignore` comment gives.
    pub suppression_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainLink {
    pub function: String,
    pub file: String,
    pub line: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteStatus {
    /// A hot, unsuppressed finding: graphlint reports this sync.
    Confirmed,
    /// A finding its owner suppressed with a reason: known and acknowledged.
    Suppressed,
    /// Flagged, but off every hot path: graphlint reports it only with `--all-paths`.
    Cold,
    /// No finding at this line.
    Missed,
    /// The source file could not be read or parsed: nothing to compare.
    SourceUnavailable,
}

impl SiteStatus {
    fn label(self) -> &'static str {
        match self {
            Self::Confirmed => "CONFIRMED",
            Self::Suppressed => "SUPPRESSED",
            Self::Cold => "COLD",
            Self::Missed => "MISSED",
            Self::SourceUnavailable => "NO SOURCE",
        }
    }
}

/// How a site found its findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchedOn {
    /// The findings start on the frame's line.
    Line,
    /// The frame's line is inside a multi-line finding (the innermost one).
    Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteCheck {
    #[serde(flatten)]
    pub site: RuntimeSite,
    pub status: SiteStatus,
    pub matched_on: Option<MatchedOn>,
    pub findings: Vec<Finding>,
    /// Why the source is unavailable; for a missed site made only of host-to-device uploads, that
    /// candle made them inside the op called on this line.
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub confirmed: usize,
    pub suppressed: usize,
    pub cold: usize,
    pub missed: usize,
    pub source_unavailable: usize,
    pub static_only: usize,
    pub static_only_suppressed: usize,
}

/// The report's `static_check` section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StaticCheck {
    /// The directories graphlint analysed (each crate's `src/` holding a site).
    pub analyzed: Vec<String>,
    /// Where the frames' relative paths were found.
    pub source_roots: Vec<String>,
    pub hot_patterns: Vec<String>,
    pub files_checked: usize,
    pub runtime_sites: Vec<SiteCheck>,
    /// Hot findings in the analysed sources that no runtime site matched (suppressed ones too,
    /// marked). Not necessarily false positives: the run may not have taken that path.
    pub static_only: Vec<Finding>,
    /// Sync calls whose stack had no user frame (no line tables), not cross-checked.
    pub unattributed_calls: u64,
    pub summary: Summary,
    pub notes: Vec<String>,
}

// ----- runtime sites from a report ------------------------------------------------------------

/// The report's runtime sync sites, one per (file, line), most eager calls first, and the number of
/// calls that had no user frame.
pub fn runtime_sites(report: &Value) -> (Vec<RuntimeSite>, u64) {
    let mut sites: BTreeMap<(String, u32), RuntimeSite> = BTreeMap::new();
    let mut unattributed = 0;
    let mut add = |entry: &Value, seen_in: &str| {
        let calls = if seen_in == "eager" { entry["total"].as_u64().unwrap_or(0) } else { 0 };
        let site = &entry["site"];
        let (Some(file), Some(line)) = (site["file"].as_str(), site["line"].as_u64()) else {
            unattributed += calls.max(1);
            return;
        };
        let row = sites.entry((file.to_string(), line as u32)).or_insert_with(|| RuntimeSite {
            file: file.to_string(),
            line: line as u32,
            crate_name: site["crate"].as_str().unwrap_or_default().to_string(),
            function: site["function"].as_str().map(str::to_string),
            classes: Vec::new(),
            apis: Vec::new(),
            calls: 0,
            per_phase: BTreeMap::new(),
            seen_in: Vec::new(),
        });
        let push = |list: &mut Vec<String>, v: Option<&str>| {
            if let Some(v) = v.filter(|v| !list.iter().any(|x| x == v)) {
                list.push(v.to_string());
            }
        };
        push(&mut row.classes, entry["class"].as_str());
        push(&mut row.apis, entry["api"].as_str());
        push(&mut row.seen_in, Some(seen_in));
        row.calls += calls;
        if seen_in == "eager" {
            for (phase, n) in entry["per_phase"].as_object().into_iter().flatten() {
                *row.per_phase.entry(phase.clone()).or_default() += n.as_u64().unwrap_or(0);
            }
        }
    };
    let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
    for entry in list(&report["eager"]["sites"]) {
        add(&entry, "eager");
    }
    let capture = &report["capture"];
    for entry in list(&capture["syncs_during_capture"]) {
        add(&entry, "capture");
    }
    for entry in list(&capture["capture_errors"]) {
        add(&entry, "capture_error");
    }
    if capture["failing_call"].is_object() {
        add(&capture["failing_call"], "failing_call");
    }
    for entry in list(&capture["silent_syncs"]) {
        add(&entry, "silent_sync");
    }
    let mut sites: Vec<RuntimeSite> = sites.into_values().collect();
    sites.sort_by(|a, b| b.calls.cmp(&a.calls).then_with(|| (&a.file, a.line).cmp(&(&b.file, b.line))));
    (sites, unattributed)
}

// ----- matching -------------------------------------------------------------------------------

/// The findings (of one file) at a frame's line: those starting on it, else the innermost
/// multi-line finding that spans it.
pub fn findings_at(line: u32, findings: &[Finding]) -> (Vec<usize>, Option<MatchedOn>) {
    let starting: Vec<usize> = (0..findings.len()).filter(|&i| findings[i].line == line).collect();
    if !starting.is_empty() {
        return (starting, Some(MatchedOn::Line));
    }
    let spanning = (0..findings.len()).filter(|&i| findings[i].line < line && line <= findings[i].end_line);
    let innermost =
        spanning.min_by_key(|&i| (findings[i].end_line - findings[i].line, std::cmp::Reverse(findings[i].line)));
    let Some(inner) = innermost else { return (Vec::new(), None) };
    let same =
        |i: &usize| (findings[*i].line, findings[*i].end_line) == (findings[inner].line, findings[inner].end_line);
    ((0..findings.len()).filter(same).collect(), Some(MatchedOn::Span))
}

/// A site's verdict from the findings matched to it: any hot unsuppressed finding confirms it;
/// else an owner's suppression acknowledges it; else it was flagged cold; else missed.
pub fn status_of(findings: &[&Finding]) -> SiteStatus {
    if findings.iter().any(|f| f.hot && !f.suppressed) {
        SiteStatus::Confirmed
    } else if findings.iter().any(|f| f.suppressed) {
        SiteStatus::Suppressed
    } else if !findings.is_empty() {
        SiteStatus::Cold
    } else {
        SiteStatus::Missed
    }
}

/// Matches sites to findings. `findings` are keyed by the file as the sites name it; `unavailable`
/// gives, per site file, why its source cannot be compared.
pub fn cross_check(
    sites: &[RuntimeSite],
    findings: &BTreeMap<String, Vec<Finding>>,
    unavailable: &HashMap<String, String>,
) -> (Vec<SiteCheck>, Vec<Finding>) {
    let mut used: BTreeSet<(String, usize)> = BTreeSet::new();
    let checks = sites
        .iter()
        .map(|site| {
            if let Some(why) = unavailable.get(&site.file) {
                return SiteCheck {
                    site: site.clone(),
                    status: SiteStatus::SourceUnavailable,
                    matched_on: None,
                    findings: Vec::new(),
                    detail: Some(why.clone()),
                };
            }
            let in_file = findings.get(&site.file).map_or(&[][..], Vec::as_slice);
            let (hits, matched_on) = findings_at(site.line, in_file);
            used.extend(hits.iter().map(|&i| (site.file.clone(), i)));
            let hits: Vec<&Finding> = hits.iter().map(|&i| &in_file[i]).collect();
            let status = status_of(&hits);
            // Only host-to-device uploads, and no `Tensor::new`/`from_vec` here: the first user
            // frame called a candle op that uploaded from pageable memory itself (shapes and
            // strides of a broadcast or strided op), which no graphlint rule covers.
            let inside_candle = status == SiteStatus::Missed && site.classes.iter().all(|c| c == "host_to_device_pageable");
            SiteCheck {
                site: site.clone(),
                status,
                matched_on,
                findings: hits.into_iter().cloned().collect(),
                detail: inside_candle.then(|| {
                    "no finding at this line: a pageable upload made inside the candle op called here (no graphlint rule covers it)".to_string()
                }),
            }
        })
        .collect();
    let static_only = findings
        .iter()
        .flat_map(|(file, list)| list.iter().enumerate().map(move |(i, f)| (file, i, f)))
        .filter(|(file, i, f)| f.hot && !used.contains(&((*file).clone(), *i)))
        .map(|(_, _, f)| f.clone())
        .collect();
    (checks, static_only)
}

// ----- sources --------------------------------------------------------------------------------

/// Finds the files that frames name. Frames carry paths as compiled: relative to the workspace the
/// binary was built from, which may not exist where it runs (another directory, another machine).
pub struct SourceLocator {
    explicit: bool,
    roots: Vec<PathBuf>,
}

impl SourceLocator {
    /// With `--source-root DIR`, only DIR. Without it: the working directory and its parents, then
    /// the workspace the binary was built from.
    pub fn new(source_root: Option<&Path>) -> Self {
        match source_root {
            Some(root) => Self { explicit: true, roots: vec![root.to_path_buf()] },
            None => {
                let mut roots: Vec<PathBuf> = std::env::current_dir()
                    .map(|cwd| cwd.ancestors().map(Path::to_path_buf).collect())
                    .unwrap_or_default();
                roots.push(crate::trace::workspace_root().to_path_buf());
                Self { explicit: false, roots }
            }
        }
    }

    /// The file a frame names, canonical, with the root it was found under (none for an absolute
    /// frame path), or why it cannot be read.
    fn locate(&self, file: &str) -> Result<(PathBuf, Option<PathBuf>), String> {
        let path = Path::new(file);
        let found = if path.is_absolute() {
            path.is_file().then(|| (path.to_path_buf(), None))
        } else {
            self.roots.iter().map(|r| (r.join(path), Some(r.clone()))).find(|(p, _)| p.is_file())
        };
        let Some((found, root)) = found else {
            let looked = if path.is_absolute() {
                "it does not exist on this machine".to_string()
            } else if self.explicit {
                format!("not found under --source-root {}", self.roots[0].display())
            } else {
                format!(
                    "not found under the working directory, its parents or the build tree {}; pass --source-root \
                     with a checkout of the commit the probe was built from ({})",
                    crate::trace::workspace_root().display(),
                    env!("PROBE_GIT_COMMIT")
                )
            };
            return Err(format!("cannot read {file}: {looked}"));
        };
        let canonical = std::fs::canonicalize(&found).map_err(|e| format!("cannot read {file}: {e}"))?;
        let root = root.map(|r| std::fs::canonicalize(&r).unwrap_or(r));
        Ok((canonical, root))
    }
}

/// What graphlint analyses for a site file: its crate's `src/` (the nearest `Cargo.toml` above
/// it), or its own directory when it is not under one.
fn analysis_dir(file: &Path) -> PathBuf {
    let parent = file.parent().unwrap_or(Path::new("/"));
    parent
        .ancestors()
        .find(|dir| dir.join("Cargo.toml").is_file())
        .map(|krate| krate.join("src"))
        .filter(|src| file.starts_with(src))
        .unwrap_or_else(|| parent.to_path_buf())
}

/// Shows `path` relative to the first root that holds it, like the tracer shows frames.
fn display(path: &Path, roots: &[PathBuf]) -> String {
    roots.iter().find_map(|r| path.strip_prefix(r).ok()).unwrap_or(path).to_string_lossy().into_owned()
}

fn finding_of(d: &Diagnostic, roots: &[PathBuf]) -> Finding {
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    finding_with_paths(d, |file| display(&canonical(file), roots), |file| display(&canonical(Path::new(file)), roots))
}

/// A graphlint finding as the report holds it; `file` shows its path and `chain_file` each chain
/// link's (the in-process probe and `probe exec` show paths differently).
pub(crate) fn finding_with_paths(
    d: &Diagnostic,
    file: impl Fn(&Path) -> String,
    chain_file: impl Fn(&str) -> String,
) -> Finding {
    let (hot, hot_reason) = match &d.heat {
        Heat::Hot { reason } => (true, Some(reason.clone())),
        Heat::Cold | Heat::File => (false, None),
    };
    Finding {
        file: file(&d.file),
        line: d.start.row,
        end_line: d.end.row.max(d.start.row),
        code: d.code().to_string(),
        name: d.rule.name.to_string(),
        message: d.message.clone(),
        hot,
        hot_reason,
        chain: d
            .hot_path
            .iter()
            .map(|l| ChainLink { function: l.function.clone(), file: chain_file(&l.filename), line: l.row })
            .collect(),
        suppressed: d.suppressed.is_some(),
        suppression_reason: d.suppressed.as_ref().and_then(|s| s.reason.clone()),
    }
}

/// Runs the cross-check for a report (the live run's, or one read back from a file).
pub fn check_report(report: &Value, locator: &SourceLocator) -> StaticCheck {
    let (sites, unattributed_calls) = runtime_sites(report);
    let mut notes = Vec::new();
    if sites.is_empty() {
        notes.push(match report["tracer"]["status"].as_str() {
            Some("not_applicable") => {
                "no runtime sync sites to check: a CPU run makes no CUDA calls to trace".to_string()
            }
            Some("unavailable") => "no runtime sync sites to check: the run was not traced (no CUPTI)".to_string(),
            _ => "no runtime sync sites to check: the traced run recorded no sync with a user frame".to_string(),
        });
    }

    // Locate each site file once; the site's own path (as the tracer gave it) stays its key.
    let mut unavailable: HashMap<String, String> = HashMap::new();
    let mut located: BTreeMap<PathBuf, String> = BTreeMap::new();
    let mut roots: Vec<PathBuf> = Vec::new();
    for site in &sites {
        if unavailable.contains_key(&site.file) || located.values().any(|f| f == &site.file) {
            continue;
        }
        match locator.locate(&site.file) {
            Ok((path, root)) => {
                roots.extend(root.filter(|r| !roots.contains(r)));
                located.insert(path, site.file.clone());
            }
            Err(why) => {
                unavailable.insert(site.file.clone(), why);
            }
        }
    }
    // A frame line past the end of its file: the sources are not those the binary was built from.
    for (path, file) in &located {
        let lines = std::fs::read_to_string(path).map(|s| s.lines().count() as u32);
        let last = sites.iter().filter(|s| &s.file == file).map(|s| s.line).max().unwrap_or(0);
        match lines {
            Ok(n) if last > n => {
                unavailable.insert(
                    file.clone(),
                    format!("line {last} is past the end of {file} ({n} lines): these sources are not the ones the probe was built from"),
                );
            }
            Ok(_) => {}
            Err(e) => {
                unavailable.insert(file.clone(), format!("cannot read {file}: {e}"));
            }
        }
    }

    let mut dirs: Vec<PathBuf> =
        located.keys().filter(|p| !unavailable.contains_key(&located[*p])).map(|p| analysis_dir(p)).collect();
    dirs.sort();
    dirs.dedup();
    let outer = dirs.clone();
    dirs.retain(|d| !outer.iter().any(|o| o != d && d.starts_with(o)));

    let settings = Settings {
        all_paths: true,
        keep_suppressed: true,
        roots: RootPatterns { hot: HOT_PATTERNS.iter().map(|p| p.to_string()).collect(), ..RootPatterns::default() },
        ..Settings::default()
    };
    let mut by_file: BTreeMap<String, Vec<Finding>> = BTreeMap::new();
    let mut files_checked = 0;
    if !dirs.is_empty() {
        match graphlint::engine::run(&dirs, &settings) {
            Ok(result) => {
                files_checked = result.files_checked;
                notes.extend(result.warnings.iter().map(|w| format!("graphlint: {w}")));
                for d in &result.diagnostics {
                    // Unused suppressions are about comments, not syncs.
                    if d.rule.code == graphlint::meta::UNUSED_SUPPRESSION.code {
                        continue;
                    }
                    let canonical = std::fs::canonicalize(&d.file).unwrap_or_else(|_| d.file.clone());
                    let finding = finding_of(d, &roots);
                    // Files a site names are keyed as the site names them; the others as shown.
                    let key = located.get(&canonical).cloned().unwrap_or_else(|| finding.file.clone());
                    if matches!(d.heat, Heat::File) {
                        let why = format!("graphlint could not analyse it: {} {}", d.code(), d.message);
                        if located.contains_key(&canonical) {
                            unavailable.insert(key, why);
                        } else {
                            // Its functions are missing from the hot paths of the files that are checked.
                            notes.push(format!("{}: {why}", finding.file));
                        }
                        continue;
                    }
                    by_file.entry(key).or_default().push(finding);
                }
            }
            Err(e) => {
                notes.push(format!("graphlint failed: {}", e));
                for file in located.values() {
                    unavailable.entry(file.clone()).or_insert_with(|| format!("graphlint failed: {}", e));
                }
            }
        }
    }

    let (runtime_sites, static_only) = cross_check(&sites, &by_file, &unavailable);
    let count = |s: SiteStatus| runtime_sites.iter().filter(|c| c.status == s).count();
    let summary = Summary {
        confirmed: count(SiteStatus::Confirmed),
        suppressed: count(SiteStatus::Suppressed),
        cold: count(SiteStatus::Cold),
        missed: count(SiteStatus::Missed),
        source_unavailable: count(SiteStatus::SourceUnavailable),
        static_only: static_only.len(),
        static_only_suppressed: static_only.iter().filter(|f| f.suppressed).count(),
    };
    StaticCheck {
        analyzed: dirs.iter().map(|d| display(d, &roots)).collect(),
        source_roots: roots.iter().map(|r| r.display().to_string()).collect(),
        hot_patterns: settings.roots.hot.clone(),
        files_checked,
        runtime_sites,
        static_only,
        unattributed_calls,
        summary,
        notes,
    }
}

// ----- terminal -------------------------------------------------------------------------------

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn chain_text(chain: &[ChainLink]) -> String {
    chain.iter().map(|l| format!("{} ({}:{})", l.function, file_name(&l.file), l.line)).collect::<Vec<_>>().join(" → ")
}

fn finding_text(f: &Finding) -> String {
    let heat = if f.hot { "hot" } else { "cold" };
    match (&f.suppressed, &f.suppression_reason) {
        (true, Some(reason)) => format!("{} {heat}, suppressed: \"{reason}\"", f.code),
        (true, None) => format!("{} {heat}, suppressed (no reason given)", f.code),
        (false, _) => format!("{} {} ({heat})", f.code, f.name),
    }
}

/// The cross-check as the terminal shows it.
pub fn render(c: &StaticCheck) -> String {
    let mut o = String::new();
    let roots =
        if c.source_roots.is_empty() { String::new() } else { format!("; sources in {}", c.source_roots.join(", ")) };
    let analyzed = if c.analyzed.is_empty() { "nothing".to_string() } else { c.analyzed.join(", ") };
    let _ = writeln!(o, "\n[7] static check: graphlint on {analyzed} ({} files{roots})", c.files_checked);
    if !c.runtime_sites.is_empty() {
        let _ =
            writeln!(o, "    {:<11} {:<46} {:>7}  {:<22} graphlint", "verdict", "runtime sync site", "calls", "phases");
    }
    for s in &c.runtime_sites {
        let site = format!("{}:{}", s.site.file, s.site.line);
        let phases = if s.site.per_phase.is_empty() {
            s.site.seen_in.join(", ")
        } else {
            s.site.per_phase.iter().map(|(p, n)| format!("{p} {n}")).collect::<Vec<_>>().join(", ")
        };
        let what = match s.status {
            SiteStatus::SourceUnavailable => s.detail.clone().unwrap_or_default(),
            SiteStatus::Missed => s.detail.clone().unwrap_or_else(|| "no finding at this line".to_string()),
            _ => s.findings.iter().map(finding_text).collect::<Vec<_>>().join("; "),
        };
        let _ = writeln!(o, "    {:<11} {:<46} {:>7}  {:<22} {what}", s.status.label(), site, s.site.calls, phases);
        if let Some(f) = s.findings.iter().find(|f| !f.chain.is_empty()) {
            let span = if s.matched_on == Some(MatchedOn::Span) {
                format!(" (call spans lines {}-{})", f.line, f.end_line)
            } else {
                String::new()
            };
            let _ = writeln!(o, "    {:<11} chain: {}{span}", "", chain_text(&f.chain));
        }
    }
    let m = &c.summary;
    let _ = writeln!(
        o,
        "    runtime sites: {} confirmed, {} suppressed by their owners, {} flagged off hot paths only, {} missed, {} without source",
        m.confirmed, m.suppressed, m.cold, m.missed, m.source_unavailable
    );
    if c.unattributed_calls > 0 {
        let _ = writeln!(o, "    {} sync call(s) had no user frame and were not checked", c.unattributed_calls);
    }
    let _ = writeln!(
        o,
        "    hot static findings never seen at run time: {} ({} suppressed)",
        m.static_only, m.static_only_suppressed
    );
    for f in &c.static_only {
        let _ = writeln!(o, "      {}:{} {}", f.file, f.line, finding_text(f));
        if !f.chain.is_empty() {
            let _ = writeln!(o, "        chain: {}", chain_text(&f.chain));
        }
    }
    for n in &c.notes {
        let _ = writeln!(o, "    note: {n}");
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(line: u32, end_line: u32, code: &str, hot: bool, suppressed: bool) -> Finding {
        Finding {
            file: "models/src/a.rs".into(),
            line,
            end_line,
            code: code.into(),
            name: "n".into(),
            message: "m".into(),
            hot,
            hot_reason: hot.then(|| "r".into()),
            chain: Vec::new(),
            suppressed,
            suppression_reason: suppressed.then(|| "deliberate".into()),
        }
    }

    fn site(file: &str, line: u32) -> RuntimeSite {
        RuntimeSite {
            file: file.into(),
            line,
            crate_name: "models".into(),
            function: None,
            classes: vec!["device_to_host_pageable".into()],
            apis: vec!["cuMemcpyDtoHAsync_v2".into()],
            calls: 1,
            per_phase: BTreeMap::new(),
            seen_in: vec!["eager".into()],
        }
    }

    #[test]
    fn a_finding_starting_on_the_frame_line_wins_over_one_spanning_it() {
        // `Tensor::from_vec(\n x.to_vec1()?, ..\n)`: GL804 spans 10-12, GL801 starts on 11.
        let f = [finding(10, 12, "GL804", true, false), finding(11, 11, "GL801", true, false)];
        assert_eq!(findings_at(11, &f), (vec![1], Some(MatchedOn::Line)));
        assert_eq!(findings_at(10, &f), (vec![0], Some(MatchedOn::Line)));
        assert_eq!(findings_at(12, &f), (vec![0], Some(MatchedOn::Span)), "a frame inside the call's arguments");
        assert_eq!(findings_at(13, &f), (vec![], None));
        assert_eq!(findings_at(9, &f), (vec![], None), "a line before the call is another statement");
    }

    #[test]
    fn the_innermost_multi_line_finding_matches_and_same_line_findings_all_match() {
        let f = [
            finding(1, 20, "GL804", true, false),
            finding(5, 8, "GL801", true, false),
            finding(3, 3, "GL805", true, false),
            finding(3, 3, "GL801", false, false),
        ];
        assert_eq!(findings_at(7, &f), (vec![1], Some(MatchedOn::Span)));
        assert_eq!(findings_at(15, &f), (vec![0], Some(MatchedOn::Span)));
        assert_eq!(findings_at(3, &f), (vec![2, 3], Some(MatchedOn::Line)));
    }

    #[test]
    fn status_prefers_a_hot_report_then_an_owner_suppression_then_cold() {
        let hot = finding(1, 1, "GL801", true, false);
        let cold = finding(1, 1, "GL801", false, false);
        let suppressed_hot = finding(1, 1, "GL801", true, true);
        let suppressed_cold = finding(1, 1, "GL801", false, true);
        assert_eq!(status_of(&[&hot]), SiteStatus::Confirmed);
        assert_eq!(status_of(&[&suppressed_hot, &hot]), SiteStatus::Confirmed);
        assert_eq!(status_of(&[&suppressed_hot]), SiteStatus::Suppressed);
        assert_eq!(status_of(&[&cold, &suppressed_cold]), SiteStatus::Suppressed);
        assert_eq!(status_of(&[&cold]), SiteStatus::Cold);
        assert_eq!(status_of(&[]), SiteStatus::Missed);
    }

    #[test]
    fn cross_check_confirms_misses_and_lists_hot_findings_never_hit() {
        let findings: BTreeMap<String, Vec<Finding>> = [(
            "models/src/a.rs".to_string(),
            vec![
                finding(10, 10, "GL801", true, true),
                finding(30, 30, "GL804", true, false),
                finding(40, 40, "GL801", false, false),
            ],
        )]
        .into();
        let sites = [site("models/src/a.rs", 10), site("models/src/a.rs", 20), site("models/src/gone.rs", 3)];
        let unavailable: HashMap<String, String> =
            [("models/src/gone.rs".to_string(), "cannot read".to_string())].into();
        let (checks, static_only) = cross_check(&sites, &findings, &unavailable);
        let statuses: Vec<SiteStatus> = checks.iter().map(|c| c.status).collect();
        assert_eq!(statuses, [SiteStatus::Suppressed, SiteStatus::Missed, SiteStatus::SourceUnavailable]);
        assert_eq!(checks[0].findings[0].suppression_reason.as_deref(), Some("deliberate"));
        assert_eq!(checks[2].detail.as_deref(), Some("cannot read"));
        // The cold finding at 40 is not listed; the hot one at 30 is.
        assert_eq!(static_only.iter().map(|f| f.line).collect::<Vec<_>>(), [30]);
        assert_eq!(checks[1].detail, None, "a missed read-back is just missed");
        // The same line in another file is another site; a missed upload is candle's own.
        let mut upload = site("models/src/b.rs", 10);
        upload.classes = vec!["host_to_device_pageable".into()];
        let (checks, _) = cross_check(&[upload], &findings, &HashMap::new());
        assert_eq!(checks[0].status, SiteStatus::Missed);
        assert!(checks[0].detail.as_deref().unwrap().contains("inside the candle op called here"));
    }

    #[test]
    fn runtime_sites_merge_apis_and_phases_per_line_and_count_unattributed_calls() {
        let report = serde_json::json!({
            "eager": {"sites": [
                {"class": "device_to_host_pageable", "api": "cuMemcpyDtoHAsync_v2", "total": 32, "per_phase": {"step": 32},
                 "site": {"crate": "runtime_probe", "file": "runtime-probe/src/toy.rs", "line": 227, "function": "f"}},
                {"class": "host_to_device_pageable", "api": "cuMemcpyHtoDAsync_v2", "total": 5, "per_phase": {"setup": 1, "step": 4},
                 "site": {"crate": "runtime_probe", "file": "runtime-probe/src/toy.rs", "line": 227, "function": "f"}},
                {"class": "mem_free", "api": "cuMemFree_v2", "total": 7, "per_phase": {"finish": 7}, "site": null},
                {"class": "host_to_device_pageable", "api": "cuMemcpyHtoDAsync_v2", "total": 40, "per_phase": {"step": 40},
                 "site": {"crate": "models", "file": "models/src/m.rs", "line": 5, "function": null}}
            ]},
            "capture": {"failing_call": {"api": "cuStreamIsCapturing",
                "site": {"crate": "runtime_probe", "file": "runtime-probe/src/toy.rs", "line": 227, "function": "f"}},
                "syncs_during_capture": [], "capture_errors": [], "silent_syncs": []}
        });
        let (sites, unattributed) = runtime_sites(&report);
        assert_eq!(unattributed, 7);
        assert_eq!(sites.len(), 2);
        assert_eq!((sites[0].file.as_str(), sites[0].calls), ("models/src/m.rs", 40), "most calls first");
        let toy = &sites[1];
        assert_eq!((toy.line, toy.calls), (227, 37));
        assert_eq!(toy.per_phase, [("setup".to_string(), 1), ("step".to_string(), 36)].into());
        assert_eq!(toy.apis, ["cuMemcpyDtoHAsync_v2", "cuMemcpyHtoDAsync_v2", "cuStreamIsCapturing"]);
        assert_eq!(toy.seen_in, ["eager", "failing_call"]);
    }

    #[test]
    fn sources_are_found_under_the_given_root_or_said_to_be_missing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("models/src")).unwrap();
        std::fs::write(dir.path().join("models/Cargo.toml"), "[package]\nname = \"models\"\n").unwrap();
        std::fs::write(dir.path().join("models/src/a.rs"), "fn f() {}\n").unwrap();
        let locator = SourceLocator::new(Some(dir.path()));
        let (path, root) = locator.locate("models/src/a.rs").unwrap();
        let root = root.unwrap();
        assert_eq!(path, root.join("models/src/a.rs"));
        assert_eq!(analysis_dir(&path), root.join("models/src"));
        let err = locator.locate("models/src/b.rs").unwrap_err();
        assert!(err.contains("not found under --source-root"), "{err}");
        assert!(locator.locate("/nonexistent/x.rs").unwrap_err().contains("does not exist on this machine"));
    }
}
