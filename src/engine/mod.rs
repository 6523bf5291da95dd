//! The load generator: closed and open model, HTTP client, pacing, recording.
