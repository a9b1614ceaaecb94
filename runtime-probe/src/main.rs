use std::process::ExitCode;

use clap::Parser;
use runtime_probe::cli::{Cli, Command, StaticCheckArgs};
use runtime_probe::phases::report;
use runtime_probe::phases::static_check::{self, SourceLocator};
use runtime_probe::{driver, plot, registry, ProbeError};

fn write_outputs(args: &runtime_probe::cli::RunArgs, outcome: &driver::Outcome) -> Result<(), ProbeError> {
    if let Some(path) = &args.report {
        let json = serde_json::to_string_pretty(&outcome.report).expect("the report serialises");
        std::fs::write(path, json + "\n")
            .map_err(|e| ProbeError::Output { path: path.display().to_string(), message: e.to_string() })?;
    }
    if let Some(path) = &args.plot {
        let title = format!("probe {} ({})", outcome.report.model.name, outcome.report.device.name);
        plot::write_svg(path, &outcome.window, &outcome.report.forecast, &title)?;
    }
    Ok(())
}

/// `probe static-check REPORT`: the cross-check of `run --static-check`, on a saved report.
fn check_saved_report(args: &StaticCheckArgs) -> Result<(), ProbeError> {
    let input = args.input.display();
    let text =
        std::fs::read_to_string(&args.input).map_err(|e| ProbeError::Usage(format!("cannot read {input}: {e}")))?;
    let mut json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| ProbeError::Usage(format!("{input} is not JSON: {e}")))?;
    if !json["eager"].is_object() || !json["capture"].is_object() {
        return Err(ProbeError::Usage(format!("{input} is not a probe report (no `eager` and `capture` sections)")));
    }
    if let Some(dir) = args.source_root.as_ref().filter(|d| !d.is_dir()) {
        return Err(ProbeError::Usage(format!("--source-root {}: not a directory", dir.display())));
    }
    let check = static_check::check_report(&json, &SourceLocator::new(args.source_root.as_deref()));
    let text_of = |v: &serde_json::Value| v.as_str().unwrap_or("?").to_string();
    println!(
        "probe static-check: {input}: model {}, device {}, built from commit {}",
        text_of(&json["model"]["name"]),
        text_of(&json["device"]["name"]),
        text_of(&json["probe"]["commit"])
    );
    print!("{}", static_check::render(&check));
    if let Some(path) = &args.report {
        json["static_check"] = serde_json::to_value(&check).expect("the cross-check serialises");
        let out = serde_json::to_string_pretty(&json).expect("the report serialises");
        std::fs::write(path, out + "\n")
            .map_err(|e| ProbeError::Output { path: path.display().to_string(), message: e.to_string() })?;
    }
    Ok(())
}

/// `probe doctor`: can this binary name source lines (a stripped binary cannot), and is CUPTI there?
fn doctor() -> ExitCode {
    let mut ok = true;
    let mut bt = backtrace::Backtrace::new_unresolved();
    let expected = line!() - 1;
    let frames = runtime_probe::trace::frames::resolve(&mut bt);
    match runtime_probe::trace::select_user_frame(&frames, runtime_probe::trace::workspace_root()) {
        Some(site) if site.line == expected => println!("line tables: ok ({site})"),
        other => {
            ok = false;
            println!("line tables: MISSING (got {other:?}): sync sites cannot be named; do not strip the binary");
        }
    }
    #[cfg(feature = "cuda")]
    match runtime_probe::trace::cupti::Cupti::load() {
        Ok(c) => println!("cupti: ok ({})", c.library),
        Err(e) => {
            ok = false;
            println!("cupti: {e}");
        }
    }
    #[cfg(not(feature = "cuda"))]
    println!("cuda: not built in (build with --features cuda)");
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Models => {
            for m in registry::models() {
                println!("{:<12} {} (presets: {})", m.name, m.summary, m.presets.join(", "));
            }
            ExitCode::SUCCESS
        }
        Command::Doctor => doctor(),
        Command::Exec(args) => match runtime_probe::exec::run(&args) {
            Ok(code) => ExitCode::from(code as u8),
            Err(e) => {
                eprintln!("probe: error: {e}");
                ExitCode::from(e.exit_code() as u8)
            }
        },
        Command::StaticCheck(args) => match check_saved_report(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("probe: error: {e}");
                ExitCode::from(e.exit_code() as u8)
            }
        },
        Command::Run(args) => {
            let outcome = driver::run(&args).and_then(|o| {
                print!("{}", report::render_text(&o.report));
                write_outputs(&args, &o)?;
                Ok(o)
            });
            match outcome {
                Ok(o) => ExitCode::from(o.report.verdict.exit_code as u8),
                Err(e) => {
                    eprintln!("probe: error: {e}");
                    ExitCode::from(e.exit_code() as u8)
                }
            }
        }
    }
}
