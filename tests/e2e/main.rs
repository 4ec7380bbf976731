//! End-to-end tests: the `vmcert` binary against real targets started by the lab in `tests/lab/`.
//! All of them build into this one test binary.

// Test code: a panic is a test failure, so unwrap is the clearest way to say "must not fail".
#![allow(clippy::unwrap_used)]

mod qemu;
mod util;

mod cli;
mod qemu_smoke;
mod winrm_server;
