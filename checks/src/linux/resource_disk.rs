//! LISA's verify_resource_disk_file_system (priority 1) and verify_resource_disk_readme_file
//! (priority 2): the Azure temp disk is formatted for Linux and carries the agent's warning that
//! its data is lost on redeployment.

use crate::evidence::{ABSENT, Evidence};
use crate::linux::waagent_conf::{Switch, WaagentConf};
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::{Check, Unevaluable};

/// The temp disk is not NTFS; when the agent mounts it, it holds the DATALOSS readme and
/// lost+found.
#[derive(Debug)]
pub struct ResourceDisk;

static META: Meta = Meta {
    id: "resource-disk",
    title: "Azure temp disk prepared",
    test_id: None,
    test_case_name: None,
    description: "The Azure temp (resource) disk is not NTFS; when the Azure Linux Agent mounts \
                  it, it holds DATALOSS_WARNING_README.txt and lost+found.",
    rationale: "Microsoft's LISA suite (azure_image_standard) fails a VM whose temp disk \
                partitions are still NTFS (verify_resource_disk_file_system, priority 1: Azure \
                delivers the disk NTFS-formatted and the provisioning agent must reformat it) \
                and, when the Azure Linux Agent manages the disk (ResourceDisk.Format=y, not \
                cloud-init), one whose mount point lacks lost+found or the agent's \
                DATALOSS_WARNING_README.txt (verify_resource_disk_readme_file, priority 2: vmcert \
                warns). vmcert reads ResourceDisk.MountPoint (default /mnt/resource) from \
                /etc/waagent.conf, the mount table and the partitions of \
                /dev/disk/azure/resource. Only a deployed Azure VM has a temp disk: without one, \
                or with cloud-init in charge of it (Provisioning.Agent=cloud-init, or auto with \
                cloud-init installed), NotApplicable.",
    remediation: "Let the provisioning agent format the temp disk: ResourceDisk.Format=y with \
                  ResourceDisk.Filesystem=ext4 in /etc/waagent.conf, or cloud-init's Azure \
                  datasource (disk_setup/fs_setup). Do not put files the image needs on it.",
    os: Os::Linux,
    severity: Severity::Medium,
    since: "0.2.0",
    inferred: false,
    outcomes: &[
        Status::Pass,
        Status::Warning,
        Status::Fail,
        Status::NotApplicable,
        Status::Error,
    ],
    knobs: &[],
};

const PROBE: ProbeId = "resource-disk";
const REQUIRED: &str = "not NTFS; DATALOSS_WARNING_README.txt and lost+found";

impl Check for ResourceDisk {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &[PROBE, "waagent-conf", "cloud-init"]
    }

    fn required(&self, _: &Evidence) -> String {
        REQUIRED.to_string()
    }

    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        evaluate(ev)
    }
}

/// What the probe saw.
#[derive(Debug, Default)]
struct TempDisk<'a> {
    mountpoint: &'a str,
    /// File system types of the mounts at the mount point.
    mounted: Vec<&'a str>,
    /// `(device, fstype)` of the temp disk's partitions.
    partitions: Vec<(&'a str, &'a str)>,
    entries: Vec<&'a str>,
}

fn parse(text: &str) -> Result<TempDisk<'_>, Unevaluable> {
    let mut d = TempDisk::default();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Some((key, rest)) = line.split_once(": ") else {
            return Err(Unevaluable::new(format!(
                "unexpected line from the resource-disk probe: {line}"
            )));
        };
        match key {
            "mountpoint" => d.mountpoint = rest.trim(),
            // /proc/mounts: device mountpoint fstype options dump pass
            "mount" => d.mounted.push(rest.split_whitespace().nth(2).unwrap_or("")),
            "partition" => {
                let mut w = rest.split_whitespace();
                d.partitions
                    .push((w.next().unwrap_or(""), w.next().unwrap_or("")));
            }
            "entry" => d.entries.push(rest.trim()),
            _ => {
                return Err(Unevaluable::new(format!(
                    "unexpected line from the resource-disk probe: {line}"
                )));
            }
        }
    }
    if d.mountpoint.is_empty() {
        return Err(Unevaluable::new(
            "the resource-disk probe printed no mount point",
        ));
    }
    Ok(d)
}

fn is_ntfs(fs: &str) -> bool {
    matches!(fs, "ntfs" | "ntfs3")
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let text = ev.stdout(PROBE)?;
    let disk = parse(&text)?;
    if disk.mounted.is_empty() && disk.partitions.is_empty() {
        return Ok(Verdict::new(
            Status::NotApplicable,
            "no temp disk",
            REQUIRED,
            format!(
                "No Azure temp disk: nothing is mounted at {} and /dev/disk/azure/resource has no \
                 partition (only a deployed Azure VM has one).",
                disk.mountpoint
            ),
        ));
    }
    let mut fs: Vec<String> = disk
        .mounted
        .iter()
        .map(|f| format!("{} {f}", disk.mountpoint))
        .collect();
    fs.extend(disk.partitions.iter().map(|(dev, f)| format!("{dev} {f}")));
    let actual = format!(
        "{}; entries: {}",
        fs.join(", "),
        if disk.entries.is_empty() {
            "none".to_string()
        } else {
            disk.entries.join(", ")
        }
    );
    let ntfs =
        disk.mounted.iter().any(|f| is_ntfs(f)) || disk.partitions.iter().any(|(_, f)| is_ntfs(f));
    if ntfs {
        return Ok(Verdict::new(
            Status::Fail,
            actual,
            REQUIRED,
            "The Azure temp disk is still NTFS, as Azure delivers it: the provisioning agent did \
             not format it for Linux. Set ResourceDisk.Format=y (waagent) or let cloud-init's \
             Azure datasource format it.",
        ));
    }
    let conf_text = ev.stdout_unless("waagent-conf", ABSENT)?;
    let conf = conf_text.as_deref().map(WaagentConf::new);
    let cloud_init = ev.stdout_unless("cloud-init", ABSENT)?.is_some();
    let agent = conf
        .as_ref()
        .and_then(|c| c.get("Provisioning.Agent"))
        .map_or("auto", |s| s.value);
    let formats = conf
        .as_ref()
        .is_some_and(|c| c.switch("ResourceDisk.Format") == Switch::On);
    let cloud_init_in_charge = agent == "cloud-init" || (agent == "auto" && cloud_init);
    if !formats || cloud_init_in_charge {
        let who = if cloud_init_in_charge {
            "cloud-init manages it"
        } else {
            "the agent does not format it (ResourceDisk.Format is not y)"
        };
        return Ok(Verdict::new(
            Status::NotApplicable,
            actual,
            REQUIRED,
            format!(
                "The temp disk is not NTFS and {who}: LISA checks the DATALOSS readme only when \
                 the Azure Linux Agent mounts the disk."
            ),
        ));
    }
    let mut missing = Vec::new();
    if disk.mounted.is_empty() {
        missing.push(format!("nothing is mounted at {}", disk.mountpoint));
    }
    for e in ["DATALOSS_WARNING_README.txt", "lost+found"] {
        if !disk.entries.contains(&e) {
            missing.push(format!("{} has no {e}", disk.mountpoint));
        }
    }
    if missing.is_empty() {
        return Ok(Verdict::new(
            Status::Pass,
            actual,
            REQUIRED,
            format!(
                "The temp disk at {} is formatted for Linux and carries the agent's \
                 DATALOSS_WARNING_README.txt and lost+found.",
                disk.mountpoint
            ),
        ));
    }
    Ok(Verdict::new(
        Status::Warning,
        actual,
        REQUIRED,
        format!(
            "The Azure Linux Agent manages the temp disk, but {}. The agent writes the readme \
             when it formats the disk; check that ResourceDisk.Format=y took effect.",
            missing.join(", ")
        ),
    ))
}
