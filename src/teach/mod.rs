//! Teaching tools: the latency hierarchy at human scale, Amdahl's law and its relatives,
//! and generated quizzes (DESIGN §6).
//!
//! Pure computations and measurements only; drawing is in [`crate::report::png`] and the
//! commands are in [`crate::cli`].

pub mod amdahl;
pub mod latency;
pub mod quiz;
