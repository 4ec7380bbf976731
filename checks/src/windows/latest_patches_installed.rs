//! All current Critical and Important updates are installed: the Windows Update Agent's own
//! search for applicable, not installed, not hidden software updates finds none of them.

use serde::Deserialize;

use crate::evidence::Evidence;
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::windows::outputs::{self, JsonDate, List};
use crate::{Check, Unevaluable};

/// No pending Critical or Important update.
#[derive(Debug)]
pub struct LatestPatchesInstalled;

static META: Meta = Meta {
    id: "latest-patches-installed",
    title: "Latest security updates installed",
    test_id: None,
    test_case_name: None,
    description: "All current Critical and Important Windows updates are installed.",
    rationale: "Azure requires images to carry the latest Critical and Important updates \
                (research/cert-cases.md section 3.2, S1/S15/S17). vmcert asks the Windows Update \
                Agent on the VM (Microsoft.Update.Session, search `IsInstalled=0 and \
                Type='Software' and IsHidden=0`) and fails on any result whose MsrcSeverity is \
                Critical or Important, listing the KBs; other pending updates are mentioned but \
                pass. When the search cannot run (no route to Windows Update or WSUS), the newest \
                Get-HotFix date is reported as a Warning for a human to judge.",
    remediation: "Install the pending updates (Windows Update or `sconfig`), restart, and \
                  generalize and capture the image again.",
    os: Os::Windows,
    severity: Severity::High,
    since: "0.1.0",
    inferred: false,
    outcomes: &[Status::Pass, Status::Warning, Status::Fail, Status::Error],
    knobs: &[],
};

const REQUIRED: &str = "No pending Critical or Important update";

/// `pending-updates`.
#[derive(Debug, Deserialize)]
struct PendingUpdates {
    #[serde(rename = "SearchSucceeded")]
    search_succeeded: bool,
    #[serde(rename = "Updates", default)]
    updates: List<Update>,
    #[serde(rename = "SearchError", default)]
    search_error: Option<String>,
    #[serde(rename = "NewestHotFixID", default)]
    newest_hotfix: Option<String>,
    #[serde(rename = "NewestHotFixInstalledOn", default)]
    newest_installed_on: Option<JsonDate>,
}

/// One update the search found.
#[derive(Debug, Deserialize)]
struct Update {
    #[serde(rename = "Title")]
    title: String,
    #[serde(rename = "MsrcSeverity", default)]
    severity: Option<String>,
    #[serde(rename = "KBArticleIDs", default)]
    kbs: List<String>,
}

impl Update {
    fn is_critical_or_important(&self) -> bool {
        matches!(self.severity.as_deref(), Some("Critical" | "Important"))
    }

    fn label(&self) -> String {
        if self.kbs.0.is_empty() {
            self.title.clone()
        } else {
            self.kbs
                .0
                .iter()
                .map(|k| format!("KB{}", k.trim_start_matches("KB")))
                .collect::<Vec<_>>()
                .join("/")
        }
    }
}

impl Check for LatestPatchesInstalled {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &["pending-updates"]
    }

    fn required(&self, _: &Evidence) -> String {
        REQUIRED.to_string()
    }

    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        evaluate(ev)
    }
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let p: PendingUpdates = outputs::document(ev, "pending-updates")?;
    if !p.search_succeeded {
        let reason = p.search_error.as_deref().unwrap_or("no reason given");
        let newest = match (&p.newest_hotfix, &p.newest_installed_on) {
            (Some(id), Some(d)) => {
                format!("newest hotfix {id} installed {}", d.0.format("%Y-%m-%d"))
            }
            (Some(id), None) => format!("newest hotfix {id} (no install date)"),
            _ => "no hotfix with an install date".to_string(),
        };
        return Ok(Verdict::new(
            Status::Warning,
            format!("Update search impossible; {newest}"),
            REQUIRED,
            format!(
                "The Windows Update search failed ({reason}), so pending updates are unknown; \
                 check that the {newest} is recent."
            ),
        ));
    }
    let (urgent, other): (Vec<&Update>, Vec<&Update>) = p
        .updates
        .0
        .iter()
        .partition(|u| u.is_critical_or_important());
    if !urgent.is_empty() {
        let labels: Vec<String> = urgent
            .iter()
            .map(|u| {
                format!(
                    "{} ({})",
                    u.label(),
                    u.severity.as_deref().unwrap_or_default()
                )
            })
            .collect();
        let titles: Vec<&str> = urgent.iter().map(|u| u.title.as_str()).collect();
        return Ok(Verdict::new(
            Status::Fail,
            format!("Pending: {}", labels.join(", ")),
            REQUIRED,
            format!(
                "{} Critical/Important update(s) not installed: {}.",
                urgent.len(),
                titles.join("; ")
            ),
        ));
    }
    let message = if other.is_empty() {
        "Windows Update finds no pending software update.".to_string()
    } else {
        let labels: Vec<String> = other.iter().map(|u| u.label()).collect();
        format!(
            "No Critical or Important update is pending; {} other update(s) are: {}.",
            other.len(),
            labels.join(", ")
        )
    };
    Ok(Verdict::new(
        Status::Pass,
        format!("{} pending, none Critical or Important", other.len()),
        REQUIRED,
        message,
    ))
}
