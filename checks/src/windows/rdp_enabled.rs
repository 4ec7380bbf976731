//! Remote Desktop is enabled on the standard port and allowed through the firewall: reviewers
//! and customers reach the VM over RDP.

use serde::Deserialize;

use crate::evidence::Evidence;
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::windows::outputs::{self, List};
use crate::{Check, Unevaluable};

/// fDenyTSConnections 0, RDP-Tcp PortNumber 3389, Remote Desktop firewall rules enabled.
#[derive(Debug)]
pub struct RdpEnabled;

static META: Meta = Meta {
    id: "rdp-enabled",
    title: "Remote Desktop enabled",
    test_id: None,
    test_case_name: None,
    description: "Remote Desktop connections are allowed on port 3389 and the Remote Desktop \
                  firewall rules are enabled.",
    rationale: "Certification reports a remote access error when RDP is not enabled \
                (research/cert-cases.md section 3.2, S9/S19): Microsoft's guidance for Windows \
                images sets `Terminal Server` fDenyTSConnections = 0 and RDP-Tcp PortNumber = \
                3389 and enables the Remote Desktop firewall group. A Group Policy \
                fDenyTSConnections under `Policies\\Microsoft\\Windows NT\\Terminal Services` \
                overrides the local value and is read too. The group is matched by its \
                language-independent name @FirewallAPI.dll,-28752; an enabled inbound user-mode \
                TCP rule counts as enabled.",
    remediation: "Enable Remote Desktop (`Set-ItemProperty 'HKLM:\\SYSTEM\\CurrentControlSet\\\
                  Control\\Terminal Server' fDenyTSConnections 0`), keep RDP-Tcp on port 3389, and \
                  `Enable-NetFirewallRule -Group '@FirewallAPI.dll,-28752'`.",
    os: Os::Windows,
    severity: Severity::High,
    since: "0.1.0",
    inferred: false,
    outcomes: &[Status::Pass, Status::Fail, Status::Error],
    knobs: &[],
};

const REQUIRED: &str =
    "fDenyTSConnections 0, PortNumber 3389, Remote Desktop firewall group enabled";

/// `rdp-settings`.
#[derive(Debug, Deserialize)]
struct RdpSettings {
    #[serde(rename = "fDenyTSConnections", default)]
    deny: Option<i64>,
    #[serde(rename = "PolicyDenyTSConnections", default)]
    policy_deny: Option<i64>,
    #[serde(rename = "PortNumber", default)]
    port: Option<i64>,
    #[serde(rename = "FirewallRules", default)]
    rules: List<FirewallRule>,
}

/// The language-independent name of the "Remote Desktop" firewall group.
const RDP_GROUP: &str = "@FirewallAPI.dll,-28752";

#[derive(Debug, Deserialize)]
struct FirewallRule {
    #[serde(rename = "Name")]
    name: String,
    /// The rule's group (absent from older probes, which listed that group only).
    #[serde(rename = "Group", default)]
    group: Option<String>,
    #[serde(rename = "DisplayGroup", default)]
    display_group: Option<String>,
    #[serde(rename = "Enabled")]
    enabled: String,
    #[serde(rename = "Direction")]
    direction: String,
}

impl FirewallRule {
    fn in_rdp_group(&self) -> bool {
        self.group.as_deref().is_none_or(|g| g == RDP_GROUP)
    }

    fn admits_rdp(&self) -> bool {
        self.enabled == "True"
            && self.direction == "Inbound"
            && self.name.contains("TCP")
            && !self.name.contains("Shadow")
    }
}

fn show(v: Option<i64>) -> String {
    v.map_or_else(|| "not set".to_string(), |n| n.to_string())
}

impl Check for RdpEnabled {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &["rdp-settings"]
    }

    fn required(&self, _: &Evidence) -> String {
        REQUIRED.to_string()
    }

    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        evaluate(ev)
    }
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let r: RdpSettings = outputs::document(ev, "rdp-settings")?;
    let mut problems = Vec::new();
    // A policy value, when present, wins over the local one.
    let effective_deny = r.policy_deny.or(r.deny);
    match (r.policy_deny, effective_deny) {
        (_, Some(0)) => {}
        (Some(p), _) => problems.push(format!(
            "Group Policy sets fDenyTSConnections to {p}, which refuses Remote Desktop connections"
        )),
        (None, d) => problems.push(format!(
            "fDenyTSConnections is {}, which refuses Remote Desktop connections",
            show(d)
        )),
    }
    if r.port != Some(3389) {
        problems.push(format!(
            "RDP-Tcp listens on port {}, not 3389",
            show(r.port)
        ));
    }
    let (group, others): (Vec<&FirewallRule>, Vec<&FirewallRule>) =
        r.rules.0.iter().partition(|x| x.in_rdp_group());
    let open = group.iter().filter(|x| x.admits_rdp()).count();
    if open == 0 {
        problems.push(if group.is_empty() {
            "the Remote Desktop firewall group has no rules".to_string()
        } else {
            "no inbound Remote Desktop TCP firewall rule is enabled".to_string()
        });
    }
    let enabled: Vec<&str> = group
        .iter()
        .filter(|x| x.enabled == "True")
        .map(|x| x.name.as_str())
        .collect();
    // Other Remote Desktop rules (the "Remote Desktop (WebSocket)" group's TCP-WS/WSS, off by
    // default) are reported, not judged: RDP clients connect on 3389.
    let other: Vec<String> = others
        .iter()
        .map(|x| {
            format!(
                "{} [{}] {}",
                x.name,
                x.display_group
                    .as_deref()
                    .or(x.group.as_deref())
                    .unwrap_or("no group"),
                if x.enabled == "True" { "on" } else { "off" }
            )
        })
        .collect();
    let policy = r
        .policy_deny
        .map_or_else(String::new, |p| format!(" (policy {p})"));
    let mut actual = format!(
        "fDenyTSConnections {}{policy}, PortNumber {}, firewall rules enabled: {}",
        show(r.deny),
        show(r.port),
        if enabled.is_empty() {
            "none".to_string()
        } else {
            enabled.join(", ")
        }
    );
    if !other.is_empty() {
        actual.push_str(&format!(
            "; other Remote Desktop rules: {}",
            other.join(", ")
        ));
    }
    Ok(if problems.is_empty() {
        Verdict::new(
            Status::Pass,
            actual,
            REQUIRED,
            "Remote Desktop is enabled on port 3389 and allowed through the firewall.",
        )
    } else {
        Verdict::new(
            Status::Fail,
            actual,
            REQUIRED,
            format!("Remote Desktop is not reachable: {}.", problems.join("; ")),
        )
    })
}
