//! End-to-end tests: the `vmcert` binary against real targets started by the lab in `tests/lab/`.
//! All of them build into this one test binary.

mod util;

mod cli;
mod report;
