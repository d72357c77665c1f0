//! # gilsim
//!
//! A discrete-event simulator of OS scheduling for Python concurrency: given a workload and
//! a machine in a TOML scenario, it predicts how long the work takes run serially, with
//! threads, with processes and with asyncio — and says why.
//!
//! ## Architecture: the layout is the data flow
//!
//! ```text
//! scenario file ──► scenario (serde mirror, spans) ──► model (validated, units resolved)
//!    ──► engine (events, cores, GIL, strategies) ──► trace ──► metrics ──► report (csv,
//!    json, table) ──► cli (one file per subcommand) ──► main
//! ```
//!
//! - [`scenario`] owns syntax; [`model`] owns meaning (every check, every default, every
//!   error position). [`units`] and [`time`] are the vocabulary both use.
//! - [`engine`] simulates one experiment and returns a [`trace::RunTrace`]; it never
//!   touches files or formats. [`rng`] is its only source of randomness.
//! - [`metrics`] is pure: trace in, numbers and the one-line explanation out.
//! - [`report`] turns results into bytes and is the only module that writes files.
//! - [`cli`] is glue; `main.rs` maps errors to exit codes (2: bad input, 1: failed run).
//!
//! ## Invariants
//!
//! Time is integer nanoseconds and never goes back. At most one software thread runs on a
//! hardware thread, at most one thread holds a process's GIL, the CPU work handed out is
//! the work done, every task finishes. The same scenario and seed give byte-identical
//! outputs. These are checked by property tests over random scenarios.

#![warn(missing_docs)]

pub mod affinity;
pub mod bundled;
pub mod child;
pub mod cli;
pub mod engine;
pub mod error;
pub mod host;
pub mod metrics;
pub mod model;
pub mod report;
pub mod rng;
pub mod scenario;
pub mod spill;
pub mod teach;
pub mod time;
pub mod trace;
pub mod units;
pub mod validate;
