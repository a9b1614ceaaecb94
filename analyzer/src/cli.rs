//! The `graphlint` command line.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{ConfigMode, Overrides, Resolver};
use crate::discovery::{find_project_root, RootMarker};
use crate::engine::{RunError, RunOptions};
use crate::frontend::NOTE_PREFIX;
use crate::output::{self, OutputFormat, Style};
use crate::registry;
use crate::settings::{validate_selector, SelectionLayer};
use crate::source::{LineIndex, Overlay};

#[derive(Debug, Parser)]
#[command(
    name = "graphlint",
    version,
    about = "Finds host-device syncs (.item(), int(t), .cpu(), if t:, to_scalar() ...) in the hot paths of PyTorch and candle code",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    check: CheckArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check files or directories (what `graphlint PATH...` does too).
    Check(Box<CheckArgs>),
    /// Print a rule's documentation, or list every rule.
    Rule {
        /// A rule code or name, e.g. GL201 or item-call.
        #[arg(required_unless_present = "all")]
        code: Option<String>,
        /// List every rule.
        #[arg(long, conflicts_with = "code")]
        all: bool,
        /// With `--all`: print the rules as a markdown table (the README's).
        #[arg(long, requires = "all")]
        markdown: bool,
    },
    /// Run the language server (LSP over stdio) that editors start.
    Server,
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// Files or directories to check; `-` reads one file's text from stdin (name it with
    /// `--stdin-filename`).
    #[arg(default_value = ".")]
    paths: Vec<PathBuf>,
    /// The path of the text read from stdin (`-`): its language, its configuration and its place
    /// in the project come from it, and the text replaces that file's contents on disk.
    #[arg(long, value_name = "PATH")]
    stdin_filename: Option<PathBuf>,
    /// Rule codes or prefixes to enable, replacing the configuration's `select`, e.g.
    /// `--select GL2,GL301`.
    #[arg(long, value_delimiter = ',', value_name = "CODES")]
    select: Vec<String>,
    /// Rule codes or prefixes to enable on top of the configuration's selection.
    #[arg(long, value_delimiter = ',', value_name = "CODES")]
    extend_select: Vec<String>,
    /// Rule codes or prefixes to disable.
    #[arg(long, value_delimiter = ',', value_name = "CODES")]
    ignore: Vec<String>,
    #[arg(long, value_enum, default_value_t = FormatArg::Full)]
    output_format: FormatArg,
    /// Colour in the output: `auto` when writing to a terminal (and `NO_COLOR` is unset).
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    color: ColorArg,
    /// Print the number of findings per rule instead of the findings.
    #[arg(long)]
    statistics: bool,
    /// Exit with 0 even when there are findings.
    #[arg(long)]
    exit_zero: bool,
    /// Print findings only: no summary line, no warnings.
    #[arg(short, long)]
    quiet: bool,
    /// Also print notes on stderr (e.g. a file partly read a slower way).
    #[arg(short, long, conflicts_with = "quiet")]
    verbose: bool,
    /// Also report findings outside hot paths (marked cold).
    #[arg(long)]
    all_paths: bool,
    /// Extra hot-path roots: `pkg.module:Class.method`, or a glob on qualified names such as
    /// `*.generate*`. Repeatable; added to the configuration's `hot`.
    #[arg(long, value_name = "PATTERN")]
    hot: Vec<String>,
    /// List every hot function (and decode loop / graph block) with the chain that makes it
    /// hot, instead of the findings.
    #[arg(long)]
    show_hot: bool,
    /// Use this configuration file for every checked file (a `graphlint.toml`, or a
    /// `pyproject.toml` with a `[tool.graphlint]` table), instead of finding the nearest one.
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Read no configuration file.
    #[arg(long, conflicts_with = "config")]
    isolated: bool,
    /// Apply `exclude` and the default exclusions to paths named on the command line too
    /// (for pre-commit, which names every file).
    #[arg(long)]
    force_exclude: bool,
    /// Analyse every file under DIR for hot paths and report the named paths only, so that a
    /// file's verdict is the one a run over DIR gives it. Without it, the directory of the
    /// outermost configuration file above the paths (inside their repository) is used this way.
    #[arg(long, value_name = "DIR")]
    project_root: Option<PathBuf>,
    /// Find the project of the paths even without a configuration file: the repository root
    /// (`.git`, `.hg`), else the paths' common directory. What the pre-commit hook uses.
    #[arg(long, overrides_with = "no_project_context")]
    project_context: bool,
    /// Analyse the named paths alone, as if nothing else existed.
    #[arg(long, conflicts_with = "project_root")]
    no_project_context: bool,
    /// Neither read nor write the cache of per-file results.
    #[arg(long)]
    no_cache: bool,
    /// Keep the cache of per-file results here (also `$GRAPHLINT_CACHE_DIR`) instead of
    /// `.graphlint_cache` at the project root: the outermost configuration's directory (or
    /// `--project-root`, or the root `--project-context` finds), else the current directory.
    #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
    cache_dir: Option<PathBuf>,
    /// Write a `graphlint: ignore[CODE]` comment for every current finding, then exit.
    #[arg(long, conflicts_with_all = ["statistics", "show_hot"])]
    add_suppressions: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ColorArg {
    Auto,
    Always,
    Never,
}

impl ColorArg {
    /// Whether to colour what goes to a stream that is (`terminal`) or is not a terminal.
    fn enabled(self, terminal: bool) -> bool {
        match self {
            ColorArg::Always => true,
            ColorArg::Never => false,
            ColorArg::Auto => terminal && std::env::var_os("NO_COLOR").is_none(),
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    Full,
    Concise,
    Json,
    JsonLines,
    Sarif,
    Github,
}

/// Runs the CLI; the exit code is 0 (no findings), 1 (findings) or 2 (usage or internal error).
pub fn main() -> ExitCode {
    // Bugs are reported as `graphlint: error: ...` with exit code 2, never with a backtrace.
    std::panic::set_hook(Box::new(|_| {}));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { 2 } else { 0 });
        }
    };
    match std::panic::catch_unwind(|| run(cli)) {
        Ok(code) => code,
        Err(_) => {
            eprintln!("graphlint: error: internal error (please report it)");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Some(Command::Rule { code, all, markdown }) => rule_command(code.as_deref(), all, markdown),
        Some(Command::Check(args)) => check_command(*args),
        Some(Command::Server) => crate::server::run_stdio(),
        None => check_command(cli.check),
    }
}

fn rule_command(code: Option<&str>, all: bool, markdown: bool) -> ExitCode {
    let mut out = std::io::stdout().lock();
    if markdown {
        let _ = out.write_all(registry::markdown_table().as_bytes());
        return ExitCode::SUCCESS;
    }
    if all {
        let mut family = None;
        for rule in registry::RULES.iter() {
            if family != Some(rule.family) {
                family = Some(rule.family);
                let _ = writeln!(out, "\n{}", rule.family.title());
            }
            let _ = writeln!(out, "  {}  {:<28} {}", rule.code, rule.name, rule.summary());
        }
        return ExitCode::SUCCESS;
    }
    let code = code.unwrap_or_default();
    match registry::by_code_or_name(code) {
        Some(rule) => {
            let _ = writeln!(
                out,
                "# {} ({})\n\nFamily: {}. Language: {}.\n\n{}",
                rule.name,
                rule.code,
                rule.family.title(),
                rule.language_name(),
                rule.doc()
            );
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("graphlint: error: unknown rule `{code}` (see `graphlint rule --all`)");
            ExitCode::from(2)
        }
    }
}

fn check_command(args: CheckArgs) -> ExitCode {
    let color = args.color.enabled(std::io::stderr().is_terminal());
    for selector in args.select.iter().chain(&args.extend_select).chain(&args.ignore) {
        if let Err(unknown) = validate_selector(selector) {
            eprintln!("graphlint: error: {unknown}");
            return ExitCode::from(2);
        }
    }
    let overrides = Overrides {
        selection: SelectionLayer {
            select: (!args.select.is_empty()).then(|| args.select.clone()),
            extend_select: args.extend_select.clone(),
            ignore: args.ignore.clone(),
        },
        all_paths: args.all_paths,
        hot: args.hot.clone(),
    };
    let mode = match (&args.config, args.isolated) {
        (Some(path), _) => ConfigMode::File(path.clone()),
        (None, true) => ConfigMode::Isolated,
        (None, false) => ConfigMode::Discover,
    };
    let (paths, overlay) = match stdin_overlay(&args) {
        Ok(Some((path, overlay))) => (vec![path], Some(Arc::new(overlay))),
        Ok(None) => (args.paths.clone(), None),
        Err(message) => {
            eprintln!("graphlint: error: {message}");
            return ExitCode::from(2);
        }
    };
    let project_root = match project_root(&args, &mode, &paths) {
        Ok(root) => root,
        Err(message) => {
            eprintln!("graphlint: error: {message}");
            return ExitCode::from(2);
        }
    };
    let options = RunOptions {
        project_root: project_root.clone(),
        list_hot: args.show_hot,
        force_exclude: args.force_exclude,
        fingerprint_files: args.add_suppressions,
        keep_suppressed: false,
        overlay: overlay.clone(),
        cache_dir: (!args.no_cache).then(|| cache_dir(&args, &mode, &paths, project_root.as_deref())),
        exits_after: true,
    };
    let result = Resolver::new(mode, overrides)
        .map_err(RunError::Config)
        .and_then(|resolver| crate::engine::check(&paths, &resolver, options));
    let result = match result {
        Ok(result) => result,
        Err(RunError::Config(err)) => {
            eprint!("graphlint: error: invalid configuration\n{}", err.render(color));
            return ExitCode::from(2);
        }
        Err(RunError::Message(message)) => {
            eprintln!("graphlint: error: {message}");
            return ExitCode::from(2);
        }
    };
    if !args.quiet {
        for warning in &result.warnings {
            match warning.strip_prefix(NOTE_PREFIX) {
                Some(note) if args.verbose => eprintln!("graphlint: note: {note}"),
                Some(_) => {}
                None => eprintln!("graphlint: warning: {warning}"),
            }
        }
    } else if result.internal_error {
        for warning in result.warnings.iter().filter(|w| w.starts_with("internal error")) {
            eprintln!("graphlint: error: {warning}");
        }
    }

    if args.add_suppressions {
        return add_suppressions_command(&result);
    }
    let format = match args.output_format {
        FormatArg::Full => OutputFormat::Full,
        FormatArg::Concise => OutputFormat::Concise,
        FormatArg::Json => OutputFormat::Json,
        FormatArg::JsonLines => OutputFormat::JsonLines,
        FormatArg::Sarif => OutputFormat::Sarif,
        FormatArg::Github => OutputFormat::Github,
    };
    let stdout = std::io::stdout();
    let color = args.color.enabled(stdout.is_terminal());
    let mut out = std::io::BufWriter::new(stdout.lock());
    if args.show_hot {
        for hot in &result.hot_functions {
            let Some(last) = hot.chain.last() else { continue };
            let chain: Vec<String> =
                hot.chain.iter().map(|l| format!("{} ({}:{})", l.function, l.filename, l.row)).collect();
            let _ = writeln!(
                out,
                "{}:{}: {}\n    root: {}\n    chain: {}",
                last.filename,
                last.row,
                last.function,
                hot.reason,
                chain.join(" → ")
            );
        }
        let _ = out.flush();
        return if result.internal_error { ExitCode::from(2) } else { ExitCode::SUCCESS };
    }
    let written = if args.statistics {
        output::write_statistics(&mut out, &result.diagnostics, format, !args.quiet)
    } else {
        let style = Style { color, overlay: overlay.as_deref(), ..Style::default() };
        output::write_diagnostics(&mut out, &result.diagnostics, format, style)
    };
    let summary =
        if args.quiet || !format.is_human() || args.statistics { Ok(()) } else { write_summary(&mut out, &result) };
    if let Err(err) = written.and(summary).and_then(|_| out.flush()) {
        if err.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("graphlint: error: cannot write output: {err}");
            return ExitCode::from(2);
        }
    }
    if result.internal_error || result.unreadable_paths > 0 {
        ExitCode::from(2)
    } else if result.diagnostics.is_empty() || args.exit_zero {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The project whose files are analysed as the context of `paths` (see `--project-root`), or
/// `None` to analyse the paths alone. Without a flag, a configuration file marks the project:
/// a repository alone does not, since it may hold several projects (this repository's fixtures
/// are dozens of them), and without a marker a run keeps meaning what it always did.
fn project_root(args: &CheckArgs, mode: &ConfigMode, paths: &[PathBuf]) -> Result<Option<PathBuf>, String> {
    if args.no_project_context {
        return Ok(None);
    }
    if let Some(dir) = &args.project_root {
        if !dir.is_dir() {
            return Err(format!("`--project-root {}` is not a directory", dir.display()));
        }
        return Ok(Some(dir.clone()));
    }
    let reads_configuration = *mode == ConfigMode::Discover;
    let (root, marker) = find_project_root(paths, &|dir| reads_configuration && crate::config::is_config_dir(dir));
    let wanted = args.project_context || marker == RootMarker::Configuration;
    // A run that names the root itself already analyses the whole project.
    let names_root = paths.iter().any(|path| crate::paths::absolute(path) == root);
    Ok((wanted && !names_root).then_some(root))
}

/// Where the cache of per-file results goes: `--cache-dir`, else [`crate::cache::dir_for`] the
/// project's root (`project_root`, else the outermost configuration's directory, else the
/// working directory).
fn cache_dir(args: &CheckArgs, mode: &ConfigMode, paths: &[PathBuf], project_root: Option<&Path>) -> PathBuf {
    if let Some(dir) = &args.cache_dir {
        return dir.clone();
    }
    let root = project_root.map(Path::to_path_buf).or_else(|| {
        let reads_configuration = *mode == ConfigMode::Discover;
        let (root, marker) = find_project_root(paths, &|dir| reads_configuration && crate::config::is_config_dir(dir));
        (marker == RootMarker::Configuration).then_some(root)
    });
    // Spelled from the working directory when it is below it, as paths are.
    let root = root.map_or_else(PathBuf::new, |root| {
        let absolute_root = crate::paths::absolute(&root);
        match crate::paths::current_dir().and_then(|cwd| absolute_root.strip_prefix(cwd).ok()) {
            Some(relative) => relative.to_path_buf(),
            None => root,
        }
    });
    crate::cache::dir_for(&root)
}

/// With `-` among the paths: the path `--stdin-filename` names, and an overlay that gives it the
/// text read from stdin. `None` when stdin is not read.
fn stdin_overlay(args: &CheckArgs) -> Result<Option<(PathBuf, Overlay)>, String> {
    let reads_stdin = args.paths.iter().any(|p| p == Path::new("-"));
    if !reads_stdin {
        return match &args.stdin_filename {
            Some(_) => Err("`--stdin-filename` names the text read from stdin: pass `-` as the path".into()),
            None => Ok(None),
        };
    }
    if args.paths.len() > 1 {
        return Err("`-` (stdin) cannot be combined with other paths".into());
    }
    if args.add_suppressions {
        return Err("`--add-suppressions` edits files on disk; it cannot suppress text read from stdin".into());
    }
    let Some(name) = args.stdin_filename.clone() else {
        return Err("reading stdin (`-`) needs `--stdin-filename PATH`: the path gives the text its language, \
                    its configuration and its place in the project"
            .into());
    };
    let mut bytes = Vec::new();
    std::io::stdin().lock().read_to_end(&mut bytes).map_err(|err| format!("cannot read stdin: {err}"))?;
    let text = String::from_utf8(bytes).map_err(|err| {
        let valid = &err.as_bytes()[..err.utf8_error().valid_up_to()];
        let row = LineIndex::new(std::str::from_utf8(valid).unwrap_or("")).row(valid.len());
        format!("stdin is not valid UTF-8 (invalid byte at line {row}); nothing was checked")
    })?;
    let mut overlay = Overlay::default();
    overlay.insert(&name, text);
    Ok(Some((name, overlay)))
}

/// `--add-suppressions`: exit 0 when every finding is now suppressed, 1 when some could not be
/// (each with a warning), 2 on an internal error.
fn add_suppressions_command(result: &crate::engine::RunResult) -> ExitCode {
    let report = crate::add_suppressions::add_suppressions(&result.diagnostics, &result.fingerprints);
    for warning in &report.warnings {
        eprintln!("graphlint: warning: {warning}");
    }
    let noun = if report.added == 1 { "suppression" } else { "suppressions" };
    let files = if report.files_changed == 1 { "file" } else { "files" };
    eprintln!("graphlint: added {} {noun} in {} {files}", report.added, report.files_changed);
    if result.internal_error {
        ExitCode::from(2)
    } else if report.not_suppressed > 0 {
        eprintln!("graphlint: {} finding(s) could not be suppressed (see the warnings above)", report.not_suppressed);
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn write_summary(out: &mut dyn Write, result: &crate::engine::RunResult) -> std::io::Result<()> {
    let plural = |n: usize, noun: &str| if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") };
    let checked = plural(result.files_checked, "file");
    // A partial run says how much it analysed besides what it reports.
    let project = result.project_files.map_or(String::new(), |n| format!(", {n} in project context"));
    // What the hot paths were looked for in.
    let searched = match result.project_files {
        Some(n) => format!("{} of the project", plural(n, "file")),
        None => format!("{checked} checked"),
    };
    // An internal error left a file unchecked: "all checks passed" would not be true.
    let unchecked = " Not every file could be checked: see the warnings above.";
    match result.diagnostics.len() {
        0 if result.internal_error => writeln!(out, "No findings in {checked}.{unchecked}"),
        // Nothing to analyse, or nothing hot: "all checks passed" would claim what was not checked.
        0 if result.files_checked == 0 => writeln!(out, "No Python or Rust files to check."),
        0 if result.roots == 0 && !result.all_paths => writeln!(
            out,
            "No findings on hot paths, but no root either: nothing in the {searched} is hot \
             (no nn.Module `forward`, decode loop, compiled or captured function). Name the \
             per-step entry points with `--hot`, or see every sync with `--all-paths`."
        ),
        0 => writeln!(out, "All checks passed ({checked} checked{project})."),
        n => {
            let hot = result.diagnostics.iter().filter(|d| d.is_hot()).count();
            let mut with_findings: Vec<&std::path::Path> =
                result.diagnostics.iter().map(|d| d.file.as_path()).collect();
            with_findings.sort();
            with_findings.dedup();
            let unchecked = if result.internal_error { unchecked } else { "" };
            writeln!(
                out,
                "Found {} in {} ({hot} on hot paths; {checked} checked{project}).{unchecked}",
                plural(n, "finding"),
                plural(with_findings.len(), "file"),
            )
        }
    }
}
