//! A run of `probe run`, resolved: the model entry, its options and data window, and the checked
//! command-line settings every phase reads ([`RunConfig`]). The drivers (`driver/`) run the
//! phases (`phases/`) on it.

use candle_core::Device;
use models::GraphDecoder;

use crate::cli::RunArgs;
use crate::data::{Series, Window};
use crate::error::{error_text, ProbeError};
use crate::model::{BuildError, ModelEntry, ModelOptions};
use crate::phases::static_check::SourceLocator;
use crate::registry;
use crate::trace::{self, Stage};

/// Everything a run needs, resolved and checked from the command line.
pub struct RunConfig {
    pub entry: ModelEntry,
    pub preset: String,
    pub opts: ModelOptions,
    pub window: Window,
    pub atol: f64,
    pub repeats: usize,
    pub command: String,
    /// `--static-check`: where to find the sources the frames name.
    pub static_check: Option<SourceLocator>,
}

impl RunConfig {
    pub fn resolve(args: &RunArgs) -> Result<Self, ProbeError> {
        let entry = registry::find(&args.model).ok_or_else(|| ProbeError::UnknownModel {
            name: args.model.clone(),
            known: registry::names().join(", "),
        })?;
        let preset = args.preset.clone().unwrap_or_else(|| entry.presets[0].to_string());
        if !entry.presets.contains(&preset.as_str()) {
            return Err(ProbeError::Usage(format!(
                "model `{}` has no preset `{preset}` (it has: {})",
                entry.name,
                entry.presets.join(", ")
            )));
        }
        if let Some(dir) = &args.weights {
            if !dir.is_dir() {
                return Err(ProbeError::Weights(format!("--weights {}: not a directory", dir.display())));
            }
        }
        if let Some(dir) = &args.source_root {
            if !args.static_check {
                return Err(ProbeError::Usage("--source-root is for --static-check".into()));
            }
            if !dir.is_dir() {
                return Err(ProbeError::Usage(format!("--source-root {}: not a directory", dir.display())));
            }
        }
        if args.atol.is_nan() || args.atol < 0.0 {
            return Err(ProbeError::Usage(format!("--atol must be a number >= 0, got {}", args.atol)));
        }
        if args.upstream_syncs && !entry.upstream_syncs {
            return Err(ProbeError::Usage(format!(
                "model `{}` has no upstream-style syncs mode (--upstream-syncs is for: {})",
                entry.name,
                registry::models().iter().filter(|m| m.upstream_syncs).map(|m| m.name).collect::<Vec<_>>().join(", ")
            )));
        }
        let (default_context, default_steps) = (entry.default_window)(&preset);
        let context = args.context.unwrap_or(default_context);
        let steps = args.steps.unwrap_or(default_steps);
        let series = Series::load(args.data.as_deref())?;
        let window = series.window(entry.channels, context, steps)?;
        let opts = ModelOptions {
            preset: Some(preset.clone()),
            weights: args.weights.clone(),
            context,
            steps,
            samples: args.samples,
            seed: args.seed,
            upstream_syncs: args.upstream_syncs,
        };
        let command = std::env::args().collect::<Vec<_>>().join(" ");
        let static_check = args.static_check.then(|| SourceLocator::new(args.source_root.as_deref()));
        Ok(Self { entry, preset, opts, window, atol: args.atol, repeats: args.repeats, command, static_check })
    }

    pub(crate) fn build(&self, device: &Device) -> Result<Box<dyn GraphDecoder>, ProbeError> {
        trace::set_position(Stage::Setup, None);
        let built = (self.entry.build)(device, &self.opts, &self.window);
        trace::set_position(Stage::Probe, None);
        built.map_err(|e| match e {
            BuildError::Weights(m) => ProbeError::Weights(m),
            BuildError::Config(m) => ProbeError::Usage(m),
            BuildError::Candle(e) => {
                ProbeError::Model(format!("building `{}` failed: {}", self.entry.name, error_text(&e)))
            }
        })
    }
}
