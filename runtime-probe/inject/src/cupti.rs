//! CUPTI, opened at run time, with callbacks enabled one by one: the sync-class calls of the
//! catalogue and the stream-capture boundaries. Kernel launches and every other call are never
//! called back, which keeps the traced program's speed.

use std::collections::HashMap;
use std::ffi::{c_char, c_void, CStr};
use std::sync::OnceLock;

use sync_catalogue::cbid::{self, CallKind, CaptureBoundary, DOMAIN_DRIVER, DOMAIN_RUNTIME};

/// `CUpti_CallbackData` (cupti_callbacks.h).
#[repr(C)]
pub struct CallbackData {
    pub callback_site: u32,
    pub function_name: *const c_char,
    pub function_params: *const c_void,
    pub function_return_value: *mut c_void,
    pub symbol_name: *const c_char,
    pub context: *mut c_void,
    pub context_uid: u32,
    pub correlation_data: *mut u64,
    pub correlation_id: u32,
}

pub type CallbackFn = unsafe extern "C" fn(*mut c_void, u32, u32, *const c_void);
type SubscribeFn = unsafe extern "C" fn(*mut *mut c_void, CallbackFn, *mut c_void) -> u32;
type EnableCallbackFn = unsafe extern "C" fn(u32, *mut c_void, u32, u32) -> u32;
type CallbackNameFn = unsafe extern "C" fn(u32, u32, *mut *const c_char) -> u32;
type TimestampFn = unsafe extern "C" fn(*mut u64) -> u32;
type ResultStringFn = unsafe extern "C" fn(u32, *mut *const c_char) -> u32;

/// What a called-back id is.
#[derive(Clone, Copy, Debug)]
pub enum Watched {
    Sync(CallKind),
    Capture(CaptureBoundary),
}

pub struct Cupti {
    pub library: String,
    timestamp: TimestampFn,
    /// `(domain, cbid)` → what it is; filled before the first callback, read-only after.
    pub watched: HashMap<(u32, u32), Watched>,
    /// CUPTI's names of the watched ids, sorted: the trace's record of what was traced.
    pub watched_names: Vec<String>,
}

static CUPTI: OnceLock<Cupti> = OnceLock::new();

pub fn get() -> Option<&'static Cupti> {
    CUPTI.get()
}

fn candidates() -> Vec<String> {
    if let Ok(p) = std::env::var("PROBE_CUPTI") {
        return vec![p];
    }
    // By soname first: PyTorch's own libcupti, when already loaded, is then the one used.
    let mut names: Vec<String> = ["libcupti.so.13", "libcupti.so.12", "libcupti.so"].map(String::from).into();
    for root in [std::env::var("CUDA_HOME").ok(), Some("/usr/local/cuda".to_string())].into_iter().flatten() {
        names.push(format!("{root}/extras/CUPTI/lib64/libcupti.so"));
        names.push(format!("{root}/targets/x86_64-linux/lib/libcupti.so.13"));
    }
    names
}

/// Loads CUPTI, subscribes `callback` and enables the watched ids. The library stays loaded for
/// the process (unloading it while subscribed crashed; shared/cuda/NOTES.md).
pub fn start(callback: CallbackFn) -> Result<&'static Cupti, String> {
    let names = candidates();
    let (lib, library) = names
        .iter()
        // SAFETY: loading libcupti runs only its initialisers, which register with the driver.
        .find_map(|n| unsafe { libloading::Library::new(n) }.ok().map(|l| (l, n.clone())))
        .ok_or_else(|| format!("libcupti not found (tried {})", names.join(", ")))?;
    let lib: &'static libloading::Library = Box::leak(Box::new(lib));
    let sym = |name: &str| -> Result<*const c_void, String> {
        // SAFETY: looks a symbol up in a library that is never unloaded.
        unsafe { lib.get::<*const c_void>(name.as_bytes()) }.map(|s| *s).map_err(|e| format!("{library}: {e}"))
    };
    // SAFETY: each type is the function's C signature from cupti_callbacks.h / cupti_result.h /
    // cupti_activity.h.
    let (subscribe, enable, name_of, timestamp, result_string) = unsafe {
        (
            std::mem::transmute::<*const c_void, SubscribeFn>(sym("cuptiSubscribe\0")?),
            std::mem::transmute::<*const c_void, EnableCallbackFn>(sym("cuptiEnableCallback\0")?),
            std::mem::transmute::<*const c_void, CallbackNameFn>(sym("cuptiGetCallbackName\0")?),
            std::mem::transmute::<*const c_void, TimestampFn>(sym("cuptiGetTimestamp\0")?),
            std::mem::transmute::<*const c_void, ResultStringFn>(sym("cuptiGetResultString\0")?),
        )
    };
    let describe = |rc: u32| {
        let mut s: *const c_char = std::ptr::null();
        // SAFETY: valid out pointer; CUPTI sets a static string or leaves it null.
        if unsafe { result_string(rc, &mut s) } == 0 && !s.is_null() {
            // SAFETY: a NUL-terminated static string.
            return unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned();
        }
        format!("CUPTI error {rc}")
    };

    let mut watched = HashMap::new();
    let mut names = HashMap::new();
    for domain in [DOMAIN_DRIVER, DOMAIN_RUNTIME] {
        for id in cbid::sync_ids(domain) {
            let kind = if domain == DOMAIN_DRIVER { cbid::driver_call(id) } else { cbid::runtime_call(id) };
            watched.extend(kind.map(|k| ((domain, id), Watched::Sync(k))));
        }
        // Capture calls by name: CUPTI names every id of this release.
        for id in 0..4096u32 {
            let mut name: *const c_char = std::ptr::null();
            // SAFETY: valid out pointer; ids past the last one return an error.
            if unsafe { name_of(domain, id, &mut name) } != 0 || name.is_null() {
                continue;
            }
            // SAFETY: CUPTI returns a static NUL-terminated name.
            let name = unsafe { CStr::from_ptr(name) }.to_string_lossy().into_owned();
            if let Some(b) = cbid::capture_boundary(&name) {
                watched.insert((domain, id), Watched::Capture(b));
            }
            names.insert((domain, id), name);
        }
    }
    let mut watched_names: Vec<String> =
        watched.keys().map(|k| names.get(k).cloned().unwrap_or_else(|| format!("cbid {k:?}"))).collect();
    watched_names.sort();
    let cupti = CUPTI.get_or_init(|| Cupti { library, timestamp, watched, watched_names });

    let mut subscriber = std::ptr::null_mut();
    // SAFETY: `callback` has CUPTI's callback signature and never unwinds; valid out pointer.
    let rc = unsafe { subscribe(&mut subscriber, callback, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(format!(
            "cuptiSubscribe failed: {} (another CUPTI subscriber, such as a profiler, came first)",
            describe(rc)
        ));
    }
    for &(domain, id) in cupti.watched.keys() {
        // SAFETY: `subscriber` came from a successful cuptiSubscribe and is never released.
        let rc = unsafe { enable(1, subscriber, domain, id) };
        if rc != 0 {
            return Err(format!("cuptiEnableCallback({domain}, {id}) failed: {}", describe(rc)));
        }
    }
    Ok(cupti)
}

impl Cupti {
    /// CUPTI's clock, in ns.
    pub fn now(&self) -> u64 {
        let mut t = 0u64;
        // SAFETY: valid out pointer.
        unsafe { (self.timestamp)(&mut t) };
        t
    }
}
