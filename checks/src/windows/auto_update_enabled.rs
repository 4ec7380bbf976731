//! Automatic Updates are not switched off by policy: Marketplace images should keep installing
//! security updates after deployment.

use serde::Deserialize;

use crate::evidence::Evidence;
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::windows::outputs;
use crate::{Check, Unevaluable};

/// The Windows Update policy value NoAutoUpdate is not 1.
#[derive(Debug)]
pub struct AutoUpdateEnabled;

static META: Meta = Meta {
    id: "auto-update-enabled",
    title: "Automatic Updates not disabled",
    test_id: None,
    test_case_name: None,
    description: "Automatic Updates are not turned off by the Windows Update policy.",
    rationale: "Microsoft's Marketplace security guidance asks for security updates set to \
                update automatically (research/cert-cases.md section 3.2, S17). The registry \
                values are vmcert's reading: \
                HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows\\WindowsUpdate\\AU NoAutoUpdate = 1 \
                (the \"Configure Automatic Updates\" policy set to Disabled) warns; AUOptions is \
                reported. Azure itself writes NoAutoUpdate when it deploys a VM, by the VM's \
                patch mode: 1 for AutomaticByPlatform and Manual, 0 for AutomaticByOS \
                (azure-docs, automatic VM guest patching), so on a test VM the value judges the \
                deployment unless it was deployed with AutomaticByOS. The deployment's patch \
                mode is reported: AutomaticByPlatform when Azure's WindowsPatchExtension is on \
                the VM.",
    remediation: "Deploy the test VM with patch mode AutomaticByOS (az vm create \
                  --patch-mode AutomaticByOS) so that Azure writes NoAutoUpdate 0 and the value \
                  judges the image. If it is still 1, remove the NoAutoUpdate policy value (or \
                  set the Configure Automatic Updates policy to Enabled), then generalize and \
                  capture the image again.",
    os: Os::Windows,
    severity: Severity::Medium,
    since: "0.1.0",
    inferred: true,
    outcomes: &[Status::Pass, Status::Warning, Status::Error],
    knobs: &[],
};

const REQUIRED: &str = "NoAutoUpdate not set to 1";

/// `auto-update-policy`.
#[derive(Debug, Deserialize)]
struct AutoUpdatePolicy {
    #[serde(rename = "KeyExists")]
    key_exists: bool,
    #[serde(rename = "NoAutoUpdate", default)]
    no_auto_update: Option<i64>,
    #[serde(rename = "AUOptions", default)]
    au_options: Option<i64>,
    /// Azure's WindowsPatchExtension is on the VM (absent from older probes).
    #[serde(rename = "PatchExtension", default)]
    patch_extension: Option<bool>,
}

/// The deployment's patch mode as the evidence shows it.
fn patch_mode(p: &AutoUpdatePolicy) -> &'static str {
    match (p.no_auto_update, p.patch_extension) {
        (_, Some(true)) => "AutomaticByPlatform (Azure's WindowsPatchExtension is on the VM)",
        (Some(1), Some(false)) => "Manual, or the image's own policy (no WindowsPatchExtension)",
        (Some(0), _) => "AutomaticByOS, or the image's own policy",
        _ => "unknown",
    }
}

impl Check for AutoUpdateEnabled {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &["auto-update-policy"]
    }

    fn required(&self, _: &Evidence) -> String {
        REQUIRED.to_string()
    }

    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        evaluate(ev)
    }
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let p: AutoUpdatePolicy = outputs::document(ev, "auto-update-policy")?;
    if !p.key_exists {
        return Ok(Verdict::new(
            Status::Pass,
            "No Windows Update policy",
            REQUIRED,
            "No Automatic Updates policy is set; Windows uses its defaults.",
        ));
    }
    let show = |v: Option<i64>| v.map_or_else(|| "not set".to_string(), |n| n.to_string());
    let actual = format!(
        "NoAutoUpdate {}, AUOptions {}; patch mode: {}",
        show(p.no_auto_update),
        show(p.au_options),
        patch_mode(&p)
    );
    Ok(if p.no_auto_update == Some(1) {
        Verdict::new(
            Status::Warning,
            actual,
            REQUIRED,
            "NoAutoUpdate = 1 turns Automatic Updates off. Azure writes this value itself when \
             it deploys a VM with patch mode AutomaticByPlatform or Manual (and 0 for \
             AutomaticByOS), so it may judge this test VM's deployment rather than the image: \
             deploy the test VM with patch mode AutomaticByOS and run again. If it is still 1, \
             the image's policy turns updates off and VMs from it will not install security \
             updates by themselves.",
        )
    } else {
        Verdict::new(
            Status::Pass,
            actual,
            REQUIRED,
            "The Windows Update policy leaves Automatic Updates on.",
        )
    })
}
