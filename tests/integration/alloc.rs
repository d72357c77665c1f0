//! The engine allocates nothing per event: a run with ten times the events makes only a
//! few more allocations (vectors and the heap growing), not ten times as many, and without
//! a trace its peak memory does not grow with the number of events (issue 6).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use gilsim::engine::{simulate, Limits};

/// Counts allocations made by the current thread.
pub struct CountingAlloc;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    /// Bytes allocated by this thread and not yet freed (frees of other threads' memory
    /// count too, which is why it is signed).
    static LIVE: Cell<i64> = const { Cell::new(0) };
    static PEAK: Cell<i64> = const { Cell::new(0) };
}

fn grow(bytes: i64) {
    let _ = LIVE.try_with(|live| {
        live.set(live.get() + bytes);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(live.get())));
    });
}

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        grow(layout.size() as i64);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        grow(-(layout.size() as i64));
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        grow(new_size as i64 - layout.size() as i64);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// (allocations, events, peak bytes above the start) of one run of the peer workload.
fn allocations_for(bursts: u32) -> (u64, u64) {
    let (allocations, events, _) = measure(bursts, false);
    (allocations, events)
}

fn measure(bursts: u32, trace: bool) -> (u64, u64, i64) {
    measure_with(bursts, trace, gilsim::spill::DEFAULT_IN_MEMORY)
}

fn measure_with(bursts: u32, trace: bool, in_memory: usize) -> (u64, u64, i64) {
    let text = include_str!("../../benches/peer-workload.toml")
        .replace("repeat = 200", &format!("repeat = {bursts}"))
        .replace("burst = 64", "burst = 8")
        .replace("workers = 64", "workers = 8");
    let s = gilsim::model::load("peer.toml", &text, None).unwrap();
    let limits = Limits {
        trace,
        trace_in_memory: in_memory,
        ..Limits::default()
    };
    let before = ALLOCATIONS.with(Cell::get);
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let run = simulate(&s, &s.experiments[0], 8, &limits).unwrap();
    let after = ALLOCATIONS.with(Cell::get);
    let peak = PEAK.with(Cell::get) - base;
    (after - before, run.events, peak)
}

#[test]
fn peak_memory_does_not_grow_with_events_unless_a_trace_is_kept() {
    let (_, small_events, small) = measure(100, false);
    let (_, large_events, large) = measure(1000, false);
    assert!(large_events > 9 * small_events);
    // The same bytes up to the doubling of a vector or two.
    assert!(
        large <= small * 2 + 4096,
        "{small} bytes at peak for {small_events} events, {large} for {large_events}"
    );
    // The measurement sees growth where there is some: the trace keeps every segment.
    let (_, _, traced_small) = measure(100, true);
    let (_, _, traced_large) = measure(1000, true);
    assert!(
        traced_large > 5 * traced_small,
        "with a trace: {traced_small} then {traced_large} bytes"
    );
}

#[test]
fn allocations_do_not_grow_with_events() {
    let (small, small_events) = allocations_for(100);
    let (large, large_events) = allocations_for(1000);
    assert!(
        large_events > 9 * small_events,
        "{small_events} vs {large_events}"
    );
    assert!(
        large < small + 32,
        "{small} allocations for {small_events} events, {large} for {large_events}"
    );
}

#[test]
fn a_trace_larger_than_its_memory_limit_streams_to_a_file() {
    // With at most 1,000 records in memory the trace moves to a temporary file: peak
    // memory is then independent of the events, as without a trace.
    let (_, small_events, small) = measure_with(100, true, 1000);
    let (_, large_events, large) = measure_with(1000, true, 1000);
    assert!(large_events > 9 * small_events);
    assert!(
        large <= small * 2 + 4096,
        "{small} bytes at peak for {small_events} events, {large} for {large_events}"
    );
    // And the spilled trace reads back equal to the one kept in memory.
    let text = include_str!("../../benches/peer-workload.toml")
        .replace("repeat = 200", "repeat = 300")
        .replace("burst = 64", "burst = 8")
        .replace("workers = 64", "workers = 8");
    let s = gilsim::model::load("peer.toml", &text, None).unwrap();
    let run = |in_memory| {
        let limits = Limits {
            trace_in_memory: in_memory,
            ..Limits::default()
        };
        simulate(&s, &s.experiments[0], 8, &limits).unwrap()
    };
    let (spilled, kept) = (run(100), run(usize::MAX));
    assert!(spilled.segments.spilled() && !kept.segments.spilled());
    assert!(spilled.segments.len() > 1000);
    assert!(spilled == kept, "the spilled trace differs");
}
