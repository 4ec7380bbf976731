//! The first MiB of the OS disk must stay free: Azure writes there (the billing tag of images
//! published without a valid one), and partitions aligned at 1 MiB are what its guides build.

use std::collections::BTreeMap;

use crate::evidence::Evidence;
use crate::linux::blockdev::{BlockDevices, OsDisk};
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::{Check, Unevaluable};

/// The first partition of the OS disk starts at sector 2048 or later.
#[derive(Debug)]
pub struct OsDiskFirstMibFree;

static META: Meta = Meta {
    id: "os-disk-first-mib-free",
    title: "First MiB of the OS disk is free",
    test_id: None,
    test_case_name: None,
    description: "The first partition of the OS disk starts at sector 2048 (1 MiB) or later.",
    rationale: "Azure Marketplace requires the first 1 MB of the OS disk to be empty for images \
                without a valid billing tag (and strongly recommends it for GPT disks); Microsoft's \
                guides fix it with a first partition at sector 2048 (`echo '+1M,' | sfdisk \
                --move-data /dev/sdX -N 1`). The start of every partition of the disk holding `/` \
                is read from /sys/block/<disk>/<partition>/start (512-byte sectors); the lowest \
                one must be at least 2048, whatever its partition number (Ubuntu images put the \
                BIOS boot partition 14 first).",
    remediation: "Rebuild the image with the first partition at sector 2048, or move it: \
                  `echo '+1M,' | sfdisk --move-data /dev/sdX -N 1` on the offline disk (back it up \
                  first), then check the boot loader still finds its files.",
    os: Os::Linux,
    severity: Severity::High,
    since: "0.1.0",
    inferred: false,
    outcomes: &[
        Status::Pass,
        Status::Fail,
        Status::NotApplicable,
        Status::Error,
    ],
    knobs: &[],
};

const REQUIRED: &str = "first partition starts at sector >= 2048";
const FIRST_FREE_SECTOR: u64 = 2048;

impl Check for OsDiskFirstMibFree {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &["lsblk", "partition-starts"]
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
    let starts = parse_starts(&ev.stdout("partition-starts")?)?;
    let disks = match devices.os_disk() {
        OsDisk::Unknown => {
            return Err(Unevaluable::new(
                "could not determine the OS disk: lsblk shows no block device mounted at / \
                 (a container, a chroot or a network root?)",
            ));
        }
        OsDisk::WholeDisk(disk) => return Ok(no_partition_table(&disk.name)),
        OsDisk::Found { disks, .. } => disks,
    };

    let mut firsts = Vec::new();
    for disk in &disks {
        let partitions: Vec<&str> = devices
            .below(std::slice::from_ref(disk))
            .into_iter()
            .filter(|d| d.kind == "part" && d.parents.contains(&disk.kname))
            .map(|d| d.kname.as_str())
            .collect();
        if partitions.is_empty() {
            return Ok(no_partition_table(&disk.name));
        }
        let first = partitions
            .iter()
            .filter_map(|p| {
                starts
                    .get(&(disk.kname.clone(), (*p).to_string()))
                    .map(|s| (*s, *p))
            })
            .min();
        let Some((sector, part)) = first else {
            return Err(Unevaluable::new(format!(
                "no start sector of the partitions of {} ({}) under /sys/block/{}",
                disk.name,
                partitions.join(", "),
                disk.kname
            )));
        };
        firsts.push((disk.name.as_str(), part, sector));
    }

    let actual = firsts
        .iter()
        .map(|(disk, part, sector)| {
            format!("{disk}: first partition {part} starts at sector {sector}")
        })
        .collect::<Vec<_>>()
        .join("; ");
    let bad: Vec<_> = firsts
        .iter()
        .filter(|(_, _, s)| *s < FIRST_FREE_SECTOR)
        .collect();
    if bad.is_empty() {
        let message = format!("The first MiB of the OS disk is free ({actual}, 512-byte sectors).");
        return Ok(Verdict::new(Status::Pass, actual, REQUIRED, message));
    }
    let detail: Vec<String> = bad
        .iter()
        .map(|(disk, part, sector)| {
            format!(
                "{part} starts at sector {sector} ({} bytes into {disk})",
                sector * 512
            )
        })
        .collect();
    let message = format!(
        "The first MiB of the OS disk is not free: {}. Azure needs sectors 0-2047 left alone.",
        detail.join("; ")
    );
    Ok(Verdict::new(Status::Fail, actual, REQUIRED, message))
}

fn no_partition_table(disk: &str) -> Verdict {
    Verdict::new(
        Status::NotApplicable,
        format!("{disk} has no partition table"),
        REQUIRED,
        format!(
            "{disk} holds `/` (or the volume under it) directly, without a partition table (a \
             direct-kernel-boot or container layout), so there is no first partition. Azure boots \
             only partitioned OS disks: run vmcert on a VM booted from the image's VHD."
        ),
    )
}

/// Parses `/sys/block/<disk>/<part>/start <sector>` lines into (disk, part) -> sector.
fn parse_starts(text: &str) -> Result<BTreeMap<(String, String), u64>, Unevaluable> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let parsed = line.split_once(' ').and_then(|(path, sector)| {
            let rest = path.strip_prefix("/sys/block/")?.strip_suffix("/start")?;
            let (disk, part) = rest.split_once('/')?;
            Some((
                (disk.to_string(), part.to_string()),
                sector.trim().parse::<u64>().ok()?,
            ))
        });
        let Some((key, sector)) = parsed else {
            return Err(Unevaluable::new(format!(
                "unparsable partition start line: {line}"
            )));
        };
        out.insert(key, sector);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_lines() {
        let m = parse_starts(
            "/sys/block/sda/sda1/start 227328\n/sys/block/nvme0n1/nvme0n1p14/start 2048\n",
        )
        .unwrap();
        assert_eq!(m[&("sda".to_string(), "sda1".to_string())], 227_328);
        assert_eq!(m[&("nvme0n1".to_string(), "nvme0n1p14".to_string())], 2048);
        assert!(parse_starts("/sys/block/sda/sda1/start \n").is_err());
        assert!(parse_starts("garbage\n").is_err());
    }
}
