//! The one explicit list of built-in checks. Its order is the report order; adding a check is
//! adding a line here (reviewed in diffs, guarded by the invariant tests below).

use crate::Check;
use crate::linux;
use crate::meta::Os;
use crate::windows;

/// Every built-in check, Linux first, in report order.
pub static ALL: &[&dyn Check] = &[
    // Linux
    &linux::BashHistoryCleared,
    &linux::LinuxAgentVersion,
    &linux::LinuxAgentEnabled,
    &linux::KernelBootParameters,
    &linux::NoSwapOnOsDisk,
    &linux::SingleRootPartition,
    &linux::OsDiskFirstMibFree,
    &linux::OpensslVersion,
    &linux::PythonVersion,
    &linux::SshClientAliveInterval,
    &linux::OsArchitecture,
    &linux::SecurityThreats,
    &linux::AgentAutoUpdate,
    &linux::SackKernelPatch,
    &linux::RootPasswordLocked,
    &linux::NoOtherPasswordHashes,
    &linux::NoLeftoverAuthorizedKeys,
    &linux::SudoersNoTargetpw,
    &linux::UdevPersistentNetRulesRemoved,
    &linux::HypervDriversPresent,
    &linux::GrubNoForbiddenParams,
    &linux::FirewallNoRules,
    &linux::SecurityUpdatesPending,
    &linux::OmiNotVulnerable,
    &linux::SshHostKeysRegenerated,
    // Linux: parity with Microsoft LISA's azure_image_standard (0.2)
    &linux::PackageRepositories,
    &linux::NetworkConfigFiles,
    &linux::KernelConfigEssentials,
    &linux::DhcpHostnameOption,
    &linux::HvKvpDaemon,
    &linux::CloudInitClean,
    &linux::ResourceDisk,
    &linux::BootLogClean,
    // Windows
    &windows::OsArchitecture,
    &windows::UserAccountDependency,
    &windows::FAILOVER_CLUSTERING_DISABLED,
    &windows::Ipv6NotRequired,
    &windows::DHCP_SERVER_DISABLED,
    &windows::HYPER_V_DISABLED,
    &windows::REMOTE_ACCESS_DISABLED,
    &windows::RIGHTS_MANAGEMENT_DISABLED,
    &windows::DEPLOYMENT_SERVICES_DISABLED,
    &windows::BitlockerOsVolumeOff,
    &windows::ISNS_DISABLED,
    &windows::MULTIPATH_IO_DISABLED,
    &windows::NLB_DISABLED,
    &windows::PNRP_DISABLED,
    &windows::SNMP_DISABLED,
    &windows::WINS_DISABLED,
    &windows::WIRELESS_LAN_DISABLED,
    &windows::ImageGeneralized,
    &windows::LatestPatchesInstalled,
    &windows::OnlyCAndDDrives,
    &windows::AzureVmAgentInstalled,
    &windows::RdpEnabled,
    &windows::OsDiskSize,
    &windows::WannacryPatch,
    &windows::SqlServerNotSelfInstalled,
    &windows::AutoUpdateEnabled,
];

/// The built-in checks for one OS, in report order.
pub fn for_os(os: Os) -> impl Iterator<Item = &'static dyn Check> {
    ALL.iter().copied().filter(move |c| c.meta().os == os)
}

/// The built-in check with this id for this OS.
#[must_use]
pub fn by_id(os: Os, id: &str) -> Option<&'static dyn Check> {
    for_os(os).find(|c| c.meta().id == id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe;
    use crate::verdict::Status;
    use regex::Regex;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_per_os_and_kebab_case() {
        let re = Regex::new(r"^[a-z0-9]+(-[a-z0-9]+)*$").unwrap();
        let mut seen = HashSet::new();
        for c in ALL {
            let m = c.meta();
            assert!(re.is_match(m.id), "malformed id {}", m.id);
            assert!(
                seen.insert((m.os, m.id)),
                "duplicate id {} for {}",
                m.id,
                m.os
            );
        }
    }

    #[test]
    fn every_probe_exists_for_the_checks_os() {
        for c in ALL {
            let m = c.meta();
            assert!(!c.probes().is_empty(), "{} declares no probe", m.id);
            for id in c.probes() {
                assert!(
                    probe::find(m.os, id).is_some(),
                    "{}: unknown probe {id}",
                    m.id
                );
            }
        }
    }

    #[test]
    fn docs_are_complete() {
        for c in ALL {
            let m = c.meta();
            for (field, text) in [
                ("title", m.title),
                ("description", m.description),
                ("rationale", m.rationale),
                ("remediation", m.remediation),
                ("since", m.since),
            ] {
                assert!(!text.trim().is_empty(), "{}: empty {field}", m.id);
            }
            assert_eq!(
                m.test_id.is_some(),
                m.test_case_name.is_some(),
                "{}: TestID without name",
                m.id
            );
            assert!(
                m.outcomes.contains(&Status::Error),
                "{}: every check can end in Error",
                m.id
            );
            for knob in m.knobs {
                assert!(
                    crate::Profile::Current.thresholds().knob(knob).is_some(),
                    "{}: unknown knob {knob}",
                    m.id
                );
            }
        }
    }

    #[test]
    fn registry_snapshot() {
        let ids: Vec<String> = ALL
            .iter()
            .map(|c| {
                let m = c.meta();
                format!("{} {} {}", m.os, m.id, m.test_id.unwrap_or("-"))
            })
            .collect();
        insta::assert_debug_snapshot!(ids);
    }
}
