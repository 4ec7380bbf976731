//! What deprovisioning removes from a build VM, for the checks' build phase
//! ([`Phase::Build`](crate::Phase::Build)): a leftover it removes is a Warning there ("will be
//! removed"), everything else keeps its final-phase verdict.
//!
//! WALinuxAgent's `waagent -deprovision+user` (`azurelinuxagent/pa/deprovision/default.py`,
//! `DeprovisionHandler.setup`) deletes `/root/.bash_history` (and no other history file), the
//! account named in `ovf-env.xml` with its whole home (`userdel -f -r`; on an Azure build VM that is
//! the build user Packer logs in as, `packer` by default, with Packer's temporary key), root's
//! password only with `Provisioning.DeleteRootPassword=y` (root's /etc/shadow line becomes
//! `root:*LOCK*:...`), the SSH host keys only with `Provisioning.RegenerateSshHostKeyPair=y`, and
//! /var/lib/waagent, DHCP leases, /etc/resolv.conf and the host name. `cloud-init clean --logs`
//! deletes /var/lib/cloud and cloud-init's logs. Root is never the provisioned account (Azure
//! refuses `root` as the admin user name), so root's keys and other history files stay.

use crate::Unevaluable;
use crate::evidence::{ABSENT, Evidence};
use crate::linux::waagent_conf::{Switch, WaagentConf};

/// The one history file `waagent -deprovision` deletes.
pub(crate) const ROOT_BASH_HISTORY: &str = "/root/.bash_history";

/// The waagent.conf switch that makes deprovisioning lock root's password.
pub(crate) const DELETE_ROOT_PASSWORD: &str = "Provisioning.DeleteRootPassword";

/// Comment of the key Packer's Azure builders (azure-arm, azure-dtl) generate for the build user:
/// `<type> <base64> packer Azure Deployment<RFC 3339 time>` (packer-plugin-azure,
/// `builder/azure/arm/openssh_key_pair.go` `AuthorizedKey`).
pub(crate) const PACKER_AZURE_KEY_COMMENT: &str = "packer Azure Deployment";

/// `waagent -deprovision+user` deletes `user` (and its home) when it is the build user that
/// logged in: the account the VM was provisioned with. Never root.
pub(crate) fn removes_account(user: &str, build_user: &str) -> bool {
    user == build_user && user != "root"
}

/// The active `Provisioning.DeleteRootPassword=y` line of /etc/waagent.conf, if there is one:
/// then `waagent -deprovision` locks root's password.
///
/// # Errors
/// The `waagent-conf` probe failed (other than "no /etc/waagent.conf").
pub(crate) fn root_password_deleted(ev: &Evidence) -> Result<Option<String>, Unevaluable> {
    let Some(text) = ev.stdout_unless("waagent-conf", ABSENT)? else {
        return Ok(None);
    };
    let conf = WaagentConf::new(&text);
    Ok(match conf.switch(DELETE_ROOT_PASSWORD) {
        Switch::On => conf.get(DELETE_ROOT_PASSWORD).map(|s| s.line.to_string()),
        Switch::Off | Switch::Default => None,
    })
}

/// The sentence every build-phase Warning ends with.
pub(crate) const RUN_IT: &str = "This is a build-phase pre-check: run `sudo waagent -force \
     -deprovision+user` as the build's last step (Microsoft's generalization step), and certify \
     a VM deployed from the captured image.";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::ProbeOutput;

    #[test]
    fn root_is_never_the_deleted_account() {
        assert!(removes_account("packer", "packer"));
        assert!(!removes_account("root", "root"));
        assert!(!removes_account("alice", "packer"));
    }

    #[test]
    fn delete_root_password_is_read_from_waagent_conf() {
        let mut ev = Evidence::default();
        ev.insert(
            "waagent-conf",
            ProbeOutput::exited(0, "Provisioning.DeleteRootPassword=y\n"),
        );
        assert_eq!(
            root_password_deleted(&ev).unwrap().as_deref(),
            Some("Provisioning.DeleteRootPassword=y")
        );
        ev.insert(
            "waagent-conf",
            ProbeOutput::exited(0, "# Provisioning.DeleteRootPassword=y\n"),
        );
        assert_eq!(root_password_deleted(&ev).unwrap(), None);
        ev.insert("waagent-conf", ProbeOutput::exited(ABSENT, ""));
        assert_eq!(root_password_deleted(&ev).unwrap(), None);
        ev.insert("waagent-conf", ProbeOutput::exited(1, ""));
        assert!(root_password_deleted(&ev).is_err());
    }
}
