//! Persistent-net udev rules pin interface names to the MAC address of the machine the image was
//! built on; on Azure every VM has a new MAC, so the NIC would come up as eth1 with no network.

use crate::evidence::Evidence;
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::{Check, Unevaluable};

/// The persistent-net udev rule files are absent.
#[derive(Debug)]
pub struct UdevPersistentNetRulesRemoved;

static META: Meta = Meta {
    id: "udev-persistent-net-rules-removed",
    title: "Persistent-net udev rules removed",
    test_id: None,
    test_case_name: None,
    description: "/etc/udev/rules.d/70-persistent-net.rules and \
                  /lib/udev/rules.d/75-persistent-net-generator.rules are absent.",
    rationale: "Microsoft's Linux image guides tell publishers to remove these files (older \
                distributions generate 70-persistent-net.rules from the builder's MAC address), \
                and Microsoft's image tests (LISA verify_udev_rules_moved, the 2014-2018 BVTs) \
                fail when either exists: a VM deployed from the image has a different MAC, so \
                the rule renames its NIC and networking does not come up. A rule masked by a \
                symlink to /dev/null (the way WALinuxAgent#1750 and systemd recommend disabling \
                the generator) counts as removed: udev reads an empty file. vmcert also looks at \
                /etc/udev/rules.d/75-persistent-net-generator.rules, where such masks live. LISA \
                runs this case only on CoreOS, the Fedora family and Azure Linux; vmcert runs it \
                on every distribution, because the rules break networking on Debian and SUSE \
                just the same.",
    remediation: "Delete them before capturing the image: `sudo rm -f \
                  /etc/udev/rules.d/70-persistent-net.rules \
                  /lib/udev/rules.d/75-persistent-net-generator.rules` (on old releases move the \
                  generator rule away so a package update does not bring it back).",
    os: Os::Linux,
    severity: Severity::Medium,
    since: "0.1.0",
    inferred: false,
    outcomes: &[Status::Pass, Status::Fail, Status::Error],
    knobs: &[],
};

const REQUIRED: &str = "70-persistent-net.rules and 75-persistent-net-generator.rules absent";

impl Check for UdevPersistentNetRulesRemoved {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &["udev-net-rules"]
    }

    fn required(&self, _: &Evidence) -> String {
        REQUIRED.to_string()
    }

    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        evaluate(ev)
    }
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let out = ev.stdout("udev-net-rules")?;
    let mut present = Vec::new();
    let mut masked = Vec::new();
    for line in out.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !line.starts_with('/') {
            return Err(Unevaluable::new(format!(
                "udev-net-rules printed something other than a path: {line}"
            )));
        }
        match line.strip_suffix(" -> /dev/null") {
            Some(path) => masked.push(path),
            None => present.push(line),
        }
    }
    let mask_note = if masked.is_empty() {
        String::new()
    } else {
        format!(
            " Masked by a symlink to /dev/null (counts as removed): {}.",
            masked.join(", ")
        )
    };
    if present.is_empty() {
        let actual = if masked.is_empty() {
            "none present".to_string()
        } else {
            format!("masked: {}", masked.join(", "))
        };
        return Ok(Verdict::new(
            Status::Pass,
            actual,
            REQUIRED,
            format!(
                "No persistent-net rule is in effect: interface names will follow the VM's own \
                 NIC.{mask_note}"
            ),
        ));
    }
    Ok(Verdict::new(
        Status::Fail,
        present.join(", "),
        REQUIRED,
        format!(
            "{} {}: the rules would give a VM's NIC (new MAC address) another name and leave it \
             without network.{mask_note}",
            present.join(" and "),
            if present.len() == 1 {
                "still exists"
            } else {
                "still exist"
            }
        ),
    ))
}
