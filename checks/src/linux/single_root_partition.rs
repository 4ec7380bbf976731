//! TestID 42 `Root Partition on OS Disk`: Azure recommends one root file system on the OS disk, so
//! the disk can be grown and repaired without a partition puzzle.

use crate::evidence::Evidence;
use crate::linux::blockdev::{BlockDevices, Device, OsDisk};
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::{Check, Unevaluable};

/// The OS disk carries a single file system, `/`, besides the boot partitions.
#[derive(Debug)]
pub struct SingleRootPartition;

static META: Meta = Meta {
    id: "single-root-partition",
    title: "Single root partition on the OS disk",
    test_id: Some("42"),
    test_case_name: Some("Root Partition on OS Disk"),
    description: "It is recommended that a single root partition is created for the OS disk.",
    rationale: "Policy 200.3.3 (quoted in Microsoft's LISA suite): \"It is recommended that a single \
                root partition is created for the OS disk.\" Microsoft's Linux guides also advise \
                against LVM on the OS disk: a VM that cannot boot is repaired by attaching its disk \
                to another VM, where duplicate volume groups get in the way. The self-test reported \
                `Root Partition: N` against `1`; the status of a larger count was never published, \
                so vmcert's reading is a Warning (the rule is a recommendation). Counted are the \
                file systems on the disk holding `/` (mounted ones, and unmounted ones whose type \
                lsblk knows), except /boot, /boot/efi, the EFI system and BIOS boot partitions and \
                swap (see no-swap-on-os-disk).",
    remediation: "Build the image with one root file system on the OS disk (plus /boot or the EFI \
                  system partition where the boot loader needs them). Put /home, /var or \
                  application data on data disks, and use plain partitions rather than LVM for `/`.",
    os: Os::Linux,
    severity: Severity::Low,
    since: "0.1.0",
    inferred: true,
    outcomes: &[
        Status::Pass,
        Status::Warning,
        Status::NotApplicable,
        Status::Error,
    ],
    knobs: &[],
};

const REQUIRED: &str = "1";

/// Mount points of boot file systems, which do not count.
const BOOT_MOUNTS: [&str; 3] = ["/boot", "/boot/efi", "/efi"];

/// Partition types that never count: BIOS boot, EFI system (GPT and MBR), extended partitions,
/// swap.
const SKIPPED_PARTTYPES: [&str; 8] = [
    "21686148-6449-6e6f-744e-656564454649",
    "c12a7328-f81f-11d2-ba4b-00a0c93ec93b",
    "0xef",
    "0x5",
    "0xf",
    "0x85",
    "0x82",
    "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f",
];

/// Signatures of containers whose contents (volumes, mappings) are counted instead.
const CONTAINERS: [&str; 3] = ["LVM2_member", "crypto_LUKS", "linux_raid_member"];

impl Check for SingleRootPartition {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &["lsblk"]
    }

    fn required(&self, _: &Evidence) -> String {
        REQUIRED.to_string()
    }

    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        evaluate(ev)
    }
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let devices = BlockDevices::parse(&ev.stdout("lsblk")?)?;
    let (root, disks) = match devices.os_disk() {
        OsDisk::Unknown => {
            return Err(Unevaluable::new(
                "could not determine the OS disk: lsblk shows no block device mounted at / \
                 (a container, a chroot or a network root?)",
            ));
        }
        OsDisk::WholeDisk(disk) => {
            return Ok(Verdict::new(
                Status::NotApplicable,
                format!("/ is on the whole disk {} (no partition table)", disk.name),
                REQUIRED,
                format!(
                    "{} holds the root file system directly, without a partition table (a \
                     direct-kernel-boot or container layout), so there are no partitions to \
                     count. Azure boots only partitioned OS disks: run vmcert on a VM booted \
                     from the image's VHD.",
                    disk.name
                ),
            ));
        }
        OsDisk::Found { root, disks } => (root, disks),
    };

    let mut counted: Vec<&Device> = Vec::new();
    let mut unknown: Vec<&Device> = Vec::new();
    for d in devices.below(&disks) {
        if devices.has_children(&d.kname) {
            continue; // a partition holding volumes: its volumes are counted
        }
        let mounted: Vec<&String> = d
            .mountpoints
            .iter()
            .filter(|m| m.starts_with('/'))
            .collect();
        let boot_only =
            !mounted.is_empty() && mounted.iter().all(|m| BOOT_MOUNTS.contains(&m.as_str()));
        if boot_only
            || SKIPPED_PARTTYPES.contains(&d.parttype.as_str())
            || d.fstype == "swap"
            || d.mountpoints.iter().any(|m| m == "[SWAP]")
        {
            continue;
        }
        if !mounted.is_empty() || (!d.fstype.is_empty() && !CONTAINERS.contains(&d.fstype.as_str()))
        {
            counted.push(d);
        } else {
            unknown.push(d);
        }
    }

    let n = counted.len();
    let disk_names: Vec<&str> = disks.iter().map(|d| d.name.as_str()).collect();
    let list: Vec<String> = counted.iter().map(|d| describe(d)).collect();
    let mut message = format!(
        "OS disk {}: {n} file system(s) besides the boot partitions: {}.",
        disk_names.join(", "),
        list.join(", ")
    );
    if !unknown.is_empty() {
        let names: Vec<&str> = unknown.iter().map(|d| d.name.as_str()).collect();
        message.push_str(&format!(
            " Not counted, no file system known and not mounted: {}.",
            names.join(", ")
        ));
    }
    let actual = format!("Root Partition: {n}");
    let status = if root.kind == "lvm" {
        message.insert_str(0, &format!("/ is on the LVM volume {}. ", root.name));
        Status::Warning
    } else if n == 1 {
        Status::Pass
    } else {
        Status::Warning
    };
    Ok(Verdict::new(status, actual, REQUIRED, message))
}

fn describe(d: &Device) -> String {
    match (d.mountpoints.is_empty(), d.fstype.is_empty()) {
        (false, _) => d.describe(),
        (true, false) => format!("{} ({}, not mounted)", d.name, d.fstype),
        (true, true) => d.name.clone(),
    }
}
