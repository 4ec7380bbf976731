//! TestID 39 `Linux Agent Version`: Azure provisions the VM and runs extensions through the Azure
//! Linux Agent (waagent), and old agents are no longer supported.

use crate::evidence::{ABSENT, Evidence};
use crate::linux::waagent_conf::{WaagentConf, auto_update_enabled};
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::version::Version;
use crate::{Check, Unevaluable};

/// The installed Azure Linux Agent is recent enough (minimum by profile).
#[derive(Debug)]
pub struct LinuxAgentVersion;

static META: Meta = Meta {
    id: "linux-agent-version",
    title: "Azure Linux Agent version",
    test_id: Some("39"),
    test_case_name: Some("Linux Agent Version"),
    description: "Azure Linux Agent Version 2.2.41 and above should be installed.",
    rationale: "The toolkit required 2.2.10 (2018), then 2.2.41 (\"mandatory since May 1, 2020\"). \
                LISA today requires 2.2.53.1 unless AutoUpdate.Enabled is not `n`, because an agent \
                that may update itself replaces its extension handler at first boot. vmcert parses \
                `WALinuxAgent-<version>` (the daemon shipped with the image, the version Microsoft's \
                tools read) from `waagent --version` and compares it per dot component with the \
                profile's `agent_min`; under `current`, versions from `agent_auto_update_floor` up \
                to the minimum are a Warning when auto-update is on.",
    remediation: "Install the distribution's current Azure Linux Agent package (walinuxagent / \
                  WALinuxAgent / python-azure-agent) and keep AutoUpdate.Enabled=y in \
                  /etc/waagent.conf.",
    os: Os::Linux,
    severity: Severity::High,
    since: "0.1.0",
    inferred: false,
    outcomes: &[Status::Pass, Status::Warning, Status::Fail, Status::Error],
    knobs: &["agent_min", "agent_auto_update_floor"],
};

impl Check for LinuxAgentVersion {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &["waagent-version", "waagent-conf"]
    }

    fn required(&self, ev: &Evidence) -> String {
        ev.thresholds().agent_min.to_string()
    }

    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        evaluate(ev)
    }
}

/// What `waagent --version` printed.
#[derive(Debug, PartialEq, Eq)]
struct AgentVersion {
    /// `WALinuxAgent-<daemon>`.
    daemon: Version,
    /// `Goal state agent: <version>` (the extension handler actually running), when printed.
    goal_state: Option<String>,
}

/// Reads `WALinuxAgent-2.7.3.0 running on debian 12` and `Goal state agent: 2.7.3.0`.
fn parse(out: &str) -> Result<AgentVersion, Unevaluable> {
    let daemon = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("WALinuxAgent-"))
        .and_then(|rest| Version::parse(rest.split_whitespace().next().unwrap_or("")))
        .ok_or_else(|| {
            let first = out.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
            Unevaluable::new(format!(
                "`waagent --version` printed no `WALinuxAgent-<version>` line (first line: `{first}`)"
            ))
        })?;
    let goal_state = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("Goal state agent:"))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty());
    Ok(AgentVersion { daemon, goal_state })
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let t = ev.thresholds();
    let required = t.agent_min;
    let Some(out) = ev.stdout_unless("waagent-version", ABSENT)? else {
        return Ok(Verdict::new(
            Status::Fail,
            "not installed",
            required,
            "The Azure Linux Agent is not installed: neither `waagent`, /usr/sbin/waagent nor \
             `python3 /usr/sbin/waagent` exists. Install the distribution's walinuxagent package.",
        ));
    };
    let agent = parse(&out)?;
    let v = &agent.daemon;
    let actual = v.as_str().to_string();
    let goal = agent
        .goal_state
        .as_deref()
        .filter(|g| *g != v.as_str())
        .map(|g| format!(" (its extension handler already runs {g})"))
        .unwrap_or_default();
    let min = Version::parse(t.agent_min)
        .ok_or_else(|| Unevaluable::new("bad agent_min in the profile table"))?;
    if *v >= min {
        return Ok(Verdict::new(
            Status::Pass,
            actual,
            required,
            format!(
                "Azure Linux Agent {v} is installed; {required} or newer is required.",
                v = v.as_str()
            ),
        ));
    }
    let floor = t.agent_auto_update_floor.and_then(Version::parse);
    if let Some(floor) = floor.filter(|f| v >= f) {
        let conf_text = ev.stdout_unless("waagent-conf", ABSENT)?;
        let conf = conf_text.as_deref().map(WaagentConf::new);
        if auto_update_enabled(conf.as_ref()) {
            return Ok(Verdict::new(
                Status::Warning,
                actual,
                required,
                format!(
                    "Azure Linux Agent {v}{goal} is older than {required}, but at least {floor} with \
                     AutoUpdate.Enabled on, so it updates itself at first boot. Ship {required} or \
                     newer to avoid depending on that update.",
                    v = v.as_str(),
                    floor = floor.as_str()
                ),
            ));
        }
        return Ok(Verdict::new(
            Status::Fail,
            actual,
            required,
            format!(
                "Azure Linux Agent {v}{goal} is older than {required} and AutoUpdate.Enabled=n in \
                 /etc/waagent.conf, so it will not update itself. Install {required} or newer, or \
                 set AutoUpdate.Enabled=y.",
                v = v.as_str()
            ),
        ));
    }
    Ok(Verdict::new(
        Status::Fail,
        actual,
        required,
        format!(
            "Azure Linux Agent {v}{goal} is older than the required {required}. Install the \
             distribution's current walinuxagent package.",
            v = v.as_str()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering;

    #[test]
    fn parses_daemon_and_goal_state() {
        let a = parse("WALinuxAgent-2.2.20 running on ubuntu 16.04\nPython: 3.5.2\nGoal state agent: 2.2.26\n").unwrap();
        assert_eq!(a.daemon.as_str(), "2.2.20");
        assert_eq!(a.goal_state.as_deref(), Some("2.2.26"));
    }

    #[test]
    fn compares_per_component() {
        let v = |s| Version::parse(s).unwrap();
        assert_eq!(v("2.2.53").cmp(&v("2.2.53.1")), Ordering::Less);
        assert_eq!(v("2.2.100").cmp(&v("2.2.53.1")), Ordering::Greater);
        assert_eq!(v("2.10.0.8").cmp(&v("2.2.53.1")), Ordering::Greater);
    }

    #[test]
    fn traceback_is_unevaluable() {
        let err = parse("Traceback (most recent call last):\n  File \"/usr/sbin/waagent\"\n")
            .unwrap_err();
        assert!(err.0.contains("Traceback"), "{}", err.0);
    }
}
