//! gilsim library (architecture docs to follow).
pub mod error;
pub mod model;
pub mod rng;
pub mod scenario;
pub mod time;
pub mod units;
