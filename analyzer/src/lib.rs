//! graphlint: finds host-device synchronisations in the hot paths of PyTorch and candle code.
//!
//! The crate is split into a language-agnostic core (diagnostics, the rule registry, suppression
//! comments, discovery, rule selection, output formats) and one frontend per language: Python
//! (PyTorch) and Rust (candle, cudarc, tch).

pub mod add_suppressions;
pub mod arena;
pub mod cache;
pub mod cli;
pub mod config;
pub mod diagnostic;
pub mod discovery;
pub mod engine;
pub mod frontend;
pub mod glob;
pub mod hotpath;
pub mod meta;
pub mod output;
pub mod paths;
pub mod profiles;
pub mod python;
pub mod registry;
pub mod rule;
pub mod rust;
pub mod server;
pub mod settings;
pub mod source;
pub mod suppression;
