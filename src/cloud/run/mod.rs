//! The AWS side of one distributed run: its S3 bucket (the protocol between controller and workers),
//! its ECS tasks, its secrets in SSM and the Fargate quota it must fit in. The stack these live in
//! is `super::stack`'s; the image the tasks run is `super::image`'s.

pub mod quota;
pub mod secrets;
pub mod store;
pub mod tasks;
