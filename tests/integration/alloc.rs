//! The engine allocates nothing per event: a run with ten times the events makes only a
//! few more allocations (vectors and the heap growing), not ten times as many.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use gilsim::engine::{simulate, Limits};

/// Counts allocations made by the current thread.
pub struct CountingAlloc;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn allocations_for(bursts: u32) -> (u64, u64) {
    let text = include_str!("../../benches/peer-workload.toml")
        .replace("repeat = 200", &format!("repeat = {bursts}"))
        .replace("burst = 64", "burst = 8")
        .replace("workers = 64", "workers = 8");
    let s = gilsim::model::load("peer.toml", &text, None).unwrap();
    let limits = Limits {
        trace: false,
        ..Limits::default()
    };
    let before = ALLOCATIONS.with(Cell::get);
    let run = simulate(&s, &s.experiments[0], 8, &limits).unwrap();
    let after = ALLOCATIONS.with(Cell::get);
    (after - before, run.events)
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
