//! LISA's verify_network_file_configuration and verify_ifcfg_eth0 (priority 1): the network
//! files a RHEL-family or Azure Linux VM needs to bring eth0 up with DHCP on Azure.

use crate::evidence::Evidence;
use crate::linux::config_files::{section, sections, shell_vars};
use crate::linux::family::{Distro, Family};
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::{Check, Unevaluable};

/// The family's network configuration files say: eth0, DHCP, on at boot.
#[derive(Debug)]
pub struct NetworkConfigFiles;

static META: Meta = Meta {
    id: "network-config-files",
    title: "Network configuration files for Azure",
    test_id: None,
    test_case_name: None,
    description: "RHEL family: /etc/sysconfig/network has NETWORKING=yes and ifcfg-eth0 has \
                  DEVICE=eth0, BOOTPROTO=dhcp, ONBOOT=yes; Fedora 39+ and RHEL 10+: an eth0 \
                  NetworkManager profile; Azure Linux: /etc/systemd/networkd.conf exists.",
    rationale: "Microsoft's LISA suite (azure_image_standard, verify_network_file_configuration \
                and verify_ifcfg_eth0, priority 1) fails a Fedora-family image (RHEL, AlmaLinux, \
                Rocky, Oracle, CentOS) whose /etc/sysconfig/network lacks NETWORKING=yes or whose \
                /etc/sysconfig/network-scripts/ifcfg-eth0 is missing or lacks DEVICE=eth0, \
                BOOTPROTO=dhcp and ONBOOT=yes (Microsoft's RHEL preparation guide writes exactly \
                these files); Fedora 39 and newer must instead have eth0 under a NetworkManager \
                connection, and Azure Linux must have /etc/systemd/networkd.conf. RHEL 10 and its \
                rebuilds dropped ifcfg files (Fedora 40 lineage), so vmcert applies the \
                NetworkManager rule to them (LISA compares their version with Fedora's 39 and \
                would demand ifcfg files that RHEL 10 cannot use). NetworkManager keyfiles are \
                read on the VM down to their id, type, interface-name and autoconnect lines, so \
                no Wi-Fi or VPN secret leaves it. Other families: NotApplicable.",
    remediation: "RHEL 7-9 family: write /etc/sysconfig/network with `NETWORKING=yes` and \
                  /etc/sysconfig/network-scripts/ifcfg-eth0 with `DEVICE=eth0`, `ONBOOT=yes`, \
                  `BOOTPROTO=dhcp`, `TYPE=Ethernet`, `USERCTL=no`, `PEERDNS=yes`, `IPV6INIT=no` \
                  (Microsoft's RHEL preparation guide). Fedora 39+/RHEL 10: a NetworkManager \
                  profile for eth0 with DHCP. Azure Linux: keep the distribution's \
                  /etc/systemd/networkd.conf.",
    os: Os::Linux,
    severity: Severity::High,
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

const PROBE: ProbeId = "network-config";
const NETWORK: &str = "/etc/sysconfig/network";
const IFCFG: &str = "/etc/sysconfig/network-scripts/ifcfg-eth0";
const NETWORKD: &str = "/etc/systemd/networkd.conf";

impl Check for NetworkConfigFiles {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &["os-release", PROBE]
    }

    fn required(&self, _: &Evidence) -> String {
        "RHEL family: NETWORKING=yes and ifcfg-eth0 DEVICE=eth0 BOOTPROTO=dhcp ONBOOT=yes (Fedora 39+, EL10: an eth0 NetworkManager profile); Azure Linux: networkd.conf".to_string()
    }

    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        evaluate(ev)
    }
}

/// Which rule applies to a family.
enum Rule {
    Sysconfig,
    NetworkManager,
    Networkd,
}

fn rule_for(f: &Family) -> Option<Rule> {
    if f.is_azure_linux() {
        return Some(Rule::Networkd);
    }
    if !f.is_rhel() {
        return None;
    }
    let nm = match f.distro {
        Distro::Fedora => f.major.is_some_and(|m| m >= 39),
        _ => f.major.is_some_and(|m| (10..39).contains(&m)),
    };
    Some(if nm {
        Rule::NetworkManager
    } else {
        Rule::Sysconfig
    })
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let family = Family::from_evidence(ev)?;
    let Some(rule) = rule_for(&family) else {
        return Ok(Verdict::new(
            Status::NotApplicable,
            family.pretty.clone(),
            "RHEL family or Azure Linux",
            format!(
                "{} is neither of the RHEL family nor Azure Linux: LISA checks no network files \
                 on it.",
                family.pretty
            ),
        ));
    };
    let text = ev.stdout(PROBE)?;
    let secs = sections(&text);
    match rule {
        Rule::Networkd => {
            let required = "/etc/systemd/networkd.conf present";
            Ok(if section(&secs, NETWORKD).is_some() {
                Verdict::new(
                    Status::Pass,
                    "networkd.conf present",
                    required,
                    format!("{} has /etc/systemd/networkd.conf.", family.pretty),
                )
            } else {
                Verdict::new(
                    Status::Fail,
                    "no networkd.conf",
                    required,
                    format!(
                        "{} has no /etc/systemd/networkd.conf, which LISA requires on Azure \
                         Linux (systemd-networkd configures its network).",
                        family.pretty
                    ),
                )
            })
        }
        Rule::NetworkManager => {
            let required = "eth0 in a NetworkManager connection";
            let nmcli_eth0 = section(&secs, "nmcli").is_some_and(|lines| {
                lines.iter().any(|l| {
                    let f: Vec<&str> = l.split(':').collect();
                    f.first() == Some(&"eth0")
                        && f.get(2).is_some_and(|s| s.starts_with("connected"))
                })
            });
            let keyfile = secs.iter().find(|(name, lines)| {
                name.contains("/NetworkManager/system-connections/")
                    && (name.ends_with("/eth0.nmconnection")
                        || name.ends_with("/cloud-init-eth0.nmconnection")
                        || lines
                            .iter()
                            .any(|l| l.trim().strip_prefix("interface-name=") == Some("eth0")))
            });
            if nmcli_eth0 || keyfile.is_some() {
                let how = keyfile.map_or_else(
                    || "nmcli shows eth0 connected".to_string(),
                    |(name, _)| format!("{name} names interface eth0"),
                );
                return Ok(Verdict::new(
                    Status::Pass,
                    how.clone(),
                    required,
                    format!("{}: {how}.", family.pretty),
                ));
            }
            Ok(Verdict::new(
                Status::Fail,
                "no eth0 NetworkManager connection",
                required,
                format!(
                    "{} configures its network with NetworkManager, but no connection profile \
                     names eth0 and nmcli does not show eth0 connected. Add a DHCP profile for \
                     eth0.",
                    family.pretty
                ),
            ))
        }
        Rule::Sysconfig => {
            let required = "NETWORKING=yes; ifcfg-eth0 DEVICE=eth0 BOOTPROTO=dhcp ONBOOT=yes";
            let mut problems = Vec::new();
            match section(&secs, NETWORK) {
                None => problems.push(format!("{NETWORK} is missing")),
                Some(lines) => {
                    let v = shell_vars(lines.iter().copied());
                    if !v
                        .get("NETWORKING")
                        .is_some_and(|x| x.eq_ignore_ascii_case("yes"))
                    {
                        problems.push(format!("{NETWORK} lacks NETWORKING=yes"));
                    }
                }
            }
            match section(&secs, IFCFG) {
                None => problems.push(format!("{IFCFG} is missing")),
                Some(lines) => {
                    let v = shell_vars(lines.iter().copied());
                    for (key, want) in
                        [("DEVICE", "eth0"), ("BOOTPROTO", "dhcp"), ("ONBOOT", "yes")]
                    {
                        match v.get(key) {
                            Some(x) if x.eq_ignore_ascii_case(want) => {}
                            Some(x) => {
                                problems.push(format!("ifcfg-eth0 has {key}={x}, not {want}"))
                            }
                            None => problems.push(format!("ifcfg-eth0 lacks {key}={want}")),
                        }
                    }
                }
            }
            if problems.is_empty() {
                return Ok(Verdict::new(
                    Status::Pass,
                    "NETWORKING=yes; eth0 dhcp onboot",
                    required,
                    format!(
                        "{} has NETWORKING=yes and ifcfg-eth0 with DEVICE=eth0, BOOTPROTO=dhcp, \
                         ONBOOT=yes.",
                        family.pretty
                    ),
                ));
            }
            Ok(Verdict::new(
                Status::Fail,
                problems.join("; "),
                required,
                format!(
                    "{}: {}. LISA requires these files on the RHEL family so eth0 comes up with \
                     DHCP on Azure.",
                    family.pretty,
                    problems.join("; ")
                ),
            ))
        }
    }
}
