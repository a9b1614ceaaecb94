//! A bump arena for the parsers.
//!
//! Parsing a file makes many small allocations (the syntax tree, the token buffer, scratch
//! vectors) that all die together when the per-file pass drops the tree. Served one by one by
//! the general-purpose allocator, scattered over its pages, then freed by walking the tree,
//! they cost far more time than their instruction count suggests. [`ParseArena`] wraps the
//! global allocator: while a thread runs a parse inside [`Slot::run`], its allocations are
//! carved in order from that slot's memory (reused, so warm in cache, file after file), and the
//! tree is dropped by reusing the slot whole ([`Slot::holds_everything`]).
//!
//! The binary installs it (`#[global_allocator]`); without it (the library's unit tests)
//! claiming a slot fails and parsing uses the ordinary allocator.
//!
//! Safety rests on one rule, kept by the owners of what a run builds (`python::adapter::
//! ParsedModule`, `rust::parser::ParsedFile`; hence [`Slot::run`] is `unsafe`): a slot is
//! released only once nothing allocated in it is reachable any more (the tree is forgotten or
//! dropped first, and cannot be moved out), and a slot whose run panicked is never reused.
//! Frees of arena memory are no-ops, so dropping the tree normally is always sound too.
//!
//! The rule covers *every* allocation the thread makes during a run, not only the tree's. A
//! lazily initialised static or thread-local with heap contents, first touched inside a run,
//! would be carved from the slot and overwritten by the next parse. The code run in a slot is
//! a parser alone: ruff_python_parser =0.0.10 and its dependencies, checked for such state (the
//! only heap-owning lazy static, ruff_python_ast's string-prefix matcher, is not reached by
//! parsing; stacker's thread-local holds a plain integer; re-check this when the parser is
//! upgraded), or graphlint's own Rust lexer and parser, which keep no state outside the
//! tree. The run must also not hand control to other work (no rayon `join`/`scope` inside
//! it), since that work's allocations would land in the slot too.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;

/// Slots, one per thread parsing at the same time (more threads fall back to the allocator).
const SLOTS: usize = 8;
/// A slot's address space; a parse that needs more continues in the ordinary allocator. Only
/// the pages a parse touches become resident.
const SLOT_BYTES: usize = 64 << 20;

/// The slots' memory: its start once reserved (0 before, and for good when [`ParseArena`] is
/// not the global allocator).
static BASE: AtomicUsize = AtomicUsize::new(0);
static RESERVED: OnceLock<usize> = OnceLock::new();
static CLAIMED: [AtomicBool; SLOTS] = [const { AtomicBool::new(false) }; SLOTS];

/// The free part of the slot this thread is parsing into; `end == 0` when not parsing.
#[derive(Clone, Copy)]
struct Bump {
    next: usize,
    end: usize,
    overflowed: bool,
}

const IDLE: Bump = Bump { next: 0, end: 0, overflowed: false };

thread_local! {
    static BUMP: Cell<Bump> = const { Cell::new(IDLE) };
}

/// The global allocator `A`, plus the parse arena.
pub struct ParseArena<A>(pub A);

fn in_arena(ptr: *mut u8) -> bool {
    let base = BASE.load(Ordering::Relaxed);
    let address = ptr as usize;
    base != 0 && address >= base && address < base + SLOTS * SLOT_BYTES
}

/// Whether `address` is the end of the last block carved from this thread's active slot.
fn is_last_block(bump: Bump, address: usize) -> bool {
    bump.end != 0 && address == bump.next && address > bump.end - SLOT_BYTES
}

/// Carves `layout` from this thread's slot, if it is parsing and the slot has room.
fn bump(layout: Layout) -> Option<*mut u8> {
    let bump = BUMP.get();
    if bump.end == 0 {
        return None;
    }
    let start = (bump.next + layout.align() - 1) & !(layout.align() - 1);
    match start.checked_add(layout.size()) {
        Some(next) if next <= bump.end => {
            BUMP.set(Bump { next, ..bump });
            Some(start as *mut u8)
        }
        _ => {
            BUMP.set(Bump { overflowed: true, ..bump });
            None
        }
    }
}

// SAFETY: arena blocks are disjoint ranges of memory reserved from `A` and never handed out
// twice while claimed (see the module documentation); everything else is `A`'s.
unsafe impl<A: GlobalAlloc> GlobalAlloc for ParseArena<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match bump(layout) {
            Some(ptr) => ptr,
            // SAFETY: forwarded with the caller's guarantees.
            None => unsafe { self.0.alloc(layout) },
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match bump(layout) {
            Some(ptr) => {
                // SAFETY: `ptr` is valid for `layout.size()` bytes (a slot is reused, not zeroed).
                unsafe { std::ptr::write_bytes(ptr, 0, layout.size()) };
                ptr
            }
            // SAFETY: forwarded with the caller's guarantees.
            None => unsafe { self.0.alloc_zeroed(layout) },
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if in_arena(ptr) {
            // The last block of an active slot is given back (scratch buffers); others wait
            // for the slot's reuse.
            let bump = BUMP.get();
            if is_last_block(bump, ptr as usize + layout.size()) {
                BUMP.set(Bump { next: ptr as usize, ..bump });
            }
            return;
        }
        // SAFETY: not an arena block, so it came from `A`.
        unsafe { self.0.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !in_arena(ptr) {
            // SAFETY: not an arena block, so it came from `A`.
            return unsafe { self.0.realloc(ptr, layout, new_size) };
        }
        // The last block of an active slot grows (or shrinks) in place: vectors that grow
        // while the parser fills them do not copy.
        let bump = BUMP.get();
        let address = ptr as usize;
        if is_last_block(bump, address + layout.size()) && address + new_size <= bump.end {
            BUMP.set(Bump { next: address + new_size, ..bump });
            return ptr;
        }
        // Any other block shrinks in place: its tail waits for the slot's reuse, like a freed
        // block (the parser's `shrink_to_fit` of its token buffer would otherwise copy it whole).
        if new_size <= layout.size() {
            return ptr;
        }
        // SAFETY: `new_size` is non-zero and does not overflow when rounded to the alignment
        // (the caller's guarantees for `realloc`).
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: as above.
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are valid for the copied length and do not overlap.
            unsafe { std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size)) };
        }
        new
    }
}

/// A slot of the arena, owned by one parse at a time.
pub struct Slot {
    index: usize,
    next: usize,
    end: usize,
    overflowed: bool,
    poisoned: bool,
}

impl Slot {
    /// A free slot, emptied; `None` when the arena allocator is not installed or every slot is
    /// in use.
    pub fn claim() -> Option<Slot> {
        let base = reserve()?;
        let index = CLAIMED
            .iter()
            .position(|c| c.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok())?;
        let start = base + index * SLOT_BYTES;
        Some(Slot { index, next: start, end: start + SLOT_BYTES, overflowed: false, poisoned: false })
    }

    /// Runs `f` with this thread's allocations carved from the slot.
    ///
    /// If `f` panics, the slot is never reused: whatever the unwinding allocated meanwhile (the
    /// payload, a test harness's output buffer) may outlive the run.
    ///
    /// # Safety
    ///
    /// Everything `f` allocates and leaves reachable when it returns (its result, and any state
    /// it initialises outside itself: statics, thread-locals) lives in the slot and becomes
    /// invalid when the slot is dropped, while safe code could still reach it. The caller must
    /// make sure that all of it is dropped or forgotten, and never used, before the slot is
    /// dropped. (What a panicking `f` leaves behind is safe: that slot is never reused.)
    pub unsafe fn run<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let outer = BUMP.replace(Bump { next: self.next, end: self.end, overflowed: false });
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let inner = BUMP.replace(outer);
        self.next = inner.next;
        self.overflowed |= inner.overflowed;
        match result {
            Ok(value) => value,
            Err(payload) => {
                self.poisoned = true;
                std::panic::resume_unwind(payload)
            }
        }
    }

    /// The bytes carved from the slot so far.
    pub fn used(&self) -> usize {
        self.next - (self.end - SLOT_BYTES)
    }

    /// Whether everything allocated during [`Self::run`] is in the slot: then what was built
    /// there can be forgotten instead of dropped.
    pub fn holds_everything(&self) -> bool {
        !self.overflowed
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if !self.poisoned {
            CLAIMED[self.index].store(false, Ordering::Release);
        }
    }
}

/// The slots' memory, reserved once; `None` when the arena allocator is not installed.
fn reserve() -> Option<usize> {
    let base = *RESERVED.get_or_init(|| {
        let Ok(layout) = Layout::from_size_align(SLOTS * SLOT_BYTES, 4096) else { return 0 };
        if !cfg!(target_pointer_width = "64") {
            return 0;
        }
        // SAFETY: the layout has a non-zero size.
        let base = unsafe { std::alloc::alloc(layout) } as usize;
        if base == 0 {
            return 0;
        }
        // Probe: is an allocation made while "parsing" carved from the slot? Only if the global
        // allocator is a `ParseArena`.
        let outer = BUMP.replace(Bump { next: base, end: base + 64, overflowed: false });
        // (black_box: the compiler may otherwise place an unobserved box on the stack.)
        let probe = std::hint::black_box(Box::new(0u64));
        BUMP.set(outer);
        if std::ptr::addr_of!(*probe) as usize == base {
            std::mem::forget(probe);
            BASE.store(base, Ordering::Release);
            base
        } else {
            drop(probe);
            // SAFETY: allocated above with this layout, and never handed out.
            unsafe { std::alloc::dealloc(base as *mut u8, layout) };
            0
        }
    });
    (base != 0).then_some(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test binary's global allocator is the system's: no slot, parsing goes on without.
    #[test]
    fn no_slot_without_the_allocator() {
        assert!(Slot::claim().is_none());
    }
}
