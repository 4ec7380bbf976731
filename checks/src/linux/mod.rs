//! Built-in Linux checks, one file each, and the Linux probe catalogue.
//!
//! A check file holds a unit struct named after the check id, its [`crate::Meta`], the probes it
//! reads and a pure `evaluate`. Fixture cases live in `checks/tests/fixtures/linux/<id>/`.

pub mod probes;

mod accounts;
mod blockdev;

mod firewall_no_rules;
mod hyperv_drivers_present;
mod no_leftover_authorized_keys;
mod no_other_password_hashes;
mod no_swap_on_os_disk;
mod os_architecture;
mod os_disk_first_mib_free;
mod root_password_locked;
mod security_updates_pending;
mod single_root_partition;
mod ssh_client_alive_interval;
mod sudoers_no_targetpw;
mod udev_persistent_net_rules_removed;

pub use firewall_no_rules::FirewallNoRules;
pub use hyperv_drivers_present::HypervDriversPresent;
pub use no_leftover_authorized_keys::NoLeftoverAuthorizedKeys;
pub use no_other_password_hashes::NoOtherPasswordHashes;
pub use no_swap_on_os_disk::NoSwapOnOsDisk;
pub use os_architecture::OsArchitecture;
pub use os_disk_first_mib_free::OsDiskFirstMibFree;
pub use root_password_locked::RootPasswordLocked;
pub use security_updates_pending::SecurityUpdatesPending;
pub use single_root_partition::SingleRootPartition;
pub use ssh_client_alive_interval::SshClientAliveInterval;
pub use sudoers_no_targetpw::SudoersNoTargetpw;
pub use udev_persistent_net_rules_removed::UdevPersistentNetRulesRemoved;
