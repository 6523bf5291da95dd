//! loadgate: load testing as a gate in CI.
//!
//! The data flows one way: scenario -> plan -> executor (engine) -> partial results -> merge ->
//! thresholds -> reports. No module reaches back up this chain.
//!
//! Modules marked `feature = "app"` make the `loadgate` command (its CLI, AWS and CI parts);
//! the rest (scenario, thresholds, engine, statistics, reports) builds without them, which is
//! what the fuzz targets in `fuzz/` link.

#[cfg(feature = "app")]
pub mod app;
#[cfg(feature = "app")]
pub mod baseline;
#[cfg(feature = "app")]
pub mod ci;
#[cfg(feature = "app")]
pub mod cli;
#[cfg(feature = "app")]
pub mod cloud;
#[cfg(feature = "app")]
pub mod commands;
pub mod compare;
pub mod cost;
#[cfg(feature = "app")]
pub mod demo;
pub mod engine;
pub mod env;
pub mod error;
#[cfg(feature = "app")]
pub mod executor;
#[cfg(feature = "app")]
pub mod history;
pub mod input;
pub mod plan;
pub mod progress;
#[cfg(feature = "app")]
pub mod protocol;
pub mod regions;
pub mod report;
pub mod results;
#[cfg(feature = "app")]
pub mod run;
pub mod scenario;
pub mod secrets;
pub mod signals;
pub mod stats;
pub mod target;
pub mod threshold;
#[cfg(feature = "app")]
pub mod worker;

pub use error::{Error, Result};
