//! Kiroku's demo and benchmarks, kept out of the use-case crate: a synthetic hospital seeded
//! through the same use cases and rules as any hospital's data (`hospital.rs`: departments, job
//! types, people applied for, endorsed, approved and appointed, a system client), synthetic
//! charts that conform to the JP Core profiles they claim (`charts.rs`), and the benchmarks
//! behind `kiroku bench` (`bench.rs`). Nothing here is real patient data: every name, number
//! and value is generated.

pub mod bench;
pub mod charts;
pub mod hospital;

pub use hospital::*;
