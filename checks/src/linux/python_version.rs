//! TestID 45 `Python Version`: the Azure Linux Agent and most VM extensions are Python programs,
//! and an interpreter past its end of life gets no security fixes.

use crate::evidence::{ABSENT, Evidence};
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::profile::Thresholds;
use crate::verdict::{Status, Verdict};
use crate::version::Version;
use crate::{Check, Unevaluable};

/// `python3 --version` (else `python --version`) meets the profile's thresholds.
#[derive(Debug)]
pub struct PythonVersion;

static META: Meta = Meta {
    id: "python-version",
    title: "Python version",
    test_id: Some("45"),
    test_case_name: Some("Python Version"),
    description: "Python version 2.6+ is highly recommended. ",
    rationale: "The toolkit recommended Python 2.6 or newer (a Warning below that), because the agent \
                and the extensions need it. LISA's verify_python_version fails below 3.9 and warns \
                on 3.9.x, but runs at priority 5, outside the gating run (since LISA 4a8f4ffd9), so \
                images with the distribution's own older Python (RHEL 8 and SLES 15 ship 3.6) are \
                not refused: under `current` vmcert therefore warns below 3.10 and never fails on \
                the version (`python_fail_below` unset). vmcert reads `python3 --version`, falling \
                back to `python --version` and RHEL 8's /usr/libexec/platform-python. No Python at \
                all is a Fail: the agent cannot run.",
    remediation: "Install the distribution's python3 package (a maintained 3.x release).",
    os: Os::Linux,
    severity: Severity::High,
    since: "0.1.0",
    inferred: false,
    outcomes: &[Status::Pass, Status::Warning, Status::Fail, Status::Error],
    knobs: &["python_fail_below", "python_warn_below"],
};

const PROBE: ProbeId = "python-version";

impl Check for PythonVersion {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &[PROBE]
    }

    fn required(&self, ev: &Evidence) -> String {
        required(ev.thresholds()).to_string()
    }

    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        evaluate(ev)
    }
}

/// The lowest version that does not fail (the self-test's RequiredValue `2.6` under toolkit).
fn required(t: &Thresholds) -> &'static str {
    t.python_fail_below.unwrap_or(t.python_warn_below)
}

/// `Python 3.11.2` (Python 2 prints the same shape on stderr, which the probe merges).
fn parse(out: &str) -> Result<Version, Unevaluable> {
    let first = out
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    first
        .strip_prefix("Python ")
        .and_then(Version::parse)
        .ok_or_else(|| {
            Unevaluable::new(format!(
                "`python --version` printed `{first}`, not `Python <version>`"
            ))
        })
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let t = ev.thresholds();
    let required = required(t);
    let Some(out) = ev.stdout_unless(PROBE, ABSENT)? else {
        return Ok(Verdict::new(
            Status::Fail,
            "not installed",
            required,
            "Neither python3 nor python is installed; the Azure Linux Agent cannot run without \
             Python. Install the python3 package.",
        ));
    };
    let v = parse(&out)?;
    let actual = v.as_str().to_string();
    let bad =
        |s: &str| Unevaluable::new(format!("bad Python threshold `{s}` in the profile table"));
    if let Some(fail) = t.python_fail_below {
        let fail_v = Version::parse(fail).ok_or_else(|| bad(fail))?;
        if v < fail_v {
            return Ok(Verdict::new(
                Status::Fail,
                actual,
                required,
                format!(
                    "Python {} is older than {fail}, the minimum required; install the \
                     distribution's current python3.",
                    v.as_str()
                ),
            ));
        }
    }
    let warn = t.python_warn_below;
    let warn_v = Version::parse(warn).ok_or_else(|| bad(warn))?;
    if v < warn_v {
        return Ok(Verdict::new(
            Status::Warning,
            actual,
            required,
            format!(
                "Python {} is older than the recommended {warn}; plan an upgrade to a newer \
                 python3.",
                v.as_str()
            ),
        ));
    }
    Ok(Verdict::new(
        Status::Pass,
        actual,
        required,
        format!(
            "Python {} is installed ({warn} or newer recommended).",
            v.as_str()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_python_2_and_3() {
        assert_eq!(parse("Python 3.11.2\n").unwrap().as_str(), "3.11.2");
        assert_eq!(parse("Python 2.4.3\n").unwrap().as_str(), "2.4.3");
        assert!(parse("bash: python3: command not found\n").is_err());
    }

    #[test]
    fn three_nine_is_below_three_ten() {
        assert!(Version::parse("3.9.2").unwrap() < Version::parse("3.10").unwrap());
        assert!(Version::parse("3.9.2").unwrap() >= Version::parse("3.9").unwrap());
    }
}
