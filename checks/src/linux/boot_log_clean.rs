//! LISA's verify_boot_error_fail_warnings: failures, errors and warnings logged while the image
//! booted point at drivers or services that do not work on Azure. Advice only (never a Fail).

use crate::evidence::Evidence;
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::{Check, Unevaluable};

/// No unexpected `fail`/`error`/`warning` line in the kernel and boot logs.
#[derive(Debug)]
pub struct BootLogClean;

static META: Meta = Meta {
    id: "boot-log-clean",
    title: "Boot logs free of errors",
    test_id: None,
    test_case_name: None,
    description: "The kernel and boot logs have no fail, error or warning line outside LISA's \
                  list of known harmless messages.",
    rationale: "Microsoft's LISA suite (azure_image_standard, verify_boot_error_fail_warnings) \
                collects every line containing `fail`, `error` or `warning` (lower case, as LISA \
                matches) from dmesg, /var/log/syslog and /var/log/messages and fails when one is \
                not on its list of confirmed harmless messages. LISA runs the case at priority 5, \
                outside the gating run, so vmcert only warns, listing the lines. vmcert reads this \
                boot's kernel journal (dmesg where there is no journalctl), /var/log/dmesg, \
                syslog, messages and boot.log, at most 300 matching lines, and ignores the \
                messages of LISA's list (matched as substrings), plus one timing message of a \
                loaded host (`calibrate_delay_direct() failed to get a good estimate`).",
    remediation: "Read the listed lines; fix or remove the driver, service or configuration that \
                  logs them (or explain them to the reviewer), then clear the logs before \
                  capturing the image.",
    os: Os::Linux,
    severity: Severity::Low,
    since: "0.2.0",
    inferred: false,
    outcomes: &[Status::Pass, Status::Warning, Status::Error],
    knobs: &[],
};

const PROBE: ProbeId = "boot-log";
const REQUIRED: &str = "no unexpected fail/error/warning line";

/// LISA's confirmed harmless messages (its `_error_fail_warnings_ignorable_str_list`, reduced
/// to the literal part of each pattern).
const IGNORED: &[&str] = &[
    "Perf event create on CPU 0 failed with -2",
    "Fast TSC calibration",
    "acpi PNP0A03:00",
    "systemd-journald-audit.socket",
    "Failed to set file attributes: Inappropriate ioctl for device",
    "Failed to create new system journal: No such file or directory",
    "failed to get extended button data",
    "ipmi_si",
    "pci_root PNP0A03:00",
    "disabling PCIe ASPM",
    "systemd-journald",
    "Cannot add dependency job",
    "failsafe",
    "startpar-bridge",
    "Failed to spawn",
    "display-manager.service",
    "ACPI PCC probe failed",
    "Failed to access perfctr msr",
    "Failed to init entropy source hwrng",
    "failed early load check for",
    "rngd: Failed to init entropy source 0: Hardware RNG Device",
    "open /dev/vmbus/hv_fcopy failed; error: 2 No such file or directory",
    "open /dev/vmbus/hv_vss failed; error: 2 No such file or directory",
    "hv-vss-daemon.service",
    "hv-fcopy-daemon.service",
    "Failed determining last makecache time",
    "Unit dbus-org.freedesktop.resolve1.service not found",
    "TLS record write failed",
    "state ensure error",
    "got unexpected HTTP status code",
    "Error getting hardware address for \"eth0\": No such device",
    "codec can't encode character",
    "gnutls error -64: Error while reading file",
    "wdgsmart-syslog.conf isn't owned by root",
    "Condition check resulted in Process error reports when automatic reporting is enabled",
    "error trying to compare the snap system key: system-key missing on disk",
    "mitigating potential DNS violation DVE-2018-0001",
    "end_request: I/O error, dev fd0, sector 0",
    "blk_update_request: I/O error, dev fd0, sector 0",
    "floppy: error -5 while reading block 0",
    "Broken pipe",
    "errors=remount-ro",
    "Bad IEC (SMART) mode page, err=5, skip device",
    "GPT: Use GNU Parted to correct GPT errors",
    "RAS: Correctable Errors collector initialized",
    "BERT: Boot Error Record Table support is disabled",
    "the VM unique identifie has changed -- clearing cached state",
    "WARNING! Cached DHCP leases will be deleted",
    "Unconfined exec qualifier (ux) allows some dangerous environment variables",
    "reloading interface list",
    "Server preferred version:",
    "WARNING Hostname record does not exist,",
    "Dhcp client is not running",
    "Write warning to Azure ephemeral disk",
    "Added ephemeral disk warning to",
    "Proceeding WITHOUT firewalling in effect!",
    "missed due to ratelimiting",
    "Warning: There might not be enough space to save a vmcore",
    "WARNING ExtHandler ExtHandler cgroups v2 mounted at",
    "dataloss warning file",
    "temp-disk-dataloss-warning",
    "was skipped because all trigger condition checks failed",
    "was skipped because of a failed condition check",
    "GRUB failed boot detection",
    "nofail",
    "SGI XFS with ACLs, security attributes, realtime, verbose warnings, quota, no debug enabled",
    "Direct firmware load for regulatory.db failed with error -2",
    "failed to load regulatory.db",
    "This warning is only shown for the first unit using IP firewalling",
    "Internal error: Cannot find counter: swap",
    "failed to evaluate _DSM (0x1001)",
    "ib_srpt MAD registration failed for",
    "failed to truncate kvp pool file",
    "pam_unix,pam_faillock",
    "mlx5_core0: WARN: mlx5_fwdump_prep:92:(pid 0)",
    "ACPI: _OSC evaluation for CPUs failed, trying _PDC",
    "Buffer I/O error on dev sr0, logical block 1, async page read",
    "I/O error, dev sr0, sector 8 op 0x0:(READ)",
    "op=PAM:setcred grantors=?",
    // vmcert's one addition: the kernel timed its delay loop while the hypervisor held the vCPU
    // (a fact of the host's load at boot, not of the image; seen on QEMU under TCG and on busy
    // hosts), the same kind of timing message as LISA's "Fast TSC calibration".
    "calibrate_delay_direct() failed to get a good estimate for loops_per_jiffy",
];

impl Check for BootLogClean {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &[PROBE]
    }

    fn required(&self, _: &Evidence) -> String {
        REQUIRED.to_string()
    }

    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        evaluate(ev)
    }
}

/// A line LISA would report: it contains `fail`, `error` or `warning` (lower case) and none of
/// the harmless messages.
fn reported(line: &str) -> bool {
    (line.contains("fail") || line.contains("error") || line.contains("warning"))
        && !IGNORED.iter().any(|i| line.contains(i))
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let out = ev.stdout(PROBE)?;
    let lines: Vec<&str> = out.lines().filter(|l| reported(l)).collect();
    if lines.is_empty() {
        return Ok(Verdict::new(
            Status::Pass,
            "none",
            REQUIRED,
            "The kernel and boot logs hold no fail, error or warning line outside LISA's list of \
             harmless messages.",
        ));
    }
    let shown: Vec<String> = lines
        .iter()
        .take(10)
        .map(|l| l.chars().take(200).collect())
        .collect();
    Ok(Verdict::new(
        Status::Warning,
        format!("{} line(s)", lines.len()),
        REQUIRED,
        format!(
            "{} fail/error/warning line(s) in the kernel and boot logs that LISA does not know as \
             harmless (LISA reports them at priority 5), e.g.: {}",
            lines.len(),
            shown.join(" | ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lisa_matching() {
        assert!(reported(
            "journal: kernel: hv_storvsc: probe failed with error -19"
        ));
        assert!(!reported("journal: kernel: Failed to spawn x"));
        assert!(!reported("/var/log/syslog: mount: errors=remount-ro"));
        // LISA matches lower case only.
        assert!(!reported("journal: kernel: Warning: unknown"));
        assert!(!reported("journal: kernel: console [ttyS0] enabled"));
        // Recorded on the qemu golden image booted under TCG on a loaded host.
        assert!(!reported(
            "journal: Dec 06 15:31:18 vmcert-qemu kernel: calibrate_delay_direct() failed to get a good estimate for loops_per_jiffy."
        ));
    }
}
