//! `probe exec [OPTIONS] -- PROGRAM [ARGS...]`: runs any CUDA program unchanged with the injection
//! library (runtime-probe/inject) loaded through `CUDA_INJECTION64_PATH`, then reports every host
//! sync at its Python (or native) line, per step and per line, with the host's wait, the captures,
//! and with `--static-check` graphlint's verdict on the same lines.
//!
//! Layout: `trace` (reading the injection's records) → `frames` (the reported frame) → `analyze`
//! (steps, lines, captures) → `findings` (the RT codes, graphlint's formats) and `static_check`
//! (the join) → this module (running the program, the report, exit codes).
//!
//! Exit status: 0 traced and nothing synced where it counts (inside the counted steps with
//! `--step`, anywhere without), 1 syncs or capture failures were found, 2 no verdict: the program
//! could not be run, was not traced, exited non-zero or was killed (what was traced is still
//! printed and written). The program's own status is in the report's `program` section.

pub mod analyze;
pub mod findings;
pub mod frames;
pub mod static_check;
pub mod trace;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Args;
use graphlint::output::{self, OutputFormat, Style};
use serde::Serialize;

use crate::ProbeError;
use analyze::{Analysis, Options};
use static_check::ExecStaticCheck;

const STEP_HOOK: &str = include_str!("sitecustomize.py");

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Full,
    Concise,
    Json,
    Sarif,
    Github,
}

#[derive(Debug, Clone, Args)]
pub struct ExecArgs {
    /// Each call of this Python function is a step (`package.module:Class.method`); syncs are
    /// counted per step. Without it, per process.
    #[arg(long, value_name = "MODULE:QUALNAME")]
    pub step: Option<String>,
    /// Leave the first N steps (warm-up) out of the counts.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub skip: usize,
    /// Write the JSON report here (schema: runtime-probe/REPORT.md, "probe exec").
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "full")]
    pub output_format: Format,
    /// Run graphlint on the Python files of the reported lines and say, line by line, whether it
    /// flags them.
    #[arg(long)]
    pub static_check: bool,
    /// A package whose frames are never reported (its caller's line is); repeatable. PyTorch,
    /// Triton and the standard library always are.
    #[arg(long = "internal", value_name = "PACKAGE")]
    pub internal: Vec<String>,
    /// Keep the raw trace files (one JSON line per event, one file per process) in this folder.
    #[arg(long, value_name = "DIR")]
    pub trace_dir: Option<PathBuf>,
    /// The injection library; default: libprobe_inject.so beside this binary (or $PROBE_INJECT).
    #[arg(long, value_name = "FILE")]
    pub inject: Option<PathBuf>,
    /// The program and its arguments.
    #[arg(required = true, last = true, value_name = "PROGRAM")]
    pub program: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProgramStatus {
    pub argv: Vec<String>,
    /// `exited` or `killed`.
    pub status: &'static str,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// `ok`, `fail`, or `incomplete` (no verdict: see `reasons`).
    pub status: &'static str,
    pub exit_code: i32,
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExecReport {
    pub schema: &'static str,
    pub probe: serde_json::Value,
    pub program: ProgramStatus,
    #[serde(flatten)]
    pub analysis: Analysis,
    /// The findings, in graphlint's `--output-format json` shape with the RT codes.
    pub findings: serde_json::Value,
    pub static_check: Option<ExecStaticCheck>,
    pub verdict: Verdict,
    pub notes: Vec<String>,
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        6 => "SIGABRT",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        15 => "SIGTERM",
        _ => "a signal",
    }
}

/// The findings that count for the verdict and are printed: with `--step`, lines that synced in a
/// counted step and every capture problem; without, all.
pub fn reported_diagnostics(analysis: &Analysis) -> Vec<graphlint::diagnostic::Diagnostic> {
    let counted = |d: &graphlint::diagnostic::Diagnostic| {
        analysis.steps.function.is_none()
            || d.rule.code.starts_with("RT9")
            || analysis
                .lines
                .iter()
                .any(|l| l.in_steps > 0 && Path::new(&l.site.file) == d.file && l.site.line == d.start.row)
    };
    findings::diagnostics(analysis).into_iter().filter(counted).collect()
}

/// Builds the report from the traces (the pure part of `probe exec`, tested on recorded traces).
pub fn build_report(
    traces: &[trace::ProcessTrace],
    options: &Options,
    program: ProgramStatus,
    run_static_check: bool,
) -> ExecReport {
    let analysis = analyze::analyze(traces, options);
    let diagnostics = reported_diagnostics(&analysis);
    let mut json = Vec::new();
    output::write_diagnostics(&mut json, &diagnostics, OutputFormat::Json, Style::default())
        .expect("writing to memory");
    let findings = serde_json::from_slice(&json).expect("graphlint writes JSON");
    let static_check = run_static_check.then(|| static_check::check(&analysis));

    let mut reasons = Vec::new();
    let mut notes = Vec::new();
    match (program.exit_code, program.signal) {
        (Some(0), _) => {}
        (Some(code), _) => reasons.push(format!("the program exited with status {code}")),
        (None, Some(sig)) => reasons.push(format!(
            "the program was killed by {} ({sig}); the report holds what was traced until then",
            signal_name(sig)
        )),
        (None, None) => reasons.push("the program's status is unknown".into()),
    }
    for p in &analysis.processes {
        if let Some(why) = &p.not_traced {
            reasons.push(format!("process {} was not traced: {why}", p.pid));
        }
        if !p.complete && program.exit_code == Some(0) {
            notes.push(format!("process {} left no exit record: it ended without running its exit handlers", p.pid));
        }
    }
    if analysis.processes.len() > 1 {
        notes.push(format!(
            "{} processes traced (children that made CUDA calls each wrote a trace; children that made none left nothing)",
            analysis.processes.len()
        ));
    }
    if let Some(step) = &analysis.steps.function {
        if analysis.steps.seen == 0 {
            reasons.push(format!(
                "no call of the step function {step} was seen (is it the right MODULE:QUALNAME, and Python 3.10+?)"
            ));
        } else if analysis.steps.counted == 0 {
            reasons.push(format!("all {} steps were skipped (--skip {})", analysis.steps.seen, options.skip));
        }
    }
    if analysis.unattributed.calls > 0 {
        notes.push(format!(
            "{} syncs had no reportable frame (only internals on the stack, or no line tables): {}",
            analysis.unattributed.calls,
            analysis.unattributed.apis.join(", ")
        ));
    }
    let verdict = if !reasons.is_empty() {
        Verdict { status: "incomplete", exit_code: 2, reasons }
    } else if diagnostics.is_empty() {
        Verdict { status: "ok", exit_code: 0, reasons }
    } else {
        let lines = diagnostics.iter().filter(|d| !d.rule.code.starts_with("RT9")).count();
        let captures = diagnostics.len() - lines;
        let mut reasons = Vec::new();
        if lines > 0 {
            reasons.push(format!(
                "{lines} sync findings{}",
                if options.step.is_some() { " inside the counted steps" } else { "" }
            ));
        }
        if captures > 0 {
            reasons.push(format!("{captures} capture findings"));
        }
        Verdict { status: "fail", exit_code: 1, reasons }
    };
    ExecReport {
        schema: "probe-exec/1",
        probe: serde_json::json!({"version": env!("CARGO_PKG_VERSION"), "commit": env!("PROBE_GIT_COMMIT")}),
        program,
        analysis,
        findings,
        static_check,
        verdict,
        notes,
    }
}

/// The per-line table and the step and capture lines, for people.
pub fn render_summary(report: &ExecReport) -> String {
    let a = &report.analysis;
    let mut o = String::new();
    let steps = match &a.steps.function {
        Some(f) => {
            format!("; {} steps of {f} ({} counted, {} skipped)", a.steps.seen, a.steps.counted, a.steps.skipped)
        }
        None => String::new(),
    };
    let pids: Vec<String> = a.processes.iter().map(|p| p.pid.to_string()).collect();
    let _ = writeln!(o, "probe exec: {} (pid {}){steps}", report.program.argv.join(" "), pids.join(", "));
    if !a.lines.is_empty() {
        let _ =
            writeln!(o, "  {:<52} {:>7} {:>9} {:>11} {:>10}  api", "sync line", "calls", "per step", "waited", "p50");
    }
    for l in &a.lines {
        let file = l.site.file.rsplit_once("-packages/").map_or(l.site.file.as_str(), |(_, r)| r);
        let _ = writeln!(
            o,
            "  {:<52} {:>7} {:>9} {:>11} {:>10}  {}",
            format!("{file}:{}", l.site.line),
            l.calls,
            l.per_step.map_or("-".to_string(), |p| format!("{p:.2}")),
            findings::duration(l.wait_total_ns),
            findings::duration(l.wait_p50_ns),
            l.apis.join(", ")
        );
    }
    for c in &a.captures {
        let at = c.site.as_ref().map_or("?".to_string(), |s| format!("{}:{}", s.file, s.line));
        let _ = writeln!(o, "  capture {} at {at}: {}, {} sync-class calls inside", c.id, c.status, c.syncs.len());
    }
    if let Some(sc) = &report.static_check {
        o.push_str(&static_check::render(sc, a));
    }
    for n in &report.notes {
        let _ = writeln!(o, "  note: {n}");
    }
    let _ = writeln!(
        o,
        "verdict: {} ({}); program: {}",
        report.verdict.status.to_uppercase(),
        if report.verdict.reasons.is_empty() {
            "no sync where it counts".to_string()
        } else {
            report.verdict.reasons.join("; ")
        },
        match (report.program.exit_code, report.program.signal) {
            (Some(c), _) => format!("exit status {c}"),
            (None, Some(s)) => format!("killed by {} ({s})", signal_name(s)),
            _ => "unknown".into(),
        }
    );
    o
}

fn usage(message: String) -> ProbeError {
    ProbeError::Usage(message)
}

/// The injection library: `--inject`, `$PROBE_INJECT`, or beside this binary.
fn injection_library(args: &ExecArgs) -> Result<PathBuf, ProbeError> {
    let path = match (&args.inject, std::env::var_os("PROBE_INJECT")) {
        (Some(p), _) => p.clone(),
        (None, Some(p)) => PathBuf::from(p),
        (None, None) => std::env::current_exe()
            .map_err(|e| usage(format!("cannot locate this binary: {e}")))?
            .with_file_name("libprobe_inject.so"),
    };
    if !path.is_file() {
        return Err(usage(format!(
            "the injection library {} does not exist (build it with `cargo build --release -p probe-inject`, or pass --inject)",
            path.display()
        )));
    }
    std::fs::canonicalize(&path).map_err(|e| usage(format!("{}: {e}", path.display())))
}

/// Fails unless the CUDA driver can be loaded: without it nothing can be traced.
fn check_driver() -> Result<(), ProbeError> {
    let name = std::env::var("PROBE_EXEC_LIBCUDA").unwrap_or_else(|_| "libcuda.so.1".into());
    // SAFETY: loading the driver library runs its initialisers only; it is unloaded at once.
    match unsafe { libloading::Library::new(&name) } {
        Ok(_) => Ok(()),
        Err(e) => Err(ProbeError::NoDevice {
            message: format!("no CUDA driver: {name} cannot be loaded ({e})"),
            hint: "probe exec traces CUDA programs: run it on a machine with an NVIDIA driver".into(),
        }),
    }
}

/// `PROGRAM` as the shell would find it.
fn resolve_program(program: &str) -> Result<PathBuf, ProbeError> {
    let found = if program.contains('/') {
        Some(PathBuf::from(program)).filter(|p| p.is_file())
    } else {
        std::env::var_os("PATH")
            .map(|paths| std::env::split_paths(&paths).map(|d| d.join(program)).find(|p| p.is_file()))
            .unwrap_or(None)
    };
    found.ok_or_else(|| usage(format!("program not found: {program}")))
}

/// Writes `text` to `path` whole or not at all (a temporary file beside it, then a rename).
fn write_atomically(path: &Path, text: &str) -> Result<(), ProbeError> {
    let err = |e: std::io::Error| ProbeError::Output { path: path.display().to_string(), message: e.to_string() };
    let tmp = path.with_file_name(format!(".{}.tmp", path.file_name().and_then(|n| n.to_str()).unwrap_or("report")));
    std::fs::write(&tmp, text).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        err(e)
    })
}

/// A fresh private folder for the trace files.
fn scratch_dir() -> Result<PathBuf, ProbeError> {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!("probe-exec-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| usage(format!("cannot create {}: {e}", dir.display())))?;
    Ok(dir)
}

/// Runs `probe exec`; returns the exit status.
pub fn run(args: &ExecArgs) -> Result<i32, ProbeError> {
    use std::os::unix::process::ExitStatusExt;

    let inject = injection_library(args)?;
    check_driver()?;
    let program = resolve_program(&args.program[0])?;
    if let Some(step) = &args.step {
        if !step.contains(':') {
            return Err(usage(format!(
                "--step {step}: expected MODULE:QUALNAME (e.g. toto.model.backbone:TotoBackbone.forward)"
            )));
        }
    }
    if let Some(dir) =
        args.report.as_deref().and_then(Path::parent).filter(|d| !d.as_os_str().is_empty() && !d.is_dir())
    {
        return Err(usage(format!("--report: the folder {} does not exist", dir.display())));
    }
    let (dir, keep) = match &args.trace_dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| usage(format!("--trace-dir {}: {e}", d.display())))?;
            if std::fs::read_dir(d).map(|mut e| e.next().is_some()).unwrap_or(false) {
                return Err(usage(format!("--trace-dir {}: not empty", d.display())));
            }
            (std::fs::canonicalize(d).map_err(|e| usage(e.to_string()))?, true)
        }
        None => (scratch_dir()?, false),
    };
    let mut command = Command::new(&program);
    command
        .args(&args.program[1..])
        .env("CUDA_INJECTION64_PATH", &inject)
        .env("PROBE_INJECT", &inject)
        .env("PROBE_TRACE_DIR", &dir);
    if let Some(step) = &args.step {
        let hook = dir.join("step-hook");
        std::fs::create_dir_all(&hook)
            .and_then(|()| std::fs::write(hook.join("sitecustomize.py"), STEP_HOOK))
            .map_err(|e| usage(format!("cannot write the step hook: {e}")))?;
        let mut path = vec![hook];
        path.extend(
            std::env::var_os("PYTHONPATH").map(|p| std::env::split_paths(&p).collect::<Vec<_>>()).unwrap_or_default(),
        );
        command
            .env("PYTHONPATH", std::env::join_paths(path).map_err(|e| usage(e.to_string()))?)
            .env("PROBE_STEP", step);
    }
    let status = command.status().map_err(|e| usage(format!("cannot run {}: {e}", program.display())))?;
    let program_status = ProgramStatus {
        argv: args.program.clone(),
        status: if status.code().is_some() { "exited" } else { "killed" },
        exit_code: status.code(),
        signal: status.signal(),
    };
    let traces = trace::read_dir(&dir);
    if !keep {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let traces = traces.map_err(usage)?;
    if traces.is_empty() {
        let how = match (status.code(), status.signal()) {
            (Some(c), _) => format!("exited with status {c}"),
            (None, Some(s)) => format!("was killed by {} ({s})", signal_name(s)),
            _ => "ended".into(),
        };
        return Err(usage(format!(
            "the program {how} without initialising CUDA: nothing was traced (does it use the GPU? is the CUDA driver the one it loads?)"
        )));
    }
    let options = Options { step: args.step.clone(), skip: args.skip, internal: args.internal.clone() };
    let report = build_report(&traces, &options, program_status, args.static_check);
    let diagnostics = reported_diagnostics(&report.analysis);
    let format = match args.output_format {
        Format::Full => OutputFormat::Full,
        Format::Concise => OutputFormat::Concise,
        Format::Json => OutputFormat::Json,
        Format::Sarif => OutputFormat::Sarif,
        Format::Github => OutputFormat::Github,
    };
    let mut out = Vec::new();
    output::write_diagnostics(&mut out, &diagnostics, format, Style::default())
        .map_err(|e| ProbeError::Output { path: "stdout".into(), message: e.to_string() })?;
    let summary = render_summary(&report);
    if format.is_human() {
        out.extend_from_slice(summary.as_bytes());
    } else {
        // Machine formats keep stdout parseable; people still get the table.
        eprint!("{summary}");
    }
    if let Some(path) = &args.report {
        let json = serde_json::to_string_pretty(&report).expect("the report serialises");
        write_atomically(path, &(json + "\n"))?;
    }
    use std::io::Write as _;
    let _ = std::io::stdout().write_all(&out);
    if report.verdict.exit_code == 2 {
        eprintln!("probe: error: no verdict: {}", report.verdict.reasons.join("; "));
    }
    Ok(report.verdict.exit_code)
}
