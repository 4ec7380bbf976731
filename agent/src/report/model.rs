//! `results.json`, schema `vmcert.report/v1`: the one serializable model of a run. Every other
//! file of the report zip (HTML, Markdown, JUnit, self-test JSON) is rendered from it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use vmcert_checks::{Os, Phase, Severity, Status};

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
    /// Which checks were run, skipped and waived.
    #[serde(default)]
    pub scope: Scope,
    /// Counts per status and the outcome.
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

/// `scope`: what the run covered, so a partial run never reads as a full one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Scope {
    /// Ids of the checks that ran, in report order (built-in and check-pack checks).
    pub checks_run: Vec<String>,
    /// Built-in checks of the catalogue that did not run, and why.
    pub skipped: Vec<Skipped>,
    /// Ids of the checks whose Fail, Error or Warning a valid waiver covers.
    pub waived: Vec<String>,
    /// Every built-in check for the target's OS ran (`--checks`/`--skip` left none out).
    pub full_catalogue: bool,
    /// `final` (a VM deployed from the finished image) or `build` (the build VM before
    /// deprovisioning: a pre-check). Reports written before phases existed are `final`.
    #[serde(default)]
    pub phase: Phase,
}

/// One entry of `scope.skipped`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Skipped {
    /// Check id.
    pub id: String,
    /// `checks` (not named by `--checks`), `skip` (named by `--skip`) or `os` (a check for the
    /// other OS).
    pub reason: SkipReason,
}

/// Why a catalogue check did not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SkipReason {
    /// `--checks` was given and did not name it.
    Checks,
    /// `--skip` named it.
    Skip,
    /// It is a check for the other OS.
    Os,
}

/// The run's conclusion, decided once ([`crate::engine::runner::summarize`]) and read by every renderer,
/// `report show` and the exit code's wording.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Outcome {
    /// A full catalogue run of the target's OS, completed, with no Fail and no Error (waived or
    /// not).
    Certified,
    /// At least one check failed (waived or not: a waiver accepts a Fail, it does not make it a
    /// Pass).
    Failed,
    /// No Fail, but the run does not prove the image: a check in Error, the run interrupted, or
    /// only part of the catalogue run.
    #[default]
    Incomplete,
    /// A pre-check, never certified: the disk image was read without booting it (`--image`), or
    /// the run looked at the build VM before deprovisioning (`--phase build`).
    PreCheck,
}

impl Outcome {
    /// `certified`, `failed`, `incomplete` or `pre-check`.
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Certified => "certified",
            Self::Failed => "failed",
            Self::Incomplete => "incomplete",
            Self::PreCheck => "pre-check",
        }
    }

    /// `CERTIFIED`, `FAILED`, `INCOMPLETE` or `PRE-CHECK`.
    pub(crate) const fn label(self) -> &'static str {
        match self {
            Self::Certified => "CERTIFIED",
            Self::Failed => "FAILED",
            Self::Incomplete => "INCOMPLETE",
            Self::PreCheck => "PRE-CHECK",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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
    /// Of `fail`, those covered by a valid waiver.
    #[serde(default)]
    pub waived_fail: usize,
    /// Of `error`, those covered by a valid waiver.
    #[serde(default)]
    pub waived_error: usize,
    /// Of `warning`, those covered by a valid waiver.
    #[serde(default)]
    pub waived_warning: usize,
    /// The conclusion: certified, failed, incomplete or pre-check.
    #[serde(default)]
    pub outcome: Outcome,
    /// `outcome == certified`: a full catalogue run of the target's OS with no Fail and no
    /// Error, waived or not.
    pub certified: bool,
}

impl Summary {
    /// `OUTCOME: n pass, ...`: the conclusion and its counts on one line.
    pub(crate) fn line(&self) -> String {
        let waived: Vec<String> = [
            (self.waived_fail, "fail"),
            (self.waived_error, "error"),
            (self.waived_warning, "warning"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        let waived = if waived.is_empty() {
            String::new()
        } else {
            format!(" (waived: {})", waived.join(", "))
        };
        format!(
            "{}: {} pass, {} warning, {} fail, {} not applicable, {} error{waived}",
            self.outcome.label(),
            self.pass,
            self.warning,
            self.fail,
            self.not_applicable,
            self.error,
        )
    }
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
