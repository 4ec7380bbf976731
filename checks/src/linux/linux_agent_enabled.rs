//! The Azure Linux Agent must start at boot: an installed but disabled agent never reports the VM
//! as provisioned, and the deployment times out (a failure seen in Partner Center reports).

use crate::evidence::{ABSENT, Evidence};
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::{Check, Unevaluable};

/// The agent's systemd unit (walinuxagent.service or waagent.service) is enabled.
#[derive(Debug)]
pub struct LinuxAgentEnabled;

static META: Meta = Meta {
    id: "linux-agent-enabled",
    title: "Azure Linux Agent enabled at boot",
    test_id: None,
    test_case_name: None,
    description: "The Azure Linux Agent service is enabled so it starts at boot.",
    rationale: "Azure considers a VM provisioned only when the agent (or cloud-init) reports ready; \
                images with waagent installed but not enabled were rejected (bitwarden/self-host \
                #504). Debian and Ubuntu name the unit walinuxagent.service, RHEL and SUSE \
                waagent.service; vmcert asks `systemctl is-enabled` for both.",
    remediation: "Enable the unit: `systemctl enable walinuxagent` (Debian, Ubuntu) or \
                  `systemctl enable waagent` (RHEL, SUSE, others); unmask it first if it is masked.",
    os: Os::Linux,
    severity: Severity::High,
    since: "0.1.0",
    inferred: false,
    outcomes: &[Status::Pass, Status::Warning, Status::Fail, Status::Error],
    knobs: &[],
};

const PROBE: ProbeId = "waagent-enabled";
const REQUIRED: &str = "enabled";

impl Check for LinuxAgentEnabled {
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

/// The units the probe asks about, in its order.
const UNITS: [&str; 2] = ["walinuxagent.service", "waagent.service"];

/// `systemctl is-enabled` of one unit.
#[derive(Debug, PartialEq, Eq)]
struct UnitState<'a> {
    unit: &'a str,
    /// The state word (`enabled`, `disabled`, `masked`, ...), or `None` when the unit does not exist.
    state: Option<&'a str>,
    /// systemd answered for a SysV init script (`... is not a native service, redirecting to
    /// systemd-sysv-install`).
    sysv: bool,
}

/// Parses the probe's records. Each starts with `<unit>: ` and holds everything systemctl
/// printed; the state is the last line (for a SysV script systemctl first prints two lines about
/// redirecting to systemd-sysv-install). "Failed to get unit file state ... No such file or
/// directory" (and newer systemd's `not-found`) mean the unit does not exist.
fn parse(out: &str) -> Result<Vec<UnitState<'_>>, Unevaluable> {
    let mut records: Vec<(&str, Vec<&str>)> = Vec::new();
    for line in out.lines().filter(|l| !l.trim().is_empty()) {
        let start = UNITS.iter().find_map(|u| {
            line.strip_prefix(u)
                .and_then(|r| r.strip_prefix(": "))
                .map(|r| (*u, r))
        });
        match (start, records.last_mut()) {
            (Some((unit, rest)), _) => records.push((unit, vec![rest])),
            (None, Some((_, lines))) => lines.push(line),
            (None, None) => {
                return Err(Unevaluable::new(format!(
                    "unexpected line from systemctl: `{line}`"
                )));
            }
        }
    }
    if records.is_empty() {
        return Err(Unevaluable::new("`systemctl is-enabled` printed nothing"));
    }
    Ok(records
        .into_iter()
        .map(|(unit, lines)| {
            let last = lines.last().map_or("", |l| l.trim());
            let state = if last == "not-found" || last.contains("No such file or directory") {
                None
            } else {
                Some(last)
            };
            let sysv = lines
                .iter()
                .any(|l| l.contains("redirecting to systemd-sysv-install"));
            UnitState { unit, state, sysv }
        })
        .collect())
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let Some(out) = ev.stdout_unless(PROBE, ABSENT)? else {
        return Ok(Verdict::new(
            Status::Warning,
            "no systemctl",
            REQUIRED,
            "systemctl was not found, so this is not a systemd system and vmcert cannot tell \
             whether the agent starts at boot. Make sure the init system starts `waagent -daemon`.",
        ));
    };
    let units = parse(&out)?;
    let actual = units
        .iter()
        .map(|u| {
            let sysv = if u.sysv { " (SysV script)" } else { "" };
            format!("{}={}{sysv}", u.unit, u.state.unwrap_or("not found"))
        })
        .collect::<Vec<_>>()
        .join(", ");
    if let Some(u) = units.iter().find(|u| u.state == Some("enabled")) {
        return Ok(Verdict::new(
            Status::Pass,
            actual,
            REQUIRED,
            format!("{} is enabled; the agent starts at boot.", u.unit),
        ));
    }
    if let Some(u) = units
        .iter()
        .find(|u| matches!(u.state, Some("disabled" | "masked" | "masked-runtime")))
    {
        let state = u.state.unwrap_or_default();
        let fix = if state.starts_with("masked") {
            format!("`systemctl unmask {0} && systemctl enable {0}`", u.unit)
        } else {
            format!("`systemctl enable {}`", u.unit)
        };
        let what = if u.sysv {
            format!(
                "{} (a SysV init script: there is no systemd unit file)",
                u.unit
            )
        } else {
            u.unit.to_string()
        };
        return Ok(Verdict::new(
            Status::Fail,
            actual,
            REQUIRED,
            format!(
                "{what} is {state}: the agent will not start at boot and the VM will never report \
                 ready. Run {fix} before capturing the image."
            ),
        ));
    }
    if units.iter().all(|u| u.state.is_none()) {
        return Ok(Verdict::new(
            Status::Fail,
            actual,
            REQUIRED,
            "Neither walinuxagent.service nor waagent.service exists: the Azure Linux Agent is not \
             installed as a service. Install the distribution's walinuxagent package.",
        ));
    }
    let found = units
        .iter()
        .filter_map(|u| u.state.map(|s| format!("{} is `{s}`", u.unit)))
        .collect::<Vec<_>>()
        .join(", ");
    Ok(Verdict::new(
        Status::Warning,
        actual,
        REQUIRED,
        format!(
            "{found}: not `enabled`, so it starts at boot only if another unit pulls it in. Enable \
             it explicitly with `systemctl enable`."
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_unit_has_no_state() {
        let units = parse(
            "walinuxagent.service: enabled\nwaagent.service: Failed to get unit file state for waagent.service: No such file or directory\n",
        )
        .unwrap();
        assert_eq!(units[0].state, Some("enabled"));
        assert_eq!(units[1].state, None);
    }

    #[test]
    fn sysv_redirect_takes_the_last_line() {
        let units = parse(
            "walinuxagent.service: walinuxagent.service is not a native service, redirecting to systemd-sysv-install.\nExecuting: /lib/systemd/systemd-sysv-install is-enabled walinuxagent\ndisabled\nwaagent.service: not-found\n",
        )
        .unwrap();
        assert_eq!(units[0].state, Some("disabled"));
        assert!(units[0].sysv);
        assert_eq!(units[1].state, None);
    }

    #[test]
    fn garbage_is_unevaluable() {
        assert!(parse("\n").is_err());
        assert!(parse("Failed to connect to bus\n").is_err());
    }
}
