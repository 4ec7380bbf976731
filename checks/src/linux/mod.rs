//! Built-in Linux checks, one file each, and the Linux probe catalogue.
//!
//! A check file holds a unit struct named after the check id, its [`crate::Meta`], the probes it
//! reads and a pure `evaluate`. Fixture cases live in `checks/tests/fixtures/linux/<id>/`.
//! Files that several checks read are parsed once, in `boot_params` (kernel command lines, GRUB
//! defaults), `os_release`, `family` (distribution families from os-release), `config_files`
//! (sectioned probe outputs, sysconfig and .repo files) and `waagent_conf`.

pub mod probes;

mod accounts;
mod blockdev;
mod boot_params;
mod config_files;
mod deprovision;
mod family;
pub mod os_release;
mod waagent_conf;

mod agent_auto_update;
mod bash_history_cleared;
mod boot_log_clean;
mod cloud_init_clean;
mod dhcp_hostname_option;
mod firewall_no_rules;
mod grub_no_forbidden_params;
mod hv_kvp_daemon;
mod hyperv_drivers_present;
mod kernel_boot_parameters;
mod kernel_config_essentials;
mod linux_agent_enabled;
mod linux_agent_version;
mod network_config_files;
mod no_leftover_authorized_keys;
mod no_other_password_hashes;
mod no_swap_on_os_disk;
mod omi_not_vulnerable;
mod openssl_version;
mod os_architecture;
mod os_disk_first_mib_free;
mod package_repositories;
mod python_version;
mod resource_disk;
mod root_password_locked;
mod sack_kernel_patch;
mod security_threats;
mod security_updates_pending;
mod single_root_partition;
mod ssh_client_alive_interval;
mod ssh_host_keys_regenerated;
mod sudoers_no_targetpw;
mod udev_persistent_net_rules_removed;

pub use agent_auto_update::AgentAutoUpdate;
pub use bash_history_cleared::BashHistoryCleared;
pub use boot_log_clean::BootLogClean;
pub use cloud_init_clean::CloudInitClean;
pub use dhcp_hostname_option::DhcpHostnameOption;
pub use firewall_no_rules::FirewallNoRules;
pub use grub_no_forbidden_params::GrubNoForbiddenParams;
pub use hv_kvp_daemon::HvKvpDaemon;
pub use hyperv_drivers_present::HypervDriversPresent;
pub use kernel_boot_parameters::KernelBootParameters;
pub use kernel_config_essentials::KernelConfigEssentials;
pub use linux_agent_enabled::LinuxAgentEnabled;
pub use linux_agent_version::LinuxAgentVersion;
pub use network_config_files::NetworkConfigFiles;
pub use no_leftover_authorized_keys::NoLeftoverAuthorizedKeys;
pub use no_other_password_hashes::NoOtherPasswordHashes;
pub use no_swap_on_os_disk::NoSwapOnOsDisk;
pub use omi_not_vulnerable::OmiNotVulnerable;
pub use openssl_version::OpensslVersion;
pub use os_architecture::OsArchitecture;
pub use os_disk_first_mib_free::OsDiskFirstMibFree;
pub use package_repositories::PackageRepositories;
pub use python_version::PythonVersion;
pub use resource_disk::ResourceDisk;
pub use root_password_locked::RootPasswordLocked;
pub use sack_kernel_patch::SackKernelPatch;
pub use security_threats::SecurityThreats;
pub use security_updates_pending::SecurityUpdatesPending;
pub use single_root_partition::SingleRootPartition;
pub use ssh_client_alive_interval::{SshClientAliveInterval, convtime};
pub use ssh_host_keys_regenerated::SshHostKeysRegenerated;
pub use sudoers_no_targetpw::SudoersNoTargetpw;
pub use udev_persistent_net_rules_removed::UdevPersistentNetRulesRemoved;
