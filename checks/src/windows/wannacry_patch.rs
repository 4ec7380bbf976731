//! The WannaCry (MS17-010) fix is installed: the SMB server driver is at least the version that
//! fixed it on this Windows release.

use serde::Deserialize;
use std::cmp::Ordering;

use crate::evidence::Evidence;
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::version::Version;
use crate::windows::outputs::{self, List};
use crate::{Check, Unevaluable};

/// srv.sys (else srv2.sys) is at least the MS17-010 version of the OS release.
#[derive(Debug)]
pub struct WannacryPatch;

static META: Meta = Meta {
    id: "wannacry-patch",
    title: "WannaCry (MS17-010) patch installed",
    test_id: None,
    test_case_name: None,
    description: "The SMB server driver srv.sys / srv2.sys carries the MS17-010 (WannaCry) fix.",
    rationale: "The certification FAQ lists minimum file versions of \
                C:\\Windows\\System32\\drivers\\srv.sys or srv2.sys: 2008 R2 6.1.7601.23689, 2012 \
                6.2.9200.22099, 2012 R2 6.3.9600.18604, 2016 10.0.14393.953, 2019 not applicable \
                (research/cert-cases.md section 3.2, S7/S8/S9). vmcert compares srv.sys, the SMBv1 \
                driver that MS17-010 fixed, and srv2.sys only when srv.sys is absent (SMBv1 \
                removed). It reads the binary file version (FileMajorPart..FilePrivatePart): the \
                FileVersion text of Windows 10-era files can lag behind updates. Windows releases \
                newer than 2016 (build 17763 and later) are not applicable; other releases have \
                no published minimum and warn.",
    remediation: "Install the latest cumulative update (or at least the March 2017 security \
                  update MS17-010), or remove SMBv1 (`Uninstall-WindowsFeature FS-SMB1`).",
    os: Os::Windows,
    severity: Severity::High,
    since: "0.1.0",
    inferred: false,
    outcomes: &[
        Status::Pass,
        Status::Warning,
        Status::Fail,
        Status::NotApplicable,
        Status::Error,
    ],
    knobs: &[],
};

const REQUIRED: &str = "srv.sys >= the MS17-010 version of the Windows release";

/// MS17-010 minimum srv.sys versions by OS version prefix (Win32_OperatingSystem.Version).
const MINIMUMS: [(&str, &str, &str); 4] = [
    ("6.1.7601", "Windows Server 2008 R2", "6.1.7601.23689"),
    ("6.2.9200", "Windows Server 2012", "6.2.9200.22099"),
    ("6.3.9600", "Windows Server 2012 R2", "6.3.9600.18604"),
    ("10.0.14393", "Windows Server 2016", "10.0.14393.953"),
];

/// First build after Windows Server 2016 that shipped with the fix (Windows Server 2019).
const FIXED_FROM_BUILD: u64 = 17763;

/// `srv-sys-versions`.
#[derive(Debug, Deserialize)]
struct SrvSysVersions {
    #[serde(rename = "OSVersion")]
    os_version: String,
    #[serde(rename = "Caption", default)]
    caption: Option<String>,
    #[serde(rename = "Files", default)]
    files: List<SysFile>,
}

#[derive(Debug, Deserialize)]
struct SysFile {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Exists")]
    exists: bool,
    #[serde(rename = "Version", default)]
    version: Option<String>,
}

impl Check for WannacryPatch {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &["srv-sys-versions"]
    }

    fn required(&self, _: &Evidence) -> String {
        REQUIRED.to_string()
    }

    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        evaluate(ev)
    }
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let s: SrvSysVersions = outputs::document(ev, "srv-sys-versions")?;
    let os = s.caption.as_deref().unwrap_or(&s.os_version);
    let mut parts = s.os_version.split('.');
    let major = parts.next().and_then(|p| p.parse::<u64>().ok());
    let build = parts.nth(1).and_then(|p| p.parse::<u64>().ok());
    let (Some(major), Some(build)) = (major, build) else {
        return Err(Unevaluable::new(format!(
            "Win32_OperatingSystem.Version `{}` is not major.minor.build",
            s.os_version
        )));
    };
    if major >= 10 && build >= FIXED_FROM_BUILD {
        return Ok(Verdict::new(
            Status::NotApplicable,
            format!("OS {}", s.os_version),
            "NA",
            format!("{os} shipped with the MS17-010 fix; the certification lists no minimum."),
        ));
    }
    let Some(&(_, release, minimum)) = MINIMUMS
        .iter()
        .find(|(prefix, _, _)| s.os_version.starts_with(prefix))
    else {
        return Ok(Verdict::new(
            Status::Warning,
            format!("OS {}", s.os_version),
            REQUIRED,
            format!(
                "{os} (version {}) has no published minimum srv.sys version; check by hand that \
                 MS17-010 is installed.",
                s.os_version
            ),
        ));
    };
    let required = format!("srv.sys >= {minimum} ({release})");
    let file = ["srv.sys", "srv2.sys"].iter().find_map(|n| {
        s.files
            .0
            .iter()
            .find(|f| f.exists && f.name.eq_ignore_ascii_case(n))
    });
    let Some(file) = file else {
        return Ok(Verdict::new(
            Status::Pass,
            "srv.sys and srv2.sys absent",
            required,
            format!("{os} has no SMB server driver, so MS17-010 does not apply."),
        ));
    };
    let text = file.version.as_deref().unwrap_or_default();
    let (Some(found), Some(min)) = (Version::parse(text), Version::parse(minimum)) else {
        return Err(Unevaluable::new(format!(
            "{} has no readable file version (`{text}`)",
            file.name
        )));
    };
    let actual = format!("{} {}", file.name, found.as_str());
    Ok(if found.cmp(&min) == Ordering::Less {
        Verdict::new(
            Status::Fail,
            actual,
            required,
            format!(
                "{} {} is older than {minimum}: {os} lacks the MS17-010 (WannaCry) fix.",
                file.name,
                found.as_str()
            ),
        )
    } else {
        Verdict::new(
            Status::Pass,
            actual,
            required,
            format!(
                "{} {} includes the MS17-010 fix (>= {minimum}).",
                file.name,
                found.as_str()
            ),
        )
    })
}
