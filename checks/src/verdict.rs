//! The result of evaluating one check: a status plus what was found and what was required, in the
//! one-line form the self-test API used.

use serde::{Deserialize, Serialize};

/// Outcome of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Status {
    /// The image meets the rule.
    Pass,
    /// Allowed, but a reviewer will ask about it.
    Warning,
    /// The image breaks the rule.
    Fail,
    /// The rule does not apply to this OS, distribution or architecture.
    NotApplicable,
    /// The check could not be evaluated (probe failed, timed out, unparsable output, no
    /// permission). Never counted as Pass or Fail.
    Error,
}

impl Status {
    /// All statuses, in report order.
    pub const ALL: [Self; 5] = [
        Self::Pass,
        Self::Warning,
        Self::Fail,
        Self::NotApplicable,
        Self::Error,
    ];

    /// The name used in JSON and reports.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "Pass",
            Self::Warning => "Warning",
            Self::Fail => "Fail",
            Self::NotApplicable => "NotApplicable",
            Self::Error => "Error",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a check concluded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// The outcome.
    pub status: Status,
    /// What was found, in one line where possible (the self-test `ActualValue`).
    pub actual: String,
    /// What the rule wants (the self-test `RequiredValue`).
    pub required: String,
    /// A sentence for humans explaining the outcome.
    pub message: String,
}

impl Verdict {
    /// A verdict with the given parts.
    pub fn new(
        status: Status,
        actual: impl Into<String>,
        required: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            actual: actual.into(),
            required: required.into(),
            message: message.into(),
        }
    }

    /// The check could not be evaluated; `message` says why.
    pub fn error(message: impl Into<String>) -> Self {
        Self::new(Status::Error, "", "", message)
    }

    /// Sets `required` (used when an [`crate::Unevaluable`] is turned into a verdict).
    #[must_use]
    pub fn with_required(mut self, required: impl Into<String>) -> Self {
        self.required = required.into();
        self
    }
}
