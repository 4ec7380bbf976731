//! The report: the `results.json` model and everything rendered from it into the zip.

use std::collections::BTreeMap;

use vmcert_checks::Evidence;

pub(crate) mod ci;
pub(crate) mod consistency;
pub(crate) mod fleet;
pub(crate) mod junit;
pub(crate) mod logs;
pub(crate) mod manifest;
pub(crate) mod model;
pub(crate) mod read;
pub(crate) mod render;
pub(crate) mod sarif;
mod selftest;
pub(crate) mod sign;
#[cfg(test)]
pub(crate) mod testdata;
pub(crate) mod write;

/// Everything the report writer needs from a finished (or interrupted) run.
#[derive(Debug, Clone)]
pub(crate) struct ReportBundle {
    /// `results.json`; every other file is rendered from it and from `evidence`.
    pub results: model::RunReport,
    /// Raw probe outputs, for the per-check logs.
    pub evidence: Evidence,
    /// Command text and start time of every probe in `evidence`, by probe id.
    pub probe_logs: BTreeMap<String, ProbeLog>,
    /// The closing notes (`notes.txt`).
    pub notes: String,
    /// The run's own log (`logs/run.log`).
    pub run_log: String,
}

/// What a per-check log says about a probe besides its output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProbeLog {
    /// The command text that ran on the target.
    pub command: String,
    /// RFC 3339 start time on the agent's clock, when known.
    pub started: Option<String>,
}
