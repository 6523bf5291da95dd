//! The one place that knows which failure is which exit code.

use std::fmt;

/// Exit codes, as DESIGN.md and the README give them.
pub const EXIT_PASSED: i32 = 0;
pub const EXIT_THRESHOLD_FAILED: i32 = 1;
pub const EXIT_INVALID_INPUT: i32 = 2;
pub const EXIT_INFRASTRUCTURE: i32 = 3;
pub const EXIT_CANCELLED: i32 = 130;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad scenario, flags or thresholds: found before any load is sent. The message is complete
    /// (file:line:column, what was expected, a suggestion).
    #[error("{0}")]
    Input(String),
    /// Infrastructure or runtime failure: AWS, workers lost, target unreachable for the whole run.
    #[error("{message}")]
    Infrastructure {
        message: String,
        /// What the user can do about it.
        help: Option<String>,
    },
    /// Ctrl-C (SIGINT) while waiting on something outside loadgate: the message says what state
    /// it was left in.
    #[error("{0}")]
    Cancelled(String),
}

impl Error {
    pub fn input(message: impl fmt::Display) -> Self {
        Error::Input(message.to_string())
    }

    pub fn infra(message: impl fmt::Display, help: impl Into<Option<String>>) -> Self {
        Error::Infrastructure {
            message: message.to_string(),
            help: help.into(),
        }
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Input(_) => EXIT_INVALID_INPUT,
            Error::Infrastructure { .. } => EXIT_INFRASTRUCTURE,
            Error::Cancelled(_) => EXIT_CANCELLED,
        }
    }

    pub fn help(&self) -> Option<&str> {
        match self {
            Error::Infrastructure { help, .. } => help.as_deref(),
            Error::Input(_) | Error::Cancelled(_) => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
