//! TestID 51 `Auto Update`: the Azure Linux Agent should be allowed to update its extension
//! handler, so VMs created from the image get agent fixes without a new image.

use crate::evidence::{ABSENT, Evidence};
use crate::linux::waagent_conf::{AUTO_UPDATE, Switch, UPDATE_TO_LATEST, WaagentConf};
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::{Check, Unevaluable};

/// `AutoUpdate.Enabled` in /etc/waagent.conf is not `n`.
#[derive(Debug)]
pub struct AgentAutoUpdate;

static META: Meta = Meta {
    id: "agent-auto-update",
    title: "Azure Linux Agent auto-update enabled",
    test_id: Some("51"),
    test_case_name: Some("Auto Update"),
    description: "Identifies if Linux Agent Auto Update is enabled or not.",
    rationale: "The self-test API passed `# AutoUpdate.Enabled=y` (a commented line), so the toolkit \
                accepted the agent's default, which is `y`; LISA (verify_waagent_version) likewise \
                treats anything but `n` as enabled. vmcert decides as the agent itself does \
                (WALinuxAgent `conf.py`, `get_auto_update_to_latest_version`): lines starting with \
                `#` are ignored, a value is cut at its first `#` (so `AutoUpdate.Enabled=n # note` \
                is n), the last setting wins, `AutoUpdate.UpdateToLatestVersion` set to y or n \
                overrides the deprecated `AutoUpdate.Enabled`, and when neither is y or n \
                auto-update is on.",
    remediation: "Set `AutoUpdate.Enabled=y` (and, if present, `AutoUpdate.UpdateToLatestVersion=y`) \
                  in /etc/waagent.conf, or remove the lines to get the default.",
    os: Os::Linux,
    severity: Severity::Medium,
    since: "0.1.0",
    inferred: false,
    outcomes: &[Status::Pass, Status::Warning, Status::Error],
    knobs: &[],
};

const PROBE: ProbeId = "waagent-conf";
const REQUIRED: &str = "Yes";

impl Check for AgentAutoUpdate {
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

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let Some(text) = ev.stdout_unless(PROBE, ABSENT)? else {
        return Ok(Verdict::new(
            Status::Warning,
            "no /etc/waagent.conf",
            REQUIRED,
            "/etc/waagent.conf does not exist, so the Azure Linux Agent is not installed (or not \
             configured); auto-update cannot be confirmed. Install the distribution's walinuxagent \
             package.",
        ));
    };
    let conf = WaagentConf::new(&text);
    let setting = conf.get(AUTO_UPDATE);
    let actual = match setting {
        Some(s) => s.line.to_string(),
        None => conf.commented(AUTO_UPDATE).map_or_else(
            || format!("{AUTO_UPDATE} not set (default y)"),
            str::to_string,
        ),
    };
    let latest = conf.get(UPDATE_TO_LATEST);
    let actual = match latest {
        Some(l) => format!("{actual}; {}", l.line),
        None => actual,
    };
    match (conf.switch(UPDATE_TO_LATEST), conf.switch(AUTO_UPDATE)) {
        (Switch::Off, _) => Ok(Verdict::new(
            Status::Warning,
            actual,
            REQUIRED,
            "AutoUpdate.UpdateToLatestVersion=n: the agent (which reads this setting before the \
             deprecated AutoUpdate.Enabled) keeps the agent it has and never downloads a newer one. \
             Set it to y or remove the line.",
        )),
        (Switch::On, enabled) => {
            let note = if enabled == Switch::Off {
                " (it overrides AutoUpdate.Enabled=n)"
            } else {
                ""
            };
            Ok(Verdict::new(
                Status::Pass,
                actual,
                REQUIRED,
                format!("AutoUpdate.UpdateToLatestVersion=y{note}: the agent updates itself."),
            ))
        }
        (Switch::Default, Switch::Off) => Ok(Verdict::new(
            Status::Warning,
            actual,
            REQUIRED,
            "AutoUpdate.Enabled=n (and no AutoUpdate.UpdateToLatestVersion=y): the agent keeps the \
             version shipped in the image and never updates it. Set AutoUpdate.Enabled=y in \
             /etc/waagent.conf unless the reviewer has agreed to pin the agent.",
        )),
        (Switch::Default, Switch::On) => Ok(Verdict::new(
            Status::Pass,
            actual,
            REQUIRED,
            "AutoUpdate.Enabled=y: the agent updates itself.",
        )),
        (Switch::Default, Switch::Default) => {
            let why = match setting {
                Some(s) => format!(
                    "AutoUpdate.Enabled has the value `{}`, which the agent does not recognise, so it \
                     uses its default",
                    s.value
                ),
                None => "AutoUpdate.Enabled is not set (a commented line does not count), so the \
                         agent uses its default"
                    .to_string(),
            };
            Ok(Verdict::new(
                Status::Pass,
                actual,
                REQUIRED,
                format!("{why}: y, auto-update on."),
            ))
        }
    }
}
