//! TestID 52 `SACK Vulnerability patch verification`: kernels without the June 2019 TCP SACK
//! fixes (CVE-2019-11477 "SACK Panic", CVE-2019-11478, CVE-2019-11479) can be crashed remotely.
//!
//! The minimum kernels are Microsoft's table from the certification FAQ (research/cert-cases.md
//! section 2.3), kept below as data: one row per distribution release, with the first fixed
//! kernel of each kernel stream that release ships.

use crate::evidence::Evidence;
use crate::linux::os_release::OsRelease;
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::version::Version;
use crate::{Check, Unevaluable};

/// The running kernel carries the TCP SACK fixes.
#[derive(Debug)]
pub struct SackKernelPatch;

static META: Meta = Meta {
    id: "sack-kernel-patch",
    title: "Kernel patched for TCP SACK vulnerabilities",
    test_id: Some("52"),
    test_case_name: Some("SACK Vulnerability patch verification"),
    description: "Checks if the running Kernel Version has SACK vulnerability patch.",
    rationale: "The certification FAQ lists, per distribution release, the first kernel \"equal to \
                or greater than\" which carries the SACK fixes; the self-test's ActualValue was \
                PRETTY_NAME and /proc/version. vmcert compares the running kernel (`uname -r`; on \
                Debian the package version printed in /proc/version, because Debian's uname shows \
                only the ABI) with the row of the distribution's release: a kernel of a listed stream \
                below its minimum fails. A kernel of upstream 5.1.11 or newer, a kernel newer than \
                every listed one, or a release newer than the table passes. Anything else (an \
                unlisted distribution or kernel stream with an older kernel, e.g. Ubuntu's generic \
                kernels, as the table covers Azure kernels) is a Warning asking to check the \
                vendor's advisory. SUSE minimums are stored without the package rebuild counter \
                that `uname -r` omits (kernel-azure 4.12.14-6.15.2 runs as 4.12.14-6.15-azure).",
    remediation: "Update the kernel package to the distribution's current one, reboot into it, and \
                  remove older kernels before capturing the image.",
    os: Os::Linux,
    severity: Severity::High,
    since: "0.1.0",
    inferred: false,
    outcomes: &[Status::Pass, Status::Warning, Status::Fail, Status::Error],
    knobs: &[],
};

const REQUIRED: &str = "Yes";

/// The first upstream release with the fixes.
const MAINLINE_FIXED: &str = "5.1.11";

/// How the running kernel is matched to a minimum of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    /// Same upstream major.minor (Ubuntu, Debian, CoreOS).
    Series,
    /// Same major.minor and same build number after the dash (RHEL `3.10.0-957`, SUSE
    /// `4.12.14-95`, Oracle UEK `4.14.35-1902`): each minor release has its own build.
    SeriesAndBuild,
}

/// Where the family's comparable kernel version comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KernelSource {
    /// `uname -r`.
    Uname,
    /// The package version Debian prints in /proc/version (`uname -r` is only the ABI,
    /// `4.9.0-9-amd64`); `uname -r` when absent (a self-built kernel).
    DebianPackage,
}

/// A distribution family of the table.
#[derive(Debug)]
struct Family {
    name: &'static str,
    /// os-release IDs.
    ids: &'static [&'static str],
    stream: Stream,
    source: KernelSource,
    rows: &'static [Row],
}

/// One release of the table.
#[derive(Debug)]
struct Row {
    /// VERSION_ID of the release.
    release: &'static str,
    mins: &'static [Min],
}

/// The first fixed kernel of one stream.
#[derive(Debug)]
struct Min {
    /// In the form `uname -r` (Debian: the package version) prints, without flavour.
    kernel: &'static str,
    /// The kernel flavour the row is for (`azure`), matched as `-azure` in `uname -r`.
    flavour: Option<&'static str>,
}

const fn any(kernel: &'static str) -> Min {
    Min {
        kernel,
        flavour: None,
    }
}

const fn azure(kernel: &'static str) -> Min {
    Min {
        kernel,
        flavour: Some("azure"),
    }
}

const RHEL_6_10: &[Min] = &[any("2.6.32-754.15.3")];
const RHEL_7_2: Min = any("3.10.0-327.79.2");
const RHEL_7_3: Min = any("3.10.0-514.66.2");
const RHEL_7_4: Min = any("3.10.0-693.50.3");
const RHEL_7_5: Min = any("3.10.0-862.34.2");
const UEK3: Min = any("3.8.13-118.35.2");
const UEK4: Min = any("4.1.12-124.28.3");

/// Microsoft's table (certification FAQ, SACK section), as data.
static TABLE: &[Family] = &[
    Family {
        name: "Ubuntu",
        ids: &["ubuntu"],
        stream: Stream::Series,
        source: KernelSource::Uname,
        rows: &[
            // "4.4.0-151; 4.15.0-1049-*-azure"
            Row {
                release: "14.04",
                mins: &[any("4.4.0-151"), azure("4.15.0-1049")],
            },
            Row {
                release: "16.04",
                mins: &[azure("4.15.0-1049")],
            },
            Row {
                release: "18.04",
                mins: &[azure("4.18.0-1023"), azure("5.0.0-1025")],
            },
            Row {
                release: "18.10",
                mins: &[azure("4.18.0-1023")],
            },
            Row {
                release: "19.04",
                mins: &[azure("5.0.0-1010"), azure("5.3.0-1004")],
            },
        ],
    },
    Family {
        name: "RHEL/CentOS",
        ids: &["rhel", "centos"],
        stream: Stream::SeriesAndBuild,
        source: KernelSource::Uname,
        rows: &[
            Row {
                release: "6.10",
                mins: RHEL_6_10,
            },
            Row {
                release: "7.2",
                mins: &[RHEL_7_2],
            },
            Row {
                release: "7.3",
                mins: &[RHEL_7_3],
            },
            Row {
                release: "7.4",
                mins: &[RHEL_7_4],
            },
            Row {
                release: "7.5",
                mins: &[RHEL_7_5],
            },
            // also "7-LVM"
            Row {
                release: "7.6",
                mins: &[any("3.10.0-957.21.3")],
            },
            Row {
                release: "7.7",
                mins: &[any("3.10.0-1062.1.1")],
            },
            Row {
                release: "8.0",
                mins: &[any("4.18.0-80.4.2")],
            },
            Row {
                release: "8.1",
                mins: &[any("4.18.0-147")],
            },
        ],
    },
    Family {
        name: "SLES",
        ids: &["sles", "sles_sap"],
        stream: Stream::SeriesAndBuild,
        source: KernelSource::Uname,
        rows: &[
            Row {
                release: "11.4",
                mins: &[any("3.0.101-108.95")],
            },
            Row {
                release: "12.1",
                mins: &[any("3.12.74-60.64.115")],
            },
            Row {
                release: "12.2",
                mins: &[any("4.4.121-92.114")],
            },
            // published as "4.4180-4.31.1 (kernel-azure)" [sic]
            Row {
                release: "12.3",
                mins: &[azure("4.4.180-4.31"), any("4.4.180-94.97")],
            },
            Row {
                release: "12.4",
                mins: &[azure("4.12.14-6.15"), any("4.12.14-95.19")],
            },
            Row {
                release: "15",
                mins: &[azure("4.12.14-5.30")],
            },
            Row {
                release: "15.1",
                mins: &[azure("4.12.14-5.30")],
            },
        ],
    },
    Family {
        name: "Oracle Linux",
        ids: &["ol"],
        stream: Stream::SeriesAndBuild,
        source: KernelSource::Uname,
        rows: &[
            Row {
                release: "6.10",
                mins: &[any("2.6.39-400.312.2"), UEK3, any("2.6.32-754.15.3")],
            },
            // 7.0-7.5: UEK3, UEK4, RHCK "as RHEL"
            Row {
                release: "7.0",
                mins: &[UEK3, UEK4],
            },
            Row {
                release: "7.1",
                mins: &[UEK3, UEK4],
            },
            Row {
                release: "7.2",
                mins: &[UEK3, UEK4, RHEL_7_2],
            },
            Row {
                release: "7.3",
                mins: &[UEK3, UEK4, RHEL_7_3],
            },
            Row {
                release: "7.4",
                mins: &[UEK3, UEK4, RHEL_7_4],
            },
            Row {
                release: "7.5",
                mins: &[UEK3, UEK4, RHEL_7_5],
            },
            Row {
                release: "7.6",
                mins: &[any("3.10.0-957.21.3"), any("4.14.35-1902.2.0")],
            },
        ],
    },
    Family {
        name: "CoreOS",
        ids: &["coreos"],
        stream: Stream::Series,
        source: KernelSource::Uname,
        rows: &[
            Row {
                release: "2079.6.0",
                mins: &[any("4.19.43")],
            },
            Row {
                release: "2135.3.1",
                mins: &[any("4.19.50")],
            },
            Row {
                release: "2163.2.1",
                mins: &[any("4.19.50")],
            },
        ],
    },
    Family {
        name: "Debian",
        ids: &["debian"],
        stream: Stream::Series,
        source: KernelSource::DebianPackage,
        rows: &[
            // jessie (security) and jessie-backports
            Row {
                release: "8",
                mins: &[any("3.16.68-2"), any("4.9.168-1+deb9u3")],
            },
            // stretch (security) and stretch-backports
            Row {
                release: "9",
                mins: &[any("4.9.168-1+deb9u3"), any("4.19.37-5")],
            },
            // buster: published as "Debian 6.3.0-18+deb9u1" [sic, a gcc version]; buster
            // shipped 4.19.37-5, the row given for "buster, sid (stretch backports)".
            Row {
                release: "10",
                mins: &[any("4.19.37-5")],
            },
        ],
    },
];

impl Check for SackKernelPatch {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &["uname-r", "proc-version", "os-release"]
    }

    fn required(&self, _: &Evidence) -> String {
        REQUIRED.to_string()
    }

    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        evaluate(ev)
    }
}

/// `(major, minor)` and the first number after the dash.
fn stream_key(v: &str) -> Option<(u64, u64, Option<u64>)> {
    let (upstream, release) = v.split_once('-').unwrap_or((v, ""));
    let mut nums = upstream.split('.').map(|n| n.parse::<u64>().ok());
    let major = nums.next()??;
    let minor = nums.next()??;
    let build = release
        .split(['.', '-', '+', '~'])
        .next()
        .and_then(|b| b.parse::<u64>().ok());
    Some((major, minor, build))
}

fn same_stream(kernel: &str, min: &str, stream: Stream) -> bool {
    match (stream_key(kernel), stream_key(min)) {
        (Some(k), Some(m)) => k.0 == m.0 && k.1 == m.1 && (stream == Stream::Series || k.2 == m.2),
        _ => false,
    }
}

/// The Debian kernel package version from /proc/version: `... #1 SMP Debian 4.9.168-1+deb9u3
/// (2019-06-16)` (the gcc part `(Debian 6.3.0-18+deb9u1)` is not followed by a date).
fn debian_package_version(proc_version: &str) -> Option<&str> {
    let mut rest = proc_version;
    while let Some(pos) = rest.find(" Debian ") {
        let after = &rest[pos + " Debian ".len()..];
        let mut words = after.split_whitespace();
        if let (Some(v), Some(date)) = (words.next(), words.next()) {
            let looks_like_date = date.len() == 12
                && date.starts_with('(')
                && date.ends_with(')')
                && date
                    .get(1..11)
                    .is_some_and(|d| d.chars().all(|c| c.is_ascii_digit() || c == '-'));
            if v.starts_with(|c: char| c.is_ascii_digit()) && looks_like_date {
                return Some(v);
            }
        }
        rest = after;
    }
    None
}

/// A release's table row(s): the row whose VERSION_ID matches; for a VERSION_ID without minor
/// (CentOS `7`), every row of that major.
fn rows_for<'f>(family: &'f Family, version_id: &str) -> Vec<&'f Row> {
    let exact: Vec<&Row> = family
        .rows
        .iter()
        .filter(|r| r.release == version_id)
        .collect();
    if !exact.is_empty() || version_id.contains('.') {
        return exact;
    }
    family
        .rows
        .iter()
        .filter(|r| r.release.split('.').next() == Some(version_id))
        .collect()
}

/// Is the release newer than every row of its major (or, without rows of that major, than every
/// row)? Such releases shipped after the fixes.
fn release_newer_than_table(family: &Family, version_id: &str) -> bool {
    let Some(v) = Version::parse(version_id) else {
        return false;
    };
    let major = version_id.split('.').next().unwrap_or("");
    let same_major: Vec<&Row> = family
        .rows
        .iter()
        .filter(|r| r.release.split('.').next() == Some(major))
        .collect();
    let pool: Vec<&Row> = if same_major.is_empty() {
        family.rows.iter().collect()
    } else {
        same_major
    };
    pool.iter()
        .all(|r| Version::parse(r.release).is_some_and(|rv| v > rv))
}

fn family_of(os: &OsRelease) -> Option<&'static Family> {
    let id = os.id();
    TABLE
        .iter()
        .find(|f| f.ids.contains(&id.as_str()))
        .or_else(|| {
            // Rebuilds (Rocky, AlmaLinux, ...) declare ID_LIKE="rhel ..."; only that family is
            // safe to match by likeness, others reuse unrelated version numbers.
            os.id_like()
                .iter()
                .any(|l| l == "rhel")
                .then(|| TABLE.iter().find(|f| f.ids.contains(&"rhel")))
                .flatten()
        })
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let uname = ev.stdout("uname-r")?.trim().to_string();
    if uname.is_empty() {
        return Err(Unevaluable::new("`uname -r` printed nothing"));
    }
    let proc_version = ev.stdout("proc-version")?.trim().to_string();
    let os = OsRelease::parse(&ev.stdout("os-release")?);
    let distro = os.pretty_name().to_string();
    let actual = format!("{distro},{proc_version}");
    let family = family_of(&os);

    let kernel = match family.map(|f| f.source) {
        Some(KernelSource::DebianPackage) => debian_package_version(&proc_version)
            .unwrap_or(&uname)
            .to_string(),
        _ => uname.clone(),
    };
    // A kernel release has at least major.minor (`uname -r` prints major.minor.patch since
    // Linux 3.0); a bare number is no kernel release and would pass as Linux 6.0.
    let kv = Version::parse(&kernel)
        .filter(|_| stream_key(&kernel).is_some())
        .ok_or_else(|| Unevaluable::new(format!("cannot read kernel version `{kernel}`")))?;
    let mainline_fixed = Version::parse(MAINLINE_FIXED).is_some_and(|m| kv >= m);
    let verdict =
        |status, message: String| Ok(Verdict::new(status, actual.clone(), REQUIRED, message));

    let Some(family) = family else {
        if mainline_fixed {
            return verdict(
                Status::Pass,
                format!(
                    "Kernel {kernel} is based on Linux {MAINLINE_FIXED} or newer, which includes the SACK fixes."
                ),
            );
        }
        return verdict(
            Status::Warning,
            format!(
                "{distro} is not in Microsoft's SACK table and kernel {kernel} predates Linux \
                 {MAINLINE_FIXED}; check the vendor's advisory for CVE-2019-11477/11478/11479 and \
                 update the kernel if it is not patched."
            ),
        );
    };
    let version_id = os.version_id().unwrap_or("");
    let rows = rows_for(family, version_id);
    let release = format!(
        "{} {}",
        family.name,
        if version_id.is_empty() {
            "(no VERSION_ID)"
        } else {
            version_id
        }
    );

    if rows.is_empty() {
        if !version_id.is_empty() && release_newer_than_table(family, version_id) {
            return verdict(
                Status::Pass,
                format!(
                    "{release} was released after the SACK fixes (newer than every {} release in the table).",
                    family.name
                ),
            );
        }
        if mainline_fixed {
            return verdict(
                Status::Pass,
                format!(
                    "Kernel {kernel} is based on Linux {MAINLINE_FIXED} or newer, which includes the SACK fixes."
                ),
            );
        }
        return verdict(
            Status::Warning,
            format!(
                "{release} is not in Microsoft's SACK table and kernel {kernel} predates Linux \
                 {MAINLINE_FIXED}; check the vendor's advisory for CVE-2019-11477 and update the \
                 kernel if it is not patched."
            ),
        );
    }

    let mins: Vec<&Min> = rows
        .iter()
        .flat_map(|r| r.mins.iter())
        .filter(|m| m.flavour.is_none_or(|f| uname.contains(&format!("-{f}"))))
        .collect();
    if let Some(min) = mins
        .iter()
        .find(|m| same_stream(&kernel, m.kernel, family.stream))
    {
        let mv = Version::parse(min.kernel)
            .ok_or_else(|| Unevaluable::new("bad kernel in the SACK table"))?;
        if kv >= mv {
            return verdict(
                Status::Pass,
                format!(
                    "Kernel {kernel} is at least {}, the first patched kernel of its stream for {release}.",
                    min.kernel
                ),
            );
        }
        return verdict(
            Status::Fail,
            format!(
                "Kernel {kernel} is older than {}, the first kernel of its stream with the SACK fixes \
                 (CVE-2019-11477/11478/11479) for {release}. Update the kernel package and reboot into \
                 it before capturing the image.",
                min.kernel
            ),
        );
    }
    if mainline_fixed {
        return verdict(
            Status::Pass,
            format!(
                "Kernel {kernel} is based on Linux {MAINLINE_FIXED} or newer, which includes the SACK fixes."
            ),
        );
    }
    let newer_than_all = !mins.is_empty()
        && mins
            .iter()
            .all(|m| Version::parse(m.kernel).is_some_and(|mv| kv > mv));
    if newer_than_all {
        return verdict(
            Status::Pass,
            format!(
                "Kernel {kernel} is newer than every patched kernel the table lists for {release}."
            ),
        );
    }
    let listed: Vec<String> = rows
        .iter()
        .flat_map(|r| r.mins.iter())
        .map(|m| match m.flavour {
            Some(f) => format!("{}-{f}", m.kernel),
            None => m.kernel.to_string(),
        })
        .collect();
    verdict(
        Status::Warning,
        format!(
            "Kernel {kernel} is not of a stream Microsoft's SACK table lists for {release} ({}); check \
             the vendor's advisory for CVE-2019-11477 and update the kernel if it is not patched.",
            listed.join(", ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_version_skips_the_gcc_part() {
        let pv = "Linux version 4.9.0-9-amd64 (debian-kernel@lists.debian.org) (gcc version 6.3.0 20170516 (Debian 6.3.0-18+deb9u1) ) #1 SMP Debian 4.9.168-1+deb9u3 (2019-06-16)";
        assert_eq!(debian_package_version(pv), Some("4.9.168-1+deb9u3"));
        assert_eq!(
            debian_package_version("Linux version 6.1.0 (x@y) #1 SMP"),
            None
        );
    }

    #[test]
    fn streams() {
        assert!(same_stream(
            "3.10.0-957.el7.x86_64",
            "3.10.0-957.21.3",
            Stream::SeriesAndBuild
        ));
        assert!(!same_stream(
            "3.10.0-1062.el7.x86_64",
            "3.10.0-957.21.3",
            Stream::SeriesAndBuild
        ));
        assert!(same_stream(
            "4.9.168-1+deb9u2",
            "4.9.168-1+deb9u3",
            Stream::Series
        ));
        assert!(same_stream(
            "4.12.14-6.15-azure",
            "4.12.14-6.15",
            Stream::SeriesAndBuild
        ));
        assert!(!same_stream(
            "4.12.14-95.19-default",
            "4.12.14-6.15",
            Stream::SeriesAndBuild
        ));
    }

    #[test]
    fn centos_major_only_release_uses_all_its_rows() {
        let rhel = &TABLE[1];
        assert_eq!(rows_for(rhel, "7").len(), 6);
        assert_eq!(rows_for(rhel, "7.6").len(), 1);
        assert!(rows_for(rhel, "7.9").is_empty());
        assert!(release_newer_than_table(rhel, "7.9"));
        assert!(release_newer_than_table(rhel, "9.2"));
        assert!(!release_newer_than_table(rhel, "6.9"));
        assert!(release_newer_than_table(&TABLE[0], "20.04"));
        assert!(!release_newer_than_table(&TABLE[0], "17.10"));
    }

    /// Found by the property tests (issue 17): `uname -r` printing a bare `6` passed as a kernel
    /// based on Linux 6.0.
    #[test]
    fn a_bare_number_is_no_kernel_release() {
        let mut ev = Evidence::new(crate::Profile::Current);
        ev.insert("uname-r", crate::ProbeOutput::exited(0, "6\n"));
        ev.insert("proc-version", crate::ProbeOutput::exited(0, ""));
        ev.insert("os-release", crate::ProbeOutput::exited(0, ""));
        let v = SackKernelPatch.evaluate(&ev);
        assert_eq!(v.status, Status::Error, "{v:?}");
        assert!(
            v.message.contains("cannot read kernel version `6`"),
            "{v:?}"
        );
    }

    #[test]
    fn kernel_ordering_with_vendor_suffixes() {
        let v = |s| Version::parse(s).unwrap();
        assert!(v("3.10.0-957.21.3.el7.x86_64") >= v("3.10.0-957.21.3"));
        assert!(v("3.10.0-957.el7.x86_64") < v("3.10.0-957.21.3"));
        assert!(v("4.12.14-6.15-azure") >= v("4.12.14-6.15"));
        assert!(v("4.9.168-1+deb9u2") < v("4.9.168-1+deb9u3"));
        assert!(v("4.15.0-1049-azure") >= v("4.15.0-1049"));
    }
}
