//! OMIGOD (CVE-2021-38647, -38648, -38645, -38649): Open Management Infrastructure before
//! 1.6.8.1, installed by several Azure management extensions, let anyone run commands as root.

use crate::evidence::{ABSENT, Evidence};
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::version::Version;
use crate::{Check, Unevaluable};

/// OMI is absent or at least 1.6.8.1.
#[derive(Debug)]
pub struct OmiNotVulnerable;

static META: Meta = Meta {
    id: "omi-not-vulnerable",
    title: "OMI not vulnerable to OMIGOD",
    test_id: None,
    test_case_name: None,
    description: "Open Management Infrastructure (OMI), if installed, is 1.6.8.1 or newer.",
    rationale: "LISA's verify_omi_version fails images with OMI older than 1.6.8.1, the release that \
                fixed the OMIGOD vulnerabilities. vmcert reads the version from \
                `/opt/omi/bin/omiserver --version`, else from the installed omi package (dpkg or \
                rpm), and compares it per component (1.6.8-1 equals 1.6.8.1).",
    remediation: "Update OMI to 1.6.8.1 or newer (packages.microsoft.com, or update the extension \
                  that installed it), or remove it if nothing needs it.",
    os: Os::Linux,
    severity: Severity::High,
    since: "0.1.0",
    inferred: false,
    outcomes: &[Status::Pass, Status::Fail, Status::Error],
    knobs: &[],
};

const PROBE: ProbeId = "omi-version";
const MIN: &str = "1.6.8.1";
const REQUIRED: &str = "not installed, or >= 1.6.8.1";

impl Check for OmiNotVulnerable {
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

/// `/opt/omi/bin/omiserver: OMI-1.9.1-0 - Wed Aug 28 ...` (omiserver), `omi\t1.9.1.0`
/// (dpkg-query -W), `omi-1.9.1-0.x86_64` (rpm -q); the patterns LISA uses.
fn parse(out: &str) -> Option<Version> {
    let text = out.trim();
    let after = if let Some(pos) = text.find("OMI-") {
        &text[pos + 4..]
    } else if let Some(rest) = text.strip_prefix("omi-") {
        rest
    } else if let Some(rest) = text
        .strip_prefix("omi")
        .filter(|r| r.starts_with(char::is_whitespace))
    {
        rest.trim_start()
    } else {
        return None;
    };
    // rpm appends `.x86_64`; keep the numeric part only.
    let version: String = after
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '-')
        .collect();
    let version = version.trim_end_matches(['.', '-']);
    Version::parse(version)
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let Some(out) = ev.stdout_unless(PROBE, ABSENT)? else {
        return Ok(Verdict::new(
            Status::Pass,
            "not installed",
            REQUIRED,
            "OMI is not installed (no /opt/omi/bin/omiserver and no omi package).",
        ));
    };
    let v = parse(&out).ok_or_else(|| {
        let first = out.lines().next().unwrap_or("").trim();
        Unevaluable::new(format!(
            "OMI is installed but its version could not be read from `{first}`"
        ))
    })?;
    let min = Version::parse(MIN).ok_or_else(|| Unevaluable::new("bad OMI minimum"))?;
    let actual = format!("OMI {}", v.as_str());
    if v >= min {
        return Ok(Verdict::new(
            Status::Pass,
            actual,
            REQUIRED,
            format!(
                "OMI {} includes the OMIGOD fixes ({MIN} or newer).",
                v.as_str()
            ),
        ));
    }
    Ok(Verdict::new(
        Status::Fail,
        actual,
        REQUIRED,
        format!(
            "OMI {} is older than {MIN} and vulnerable to OMIGOD (CVE-2021-38647: unauthenticated \
             remote code execution as root). Update OMI to {MIN} or newer, or remove it.",
            v.as_str()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_omiserver_dpkg_and_rpm_shapes() {
        let v = |s: &str| parse(s).map(|v| v.as_str().to_string());
        assert_eq!(
            v("/opt/omi/bin/omiserver: OMI-1.9.1-0 - Wed Aug 28 23:16:27 PDT 2024\n").as_deref(),
            Some("1.9.1-0")
        );
        assert_eq!(v("omi\t1.6.6.0\n").as_deref(), Some("1.6.6.0"));
        assert_eq!(v("omi-1.6.8-1.x86_64\n").as_deref(), Some("1.6.8-1"));
        assert_eq!(v("omi\t\n"), None);
    }

    #[test]
    fn dash_build_equals_dotted() {
        let v = |s| Version::parse(s).unwrap();
        assert!(v("1.6.8-1") >= v("1.6.8.1"));
        assert!(v("1.6.8-0") < v("1.6.8.1"));
    }
}
