//! Which CPUs a thread may run on (`sched_getaffinity` / `sched_setaffinity`): the native
//! runtime's calibration measures each CPU on its own, and `calibrate` measures a wake-up
//! between two threads on different CPUs.

/// A set of CPUs.
pub type CpuSet = libc::cpu_set_t;

/// The CPUs the calling thread may run on (None where that cannot be read).
pub fn allowed() -> Option<CpuSet> {
    // SAFETY: sched_getaffinity writes at most size_of::<cpu_set_t>() bytes into `set`.
    unsafe {
        let mut set: CpuSet = std::mem::zeroed();
        (libc::sched_getaffinity(0, std::mem::size_of::<CpuSet>(), &mut set) == 0).then_some(set)
    }
}

/// The CPU numbers in `set`, ascending.
pub fn cpus(set: &CpuSet) -> Vec<usize> {
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: CPU_ISSET reads a bit of an initialised cpu_set_t.
        .filter(|&c| unsafe { libc::CPU_ISSET(c, set) })
        .collect()
}

/// The set of CPU `c` alone.
pub fn only(c: usize) -> CpuSet {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET sets one bit of it.
    unsafe {
        let mut one: CpuSet = std::mem::zeroed();
        libc::CPU_SET(c, &mut one);
        one
    }
}

/// Restricts the calling thread to `set` (best effort: a failure leaves it where it was).
pub fn set(set: &CpuSet) {
    // SAFETY: sched_setaffinity reads size_of::<cpu_set_t>() bytes from a valid set.
    unsafe {
        libc::sched_setaffinity(0, std::mem::size_of::<CpuSet>(), set);
    }
}
