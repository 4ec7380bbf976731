//! Evidence: the recorded output of every probe run on one target, keyed by probe id.
//!
//! Transports fill it; checks only read it. The accessors turn every way a probe can go wrong
//! (never collected, not run for lack of privilege, timed out, truncated, non-zero exit) into an
//! [`Unevaluable`], so a check written with `?` can never mistake a broken probe for a finding.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::phase::Phase;
use crate::profile::{Profile, Thresholds};
use crate::verdict::Verdict;

/// What one probe produced on the target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeOutput {
    /// Raw standard output (may be capped, see `truncated`).
    pub stdout: Vec<u8>,
    /// Raw standard error (capped like stdout).
    pub stderr: Vec<u8>,
    /// Exit status; `None` when the probe did not finish (timeout, not run, connection lost).
    pub exit_code: Option<i32>,
    /// Wall time of the probe on the target, in milliseconds.
    pub duration_ms: u64,
    /// Output was cut at the per-probe cap.
    pub truncated: bool,
    /// The probe was killed at its timeout.
    pub timed_out: bool,
    /// Why the probe did not run or did not finish, when the transport knows (e.g. "needs root:
    /// sudo requires a password", "connection lost").
    pub error: Option<String>,
}

impl ProbeOutput {
    /// A probe that exited with `exit_code` after printing `stdout` (test and fixture helper).
    #[must_use]
    pub fn exited(exit_code: i32, stdout: impl Into<Vec<u8>>) -> Self {
        Self {
            stdout: stdout.into(),
            exit_code: Some(exit_code),
            ..Self::default()
        }
    }

    /// Standard output as text (invalid UTF-8 replaced).
    #[must_use]
    pub fn stdout_text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.stdout)
    }

    /// Standard error as text (invalid UTF-8 replaced).
    #[must_use]
    pub fn stderr_text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.stderr)
    }
}

/// Why a check could not be evaluated. Converts into an Error [`Verdict`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unevaluable(pub String);

impl Unevaluable {
    /// An unevaluable result with the given reason.
    pub fn new(reason: impl Into<String>) -> Self {
        Self(reason.into())
    }
}

impl From<Unevaluable> for Verdict {
    fn from(e: Unevaluable) -> Self {
        Self::error(e.0)
    }
}

/// All probe outputs of one target, plus the threshold profile and the phase of the run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Evidence {
    /// Threshold profile of the run.
    pub profile: Profile,
    /// When in the image's life the run looks at it (build VM or deployed VM).
    #[serde(default)]
    pub phase: Phase,
    /// Outputs by probe id.
    pub outputs: BTreeMap<String, ProbeOutput>,
}

impl Evidence {
    /// Empty evidence for the given profile.
    #[must_use]
    pub fn new(profile: Profile) -> Self {
        Self {
            profile,
            phase: Phase::default(),
            outputs: BTreeMap::new(),
        }
    }

    /// The same evidence seen in `phase`.
    #[must_use]
    pub fn in_phase(mut self, phase: Phase) -> Self {
        self.phase = phase;
        self
    }

    /// The same evidence with only the probes whose id `keep` accepts (e.g. the probes of the
    /// checks a `--record`ed fixture case is for).
    #[must_use]
    pub fn restricted_to(&self, keep: impl Fn(&str) -> bool) -> Self {
        let mut ev = self.clone();
        ev.outputs.retain(|id, _| keep(id));
        ev
    }

    /// Adds (or replaces) one probe's output.
    pub fn insert(&mut self, probe_id: impl Into<String>, output: ProbeOutput) {
        self.outputs.insert(probe_id.into(), output);
    }

    /// The thresholds of the run's profile.
    #[must_use]
    pub fn thresholds(&self) -> &'static Thresholds {
        self.profile.thresholds()
    }

    /// The probe's output if it ran to completion (any exit code, complete output).
    ///
    /// # Errors
    /// When the probe was not collected, did not run, timed out or was truncated.
    pub fn completed(&self, id: &str) -> Result<&ProbeOutput, Unevaluable> {
        let out = self
            .outputs
            .get(id)
            .ok_or_else(|| Unevaluable(format!("probe `{id}` was not collected")))?;
        if out.timed_out {
            return Err(Unevaluable(format!(
                "probe `{id}` timed out after {} ms",
                out.duration_ms
            )));
        }
        if let Some(err) = &out.error {
            return Err(Unevaluable(format!("probe `{id}` did not run: {err}")));
        }
        if out.truncated {
            return Err(Unevaluable(format!(
                "probe `{id}` printed more than the output cap; its output was truncated"
            )));
        }
        if out.exit_code.is_none() {
            return Err(Unevaluable(format!("probe `{id}` did not finish")));
        }
        Ok(out)
    }

    /// The probe's standard output, when it completed with exit status 0.
    ///
    /// # Errors
    /// As [`Evidence::completed`], and when the exit status is not 0 (the message quotes the
    /// first line of stderr, e.g. "Permission denied").
    pub fn stdout(&self, id: &str) -> Result<Cow<'_, str>, Unevaluable> {
        let out = self.completed(id)?;
        match out.exit_code {
            Some(0) => Ok(out.stdout_text()),
            Some(code) => Err(failed(id, code, out)),
            None => unreachable_none(id),
        }
    }

    /// Like [`Evidence::stdout`], but `absent_code` (by convention 127, "not installed") yields
    /// `Ok(None)` instead of an error.
    ///
    /// # Errors
    /// As [`Evidence::stdout`] for every other non-zero exit.
    pub fn stdout_unless(
        &self,
        id: &str,
        absent_code: i32,
    ) -> Result<Option<Cow<'_, str>>, Unevaluable> {
        let out = self.completed(id)?;
        match out.exit_code {
            Some(0) => Ok(Some(out.stdout_text())),
            Some(code) if code == absent_code => Ok(None),
            Some(code) => Err(failed(id, code, out)),
            None => unreachable_none(id),
        }
    }
}

/// Exit status 127 means "the command or file the probe looks for is not on the target".
pub const ABSENT: i32 = 127;

fn failed(id: &str, code: i32, out: &ProbeOutput) -> Unevaluable {
    let stderr = out.stderr_text();
    let first = stderr
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    if first.is_empty() {
        Unevaluable(format!("probe `{id}` exited with status {code}"))
    } else {
        Unevaluable(format!("probe `{id}` exited with status {code}: {first}"))
    }
}

fn unreachable_none<T>(id: &str) -> Result<T, Unevaluable> {
    Err(Unevaluable(format!("probe `{id}` did not finish")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_probe_is_unevaluable() {
        let ev = Evidence::default();
        assert_eq!(
            ev.stdout("os-release").unwrap_err().0,
            "probe `os-release` was not collected"
        );
    }

    #[test]
    fn non_zero_exit_quotes_stderr() {
        let mut ev = Evidence::default();
        let mut out = ProbeOutput::exited(1, "");
        out.stderr = b"cat: /etc/shadow: Permission denied\n".to_vec();
        ev.insert("shadow-status", out);
        assert_eq!(
            ev.stdout("shadow-status").unwrap_err().0,
            "probe `shadow-status` exited with status 1: cat: /etc/shadow: Permission denied"
        );
    }

    #[test]
    fn absent_code_is_none() {
        let mut ev = Evidence::default();
        ev.insert("openssl-version", ProbeOutput::exited(ABSENT, ""));
        assert_eq!(ev.stdout_unless("openssl-version", ABSENT).unwrap(), None);
        ev.insert("x", ProbeOutput::exited(2, ""));
        assert!(ev.stdout_unless("x", ABSENT).is_err());
    }

    #[test]
    fn timeout_and_truncation_are_unevaluable() {
        let mut ev = Evidence::default();
        ev.insert(
            "a",
            ProbeOutput {
                timed_out: true,
                duration_ms: 30_000,
                ..ProbeOutput::default()
            },
        );
        ev.insert(
            "b",
            ProbeOutput {
                truncated: true,
                ..ProbeOutput::exited(0, "x")
            },
        );
        assert!(ev.stdout("a").unwrap_err().0.contains("timed out"));
        assert!(ev.stdout("b").unwrap_err().0.contains("truncated"));
    }
}
