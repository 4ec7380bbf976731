//! The engine wing: what a run is once the flags are read. It selects the checks, gathers the
//! union of their probes once per target through a `crate::target` transport, evaluates the
//! checks, and summarises the run for the report. It knows no clap type and prints nothing.

pub(crate) mod budget;
pub(crate) mod config;
pub(crate) mod fleet;
pub(crate) mod input;
pub(crate) mod plan;
pub(crate) mod questionnaire;
pub(crate) mod runner;
