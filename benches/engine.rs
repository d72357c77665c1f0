//! Engine throughput on the peers' GIL workload (`benches/peer-workload.toml`).
//!
//! `cargo bench --bench engine` reports the time per simulated run and, as throughput,
//! engine events per second. The peer programs count one event per heap pop, as gilsim
//! does, but gilsim models CPython's periodic re-armed GIL timers, so it processes more
//! events for the same workload (see the README's performance section).

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
    for (threads, bursts) in [(64, 200), (256, 50)] {
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

criterion_group!(benches, peer_workload);
criterion_main!(benches);
