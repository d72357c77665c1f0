//! What a run produced: per-lane state segments, GIL events, task records and totals.
//!
//! The engine writes these as things happen; [`crate::metrics`] and [`crate::report`] only
//! read them. Totals are accumulated at the same transitions that emit segments, so a
//! summary computed with `--no-trace` equals the one summed from `trace.csv`.

use crate::model::Channel;
use crate::spill::{Record, Records};
use crate::time::{SimDuration, SimTime};

/// What a thread (a lane) is doing (DESIGN §4's `trace.csv` states).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    /// Running Python code, holding the GIL.
    Cpu,
    /// Running code that released the GIL (C extensions), or any code without a GIL.
    CpuNoGil,
    /// Waiting for the GIL (timed waits, the wake-up after a hand-off, a forced switch), or
    /// for ThreadPoolExecutor's idle-semaphore lock held by a thread that lost the GIL.
    GilWait,
    /// Ready but without a core (OS run queue), or being switched onto one.
    Runnable,
    /// Waiting for I/O (disk, network, sleep), or an event loop waiting in `select`.
    Io,
    /// Starting a thread or a worker process, or a worker process's exit.
    Spawn,
    /// Pickling or unpickling.
    Pickle,
    /// Writing a message into a pipe.
    Ipc,
    /// Per-task bookkeeping of the strategy (submit, resume).
    Dispatch,
    /// Blocked waiting for work or results.
    Idle,
}

impl State {
    /// Every state, in report order.
    pub const ALL: [State; 10] = [
        State::Cpu,
        State::CpuNoGil,
        State::GilWait,
        State::Runnable,
        State::Io,
        State::Spawn,
        State::Pickle,
        State::Ipc,
        State::Dispatch,
        State::Idle,
    ];

    /// The name used in files.
    pub fn name(self) -> &'static str {
        match self {
            State::Cpu => "cpu",
            State::CpuNoGil => "cpu_nogil",
            State::GilWait => "gil_wait",
            State::Runnable => "runnable",
            State::Io => "io",
            State::Spawn => "spawn",
            State::Pickle => "pickle",
            State::Ipc => "ipc",
            State::Dispatch => "dispatch",
            State::Idle => "idle",
        }
    }

    /// True for states in which the thread executes its own code on a core.
    pub fn on_core(self) -> bool {
        matches!(
            self,
            State::Cpu | State::CpuNoGil | State::Spawn | State::Pickle | State::Dispatch
        )
    }

    /// Index into [`StateTotals`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Time per state, summed over lanes.
pub type StateTotals = [SimDuration; 10];

/// A software thread as drawn: one row of a timeline.
#[derive(Clone, Debug, PartialEq)]
pub struct Lane {
    /// `main`, `thread-3`, `worker-2`, `pool-tasks`…
    pub name: String,
    /// Process number (0 = the parent).
    pub process: u32,
}

/// A lane in one state from `start` to `end`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Segment {
    /// Lane index.
    pub lane: u32,
    /// The state.
    pub state: State,
    /// Start.
    pub start: SimTime,
    /// End (exclusive).
    pub end: SimTime,
}

/// What happened to a GIL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GilEventKind {
    /// A thread took the GIL.
    Take,
    /// The holder released it.
    Release,
    /// A waiter timed out without a switch and set the drop request.
    DropRequest,
    /// The holder dropped it because of the request.
    ForcedDrop,
}

/// A GIL event, for the Perfetto trace and the invariant checks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GilEvent {
    /// When.
    pub time: SimTime,
    /// Whose GIL (process number).
    pub process: u32,
    /// Which lane acted.
    pub lane: u32,
    /// What happened.
    pub kind: GilEventKind,
}

/// How many transfers a disk or link holds from `time` on, for the Perfetto trace's counter
/// tracks (kept only with a trace).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DeviceLoad {
    /// When it changed.
    pub time: SimTime,
    /// Which device.
    pub channel: Channel,
    /// Transfers in it from then on.
    pub transfers: u32,
}

/// One task instance's life.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TaskRecord {
    /// Kind index into the scenario's kinds.
    pub kind: u32,
    /// Lane that ran it.
    pub lane: u32,
    /// Handed to the strategy (submitted, sent, scheduled).
    pub submit: SimTime,
    /// First step began.
    pub start: SimTime,
    /// Last step ended.
    pub end: SimTime,
}

/// Everything one simulated experiment produced.
#[derive(Clone, Debug, PartialEq)]
pub struct RunTrace {
    /// Time the main thread finished its teardown.
    pub makespan: SimTime,
    /// The lanes (threads), in creation order.
    pub lanes: Vec<Lane>,
    /// State segments, in the order they closed (empty without `--trace`); in a
    /// temporary file past a million.
    pub segments: Records<Segment>,
    /// GIL events in time order (empty without `--trace`); in a file past a million.
    pub gil_events: Records<GilEvent>,
    /// Each change of a disk's or link's transfers in progress, in time order (empty
    /// without `--trace`); in a file past a million.
    pub device_load: Records<DeviceLoad>,
    /// One record per task instance, in submission order.
    pub tasks: Vec<TaskRecord>,
    /// Time per state over all lanes.
    pub totals: StateTotals,
    /// Time the GILs were held, summed over processes.
    pub gil_held: SimDuration,
    /// GIL takes by a thread other than the previous holder.
    pub gil_switches: u64,
    /// Drops forced by a drop request.
    pub forced_switches: u64,
    /// Drop requests set by waiters.
    pub drop_requests: u64,
    /// Hardware threads switching between software threads.
    pub context_switches: u64,
    /// Events processed.
    pub events: u64,
    /// Time the main thread spent in setup and teardown.
    pub serial_time: SimDuration,
    /// CPU work handed to cores (ns of one idle core) and the work they did: equal at the end.
    pub work_requested: f64,
    /// See `work_requested`.
    pub work_done: f64,
    /// Effective Pool chunksize (processes only).
    pub chunksize: Option<u32>,
    /// How the disks and links that transfers went through were used, in
    /// [`Channel::index`] order (unused ones left out).
    pub channels: Vec<ChannelUse>,
}

/// How one disk or link was used in a run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChannelUse {
    /// Which.
    pub channel: Channel,
    /// Time with at least one transfer in it.
    pub busy: SimDuration,
    /// Most transfers in it at once.
    pub most: u32,
    /// Transfers that went through it.
    pub transfers: u64,
    /// The bytes they moved.
    pub bytes: u64,
}

impl Record for Segment {
    const SIZE: usize = 21;
    fn encode(&self, out: &mut [u8]) {
        out[..4].copy_from_slice(&self.lane.to_le_bytes());
        out[4] = self.state.index() as u8;
        out[5..13].copy_from_slice(&self.start.0.to_le_bytes());
        out[13..21].copy_from_slice(&self.end.0.to_le_bytes());
    }
    fn decode(b: &[u8]) -> Self {
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        Segment {
            lane: u32::from_le_bytes(b[..4].try_into().expect("4 bytes")),
            state: State::ALL[b[4] as usize],
            start: SimTime(u64_at(5)),
            end: SimTime(u64_at(13)),
        }
    }
}

impl Record for DeviceLoad {
    const SIZE: usize = 13;
    fn encode(&self, out: &mut [u8]) {
        out[..8].copy_from_slice(&self.time.0.to_le_bytes());
        out[8] = self.channel.index() as u8;
        out[9..13].copy_from_slice(&self.transfers.to_le_bytes());
    }
    fn decode(b: &[u8]) -> Self {
        DeviceLoad {
            time: SimTime(u64::from_le_bytes(b[..8].try_into().expect("8 bytes"))),
            channel: Channel::ALL[b[8] as usize % Channel::ALL.len()],
            transfers: u32::from_le_bytes(b[9..13].try_into().expect("4 bytes")),
        }
    }
}

impl Record for GilEvent {
    const SIZE: usize = 17;
    fn encode(&self, out: &mut [u8]) {
        out[..8].copy_from_slice(&self.time.0.to_le_bytes());
        out[8..12].copy_from_slice(&self.process.to_le_bytes());
        out[12..16].copy_from_slice(&self.lane.to_le_bytes());
        out[16] = match self.kind {
            GilEventKind::Take => 0,
            GilEventKind::Release => 1,
            GilEventKind::DropRequest => 2,
            GilEventKind::ForcedDrop => 3,
        };
    }
    fn decode(b: &[u8]) -> Self {
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"));
        GilEvent {
            time: SimTime(u64::from_le_bytes(b[..8].try_into().expect("8 bytes"))),
            process: u32_at(8),
            lane: u32_at(12),
            kind: match b[16] {
                0 => GilEventKind::Take,
                1 => GilEventKind::Release,
                2 => GilEventKind::DropRequest,
                _ => GilEventKind::ForcedDrop,
            },
        }
    }
}
