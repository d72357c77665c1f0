//! Would drawing the program steps on the other vCPU speed up the event loop?
//! (docs/performance.md §18.)
//!
//! A thread's draws come from its own stream and do not depend on the order of events, so
//! a second OS thread could draw them ahead while the loop runs. This measures what the
//! loop's core pays per step in three ways, with ~140 ns of dependent integer work per step
//! standing in for the event loop (gilsim spends ~150 ns of wall time per step on the
//! 1024 × 500 peer workload):
//!
//! - the stand-in work alone;
//! - the work plus drawing the step itself, as the engine's cursor does (gilsim's own
//!   `rng::Stream` and `Dist::sample`: PCG64, the ziggurat, rounding to ns);
//! - the work plus reading the step from a single-producer single-consumer ring that a
//!   second thread fills.
//!
//! Twice: with one stream (one ring, read in order: the best case for the hand-over) and
//! with 1024 streams read in a shuffled order, as the engine would read 1024 threads' next
//! steps in the order of events (each stream's state, or its ring, then misses the cache).
//!
//!     cargo bench --bench step-handover

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use gilsim::model::program::Dist;
use gilsim::rng::Stream;

const STEPS: usize = 4_000_000;
const CAPACITY: usize = 1 << 14;
const ROUNDS: usize = 5;

/// A step: its work in ns and its kind, 16 bytes like the engine's `Step`.
#[derive(Clone, Copy)]
struct Step {
    work: u64,
    kind: u64,
}

/// One stream's steps, drawn ahead: a single-producer single-consumer ring.
struct Ring {
    slots: Vec<[AtomicU64; 2]>,
    /// Steps written.
    head: AtomicUsize,
    /// Steps read (published every quarter ring).
    tail: AtomicUsize,
}

/// The peer workload's CPU burst, Exp(3 ms).
const BURST: Dist = Dist::Exp { mean: 3e6 };

/// One step, drawn the way the engine's cursor draws it.
fn draw(stream: &mut Stream) -> Step {
    let work = BURST.sample(stream).0;
    Step {
        work,
        kind: work & 1,
    }
}

/// The stand-in for the event loop's work between two steps.
#[inline(never)]
fn engine_work(x: u64) -> u64 {
    let mut h = x | 1;
    for _ in 0..120 {
        h = h
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407)
            ^ (h >> 29);
    }
    h
}

const SEED: u64 = 1;

fn per_step(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e9 / STEPS as f64
}

fn work_alone() -> (f64, u64) {
    let start = Instant::now();
    let mut acc = 0u64;
    for i in 0..STEPS {
        acc = acc.wrapping_add(engine_work(i as u64));
    }
    (per_step(start), acc)
}

/// The order in which the loop takes streams' steps: `streams` at a time, each once, in a
/// shuffled order (the same order for every variant).
fn order(streams: usize) -> Vec<u32> {
    let mut shuffle = Stream::new(SEED, u64::MAX);
    let mut round: Vec<u32> = (0..streams as u32).collect();
    let mut all = Vec::with_capacity(STEPS);
    while all.len() < STEPS {
        for i in (1..round.len()).rev() {
            let j = (shuffle.unit() * (i + 1) as f64) as usize;
            round.swap(i, j);
        }
        all.extend_from_slice(&round);
    }
    all.truncate(STEPS);
    all
}

/// Each stream's own random stream, as the engine gives each thread one.
fn seeds(streams: usize) -> Vec<Stream> {
    (0..streams as u64).map(|k| Stream::new(SEED, k)).collect()
}

fn drawn_locally(order: &[u32], streams: usize) -> (f64, u64) {
    let mut states = seeds(streams);
    let start = Instant::now();
    let mut acc = 0u64;
    for &k in order {
        let s = draw(&mut states[k as usize]);
        acc = acc.wrapping_add(engine_work(s.work ^ s.kind));
    }
    (per_step(start), acc)
}

fn handed_over(order: &[u32], streams: usize) -> (f64, u64) {
    let depth = (CAPACITY / streams).max(16);
    let rings: Arc<Vec<Ring>> = Arc::new(
        (0..streams)
            .map(|_| Ring {
                slots: (0..depth)
                    .map(|_| [AtomicU64::new(0), AtomicU64::new(0)])
                    .collect(),
                head: AtomicUsize::new(0),
                tail: AtomicUsize::new(0),
            })
            .collect(),
    );
    let start = Instant::now();
    let producer = {
        let (rings, order) = (Arc::clone(&rings), order.to_vec());
        std::thread::spawn(move || {
            // Each stream's steps are drawn in its own order; the streams are filled in
            // the order the loop will want them (a stream gets its n-th step when the
            // loop's n-th visit to it comes near).
            let mut states = seeds(streams);
            let mut written = vec![0usize; streams];
            for &k in &order {
                let (k, ring) = (k as usize, &rings[k as usize]);
                let i = written[k];
                while i - ring.tail.load(Ordering::Acquire) >= depth {
                    std::hint::spin_loop();
                }
                let s = draw(&mut states[k]);
                let slot = &ring.slots[i % depth];
                slot[0].store(s.work, Ordering::Relaxed);
                slot[1].store(s.kind, Ordering::Relaxed);
                ring.head.store(i + 1, Ordering::Release);
                written[k] = i + 1;
            }
        })
    };
    let mut acc = 0u64;
    let mut read = vec![0usize; streams];
    for &k in order {
        let (k, ring) = (k as usize, &rings[k as usize]);
        let i = read[k];
        while ring.head.load(Ordering::Acquire) <= i {
            std::hint::spin_loop();
        }
        let slot = &ring.slots[i % depth];
        let s = Step {
            work: slot[0].load(Ordering::Relaxed),
            kind: slot[1].load(Ordering::Relaxed),
        };
        acc = acc.wrapping_add(engine_work(s.work ^ s.kind));
        read[k] = i + 1;
        // Published every quarter ring, not every read: each store pulls the line holding
        // `tail` back from the producer's core.
        if (i + 1).is_multiple_of(depth / 4) {
            ring.tail.store(i + 1, Ordering::Release);
        }
    }
    producer.join().expect("the producer thread panicked");
    (per_step(start), acc)
}

fn main() {
    println!("ns per step on the loop's core: work alone, + a local draw, + a handed-over step");
    for streams in [1, 1024] {
        let order = order(streams);
        println!("{streams} stream(s):");
        for round in 1..=ROUNDS {
            let (alone, a) = work_alone();
            let (local, b) = drawn_locally(&order, streams);
            let (handed, c) = handed_over(&order, streams);
            assert_eq!(b, c, "the hand-over changed the steps");
            std::hint::black_box(a);
            println!(
                "  round {round}: {alone:.1}  {local:.1} ({:+.1})  {handed:.1} ({:+.1})",
                local - alone,
                handed - alone
            );
        }
    }
}
