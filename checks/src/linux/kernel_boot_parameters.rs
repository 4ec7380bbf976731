//! TestID 40 `Required Kernel Parameters`: Azure's serial console and boot diagnostics read the
//! kernel's messages from the first serial port, and slow storage needs time to appear.

use crate::evidence::{ABSENT, Evidence};
use crate::linux::boot_params::{GrubDefaults, grub_dropins, kernel_params, split_param};
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::{Check, Unevaluable};

/// The running kernel has `console=ttyS0` (ttyAMA0 on Arm64), `earlyprintk=ttyS0` and
/// `rootdelay=300`, and GRUB's configuration agrees.
#[derive(Debug)]
pub struct KernelBootParameters;

static META: Meta = Meta {
    id: "kernel-boot-parameters",
    title: "Required kernel boot parameters",
    test_id: Some("40"),
    test_case_name: Some("Required Kernel Parameters"),
    description: "Verifies the following kernel parameters are set console=ttyS0, earlyprintk=ttyS0, \
                  rootdelay=300",
    rationale: "The toolkit read /proc/cmdline and printed `Missing Parameter: ...` / `Matched \
                Parameter: ...`; a missing rootdelay was a Warning (self-test output, 2023), and the \
                FAQ names a console other than ttyS0 as the error, so vmcert fails only a missing \
                console. Parameters match with their options (`console=ttyS0,115200n8`, \
                `earlyprintk=ttyS0,115200`, `earlyprintk=serial,ttyS0`), as the distribution guides \
                write them; rootdelay matches at 300 or more. Arm64 VMs need only `console=ttyAMA0`: LISA \
                checks that alone, arm64 kernels have no earlyprintk (they use earlycon), and \
                Microsoft's RHEL Arm64 marketplace images drop earlyprintk and rootdelay \
                (osbuild/image-builder#1455). \
                vmcert also evaluates GRUB_CMDLINE_LINUX and GRUB_CMDLINE_LINUX_DEFAULT from \
                /etc/default/grub and /etc/default/grub.d/*.cfg and warns when they disagree with the \
                running kernel, because the next grub-mkconfig would change the boot line. Like \
                LISA's verify_serial_console_is_enabled (priority 1), a console the kernel enabled \
                without the parameter (from the ACPI SPCR table, or `console=uart8250,...`) also \
                counts: when /proc/cmdline lacks it, vmcert looks for `console [ttyS0] enabled` \
                (ttyAMA0 on Arm64) in this boot's kernel journal (dmesg where there is no \
                journalctl) and in /var/log/dmesg, syslog, messages and boot.log.",
    remediation: "Add `console=ttyS0 earlyprintk=ttyS0 rootdelay=300` (Arm64: `console=ttyAMA0`) to GRUB_CMDLINE_LINUX in /etc/default/grub, regenerate the GRUB \
                  configuration (`update-grub` or `grub2-mkconfig -o /boot/grub2/grub.cfg`; \
                  `grubby --update-kernel=ALL --args=...` on BLS systems) and reboot.",
    os: Os::Linux,
    severity: Severity::High,
    since: "0.1.0",
    inferred: false,
    outcomes: &[Status::Pass, Status::Warning, Status::Fail, Status::Error],
    knobs: &[],
};

impl Check for KernelBootParameters {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &[
            "proc-cmdline",
            "default-grub",
            "default-grub-d",
            "uname-m",
            "boot-log",
        ]
    }

    fn required(&self, ev: &Evidence) -> String {
        ev.stdout("uname-m")
            .map(|m| required_for(m.trim()))
            .unwrap_or_else(|_| required_for("x86_64"))
    }

    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        evaluate(ev)
    }
}

/// One parameter the rule wants.
#[derive(Debug)]
struct Wanted {
    /// How the self-test named it (`console=ttyS0`).
    name: &'static str,
    /// The parameter key (`console`).
    key: &'static str,
    /// Does a value satisfy it?
    accepts: fn(&str) -> bool,
    /// Status when it is missing.
    missing: Status,
}

fn serial0(value: &str) -> bool {
    value.split(',').next() == Some("ttyS0")
}

fn arm_serial0(value: &str) -> bool {
    value.split(',').next() == Some("ttyAMA0")
}

/// `earlyprintk=ttyS0[,baud]`, `earlyprintk=serial[,ttyS0][,baud]` (serial means ttyS0).
fn early_serial0(value: &str) -> bool {
    let mut parts = value.split(',');
    match parts.next() {
        Some("ttyS0") => true,
        Some("serial") => parts
            .next()
            .is_none_or(|p| p == "ttyS0" || p.starts_with(|c: char| c.is_ascii_digit())),
        _ => false,
    }
}

fn delay_300(value: &str) -> bool {
    value.parse::<u32>().is_ok_and(|v| v >= 300)
}

const X86: &[Wanted] = &[
    Wanted {
        name: "console=ttyS0",
        key: "console",
        accepts: serial0,
        missing: Status::Fail,
    },
    Wanted {
        name: "earlyprintk=ttyS0",
        key: "earlyprintk",
        accepts: early_serial0,
        missing: Status::Warning,
    },
    Wanted {
        name: "rootdelay=300",
        key: "rootdelay",
        accepts: delay_300,
        missing: Status::Warning,
    },
];

const ARM64: &[Wanted] = &[Wanted {
    name: "console=ttyAMA0",
    key: "console",
    accepts: arm_serial0,
    missing: Status::Fail,
}];

fn wanted_for(arch: &str) -> &'static [Wanted] {
    if matches!(arch, "aarch64" | "arm64") {
        ARM64
    } else {
        X86
    }
}

fn required_for(arch: &str) -> String {
    wanted_for(arch)
        .iter()
        .map(|w| w.name)
        .collect::<Vec<_>>()
        .join("#")
}

/// Is `w` among `params`?
fn has(params: &[String], w: &Wanted) -> bool {
    params.iter().any(|p| {
        let (k, v) = split_param(p);
        k == w.key && (w.accepts)(v)
    })
}

/// The values given for `w`'s key, for messages (`console=tty1`).
fn given(params: &[String], w: &Wanted) -> Vec<String> {
    params
        .iter()
        .filter(|p| split_param(p).0 == w.key)
        .cloned()
        .collect()
}

/// The `console [ttyS0] enabled` message (the console `w` wants) in the boot-log probe's lines,
/// without the line's source prefix.
fn console_in_log(log: &str, w: &Wanted) -> Option<String> {
    let tty = w.name.strip_prefix("console=")?;
    let needle = format!("console [{tty}] enabled");
    log.lines()
        .find(|l| l.contains(&needle))
        .map(|_| needle.clone())
}

fn it_them(n: usize) -> &'static str {
    if n == 1 { "it" } else { "them" }
}

fn worse(a: Status, b: Status) -> Status {
    let rank = |s: Status| match s {
        Status::Fail => 2,
        Status::Warning => 1,
        _ => 0,
    };
    if rank(b) > rank(a) { b } else { a }
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let arch = ev.stdout("uname-m")?.trim().to_string();
    let wanted = wanted_for(&arch);
    let required = required_for(&arch);
    let cmdline = ev.stdout("proc-cmdline")?;
    let params = kernel_params(&cmdline);

    let grub = match ev.stdout_unless("default-grub", ABSENT)? {
        Some(main) => {
            let mut g = GrubDefaults::default();
            g.source("/etc/default/grub", &main);
            for (path, text) in grub_dropins(&ev.stdout("default-grub-d")?) {
                g.source(&path, &text);
            }
            Some(g)
        }
        None => None,
    };

    let mut status = Status::Pass;
    let (mut missing, mut matched, mut notes) = (Vec::new(), Vec::new(), Vec::new());
    let mut from_log = None;
    for w in wanted {
        if has(&params, w) {
            matched.push(w.name);
        } else if w.key == "console"
            && let Some(line) = console_in_log(&ev.stdout("boot-log")?, w)
        {
            matched.push(w.name);
            from_log = Some(line);
        } else {
            missing.push(w.name);
            status = worse(status, w.missing);
            let other = given(&params, w);
            if !other.is_empty() {
                notes.push(format!("{} is missing (found {})", w.name, other.join(" ")));
            }
        }
    }
    let actual = format!(
        "Missing Parameter: {}\nMatched Parameter: {}",
        missing.join(","),
        matched.join(",")
    );

    let mut message = if missing.is_empty() {
        format!("The running kernel has {}.", matched.join(", "))
    } else {
        let what = if status == Status::Fail {
            format!(
                "The running kernel lacks {}: without {} Azure's serial console and boot \
                 diagnostics stay blank.",
                missing.join(", "),
                wanted[0].name
            )
        } else {
            format!(
                "The running kernel lacks {} (recommended for Azure).",
                missing.join(", ")
            )
        };
        if notes.is_empty() {
            what
        } else {
            format!("{what} {}.", notes.join("; "))
        }
    };

    if let Some(line) = &from_log {
        message.push_str(&format!(
            " The serial console is not on the command line, but the kernel enabled it (the \
             kernel log says `{line}`)."
        ));
    }

    // Parameters missing from the running kernel that GRUB would not add either.
    let mut to_add: Vec<&str> = missing.clone();
    match &grub {
        Some(g) => {
            let next = g.linux_params();
            let mut only_running = Vec::new();
            let mut only_grub = Vec::new();
            for w in wanted {
                if w.key == "console" && from_log.is_some() && !has(&next, w) {
                    // Enabled without the parameter (SPCR): GRUB need not add it.
                    continue;
                }
                match (has(&params, w), has(&next, w)) {
                    (true, false) => only_running.push(w.name),
                    (false, true) => only_grub.push(w.name),
                    _ => {}
                }
            }
            to_add.retain(|m| !only_grub.contains(m));
            if !only_running.is_empty() {
                status = worse(status, Status::Warning);
                message.push_str(&format!(
                    " GRUB_CMDLINE_LINUX and GRUB_CMDLINE_LINUX_DEFAULT lack {}, which the running \
                     kernel has: the next update-grub / grub2-mkconfig (Debian and Ubuntu run it on \
                     every kernel update) would drop {} from the boot line; add {} to \
                     GRUB_CMDLINE_LINUX in /etc/default/grub.",
                    only_running.join(", "),
                    it_them(only_running.len()),
                    it_them(only_running.len())
                ));
            }
            if !only_grub.is_empty() {
                status = worse(status, Status::Warning);
                message.push_str(&format!(
                    " GRUB's configuration already sets {}, but the running kernel was booted \
                     without {}: regenerate the GRUB configuration (update-grub / grub2-mkconfig) \
                     and reboot.",
                    only_grub.join(", "),
                    it_them(only_grub.len())
                ));
            }
            if only_running.is_empty() && only_grub.is_empty() {
                message.push_str(" GRUB's configuration agrees with the running kernel.");
            }
        }
        None => message.push_str(" There is no /etc/default/grub to compare with."),
    }
    if !to_add.is_empty() {
        message.push_str(&format!(
            " Add {} to GRUB_CMDLINE_LINUX, regenerate the GRUB configuration and reboot.",
            to_add.join(" ")
        ));
    }
    Ok(Verdict::new(status, actual, required, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(s: &str) -> Vec<String> {
        kernel_params(s)
    }

    #[test]
    fn console_with_options_matches() {
        let p = params(
            "BOOT_IMAGE=/vmlinuz root=/dev/sda1 console=tty1 console=ttyS0,115200n8 earlyprintk=ttyS0,115200",
        );
        assert!(has(&p, &X86[0]));
        assert!(has(&p, &X86[1]));
        assert!(!has(&p, &X86[2]));
        assert!(!has(&params("console=ttyS1"), &X86[0]));
        assert!(!has(&params("console=ttyS01"), &X86[0]));
        assert!(has(&params("earlyprintk=serial,ttyS0,115200"), &X86[1]));
        assert!(has(&params("earlyprintk=serial"), &X86[1]));
        assert!(!has(&params("earlyprintk=vga"), &X86[1]));
        assert!(has(&params("rootdelay=600"), &X86[2]));
        assert!(!has(&params("rootdelay=30"), &X86[2]));
    }

    #[test]
    fn aarch64_wants_ttyama0() {
        assert_eq!(required_for("aarch64"), "console=ttyAMA0");
        assert_eq!(
            required_for("x86_64"),
            "console=ttyS0#earlyprintk=ttyS0#rootdelay=300"
        );
        let p = params("BOOT_IMAGE=(hd0,gpt2)/vmlinuz ro console=ttyAMA0,115200");
        assert!(wanted_for("aarch64").iter().all(|w| has(&p, w)));
        assert!(!has(&params("console=ttyS0"), &ARM64[0]));
    }

    #[test]
    fn params_after_double_dash_do_not_count() {
        assert!(!has(&params("quiet -- console=ttyS0"), &X86[0]));
    }

    #[test]
    fn grub_disagreeing_with_the_running_kernel_warns() {
        let mut ev = Evidence::default();
        ev.insert("uname-m", crate::ProbeOutput::exited(0, "x86_64\n"));
        ev.insert(
            "proc-cmdline",
            crate::ProbeOutput::exited(
                0,
                "BOOT_IMAGE=/vmlinuz ro console=ttyS0 earlyprintk=ttyS0 rootdelay=300\n",
            ),
        );
        ev.insert(
            "default-grub",
            crate::ProbeOutput::exited(
                0,
                "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"console=ttyS0\"\n",
            ),
        );
        ev.insert("default-grub-d", crate::ProbeOutput::exited(0, ""));
        let v = evaluate(&ev).unwrap();
        assert_eq!(v.status, Status::Warning);
        assert!(
            v.message
                .contains("lack earlyprintk=ttyS0, rootdelay=300, which the running kernel has"),
            "{}",
            v.message
        );
        assert_eq!(
            v.actual,
            "Missing Parameter: \nMatched Parameter: console=ttyS0,earlyprintk=ttyS0,rootdelay=300"
        );
    }
}
