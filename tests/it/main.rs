//! End-to-end tests: the built binary and the library against real servers on 127.0.0.1.

mod action;
mod aws_e2e_script;
mod aws_setup;
mod baseline;
mod ci;
mod cli;
mod cost;
mod fake_api;
mod fake_fargate;
mod fargate;
mod fargate_data;
mod fargate_regions;
mod fargate_worker;
mod gitlab;
mod harness;
mod history_s3;
mod image;
mod install;
mod moto;
mod moto_iam;
mod policy_coverage;
mod realistic;
mod registry;
mod runs;
mod stack;
mod users_server;
