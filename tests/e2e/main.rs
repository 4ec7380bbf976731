//! End-to-end tests: the `vmcert` binary against real targets started by the lab in `tests/lab/`.
//! All of them build into this one test binary.

// Test code: a panic is a test failure, so unwrap is the clearest way to say "must not fail".
#![allow(clippy::unwrap_used)]

mod lab;
mod qemu;
mod util;

mod azurite;

mod cli;
mod connect;
mod fleet;
mod image;
mod lab_checks;
mod lab_scenarios;
mod lab_smoke;
mod packer;
mod qemu_certify;
mod qemu_smoke;
mod questionnaire;
mod report;
mod run_local;
mod sas;
mod ssh_run;
mod sshd_fixture;
mod upload;
mod vhd;
mod windows;
mod winrm_replay;
mod winrm_server;
