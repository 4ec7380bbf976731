//! LISA's verify_essential_kernel_modules (priority 1): Azure features need the kernel's
//! watchdog framework and the CIFS/SMB client (Azure Files).

use crate::evidence::{ABSENT, Evidence};
use crate::linux::config_files::sections;
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::{Check, Unevaluable};

/// `CONFIG_WATCHDOG` and `CONFIG_CIFS` are built in or modules.
#[derive(Debug)]
pub struct KernelConfigEssentials;

static META: Meta = Meta {
    id: "kernel-config-essentials",
    title: "Essential kernel options (watchdog, CIFS)",
    test_id: None,
    test_case_name: None,
    description: "CONFIG_WATCHDOG and CONFIG_CIFS are `y` or `m` in the running kernel's build \
                  configuration.",
    rationale: "Microsoft's LISA suite (azure_image_standard, verify_essential_kernel_modules, \
                priority 1) fails a kernel built without the watchdog framework or without the \
                CIFS client (needed to mount Azure Files shares). vmcert reads, as LISA does, \
                /boot/config-$(uname -r), else /proc/config.gz (and /lib/modules/$(uname \
                -r)/config, where some distributions keep it). When no configuration is readable \
                (custom kernels, /boot/config-* deleted to slim the image) vmcert cannot tell and \
                warns, where LISA would fail.",
    remediation: "Use the distribution's stock or Azure-tuned kernel, or build yours with \
                  CONFIG_WATCHDOG=y and CONFIG_CIFS=m, and keep /boot/config-$(uname -r) in the \
                  image.",
    os: Os::Linux,
    severity: Severity::High,
    since: "0.2.0",
    inferred: false,
    outcomes: &[Status::Pass, Status::Warning, Status::Fail, Status::Error],
    knobs: &[],
};

const PROBE: ProbeId = "kernel-config";
const SYMBOLS: [&str; 2] = ["CONFIG_WATCHDOG", "CONFIG_CIFS"];
const REQUIRED: &str = "CONFIG_WATCHDOG=y|m, CONFIG_CIFS=y|m";

impl Check for KernelConfigEssentials {
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

/// The value a config listing gives `symbol`: `y`, `m`, another value, `not set`, or `None`
/// when the listing does not mention it.
fn value_of(lines: &[&str], symbol: &str) -> Option<String> {
    lines.iter().rev().find_map(|l| {
        let l = l.trim();
        if let Some(v) = l.strip_prefix(symbol).and_then(|r| r.strip_prefix('=')) {
            return Some(v.trim_matches('"').to_string());
        }
        l.strip_prefix("# ")
            .and_then(|r| r.strip_prefix(symbol))
            .filter(|r| r.trim() == "is not set")
            .map(|_| "not set".to_string())
    })
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let Some(text) = ev.stdout_unless(PROBE, ABSENT)? else {
        return Ok(Verdict::new(
            Status::Warning,
            "no kernel configuration readable",
            REQUIRED,
            "Neither /boot/config-$(uname -r), /lib/modules/$(uname -r)/config nor \
             /proc/config.gz exists, so vmcert cannot tell whether the kernel has \
             CONFIG_WATCHDOG and CONFIG_CIFS; LISA fails such an image. Keep the distribution's \
             /boot/config-* file in the image.",
        ));
    };
    let secs = sections(&text);
    let Some((source, lines)) = secs.first() else {
        return Err(Unevaluable::new(
            "the kernel-config probe printed no `== source` line",
        ));
    };
    let mut found = Vec::new();
    let mut bad = Vec::new();
    for symbol in SYMBOLS {
        match value_of(lines, symbol) {
            Some(v) if v == "y" || v == "m" => found.push(format!("{symbol}={v}")),
            Some(v) if v == "not set" => {
                found.push(format!("{symbol} not set"));
                bad.push(format!("{symbol} is not set"));
            }
            Some(v) => {
                found.push(format!("{symbol}={v}"));
                bad.push(format!("{symbol}={v}"));
            }
            None => {
                found.push(format!("{symbol} absent"));
                bad.push(format!("{symbol} is absent"));
            }
        }
    }
    let actual = format!("{} ({source})", found.join(", "));
    if bad.is_empty() {
        return Ok(Verdict::new(
            Status::Pass,
            actual,
            REQUIRED,
            format!("The running kernel has {} ({source}).", found.join(" and ")),
        ));
    }
    Ok(Verdict::new(
        Status::Fail,
        actual,
        REQUIRED,
        format!(
            "The running kernel's configuration ({source}): {}. Azure needs the watchdog \
             framework and the CIFS client (Azure Files); use a kernel built with both as y or m.",
            bad.join(", ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        let l = [
            "CONFIG_WATCHDOG=y",
            "# CONFIG_CIFS is not set",
            "CONFIG_WATCHDOG_CORE=y",
        ];
        assert_eq!(value_of(&l, "CONFIG_WATCHDOG").as_deref(), Some("y"));
        assert_eq!(value_of(&l, "CONFIG_CIFS").as_deref(), Some("not set"));
        assert_eq!(value_of(&["CONFIG_CIFS_XATTR=y"], "CONFIG_CIFS"), None);
    }
}
