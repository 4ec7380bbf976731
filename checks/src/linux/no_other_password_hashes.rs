//! No account but the one vmcert logged in with may carry a password: a password baked into an
//! image is a default credential on every VM made from it.

use crate::evidence::Evidence;
use crate::linux::accounts::{Password, login_user, shadow_status};
use crate::linux::deprovision::{RUN_IT, removes_account, root_password_deleted};
use crate::meta::{Meta, Os, Severity};
use crate::phase::Phase;
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::{Check, Unevaluable};

/// Only the connecting user has a password hash in /etc/shadow.
#[derive(Debug)]
pub struct NoOtherPasswordHashes;

static META: Meta = Meta {
    id: "no-other-password-hashes",
    title: "No other accounts with passwords",
    test_id: None,
    test_case_name: None,
    description: "No account except the connecting user has a password hash in /etc/shadow.",
    rationale: "Marketplace policy: no default accounts, no default passwords, no back doors. \
                Microsoft's LISA test verify_no_pre_exist_users fails when any account but the \
                one it logged in with has a password in /etc/shadow (fields other than `*`, `!`, \
                `x` or empty). vmcert fails on hashes the same way and names the accounts, never \
                the hashes (the probe reduces each field to a class on the VM). An empty field, \
                which LISA accepts, is reported as a Warning because it lets the account log in \
                without a password wherever PAM allows that (vmcert's reading). In the build \
                phase (`--phase build`, inside the build VM before deprovisioning) the logged-in \
                user is the build user: its password, and root's when /etc/waagent.conf says \
                `Provisioning.DeleteRootPassword=y`, are a Warning, because `waagent \
                -deprovision+user` deletes the build user and locks root's password then.",
    remediation: "Lock or delete the accounts: `sudo passwd -l NAME` or `sudo userdel -r NAME`; for \
                  empty fields, `sudo usermod -p '!' NAME`. `sudo waagent -deprovision+user` \
                  removes the last provisioned user before capture.",
    os: Os::Linux,
    severity: Severity::High,
    since: "0.1.0",
    inferred: false,
    outcomes: &[Status::Pass, Status::Warning, Status::Fail, Status::Error],
    knobs: &[],
};

const REQUIRED: &str = "no password hash except the connecting user's";

impl Check for NoOtherPasswordHashes {
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
    let me = login_user(ev)?;
    if ev.phase == Phase::Build {
        return build_phase(ev, &accounts, &me);
    }
    let with = |class: Password| -> Vec<&str> {
        accounts
            .iter()
            .filter(|(name, c)| *c == class && *name != me)
            .map(|(name, _)| name.as_str())
            .collect()
    };
    let hashes = with(Password::Hash);
    let empty = with(Password::Empty);
    let own = accounts
        .iter()
        .any(|(name, c)| *name == me && *c == Password::Hash);
    let own_note = if own {
        format!(" {me} (the connecting user) has a password, which is allowed.")
    } else {
        String::new()
    };
    let empty_note = empty_note(&empty);
    if !hashes.is_empty() {
        return Ok(Verdict::new(
            Status::Fail,
            format!("password hashes: {}", hashes.join(", ")),
            REQUIRED,
            format!(
                "{} account(s) besides {me} have a password hash in /etc/shadow: {}.{empty_note}{own_note}",
                hashes.len(),
                hashes.join(", ")
            ),
        ));
    }
    if !empty.is_empty() {
        return Ok(Verdict::new(
            Status::Warning,
            format!("empty password fields: {}", empty.join(", ")),
            REQUIRED,
            format!("No other account has a password hash.{empty_note}{own_note}"),
        ));
    }
    Ok(Verdict::new(
        Status::Pass,
        format!("no password hash besides {me}"),
        REQUIRED,
        format!(
            "All {} other accounts in /etc/shadow are locked.{own_note}",
            accounts.iter().filter(|(name, _)| *name != me).count()
        ),
    ))
}

/// The sentence on accounts with an empty password field, empty when there are none.
fn empty_note(empty: &[&str]) -> String {
    if empty.is_empty() {
        return String::new();
    }
    format!(
        " Empty password field (log in without a password where PAM allows it): {}.",
        empty.join(", ")
    )
}

/// The build VM's accounts: the build user's password goes with the account, root's when
/// waagent.conf says `Provisioning.DeleteRootPassword=y`; every other one stays in the image.
fn build_phase(
    ev: &Evidence,
    accounts: &[(String, Password)],
    me: &str,
) -> Result<Verdict, Unevaluable> {
    let root_locked_by = root_password_deleted(ev)?;
    let removed =
        |name: &str| removes_account(name, me) || (name == "root" && root_locked_by.is_some());
    let list = |class: Password, gone: bool| -> Vec<&str> {
        accounts
            .iter()
            .filter(|(name, c)| *c == class && removed(name) == gone)
            .map(|(name, _)| name.as_str())
            .collect()
    };
    let (hashes, empty) = (list(Password::Hash, false), list(Password::Empty, false));
    let mut going = list(Password::Hash, true);
    going.extend(list(Password::Empty, true));
    let going_note = if going.is_empty() {
        String::new()
    } else {
        let root_note = root_locked_by
            .as_deref()
            .filter(|_| going.contains(&"root"))
            .map_or_else(String::new, |l| format!(" and `{l}` locks root's password"));
        format!(
            " Deprovisioning will remove the password of {} (`waagent -deprovision+user` deletes \
             the build user {me}{root_note}).",
            going.join(", ")
        )
    };
    let empty_note = empty_note(&empty);
    if !hashes.is_empty() {
        return Ok(Verdict::new(
            Status::Fail,
            format!("password hashes: {}", hashes.join(", ")),
            REQUIRED,
            format!(
                "{} account(s) have a password hash that deprovisioning does not remove: \
                 {}.{empty_note}{going_note}",
                hashes.len(),
                hashes.join(", ")
            ),
        ));
    }
    if !empty.is_empty() || !going.is_empty() {
        let mut actual = Vec::new();
        if !going.is_empty() {
            actual.push(format!("removed by deprovisioning: {}", going.join(", ")));
        }
        if !empty.is_empty() {
            actual.push(format!("empty password fields: {}", empty.join(", ")));
        }
        return Ok(Verdict::new(
            Status::Warning,
            actual.join("; "),
            REQUIRED,
            format!(
                "No password hash that deprovisioning leaves.{empty_note}{going_note} {RUN_IT}"
            ),
        ));
    }
    Ok(Verdict::new(
        Status::Pass,
        "no password hash",
        REQUIRED,
        format!("All {} accounts in /etc/shadow are locked.", accounts.len()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::ProbeOutput;

    #[test]
    fn a_hash_printed_by_a_broken_probe_never_reaches_the_verdict() {
        let mut ev = Evidence::default();
        ev.insert("login-user", ProbeOutput::exited(0, "azureuser\n"));
        ev.insert(
            "shadow-status",
            ProbeOutput::exited(0, "root:locked\npacker:$y$j9T$c2VjcmV0\n"),
        );
        let v = NoOtherPasswordHashes.evaluate(&ev);
        assert_eq!(v.status, Status::Error);
        let text = format!("{} {} {}", v.actual, v.required, v.message);
        assert!(
            !text.contains("$y$") && !text.contains("c2VjcmV0"),
            "{text}"
        );
    }
}
