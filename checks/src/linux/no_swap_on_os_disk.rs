//! TestID 41 `Swap Partition on OS Disk`: Azure OS disks are throttled remote storage, so swap
//! must live on the local resource disk (created by the agent or cloud-init), never on the OS disk.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::evidence::{ABSENT, Evidence};
use crate::linux::blockdev::{BlockDevices, Device, OsDisk, unescape_octal};
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::{Check, Unevaluable};

/// No swap partition or swap file is active on the disk that holds `/`.
#[derive(Debug)]
pub struct NoSwapOnOsDisk;

static META: Meta = Meta {
    id: "no-swap-on-os-disk",
    title: "No swap on the OS disk",
    test_id: Some("41"),
    test_case_name: Some("Swap Partition on OS Disk"),
    description: "Verifies that no Swap partitions are created on the OS disk.",
    rationale: "Policy 200.3.3: \"No swap partition on the OS disk. Swap can be requested for creation \
                on the local resource disk by the Linux Agent.\" The OS disk has an IOPS limit; \
                swapping on it throttles the whole VM. Like Microsoft's LISA test \
                (verify_no_swap_on_osdisk), every active swap area of /proc/swaps, partition or \
                file, is mapped to its block device and compared with the disk mounted at `/` \
                (a swap file on `/` counts). Swap configured to come back (a swap line of \
                /etc/fstab or a swap-formatted partition on the OS disk) and \
                `ResourceDisk.EnableSwap=y` while cloud-init provisions (the agent's swap settings \
                are then not the ones in force; Microsoft's guides set it to `n` with cloud-init) \
                give a Warning.",
    remediation: "Turn the swap off (`swapoff -a`), delete the swap partition or file from the OS \
                  disk and its /etc/fstab line. To have swap, let the provisioning agent create it \
                  on the resource disk: with waagent `ResourceDisk.Format=y`, \
                  `ResourceDisk.EnableSwap=y` and `ResourceDisk.SwapSizeMB` in /etc/waagent.conf; \
                  with cloud-init a `mounts`/`swap` configuration on the ephemeral disk and \
                  `ResourceDisk.EnableSwap=n`.",
    os: Os::Linux,
    severity: Severity::High,
    since: "0.1.0",
    inferred: false,
    outcomes: &[Status::Pass, Status::Warning, Status::Fail, Status::Error],
    knobs: &[],
};

const REQUIRED: &str = "No. of Swap Partitions: 0";

/// Partition types of swap: MBR 0x82 and the GPT Linux swap GUID.
const SWAP_PARTTYPES: [&str; 2] = ["0x82", "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f"];

impl Check for NoSwapOnOsDisk {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &[
            "proc-swaps",
            "swap-file-sources",
            "lsblk",
            "fstab",
            "waagent-conf",
            "cloud-init",
        ]
    }

    fn required(&self, _: &Evidence) -> String {
        REQUIRED.to_string()
    }

    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        evaluate(ev)
    }
}

/// One active swap area of /proc/swaps.
#[derive(Debug, PartialEq, Eq)]
struct Swap {
    path: String,
    is_file: bool,
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let swaps = parse_proc_swaps(&ev.stdout("proc-swaps")?)?;
    let devices = BlockDevices::parse(&ev.stdout("lsblk")?)?;
    let fstab_swaps: Vec<String> = match ev.stdout_unless("fstab", ABSENT)? {
        Some(text) => fstab_swap_sources(&text),
        None => Vec::new(),
    };
    let mut warnings = Vec::new();
    if let Some(w) = agent_swap_conflict(ev)? {
        warnings.push(w);
    }

    let os = devices.os_disk();
    let os_disks: Vec<String> = match &os {
        OsDisk::Found { disks, .. } => disks.iter().map(|d| d.kname.clone()).collect(),
        OsDisk::WholeDisk(d) => vec![d.kname.clone()],
        OsDisk::Unknown => Vec::new(),
    };
    let os_names = os_disks.join(", ");
    let on_os_disk = |kname: &str| {
        devices
            .top_ancestors(kname)
            .iter()
            .any(|t| os_disks.contains(t))
    };

    if matches!(os, OsDisk::Unknown) && (!swaps.is_empty() || !fstab_swaps.is_empty()) {
        return Err(Unevaluable::new(
            "could not determine the OS disk: lsblk shows no block device mounted at / \
             (a container, a chroot or a network root?), so the swap areas cannot be placed",
        ));
    }

    // Active swap areas.
    let sources = ev.stdout("swap-file-sources")?;
    let mut on_os = Vec::new();
    let mut elsewhere = Vec::new();
    let mut active_devices = BTreeSet::new();
    for swap in &swaps {
        let device = if swap.is_file {
            file_source(&sources, &swap.path)
                .and_then(|dev| devices.by_dev_path(&dev))
                .or_else(|| devices.holding(&swap.path))
        } else {
            devices.by_dev_path(&swap.path)
        };
        let Some(device) = device else {
            return Err(Unevaluable::new(format!(
                "could not map swap {} to a block device listed by lsblk",
                swap.path
            )));
        };
        let text = if swap.is_file {
            format!("swap file {} on {}", swap.path, device.name)
        } else {
            active_devices.insert(device.kname.clone());
            format!("swap partition {}", swap.path)
        };
        if on_os_disk(&device.kname) {
            on_os.push(text);
        } else {
            elsewhere.push(text);
        }
    }

    // Swap that would come back: fstab lines and swap-formatted partitions on the OS disk.
    let active_files: BTreeSet<&str> = swaps
        .iter()
        .filter(|s| s.is_file)
        .map(|s| s.path.as_str())
        .collect();
    let mut warned = BTreeSet::new();
    let mut unresolved = Vec::new();
    for source in &fstab_swaps {
        let is_file = source.starts_with('/') && !source.starts_with("/dev/");
        if is_file && active_files.contains(source.as_str()) {
            continue;
        }
        let device = if is_file {
            devices.holding(source)
        } else {
            devices.by_fstab_source(source)
        };
        match device {
            Some(d) if !is_file && active_devices.contains(&d.kname) => {}
            Some(d) if on_os_disk(&d.kname) => {
                if !is_file {
                    warned.insert(d.kname.clone());
                }
                warnings.push(format!(
                    "/etc/fstab enables swap {source} (on {}) at boot",
                    d.name
                ));
            }
            Some(_) => {}
            None => unresolved.push(source.clone()),
        }
    }
    let os_refs: Vec<&Device> = os_disks.iter().filter_map(|k| devices.get(k)).collect();
    for d in devices.below(&os_refs) {
        let swap_type = d.fstype == "swap" || SWAP_PARTTYPES.contains(&d.parttype.as_str());
        if swap_type && !active_devices.contains(&d.kname) && !warned.contains(&d.kname) {
            warnings.push(format!(
                "{} on the OS disk is a swap partition (not active now)",
                d.name
            ));
        }
    }

    let n = on_os.len();
    let actual = format!("No. of Swap Partitions: {n}");
    let mut notes = String::new();
    if !elsewhere.is_empty() {
        let _ = write!(
            notes,
            " Swap elsewhere (allowed): {}.",
            elsewhere.join("; ")
        );
    }
    if !unresolved.is_empty() {
        warnings.push(format!(
            "/etc/fstab enables swap {} at boot, which matches no device lsblk lists (a stale \
             entry, or lsblk without udev ids), so vmcert cannot tell which disk it is on",
            unresolved.join(", ")
        ));
    }
    if n > 0 {
        let mut message = format!(
            "Swap is active on the OS disk {os_names}: {}.",
            on_os.join("; ")
        );
        if !warnings.is_empty() {
            let _ = write!(message, " Also: {}.", warnings.join("; "));
        }
        message.push_str(&notes);
        return Ok(Verdict::new(Status::Fail, actual, REQUIRED, message));
    }
    if !warnings.is_empty() {
        let mut message = format!(
            "No swap is active on the OS disk, but: {}.",
            warnings.join("; ")
        );
        message.push_str(&notes);
        return Ok(Verdict::new(Status::Warning, actual, REQUIRED, message));
    }
    let mut message = if swaps.is_empty() && fstab_swaps.is_empty() {
        "No swap is active and /etc/fstab enables none.".to_string()
    } else if swaps.is_empty() {
        format!(
            "No swap is active; the swap lines of /etc/fstab are not on the OS disk {os_names}."
        )
    } else {
        format!("No swap is active on the OS disk {os_names}.")
    };
    message.push_str(&notes);
    Ok(Verdict::new(Status::Pass, actual, REQUIRED, message))
}

/// Parses /proc/swaps (`Filename Type Size Used Priority`, paths with octal escapes).
fn parse_proc_swaps(text: &str) -> Result<Vec<Swap>, Unevaluable> {
    let mut lines = text.lines();
    match lines.next() {
        Some(h) if h.starts_with("Filename") => {}
        _ => {
            return Err(Unevaluable::new(
                "/proc/swaps has no `Filename Type ...` header",
            ));
        }
    }
    let mut swaps = Vec::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let mut fields = line.split_whitespace();
        let (Some(path), Some(kind)) = (fields.next(), fields.next()) else {
            return Err(Unevaluable::new(format!(
                "unparsable /proc/swaps line: {line}"
            )));
        };
        swaps.push(Swap {
            path: unescape_octal(path),
            is_file: kind == "file",
        });
    }
    Ok(swaps)
}

/// The device `df` reported for a swap file (`path<TAB>device` lines).
fn file_source(sources: &str, path: &str) -> Option<String> {
    sources.lines().find_map(|l| {
        let (p, dev) = l.split_once('\t')?;
        (p == path && !dev.is_empty()).then(|| dev.to_string())
    })
}

/// Source fields of the active `swap` lines of /etc/fstab.
fn fstab_swap_sources(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 3 && f[2] == "swap").then(|| unescape_octal(f[0]))
        })
        .collect()
}

/// `ResourceDisk.EnableSwap=y` while cloud-init provisions the VM.
fn agent_swap_conflict(ev: &Evidence) -> Result<Option<String>, Unevaluable> {
    let Some(conf) = ev.stdout_unless("waagent-conf", ABSENT)? else {
        return Ok(None);
    };
    let value = |key: &str| {
        conf.lines()
            .map(str::trim)
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .filter(|(k, _)| k.trim() == key)
            .map(|(_, v)| v.trim().to_string())
            .next_back()
    };
    if !value("ResourceDisk.EnableSwap").is_some_and(|v| v.eq_ignore_ascii_case("y")) {
        return Ok(None);
    }
    let agent = value("Provisioning.Agent")
        .unwrap_or_else(|| "auto".to_string())
        .to_ascii_lowercase();
    let cloud_init = match agent.as_str() {
        "cloud-init" => true,
        "auto" => {
            value("Provisioning.UseCloudInit").is_some_and(|v| v.eq_ignore_ascii_case("y"))
                || ev.stdout_unless("cloud-init", ABSENT)?.is_some()
        }
        _ => false,
    };
    Ok(cloud_init.then(|| {
        format!(
            "/etc/waagent.conf has ResourceDisk.EnableSwap=y while cloud-init provisions \
             (Provisioning.Agent={agent}); set it to n and configure swap through cloud-init"
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_swaps_files_partitions_and_escapes() {
        let text = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n\
                    /dev/sda2                               partition\t262140\t\t0\t\t-2\n\
                    /mnt/my\\040swap                         file\t\t16372\t\t0\t\t-3\n";
        let swaps = parse_proc_swaps(text).unwrap();
        assert_eq!(
            swaps,
            [
                Swap {
                    path: "/dev/sda2".into(),
                    is_file: false
                },
                Swap {
                    path: "/mnt/my swap".into(),
                    is_file: true
                }
            ]
        );
        assert!(parse_proc_swaps("").is_err());
    }

    #[test]
    fn fstab_swap_lines() {
        let text = "# /etc/fstab\nUUID=7e45 / ext4 defaults 0 1\nUUID=e536 none swap sw 0 0\n#/swap none swap sw 0 0\n/swapfile none swap defaults 0 0\n";
        assert_eq!(fstab_swap_sources(text), ["UUID=e536", "/swapfile"]);
    }
}
