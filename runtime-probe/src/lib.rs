//! `probe`: runs a [`models::GraphDecoder`] eagerly and as CUDA graph replays, traces every host
//! sync to its source line, and checks that the forecasts match (issue 8).
//!
//! Layers, each importing only those before it:
//! - `data`, `error`, `metrics`, `progress`, `trace` (the sync tracer; `trace::cupti` in CUDA
//!   builds), `cuda_graph` (CUDA builds: the graph calls beyond cudarc's), `cli`;
//! - `model` (what a model is to the probe), `toy` and `ports` (the models), `registry` (their list);
//! - `phases::static_check` (phase 7, on a report's JSON), `runner` (the run, resolved from `cli`);
//! - `phases` (one module per phase of the README), `plot` (the SVG of phase 6);
//! - `driver` (`probe run`: the CPU and CUDA drivers calling the phases), then `main`.

pub mod cli;
pub mod data;
pub mod driver;
pub mod error;
pub mod exec;
pub mod metrics;
pub mod model;
pub mod phases;
pub mod plot;
pub mod ports;
pub mod progress;
pub mod registry;
pub mod runner;
pub mod toy;
pub mod trace;

#[cfg(feature = "cuda")]
pub mod cuda_graph;

pub use error::ProbeError;
