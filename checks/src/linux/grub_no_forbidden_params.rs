//! Two legacy IDE boot parameters break Azure VMs: `libata.atapi_enabled=0` and
//! `reserve=0x1f0,0x8` (once recommended to hide the virtual DVD drive, now they stop the
//! provisioning media from being read).

use crate::evidence::{ABSENT, Evidence};
use crate::linux::boot_params::{GrubDefaults, grub_dropins, kernel_params};
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::{Check, Unevaluable};

/// Neither the running kernel nor GRUB's configuration carries the forbidden parameters.
#[derive(Debug)]
pub struct GrubNoForbiddenParams;

static META: Meta = Meta {
    id: "grub-no-forbidden-params",
    title: "No forbidden kernel parameters",
    test_id: None,
    test_case_name: None,
    description: "The kernel command line and GRUB configuration do not contain \
                  libata.atapi_enabled=0 or reserve=0x1f0,0x8.",
    rationale: "LISA's verify_grub and Microsoft's older VHD prerequisite BVT fail an image whose \
                GRUB configuration contains either parameter: they disable the ATAPI (DVD) device \
                and the legacy IDE I/O ports Azure uses to hand the provisioning data to the VM. \
                vmcert reads the running kernel's /proc/cmdline, the GRUB_CMDLINE_LINUX* \
                variables of /etc/default/grub and /etc/default/grub.d/*.cfg (the source of every \
                generated grub.cfg), and, like LISA, the generated boot configuration itself: \
                /boot/grub/grub.cfg (Debian, Ubuntu), /boot/grub2/grub.cfg (RHEL, SUSE, Azure \
                Linux), the EFI grub.cfg, grubenv (RHEL 8+ keeps `kernelopts` there) and the BLS \
                entries under /boot/loader/entries; parameters match whole. LISA reads only one \
                of these files per distribution, so a parameter in a file it skips is a defect \
                it misses: vmcert fails it too, naming the file. LISA also fails when the grub \
                file it expects is missing; vmcert does not (a VM may boot without GRUB) and \
                says which files it read.",
    remediation: "Remove libata.atapi_enabled=0 and reserve=0x1f0,0x8 from GRUB_CMDLINE_LINUX in \
                  /etc/default/grub (and its grub.d drop-ins), regenerate the GRUB configuration \
                  (`update-grub` / `grub2-mkconfig -o /boot/grub2/grub.cfg`, or `grubby \
                  --update-kernel=ALL --remove-args=...`) and reboot.",
    os: Os::Linux,
    severity: Severity::High,
    since: "0.1.0",
    inferred: false,
    outcomes: &[Status::Pass, Status::Fail, Status::Error],
    knobs: &[],
};

const FORBIDDEN: &[&str] = &["libata.atapi_enabled=0", "reserve=0x1f0,0x8"];
const REQUIRED: &str = "no libata.atapi_enabled=0, no reserve=0x1f0,0x8";

impl Check for GrubNoForbiddenParams {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &[
            "proc-cmdline",
            "default-grub",
            "default-grub-d",
            "boot-config",
        ]
    }

    fn required(&self, _: &Evidence) -> String {
        REQUIRED.to_string()
    }

    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        evaluate(ev)
    }
}

fn forbidden_in(params: &[String]) -> Vec<&'static str> {
    FORBIDDEN
        .iter()
        .copied()
        .filter(|f| params.iter().any(|p| p == f))
        .collect()
}

/// The words of a grub.cfg / grubenv / BLS line as kernel parameters: quotes split like blanks,
/// and grubenv's `kernelopts=` prefix is dropped from the first one.
fn boot_config_params(line: &str) -> Vec<String> {
    line.split(|c: char| c.is_whitespace() || c == '"' || c == '\'')
        .filter(|w| !w.is_empty())
        .map(|w| w.strip_prefix("kernelopts=").unwrap_or(w).to_string())
        .collect()
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let mut found = Vec::new();
    let running = forbidden_in(&kernel_params(&ev.stdout("proc-cmdline")?));
    if !running.is_empty() {
        found.push(format!("/proc/cmdline: {}", running.join(" ")));
    }
    let mut grub_checked = false;
    if let Some(main) = ev.stdout_unless("default-grub", ABSENT)? {
        grub_checked = true;
        let mut g = GrubDefaults::default();
        g.source("/etc/default/grub", &main);
        for (path, text) in grub_dropins(&ev.stdout("default-grub-d")?) {
            g.source(&path, &text);
        }
        for (name, value) in g.with_prefix("GRUB_CMDLINE_LINUX") {
            let hits = forbidden_in(&kernel_params(value));
            if !hits.is_empty() {
                let origin = g.origin(name).unwrap_or("/etc/default/grub");
                found.push(format!("{name} in {origin}: {}", hits.join(" ")));
            }
        }
    }
    let generated = ev.stdout("boot-config")?;
    let mut boot_files = Vec::new();
    for line in generated.lines() {
        if let Some(path) = line.strip_prefix("== ") {
            boot_files.push(path.to_string());
            continue;
        }
        let Some((path, text)) = line.split_once(':') else {
            continue;
        };
        let hits = forbidden_in(&boot_config_params(text));
        if !hits.is_empty() {
            found.push(format!("{path}: {}", hits.join(" ")));
        }
    }
    if found.is_empty() {
        let grub = if grub_checked {
            "GRUB's defaults"
        } else {
            "no /etc/default/grub"
        };
        let generated = if boot_files.is_empty() {
            "no generated boot configuration".to_string()
        } else {
            boot_files.join(", ")
        };
        let scope = format!("/proc/cmdline, {grub}, {generated}");
        return Ok(Verdict::new(
            Status::Pass,
            "none",
            REQUIRED,
            format!("Neither libata.atapi_enabled=0 nor reserve=0x1f0,0x8 is in {scope}."),
        ));
    }
    let actual = found.join("; ");
    let message = format!(
        "Forbidden kernel parameters found ({actual}). They disable the IDE/ATAPI devices Azure uses \
         to deliver provisioning data; remove them from GRUB_CMDLINE_LINUX, regenerate the GRUB \
         configuration and reboot."
    );
    Ok(Verdict::new(Status::Fail, actual, REQUIRED, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_configuration_lines() {
        let p = boot_config_params(
            "kernelopts=libata.atapi_enabled=0 root=/dev/mapper/rhel-root ro crashkernel=auto",
        );
        assert_eq!(forbidden_in(&p), vec!["libata.atapi_enabled=0"]);
        let p = boot_config_params(
            "\tlinux\t/boot/vmlinuz-6.1.0 root=UUID=x ro reserve=0x1f0,0x8 quiet",
        );
        assert_eq!(forbidden_in(&p), vec!["reserve=0x1f0,0x8"]);
        let p = boot_config_params("set kernelopts=\"root=x reserve=0x1f0,0x8\"");
        assert_eq!(forbidden_in(&p), vec!["reserve=0x1f0,0x8"]);
    }

    #[test]
    fn whole_parameters_only() {
        let p = kernel_params("ro reserve=0x1f0,0x8 libata.atapi_enabled=1 reserve=0x1f0,0x80");
        assert_eq!(forbidden_in(&p), vec!["reserve=0x1f0,0x8"]);
    }
}
