//! The command line: `probe run --model NAME [options]` and `probe models`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "probe",
    version,
    about = "Runs a forecast model eagerly and as CUDA graph replays, records every host sync with its \
             source line, and checks that both forecasts match",
    after_help = "Exit status: 0 verdict OK, 1 verdict FAIL (parity, or a capture that was refused, \
                  invalidated or failed), 2 the run could not be made."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a model through the probe's phases and print the verdict.
    Run(Box<RunArgs>),
    /// Cross-check a saved report's sync sites with graphlint's findings on their sources (what
    /// `run --static-check` does after a run; e.g. for a report made on another machine).
    StaticCheck(StaticCheckArgs),
    /// List the models `run --model` accepts.
    Models,
    /// Check this machine and binary: line tables for source lines, CUPTI, CUDA devices.
    Doctor,
    /// Run any CUDA program (`-- python script.py`) with the sync tracer injected, and report its
    /// host syncs at their Python lines (exit status: 0 none where it counts, 1 found, 2 no verdict).
    Exec(Box<crate::exec::ExecArgs>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceArg {
    Cpu,
    Cuda(usize),
}

fn parse_device(s: &str) -> Result<DeviceArg, String> {
    match s {
        "cpu" => Ok(DeviceArg::Cpu),
        "cuda" => Ok(DeviceArg::Cuda(0)),
        _ => s
            .strip_prefix("cuda:")
            .and_then(|n| n.parse().ok())
            .map(DeviceArg::Cuda)
            .ok_or_else(|| format!("expected `cpu`, `cuda` or `cuda:N`, got `{s}`")),
    }
}

fn positive(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{s}` is not a whole number")),
    }
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The model to run (see `probe models`).
    #[arg(long)]
    pub model: String,
    /// Model size; the default is the model's first preset.
    #[arg(long)]
    pub preset: Option<String>,
    /// Directory with the upstream safetensors (and config); default: random init at the preset's shape.
    #[arg(long, value_name = "DIR")]
    pub weights: Option<PathBuf>,
    /// CSV with a timestamp column and value columns; default: the embedded real OHLCV sample.
    #[arg(long, value_name = "CSV")]
    pub data: Option<PathBuf>,
    /// Context rows the model sees (the rows before the last --steps rows of the data).
    #[arg(long, value_parser = positive)]
    pub context: Option<usize>,
    /// Forecast rows, scored against the real rows that follow the context.
    #[arg(long, value_parser = positive)]
    pub steps: Option<usize>,
    /// Sampled paths per forecast.
    #[arg(long, default_value_t = 1, value_parser = positive)]
    pub samples: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// `cuda:N` or `cpu` (cpu runs the eager phases and the parity bookkeeping only).
    #[arg(long, default_value = "cuda:0", value_parser = parse_device)]
    pub device: DeviceArg,
    /// Write the JSON report here (schema: runtime-probe/REPORT.md).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Write an SVG of the context, the eager and graph forecasts and the actual values.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Largest allowed |eager - graph| difference; 0 demands equal forecasts.
    #[arg(long, default_value_t = 0.0)]
    pub atol: f64,
    /// Build the model in its upstream-style syncs mode: each decode step reads its KV length /
    /// position back to the host as upstream does (kronos, toto). Such a step is not capturable;
    /// the run shows where it syncs and what the capture makes of it.
    #[arg(long)]
    pub upstream_syncs: bool,
    /// After the run, cross-check every runtime sync site with graphlint's findings on its source
    /// (confirmed, suppressed by its owner, or missed), and list hot findings never hit.
    #[arg(long)]
    pub static_check: bool,
    /// Where the sources the tracer's frames name are (a checkout of the commit the probe was built
    /// from); default: the working directory or a parent of it, then the build tree.
    #[arg(long, value_name = "DIR")]
    pub source_root: Option<PathBuf>,
    /// Timed forecasts per mode for the latency table.
    #[arg(long, default_value_t = 5, value_parser = positive)]
    pub repeats: usize,
}

#[derive(Debug, Clone, Args)]
pub struct StaticCheckArgs {
    /// A JSON report written by `probe run --report`.
    #[arg(value_name = "REPORT")]
    pub input: PathBuf,
    /// Where the sources the report's sites name are; default as for `run --static-check`.
    #[arg(long, value_name = "DIR")]
    pub source_root: Option<PathBuf>,
    /// Write the report with its `static_check` section filled here.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_parse_and_bad_ones_explain_the_syntax() {
        assert_eq!(parse_device("cpu"), Ok(DeviceArg::Cpu));
        assert_eq!(parse_device("cuda"), Ok(DeviceArg::Cuda(0)));
        assert_eq!(parse_device("cuda:1"), Ok(DeviceArg::Cuda(1)));
        assert_eq!(parse_device("gpu").unwrap_err(), "expected `cpu`, `cuda` or `cuda:N`, got `gpu`");
        assert!(parse_device("cuda:x").is_err());
    }
}
