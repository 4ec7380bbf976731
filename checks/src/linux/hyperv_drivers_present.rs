//! Azure VMs run on Hyper-V: without the VMBus, storage and network drivers the image cannot
//! find its disk or NIC.

use crate::evidence::Evidence;
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::{Check, Unevaluable};

/// hv_vmbus, hv_storvsc and hv_netvsc are loaded, built in or installed as modules.
#[derive(Debug)]
pub struct HypervDriversPresent;

static META: Meta = Meta {
    id: "hyperv-drivers-present",
    title: "Hyper-V drivers present",
    test_id: None,
    test_case_name: None,
    description: "hv_vmbus, hv_storvsc and hv_netvsc are available as loaded modules, through \
                  `modinfo`, or in modules.builtin.",
    rationale: "Microsoft's guides for non-endorsed distributions require the Linux Integration \
                Services (Hyper-V drivers, in the kernel since 3.x): hv_vmbus (the VMBus), \
                hv_storvsc (the OS and data disks) and hv_netvsc (the NIC), checked with \
                `lsmod | grep hv_` and `modinfo`. A driver counts as present when it is loaded \
                (/proc/modules), built into the running kernel (modules.builtin) or installed as \
                a module for it (`modinfo`); it must also be in the initramfs, which vmcert does \
                not inspect.",
    remediation: "Use a kernel with the Hyper-V drivers (CONFIG_HYPERV, CONFIG_HYPERV_STORAGE, \
                  CONFIG_HYPERV_NET as =y or =m; distribution cloud/Azure kernels have them) and \
                  make sure the initramfs includes hv_vmbus, hv_storvsc and hv_netvsc (dracut: \
                  `add_drivers+=\" hv_vmbus hv_netvsc hv_storvsc \"`).",
    os: Os::Linux,
    severity: Severity::High,
    since: "0.1.0",
    inferred: false,
    outcomes: &[Status::Pass, Status::Fail, Status::Error],
    knobs: &[],
};

const REQUIRED: &str = "hv_vmbus, hv_storvsc, hv_netvsc available";
const DRIVERS: [&str; 3] = ["hv_vmbus", "hv_storvsc", "hv_netvsc"];

impl Check for HypervDriversPresent {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &["hyperv-modules"]
    }

    fn required(&self, _: &Evidence) -> String {
        REQUIRED.to_string()
    }

    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        evaluate(ev)
    }
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let out = ev.stdout("hyperv-modules")?;
    let mut states = Vec::new();
    for driver in DRIVERS {
        let state = out
            .lines()
            .filter_map(|l| l.split_once(' '))
            .find(|(name, _)| *name == driver)
            .map(|(_, s)| s.trim())
            .ok_or_else(|| {
                Unevaluable::new(format!("hyperv-modules printed no line for {driver}"))
            })?;
        if !matches!(state, "loaded" | "builtin" | "available" | "missing") {
            return Err(Unevaluable::new(format!(
                "unknown state `{state}` for {driver}"
            )));
        }
        states.push((driver, state));
    }
    let actual = states
        .iter()
        .map(|(d, s)| format!("{d} {s}"))
        .collect::<Vec<_>>()
        .join(", ");
    let missing: Vec<&str> = states
        .iter()
        .filter(|(_, s)| *s == "missing")
        .map(|(d, _)| *d)
        .collect();
    if missing.is_empty() {
        return Ok(Verdict::new(
            Status::Pass,
            actual,
            REQUIRED,
            "The Hyper-V VMBus, storage and network drivers are available to the running kernel.",
        ));
    }
    let effect = if missing.contains(&"hv_vmbus") {
        "without the VMBus it would see neither its disks nor its network interface"
    } else if missing.len() == 2 {
        "it would see neither its disks nor its network interface"
    } else if missing.contains(&"hv_storvsc") {
        "it would not find its disks"
    } else {
        "it would not find its network interface"
    };
    Ok(Verdict::new(
        Status::Fail,
        actual,
        REQUIRED,
        format!(
            "Missing for the running kernel: {} (not loaded, not built in, no module found by \
             modinfo). On Azure {effect}.",
            missing.join(", ")
        ),
    ))
}
