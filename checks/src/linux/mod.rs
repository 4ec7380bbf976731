//! Built-in Linux checks, one file each, and the Linux probe catalogue.
//!
//! A check file holds a unit struct named after the check id, its [`crate::Meta`], the probes it
//! reads and a pure `evaluate`. Fixture cases live in `checks/tests/fixtures/linux/<id>/`.
//! Files that several checks read are parsed once, in `boot_params` (kernel command lines, GRUB
//! defaults), `os_release` and `waagent_conf`.

pub mod probes;

mod boot_params;
mod os_release;
mod waagent_conf;

mod agent_auto_update;
mod bash_history_cleared;
mod grub_no_forbidden_params;
mod kernel_boot_parameters;
mod linux_agent_enabled;
mod linux_agent_version;
mod omi_not_vulnerable;
mod openssl_version;
mod os_architecture;
mod python_version;
mod sack_kernel_patch;
mod security_threats;
mod ssh_host_keys_regenerated;

pub use agent_auto_update::AgentAutoUpdate;
pub use bash_history_cleared::BashHistoryCleared;
pub use grub_no_forbidden_params::GrubNoForbiddenParams;
pub use kernel_boot_parameters::KernelBootParameters;
pub use linux_agent_enabled::LinuxAgentEnabled;
pub use linux_agent_version::LinuxAgentVersion;
pub use omi_not_vulnerable::OmiNotVulnerable;
pub use openssl_version::OpensslVersion;
pub use os_architecture::OsArchitecture;
pub use python_version::PythonVersion;
pub use sack_kernel_patch::SackKernelPatch;
pub use security_threats::SecurityThreats;
pub use ssh_host_keys_regenerated::SshHostKeysRegenerated;
