//! loadgate: load testing as a gate in CI.
//!
//! The data flows one way: scenario -> plan -> executor (engine) -> partial results -> merge ->
//! thresholds -> reports. No module reaches back up this chain.

pub mod app;
pub mod baseline;
pub mod ci;
pub mod cli;
pub mod cloud;
pub mod commands;
pub mod compare;
pub mod cost;
pub mod demo;
pub mod engine;
pub mod env;
pub mod error;
pub mod executor;
pub mod history;
pub mod plan;
pub mod progress;
pub mod protocol;
pub mod report;
pub mod results;
pub mod run;
pub mod scenario;
pub mod stats;
pub mod target;
pub mod threshold;
pub mod worker;

pub use error::{Error, Result};
