//! TestID 50 `Security threats`: the self-test API flagged operating systems impacted by "GHOSTS",
//! read here as GHOST, the glibc gethostbyname buffer overflow (CVE-2015-0235).

use crate::evidence::{ABSENT, Evidence};
use crate::linux::os_release::OsRelease;
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::version::Version;
use crate::{Check, Unevaluable};

/// glibc is not vulnerable to GHOST: 2.18 or newer, or a release whose vendor backported the fix.
#[derive(Debug)]
pub struct SecurityThreats;

static META: Meta = Meta {
    id: "security-threats",
    title: "No known high-profile vulnerability (GHOST)",
    test_id: Some("50"),
    test_case_name: Some("Security threats"),
    description: "Identifies OS with recent high profile vulnerability that may need patching.  \
                  Ignore warning if system was patched as appropriate.",
    rationale: "Inferred rule: Microsoft never published what this test looked at; its RequiredValue \
                was `OS impacted by GHOSTS` and a Pass showed the OS name. vmcert reads it as GHOST \
                (CVE-2015-0235), a heap overflow in glibc 2.2 to 2.17 fixed upstream in 2.18, and \
                reads the C library version (`getconf GNU_LIBC_VERSION`, else `ldd --version`) and \
                the distribution (/etc/os-release). glibc 2.18 or newer passes; an older glibc \
                passes on releases whose vendor shipped the fix as a backport (RHEL/CentOS/Oracle \
                5-7: RHSA-2015:0090, RHSA-2015:0092; Ubuntu 10.04/12.04: USN-2485-1; Debian 6/7: \
                DSA-3142-1 and its LTS update; SUSE 10/11; Amazon Linux: ALAS-2015-473) and is a \
                Warning elsewhere, as the description says (a warning to ignore if patched). \
                musl-based systems are not affected (NotApplicable).",
    remediation: "Update glibc to the distribution's fixed package (or to 2.18 or newer), or move \
                  to a supported release; if the package is patched, explain that in the \
                  certification notes.",
    os: Os::Linux,
    severity: Severity::Medium,
    since: "0.1.0",
    inferred: true,
    outcomes: &[
        Status::Pass,
        Status::Warning,
        Status::NotApplicable,
        Status::Error,
    ],
    knobs: &[],
};

const REQUIRED: &str = "OS impacted by GHOSTS";
const FIXED: &str = "2.18";

/// Releases whose vendor fixed GHOST in the old glibc: (os-release ID, VERSION_ID major, advisory).
const BACKPORTS: &[(&str, &str, &str)] = &[
    ("rhel", "5", "RHSA-2015:0090"),
    ("rhel", "6", "RHSA-2015:0092"),
    ("rhel", "7", "RHSA-2015:0092"),
    ("centos", "5", "RHSA-2015:0090, rebuilt by CentOS"),
    ("centos", "6", "RHSA-2015:0092, rebuilt by CentOS"),
    ("centos", "7", "RHSA-2015:0092, rebuilt by CentOS"),
    ("ol", "5", "Oracle's rebuild of RHSA-2015:0090"),
    ("ol", "6", "Oracle's rebuild of RHSA-2015:0092"),
    ("ol", "7", "Oracle's rebuild of RHSA-2015:0092"),
    ("ubuntu", "10", "USN-2485-1"),
    ("ubuntu", "12", "USN-2485-1"),
    ("debian", "6", "Debian LTS glibc update for CVE-2015-0235"),
    ("debian", "7", "DSA-3142-1"),
    ("sles", "10", "SUSE glibc update for CVE-2015-0235"),
    ("sles", "11", "SUSE glibc update for CVE-2015-0235"),
    ("amzn", "2014", "ALAS-2015-473"),
    ("amzn", "2015", "ALAS-2015-473"),
];

impl Check for SecurityThreats {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &["glibc-version", "os-release"]
    }

    fn required(&self, _: &Evidence) -> String {
        REQUIRED.to_string()
    }

    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        evaluate(ev)
    }
}

/// The C library the probe found.
#[derive(Debug, PartialEq, Eq)]
enum Libc {
    Glibc(Version),
    /// Not glibc (musl, ...): the first line the probe printed.
    Other(String),
}

/// `glibc 2.36` (getconf), `ldd (Debian GLIBC 2.36-9+deb12u10) 2.36` / `ldd (GNU libc) 2.17`
/// (glibc's ldd), `musl libc (x86_64)` (musl's loader).
fn parse(out: &str) -> Result<Libc, Unevaluable> {
    let first = out
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    if let Some(v) = first.strip_prefix("glibc ").and_then(Version::parse) {
        return Ok(Libc::Glibc(v));
    }
    if first.starts_with("ldd ")
        && (first.contains("GLIBC") || first.contains("GNU libc"))
        && let Some(v) = first.split_whitespace().last().and_then(Version::parse)
    {
        return Ok(Libc::Glibc(v));
    }
    if first.starts_with("musl libc") {
        return Ok(Libc::Other(first.to_string()));
    }
    Err(Unevaluable::new(format!(
        "could not read the C library version from `{first}`"
    )))
}

fn backport(os: &OsRelease) -> Option<&'static str> {
    let major = os.version_id()?.split('.').next()?;
    let mut ids = std::iter::once(os.id()).chain(os.id_like());
    ids.find_map(|id| {
        BACKPORTS
            .iter()
            .find(|(i, m, _)| *i == id && *m == major)
            .map(|(_, _, advisory)| *advisory)
    })
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let Some(out) = ev.stdout_unless("glibc-version", ABSENT)? else {
        return Err(Unevaluable::new(
            "neither `getconf GNU_LIBC_VERSION` nor `ldd` is available to tell the C library version",
        ));
    };
    // The distribution only matters for an old glibc; elsewhere it just names the system.
    let os = ev.stdout("os-release").map(|text| OsRelease::parse(&text));
    let name = os
        .as_ref()
        .map_or("this system", OsRelease::pretty_name)
        .to_string();
    let glibc = match parse(&out)? {
        Libc::Glibc(v) => v,
        Libc::Other(what) => {
            return Ok(Verdict::new(
                Status::NotApplicable,
                format!("{name}, {what}"),
                REQUIRED,
                format!("{name} uses {what}, not glibc; GHOST (CVE-2015-0235) is a glibc flaw."),
            ));
        }
    };
    let actual = format!("{name}, glibc {}", glibc.as_str());
    let fixed = Version::parse(FIXED).ok_or_else(|| Unevaluable::new("bad glibc fix version"))?;
    if glibc >= fixed {
        return Ok(Verdict::new(
            Status::Pass,
            actual,
            REQUIRED,
            format!(
                "glibc {} already contains the GHOST fix (2.18 and newer).",
                glibc.as_str()
            ),
        ));
    }
    if let Some(advisory) = backport(&os?) {
        return Ok(Verdict::new(
            Status::Pass,
            actual,
            REQUIRED,
            format!(
                "glibc {} predates the upstream GHOST fix, but {name} received it as a backport \
                 ({advisory}); make sure the image has the updated glibc package.",
                glibc.as_str()
            ),
        ));
    }
    Ok(Verdict::new(
        Status::Warning,
        actual,
        REQUIRED,
        format!(
            "glibc {} is older than 2.18 and vmcert knows no GHOST (CVE-2015-0235) backport for \
             {name}. Update glibc or the distribution; if the vendor patched this glibc, say so in \
             the certification notes.",
            glibc.as_str()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_libc_banner() {
        let v = |s: &str| match parse(s).unwrap() {
            Libc::Glibc(v) => v.as_str().to_string(),
            Libc::Other(o) => o,
        };
        assert_eq!(v("glibc 2.36\n"), "2.36");
        assert_eq!(v("ldd (Debian GLIBC 2.36-9+deb12u10) 2.36\n"), "2.36");
        assert_eq!(v("ldd (GNU libc) 2.17\n"), "2.17");
        assert_eq!(v("musl libc (x86_64)\n"), "musl libc (x86_64)");
        assert!(parse("sh: 1: ldd: not found\n").is_err());
    }

    #[test]
    fn backports_by_id_like() {
        let rocky_like = OsRelease::parse(
            "ID=\"scientific\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"6.10\"\n",
        );
        assert_eq!(backport(&rocky_like), Some("RHSA-2015:0092"));
        let raring = OsRelease::parse("ID=ubuntu\nVERSION_ID=\"13.04\"\n");
        assert_eq!(backport(&raring), None);
    }
}
