//! The probe's errors and its exit codes: 0 the verdict is OK, 1 the run finished and the verdict
//! is FAIL, 2 the run could not be made (usage, input, environment, model error).

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("unknown model `{name}` (known models: {known})")]
    UnknownModel { name: String, known: String },
    #[error("{message}\nhint: {hint}")]
    NoDevice { message: String, hint: String },
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    /// Unusable weights: names the file, the key and the shapes.
    #[error("bad weights: {0}")]
    Weights(String),
    #[error("{0}")]
    Usage(String),
    /// The model failed while the probe ran it.
    #[error("{0}")]
    Model(String),
    /// CUPTI could not be loaded, subscribed or switched.
    #[error("{0}")]
    Tracer(String),
    #[error("cannot write {path}: {message}")]
    Output { path: String, message: String },
}

impl ProbeError {
    pub fn exit_code(&self) -> i32 {
        2
    }
}

/// A candle error's message without the backtrace candle attaches when `RUST_BACKTRACE` is set:
/// the probe names source lines itself.
pub(crate) fn error_text(e: &candle_core::Error) -> String {
    match e {
        candle_core::Error::WithBacktrace { inner, .. } => error_text(inner),
        candle_core::Error::Context { inner, context } => format!("{context}: {}", error_text(inner)),
        other => other.to_string(),
    }
}
