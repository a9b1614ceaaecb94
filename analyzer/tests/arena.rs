//! The parser's bump arena (`graphlint::arena`), installed as this test binary's global
//! allocator the way the `graphlint` binary installs it.

use std::sync::Mutex;

use graphlint::arena::{ParseArena, Slot};
use graphlint::python::adapter;

#[global_allocator]
static GLOBAL: ParseArena<std::alloc::System> = ParseArena(std::alloc::System);

/// The tests claim slots (one claims them all): one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

#[test]
fn allocations_during_a_run_are_carved_from_the_slot() {
    let _serial = SERIAL.lock().unwrap();
    let mut slot = Slot::claim().expect("the arena allocator is installed");
    assert_eq!(slot.used(), 0, "a claimed slot starts empty");
    // SAFETY (every run in this test): its results are dropped before the slot, at the end.
    let boxed = unsafe { slot.run(|| Box::new([7u8; 1000])) };
    assert!(slot.used() >= 1000);
    // A vector that grows while it is the last block grows in place: the slot holds its final
    // capacity once, not every capacity it went through.
    let before = slot.used();
    let grown = unsafe {
        slot.run(|| {
            let mut v: Vec<u64> = Vec::new();
            for i in 0..100_000 {
                v.push(i);
            }
            v
        })
    };
    assert_eq!(grown.iter().sum::<u64>(), 100_000 * 99_999 / 2);
    assert!(slot.used() - before <= grown.capacity() * 8 + 64, "grew by copying: {} bytes", slot.used() - before);
    // The last block freed during a run is given back.
    let before = slot.used();
    unsafe { slot.run(|| drop(vec![0u8; 4096])) };
    assert_eq!(slot.used(), before);
    // A block that is not the last one shrinks where it is (the parser shrinks its token buffer
    // after carving the tree behind it): no copy, no new block.
    let before = slot.used();
    let (shrunk, behind, moved) = unsafe {
        slot.run(|| {
            let mut v: Vec<u64> = Vec::with_capacity(10_000);
            v.extend(0..100);
            let behind = Box::new(1u64);
            let at = v.as_ptr();
            v.shrink_to_fit();
            let moved = v.as_ptr() != at;
            (v, behind, moved)
        })
    };
    assert!(!moved, "a shrink copied the block");
    assert!(slot.used() - before <= 10_000 * 8 + 16, "a shrink carved a new block: {} bytes", slot.used() - before);
    assert_eq!(shrunk.iter().sum::<u64>(), 4950);
    assert_eq!(*behind, 1);
    drop((shrunk, behind));
    assert!(slot.holds_everything());
    assert_eq!(boxed[999], 7, "blocks stay valid while the slot is claimed");
    // Freeing arena blocks is a no-op, whenever it happens.
    drop((boxed, grown));
}

#[test]
fn a_run_too_big_for_its_slot_continues_in_the_allocator() {
    let _serial = SERIAL.lock().unwrap();
    let mut slot = Slot::claim().unwrap();
    // SAFETY: `big` is dropped before the slot.
    let big = unsafe { slot.run(|| vec![1u8; 65 << 20]) };
    assert!(!slot.holds_everything(), "what did not fit must be dropped normally");
    assert_eq!(big.len(), 65 << 20);
    drop(big);
}

#[test]
fn slots_are_distinct_while_claimed_and_run_out() {
    let _serial = SERIAL.lock().unwrap();
    let mut slots = Vec::new();
    while let Some(slot) = Slot::claim() {
        slots.push(slot);
    }
    assert!(slots.len() >= 2);
    // SAFETY: `values` is dropped before the slots are.
    let values: Vec<Box<u64>> =
        slots.iter_mut().enumerate().map(|(i, slot)| unsafe { slot.run(|| Box::new(i as u64)) }).collect();
    for (i, value) in values.iter().enumerate() {
        assert_eq!(**value, i as u64, "slot {i} was written by another claim");
    }
    // With every slot taken, parsing still works, without the arena.
    let parsed = adapter::parse("x = 1\n", false, false);
    assert_eq!(parsed.body().len(), 1);
    drop(parsed);
    drop(values);
    slots.clear();
    assert!(Slot::claim().is_some(), "released slots are claimed again");
}

#[test]
fn a_panicking_run_keeps_its_slot_out_of_reuse() {
    let _serial = SERIAL.lock().unwrap();
    let mut slot = Slot::claim().unwrap();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: the run returns nothing; what its panic allocated stays in a slot never reused.
        unsafe { slot.run(|| -> () { panic!("bad input at {}", 42) }) }
    }));
    drop(slot);
    // The payload was built in the slot; claims after the panic must not overwrite it.
    let mut others: Vec<Slot> = std::iter::from_fn(Slot::claim).collect();
    for other in &mut others {
        // SAFETY: the result is forgotten at once.
        std::mem::forget(unsafe { other.run(|| vec![0xAAu8; 4096]) });
    }
    let payload = caught.unwrap_err();
    let message = payload.downcast_ref::<String>().map(String::as_str).or(payload.downcast_ref::<&str>().copied());
    assert_eq!(message, Some("bad input at 42"), "{:?}", payload.type_id());
}

#[test]
fn trees_built_in_the_arena_equal_trees_built_without_it() {
    let _serial = SERIAL.lock().unwrap();
    let source =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/python/GL201_item_call.py")).unwrap();
    let in_arena = format!("{:?}", adapter::parse(&source, false, true).body());
    let slots: Vec<Slot> = std::iter::from_fn(Slot::claim).collect();
    let without = format!("{:?}", adapter::parse(&source, false, true).body());
    drop(slots);
    assert_eq!(in_arena, without);
    // Parsing again reuses the slot that held the first tree.
    for _ in 0..3 {
        assert_eq!(format!("{:?}", adapter::parse(&source, false, true).body()), without);
    }
}
