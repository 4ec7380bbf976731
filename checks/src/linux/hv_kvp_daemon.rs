//! LISA's verify_hv_kvp_daemon_installed (priority 2): the Hyper-V KVP daemon exchanges
//! key-value data (IP addresses, host name, guest OS details) with the Azure host.

use crate::evidence::Evidence;
use crate::linux::family::Family;
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::{Check, Unevaluable};

/// The KVP daemon runs (Debian family: any; Azure Linux: exactly one).
#[derive(Debug)]
pub struct HvKvpDaemon;

static META: Meta = Meta {
    id: "hv-kvp-daemon",
    title: "Hyper-V KVP daemon running",
    test_id: None,
    test_case_name: None,
    description: "Debian/Ubuntu: hv_kvp_daemon runs. Azure Linux: exactly one hypervkvpd runs.",
    rationale: "Microsoft's LISA suite (azure_image_standard, verify_hv_kvp_daemon_installed, \
                priority 2) checks the Hyper-V key-value-pair daemon, through which the Azure \
                host learns the guest's addresses and OS details: on Debian and Ubuntu a missing \
                hv_kvp_daemon is a pass with a warning (the hyperv-daemons package is optional \
                there), so vmcert warns; on Azure Linux anything but exactly one hypervkvpd \
                process fails. vmcert counts the processes from /proc/*/comm of the running VM. \
                Other families: NotApplicable, as in LISA.",
    remediation: "Debian/Ubuntu: `apt-get install hyperv-daemons` (Ubuntu: linux-cloud-tools for \
                  the kernel) and enable hv-kvp-daemon.service. Azure Linux: `tdnf install \
                  hyperv-daemons` and `systemctl enable --now hypervkvpd`.",
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

const PROBE: ProbeId = "kvp-daemon";

impl Check for HvKvpDaemon {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &["os-release", PROBE]
    }

    fn required(&self, _: &Evidence) -> String {
        "KVP daemon running".to_string()
    }

    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        evaluate(ev)
    }
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let family = Family::from_evidence(ev)?;
    let (name, azure) = if family.is_azure_linux() {
        ("hypervkvpd", true)
    } else if family.is_debian() {
        ("hv_kvp_daemon", false)
    } else {
        return Ok(Verdict::new(
            Status::NotApplicable,
            family.pretty.clone(),
            "Debian family or Azure Linux",
            format!(
                "{}: LISA checks the KVP daemon only on Debian, Ubuntu and Azure Linux.",
                family.pretty
            ),
        ));
    };
    let out = ev.stdout(PROBE)?;
    let mut count = 0usize;
    for line in out.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match line {
            "hv_kvp_daemon" | "hypervkvpd" => count += 1,
            other => {
                return Err(Unevaluable::new(format!(
                    "kvp-daemon printed an unexpected line: {other}"
                )));
            }
        }
    }
    let actual = format!("{count} KVP daemon process(es)");
    let required = if azure {
        "exactly one hypervkvpd"
    } else {
        "hv_kvp_daemon running"
    };
    Ok(match (azure, count) {
        (true, 1) | (false, 1..) => Verdict::new(
            Status::Pass,
            actual,
            required,
            format!("{}: the Hyper-V KVP daemon runs.", family.pretty),
        ),
        (true, _) => Verdict::new(
            Status::Fail,
            actual,
            required,
            format!(
                "{}: {count} {name} processes run; LISA requires exactly one on Azure Linux. \
                 Install hyperv-daemons and enable hypervkvpd.service once.",
                family.pretty
            ),
        ),
        (false, _) => Verdict::new(
            Status::Warning,
            actual,
            required,
            format!(
                "{}: no {name} process runs, so the Azure host gets no key-value data from the \
                 VM (LISA passes this with a warning). Install hyperv-daemons and enable \
                 hv-kvp-daemon.service.",
                family.pretty
            ),
        ),
    })
}
