//! The one catalogue of what counts as a host sync: the sync classes, and which CUDA driver and
//! runtime calls (by CUPTI callback id) belong to them.
//!
//! Shared by the probe's in-process tracer (`runtime-probe/src/trace`) and the injection library of
//! `probe exec` (`runtime-probe/inject`), which must not link candle: both classify with this.

pub mod cbid;

use serde::{Deserialize, Serialize};

/// The sync classes the probe records (issue 8, phase 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncClass {
    StreamSynchronize,
    ContextSynchronize,
    EventSynchronize,
    StreamQuery,
    EventQuery,
    /// A synchronous device-to-host copy (the host waits for it and for the stream).
    DeviceToHost,
    /// An "async" device-to-host copy into pageable memory: the driver makes the host wait.
    DeviceToHostPageable,
    /// A host-to-device copy from pageable memory (staged through a driver buffer).
    HostToDevicePageable,
    /// A blocking allocation (`cuMemAlloc`/`cudaMalloc`, not the stream-ordered ones).
    MemAlloc,
    /// A blocking free (`cuMemFree`/`cudaFree`), which waits for the device.
    MemFree,
}

impl SyncClass {
    pub fn label(self) -> &'static str {
        match self {
            Self::StreamSynchronize => "stream sync",
            Self::ContextSynchronize => "context sync",
            Self::EventSynchronize => "event sync",
            Self::StreamQuery => "stream query",
            Self::EventQuery => "event query",
            Self::DeviceToHost => "D2H copy",
            Self::DeviceToHostPageable => "D2H to pageable",
            Self::HostToDevicePageable => "H2D from pageable",
            Self::MemAlloc => "blocking alloc",
            Self::MemFree => "blocking free",
        }
    }
}
