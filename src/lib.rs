//! gilsim library (architecture docs to follow).
pub mod bundled;
pub mod cli;
pub mod engine;
pub mod error;
pub mod metrics;
pub mod model;
pub mod report;
pub mod rng;
pub mod scenario;
pub mod time;
pub mod trace;
pub mod units;
