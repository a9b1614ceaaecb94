//! CUPTI, opened at run time: a callback on the exit of every CUDA driver and runtime call feeds
//! the collector in `trace`. No link-time dependency: a machine without CUPTI gets a message and an
//! untraced run.

use std::cell::Cell;
use std::ffi::{c_char, c_void, CStr};
use std::sync::atomic::{AtomicBool, Ordering};

use candle_core::cuda::cudarc::driver::sys;

use super::cbid::{self, Memory, DOMAIN_DRIVER, DOMAIN_RUNTIME, SITE_ENTER, SITE_EXIT};
use super::{current_stage, record_capture_call, record_sync, Stage};
use crate::error::ProbeError;

/// `CUpti_CallbackData` (cupti_callbacks.h), the data of a driver or runtime API callback.
#[repr(C)]
struct CallbackData {
    callback_site: u32,
    function_name: *const c_char,
    function_params: *const c_void,
    function_return_value: *mut c_void,
    symbol_name: *const c_char,
    context: *mut c_void,
    context_uid: u32,
    correlation_data: *mut u64,
    correlation_id: u32,
}

type CallbackFn = unsafe extern "C" fn(*mut c_void, u32, u32, *const c_void);
type SubscribeFn = unsafe extern "C" fn(*mut *mut c_void, CallbackFn, *mut c_void) -> u32;
type EnableDomainFn = unsafe extern "C" fn(u32, *mut c_void, u32) -> u32;
type ResultStringFn = unsafe extern "C" fn(u32, *mut *const c_char) -> u32;

/// Records only while set; CUPTI domains are also switched off, this is the cheap early exit.
static ACTIVE: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Inside the callback: calls the callback itself makes (pointer queries) are not traced.
    static IN_CALLBACK: Cell<bool> = const { Cell::new(false) };
    /// Open runtime calls on this thread: their internal driver calls are not counted twice.
    static RUNTIME_DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// A subscribed CUPTI. The library stays loaded until the process exits: a run that unloaded it
/// while still subscribed crashed (CUPTI 13.0).
pub struct Cupti {
    subscriber: *mut c_void,
    enable_domain: EnableDomainFn,
    result_string: ResultStringFn,
    pub library: String,
}

/// Names tried in order; `PROBE_CUPTI` overrides them.
fn candidates() -> Vec<String> {
    if let Ok(p) = std::env::var("PROBE_CUPTI") {
        return vec![p];
    }
    let mut names = vec!["libcupti.so.13".to_string(), "libcupti.so.12".to_string(), "libcupti.so".to_string()];
    for root in [std::env::var("CUDA_HOME").ok(), Some("/usr/local/cuda".to_string())].into_iter().flatten() {
        names.push(format!("{root}/extras/CUPTI/lib64/libcupti.so"));
        names.push(format!("{root}/targets/x86_64-linux/lib/libcupti.so.13"));
    }
    names
}

impl Cupti {
    /// Loads libcupti and subscribes the callback, with tracing off.
    pub fn load() -> Result<Self, ProbeError> {
        let names = candidates();
        let (lib, library) = names
            .iter()
            .find_map(|name| {
                // SAFETY: loading libcupti runs its initialisers, which only register with the
                // CUDA driver; it has no Rust-side invariants to uphold.
                unsafe { libloading::Library::new(name) }.ok().map(|l| (l, name.clone()))
            })
            .ok_or_else(|| ProbeError::Tracer(format!("libcupti not found (tried {})", names.join(", "))))?;
        let lib: &'static libloading::Library = Box::leak(Box::new(lib));
        // SAFETY: the symbol types are the C signatures from cupti_callbacks.h / cupti_result.h,
        // and the library is leaked, so the function pointers stay valid for the process.
        let (subscribe, enable_domain, result_string) = unsafe {
            let get = |name: &[u8]| lib.get::<*const c_void>(name).map(|s| *s);
            let sym_err = |e: libloading::Error| ProbeError::Tracer(format!("{library}: {e}"));
            (
                std::mem::transmute::<*const c_void, SubscribeFn>(get(b"cuptiSubscribe\0").map_err(sym_err)?),
                std::mem::transmute::<*const c_void, EnableDomainFn>(get(b"cuptiEnableDomain\0").map_err(sym_err)?),
                std::mem::transmute::<*const c_void, ResultStringFn>(get(b"cuptiGetResultString\0").map_err(sym_err)?),
            )
        };
        let mut subscriber = std::ptr::null_mut();
        // SAFETY: `on_api` has the CUpti_CallbackFunc signature and never unwinds; `subscriber`
        // is a valid out pointer.
        let rc = unsafe { subscribe(&mut subscriber, on_api, std::ptr::null_mut()) };
        let cupti = Self { subscriber, enable_domain, result_string, library };
        if rc != 0 {
            return Err(ProbeError::Tracer(format!(
                "cuptiSubscribe failed: {} (a profiler already attached, or no usable driver?)",
                cupti.describe(rc)
            )));
        }
        Ok(cupti)
    }

    fn describe(&self, rc: u32) -> String {
        let mut s: *const c_char = std::ptr::null();
        // SAFETY: valid out pointer; CUPTI returns a static string or leaves it null.
        if unsafe { (self.result_string)(rc, &mut s) } == 0 && !s.is_null() {
            // SAFETY: non-null, NUL-terminated static string from CUPTI.
            return unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned();
        }
        format!("CUPTI error {rc}")
    }

    /// Switches the driver and runtime callbacks on or off.
    pub fn set_enabled(&self, on: bool) -> Result<(), ProbeError> {
        ACTIVE.store(on, Ordering::SeqCst);
        for domain in [DOMAIN_DRIVER, DOMAIN_RUNTIME] {
            // SAFETY: `subscriber` came from a successful cuptiSubscribe and is never released.
            let rc = unsafe { (self.enable_domain)(u32::from(on), self.subscriber, domain) };
            if rc != 0 {
                return Err(ProbeError::Tracer(format!("cuptiEnableDomain({domain}) failed: {}", self.describe(rc))));
            }
        }
        Ok(())
    }
}

/// Where a host pointer lives, asked of the driver. Memory the driver does not know is pageable.
fn host_memory(ptr: usize) -> Memory {
    let mut kind = 0u32;
    // SAFETY: `kind` is a valid out pointer of the attribute's size (CUmemorytype is a C enum);
    // the call only reads the driver's allocation tables.
    let rc = unsafe {
        sys::cuPointerGetAttribute(
            (&mut kind as *mut u32).cast(),
            sys::CUpointer_attribute::CU_POINTER_ATTRIBUTE_MEMORY_TYPE,
            ptr as sys::CUdeviceptr,
        )
    };
    match (rc, kind) {
        (sys::CUresult::CUDA_SUCCESS, 1) => Memory::PinnedHost, // CU_MEMORYTYPE_HOST
        (sys::CUresult::CUDA_SUCCESS, _) => Memory::Device,
        _ => Memory::PageableHost,
    }
}

unsafe extern "C" fn on_api(_user: *mut c_void, domain: u32, cbid: u32, data: *const c_void) {
    // A panic must not unwind into CUPTI; a lost record is better than an abort.
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: CUPTI passes a CUpti_CallbackData for the driver and runtime domains, valid for
        // the duration of the callback.
        unsafe { handle(domain, cbid, data) }
    });
}

/// # Safety
/// `data` is CUPTI's callback data for `domain`.
unsafe fn handle(domain: u32, cbid: u32, data: *const c_void) {
    if data.is_null() || !ACTIVE.load(Ordering::Relaxed) || IN_CALLBACK.with(Cell::get) {
        return;
    }
    if domain != DOMAIN_DRIVER && domain != DOMAIN_RUNTIME {
        return;
    }
    // SAFETY: see the function's contract.
    let d = unsafe { &*data.cast::<CallbackData>() };
    if domain == DOMAIN_RUNTIME {
        RUNTIME_DEPTH.with(|depth| match d.callback_site {
            SITE_ENTER => depth.set(depth.get() + 1),
            _ => depth.set(depth.get().saturating_sub(1)),
        });
    }
    if d.callback_site != SITE_EXIT {
        return;
    }
    let _reentry = Reentry::enter();
    let result = if d.function_return_value.is_null() {
        0
    } else {
        // SAFETY: CUresult and cudaError_t are C enums (int-sized).
        unsafe { *d.function_return_value.cast::<i32>() }
    };
    let api: &'static str = if d.function_name.is_null() {
        "?"
    } else {
        // SAFETY: CUPTI documents functionName as a global constant string; the library is never
        // unloaded, so it lives for the process.
        unsafe { CStr::from_ptr(d.function_name) }.to_str().unwrap_or("?")
    };
    if current_stage() == Stage::Capture {
        record_capture_call(api, result);
    }
    // Driver calls made inside a runtime call are that runtime call's business.
    let nested = domain == DOMAIN_DRIVER && RUNTIME_DEPTH.with(Cell::get) > 0;
    let kind = match domain {
        DOMAIN_DRIVER if !nested => cbid::driver_call(cbid),
        DOMAIN_RUNTIME => cbid::runtime_call(cbid),
        _ => None,
    };
    if let Some(kind) = kind {
        // SAFETY: CUPTI passes this cbid's parameter struct in functionParams.
        if let Some((class, bytes, host)) = unsafe { cbid::classify(kind, d.function_params, host_memory) } {
            record_sync(class, api, bytes, host, result);
        }
    }
}

/// Marks this thread as inside the callback until dropped (also on a caught panic).
struct Reentry;

impl Reentry {
    fn enter() -> Self {
        IN_CALLBACK.with(|c| c.set(true));
        Reentry
    }
}

impl Drop for Reentry {
    fn drop(&mut self) {
        IN_CALLBACK.with(|c| c.set(false));
    }
}
