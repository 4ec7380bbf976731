//! Root must not be reachable by password: Azure provisions its own admin account, and a root
//! password baked into an image is the same on every VM made from it.

use crate::evidence::Evidence;
use crate::linux::accounts::{Password, login_user, shadow_status};
use crate::linux::deprovision::{DELETE_ROOT_PASSWORD, RUN_IT, root_password_deleted};
use crate::meta::{Meta, Os, Severity};
use crate::phase::Phase;
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::{Check, Unevaluable};

/// Root's /etc/shadow password field is locked (`!` or `*`).
#[derive(Debug)]
pub struct RootPasswordLocked;

static META: Meta = Meta {
    id: "root-password-locked",
    title: "Root password locked",
    test_id: None,
    test_case_name: None,
    description: "Root's password field in /etc/shadow starts with `!` or `*`.",
    rationale: "Azure images must ship no default passwords (Marketplace policy; \
                `Provisioning.DeleteRootPassword=y` in /etc/waagent.conf). Microsoft's image BVT \
                (BVT-IS-ROOT-PASSWORD-DELETED) passes when root's shadow field contains `*` or \
                `!`. A hash would be the same secret on every VM; an empty field allows \
                password-less root logins wherever PAM accepts them. The hash itself never leaves \
                the VM: the probe reduces the field to a class. LISA's verify_no_pre_exist_users \
                skips the account it logged in with; so when vmcert itself logs in as root, a \
                root hash (the password of this test deployment) is a Warning, not a Fail. An \
                empty field stays a Fail although LISA accepts it: it lets anyone at the serial \
                console log in as root, a defect LISA's implementation misses. In the build \
                phase (`--phase build`, inside the build VM before deprovisioning) a root \
                password is a Warning only when /etc/waagent.conf says \
                `Provisioning.DeleteRootPassword=y` (then `waagent -deprovision` locks it); \
                otherwise it stays in the image and fails, whoever logged in.",
    remediation: "Lock root's password: `sudo passwd -l root` (or `sudo usermod -p '!' root`), or run \
                  `sudo waagent -deprovision` before capturing the image.",
    os: Os::Linux,
    severity: Severity::High,
    since: "0.1.0",
    inferred: false,
    outcomes: &[Status::Pass, Status::Warning, Status::Fail, Status::Error],
    knobs: &[],
};

const REQUIRED: &str = "root password field starts with ! or *";

impl Check for RootPasswordLocked {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &["shadow-status", "login-user", "waagent-conf"]
    }

    fn required(&self, _: &Evidence) -> String {
        REQUIRED.to_string()
    }

    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        evaluate(ev)
    }
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let accounts = shadow_status(ev)?;
    let Some((_, root)) = accounts.iter().find(|(name, _)| name == "root") else {
        return Err(Unevaluable::new("/etc/shadow has no entry for root"));
    };
    if ev.phase == Phase::Build && *root != Password::Locked {
        return build_phase(ev, *root);
    }
    Ok(match root {
        Password::Locked => Verdict::new(
            Status::Pass,
            "root: locked",
            REQUIRED,
            "Root's password is locked: nobody can log in as root with a password.",
        ),
        Password::Hash if login_user(ev)? == "root" => Verdict::new(
            Status::Warning,
            "root: password hash (vmcert logged in as root)",
            REQUIRED,
            "Root has a password hash in /etc/shadow, and vmcert logged in as root, so it may be \
             the password of this test deployment (LISA does not check the account it logs in \
             with). Make sure the captured image has root's password locked.",
        ),
        Password::Hash => Verdict::new(
            Status::Fail,
            "root: password hash",
            REQUIRED,
            "Root has a password hash in /etc/shadow: every VM made from this image would share \
             that root password.",
        ),
        Password::Empty => Verdict::new(
            Status::Fail,
            "root: empty password field",
            REQUIRED,
            "Root's password field in /etc/shadow is empty: root may log in without a password \
             wherever PAM allows empty passwords.",
        ),
    })
}

/// A root password seen in the build VM: deprovisioning locks it only with
/// `Provisioning.DeleteRootPassword=y`.
fn build_phase(ev: &Evidence, root: Password) -> Result<Verdict, Unevaluable> {
    let what = if root == Password::Empty {
        "root: empty password field"
    } else {
        "root: password hash"
    };
    Ok(match root_password_deleted(ev)? {
        Some(line) => Verdict::new(
            Status::Warning,
            format!("{what}; /etc/waagent.conf: {line}"),
            REQUIRED,
            format!(
                "Root has a password in the build VM; deprovisioning will lock it (`{line}` makes \
                 `waagent -deprovision` replace root's /etc/shadow entry with `root:*LOCK*`). \
                 {RUN_IT}"
            ),
        ),
        None => Verdict::new(
            Status::Fail,
            what,
            REQUIRED,
            format!(
                "Root has a password in the build VM, and deprovisioning will not remove it \
                 (/etc/waagent.conf does not say {DELETE_ROOT_PASSWORD}=y): every VM made from \
                 this image would share it. Lock it (`sudo passwd -l root`) before capturing."
            ),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::ProbeOutput;

    #[test]
    fn a_hash_printed_by_a_broken_probe_never_reaches_the_verdict() {
        let mut ev = Evidence::default();
        ev.insert(
            "shadow-status",
            ProbeOutput::exited(0, "root:$6$s4lt$Zm9vYmFy:19000:0:99999:7:::\n"),
        );
        let v = RootPasswordLocked.evaluate(&ev);
        assert_eq!(v.status, Status::Error);
        let text = format!("{} {} {}", v.actual, v.required, v.message);
        assert!(
            !text.contains("$6$") && !text.contains("Zm9vYmFy"),
            "{text}"
        );
    }
}
