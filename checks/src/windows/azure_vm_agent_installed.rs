//! The Azure VM Agent is installed and running: its two services, WindowsAzureGuestAgent and
//! RdAgent, handle provisioning, extensions and password resets.

use crate::evidence::Evidence;
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::windows::outputs::{self, Service};
use crate::{Check, Unevaluable};

/// Services WindowsAzureGuestAgent and RdAgent exist and are running.
#[derive(Debug)]
pub struct AzureVmAgentInstalled;

static META: Meta = Meta {
    id: "azure-vm-agent-installed",
    title: "Azure VM Agent running",
    test_id: None,
    test_case_name: None,
    description: "The Azure VM Agent services WindowsAzureGuestAgent and RdAgent exist and are \
                  running.",
    rationale: "Microsoft strongly recommends the Azure VM Agent in Windows images; without it \
                there are no VM extensions, no password reset and no provisioning status \
                (research/cert-cases.md section 3.2, S19). The service names are those the \
                Packer and Azure Image Builder sysprep scripts wait for.",
    remediation: "Install the Azure VM Agent (WindowsAzureVmAgent MSI from \
                  https://github.com/Azure/WindowsVMAgent/releases) and make sure both services \
                  start automatically.",
    os: Os::Windows,
    severity: Severity::High,
    since: "0.1.0",
    inferred: false,
    outcomes: &[Status::Pass, Status::Fail, Status::Error],
    knobs: &[],
};

const REQUIRED: &str = "WindowsAzureGuestAgent and RdAgent running";

const SERVICES: [&str; 2] = ["WindowsAzureGuestAgent", "RdAgent"];

impl Check for AzureVmAgentInstalled {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &["azure-agent-services"]
    }

    fn required(&self, _: &Evidence) -> String {
        REQUIRED.to_string()
    }

    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        evaluate(ev)
    }
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let services: Vec<Service> = outputs::rows(ev, "azure-agent-services")?;
    let mut states = Vec::new();
    let mut problems = Vec::new();
    for name in SERVICES {
        match services.iter().find(|s| s.name.eq_ignore_ascii_case(name)) {
            None => {
                states.push(format!("{name} missing"));
                problems.push(format!("{name} is not installed"));
            }
            Some(s) => {
                let start = s.start_mode.as_deref().unwrap_or("unknown start mode");
                states.push(format!("{name} {}", s.state));
                if s.state != "Running" {
                    problems.push(format!("{name} is {} ({start})", s.state));
                }
            }
        }
    }
    let actual = states.join(", ");
    Ok(if problems.is_empty() {
        Verdict::new(
            Status::Pass,
            actual,
            REQUIRED,
            "Both Azure VM Agent services are running.",
        )
    } else {
        Verdict::new(
            Status::Fail,
            actual,
            REQUIRED,
            format!("{}.", problems.join("; ")),
        )
    })
}
