use std::process::ExitCode;

use clap::Parser;
use runtime_probe::cli::{Cli, Command};
use runtime_probe::{plot, registry, report, runner, ProbeError};

fn write_outputs(args: &runtime_probe::cli::RunArgs, outcome: &runner::Outcome) -> Result<(), ProbeError> {
    let out_err = |path: &std::path::Path, message: String| ProbeError::Output { path: path.display().to_string(), message };
    if let Some(path) = &args.report {
        let json = serde_json::to_string_pretty(&outcome.report).expect("the report serialises");
        std::fs::write(path, json + "\n").map_err(|e| out_err(path, e.to_string()))?;
    }
    if let Some(path) = &args.plot {
        let title = format!("probe {} ({})", outcome.report.model.name, outcome.report.device.name);
        plot::write_svg(path, &outcome.window, &outcome.report.forecast, &title).map_err(|m| out_err(path, m))?;
    }
    Ok(())
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
        Command::Run(args) => {
            let outcome = runner::run(&args).and_then(|o| {
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
