//! `results.json`, schema `vmcert.report/v1`: the one serializable model of a run. Every other
//! file of the report zip (HTML, Markdown, JUnit, self-test JSON) is rendered from it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use vmcert_checks::{Os, Severity, Status};

/// Schema name written into `results.json`.
pub(crate) const SCHEMA: &str = "vmcert.report/v1";

/// The whole `results.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunReport {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The tool that wrote the report.
    pub tool: Tool,
    /// When and how the run happened.
    pub run: RunInfo,
    /// What was certified.
    pub target: TargetInfo,
    /// Counts per status.
    pub summary: Summary,
    /// One entry per selected check, in registry order (user-defined checks last).
    pub checks: Vec<CheckResult>,
    /// Every question, answered or not.
    pub questionnaire: Vec<QuestionResult>,
}

/// `tool`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Tool {
    /// `vmcert`.
    pub name: String,
    /// Crate version.
    pub version: String,
}

/// `run`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunInfo {
    /// Random run id (UUID v4).
    pub id: String,
    /// Run name (`--name`, default the host name).
    pub name: String,
    /// RFC 3339 UTC start.
    pub started: String,
    /// RFC 3339 UTC end.
    pub finished: String,
    /// Threshold profile (`current` / `toolkit`).
    pub profile: String,
    /// True when the run did not complete (connection lost, interrupted); `interrupted_reason`
    /// says why and unfinished checks are in Error.
    pub interrupted: bool,
    /// Why the run was interrupted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted_reason: Option<String>,
}

/// `target`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TargetInfo {
    /// `local`, `ssh`, `winrm` or `winrms`.
    pub transport: String,
    /// Host name or address (`localhost` for --local).
    pub host: String,
    /// TCP port, when there is a transport.
    pub port: Option<u16>,
    /// Login user.
    pub user: Option<String>,
    /// Target OS.
    pub os: Os,
    /// Facts for the header: OSName, OSDistro, OSVersion, KernelVersion, KernelFullVersion,
    /// Hostname, Architecture (Linux); OSName, OSVersion, Build, Hostname (Windows).
    pub facts: BTreeMap<String, String>,
}

/// `summary`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Summary {
    /// Checks that passed.
    pub pass: usize,
    /// Checks with a warning (questionnaire warnings are counted separately).
    pub warning: usize,
    /// Checks that failed.
    pub fail: usize,
    /// Checks that do not apply.
    pub not_applicable: usize,
    /// Checks that could not be evaluated.
    pub error: usize,
    /// Failed or errored checks covered by a valid waiver (still counted above).
    pub waived: usize,
    /// Questionnaire entries that are Warning (a False answer, or unanswered).
    pub questionnaire_warnings: usize,
    /// No Fail and no Error, after waivers.
    pub certified: bool,
}

/// A valid waiver applied to a check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Waived {
    /// Why the exception is sought.
    pub justification: String,
    /// Expiry date (YYYY-MM-DD).
    pub expires: String,
}

/// One entry of `checks[]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CheckResult {
    /// Check id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Microsoft TestID, if any.
    pub test_id: Option<String>,
    /// Microsoft TestCaseName, if any.
    pub test_case_name: Option<String>,
    /// Outcome.
    pub status: Status,
    /// What was found.
    pub actual: String,
    /// What the rule wants.
    pub required: String,
    /// Explanation.
    pub message: String,
    /// How to fix a failure.
    pub remediation: String,
    /// Severity.
    pub severity: Severity,
    /// Sum of the probe durations the check read, in milliseconds.
    pub duration_ms: u64,
    /// Probe (command) ids the check read.
    pub probes: Vec<String>,
    /// The waiver that covers this check's Fail/Error/Warning, if any.
    pub waived: Option<Waived>,
    /// `builtin`, or the check pack file it came from.
    pub source: String,
    /// Description (the self-test `Description`).
    pub description: String,
}

/// One entry of `questionnaire[]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct QuestionResult {
    /// Question id (GA1 ... KC5, NOTES-SSH ...).
    pub id: String,
    /// Tab: `General Assessment`, `Kernel Customization` or `Notes`.
    pub tab: String,
    /// Question text.
    pub question: String,
    /// The answer (bool, choice or text), `null` when unanswered.
    pub answer: Option<serde_json::Value>,
    /// Pass, Warning (False or unanswered), or NotApplicable (e.g. KC2 when the kernel is stock).
    pub status: Status,
    /// Why the status is not Pass (e.g. "Answered False: certification is likely to fail unless
    /// an exception is granted."); empty for Pass.
    #[serde(default)]
    pub message: String,
}
