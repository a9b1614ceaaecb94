//! The collector attributes a record to the user frame that made the CUDA call, using a real
//! symbolised backtrace (debug builds keep line tables).

use runtime_probe::trace::{self, Stage, SyncClass};

#[test]
fn a_recorded_sync_is_attributed_to_the_calling_line_and_step() {
    trace::set_position(Stage::Step, Some(3));
    let line = line!() + 1;
    trace::record_sync(SyncClass::DeviceToHostPageable, "cuMemcpyDtoHAsync_v2", Some(4), Some(0x1000), 0);
    trace::set_position(Stage::Probe, None);
    let t = trace::take();
    assert_eq!(t.events.len(), 1);
    let e = &t.events[0];
    assert_eq!((e.phase, e.step, e.bytes), (Stage::Step, Some(3), Some(4)));
    let site = e.site.as_ref().expect("a user frame");
    assert_eq!((site.file.as_str(), site.line), ("runtime-probe/tests/trace.rs", line));
    assert_eq!(site.crate_name, "trace");
    assert_eq!(trace::per_step_counts(&t.events, 5), vec![0, 0, 0, 1, 0]);
    // Taken means gone.
    assert!(trace::take().events.is_empty());
}
