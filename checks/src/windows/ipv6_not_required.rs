//! TestID 1.1.7 `IPV6`: the image must not depend on IPv6, which the toolkit said Azure did not
//! support; a statically configured IPv6 address is the visible sign of such a dependency.

use serde::Deserialize;

use crate::evidence::Evidence;
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::windows::outputs;
use crate::{Check, Unevaluable};

/// No static (manually configured, not link-local) IPv6 address.
#[derive(Debug)]
pub struct Ipv6NotRequired;

static META: Meta = Meta {
    id: "ipv6-not-required",
    title: "No dependency on IPv6",
    test_id: Some("1.1.7"),
    test_case_name: Some("IPV6"),
    description: "IPv6 isn't yet supported in the Azure environment. The application shouldn't be \
                  dependent on this feature.",
    rationale: "Test case `IPV6` of Microsoft's certification test tool (research/cert-cases.md \
                section 3.1, S7); its TestID and pass criterion were not published (vmcert numbers \
                it 1.1.7). vmcert's reading: Azure hands out addresses by DHCP (IPv4, and DHCPv6 \
                where a virtual network has IPv6), so an address whose prefix or suffix origin is \
                Manual is configuration the image carries and Azure will not honour. Link-local \
                (fe80::/10), loopback and DHCP/router-advertised addresses are normal and pass; IPv6 \
                itself may stay enabled (Microsoft advises against disabling it).",
    remediation: "Remove static IPv6 addresses (Remove-NetIPAddress) and let the adapter use \
                  DHCP/router advertisements; make the application work over IPv4.",
    os: Os::Windows,
    severity: Severity::Medium,
    since: "0.1.0",
    inferred: true,
    outcomes: &[Status::Pass, Status::Warning, Status::Error],
    knobs: &[],
};

const REQUIRED: &str = "No static IPv6 address";

/// One `ipv6-addresses` row.
#[derive(Debug, Deserialize)]
struct Address {
    #[serde(rename = "InterfaceAlias")]
    interface: String,
    #[serde(rename = "IPAddress")]
    address: String,
    #[serde(rename = "PrefixOrigin")]
    prefix_origin: String,
    #[serde(rename = "SuffixOrigin")]
    suffix_origin: String,
}

impl Address {
    fn is_link_local_or_loopback(&self) -> bool {
        let a = self.address.to_ascii_lowercase();
        let Some(first) = a.split(':').next() else {
            return false;
        };
        // fe80::/10 is fe80..febf in the first group.
        let link_local = first.len() == 4
            && first.starts_with("fe")
            && matches!(first.as_bytes()[2], b'8' | b'9' | b'a' | b'b');
        link_local || a == "::1"
    }

    fn is_static(&self) -> bool {
        !self.is_link_local_or_loopback()
            && (self.prefix_origin == "Manual" || self.suffix_origin == "Manual")
    }
}

impl Check for Ipv6NotRequired {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &["ipv6-addresses"]
    }

    fn required(&self, _: &Evidence) -> String {
        REQUIRED.to_string()
    }

    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        evaluate(ev)
    }
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let rows: Vec<Address> = outputs::rows(ev, "ipv6-addresses")?;
    let statics: Vec<String> = rows
        .iter()
        .filter(|a| a.is_static())
        .map(|a| format!("{} ({})", a.address, a.interface))
        .collect();
    if !statics.is_empty() {
        return Ok(Verdict::new(
            Status::Warning,
            format!("Static IPv6: {}", statics.join(", ")),
            REQUIRED,
            "A manually configured IPv6 address is baked into the image; Azure assigns \
             addresses itself, so whatever relies on it will not work.",
        ));
    }
    let others: Vec<&str> = rows
        .iter()
        .filter(|a| !a.is_link_local_or_loopback())
        .map(|a| a.address.as_str())
        .collect();
    let message = if rows.is_empty() {
        "No IPv6 address is configured.".to_string()
    } else if others.is_empty() {
        format!(
            "Only link-local and loopback IPv6 addresses ({} in all).",
            rows.len()
        )
    } else {
        format!(
            "IPv6 addresses come from DHCP or router advertisements only: {}.",
            others.join(", ")
        )
    };
    Ok(Verdict::new(
        Status::Pass,
        "No static IPv6 address",
        REQUIRED,
        message,
    ))
}
