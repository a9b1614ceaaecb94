//! The CUPTI callback ids of the CUDA calls the tracer classifies, and how a copy's host side
//! decides whether it is a sync.
//!
//! The numbers are CUPTI's callback ids (`CUpti_driver_api_trace_cbid` and
//! `CUpti_runtime_api_trace_cbid`) as shipped with CUPTI 13.0.85; they are stable across CUPTI
//! releases (new calls get new numbers). Only the calls the probe needs are listed.

use crate::SyncClass;

/// What a traced call does, as far as host syncs go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    /// Always a sync of this class.
    Sync(SyncClass),
    /// Driver device-to-host copy; params start `(void *dstHost, CUdeviceptr src, size_t bytes)`.
    DriverDtoH { blocking: bool },
    /// Driver host-to-device copy; params start `(CUdeviceptr dst, const void *srcHost, size_t bytes)`.
    DriverHtoD { blocking: bool },
    /// Driver unified copy; params start `(CUdeviceptr dst, CUdeviceptr src, size_t bytes)`.
    DriverUnified { blocking: bool },
    /// Runtime copy; params start `(void *dst, const void *src, size_t count, cudaMemcpyKind kind)`.
    RuntimeCopy { blocking: bool },
}

pub const DOMAIN_DRIVER: u32 = 1;
pub const DOMAIN_RUNTIME: u32 = 2;
pub const SITE_ENTER: u32 = 0;
pub const SITE_EXIT: u32 = 1;

use CallKind::*;
use SyncClass::*;

/// `(cbid, kind)` for the driver API.
const DRIVER: &[(u32, CallKind)] = &[
    (17, Sync(ContextSynchronize)),           // cuCtxSynchronize
    (800, Sync(ContextSynchronize)),          // cuCtxSynchronize_v2
    (126, Sync(StreamSynchronize)),           // cuStreamSynchronize
    (440, Sync(StreamSynchronize)),           // cuStreamSynchronize_ptsz
    (121, Sync(EventSynchronize)),            // cuEventSynchronize
    (125, Sync(StreamQuery)),                 // cuStreamQuery
    (439, Sync(StreamQuery)),                 // cuStreamQuery_ptsz
    (120, Sync(EventQuery)),                  // cuEventQuery
    (243, Sync(MemAlloc)),                    // cuMemAlloc_v2
    (245, Sync(MemFree)),                     // cuMemFree_v2
    (278, DriverDtoH { blocking: true }),     // cuMemcpyDtoH_v2
    (398, DriverDtoH { blocking: true }),     // cuMemcpyDtoH_v2_ptds
    (279, DriverDtoH { blocking: false }),    // cuMemcpyDtoHAsync_v2
    (422, DriverDtoH { blocking: false }),    // cuMemcpyDtoHAsync_v2_ptsz
    (276, DriverHtoD { blocking: true }),     // cuMemcpyHtoD_v2
    (397, DriverHtoD { blocking: true }),     // cuMemcpyHtoD_v2_ptds
    (277, DriverHtoD { blocking: false }),    // cuMemcpyHtoDAsync_v2
    (421, DriverHtoD { blocking: false }),    // cuMemcpyHtoDAsync_v2_ptsz
    (305, DriverUnified { blocking: true }),  // cuMemcpy
    (408, DriverUnified { blocking: true }),  // cuMemcpy_ptds
    (306, DriverUnified { blocking: false }), // cuMemcpyAsync
    (418, DriverUnified { blocking: false }), // cuMemcpyAsync_ptsz
];

/// `(cbid, kind)` for the runtime API (cuBLAS and other runtime users).
const RUNTIME: &[(u32, CallKind)] = &[
    (165, Sync(ContextSynchronize)),        // cudaDeviceSynchronize_v3020
    (126, Sync(ContextSynchronize)),        // cudaThreadSynchronize_v3020
    (131, Sync(StreamSynchronize)),         // cudaStreamSynchronize_v3020
    (239, Sync(StreamSynchronize)),         // cudaStreamSynchronize_ptsz_v7000
    (137, Sync(EventSynchronize)),          // cudaEventSynchronize_v3020
    (132, Sync(StreamQuery)),               // cudaStreamQuery_v3020
    (240, Sync(StreamQuery)),               // cudaStreamQuery_ptsz_v7000
    (138, Sync(EventQuery)),                // cudaEventQuery_v3020
    (20, Sync(MemAlloc)),                   // cudaMalloc_v3020
    (22, Sync(MemFree)),                    // cudaFree_v3020
    (31, RuntimeCopy { blocking: true }),   // cudaMemcpy_v3020
    (215, RuntimeCopy { blocking: true }),  // cudaMemcpy_ptds_v7000
    (41, RuntimeCopy { blocking: false }),  // cudaMemcpyAsync_v3020
    (225, RuntimeCopy { blocking: false }), // cudaMemcpyAsync_ptsz_v7000
];

pub fn driver_call(cbid: u32) -> Option<CallKind> {
    DRIVER.iter().find(|(id, _)| *id == cbid).map(|(_, k)| *k)
}

pub fn runtime_call(cbid: u32) -> Option<CallKind> {
    RUNTIME.iter().find(|(id, _)| *id == cbid).map(|(_, k)| *k)
}

/// The driver and runtime callback ids of every sync-class call: a tracer that enables callbacks
/// one by one (`probe exec`'s injection) enables these and nothing else on the hot path.
pub fn sync_ids(domain: u32) -> impl Iterator<Item = u32> {
    let table = match domain {
        DOMAIN_DRIVER => DRIVER,
        DOMAIN_RUNTIME => RUNTIME,
        _ => &[],
    };
    table.iter().map(|(id, _)| *id)
}

/// The start or the end of a stream capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureBoundary {
    Begin,
    End,
}

/// Stream-capture calls, by CUPTI callback name (`cuStreamBeginCapture_v2`,
/// `cudaStreamEndCapture_v10000`, `cuStreamBeginCaptureToGraph`…). Matched by name because their
/// ids differ between driver releases' variants and CUPTI names every id at run time
/// (`cuptiGetCallbackName`).
pub fn capture_boundary(callback_name: &str) -> Option<CaptureBoundary> {
    let call = callback_name.strip_prefix("cuda").or_else(|| callback_name.strip_prefix("cu"))?;
    if call.starts_with("StreamBeginCapture") {
        Some(CaptureBoundary::Begin)
    } else if call.starts_with("StreamEndCapture") {
        Some(CaptureBoundary::End)
    } else {
        None
    }
}

/// CUDA's stream-capture errors (driver and runtime share the numbers 900-908): a call that
/// returns one broke, or was refused by, a capture.
pub fn is_capture_error(code: i32) -> bool {
    (900..=908).contains(&code)
}

/// Where a copy's pointer lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Memory {
    Device,
    PinnedHost,
    PageableHost,
}

/// `cudaMemcpyKind`: which sides the caller declared as host.
pub fn runtime_kind_sides(kind: i32) -> Option<(bool, bool)> {
    // (dst is host, src is host); 4 (cudaMemcpyDefault) leaves it to the pointers.
    match kind {
        0 => Some((true, true)),
        1 => Some((false, true)),
        2 => Some((true, false)),
        3 => Some((false, false)),
        _ => None,
    }
}

/// Whether a copy between `dst` and `src` makes the host wait.
///
/// A device-to-host copy always does when it is blocking, and an async one does when its
/// destination is pageable (the driver stages it and returns when done). A host-to-device copy
/// from pageable memory is recorded whether or not it was called async: the driver copies the
/// source into a staging buffer before returning.
pub fn copy_class(blocking: bool, dst: Memory, src: Memory) -> Option<SyncClass> {
    use Memory::*;
    match (dst, src) {
        (Device, Device) => None,
        (PinnedHost | PageableHost, Device) if blocking => Some(DeviceToHost),
        (PageableHost, Device) => Some(DeviceToHostPageable),
        (PinnedHost, Device) => None,
        (Device, PageableHost) => Some(HostToDevicePageable),
        (Device, PinnedHost) => None,
        // Host to host: no device work to wait for.
        (PinnedHost | PageableHost, PinnedHost | PageableHost) => None,
    }
}

/// The copy parameters shared by the driver layouts in [`CallKind`]: two pointers and a byte count.
#[repr(C)]
struct CopyParams {
    dst: usize,
    src: usize,
    bytes: usize,
}

/// `cudaMemcpy(Async)_v3020_params`.
#[repr(C)]
struct RuntimeCopyParams {
    dst: usize,
    src: usize,
    bytes: usize,
    kind: i32,
}

/// A classified sync: its class, and for a copy its byte count and host pointer.
pub type Classified = (SyncClass, Option<u64>, Option<usize>);

/// Classifies one call from CUPTI's parameter struct; `host_memory` says where a host-side pointer
/// lives (the driver's `cuPointerGetAttribute`; memory it does not know is pageable). `None`: the
/// call does not make the host wait (a copy from pinned memory, say).
///
/// # Safety
/// `params` is null or points to the parameter struct CUPTI passes for the call `kind` came from.
pub unsafe fn classify(
    kind: CallKind,
    params: *const std::ffi::c_void,
    host_memory: impl Fn(usize) -> Memory,
) -> Option<Classified> {
    if let Sync(class) = kind {
        return Some((class, None, None));
    }
    if params.is_null() {
        return None;
    }
    // SAFETY: every driver copy layout in `CallKind` starts with two pointer-sized fields and a
    // size_t, which is `CopyParams`.
    let copy = || unsafe { &*params.cast::<CopyParams>() };
    let (class, bytes, host) = match kind {
        Sync(_) => unreachable!("returned above"),
        DriverDtoH { blocking } => {
            let p = copy();
            (copy_class(blocking, host_memory(p.dst), Memory::Device)?, p.bytes, p.dst)
        }
        DriverHtoD { blocking } => {
            let p = copy();
            (copy_class(blocking, Memory::Device, host_memory(p.src))?, p.bytes, p.src)
        }
        DriverUnified { blocking } => {
            let p = copy();
            let (dst, src) = (host_memory(p.dst), host_memory(p.src));
            (copy_class(blocking, dst, src)?, p.bytes, if dst == Memory::Device { p.src } else { p.dst })
        }
        RuntimeCopy { blocking } => {
            // SAFETY: the runtime copy ids pass cudaMemcpy(Async)_v3020_params.
            let p = unsafe { &*params.cast::<RuntimeCopyParams>() };
            let side = |is_host: bool, ptr: usize| if is_host { host_memory(ptr) } else { Memory::Device };
            let (dst, src) = match runtime_kind_sides(p.kind) {
                Some((dh, sh)) => (side(dh, p.dst), side(sh, p.src)),
                None => (host_memory(p.dst), host_memory(p.src)),
            };
            (copy_class(blocking, dst, src)?, p.bytes, if dst == Memory::Device { p.src } else { p.dst })
        }
    };
    Some((class, Some(bytes as u64), Some(host)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_per_domain() {
        for table in [DRIVER, RUNTIME] {
            let mut ids: Vec<u32> = table.iter().map(|(id, _)| *id).collect();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), table.len());
        }
    }

    #[test]
    fn to_scalar_copy_is_a_pageable_device_to_host_sync() {
        // candle's to_scalar ends in cuMemcpyDtoHAsync_v2 (cbid 279) into a Vec.
        assert_eq!(driver_call(279), Some(DriverDtoH { blocking: false }));
        assert_eq!(copy_class(false, Memory::PageableHost, Memory::Device), Some(DeviceToHostPageable));
        assert_eq!(copy_class(false, Memory::PinnedHost, Memory::Device), None);
        assert_eq!(copy_class(true, Memory::PinnedHost, Memory::Device), Some(DeviceToHost));
        assert_eq!(copy_class(false, Memory::Device, Memory::PageableHost), Some(HostToDevicePageable));
        assert_eq!(copy_class(true, Memory::Device, Memory::Device), None);
    }

    #[test]
    fn launches_and_stream_ordered_allocations_are_not_syncs() {
        for cbid in [307 /* cuLaunchKernel */, 598 /* cuMemAllocAsync */, 600 /* cuMemFreeAsync */] {
            assert_eq!(driver_call(cbid), None);
        }
        assert_eq!(runtime_kind_sides(2), Some((true, false)));
        assert_eq!(runtime_kind_sides(4), None);
    }

    #[test]
    fn capture_boundaries_are_named_in_both_apis_and_nothing_else_matches() {
        assert_eq!(capture_boundary("cuStreamBeginCapture_v2"), Some(CaptureBoundary::Begin));
        assert_eq!(capture_boundary("cudaStreamBeginCapture_v10000"), Some(CaptureBoundary::Begin));
        assert_eq!(capture_boundary("cuStreamEndCapture_ptsz"), Some(CaptureBoundary::End));
        assert_eq!(capture_boundary("cudaStreamEndCapture_v10000"), Some(CaptureBoundary::End));
        assert_eq!(capture_boundary("cuStreamGetCaptureInfo_v3"), None);
        assert_eq!(capture_boundary("cudaStreamIsCapturing_v10000"), None);
        assert!(sync_ids(DOMAIN_DRIVER).any(|id| id == 279));
        assert_eq!(sync_ids(7).count(), 0);
        assert!(is_capture_error(901) && !is_capture_error(0) && !is_capture_error(909));
    }

    #[test]
    fn classify_reads_the_copy_parameters_and_asks_where_host_pointers_live() {
        let params = RuntimeCopyParams { dst: 0x1000, src: 0xd000, bytes: 4, kind: 2 };
        let pageable = |_| Memory::PageableHost;
        // SAFETY: `params` is the runtime copy layout.
        let got = unsafe {
            classify(RuntimeCopy { blocking: false }, (&params as *const RuntimeCopyParams).cast(), pageable)
        };
        assert_eq!(got, Some((DeviceToHostPageable, Some(4), Some(0x1000))));
        let pinned = |_| Memory::PinnedHost;
        // SAFETY: as above.
        let got =
            unsafe { classify(RuntimeCopy { blocking: false }, (&params as *const RuntimeCopyParams).cast(), pinned) };
        assert_eq!(got, None);
        let copy = CopyParams { dst: 0xd000, src: 0x2000, bytes: 8 };
        // SAFETY: the driver host-to-device layout.
        let got = unsafe { classify(DriverHtoD { blocking: false }, (&copy as *const CopyParams).cast(), pageable) };
        assert_eq!(got, Some((HostToDevicePageable, Some(8), Some(0x2000))));
        // SAFETY: a plain sync reads no parameters.
        assert_eq!(
            unsafe { classify(Sync(StreamSynchronize), std::ptr::null(), pageable) },
            Some((StreamSynchronize, None, None))
        );
    }
}
