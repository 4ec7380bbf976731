//! TestID 51 `Auto Update`: the Azure Linux Agent should be allowed to update its extension
//! handler, so VMs created from the image get agent fixes without a new image.

use crate::evidence::{ABSENT, Evidence};
use crate::linux::waagent_conf::{AUTO_UPDATE, Switch, WaagentConf};
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
                accepted the agent's default, which is `y`; LISA likewise treats anything but `n` \
                as enabled. vmcert reads the file the way the agent does (lines starting with `#` \
                are ignored, the last setting wins, values other than y/n mean the default). Agents \
                2.10.0.8 and newer also honour AutoUpdate.UpdateToLatestVersion once they have \
                updated; `n` there stops updates too, so vmcert warns about it as well.",
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
const UPDATE_TO_LATEST: &str = "AutoUpdate.UpdateToLatestVersion";

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
    let latest_off = conf.switch(UPDATE_TO_LATEST) == Switch::Off;
    match conf.switch(AUTO_UPDATE) {
        Switch::Off => Ok(Verdict::new(
            Status::Warning,
            actual,
            REQUIRED,
            "AutoUpdate.Enabled=n: the agent keeps the extension handler shipped in the image and \
             never updates it. Set AutoUpdate.Enabled=y in /etc/waagent.conf unless the reviewer \
             has agreed to pin the agent.",
        )),
        _ if latest_off => Ok(Verdict::new(
            Status::Warning,
            actual,
            REQUIRED,
            "AutoUpdate.UpdateToLatestVersion=n: agents 2.10.0.8 and newer read this setting \
             instead of AutoUpdate.Enabled and will not update. Set it to y or remove the line.",
        )),
        Switch::On => Ok(Verdict::new(
            Status::Pass,
            actual,
            REQUIRED,
            "AutoUpdate.Enabled=y: the agent updates its extension handler.",
        )),
        Switch::Default => {
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
