//! A thin safe layer over the raw CUDA graph calls the probe needs beyond cudarc's `CudaGraph`:
//! ending a capture without instantiating it, scanning the captured nodes, and instantiating only
//! a graph that passed the scan.

use std::sync::Arc;

use candle_core::cuda::cudarc::driver::{result, sys, CudaStream, DriverError};

/// A captured graph, not instantiated. Destroyed on drop.
pub struct CapturedGraph {
    graph: sys::CUgraph,
}

/// An instantiated graph, launchable on the stream it was captured on.
pub struct GraphExec {
    exec: sys::CUgraphExec,
    // Keeps the graph (and its source CUgraph) alive as long as the exec.
    _graph: CapturedGraph,
    stream: Arc<CudaStream>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    DeviceToHost,
    HostToDevice,
    HostToHost,
}

impl Direction {
    pub fn name(self) -> &'static str {
        match self {
            Self::DeviceToHost => "device_to_host",
            Self::HostToDevice => "host_to_device",
            Self::HostToHost => "host_to_host",
        }
    }
}

/// A memcpy node with a host side: at replay it reads or writes host memory that was only valid
/// during capture. Each one is a sync the driver did not report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCopy {
    pub direction: Direction,
    pub host_ptr: usize,
    pub bytes: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GraphScan {
    pub total: usize,
    pub kernel: usize,
    pub memcpy: usize,
    pub memset: usize,
    pub mem_alloc: usize,
    pub mem_free: usize,
    pub host_function: usize,
    pub other: usize,
    pub host_copies: Vec<HostCopy>,
}

impl Drop for CapturedGraph {
    fn drop(&mut self) {
        // SAFETY: `graph` came from a successful cuStreamEndCapture and is destroyed only here.
        // A failure leaves nothing to clean up, so it is ignored.
        let _ = unsafe { result::graph::destroy(self.graph) };
    }
}

impl Drop for GraphExec {
    fn drop(&mut self) {
        // SAFETY: `exec` came from a successful instantiation and is destroyed only here, before
        // `_graph` (fields drop after this body).
        let _ = unsafe { result::graph::exec_destroy(self.exec) };
    }
}

/// Begins a thread-local capture on `stream`.
pub fn begin(stream: &Arc<CudaStream>) -> Result<(), DriverError> {
    stream.begin_capture(sys::CUstreamCaptureMode::CU_STREAM_CAPTURE_MODE_THREAD_LOCAL)
}

/// Ends the capture. `Err` when the driver invalidated it (the stream has left capture mode
/// either way); `Ok(None)` when it produced no graph.
pub fn end(stream: &Arc<CudaStream>) -> Result<Option<CapturedGraph>, DriverError> {
    stream.context().bind_to_thread()?;
    // SAFETY: the stream is alive (we hold an Arc) and is the one the capture began on.
    let graph = unsafe { result::stream::end_capture(stream.cu_stream()) }?;
    Ok((!graph.is_null()).then_some(CapturedGraph { graph }))
}

/// Whether `ptr` (a unified-address memcpy side) is host memory.
fn is_host(ptr: usize) -> bool {
    let mut kind = 0u32;
    // SAFETY: valid out pointer of the attribute's size; only the driver's tables are read.
    let rc = unsafe {
        sys::cuPointerGetAttribute(
            (&mut kind as *mut u32).cast(),
            sys::CUpointer_attribute::CU_POINTER_ATTRIBUTE_MEMORY_TYPE,
            ptr as sys::CUdeviceptr,
        )
    };
    // Unknown to the driver: pageable host memory. Known: HOST (1) is pinned host memory.
    rc != sys::CUresult::CUDA_SUCCESS || kind == 1
}

impl CapturedGraph {
    /// Counts the nodes by type and lists every memcpy node with a host side.
    pub fn scan(&self) -> Result<GraphScan, DriverError> {
        let mut n = 0usize;
        // SAFETY: a null node array asks only for the count.
        unsafe { sys::cuGraphGetNodes(self.graph, std::ptr::null_mut(), &mut n) }.result()?;
        let mut nodes: Vec<sys::CUgraphNode> = vec![std::ptr::null_mut(); n];
        // SAFETY: `nodes` has room for `n` handles, and `n` says so.
        unsafe { sys::cuGraphGetNodes(self.graph, nodes.as_mut_ptr(), &mut n) }.result()?;
        nodes.truncate(n);
        let mut scan = GraphScan { total: n, ..GraphScan::default() };
        for node in nodes {
            // Read as a plain integer: a node type newer than cudarc's enum must not be UB.
            let mut ty = u32::MAX;
            // SAFETY: CUgraphNodeType is a C enum (4 bytes); `node` belongs to this graph.
            unsafe { sys::cuGraphNodeGetType(node, (&mut ty as *mut u32).cast()) }.result()?;
            match ty {
                0 => scan.kernel += 1,
                1 => {
                    scan.memcpy += 1;
                    let mut p = std::mem::MaybeUninit::<sys::CUDA_MEMCPY3D>::zeroed();
                    // SAFETY: `node` is a memcpy node (type 1); `p` is a valid out struct.
                    unsafe { sys::cuGraphMemcpyNodeGetParams(node, p.as_mut_ptr()) }.result()?;
                    // SAFETY: on success the driver filled every field, the memory-type enums too.
                    let p = unsafe { p.assume_init() };
                    if let Some(copy) = host_side(&p) {
                        scan.host_copies.push(copy);
                    }
                }
                2 => scan.memset += 1,
                3 => scan.host_function += 1,
                10 => scan.mem_alloc += 1,
                11 => scan.mem_free += 1,
                _ => scan.other += 1,
            }
        }
        Ok(scan)
    }

    /// Instantiates the graph for launches on `stream`.
    pub fn instantiate(self, stream: &Arc<CudaStream>) -> Result<GraphExec, DriverError> {
        stream.context().bind_to_thread()?;
        // SAFETY: `self.graph` is a valid captured graph; flags 0 is the default instantiation.
        let exec = unsafe { result::graph::instantiate(self.graph, sys::CUgraphInstantiate_flags(0)) }?;
        Ok(GraphExec { exec, _graph: self, stream: stream.clone() })
    }
}

fn host_side(p: &sys::CUDA_MEMCPY3D) -> Option<HostCopy> {
    use sys::CUmemorytype::*;
    let side = |ty: sys::CUmemorytype, host: usize, device: usize| match ty {
        CU_MEMORYTYPE_HOST => Some(host),
        CU_MEMORYTYPE_UNIFIED if is_host(device) => Some(device),
        _ => None,
    };
    let dst = side(p.dstMemoryType, p.dstHost as usize, p.dstDevice as usize);
    let src = side(p.srcMemoryType, p.srcHost as usize, p.srcDevice as usize);
    let bytes = (p.WidthInBytes * p.Height.max(1) * p.Depth.max(1)) as u64;
    let (direction, host_ptr) = match (dst, src) {
        (Some(d), None) => (Direction::DeviceToHost, d),
        (None, Some(s)) => (Direction::HostToDevice, s),
        (Some(d), Some(_)) => (Direction::HostToHost, d),
        (None, None) => return None,
    };
    Some(HostCopy { direction, host_ptr, bytes })
}

impl GraphExec {
    pub fn launch(&self) -> Result<(), DriverError> {
        self.stream.context().bind_to_thread()?;
        // SAFETY: `exec` is alive for `self`'s lifetime and the stream is the capture stream.
        unsafe { result::graph::launch(self.exec, self.stream.cu_stream()) }
    }
}
