//! `probe`: runs a [`models::GraphDecoder`] eagerly and as CUDA graph replays, traces every host
//! sync to its source line, and checks that the forecasts match (issue 8).
//!
//! Layout: `cli` (arguments) → `runner` (the phases, generic over the decoder; CPU path) and
//! `gpu` (CUDA path: `trace::cupti` tracer, `capture` graph layer) → `report` (JSON + table) and
//! `plot` (SVG). `registry` lists the models: `ports` builds the Kronos and Toto ports, `toy` is the probe's
//! own test model.

pub mod cli;
pub mod crosscheck;
pub mod data;
pub mod error;
pub mod exec;
pub mod metrics;
pub mod plot;
pub mod ports;
pub mod progress;
pub mod registry;
pub mod report;
pub mod runner;
pub mod toy;
pub mod trace;

#[cfg(feature = "cuda")]
pub mod capture;
#[cfg(feature = "cuda")]
mod gpu;

pub use error::ProbeError;
