//! `probe exec`'s injection library. The CUDA driver loads it into the traced program through
//! `CUDA_INJECTION64_PATH` and calls [`InitializeInjection`] from the program's first `cuInit`; no
//! code of the program changes.
//!
//! It subscribes to CUPTI with callbacks enabled only for the sync-class calls of the shared
//! catalogue (`sync-catalogue`) and the stream-capture boundaries, and writes one JSON record per
//! event to `PROBE_TRACE_DIR/trace-<pid>.jsonl` (see `record.rs`; schema in runtime-probe/REPORT.md):
//! - `process`: the header of each process's file;
//! - `tracer`: whether CUPTI was subscribed, which calls are watched, which Python is in the process;
//! - `sync`: API, class, thread, host wait (CUPTI timestamps at entry and exit), bytes, result, the
//!   open capture, and the Python stack (`python.rs`) or else the native backtrace;
//! - `capture_begin` / `capture_end`: each stream capture, with the beginning's stack;
//! - `step`: the edges of `--step` calls, from `probe_step_begin`/`probe_step_end` (called by the
//!   step hook `probe exec` installs in Python programs);
//! - `exit`: written at normal exit; a trace without it was cut short (a signal).
//!
//! The program must run on whatever happens here: every failure becomes a record, never an error.

mod cupti;
mod native;
mod python;
mod record;

use std::cell::{Cell, RefCell};
use std::ffi::{c_int, c_void, CStr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use serde_json::{json, Value};
use sync_catalogue::cbid::{self, CaptureBoundary, Memory, DOMAIN_DRIVER, DOMAIN_RUNTIME, SITE_ENTER};

use cupti::{CallbackData, Watched};

thread_local! {
    /// Inside this library's own callback on this thread: nested CUDA calls are not traced.
    static IN_CALLBACK: Cell<bool> = const { Cell::new(false) };
    /// Open runtime calls on this thread: their inner driver calls are not counted twice.
    static RUNTIME_DEPTH: Cell<u32> = const { Cell::new(0) };
    /// The captures this thread has begun and not ended (innermost last).
    static CAPTURES: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

static NEXT_CAPTURE: AtomicU64 = AtomicU64::new(1);

/// Called by the CUDA driver from the program's first `cuInit`. Returns 1 (success) even when
/// tracing could not start: the `tracer` record says why, and the program runs untraced.
#[no_mangle]
pub extern "C" fn InitializeInjection() -> c_int {
    let _ = std::panic::catch_unwind(initialize);
    1
}

fn initialize() {
    // SAFETY: `write_exit_record` is an `extern "C" fn()` that never unwinds (it catches panics).
    unsafe { libc::atexit(write_exit_record) };
    let python = match python::interpreter() {
        python::Interpreter::Supported(v) => json!({"version": v, "stacks": true}),
        python::Interpreter::Unsupported(why) => json!({"stacks": false, "why": why}),
        python::Interpreter::Absent => Value::Null,
    };
    let record = match cupti::start(on_api) {
        Ok(c) => {
            json!({"type": "tracer", "status": "traced", "cupti": c.library, "watched": c.watched_names, "python": python})
        }
        Err(why) => json!({"type": "tracer", "status": "not_traced", "why": why, "python": python}),
    };
    record::write(&record);
}

extern "C" fn write_exit_record() {
    let _ = std::panic::catch_unwind(|| record::write(&json!({"type": "exit", "seq": record::next_seq()})));
}

/// Marks the start of one call of the `--step` function on this thread.
#[no_mangle]
pub extern "C" fn probe_step_begin() {
    step_edge("begin");
}

/// Marks the end of the innermost open `--step` call on this thread.
#[no_mangle]
pub extern "C" fn probe_step_end() {
    step_edge("end");
}

fn step_edge(edge: &str) {
    let _ = std::panic::catch_unwind(|| {
        record::write(&json!({"type": "step", "edge": edge, "tid": record::tid(), "seq": record::next_seq()}));
    });
}

/// Where a host pointer lives, asked of the driver already loaded in the process.
fn host_memory(ptr: usize) -> Memory {
    type GetAttr = unsafe extern "C" fn(*mut c_void, c_int, u64) -> c_int;
    static GET: OnceLock<Option<GetAttr>> = OnceLock::new();
    let get = GET.get_or_init(|| {
        // SAFETY: libcuda is loaded already (the driver called us); opening it again only takes a
        // reference, which is leaked so the pointer stays valid.
        let lib = unsafe { libloading::Library::new("libcuda.so.1") }.ok()?;
        let lib: &'static libloading::Library = Box::leak(Box::new(lib));
        // SAFETY: `CUresult cuPointerGetAttribute(void *data, CUpointer_attribute, CUdeviceptr)`.
        unsafe { lib.get::<GetAttr>(b"cuPointerGetAttribute\0") }.ok().map(|s| *s)
    });
    let Some(get) = get else { return Memory::PageableHost };
    const MEMORY_TYPE: c_int = 2; // CU_POINTER_ATTRIBUTE_MEMORY_TYPE
    let mut kind = 0u32;
    // SAFETY: `kind` is a valid out pointer of the attribute's size (CUmemorytype is a C enum);
    // the call only reads the driver's allocation tables, and is not a watched call.
    let rc = unsafe { get((&mut kind as *mut u32).cast(), MEMORY_TYPE, ptr as u64) };
    match (rc, kind) {
        (0, 1) => Memory::PinnedHost, // CU_MEMORYTYPE_HOST
        (0, _) => Memory::Device,
        _ => Memory::PageableHost,
    }
}

unsafe extern "C" fn on_api(_user: *mut c_void, domain: u32, id: u32, data: *const c_void) {
    // A panic must not unwind into CUPTI; a lost record is better than an abort.
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: CUPTI passes a CUpti_CallbackData for the driver and runtime domains, valid for
        // the duration of the callback.
        unsafe { handle(domain, id, data) }
    });
}

/// # Safety
/// `data` is CUPTI's callback data for `domain`.
unsafe fn handle(domain: u32, id: u32, data: *const c_void) {
    if data.is_null() || (domain != DOMAIN_DRIVER && domain != DOMAIN_RUNTIME) {
        return;
    }
    if IN_CALLBACK.with(Cell::get) || python::IS_HELPER.with(Cell::get) {
        return;
    }
    let Some(cupti) = cupti::get() else { return };
    let Some(&watched) = cupti.watched.get(&(domain, id)) else { return };
    // SAFETY: see the function's contract.
    let d = unsafe { &*data.cast::<CallbackData>() };
    if d.callback_site == SITE_ENTER {
        if domain == DOMAIN_RUNTIME {
            RUNTIME_DEPTH.with(|n| n.set(n.get() + 1));
        }
        if !d.correlation_data.is_null() {
            // SAFETY: CUPTI keeps this slot for the call, from entry to exit.
            unsafe { *d.correlation_data = cupti.now() };
        }
        return;
    }
    let exit_ns = cupti.now();
    if domain == DOMAIN_RUNTIME {
        RUNTIME_DEPTH.with(|n| n.set(n.get().saturating_sub(1)));
    } else if RUNTIME_DEPTH.with(Cell::get) > 0 {
        // A driver call made inside a watched runtime call: that runtime call's business.
        return;
    }
    IN_CALLBACK.with(|c| c.set(true));
    let _reset = ResetOnDrop;
    // SAFETY: CUPTI's slot, written at entry (0 when entry was missed).
    let enter_ns = if d.correlation_data.is_null() { 0 } else { unsafe { *d.correlation_data } };
    let result = if d.function_return_value.is_null() {
        0
    } else {
        // SAFETY: CUresult and cudaError_t are C enums (int-sized).
        unsafe { *d.function_return_value.cast::<i32>() }
    };
    let api = if d.function_name.is_null() {
        "?".to_string()
    } else {
        // SAFETY: CUPTI documents functionName as a constant NUL-terminated string.
        unsafe { CStr::from_ptr(d.function_name) }.to_string_lossy().into_owned()
    };
    let open_capture = CAPTURES.with(|c| c.borrow().last().copied());
    let mut record = match watched {
        Watched::Sync(kind) => {
            // SAFETY: CUPTI passes this id's parameter struct in functionParams.
            let Some((class, bytes, _)) = (unsafe { cbid::classify(kind, d.function_params, host_memory) }) else {
                return;
            };
            json!({
                "type": "sync",
                "api": api,
                "class": class,
                "bytes": bytes,
                "wait_ns": exit_ns.saturating_sub(enter_ns),
                "capture": open_capture,
            })
        }
        Watched::Capture(CaptureBoundary::Begin) => {
            if result != 0 {
                json!({"type": "capture_begin", "api": api, "capture": Value::Null})
            } else {
                let capture = NEXT_CAPTURE.fetch_add(1, Ordering::Relaxed);
                CAPTURES.with(|c| c.borrow_mut().push(capture));
                json!({"type": "capture_begin", "api": api, "capture": capture})
            }
        }
        Watched::Capture(CaptureBoundary::End) => {
            let capture = CAPTURES.with(|c| c.borrow_mut().pop());
            json!({"type": "capture_end", "api": api, "capture": capture})
        }
    };
    let fields = record.as_object_mut().expect("records are objects");
    fields.insert("seq".into(), json!(record::next_seq()));
    fields.insert("tid".into(), json!(record::tid()));
    fields.insert("result".into(), json!(result));
    fields.insert("enter_ns".into(), json!(enter_ns));
    if !matches!(watched, Watched::Capture(CaptureBoundary::End)) {
        attach_stack(fields);
    }
    record::write(&record);
}

/// Adds the calling thread's Python stack, or else its native one.
fn attach_stack(fields: &mut serde_json::Map<String, Value>) {
    match python::stack() {
        Some(Ok(frames)) if !frames.is_empty() => {
            fields.insert("python".into(), Value::Array(frames));
        }
        other => {
            if let Some(Err(why)) = other {
                fields.insert("python_unavailable".into(), json!(why));
            }
            fields.insert("native".into(), native::stack());
        }
    }
}

/// Writes a `stack` record with the calling thread's stack, read exactly as for a sync. For
/// `probe exec`'s tests (no GPU needed): called through `ctypes.CDLL` it runs with the GIL released,
/// as a PyTorch op does, through `ctypes.PyDLL` with the GIL held.
#[no_mangle]
pub extern "C" fn probe_record_stack() {
    let _ = std::panic::catch_unwind(|| {
        let mut record = json!({"type": "stack", "seq": record::next_seq(), "tid": record::tid()});
        attach_stack(record.as_object_mut().expect("an object"));
        record::write(&record);
    });
}

struct ResetOnDrop;

impl Drop for ResetOnDrop {
    fn drop(&mut self) {
        IN_CALLBACK.with(|c| c.set(false));
    }
}
