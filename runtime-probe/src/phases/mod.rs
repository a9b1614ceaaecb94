//! The seven phases of `probe run`, numbered as the README numbers them; the CPU and CUDA drivers
//! (`driver/`) call the same ones.
//!
//! | phase | module | drivers |
//! | --- | --- | --- |
//! | 1 eager run, traced | `eager` | CPU (untraced), CUDA |
//! | 2 capture | `capture` | CUDA (CPU: reported skipped) |
//! | 3 replay | `replay` | CUDA |
//! | 4 parity | `parity` | both, through `report::assemble` |
//! | 5 timing and memory | `timing` | CPU (wall clock), CUDA (CUDA events, memory) |
//! | 6 report | `report` | both |
//! | 7 static check | `static_check` | both, and `probe static-check` |
//!
//! `decode` is the forecast loop phases 1, 3 and 5 share. Phase 7 reads a report's JSON and
//! nothing else of a run, so the run's configuration (`runner`) may use it; the other phases sit
//! above `runner`.

pub(crate) mod decode;
pub(crate) mod eager;
pub mod parity;
pub mod report;
pub mod static_check;
pub(crate) mod timing;

#[cfg(feature = "cuda")]
pub(crate) mod capture;
#[cfg(feature = "cuda")]
pub(crate) mod replay;
