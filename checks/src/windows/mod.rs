//! Built-in Windows checks, one file each, and the Windows probe catalogue (PowerShell).
//!
//! A check file holds the check (a unit struct named after the check id, or for the unsupported
//! roles and features a [`FeatureNotInstalled`] value), its [`crate::Meta`], the probes it reads
//! and a pure `evaluate`. Probes print JSON ([`probes`]); [`outputs`] parses it. Fixture cases
//! live in `checks/tests/fixtures/windows/<id>/`.

pub mod feature;
pub mod outputs;
pub mod probes;

mod auto_update_enabled;
mod azure_vm_agent_installed;
mod bitlocker_os_volume_off;
mod deployment_services_disabled;
mod dhcp_server_disabled;
mod failover_clustering_disabled;
mod hyper_v_disabled;
mod image_generalized;
mod ipv6_not_required;
mod isns_disabled;
mod latest_patches_installed;
mod multipath_io_disabled;
mod nlb_disabled;
mod only_c_and_d_drives;
mod os_architecture;
mod os_disk_size;
mod pnrp_disabled;
mod rdp_enabled;
mod remote_access_disabled;
mod rights_management_disabled;
mod snmp_disabled;
mod sql_server_not_self_installed;
mod user_account_dependency;
mod wannacry_patch;
mod wins_disabled;
mod wireless_lan_disabled;

pub use auto_update_enabled::AutoUpdateEnabled;
pub use azure_vm_agent_installed::AzureVmAgentInstalled;
pub use bitlocker_os_volume_off::BitlockerOsVolumeOff;
pub use deployment_services_disabled::DEPLOYMENT_SERVICES_DISABLED;
pub use dhcp_server_disabled::DHCP_SERVER_DISABLED;
pub use failover_clustering_disabled::FAILOVER_CLUSTERING_DISABLED;
pub use feature::FeatureNotInstalled;
pub use hyper_v_disabled::HYPER_V_DISABLED;
pub use image_generalized::ImageGeneralized;
pub use ipv6_not_required::Ipv6NotRequired;
pub use isns_disabled::ISNS_DISABLED;
pub use latest_patches_installed::LatestPatchesInstalled;
pub use multipath_io_disabled::MULTIPATH_IO_DISABLED;
pub use nlb_disabled::NLB_DISABLED;
pub use only_c_and_d_drives::OnlyCAndDDrives;
pub use os_architecture::OsArchitecture;
pub use os_disk_size::OsDiskSize;
pub use pnrp_disabled::PNRP_DISABLED;
pub use rdp_enabled::RdpEnabled;
pub use remote_access_disabled::REMOTE_ACCESS_DISABLED;
pub use rights_management_disabled::RIGHTS_MANAGEMENT_DISABLED;
pub use snmp_disabled::SNMP_DISABLED;
pub use sql_server_not_self_installed::SqlServerNotSelfInstalled;
pub use user_account_dependency::UserAccountDependency;
pub use wannacry_patch::WannacryPatch;
pub use wins_disabled::WINS_DISABLED;
pub use wireless_lan_disabled::WIRELESS_LAN_DISABLED;
