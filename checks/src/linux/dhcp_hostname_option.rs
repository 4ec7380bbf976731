//! LISA's verify_dhcp_file_configuration (priority 1): the DHCP client must handle the host name
//! the way Azure expects, or a VM's name changes behind the platform's back.

use crate::evidence::Evidence;
use crate::linux::config_files::{section, sections, shell_vars};
use crate::linux::family::Family;
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::{Check, Unevaluable};

/// SUSE: `DHCLIENT_SET_HOSTNAME="no"`; Azure Linux 3+: dhcpcd requests the host name option.
#[derive(Debug)]
pub struct DhcpHostnameOption;

static META: Meta = Meta {
    id: "dhcp-hostname-option",
    title: "DHCP host name option as Azure expects",
    test_id: None,
    test_case_name: None,
    description: "SUSE: /etc/sysconfig/network/dhcp has DHCLIENT_SET_HOSTNAME=\"no\". Azure Linux \
                  3: /etc/dhcpcd.conf requests the host_name option; CBL-Mariner: \
                  /etc/dhcp/dhclient.conf handles host-name.",
    rationale: "Microsoft's LISA suite (azure_image_standard, verify_dhcp_file_configuration, \
                priority 1) fails a SUSE image whose DHCP client may overwrite the host name \
                (generic SLES media ship DHCLIENT_SET_HOSTNAME=\"yes\"; Microsoft's SLES \
                preparation guide sets \"no\", because the Azure agent publishes the name the \
                user chose), an Azure Linux 3 image whose /etc/dhcpcd.conf does not request \
                `option host_name`, and a CBL-Mariner image whose /etc/dhcp/dhclient.conf never \
                mentions host-name. vmcert reads the same files (shell-style values, quotes \
                optional, the last assignment wins; comments ignored). Every other family: \
                NotApplicable, as in LISA.",
    remediation: "SUSE: set `DHCLIENT_SET_HOSTNAME=\"no\"` in /etc/sysconfig/network/dhcp. Azure \
                  Linux: keep `option host_name` in /etc/dhcpcd.conf as the distribution ships it.",
    os: Os::Linux,
    severity: Severity::Medium,
    since: "0.2.0",
    inferred: false,
    outcomes: &[
        Status::Pass,
        Status::Fail,
        Status::NotApplicable,
        Status::Error,
    ],
    knobs: &[],
};

const PROBE: ProbeId = "dhcp-config";
const SUSE_DHCP: &str = "/etc/sysconfig/network/dhcp";
const DHCPCD: &str = "/etc/dhcpcd.conf";
const DHCLIENT: &str = "/etc/dhcp/dhclient.conf";

impl Check for DhcpHostnameOption {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &["os-release", PROBE]
    }

    fn required(&self, _: &Evidence) -> String {
        "SUSE: DHCLIENT_SET_HOSTNAME=\"no\"; Azure Linux: the DHCP client requests host_name"
            .to_string()
    }

    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        evaluate(ev)
    }
}

/// An active `option a, b, host_name` line of dhcpcd.conf.
fn dhcpcd_requests_host_name(lines: &[&str]) -> bool {
    lines.iter().any(|l| {
        let l = l.split('#').next().unwrap_or("").trim();
        l.strip_prefix("option")
            .filter(|r| r.starts_with(char::is_whitespace))
            .is_some_and(|r| {
                r.split(|c: char| c == ',' || c.is_whitespace())
                    .any(|w| w == "host_name")
            })
    })
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let family = Family::from_evidence(ev)?;
    if family.is_suse() {
        let required = "DHCLIENT_SET_HOSTNAME=\"no\"";
        let secs_text = ev.stdout(PROBE)?;
        let secs = sections(&secs_text);
        let value = section(&secs, SUSE_DHCP)
            .map(|lines| shell_vars(lines.iter().copied()).remove("DHCLIENT_SET_HOSTNAME"));
        return Ok(match value {
            Some(Some(v)) if v == "no" => Verdict::new(
                Status::Pass,
                "DHCLIENT_SET_HOSTNAME=\"no\"",
                required,
                format!(
                    "{}: the DHCP client leaves the host name alone.",
                    family.pretty
                ),
            ),
            Some(v) => {
                let actual = v.map_or_else(
                    || "DHCLIENT_SET_HOSTNAME not set".to_string(),
                    |v| format!("DHCLIENT_SET_HOSTNAME=\"{v}\""),
                );
                Verdict::new(
                    Status::Fail,
                    actual.clone(),
                    required,
                    format!(
                        "{}: {actual} in {SUSE_DHCP}, so the DHCP client may replace the host \
                         name Azure gave the VM. Set DHCLIENT_SET_HOSTNAME=\"no\".",
                        family.pretty
                    ),
                )
            }
            None => Verdict::new(
                Status::Fail,
                format!("no {SUSE_DHCP}"),
                required,
                format!(
                    "{}: {SUSE_DHCP} does not exist; write it with DHCLIENT_SET_HOSTNAME=\"no\".",
                    family.pretty
                ),
            ),
        });
    }
    if family.is_azure_linux() && family.major != Some(3) {
        // LISA: CBL-Mariner (and any Azure Linux but 3) uses dhclient, whose configuration must
        // mention host-name.
        let required = "host-name in /etc/dhcp/dhclient.conf";
        let text = ev.stdout(PROBE)?;
        let secs = sections(&text);
        let ok = section(&secs, DHCLIENT).map(|lines| {
            lines.iter().any(|l| {
                let l = l.split('#').next().unwrap_or("");
                l.contains("host-name")
            })
        });
        return Ok(match ok {
            Some(true) => Verdict::new(
                Status::Pass,
                "host-name",
                required,
                format!("{}: dhclient handles the host-name option.", family.pretty),
            ),
            Some(false) => Verdict::new(
                Status::Fail,
                "no host-name",
                required,
                format!(
                    "{}: {DHCLIENT} never mentions host-name; restore the distribution's setting.",
                    family.pretty
                ),
            ),
            None => Verdict::new(
                Status::Fail,
                format!("no {DHCLIENT}"),
                required,
                format!("{}: {DHCLIENT} does not exist.", family.pretty),
            ),
        });
    }
    if family.is_azure_linux() {
        let required = "option host_name in /etc/dhcpcd.conf";
        let text = ev.stdout(PROBE)?;
        let secs = sections(&text);
        return Ok(match section(&secs, DHCPCD) {
            Some(lines) if dhcpcd_requests_host_name(lines) => Verdict::new(
                Status::Pass,
                "option host_name",
                required,
                format!("{}: dhcpcd requests the host_name option.", family.pretty),
            ),
            Some(_) => Verdict::new(
                Status::Fail,
                "no option host_name",
                required,
                format!(
                    "{}: {DHCPCD} has no active `option host_name` line; restore the \
                     distribution's setting.",
                    family.pretty
                ),
            ),
            None => Verdict::new(
                Status::Fail,
                format!("no {DHCPCD}"),
                required,
                format!("{}: {DHCPCD} does not exist.", family.pretty),
            ),
        });
    }
    Ok(Verdict::new(
        Status::NotApplicable,
        family.pretty.clone(),
        "SUSE or Azure Linux",
        format!(
            "{}: LISA checks the DHCP host name option only on SUSE and Azure Linux.",
            family.pretty
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dhcpcd_option_lines() {
        assert!(dhcpcd_requests_host_name(&[
            "option domain_name_servers, domain_name, domain_search, host_name"
        ]));
        assert!(!dhcpcd_requests_host_name(&["#option host_name"]));
        assert!(!dhcpcd_requests_host_name(&["options host_name"]));
        assert!(!dhcpcd_requests_host_name(&["option ntp_servers"]));
    }
}
