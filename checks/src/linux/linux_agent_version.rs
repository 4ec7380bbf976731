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
                LISA (verify_waagent_version, priority 1) requires 2.2.53.1 unless auto-update is \
                on, because an agent that may update itself replaces itself with the newest agent \
                at first boot: any daemon version then passes. vmcert parses \
                `WALinuxAgent-<version>` (the daemon shipped with the image, the version \
                Microsoft's tools read) from `waagent --version`, compares it per dot component \
                with the profile's `agent_min`, and decides auto-update as the agent does (see \
                agent-auto-update: AutoUpdate.UpdateToLatestVersion overrides AutoUpdate.Enabled, \
                neither set means on). Under `current` (`agent_auto_update_waives_min`) an older \
                daemon passes with auto-update on; with it off it fails. The report also names the \
                newest goal-state agent the daemon already downloaded (the WALinuxAgent-x.y.z \
                directories under /var/lib/waagent).",
    remediation: "Install the distribution's current Azure Linux Agent package (walinuxagent / \
                  WALinuxAgent / python-azure-agent) and keep AutoUpdate.Enabled=y in \
                  /etc/waagent.conf.",
    os: Os::Linux,
    severity: Severity::High,
    since: "0.1.0",
    inferred: false,
    outcomes: &[Status::Pass, Status::Fail, Status::Error],
    knobs: &["agent_min", "agent_auto_update_waives_min"],
};

impl Check for LinuxAgentVersion {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &[
            "waagent-version",
            "waagent-conf",
            "waagent-goal-state-agents",
        ]
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

/// The newest `WALinuxAgent-x.y.z` directory the goal-state probe listed, or why there is none.
fn newest_goal_state_agent(ev: &Evidence) -> String {
    match ev.stdout_unless(GOAL_STATE, ABSENT) {
        Ok(None) => "no /var/lib/waagent".to_string(),
        Ok(Some(out)) => out
            .lines()
            .filter_map(|l| l.trim().strip_prefix("WALinuxAgent-"))
            .filter_map(Version::parse)
            .max()
            .map_or_else(
                || "no goal-state agent under /var/lib/waagent".to_string(),
                |v| format!("goal-state agent {}", v.as_str()),
            ),
        // Informative only: a listing that could not be made never decides the verdict.
        Err(e) => format!("goal-state agents not listed: {e}"),
    }
}

const GOAL_STATE: ProbeId = "waagent-goal-state-agents";

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
    let goal_state = newest_goal_state_agent(ev);
    let actual = format!("{} (daemon; {goal_state})", v.as_str());
    let running = agent
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
    let conf_text = ev.stdout_unless("waagent-conf", ABSENT)?;
    let conf = conf_text.as_deref().map(WaagentConf::new);
    let auto_update = auto_update_enabled(conf.as_ref());
    if auto_update && t.agent_auto_update_waives_min {
        return Ok(Verdict::new(
            Status::Pass,
            actual,
            required,
            format!(
                "Azure Linux Agent {v}{running} is older than {required}, but auto-update is on, so \
                 it replaces itself with the newest agent at first boot (LISA passes any version \
                 then).",
                v = v.as_str()
            ),
        ));
    }
    let why = if auto_update {
        "the profile does not accept auto-update instead".to_string()
    } else {
        "auto-update is off in /etc/waagent.conf (AutoUpdate.UpdateToLatestVersion or \
         AutoUpdate.Enabled is n), so it will not update itself"
            .to_string()
    };
    Ok(Verdict::new(
        Status::Fail,
        actual,
        required,
        format!(
            "Azure Linux Agent {v}{running} is older than the required {required} and {why}. Install \
             the distribution's current walinuxagent package, or turn auto-update on.",
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
