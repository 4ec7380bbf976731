//! The fleet summary: `fleet-summary.json` (schema `vmcert.fleet/v1`, one row per target with its
//! outcome, exit code and report or the cause of failure; never a secret), its HTML page
//! (`fleet-summary.html`, beside the target zips) and `fleet --format md`.

use std::fmt::Write as _;

use anyhow::Context as _;
use serde::Serialize;

use crate::report::model::{RunReport, Summary};

const HTML_TEMPLATE: &str = include_str!("../../../report-templates/fleet-summary.html.hbs");

/// Schema name of `fleet-summary.json`.
pub(crate) const SCHEMA: &str = "vmcert.fleet/v1";

/// One target's line of the fleet summary.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TargetRow {
    pub name: String,
    /// The URL (user and host; never a secret).
    pub target: String,
    /// `completed` (a report was written) or `failed` (with `error`).
    pub status: &'static str,
    pub exit_code: u8,
    pub summary: Option<Summary>,
    /// Why the probes stopped early, when they did.
    pub interrupted: Option<String>,
    pub report: Option<String>,
    /// The report's path relative to the fleet summary (its file name: both are in --out-dir),
    /// for fleet-summary.html's links.
    pub report_href: Option<String>,
    /// The report's outcome (certified, failed, incomplete, pre-check), `none` without a report.
    pub outcome: &'static str,
    pub error: Option<String>,
    pub duration_ms: u64,
    /// The target's results, for the fleet's --junit and --sarif.
    #[serde(skip)]
    pub results: Option<Box<RunReport>>,
}

/// `fleet-summary.json`.
#[derive(Debug, Serialize)]
pub(crate) struct FleetSummary {
    pub schema: &'static str,
    pub tool_version: &'static str,
    pub started: String,
    pub finished: String,
    pub jobs: usize,
    /// Ctrl-C stopped the fleet early (rows of targets it kept from running say so).
    pub interrupted: bool,
    pub exit_code: u8,
    pub completed: usize,
    pub failed: usize,
    pub targets: Vec<TargetRow>,
}

/// `fleet --format md`: one table row per target, values escaped for Markdown.
pub(crate) fn markdown(s: &FleetSummary) -> String {
    use crate::report::render::md_escape;
    let mut t = format!(
        "## vmcert fleet: {} target(s)\n\n| target | outcome | exit | result | report or cause |\n|---|---|---|---|---|\n",
        s.targets.len()
    );
    for r in &s.targets {
        let result = r.summary.as_ref().map(Summary::line).unwrap_or_default();
        let detail = match (&r.error, &r.report) {
            (Some(e), _) => e.clone(),
            (None, Some(p)) => p.clone(),
            (None, None) => String::new(),
        };
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} |",
            md_escape(&r.name),
            r.outcome,
            r.exit_code,
            md_escape(&result),
            md_escape(&detail)
        );
    }
    let _ = writeln!(
        t,
        "\nCompleted {}, failed {}; exit {}.",
        s.completed, s.failed, s.exit_code
    );
    t
}

pub(crate) fn html(s: &FleetSummary) -> anyhow::Result<String> {
    let mut hb = handlebars::Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_template_string("fleet", HTML_TEMPLATE)
        .context("fleet summary template")?;
    hb.render("fleet", s)
        .context("rendering fleet-summary.html")
}
