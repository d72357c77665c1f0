//! Engine throughput on the peers' GIL workload (`benches/peer-workload.toml`).
//!
//! `cargo bench --bench engine` reports the time per simulated run and, as throughput,
//! engine events per second (one event per heap pop, as the peer programs count), plus
//! micro-benchmarks of the hot paths: the event queue, the GIL waiters' phase index, and
//! the GIL hand-off (two threads passing the GIL back and forth).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gilsim::engine::{simulate, Limits};
use gilsim::model;

fn peer_scenario(threads: u32, bursts: u32) -> model::Scenario {
    let text = include_str!("peer-workload.toml")
        .replace("repeat = 200", &format!("repeat = {bursts}"))
        .replace("burst = 64", &format!("burst = {threads}"))
        .replace("workers = 64", &format!("workers = {threads}"));
    model::load("peer-workload.toml", &text, None).expect("the bench scenario is valid")
}

fn peer_workload(c: &mut Criterion) {
    let limits = Limits {
        trace: false,
        ..Limits::default()
    };
    let mut group = c.benchmark_group("peer");
    group.sample_size(10);
    for (threads, bursts) in [(64, 200), (1024, 50)] {
        let s = peer_scenario(threads, bursts);
        let exp = &s.experiments[0];
        let first = simulate(&s, exp, threads, &limits).expect("runs");
        eprintln!(
            "peer {threads}x{bursts}: makespan {:.3} s, {} events",
            first.makespan.as_secs_f64(),
            first.events
        );
        group.throughput(Throughput::Elements(first.events));
        group.bench_function(format!("{threads}x{bursts}"), |b| {
            b.iter(|| simulate(&s, exp, threads, &limits).expect("runs"))
        });
    }
    group.finish();
}

/// The event queue at a steady size of 1024 (one pending event per thread): pop the
/// earliest, push one a pseudo-random time later.
fn event_queue(c: &mut Criterion) {
    use gilsim::engine::queue::EventQueue;
    use gilsim::time::SimTime;
    let mut q = EventQueue::new();
    let mut x = 12345u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % 10_000_000
    };
    for i in 0..1024u32 {
        q.push(SimTime(next()), i);
    }
    let mut group = c.benchmark_group("hot paths");
    group.throughput(Throughput::Elements(1));
    group.bench_function("event queue pop+push (1024 pending)", |b| {
        b.iter(|| {
            let (t, e) = q.pop().expect("never empty");
            q.push(SimTime(t.0 + next()), e);
        })
    });
    // The phase index with 1024 waiters: one leaves, one joins, the next timeout is asked.
    use gilsim::engine::phases::PhaseIndex;
    let mut ix = PhaseIndex::new(5_000_000);
    let mut now = 0u64;
    for t in 0..1024u32 {
        now += next() % 10_000;
        ix.insert(t, SimTime(now));
    }
    let mut t = 0u32;
    group.bench_function(
        "GIL phase index remove+insert+earliest (1024 waiters)",
        |b| {
            b.iter(|| {
                ix.remove(t);
                now += 3_000;
                ix.insert(t, SimTime(now));
                t = (t + 1) % 1024;
                ix.earliest(SimTime(now + 5_000_000))
            })
        },
    );
    group.finish();
}

/// Two threads passing the GIL: short Python bursts between short waits, so nearly every
/// event is a release, a hand-off to the other thread, and a take. Throughput: hand-offs.
fn gil_handoff(c: &mut Criterion) {
    let text = include_str!("peer-workload.toml")
        .replace(
            r#"steps = [{ repeat = 200, steps = [{ cpu = { mean = "3ms", dist = "exp" } }, { io = { mean = "5ms", dist = "exp" } }] }]"#,
            r#"steps = [{ repeat = 20000, steps = [{ cpu = "50us" }, { io = "20us" }] }]"#,
        )
        .replace("burst = 64", "burst = 2")
        .replace("workers = 64", "workers = 2");
    let s = model::load("handoff.toml", &text, None).expect("the bench scenario is valid");
    let limits = Limits {
        trace: false,
        ..Limits::default()
    };
    let exp = &s.experiments[0];
    let first = simulate(&s, exp, 2, &limits).expect("runs");
    eprintln!(
        "GIL hand-off: {} switches, {} events",
        first.gil_switches, first.events
    );
    let mut group = c.benchmark_group("hot paths");
    group.sample_size(10);
    group.throughput(Throughput::Elements(first.gil_switches));
    group.bench_function("GIL hand-off (2 threads)", |b| {
        b.iter(|| simulate(&s, exp, 2, &limits).expect("runs"))
    });
    group.finish();
}

criterion_group!(benches, peer_workload, event_queue, gil_handoff);
criterion_main!(benches);
