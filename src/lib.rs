//! gilsim library (architecture docs to follow).
pub mod engine;
pub mod error;
pub mod model;
pub mod rng;
pub mod scenario;
pub mod time;
pub mod trace;
pub mod units;
