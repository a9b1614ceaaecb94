//! The Python stack of the thread making a CUDA call, read through the CPython C API of the
//! process (found with `dlsym`; CPython 3.10–3.13, the GIL build).
//!
//! **Why this is safe when the op released the GIL.** PyTorch releases the GIL around almost every
//! op, so the calling thread usually does not hold it when CUDA calls back. Reading frames without
//! the GIL is not safe (3.11+ may allocate a frame object; strings may be converted lazily), so the
//! stack is always read by a thread that holds the GIL:
//! - the calling thread itself when it holds the GIL (`PyGILState_Check`);
//! - otherwise a helper thread of this library takes the GIL (`PyGILState_Ensure`) and reads the
//!   calling thread's frames (`PyThreadState_GetFrame` on its thread state, as `sys._current_frames`
//!   does). They cannot change meanwhile: the calling thread is blocked in the CUDA callback, and
//!   even after it returns it cannot run Python until the helper gives the GIL back.
//!
//! **Why this cannot deadlock.** Taking the GIL on the calling thread could: another thread holding
//! the GIL may wait on a lock the calling thread holds (a tensor freed by the garbage collector
//! waits on PyTorch's allocator mutex while the allocator calls `cudaFree` under it). So the calling
//! thread never takes the GIL; it waits for the helper at most [`GIL_WAIT`], then gives up on that
//! stack (the record says so) and returns, which releases whatever it holds. The helper finds the
//! request cancelled when it finally gets the GIL and reads nothing. The helper makes no CUDA calls,
//! and its own callbacks are ignored. During interpreter start and shutdown no stack is read.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

use serde_json::{json, Value};

/// How long a CUDA call waits for the helper to read its stack before going on without it.
pub const GIL_WAIT: Duration = Duration::from_millis(250);
/// Frames kept per stack, innermost first.
const MAX_FRAMES: usize = 64;

type Obj = *mut c_void;

/// The CPython functions used, all in the stable C API of 3.10–3.13.
struct Api {
    version: String,
    gil_check: unsafe extern "C" fn() -> c_int,
    this_thread_state: unsafe extern "C" fn() -> Obj,
    gil_ensure: unsafe extern "C" fn() -> c_int,
    gil_release: unsafe extern "C" fn(c_int),
    is_initialized: unsafe extern "C" fn() -> c_int,
    is_finalizing: unsafe extern "C" fn() -> c_int,
    thread_frame: unsafe extern "C" fn(Obj) -> Obj,
    frame_code: unsafe extern "C" fn(Obj) -> Obj,
    frame_line: unsafe extern "C" fn(Obj) -> c_int,
    frame_back: unsafe extern "C" fn(Obj) -> Obj,
    get_attr: unsafe extern "C" fn(Obj, *const c_char) -> Obj,
    as_utf8: unsafe extern "C" fn(Obj, *mut isize) -> *const c_char,
    dec_ref: unsafe extern "C" fn(Obj),
    err_fetch: unsafe extern "C" fn(*mut Obj, *mut Obj, *mut Obj),
    err_restore: unsafe extern "C" fn(Obj, Obj, Obj),
}

// SAFETY: the struct holds only function pointers into the process's libpython.
unsafe impl Send for Api {}
unsafe impl Sync for Api {}

fn symbol(name: &str) -> Option<*mut c_void> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: dlsym with RTLD_DEFAULT only looks names up in the loaded objects.
    let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c.as_ptr()) };
    (!p.is_null()).then_some(p)
}

/// What the process's Python is, and why no stack can be read when none can.
pub enum Interpreter {
    Supported(&'static str),
    Unsupported(String),
    Absent,
}

static API: OnceLock<Result<Api, Option<String>>> = OnceLock::new();

// Each transmute's target is the `Api` field it initialises, spelled there once.
#[allow(clippy::missing_transmute_annotations)]
fn load() -> Result<Api, Option<String>> {
    let Some(version_fn) = symbol("Py_GetVersion") else { return Err(None) };
    // SAFETY: Py_GetVersion has this signature and returns a static string.
    let full = unsafe {
        CStr::from_ptr(std::mem::transmute::<*mut c_void, unsafe extern "C" fn() -> *const c_char>(version_fn)())
    }
    .to_string_lossy()
    .into_owned();
    let version = full.split_whitespace().next().unwrap_or("").to_string();
    let minor: Option<u32> = version.strip_prefix("3.").and_then(|r| r.split('.').next()).and_then(|m| m.parse().ok());
    if !matches!(minor, Some(10..=13)) {
        return Err(Some(format!("Python {version}: stacks are read for CPython 3.10-3.13 only")));
    }
    if symbol("_Py_IsFinalizing").or_else(|| symbol("Py_IsFinalizing")).is_none() {
        return Err(Some(format!("Python {version}: no Py_IsFinalizing")));
    }
    macro_rules! f {
        ($name:literal) => {{
            let p = symbol($name).ok_or_else(|| Some(format!("Python {version}: no {}", $name)))?;
            // SAFETY: the field's type is the symbol's C signature in CPython 3.10-3.13.
            unsafe { std::mem::transmute::<*mut c_void, _>(p) }
        }};
    }
    let is_finalizing = match symbol("Py_IsFinalizing") {
        // SAFETY: `int Py_IsFinalizing(void)` (3.13), `int _Py_IsFinalizing(void)` before.
        Some(p) => unsafe { std::mem::transmute::<*mut c_void, unsafe extern "C" fn() -> c_int>(p) },
        None => f!("_Py_IsFinalizing"),
    };
    Ok(Api {
        version: version.clone(),
        gil_check: f!("PyGILState_Check"),
        this_thread_state: f!("PyGILState_GetThisThreadState"),
        gil_ensure: f!("PyGILState_Ensure"),
        gil_release: f!("PyGILState_Release"),
        is_initialized: f!("Py_IsInitialized"),
        is_finalizing,
        thread_frame: f!("PyThreadState_GetFrame"),
        frame_code: f!("PyFrame_GetCode"),
        frame_line: f!("PyFrame_GetLineNumber"),
        frame_back: f!("PyFrame_GetBack"),
        get_attr: f!("PyObject_GetAttrString"),
        as_utf8: f!("PyUnicode_AsUTF8AndSize"),
        dec_ref: f!("Py_DecRef"),
        err_fetch: f!("PyErr_Fetch"),
        err_restore: f!("PyErr_Restore"),
    })
}

fn api() -> Option<&'static Api> {
    API.get_or_init(load).as_ref().ok()
}

pub fn interpreter() -> Interpreter {
    match API.get_or_init(load) {
        Ok(api) => Interpreter::Supported(&api.version),
        Err(Some(why)) => Interpreter::Unsupported(why.clone()),
        Err(None) => Interpreter::Absent,
    }
}

impl Api {
    fn running(&self) -> bool {
        // SAFETY: both may be called at any time, with or without the GIL.
        unsafe { (self.is_initialized)() != 0 && (self.is_finalizing)() == 0 }
    }

    /// A `str` attribute of `obj`, or `None`.
    ///
    /// # Safety
    /// The GIL is held and `obj` is a live object.
    unsafe fn str_attr(&self, obj: Obj, name: &CStr) -> Option<String> {
        // SAFETY: per the contract; every new reference is released.
        unsafe {
            let value = (self.get_attr)(obj, name.as_ptr());
            if value.is_null() {
                return None;
            }
            let mut len = 0isize;
            let p = (self.as_utf8)(value, &mut len);
            let text = (!p.is_null()).then(|| {
                String::from_utf8_lossy(std::slice::from_raw_parts(p.cast::<u8>(), len as usize)).into_owned()
            });
            (self.dec_ref)(value);
            text
        }
    }

    /// The frames of `tstate`, innermost first, as `{file, line, function}`.
    ///
    /// # Safety
    /// The calling thread holds the GIL, and `tstate` is a live thread state that runs no Python
    /// meanwhile (its own thread, or one blocked in a CUDA callback).
    unsafe fn frames(&self, tstate: Obj) -> Vec<Value> {
        let mut out = Vec::new();
        // SAFETY: per the contract. The caller's pending exception (if any) is kept aside so that
        // failed attribute lookups neither see nor clobber it.
        unsafe {
            let (mut t, mut v, mut tb) = (std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut());
            (self.err_fetch)(&mut t, &mut v, &mut tb);
            let mut frame = (self.thread_frame)(tstate);
            while !frame.is_null() && out.len() < MAX_FRAMES {
                let code = (self.frame_code)(frame);
                let line = (self.frame_line)(frame);
                let (file, function) = if code.is_null() {
                    (None, None)
                } else {
                    let file = self.str_attr(code, c"co_filename");
                    let name = self.str_attr(code, c"co_qualname").or_else(|| self.str_attr(code, c"co_name"));
                    (self.dec_ref)(code);
                    (file, name)
                };
                // Failed lookups (co_qualname before 3.11) leave an exception: drop it.
                let (mut a, mut b, mut c) = (std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut());
                (self.err_fetch)(&mut a, &mut b, &mut c);
                for o in [a, b, c] {
                    if !o.is_null() {
                        (self.dec_ref)(o);
                    }
                }
                out.push(json!({"file": file, "line": line, "function": function}));
                let back = (self.frame_back)(frame);
                (self.dec_ref)(frame);
                frame = back;
            }
            if !frame.is_null() {
                (self.dec_ref)(frame);
            }
            (self.err_restore)(t, v, tb);
        }
        out
    }
}

/// The calling thread's Python stack: `None` when it is not a Python thread (or the process runs
/// no supported Python), `Some(Err(why))` when it is one but the stack could not be read.
pub fn stack() -> Option<Result<Vec<Value>, String>> {
    let api = api()?;
    // SAFETY: reads this thread's thread-state slot; valid with or without the GIL.
    let tstate = unsafe { (api.this_thread_state)() };
    if tstate.is_null() {
        return None;
    }
    if !api.running() {
        return Some(Err("the interpreter is starting or shutting down".into()));
    }
    // SAFETY: may be called at any time.
    if unsafe { (api.gil_check)() } == 1 {
        // SAFETY: this thread holds the GIL and reads its own frames.
        return Some(Ok(unsafe { api.frames(tstate) }));
    }
    Some(read_by_helper(tstate))
}

enum State {
    Waiting,
    Reading,
    Done(Vec<Value>),
    Failed(String),
    Cancelled,
}

struct Request {
    tstate: usize,
    state: Mutex<State>,
    changed: Condvar,
}

static QUEUE: Mutex<Vec<Arc<Request>>> = Mutex::new(Vec::new());
static QUEUE_READY: Condvar = Condvar::new();
/// The process the helper thread runs in (a forked child starts its own).
static HELPER_PID: AtomicU32 = AtomicU32::new(0);

thread_local! {
    /// Set on the helper thread: CUDA callbacks there are not traced.
    pub static IS_HELPER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn ensure_helper() {
    let me = std::process::id();
    if HELPER_PID.swap(me, Ordering::SeqCst) == me {
        return;
    }
    let spawned = std::thread::Builder::new().name("probe-pystack".into()).spawn(helper);
    if spawned.is_err() {
        HELPER_PID.store(0, Ordering::SeqCst);
    }
}

fn read_by_helper(tstate: Obj) -> Result<Vec<Value>, String> {
    ensure_helper();
    let request =
        Arc::new(Request { tstate: tstate as usize, state: Mutex::new(State::Waiting), changed: Condvar::new() });
    lock(&QUEUE).push(request.clone());
    QUEUE_READY.notify_one();
    let mut state = lock(&request.state);
    let deadline = std::time::Instant::now() + GIL_WAIT;
    loop {
        match std::mem::replace(&mut *state, State::Cancelled) {
            State::Done(frames) => return Ok(frames),
            State::Failed(why) => return Err(why),
            // The helper holds the GIL and is reading: that ends without waiting on anything.
            State::Reading => *state = State::Reading,
            State::Waiting if std::time::Instant::now() >= deadline => {
                // Left as Cancelled: the helper skips it.
                return Err(format!("the GIL stayed busy for {} ms", GIL_WAIT.as_millis()));
            }
            other => *state = other,
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now()).max(Duration::from_millis(1));
        state = request.changed.wait_timeout(state, left).unwrap_or_else(|e| e.into_inner()).0;
    }
}

fn helper() {
    IS_HELPER.with(|h| h.set(true));
    let Some(api) = api() else { return };
    loop {
        let request = {
            let mut queue = lock(&QUEUE);
            while queue.is_empty() {
                queue = QUEUE_READY.wait(queue).unwrap_or_else(|e| e.into_inner());
            }
            queue.remove(0)
        };
        if matches!(*lock(&request.state), State::Cancelled) {
            continue;
        }
        if !api.running() {
            *lock(&request.state) = State::Failed("the interpreter is shutting down".into());
            request.changed.notify_all();
            continue;
        }
        // SAFETY: the interpreter runs (checked just above); this thread holds no other lock here.
        let gil = unsafe { (api.gil_ensure)() };
        let frames = {
            let mut state = lock(&request.state);
            if matches!(*state, State::Cancelled) {
                None
            } else {
                *state = State::Reading;
                Some(())
            }
        }
        .map(|()| {
            // SAFETY: this thread holds the GIL; the requesting thread is blocked in its callback
            // (state Reading keeps it waiting) and cannot run Python while the GIL is held here.
            unsafe { api.frames(request.tstate as Obj) }
        });
        // SAFETY: releases what PyGILState_Ensure took, on the same thread.
        unsafe { (api.gil_release)(gil) };
        if let Some(frames) = frames {
            *lock(&request.state) = State::Done(frames);
            request.changed.notify_all();
        }
    }
}
