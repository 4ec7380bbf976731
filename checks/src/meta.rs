//! Identity and documentation of a check: the stable id, the names Microsoft's tool used, and the
//! texts (rationale, remediation) that end up in every report.

use serde::Serialize;

use crate::verdict::Status;

/// Which operating system a check or probe is for.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Os {
    /// Linux over SSH (or `--local`).
    Linux,
    /// Windows over WinRM/PowerShell.
    Windows,
}

impl Os {
    /// Lower-case name, as used on the command line and in JSON.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Linux => "linux",
            Self::Windows => "windows",
        }
    }
}

impl std::fmt::Display for Os {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How much a failure of this check matters to a reviewer.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Certification is refused when this fails.
    High,
    /// Usually a finding the reviewer asks about.
    Medium,
    /// Advice.
    Low,
}

/// Everything a report and `vmcert checks show` say about a check.
#[derive(Debug, Clone, Serialize)]
pub struct Meta {
    /// Stable kebab-case id naming the required property, e.g. `bash-history-cleared`.
    pub id: &'static str,
    /// Short human title.
    pub title: &'static str,
    /// Microsoft's TestID (`"48"`, `"1.1.4"`) where the old tool or the self-test API had one.
    pub test_id: Option<&'static str>,
    /// Microsoft's TestCaseName, exactly as written in checks.md.
    pub test_case_name: Option<&'static str>,
    /// What the check verifies (the self-test `Description`).
    pub description: &'static str,
    /// Why Azure certification requires it, with the sources.
    pub rationale: &'static str,
    /// What to do when it fails.
    pub remediation: &'static str,
    /// The operating system it applies to.
    pub os: Os,
    /// How much a failure matters.
    pub severity: Severity,
    /// vmcert version that introduced the check.
    pub since: &'static str,
    /// True when the rule has no published threshold and vmcert's reading is documented instead.
    pub inferred: bool,
    /// Every status this check can give; each one has at least one fixture case.
    pub outcomes: &'static [Status],
    /// Names of the profile knobs ([`crate::Thresholds::knobs`]) the check reads.
    pub knobs: &'static [&'static str],
}
