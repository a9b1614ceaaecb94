//! `probe exec --static-check`: graphlint's engine, in process, on the Python sources the reported
//! lines name, joined with what the run did. Each runtime sync line is `confirmed` (a hot finding
//! there), `cold`, `suppressed` (with the directive's reason) or `missed`; each hot finding inside a
//! function the program executed whose line never synced is `not observed`. The matching of a line
//! to findings is `crosscheck`'s, shared with `probe run --static-check`.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use graphlint::diagnostic::{Diagnostic, Heat};
use graphlint::settings::{RootPatterns, Settings};
use serde::Serialize;

use super::analyze::Analysis;
use super::findings::duration;
use crate::phases::static_check::{self as crosscheck, Finding, RuntimeSite, SiteCheck, SiteStatus};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExecStaticCheck {
    /// What graphlint analysed: each reported file's top-level package, or the file alone.
    pub analyzed: Vec<String>,
    pub hot_patterns: Vec<String>,
    pub files_checked: usize,
    pub lines: Vec<SiteCheck>,
    /// Hot findings in functions the program executed (seen on a traced stack) whose line never
    /// synced: the run took the function but not a sync there (or the sync did not happen on this
    /// torch version, or on this input).
    pub not_observed: Vec<Finding>,
    pub summary: BTreeMap<&'static str, usize>,
    pub notes: Vec<String>,
}

/// The outermost directory of the Python package holding `file` (the last ancestor with an
/// `__init__.py`), or the file itself when it is a plain script.
fn analysis_target(file: &Path) -> PathBuf {
    let mut target = file.to_path_buf();
    for dir in file.ancestors().skip(1) {
        if dir.join("__init__.py").is_file() {
            target = dir.to_path_buf();
        } else {
            break;
        }
    }
    target
}

fn finding_of(d: &Diagnostic) -> Finding {
    crosscheck::finding_with_paths(d, canonical, str::to_string)
}

fn canonical(path: &Path) -> String {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()).to_string_lossy().into_owned()
}

/// Runs graphlint on the Python files of `analysis`'s reported lines and joins.
pub fn check(analysis: &Analysis) -> ExecStaticCheck {
    let mut notes = Vec::new();
    let mut sites = Vec::new();
    let mut unavailable: HashMap<String, String> = HashMap::new();
    for line in analysis.lines.iter().filter(|l| l.site.kind == "python") {
        let file = canonical(Path::new(&line.site.file));
        if !Path::new(&file).is_file() {
            unavailable.insert(file.clone(), format!("cannot read {}: not on this machine", line.site.file));
        }
        let per_phase: BTreeMap<String, u64> =
            [("step", line.in_steps), ("warmup", line.warmup), ("outside_steps", line.outside_steps)]
                .into_iter()
                .filter(|(_, n)| *n > 0)
                .map(|(k, n)| (k.to_string(), n as u64))
                .collect();
        sites.push(RuntimeSite {
            file,
            line: line.site.line,
            crate_name: String::new(),
            function: line.site.function.clone(),
            classes: line
                .classes
                .iter()
                .map(|c| serde_json::to_value(c).unwrap().as_str().unwrap_or("").to_string())
                .collect(),
            apis: line.apis.clone(),
            calls: line.calls as u64,
            per_phase,
            seen_in: vec![if line.in_capture > 0 { "capture" } else { "run" }.to_string()],
        });
    }
    let native = analysis.lines.iter().filter(|l| l.site.kind == "native").count();
    if native > 0 {
        notes.push(format!("{native} native lines not checked: --static-check of probe exec reads Python sources"));
    }
    let mut targets: Vec<PathBuf> = sites
        .iter()
        .filter(|s| !unavailable.contains_key(&s.file))
        .map(|s| analysis_target(Path::new(&s.file)))
        .collect();
    targets.sort();
    targets.dedup();
    let outer = targets.clone();
    targets.retain(|t| !outer.iter().any(|o| o != t && t.starts_with(o)));

    let hot_patterns: Vec<String> = analysis.steps.function.iter().cloned().collect();
    let settings = Settings {
        all_paths: true,
        keep_suppressed: true,
        roots: RootPatterns { hot: hot_patterns.clone(), ..RootPatterns::default() },
        ..Settings::default()
    };
    let mut by_file: BTreeMap<String, Vec<Finding>> = BTreeMap::new();
    let mut files_checked = 0;
    if !targets.is_empty() {
        match graphlint::engine::run(&targets, &settings) {
            Ok(result) => {
                files_checked = result.files_checked;
                notes.extend(result.warnings.iter().map(|w| format!("graphlint: {w}")));
                for d in result.diagnostics.iter().filter(|d| d.rule.code != graphlint::meta::UNUSED_SUPPRESSION.code) {
                    if matches!(d.heat, Heat::File) {
                        let key = canonical(&d.file);
                        unavailable.insert(key, format!("graphlint could not analyse it: {} {}", d.code(), d.message));
                        continue;
                    }
                    let f = finding_of(d);
                    by_file.entry(f.file.clone()).or_default().push(f);
                }
            }
            Err(e) => {
                notes.push(format!("graphlint failed: {e}"));
                for s in &sites {
                    unavailable.entry(s.file.clone()).or_insert_with(|| format!("graphlint failed: {e}"));
                }
            }
        }
    }
    let (lines, static_only) = crosscheck::cross_check(&sites, &by_file, &unavailable);
    let executed = |f: &Finding| {
        f.chain.last().is_some_and(|holder| {
            let file = canonical(Path::new(&holder.file));
            analysis
                .executed
                .iter()
                .any(|(ef, function)| canonical(Path::new(ef)) == file && *function == holder.function)
        })
    };
    let not_observed: Vec<Finding> = static_only.into_iter().filter(|f| executed(f)).collect();
    let mut summary: BTreeMap<&'static str, usize> = BTreeMap::new();
    for l in &lines {
        *summary.entry(status_name(l.status)).or_default() += 1;
    }
    summary.insert("not_observed", not_observed.len());
    ExecStaticCheck {
        analyzed: targets.iter().map(|t| t.display().to_string()).collect(),
        hot_patterns,
        files_checked,
        lines,
        not_observed,
        summary,
        notes,
    }
}

pub fn status_name(s: SiteStatus) -> &'static str {
    match s {
        SiteStatus::Confirmed => "confirmed",
        SiteStatus::Suppressed => "suppressed",
        SiteStatus::Cold => "cold",
        SiteStatus::Missed => "missed",
        SiteStatus::SourceUnavailable => "source_unavailable",
    }
}

fn short(path: &str) -> String {
    // site-packages paths are long; what follows it is the readable part.
    path.rsplit_once("-packages/").map_or(path, |(_, rest)| rest).to_string()
}

fn finding_text(f: &Finding) -> String {
    match (f.suppressed, &f.suppression_reason) {
        (true, Some(reason)) => format!("{} suppressed: \"{reason}\"", f.code),
        (true, None) => format!("{} suppressed (no reason given)", f.code),
        (false, _) => format!("{} {}{}", f.code, f.name, if f.hot { "" } else { " (cold)" }),
    }
}

/// The join as a table.
pub fn render(c: &ExecStaticCheck, analysis: &Analysis) -> String {
    let mut o = String::new();
    let analyzed = if c.analyzed.is_empty() {
        "nothing".to_string()
    } else {
        c.analyzed.iter().map(|a| short(a)).collect::<Vec<_>>().join(", ")
    };
    let _ = writeln!(o, "\nstatic check: graphlint on {analyzed} ({} files)", c.files_checked);
    if !c.lines.is_empty() {
        let _ = writeln!(
            o,
            "  {:<11} {:<48} {:>7} {:>9} {:>10}  graphlint",
            "verdict", "runtime sync line", "calls", "per step", "waited"
        );
    }
    for l in &c.lines {
        let summary = analysis
            .lines
            .iter()
            .find(|s| s.site.line == l.site.line && canonical(Path::new(&s.site.file)) == l.site.file);
        let per_step = summary.and_then(|s| s.per_step).map_or("-".to_string(), |p| format!("{p:.1}"));
        let waited = summary.map_or("-".to_string(), |s| duration(s.wait_total_ns));
        let static_side = if l.findings.is_empty() {
            l.detail.clone().unwrap_or_else(|| "no finding on this line".into())
        } else {
            l.findings.iter().map(finding_text).collect::<Vec<_>>().join("; ")
        };
        let _ = writeln!(
            o,
            "  {:<11} {:<48} {:>7} {:>9} {:>10}  {static_side}",
            status_name(l.status).to_uppercase(),
            format!("{}:{}", short(&l.site.file), l.site.line),
            l.site.calls,
            per_step,
            waited
        );
    }
    if !c.not_observed.is_empty() {
        let _ = writeln!(o, "  not observed (hot findings in functions that ran, whose lines never synced):");
        for f in &c.not_observed {
            let _ = writeln!(
                o,
                "  {:<11} {:<48} {}",
                "NOT SEEN",
                format!("{}:{}", short(&f.file), f.line),
                finding_text(f)
            );
        }
    }
    let counts: Vec<String> = c.summary.iter().map(|(k, v)| format!("{v} {k}")).collect();
    let _ = writeln!(o, "  summary: {}", counts.join(", "));
    for n in &c.notes {
        let _ = writeln!(o, "  note: {n}");
    }
    o
}
