//! No configuration depends on drives other than C (OS) and D (temporary): those two are the
//! only letters every Azure VM has.

use serde::Deserialize;
use std::collections::BTreeSet;

use crate::evidence::Evidence;
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::windows::outputs::{self, List};
use crate::{Check, Unevaluable};

/// No service, scheduled task or PATH entry refers to a drive other than C or D.
#[derive(Debug)]
pub struct OnlyCAndDDrives;

static META: Meta = Meta {
    id: "only-c-and-d-drives",
    title: "Nothing depends on drives other than C and D",
    test_id: None,
    test_case_name: None,
    description: "No configuration depends on drives other than C (operating system) and D \
                  (temporary storage).",
    rationale: "Only drive C (OS) and drive D (temporary) are guaranteed on an Azure VM; no \
                configuration may rely on other drives (research/cert-cases.md section 3.2, \
                S1/S15; questionnaire GA10). vmcert reads the fixed and removable drive letters \
                (Win32_LogicalDisk DriveType 2 and 3) and every service PathName, scheduled-task \
                action and machine PATH entry that names a drive letter. A reference to any letter \
                other than C or D fails; extra fixed or removable letters without references (for \
                example data disks) warn.",
    remediation: "Move services, scheduled tasks and PATH entries to C: (or to paths resolved at \
                  run time), and do not ship extra volumes in the OS image; attach data disks in \
                  the offer instead.",
    os: Os::Windows,
    severity: Severity::High,
    since: "0.1.0",
    inferred: false,
    outcomes: &[Status::Pass, Status::Warning, Status::Fail, Status::Error],
    knobs: &[],
};

const REQUIRED: &str = "Only drives C and D, nothing referring to other letters";

/// `drives-and-references`.
#[derive(Debug, Deserialize)]
struct DrivesAndReferences {
    #[serde(rename = "Drives", default)]
    drives: List<Drive>,
    #[serde(rename = "Services", default)]
    services: List<ServicePath>,
    #[serde(rename = "TaskActions", default)]
    task_actions: List<TaskAction>,
    /// Scheduled tasks that could not be read, each with why (absent from older probes).
    #[serde(rename = "UnreadableTasks", default)]
    unreadable_tasks: List<String>,
    #[serde(rename = "SystemPath", default)]
    system_path: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Drive {
    #[serde(rename = "DeviceID")]
    device_id: String,
    #[serde(rename = "DriveType")]
    drive_type: u32,
}

#[derive(Debug, Deserialize)]
struct ServicePath {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "PathName", default)]
    path_name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct TaskAction {
    #[serde(rename = "TaskPath", default)]
    task_path: Option<String>,
    #[serde(rename = "TaskName")]
    task_name: String,
    #[serde(rename = "Execute", default)]
    execute: Option<String>,
    #[serde(rename = "Arguments", default)]
    arguments: Option<String>,
    #[serde(rename = "WorkingDirectory", default)]
    working_directory: Option<String>,
}

/// Win32_LogicalDisk.DriveType: 2 removable, 3 local (fixed) disk.
const REMOVABLE: u32 = 2;
const FIXED: u32 = 3;

/// The letters other than C and D that `text` names in a path (`E:\`, `e:/`), upper-case. A
/// letter preceded by a letter or digit (`HKLM:\`, `http://`) is not a drive.
fn foreign_letters(text: &str) -> BTreeSet<char> {
    let b = text.as_bytes();
    (0..b.len())
        .filter(|&i| {
            b[i].is_ascii_alphabetic()
                && b.get(i + 1) == Some(&b':')
                && matches!(b.get(i + 2), Some(b'\\' | b'/'))
                && (i == 0 || !b[i - 1].is_ascii_alphanumeric())
        })
        .map(|i| char::from(b[i].to_ascii_uppercase()))
        .filter(|c| !matches!(c, 'C' | 'D'))
        .collect()
}

fn letters(set: &BTreeSet<char>) -> String {
    set.iter()
        .map(|c| format!("{c}:"))
        .collect::<Vec<_>>()
        .join(" ")
}

impl Check for OnlyCAndDDrives {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &["drives-and-references"]
    }

    fn required(&self, _: &Evidence) -> String {
        REQUIRED.to_string()
    }

    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        evaluate(ev)
    }
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let d: DrivesAndReferences = outputs::document(ev, "drives-and-references")?;
    if d.drives.0.is_empty() {
        return Err(Unevaluable::new("Win32_LogicalDisk listed no drive at all"));
    }
    let present: Vec<String> = d
        .drives
        .0
        .iter()
        .filter(|x| matches!(x.drive_type, REMOVABLE | FIXED))
        .map(|x| x.device_id.to_ascii_uppercase())
        .collect();
    let extra: Vec<&String> = present
        .iter()
        .filter(|id| !matches!(id.as_str(), "C:" | "D:"))
        .collect();

    let mut refs = Vec::new();
    for s in &d.services.0 {
        let found = foreign_letters(s.path_name.as_deref().unwrap_or_default());
        if !found.is_empty() {
            refs.push(format!("service {} ({})", s.name, letters(&found)));
        }
    }
    for t in &d.task_actions.0 {
        let text = [&t.execute, &t.arguments, &t.working_directory]
            .iter()
            .filter_map(|x| x.as_deref())
            .collect::<Vec<_>>()
            .join(" ");
        let found = foreign_letters(&text);
        if !found.is_empty() {
            refs.push(format!(
                "task {}{} ({})",
                t.task_path.as_deref().unwrap_or_default(),
                t.task_name,
                letters(&found)
            ));
        }
    }
    for entry in d.system_path.as_deref().unwrap_or_default().split(';') {
        let found = foreign_letters(entry);
        if !found.is_empty() {
            refs.push(format!("PATH {}", entry.trim()));
        }
    }

    let drives = format!("Drives {}", present.join(" "));
    if !refs.is_empty() {
        return Ok(Verdict::new(
            Status::Fail,
            format!("{drives}; references: {}", refs.join(", ")),
            REQUIRED,
            format!(
                "{} configuration item(s) use a drive other than C and D, which an Azure VM \
                 deployed from this image will not have.",
                refs.len()
            ),
        ));
    }
    let unread = &d.unreadable_tasks.0;
    if !unread.is_empty() {
        return Ok(Verdict::new(
            Status::Warning,
            format!("{drives}; {} scheduled task(s) unreadable", unread.len()),
            REQUIRED,
            format!(
                "No readable service, scheduled task or PATH entry refers to a drive other than \
                 C and D, but {} scheduled task(s) could not be read, so their actions were not \
                 checked: {}",
                unread.len(),
                unread
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        ));
    }
    if !extra.is_empty() {
        let extra: Vec<&str> = extra.iter().map(|s| s.as_str()).collect();
        return Ok(Verdict::new(
            Status::Warning,
            drives,
            REQUIRED,
            format!(
                "Extra drive(s) {} exist; no service, scheduled task or PATH entry refers to \
                 them, but make sure the application does not either.",
                extra.join(" ")
            ),
        ));
    }
    Ok(Verdict::new(
        Status::Pass,
        drives,
        REQUIRED,
        "Only C and D exist and nothing refers to another drive letter.",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drive_letters_in_paths() {
        let f = |s: &str| letters(&foreign_letters(s));
        assert_eq!(f(r#""E:\App\svc.exe" -config f:/x.cfg"#), "E: F:");
        assert_eq!(f(r"C:\Windows\system32\svchost.exe -k netsvcs -p"), "");
        assert_eq!(f(r"D:\temp;HKLM:\SOFTWARE;http://x/;%windir%\x"), "");
        assert_eq!(f(r"C:\tools;G:\bin"), "G:");
    }
}
