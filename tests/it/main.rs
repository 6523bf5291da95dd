//! End-to-end tests: the built binary and the library against real servers on 127.0.0.1.

mod action;
mod aws_limits;
mod baseline;
mod ci;
mod cli;
mod cost;
mod fake_api;
mod fake_fargate;
mod fargate;
mod fargate_claims;
mod fargate_worker;
mod gitlab;
mod harness;
mod hdr_interop;
mod history_s3;
mod image;
mod install;
mod moto;
mod proxy;
mod registry;
mod runs;
mod signals;
mod stack;
mod stack_states;
