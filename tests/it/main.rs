//! End-to-end tests: the built binary and the library against real servers on 127.0.0.1.

mod cli;
mod harness;
mod runs;
