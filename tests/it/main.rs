//! End-to-end tests: the built binary and the library against real servers on 127.0.0.1.

mod action;
mod baseline;
mod ci;
mod cli;
mod fake_api;
mod gitlab;
mod harness;
mod image;
mod install;
mod moto;
mod registry;
mod runs;
mod stack;
