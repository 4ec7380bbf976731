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
                vmcert reads the running kernel's /proc/cmdline and the GRUB_CMDLINE_LINUX* \
                variables of /etc/default/grub and /etc/default/grub.d/*.cfg (the source of every \
                generated grub.cfg), as whole parameters.",
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
        &["proc-cmdline", "default-grub", "default-grub-d"]
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
    if found.is_empty() {
        let scope = if grub_checked {
            "/proc/cmdline and GRUB's configuration"
        } else {
            "/proc/cmdline (there is no /etc/default/grub)"
        };
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
    fn whole_parameters_only() {
        let p = kernel_params("ro reserve=0x1f0,0x8 libata.atapi_enabled=1 reserve=0x1f0,0x80");
        assert_eq!(forbidden_in(&p), vec!["reserve=0x1f0,0x8"]);
    }
}
