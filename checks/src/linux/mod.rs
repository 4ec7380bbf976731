//! Built-in Linux checks, one file each, and the Linux probe catalogue.
//!
//! A check file holds a unit struct named after the check id, its [`crate::Meta`], the probes it
//! reads and a pure `evaluate`. Fixture cases live in `checks/tests/fixtures/linux/<id>/`.
//! Files that several checks read are parsed once, in `boot_params` (kernel command lines, GRUB
//! defaults), `os_release` and `waagent_conf`.

pub mod probes;

mod accounts;
mod blockdev;
mod boot_params;
pub mod os_release;
mod waagent_conf;

mod agent_auto_update;
mod bash_history_cleared;
mod firewall_no_rules;
mod grub_no_forbidden_params;
mod hyperv_drivers_present;
mod kernel_boot_parameters;
mod linux_agent_enabled;
mod linux_agent_version;
mod no_leftover_authorized_keys;
mod no_other_password_hashes;
mod no_swap_on_os_disk;
mod omi_not_vulnerable;
mod openssl_version;
mod os_architecture;
mod os_disk_first_mib_free;
mod python_version;
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
pub use firewall_no_rules::FirewallNoRules;
pub use grub_no_forbidden_params::GrubNoForbiddenParams;
pub use hyperv_drivers_present::HypervDriversPresent;
pub use kernel_boot_parameters::KernelBootParameters;
pub use linux_agent_enabled::LinuxAgentEnabled;
pub use linux_agent_version::LinuxAgentVersion;
pub use no_leftover_authorized_keys::NoLeftoverAuthorizedKeys;
pub use no_other_password_hashes::NoOtherPasswordHashes;
pub use no_swap_on_os_disk::NoSwapOnOsDisk;
pub use omi_not_vulnerable::OmiNotVulnerable;
pub use openssl_version::OpensslVersion;
pub use os_architecture::OsArchitecture;
pub use os_disk_first_mib_free::OsDiskFirstMibFree;
pub use python_version::PythonVersion;
pub use root_password_locked::RootPasswordLocked;
pub use sack_kernel_patch::SackKernelPatch;
pub use security_threats::SecurityThreats;
pub use security_updates_pending::SecurityUpdatesPending;
pub use single_root_partition::SingleRootPartition;
pub use ssh_client_alive_interval::SshClientAliveInterval;
pub use ssh_host_keys_regenerated::SshHostKeysRegenerated;
pub use sudoers_no_targetpw::SudoersNoTargetpw;
pub use udev_persistent_net_rules_removed::UdevPersistentNetRulesRemoved;
