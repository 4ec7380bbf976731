//! The probe catalogue: every command vmcert runs on a target, by stable id.
//!
//! Checks name probes; they never carry command text. The runner gathers the union of the probes
//! the selected checks need and runs each exactly once per target, so two checks reading
//! `/etc/waagent.conf` cost one read. Linux probes are POSIX `sh` fragments
//! ([`crate::linux::probes`]); Windows probes are PowerShell fragments ([`crate::windows::probes`]).
//!
//! Conventions for Linux probe commands:
//! - exit 0 with the raw output of a standard tool whenever possible (`cat /etc/os-release`), so
//!   fixtures are what real machines print;
//! - exit 127 ([`crate::evidence::ABSENT`]) when the file or program the probe looks for does not
//!   exist, so "not installed" is told apart from "could not read";
//! - never print secrets: probes that read `/etc/shadow` reduce every field to a class.

use serde::Serialize;

use crate::meta::Os;

/// The stable id of a probe, e.g. `os-release`.
pub type ProbeId = &'static str;

/// One command of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Probe {
    /// Stable kebab-case id, also the fixture file stem.
    pub id: ProbeId,
    /// The OS whose shell runs `command`.
    pub os: Os,
    /// `sh` (Linux) or PowerShell (Windows) text.
    pub command: &'static str,
    /// Needs root (Linux, via sudo) or an administrator (Windows).
    pub needs_root: bool,
    /// What the output is, for `vmcert checks show` and the logs.
    pub description: &'static str,
}

/// Probes collected on every target of an OS for the report header (OS name, kernel, host name),
/// whatever checks are selected.
#[must_use]
pub const fn fact_probes(os: Os) -> &'static [ProbeId] {
    match os {
        Os::Linux => crate::linux::probes::FACTS,
        Os::Windows => crate::windows::probes::FACTS,
    }
}

/// Every built-in probe of both OSes.
pub fn all() -> impl Iterator<Item = &'static Probe> {
    crate::linux::probes::PROBES
        .iter()
        .chain(crate::windows::probes::PROBES.iter())
}

/// The built-in probe with this id for this OS.
#[must_use]
pub fn find(os: Os, id: &str) -> Option<&'static Probe> {
    all().find(|p| p.os == os && p.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;
    use std::collections::HashSet;

    #[test]
    fn probe_ids_are_unique_per_os_and_well_formed() {
        let re = Regex::new(r"^[a-z0-9]+(-[a-z0-9]+)*$").unwrap();
        let mut seen = HashSet::new();
        for p in all() {
            assert!(re.is_match(p.id), "malformed probe id {}", p.id);
            assert!(seen.insert((p.os, p.id)), "duplicate probe id {}", p.id);
            assert!(!p.command.trim().is_empty(), "{} has no command", p.id);
            assert!(!p.description.is_empty(), "{} has no description", p.id);
        }
    }

    #[test]
    fn fact_probes_exist() {
        for os in [Os::Linux, Os::Windows] {
            for id in fact_probes(os) {
                assert!(find(os, id).is_some(), "fact probe {id} missing for {os}");
            }
        }
    }
}
