//! The crate's error for everything that is not a tensor operation: reading files, CSV data,
//! configs and checkpoints. Tensor code returns candle's `Result`, which converts into this one.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// A CSV cell or line that cannot be read; `line` counts from 1, the header included.
    #[error("{origin}: line {line}: {msg}")]
    Csv { origin: String, line: usize, msg: String },
    /// Input that parses but cannot be used (no rows, a window past the end…).
    #[error("{origin}: {msg}")]
    Invalid { origin: String, msg: String },
    #[error("bad timestamp `{text}`: {msg}")]
    Timestamp { text: String, msg: String },
    #[error("cannot parse Toto config {path}: {source}")]
    Config { path: PathBuf, source: serde_json::Error },
    #[error("unknown {model} preset `{name}` (expected mini, small or base)")]
    UnknownPreset { model: &'static str, name: String },
    #[error("unsupported Toto config: {0}")]
    Unsupported(String),
    #[error("checkpoint has no tensor `{key}` (expected shape {expected:?})")]
    MissingKey { key: String, expected: Vec<usize> },
    #[error("checkpoint tensor `{key}` has shape {found:?}, expected {expected:?}")]
    ShapeMismatch { key: String, expected: Vec<usize>, found: Vec<usize> },
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}
