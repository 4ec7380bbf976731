//! Every VM made from the image must get its own SSH host keys at first boot; otherwise all of
//! them share the keys baked into the image, and anyone holding the image can impersonate them.

use crate::evidence::{ABSENT, Evidence};
use crate::linux::waagent_conf::{Switch, WaagentConf};
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::{Check, Unevaluable};

/// The provisioning agent named in /etc/waagent.conf regenerates the SSH host keys.
#[derive(Debug)]
pub struct SshHostKeysRegenerated;

static META: Meta = Meta {
    id: "ssh-host-keys-regenerated",
    title: "SSH host keys regenerated at first boot",
    test_id: None,
    test_case_name: None,
    description: "The provisioning agent regenerates the SSH host keys when a VM is created from the \
                  image.",
    rationale: "The 2015 publishing guide requires fresh host keys per VM \
                (Provisioning.RegenerateSshHostKeyPair=y). Provisioning.Agent in /etc/waagent.conf \
                says who provisions: `waagent` (then Provisioning.RegenerateSshHostKeyPair must be \
                y; the agent's code defaults it to n although its README says y, so vmcert wants it \
                set), `cloud-init` (then cloud-init must be installed and ssh_deletekeys not false; \
                its default is true), `auto` or unset (cloud-init when installed, else waagent, as \
                the agent decides) or `disabled` (waagent does nothing; cloud-init, if installed, \
                still runs on its own). vmcert reads ssh_deletekeys from /etc/cloud/cloud.cfg and \
                cloud.cfg.d/*.cfg, the last top-level setting winning.",
    remediation: "With waagent provisioning set Provisioning.RegenerateSshHostKeyPair=y in \
                  /etc/waagent.conf; with cloud-init install it and remove any \
                  `ssh_deletekeys: false`; make Provisioning.Agent name the provisioner that is \
                  actually installed.",
    os: Os::Linux,
    severity: Severity::High,
    since: "0.1.0",
    inferred: false,
    outcomes: &[Status::Pass, Status::Warning, Status::Error],
    knobs: &[],
};

const REQUIRED: &str = "host keys regenerated at first boot";
const REGENERATE: &str = "Provisioning.RegenerateSshHostKeyPair";

impl Check for SshHostKeysRegenerated {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &["waagent-conf", "cloud-init"]
    }

    fn required(&self, _: &Evidence) -> String {
        REQUIRED.to_string()
    }

    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        evaluate(ev)
    }
}

/// What the cloud-init probe found.
#[derive(Debug, PartialEq, Eq)]
struct CloudInit<'a> {
    /// `22.4.2` from `cloud-init 22.4.2` (version.py) or `/usr/bin/cloud-init 22.4.2` (`--version`).
    version: &'a str,
    /// The effective top-level `ssh_deletekeys` (file, value), if any file sets it.
    delete_keys: Option<(&'a str, &'a str)>,
}

/// Parses the version line (from cloudinit/version.py, or `cloud-init --version` where that file
/// is not found) and the `grep -H ssh_deletekeys` lines that follow it.
fn parse_cloud_init(out: &str) -> Result<CloudInit<'_>, Unevaluable> {
    let mut lines = out.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next().unwrap_or("").trim();
    let version = first
        .split_whitespace()
        .last()
        .filter(|v| first.contains("cloud-init") && v.starts_with(|c: char| c.is_ascii_digit()))
        .ok_or_else(|| Unevaluable::new(format!("the cloud-init version line is `{first}`")))?;
    let mut delete_keys = None;
    for line in lines {
        let Some(end) = line.find(".cfg:") else {
            continue;
        };
        let (file, text) = (&line[..end + 4], &line[end + 5..]);
        // Only a top-level key counts: indented lines belong to another mapping.
        let Some(value) = text
            .strip_prefix("ssh_deletekeys")
            .and_then(|r| r.trim_start().strip_prefix(':'))
        else {
            continue;
        };
        let value = value.split('#').next().unwrap_or("").trim();
        delete_keys = Some((file, value));
    }
    Ok(CloudInit {
        version,
        delete_keys,
    })
}

/// cloud-init's `translate_bool`: false for `false`, `no`, `off`, `0` (any case), quoted or not.
fn yaml_false(value: &str) -> bool {
    let v = value
        .trim_matches(|c| c == '"' || c == '\'')
        .to_ascii_lowercase();
    matches!(v.as_str(), "false" | "no" | "off" | "0")
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let conf_text = ev.stdout_unless("waagent-conf", ABSENT)?;
    let cloud_text = ev.stdout_unless("cloud-init", ABSENT)?;
    let cloud = cloud_text.as_deref().map(parse_cloud_init).transpose()?;
    let conf = conf_text.as_deref().map(WaagentConf::new);

    let agent_setting = conf.as_ref().and_then(|c| c.get("Provisioning.Agent"));
    let agent = agent_setting.map_or_else(|| "auto".to_string(), |s| s.value.to_ascii_lowercase());
    let agent_desc = match (&conf, agent_setting) {
        (None, _) => "no /etc/waagent.conf".to_string(),
        (Some(_), Some(s)) => s.line.to_string(),
        (Some(_), None) => "Provisioning.Agent not set (auto)".to_string(),
    };
    let cloud_desc = match &cloud {
        None => "cloud-init not installed".to_string(),
        Some(c) => match c.delete_keys {
            Some((file, v)) => format!("cloud-init {} (ssh_deletekeys: {v} in {file})", c.version),
            None => format!(
                "cloud-init {} (ssh_deletekeys not set, default true)",
                c.version
            ),
        },
    };
    let regen_desc = conf.as_ref().map(|c| {
        c.get(REGENERATE)
            .map_or_else(|| format!("{REGENERATE} not set"), |s| s.line.to_string())
    });
    let actual = match regen_desc {
        Some(r) => format!("{agent_desc}; {r}; {cloud_desc}"),
        None => format!("{agent_desc}; {cloud_desc}"),
    };
    let verdict =
        |status, message: String| Ok(Verdict::new(status, actual.clone(), REQUIRED, message));

    let by_cloud_init = |why: &str| match &cloud {
        Some(c) => match c.delete_keys {
            Some((file, v)) if yaml_false(v) => verdict(
                Status::Warning,
                format!(
                    "{why}, but ssh_deletekeys is {v} in {file}, so the host keys baked into the \
                     image are kept. Remove that setting (cloud-init's default is true)."
                ),
            ),
            _ => verdict(
                Status::Pass,
                format!(
                    "{why}; cloud-init deletes and regenerates the SSH host keys at first boot."
                ),
            ),
        },
        None => verdict(
            Status::Warning,
            format!(
                "{why}, but cloud-init is not installed: nothing will regenerate the SSH host keys. \
                 Install cloud-init or set Provisioning.Agent=waagent with \
                 Provisioning.RegenerateSshHostKeyPair=y."
            ),
        ),
    };
    let by_waagent = |why: &str| {
        let Some(c) = &conf else {
            return verdict(
                Status::Warning,
                "Neither the Azure Linux Agent (/etc/waagent.conf) nor cloud-init is installed: \
                 nothing regenerates the SSH host keys at first boot."
                    .to_string(),
            );
        };
        match c.switch(REGENERATE) {
            Switch::On => verdict(
                Status::Pass,
                format!(
                    "{why}; Provisioning.RegenerateSshHostKeyPair=y makes it regenerate the SSH host keys."
                ),
            ),
            Switch::Off => verdict(
                Status::Warning,
                format!(
                    "{why}, but Provisioning.RegenerateSshHostKeyPair=n: every VM keeps the image's \
                     SSH host keys. Set it to y in /etc/waagent.conf."
                ),
            ),
            Switch::Default => verdict(
                Status::Warning,
                format!(
                    "{why}, but Provisioning.RegenerateSshHostKeyPair is not set to y; the agent's \
                     code then keeps the image's host keys. Set Provisioning.RegenerateSshHostKeyPair=y."
                ),
            ),
        }
    };

    if conf.is_none() {
        return if cloud.is_some() {
            by_cloud_init("cloud-init provisions (there is no /etc/waagent.conf)")
        } else {
            by_waagent("")
        };
    }
    match agent.as_str() {
        "waagent" => by_waagent("Provisioning.Agent=waagent: the Azure Linux Agent provisions"),
        "cloud-init" => by_cloud_init("Provisioning.Agent=cloud-init names cloud-init as the provisioner"),
        "auto" if cloud.is_some() => {
            by_cloud_init("Provisioning.Agent=auto and cloud-init is installed, so cloud-init provisions")
        }
        "auto" => by_waagent("Provisioning.Agent=auto and cloud-init is not installed, so the Azure Linux Agent provisions"),
        "disabled" if cloud.is_some() => by_cloud_init(
            "Provisioning.Agent=disabled keeps the Azure Linux Agent out of provisioning, and cloud-init runs on its own",
        ),
        "disabled" => verdict(
            Status::Warning,
            "Provisioning.Agent=disabled and cloud-init is not installed: nothing provisions the VM \
             or regenerates its SSH host keys."
                .to_string(),
        ),
        other => verdict(
            Status::Warning,
            format!(
                "Provisioning.Agent has the unknown value `{other}` (expected auto, waagent, \
                 cloud-init or disabled); vmcert cannot tell who regenerates the SSH host keys."
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_top_level_ssh_deletekeys_wins() {
        let c = parse_cloud_init(
            "/usr/bin/cloud-init 22.4.2\n/etc/cloud/cloud.cfg:ssh_deletekeys:   true\n/etc/cloud/cloud.cfg.d/99-keep.cfg:ssh_deletekeys: false # keep\n/etc/cloud/cloud.cfg.d/99-x.cfg:  ssh_deletekeys: true\n/etc/cloud/cloud.cfg.d/99-y.cfg:# ssh_deletekeys: true\n",
        )
        .unwrap();
        assert_eq!(c.version, "22.4.2");
        assert_eq!(
            c.delete_keys,
            Some(("/etc/cloud/cloud.cfg.d/99-keep.cfg", "false"))
        );
        assert!(yaml_false("False"));
        assert!(yaml_false("'no'"));
        assert!(!yaml_false("true"));
    }

    #[test]
    fn broken_cloud_init_is_unevaluable() {
        assert!(parse_cloud_init("Traceback (most recent call last):\n").is_err());
    }
}
