//! TestID 44 `OpenSSL Version`: the Azure Linux Agent uses the `openssl` command to decrypt the
//! certificates and secrets Azure hands the VM, and old OpenSSL releases are unmaintained.

use crate::evidence::{ABSENT, Evidence};
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::profile::Thresholds;
use crate::verdict::{Status, Verdict};
use crate::version::Version;
use crate::{Check, Unevaluable};

/// `openssl version` is at least the profile's minimum (or an allowed older series).
#[derive(Debug)]
pub struct OpensslVersion;

static META: Meta = Meta {
    id: "openssl-version",
    title: "OpenSSL version",
    test_id: Some("44"),
    test_case_name: Some("OpenSSL Version"),
    description: "OpenSSL Version should be >=0.9.8.",
    rationale: "The toolkit required OpenSSL 0.9.8 or newer (the agent needs the `openssl` command). \
                LISA (verify_openssl_version) today requires 3.0.0 or newer, or the 1.1.1 or 1.0.2 series, which vendors \
                still support. vmcert reads the version from `openssl version` and compares it per \
                component with the profile's `openssl_min` and `openssl_series_allowed`.",
    remediation: "Install the distribution's current openssl package (OpenSSL 3.x), or a \
                  vendor-supported 1.1.1 / 1.0.2 build.",
    os: Os::Linux,
    severity: Severity::High,
    since: "0.1.0",
    inferred: false,
    outcomes: &[Status::Pass, Status::Fail, Status::Error],
    knobs: &["openssl_min", "openssl_series_allowed"],
};

const PROBE: ProbeId = "openssl-version";

impl Check for OpensslVersion {
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

/// `>= 3.0.0, or 1.1.1*, or 1.0.2*` (current) / `0.9.8` (toolkit, the self-test's RequiredValue).
fn required(t: &Thresholds) -> String {
    if t.openssl_series_allowed.is_empty() {
        t.openssl_min.to_string()
    } else {
        let series: Vec<String> = t
            .openssl_series_allowed
            .iter()
            .map(|s| format!("{s}*"))
            .collect();
        format!(">= {}, or {}", t.openssl_min, series.join(", or "))
    }
}

/// The accepted versions in words: `3.0.0 or newer, or the 1.1.1 or 1.0.2 series`.
fn accepted(t: &Thresholds) -> String {
    let mut text = format!("{} or newer", t.openssl_min);
    if !t.openssl_series_allowed.is_empty() {
        text.push_str(&format!(
            ", or the {} series",
            t.openssl_series_allowed.join(" or ")
        ));
    }
    text
}

/// The version of `OpenSSL 3.0.20 7 Apr 2026 (Library: ...)` / `OpenSSL 1.0.2k-fips  26 Jan 2017`.
fn parse(out: &str) -> Result<Version, Unevaluable> {
    let first = out
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    let mut words = first.split_whitespace();
    match (words.next(), words.next().and_then(Version::parse)) {
        (Some("OpenSSL"), Some(v)) => Ok(v),
        _ => Err(Unevaluable::new(format!(
            "`openssl version` printed `{first}`, not `OpenSSL <version> ...`"
        ))),
    }
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let t = ev.thresholds();
    let required = required(t);
    let Some(out) = ev.stdout_unless(PROBE, ABSENT)? else {
        return Ok(Verdict::new(
            Status::Fail,
            "not installed",
            required,
            "The `openssl` command is not installed; the Azure Linux Agent needs it to decrypt the \
             certificates Azure provides. Install the openssl package.",
        ));
    };
    let v = parse(&out)?;
    let min = Version::parse(t.openssl_min)
        .ok_or_else(|| Unevaluable::new("bad openssl_min in the profile table"))?;
    let actual = v.as_str().to_string();
    if v >= min {
        return Ok(Verdict::new(
            Status::Pass,
            actual,
            required,
            format!(
                "OpenSSL {} is installed (at least {} is required).",
                v.as_str(),
                t.openssl_min
            ),
        ));
    }
    if let Some(series) = t.openssl_series_allowed.iter().find(|s| v.in_series(s)) {
        return Ok(Verdict::new(
            Status::Pass,
            actual,
            required,
            format!(
                "OpenSSL {} belongs to the {series} series, which is still accepted although older \
                 than {}.",
                v.as_str(),
                t.openssl_min
            ),
        ));
    }
    Ok(Verdict::new(
        Status::Fail,
        actual,
        required,
        format!(
            "OpenSSL {} is too old: the rule accepts {}. Update the openssl package.",
            v.as_str(),
            accepted(t)
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Profile;

    #[test]
    fn parses_real_shapes() {
        assert_eq!(
            parse("OpenSSL 3.0.20 7 Apr 2026 (Library: OpenSSL 3.0.20 7 Apr 2026)\n")
                .unwrap()
                .as_str(),
            "3.0.20"
        );
        assert_eq!(
            parse("OpenSSL 1.0.2k-fips  26 Jan 2017\n")
                .unwrap()
                .as_str(),
            "1.0.2k-fips"
        );
        assert!(parse("LibreSSL 3.3.6\n").is_err());
    }

    #[test]
    fn required_text_per_profile() {
        assert_eq!(
            required(Profile::Current.thresholds()),
            ">= 3.0.0, or 1.1.1*, or 1.0.2*"
        );
        assert_eq!(required(Profile::Toolkit.thresholds()), "0.9.8");
    }

    #[test]
    fn fips_suffix_is_in_series() {
        assert!(Version::parse("1.0.2k-fips").unwrap().in_series("1.0.2"));
        assert!(!Version::parse("1.1.0l").unwrap().in_series("1.1.1"));
    }
}
