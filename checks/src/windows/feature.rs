//! The one rule behind the "unsupported role or feature" checks (TestIDs 1.1.6 and 1.1.8 to
//! 1.1.20, except BitLocker): Azure does not support the role, so an image must not have it
//! installed. Each check is a [`FeatureNotInstalled`] value in its own file; they all read the
//! `windows-features` probe and differ only in their names and the features they look at.

use serde::Deserialize;

use crate::Check;
use crate::evidence::{Evidence, Unevaluable};
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::windows::outputs;

/// A check that fails when any of `features` is installed (`Get-WindowsFeature` InstallState
/// `Installed`, or `InstallPending`, which becomes installed at the next boot).
///
/// actual is `Enabled` or `Disabled` and required is `<feature> feature is disabled`, as the
/// self-test API printed them (`Failover Clustering feature is disabled`). A feature the
/// Windows version does not have (no row) counts as not installed.
#[derive(Debug)]
pub struct FeatureNotInstalled {
    /// Identity and documentation of the check.
    pub meta: Meta,
    /// `Get-WindowsFeature` names, each also in [`crate::windows::probes::FEATURE_NAMES`].
    pub features: &'static [&'static str],
    /// The `required` text.
    pub required: &'static str,
}

/// The [`Meta`] fields every feature check shares; each check overrides its names and texts.
pub(crate) const FEATURE_META: Meta = Meta {
    id: "",
    title: "",
    test_id: None,
    test_case_name: None,
    description: "",
    rationale: "",
    remediation: "",
    os: Os::Windows,
    severity: Severity::High,
    since: "0.1.0",
    inferred: false,
    outcomes: &[Status::Pass, Status::Fail, Status::Error],
    knobs: &[],
};

/// One `windows-features` row.
#[derive(Debug, Deserialize)]
struct FeatureRow {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "InstallState")]
    install_state: String,
}

impl Check for FeatureNotInstalled {
    fn meta(&self) -> &Meta {
        &self.meta
    }

    fn probes(&self) -> &[ProbeId] {
        &["windows-features"]
    }

    fn required(&self, _: &Evidence) -> String {
        self.required.to_string()
    }

    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        self.verdict(ev)
    }
}

impl FeatureNotInstalled {
    fn verdict(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        let rows: Vec<FeatureRow> = outputs::rows(ev, "windows-features")?;
        let mut installed = Vec::new();
        let mut states = Vec::new();
        for name in self.features {
            let Some(row) = rows.iter().find(|r| r.name.eq_ignore_ascii_case(name)) else {
                states.push(format!("{name} does not exist on this Windows version"));
                continue;
            };
            match row.install_state.as_str() {
                "Installed" | "InstallPending" => {
                    installed.push(format!("{} ({})", row.name, row.install_state));
                }
                "Available" | "Removed" | "UninstallPending" => {
                    states.push(format!("{} is {}", row.name, row.install_state));
                }
                other => {
                    return Err(Unevaluable::new(format!(
                        "Get-WindowsFeature reported an unknown InstallState `{other}` for {}",
                        row.name
                    )));
                }
            }
        }
        Ok(if installed.is_empty() {
            Verdict::new(
                Status::Pass,
                "Disabled",
                self.required,
                format!("Not installed: {}.", states.join("; ")),
            )
        } else {
            Verdict::new(
                Status::Fail,
                "Enabled",
                self.required,
                format!(
                    "Installed: {}. Azure does not support it; remove it with Uninstall-WindowsFeature before capturing the image.",
                    installed.join(", ")
                ),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::ProbeOutput;
    use crate::registry;
    use crate::windows::probes::FEATURE_NAMES;
    use crate::windows::*;

    #[test]
    fn every_feature_check_reads_names_the_probe_asks_for() {
        let mut covered = Vec::new();
        for c in registry::ALL {
            if c.probes() != ["windows-features"] {
                continue;
            }
            let m = c.meta();
            assert_eq!(m.os, Os::Windows);
            assert!(
                m.description.len() > 20 && m.rationale.len() > 20,
                "{}: documentation left at the shared default",
                m.id
            );
            covered.push(m.id);
        }
        assert_eq!(covered.len(), 13, "{covered:?}");
        for name in FEATURE_NAMES {
            assert!(
                ALL_FEATURE_CHECKS.iter().any(|c| c.features.contains(name)),
                "{name} is queried but no check reads it"
            );
        }
        for c in ALL_FEATURE_CHECKS {
            for f in c.features {
                assert!(FEATURE_NAMES.contains(f), "{}: {f} not queried", c.meta.id);
            }
            assert!(
                c.required.ends_with(" feature is disabled"),
                "{}",
                c.meta.id
            );
        }
    }

    const ALL_FEATURE_CHECKS: [&FeatureNotInstalled; 13] = [
        &FAILOVER_CLUSTERING_DISABLED,
        &DHCP_SERVER_DISABLED,
        &HYPER_V_DISABLED,
        &REMOTE_ACCESS_DISABLED,
        &RIGHTS_MANAGEMENT_DISABLED,
        &DEPLOYMENT_SERVICES_DISABLED,
        &ISNS_DISABLED,
        &MULTIPATH_IO_DISABLED,
        &NLB_DISABLED,
        &PNRP_DISABLED,
        &SNMP_DISABLED,
        &WINS_DISABLED,
        &WIRELESS_LAN_DISABLED,
    ];

    #[test]
    fn install_pending_fails_and_unknown_states_are_errors() {
        let mut ev = Evidence::default();
        ev.insert(
            "windows-features",
            ProbeOutput::exited(
                0,
                r#"{"Name":"Hyper-V","DisplayName":"Hyper-V","InstallState":"InstallPending"}"#,
            ),
        );
        let v = HYPER_V_DISABLED.evaluate(&ev);
        assert_eq!(v.status, Status::Fail);
        assert_eq!(v.actual, "Enabled");
        ev.insert(
            "windows-features",
            ProbeOutput::exited(0, r#"{"Name":"Hyper-V","InstallState":1}"#),
        );
        let v = HYPER_V_DISABLED.evaluate(&ev);
        assert_eq!(v.status, Status::Error);
        assert_eq!(v.required, "Hyper-V feature is disabled");
    }
}
