//! Images must ship with every security update applied; this check asks the package manager,
//! offline, which security updates it already knows to be pending.

use std::collections::BTreeSet;

use crate::evidence::{ABSENT, Evidence};
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::{Check, Unevaluable};

/// The package manager knows no pending security update.
#[derive(Debug)]
pub struct SecurityUpdatesPending;

static META: Meta = Meta {
    id: "security-updates-pending",
    title: "No pending security updates",
    test_id: None,
    test_case_name: None,
    description: "The package manager's local metadata lists no pending security update.",
    rationale: "Microsoft's image guidelines: \"Install all security patches for your \
                distribution\" (questionnaire GA1). vmcert asks the package manager without \
                touching the network: apt (`apt-get -s upgrade`, counting `Inst` lines whose \
                origin is a `-security` suite, and `apt-cache policy` to know whether a security \
                suite is in the local lists at all), dnf/yum (`updateinfo list --security` from \
                the cache only) and zypper (`list-patches --category security` without refresh). \
                Pending security updates give a Warning with the count. When the package manager \
                has no local metadata to compare with (apt lists deleted or without a security \
                suite, no dnf cache, no zypper repository) the answer is unknown, also a Warning \
                saying so. The result is only as fresh as the local metadata: refresh it before \
                the run. No known package manager: NotApplicable.",
    remediation: "Apply the updates and rebuild the image: `sudo apt-get update && sudo apt-get \
                  upgrade` (or `dist-upgrade` for kept-back packages such as a new kernel), `sudo \
                  dnf upgrade --security`, `sudo zypper patch --category security`. Keep the \
                  distribution's security repository configured.",
    os: Os::Linux,
    severity: Severity::Medium,
    since: "0.1.0",
    inferred: false,
    outcomes: &[
        Status::Pass,
        Status::Warning,
        Status::NotApplicable,
        Status::Error,
    ],
    knobs: &[],
};

const REQUIRED: &str = "0 pending security updates";
const PROBE: &str = "pending-updates";
const LISTED: usize = 15;

impl Check for SecurityUpdatesPending {
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
    let out = ev.completed(PROBE)?;
    if out.exit_code == Some(ABSENT) {
        return Ok(Verdict::new(
            Status::NotApplicable,
            "no known package manager",
            REQUIRED,
            "None of apt-get, dnf, yum or zypper was found, so pending updates cannot be listed.",
        ));
    }
    let stdout = out.stdout_text();
    let manager = stdout
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("manager: "))
        .ok_or_else(|| {
            Unevaluable::new("pending-updates output does not start with `manager: NAME`")
        })?
        .trim()
        .to_string();
    let stderr = out.stderr_text();
    match manager.as_str() {
        "apt" => apt(&ev.stdout(PROBE)?),
        "dnf" | "yum"
            if out.exit_code == Some(1) && stderr.contains("Cache-only enabled but no cache") =>
        {
            let detail = stderr
                .lines()
                .find(|l| l.contains("no cache"))
                .unwrap_or("")
                .trim();
            Ok(unknown(
                &format!("{manager} has no cached metadata to compare with ({detail})"),
                &format!("run `sudo {manager} makecache` and run vmcert again"),
            ))
        }
        "dnf" | "yum" => rpm_advisories(&manager, &ev.stdout(PROBE)?),
        "zypper" if matches!(out.exit_code, Some(0 | 106)) => {
            zypper(&stdout, out.exit_code == Some(106))
        }
        "zypper" => Err(ev
            .stdout(PROBE)
            .err()
            .unwrap_or_else(|| Unevaluable::new("zypper failed"))),
        other => Err(Unevaluable::new(format!(
            "unknown package manager `{other}`"
        ))),
    }
}

fn pending(manager: &str, items: &[String], what: &str, note: &str) -> Verdict {
    let mut listed: Vec<String> = items.iter().take(LISTED).cloned().collect();
    if items.len() > LISTED {
        listed.push(format!("and {} more", items.len() - LISTED));
    }
    Verdict::new(
        Status::Warning,
        format!("{} pending security update(s)", items.len()),
        REQUIRED,
        format!(
            "{manager} lists {} pending security {what}: {}.{note}",
            items.len(),
            listed.join(", ")
        ),
    )
}

fn unknown(why: &str, todo: &str) -> Verdict {
    Verdict::new(
        Status::Warning,
        "unknown",
        REQUIRED,
        format!("Could not tell whether security updates are pending: {why}; {todo}."),
    )
}

fn none_pending(manager: &str, note: &str) -> Verdict {
    Verdict::new(
        Status::Pass,
        "0 pending security updates",
        REQUIRED,
        format!("{manager} lists no pending security update in its local metadata.{note}"),
    )
}

/// `apt-get -s upgrade` followed by `apt-cache policy`.
fn apt(text: &str) -> Result<Verdict, Unevaluable> {
    let (simulation, policy) = text.split_once("\nPackage files:\n").ok_or_else(|| {
        Unevaluable::new("no `apt-cache policy` output after the apt-get simulation")
    })?;
    let mut security = Vec::new();
    let mut other = 0;
    for line in simulation.lines().filter(|l| l.starts_with("Inst ")) {
        let (name, is_upgrade, is_security) = inst_line(line)?;
        if !is_upgrade {
            continue;
        }
        if is_security {
            security.push(name);
        } else {
            other += 1;
        }
    }
    let kept_back = kept_back(simulation);
    let mut note = String::new();
    if other > 0 {
        note.push_str(&format!(
            " {other} other (non-security) upgrade(s) are pending too."
        ));
    }
    if kept_back > 0 {
        note.push_str(&format!(
            " {kept_back} package(s) are kept back (they need new packages, e.g. a new kernel; \
             `apt-get dist-upgrade` installs them)."
        ));
    }
    if !security.is_empty() {
        return Ok(pending("apt", &security, "upgrade(s)", &note));
    }
    let suites = security_suites(policy);
    if !policy
        .lines()
        .any(|l| l.trim_start().starts_with("release ") && !l.contains("a=now"))
    {
        return Ok(unknown(
            "apt has no package lists at all (/var/lib/apt/lists is empty, as after an image \
             clean-up)",
            "run `sudo apt-get update` and run vmcert again",
        ));
    }
    if suites.is_empty() {
        return Ok(unknown(
            "apt's package lists contain no security suite (no -security source is configured, \
             or its lists were removed)",
            "configure the distribution's security repository, run `sudo apt-get update` and run \
             vmcert again",
        ));
    }
    note.insert_str(
        0,
        &format!(" Security suite(s) known: {}.", suites.join(", ")),
    );
    Ok(none_pending("apt", &note))
}

/// Name, whether it upgrades an installed package, and whether a candidate origin is a
/// security suite. `Inst NAME [OLD] (NEW Label:Version/Archive, ... [ARCH]) ...`.
fn inst_line(line: &str) -> Result<(String, bool, bool), Unevaluable> {
    let bad = || Unevaluable::new(format!("unparsable apt-get line: {line}"));
    let rest = line.strip_prefix("Inst ").ok_or_else(bad)?;
    let (name, rest) = rest.split_once(' ').ok_or_else(bad)?;
    let rest = rest.trim_start();
    let is_upgrade = rest.starts_with('[');
    let open = rest.find('(').ok_or_else(bad)?;
    let close = rest[open..].find(')').ok_or_else(bad)? + open;
    let inside = &rest[open + 1..close];
    let origins = inside.split_once(' ').map_or("", |(_, o)| o);
    let origins = origins.rsplit_once(" [").map_or(origins, |(o, _)| o);
    let is_security = origins.split(", ").any(|o| {
        let (label, archive) = o.split_once(':').unwrap_or(("", o));
        let archive = archive.rsplit('/').next().unwrap_or(archive);
        label.to_ascii_lowercase().contains("security") || archive.ends_with("-security")
    });
    Ok((name.to_string(), is_upgrade, is_security))
}

/// Packages under "The following packages have been kept back:".
fn kept_back(simulation: &str) -> usize {
    let mut lines = simulation
        .lines()
        .skip_while(|l| !l.starts_with("The following packages have been kept back"));
    lines.next();
    lines
        .take_while(|l| l.starts_with(' '))
        .map(|l| l.split_whitespace().count())
        .sum()
}

/// Security suites among the `release` lines of `apt-cache policy`.
fn security_suites(policy: &str) -> Vec<String> {
    let mut out = BTreeSet::new();
    for line in policy.lines().map(str::trim) {
        let Some(fields) = line.strip_prefix("release ") else {
            continue;
        };
        let field = |k: &str| {
            fields
                .split(',')
                .find_map(|f| f.strip_prefix(k))
                .unwrap_or("")
        };
        let (archive, codename, label) = (field("a="), field("n="), field("l="));
        if archive.ends_with("-security")
            || codename.ends_with("-security")
            || label.to_ascii_lowercase().contains("security")
        {
            let name = if codename.is_empty() {
                archive
            } else {
                codename
            };
            out.insert(name.to_string());
        }
    }
    out.into_iter().collect()
}

/// `dnf updateinfo list --security` (dnf4: `ID Severity/Sec. NEVRA`; dnf5: a
/// `Name Type Severity Package Issued` table) or yum's `updateinfo list security`.
fn rpm_advisories(manager: &str, text: &str) -> Result<Verdict, Unevaluable> {
    let mut advisories = BTreeSet::new();
    let mut packages = Vec::new();
    for line in text
        .lines()
        .skip(1)
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        let t: Vec<&str> = line.split_whitespace().collect();
        let noise = [
            "Last metadata expiration check",
            "Security: ",
            "Loaded plugins",
            "updateinfo list done",
            "Updates Information Summary",
        ];
        if noise.iter().any(|n| line.starts_with(n))
            || (t.first() == Some(&"Name") && t.contains(&"Severity"))
        {
            continue;
        }
        let row = match t.as_slice() {
            // dnf4 and yum (`i ` marks installed ones in mixed listings).
            [id, label, nevra] | ["i", id, label, nevra]
                if label.ends_with("/Sec.") || *label == "security" =>
            {
                Some((*id, *nevra))
            }
            // dnf5: Name Type Severity Package Issued(date time)
            [id, "security", _severity, nevra, ..] => Some((*id, *nevra)),
            _ => None,
        };
        let Some((id, nevra)) = row else {
            return Err(Unevaluable::new(format!(
                "unparsable {manager} updateinfo line: {line}"
            )));
        };
        advisories.insert(id.to_string());
        packages.push(format!("{nevra} ({id})"));
    }
    if packages.is_empty() {
        return Ok(none_pending(
            manager,
            " (This relies on the repositories publishing security advisories, updateinfo.)",
        ));
    }
    let note = format!(
        " {} advisory(ies): {}.",
        advisories.len(),
        advisories.iter().cloned().collect::<Vec<_>>().join(", ")
    );
    Ok(pending(manager, &packages, "package update(s)", &note))
}

/// `zypper list-patches --category security` (the table of needed patches).
fn zypper(text: &str, skipped: bool) -> Result<Verdict, Unevaluable> {
    if text.contains("No repositories defined") {
        return Ok(unknown(
            "zypper has no repository defined",
            "add the distribution's update repositories and run vmcert again",
        ));
    }
    let mut patches = Vec::new();
    let mut columns: Option<Vec<String>> = None;
    for line in text.lines() {
        if !line.contains('|') {
            if line.trim().is_empty() {
                columns = None;
            }
            continue;
        }
        let cells: Vec<String> = line.split('|').map(|c| c.trim().to_string()).collect();
        let Some(cols) = &columns else {
            if cells.iter().any(|c| c == "Category") && cells.iter().any(|c| c == "Name") {
                columns = Some(cells);
            }
            continue;
        };
        let cell = |name: &str| {
            cols.iter()
                .position(|c| c == name)
                .and_then(|i| cells.get(i))
                .map(String::as_str)
        };
        let (Some(name), Some(category)) = (cell("Name"), cell("Category")) else {
            return Err(Unevaluable::new(format!("unparsable zypper row: {line}")));
        };
        let needed = cell("Status").is_none_or(|s| s == "needed");
        if category == "security" && needed {
            patches.push(format!("{name} ({})", cell("Severity").unwrap_or("?")));
        }
    }
    let note = if skipped {
        " Some repositories were skipped (no usable cached metadata)."
    } else {
        ""
    };
    if !patches.is_empty() {
        return Ok(pending("zypper", &patches, "patch(es)", note));
    }
    if skipped {
        return Ok(unknown(
            "zypper skipped some repositories for lack of cached metadata",
            "run `sudo zypper refresh` and run vmcert again",
        ));
    }
    Ok(none_pending("zypper", ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inst_lines_and_origins() {
        let debian = "Inst libssl3 [3.0.20-1~deb12u2] (3.0.22-1~deb12u2 Debian-Security:12/oldstable-security [amd64])";
        assert_eq!(
            inst_line(debian).unwrap(),
            ("libssl3".to_string(), true, true)
        );
        // apt lists every origin of the candidate (pkgCache::VerIterator::RelStr).
        let ubuntu = "Inst libc6 [2.35-0ubuntu3.1] (2.35-0ubuntu3.4 Ubuntu:22.04/jammy-updates, Ubuntu:22.04/jammy-security [amd64]) []";
        assert_eq!(
            inst_line(ubuntu).unwrap(),
            ("libc6".to_string(), true, true)
        );
        let updates = "Inst util-linux [2.39.3-9ubuntu6.1] (2.39.3-9ubuntu6.2 Ubuntu:24.04/noble-updates [amd64])";
        assert_eq!(
            inst_line(updates).unwrap(),
            ("util-linux".to_string(), true, false)
        );
        let new = "Inst python3-dateutil (2.8.2-3ubuntu1 Ubuntu:24.04/noble [all])";
        assert_eq!(
            inst_line(new).unwrap(),
            ("python3-dateutil".to_string(), false, false)
        );
        assert!(inst_line("Inst broken").is_err());
    }

    #[test]
    fn kept_back_packages() {
        let sim = "Calculating upgrade...\nThe following packages have been kept back:\n  linux-image-cloud-amd64 linux-headers\n  grub-pc\n0 upgraded, 0 newly installed, 0 to remove and 3 not upgraded.\n";
        assert_eq!(kept_back(sim), 3);
    }

    #[test]
    fn dnf4_and_dnf5_rows() {
        // dnf4 layout: '%-*s %-*s %s' (dnf/cli/commands/updateinfo.py).
        let dnf4 = "manager: dnf\nHCE2-SA-2022-0006 Critical/Sec. curl-7.79.1-2.h6.hce2.x86_64\nHCE2-SA-2022-0006 Critical/Sec. libcurl-7.79.1-2.h6.hce2.x86_64\n";
        let v = rpm_advisories("dnf", dnf4).unwrap();
        assert_eq!(
            (v.status, v.actual.as_str()),
            (Status::Warning, "2 pending security update(s)")
        );
        // dnf5 layout: columns Name, Type, Severity, Package, Issued (libdnf5-cli advisorylist).
        let dnf5 = "manager: dnf\nName                     Type     Severity  Package                          Issued\nFEDORA-2024-1a2b3c4d5e security Important openssl-1:3.2.2-3.fc40.x86_64 2024-07-01 00:00:00\n";
        assert_eq!(
            rpm_advisories("dnf", dnf5).unwrap().actual,
            "1 pending security update(s)"
        );
        assert!(rpm_advisories("dnf", "manager: dnf\nsomething unexpected\n").is_err());
    }
}
