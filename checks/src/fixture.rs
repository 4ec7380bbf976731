//! The on-disk form of recorded evidence, shared by the checks' fixture tests and by
//! `vmcert run --record DIR`, which writes it from a real target.
//!
//! A case is a directory holding `case.toml` ([`CaseFile`]) and, per probe, `<probe-id>.stdout`
//! and optionally `<probe-id>.stderr`. Exit status 0 is the default; other statuses, timeouts and
//! transport errors are written in `case.toml` under `[probe.<id>]`. This module converts between
//! that form and [`Evidence`]; reading and writing the files is the caller's business.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::evidence::{Evidence, ProbeOutput};
use crate::phase::Phase;
use crate::profile::Profile;
use crate::verdict::Status;

/// `case.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    /// The status the check must give (absent in raw recordings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Status>,
    /// Threshold profile for the evaluation.
    #[serde(default)]
    pub profile: Profile,
    /// Phase of the run (`build` for a build-VM recording; absent: final).
    #[serde(default, skip_serializing_if = "Phase::is_final")]
    pub phase: Phase,
    /// Where the outputs come from (a lab scenario, a documented sample, ...).
    #[serde(default)]
    pub source: String,
    /// Per-probe details other than the default (exit 0, completed, complete output).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub probe: BTreeMap<String, ProbeDetails>,
}

/// How a probe ended, when it is not "exit 0".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeDetails {
    /// Exit status (default 0 unless timed out or not run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<i32>,
    /// Killed at its timeout.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub timed_out: bool,
    /// Output was cut at the cap.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// Why the probe did not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Wall time on the target.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub duration_ms: u64,
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// Builds evidence from a case file and the contents of its `<probe>.stdout` / `.stderr` files
/// (keyed by file name).
#[must_use]
pub fn evidence_from(case: &CaseFile, files: &BTreeMap<String, Vec<u8>>) -> Evidence {
    let mut ev = Evidence::new(case.profile).in_phase(case.phase);
    let mut ids: Vec<&str> = files
        .keys()
        .filter_map(|name| {
            name.strip_suffix(".stdout")
                .or_else(|| name.strip_suffix(".stderr"))
        })
        .collect();
    ids.extend(case.probe.keys().map(String::as_str));
    ids.sort_unstable();
    ids.dedup();
    for id in ids {
        let details = case.probe.get(id).cloned().unwrap_or_default();
        let ended = !details.timed_out && details.error.is_none();
        let out = ProbeOutput {
            stdout: files
                .get(&format!("{id}.stdout"))
                .cloned()
                .unwrap_or_default(),
            stderr: files
                .get(&format!("{id}.stderr"))
                .cloned()
                .unwrap_or_default(),
            exit_code: details.exit.or(ended.then_some(0)),
            duration_ms: details.duration_ms,
            truncated: details.truncated,
            timed_out: details.timed_out,
            error: details.error,
        };
        ev.insert(id, out);
    }
    ev
}

/// The case file and the files (name, contents) that record `ev`.
#[must_use]
pub fn to_files(ev: &Evidence, source: &str) -> (CaseFile, BTreeMap<String, Vec<u8>>) {
    let mut case = CaseFile {
        expect: None,
        profile: ev.profile,
        phase: ev.phase,
        source: source.to_string(),
        probe: BTreeMap::new(),
    };
    let mut files = BTreeMap::new();
    for (id, out) in &ev.outputs {
        files.insert(format!("{id}.stdout"), out.stdout.clone());
        if !out.stderr.is_empty() {
            files.insert(format!("{id}.stderr"), out.stderr.clone());
        }
        let details = ProbeDetails {
            exit: out.exit_code.filter(|&c| c != 0),
            timed_out: out.timed_out,
            truncated: out.truncated,
            error: out.error.clone(),
            duration_ms: 0,
        };
        if details != ProbeDetails::default() {
            case.probe.insert(id.clone(), details);
        }
    }
    (case, files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut ev = Evidence::new(Profile::Toolkit).in_phase(Phase::Build);
        ev.insert("a", ProbeOutput::exited(0, "x\n"));
        let mut b = ProbeOutput::exited(127, "");
        b.stderr = b"nope\n".to_vec();
        ev.insert("b", b);
        ev.insert(
            "c",
            ProbeOutput {
                timed_out: true,
                ..ProbeOutput::default()
            },
        );
        let (case, files) = to_files(&ev, "test");
        let text = toml::to_string(&case).unwrap();
        let back: CaseFile = toml::from_str(&text).unwrap();
        let ev2 = evidence_from(&back, &files);
        assert_eq!(ev2.outputs, ev.outputs);
        assert_eq!(ev2.profile, Profile::Toolkit);
        assert_eq!(ev2.phase, Phase::Build);
    }
}
