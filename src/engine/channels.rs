//! Disks and network links: bandwidth that concurrent transfers share.
//!
//! A `net` or `disk` step that moves bytes ([`Transfer`]) waits out its latency on its
//! own, then its bytes go through the step's channel, then it waits out its tail (`fsync`'s
//! second latency). While `n` transfers are in the channel, each moves at `B(n) / n`
//! (processor sharing), where `B(n)` is what `n` at once get together: the device's
//! bandwidth × `[machine.sharing]`'s value for `n` (1.0 unless calibrated: one transfer's
//! bandwidth, shared). Four threads writing to one disk take about four times as long each,
//! and downloads over one internet link share it, as TCP flows share their bottleneck link.
//! Measured here (1, 2 and 4 threads each writing 32 MiB, then `fdatasync`): 900–1,090
//! MiB/s for one, 1,110–1,290 for two together, 1,200–1,390 for four — a third more, not
//! four times (docs/decisions.md, "Shared disks and links"). Latencies overlap freely.
//!
//! The channel keeps a *virtual clock* `v`: the bytes each of its transfers has moved since
//! the channel was last idle. It advances at `B(n) / n` per second, so a transfer that
//! joins at `v₀` with `b` bytes is through when `v` reaches `v₀ + b`, however `n` changes
//! in between; the channel keeps its transfers by that finish (FIFO on ties) and one
//! pending event for the first, re-armed whenever a transfer joins or leaves. With the
//! channel to itself a transfer takes exactly `bytes / bandwidth` (rounded as
//! [`crate::units::transfer_time`]), as before channels were shared: `v` restarts at zero
//! whenever the channel goes idle.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::model::{Channel, Transfer};
use crate::time::{SimDuration, SimTime};
use crate::trace::{ChannelUse, DeviceLoad};

use super::{Event, Item, Sim, ThreadId};

/// Who a transfer ends for.
#[derive(Clone, Copy, Debug)]
pub(super) enum Owner {
    /// A thread blocked in the call, with the epoch it blocked at.
    Thread { t: ThreadId, epoch: u32 },
    /// An awaiting coroutine: put into the event loop's ready queue when done.
    Coro(u32),
}

/// A transfer in progress: waiting out its latency, or in its channel.
#[derive(Clone, Copy, Debug)]
pub(super) struct Flow {
    xfer: Transfer,
    owner: Owner,
}

/// One disk or link.
pub(super) struct ChannelState {
    /// Bytes per second that 1, 2, 3… transfers at once get together (the last repeats).
    bandwidth: Vec<f64>,
    /// Bytes each transfer in the channel has moved since it was last idle.
    v: f64,
    /// When `v` was last brought up to date.
    last: SimTime,
    /// Transfers in the channel by finish (`v` at which they are through, as bits: the
    /// values are non-negative, where the bit order is the numeric order), then by arrival.
    flows: BinaryHeap<Reverse<(u64, u64, u32)>>,
    arrivals: u64,
    /// Invalidates the pending `ChannelDone` when the channel is re-armed.
    epoch: u32,
    /// Since when it has had a transfer in it (while it has), and for how long in all.
    busy_since: SimTime,
    busy: SimDuration,
    most: u32,
    bytes: u64,
}

impl ChannelState {
    pub(super) fn new(bandwidth: Vec<f64>) -> Self {
        ChannelState {
            bandwidth,
            v: 0.0,
            last: SimTime::ZERO,
            flows: BinaryHeap::new(),
            arrivals: 0,
            epoch: 0,
            busy_since: SimTime::ZERO,
            busy: SimDuration::ZERO,
            most: 0,
            bytes: 0,
        }
    }

    /// How it was used, up to `now` (`None` if nothing went through it).
    pub(super) fn usage(&self, channel: Channel, now: SimTime) -> Option<ChannelUse> {
        if self.arrivals == 0 {
            return None;
        }
        let open = if self.flows.is_empty() {
            SimDuration::ZERO
        } else {
            now - self.busy_since
        };
        Some(ChannelUse {
            channel,
            busy: self.busy + open,
            most: self.most,
            transfers: self.arrivals,
            bytes: self.bytes,
        })
    }

    /// What each of `n` transfers in the channel gets, in bytes/s.
    fn share(&self, n: usize) -> f64 {
        self.bandwidth[(n - 1).min(self.bandwidth.len() - 1)] / n as f64
    }

    /// Brings `v` up to `now` at the current share.
    fn advance(&mut self, now: SimTime) {
        let n = self.flows.len();
        if n > 0 {
            self.v += (now - self.last).as_secs_f64() * self.share(n);
        }
        self.last = now;
    }
}

impl Sim<'_> {
    /// Starts a transfer for `owner`: its latency first.
    pub(super) fn start_transfer_flow(&mut self, xfer: Transfer, owner: Owner) {
        let flow = match self.free_flows.pop() {
            Some(f) => {
                self.flows[f as usize] = Flow { xfer, owner };
                f
            }
            None => {
                self.flows.push(Flow { xfer, owner });
                u32::try_from(self.flows.len() - 1).expect("fewer than 2^32 transfers at once")
            }
        };
        if xfer.latency.is_zero() {
            self.enter_channel(flow);
        } else {
            self.schedule(xfer.latency, Event::FlowStart { flow });
        }
    }

    /// [`Event::FlowStart`]: the latency is over; the bytes join the channel. (Out of line,
    /// as the other transfer events: the event loop is on every event of every run.)
    #[inline(never)]
    pub(super) fn enter_channel(&mut self, flow: u32) {
        let Flow { xfer, .. } = self.flows[flow as usize];
        let now = self.now;
        let ch = &mut self.channels[xfer.channel.index()];
        ch.advance(now);
        if ch.flows.is_empty() {
            ch.busy_since = now;
        }
        let finish = ch.v + xfer.bytes as f64;
        ch.arrivals += 1;
        ch.bytes = ch.bytes.saturating_add(xfer.bytes);
        ch.flows
            .push(Reverse((finish.to_bits(), ch.arrivals, flow)));
        ch.most = ch.most.max(ch.flows.len() as u32);
        self.record_load(xfer.channel);
        self.rearm_channel(xfer.channel);
    }

    /// Schedules the channel's next finish at the current share.
    fn rearm_channel(&mut self, channel: Channel) {
        let ch = &mut self.channels[channel.index()];
        ch.epoch = ch.epoch.wrapping_add(1);
        let Some(&Reverse((finish, _, _))) = ch.flows.peek() else {
            return;
        };
        let left = (f64::from_bits(finish) - ch.v).max(0.0);
        // Alone (`n` = 1, `v` = 0, sharing 1.0) this is `bytes / bandwidth`, as
        // `transfer_time` has it.
        let after = SimDuration::from_secs_f64(left / ch.share(ch.flows.len()));
        let epoch = ch.epoch;
        self.schedule(
            after,
            Event::ChannelDone {
                channel: channel.index() as u8,
                epoch,
            },
        );
    }

    /// [`Event::ChannelDone`]: the first transfer in the channel (and any that finish with
    /// it) is through.
    #[inline(never)]
    pub(super) fn channel_done(&mut self, index: u8, epoch: u32) {
        let channel = Channel::ALL[index as usize];
        let now = self.now;
        let ch = &mut self.channels[channel.index()];
        if ch.epoch != epoch {
            return; // re-armed since
        }
        ch.advance(now);
        let Some(&Reverse((first, _, _))) = ch.flows.peek() else {
            return;
        };
        // The event was due when `v` reached the first finish; rounding to whole ns may
        // leave it a hair short.
        ch.v = ch.v.max(f64::from_bits(first));
        loop {
            let ch = &mut self.channels[channel.index()];
            match ch.flows.peek() {
                Some(&Reverse((finish, _, flow))) if f64::from_bits(finish) <= ch.v => {
                    ch.flows.pop();
                    self.leave_channel(flow);
                }
                Some(_) => break,
                None => {
                    ch.v = 0.0;
                    ch.busy += now - ch.busy_since;
                    break;
                }
            }
        }
        self.record_load(channel);
        self.rearm_channel(channel);
    }

    /// Notes the channel's transfers in progress for the trace's counter track.
    fn record_load(&mut self, channel: Channel) {
        if self.limits.trace {
            let transfers = self.channels[channel.index()].flows.len() as u32;
            self.out.device_load.push(DeviceLoad {
                time: self.now,
                channel,
                transfers,
            });
        }
    }

    /// The bytes are through: the tail, then the owner goes on.
    fn leave_channel(&mut self, flow: u32) {
        let Flow { xfer, owner } = self.flows[flow as usize];
        self.free_flows.push(flow);
        match owner {
            Owner::Thread { t, epoch } => {
                // Woken by the kernel when the call completes, as at the end of any I/O.
                let after = xfer.tail + self.owe_wakeup(t);
                self.schedule(after, Event::WaitDone { t, epoch });
            }
            Owner::Coro(c) => {
                let q = self.world.ready_q;
                self.schedule(
                    xfer.tail,
                    Event::Deliver {
                        q,
                        item: Item::Coro(c),
                    },
                );
            }
        }
    }
}
