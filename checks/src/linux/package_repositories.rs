//! LISA's verify_repository_installed (priority 1): a VM made from the image must reach the
//! distribution's (Azure-hosted or registered) package repositories, or it cannot be patched.

use crate::evidence::Evidence;
use crate::linux::config_files::{RepoSection, by_file, repo_sections};
use crate::linux::family::{Distro, Family};
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::{Check, Unevaluable};

/// The configured package sources are the ones LISA expects for the distribution.
#[derive(Debug)]
pub struct PackageRepositories;

static META: Meta = Meta {
    id: "package-repositories",
    title: "Distribution package repositories configured",
    test_id: None,
    test_case_name: None,
    description: "The package manager is configured with the distribution's repositories that \
                  Azure VMs use (LISA verify_repository_installed).",
    rationale: "Microsoft's LISA suite (azure_image_standard, verify_repository_installed, \
                priority 1) fails an image whose VMs cannot install updates from the expected \
                repositories: Ubuntu must use azure.archive.ubuntu.com with the -updates and \
                -security suites; Debian deb.debian.org, debian-archive.trafficmanager.net or \
                azure.deb.debian.cloud; SLES its Pool and Updates repositories (openSUSE an oss \
                and an update one); Oracle Linux a `latest` repository; the RHEL family a base \
                repository (an id with base, baseos, rhel, fedora, centos or rhui), RHEL itself \
                more than five rhui-* repositories; Azure Linux 3 azurelinux-official-base, \
                -ms-oss and -ms-non-oss (CBL-Mariner its mariner-official ones). LISA runs `apt-get update` / `yum repolist` / `zypper lr` on a \
                deployed VM; vmcert reads the configured sources only (apt sources.list, \
                sources.list.d *.list and deb822 *.sources; /etc/yum.repos.d; \
                /etc/zypp/repos.d), enabled entries only, and never touches the network of the \
                target, so a configured but unreachable mirror is not detected (LISA's `Hit:` \
                test). Credentials and URL query strings are masked on the VM.",
    remediation: "Point the package manager at the distribution's Azure repositories before \
                  capturing the image (Ubuntu: azure.archive.ubuntu.com with -updates and \
                  -security; Debian: deb.debian.org; RHEL: the RHUI client package; SLES: \
                  register with SUSE's public cloud update infrastructure), and remove private \
                  mirrors.",
    os: Os::Linux,
    severity: Severity::High,
    since: "0.2.0",
    inferred: false,
    outcomes: &[Status::Pass, Status::Warning, Status::Fail, Status::Error],
    knobs: &[],
};

const PROBE: ProbeId = "package-sources";

impl Check for PackageRepositories {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &["os-release", PROBE, "uname-m"]
    }

    fn required(&self, _: &Evidence) -> String {
        "distribution repositories".to_string()
    }

    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        evaluate(ev)
    }
}

/// One apt source: its URI and suite.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AptSource {
    uri: String,
    suite: String,
}

/// One-line `deb [options] URI suite [components]` entries of *.list files.
fn apt_one_line(lines: &[&str], out: &mut Vec<AptSource>) {
    for line in lines {
        let line = line.split('#').next().unwrap_or("").trim();
        let mut words = line.split_whitespace();
        if words.next() != Some("deb") {
            continue;
        }
        let mut rest: Vec<&str> = words.collect();
        if rest.first().is_some_and(|w| w.starts_with('[')) {
            let end = rest.iter().position(|w| w.ends_with(']')).unwrap_or(0);
            rest.drain(..=end);
        }
        if let (Some(uri), Some(suite)) = (rest.first(), rest.get(1)) {
            out.push(AptSource {
                uri: (*uri).to_string(),
                suite: (*suite).to_string(),
            });
        }
    }
}

/// deb822 stanzas of *.sources files (`Types: deb`, `URIs:`, `Suites:`, `Enabled:`).
fn apt_deb822(lines: &[&str], out: &mut Vec<AptSource>) {
    let mut stanzas: Vec<Vec<&str>> = vec![Vec::new()];
    for line in lines {
        if line.trim().is_empty() {
            stanzas.push(Vec::new());
        } else if !line.trim_start().starts_with('#')
            && let Some(s) = stanzas.last_mut()
        {
            s.push(line);
        }
    }
    for stanza in stanzas {
        let field = |name: &str| -> Vec<&str> {
            stanza
                .iter()
                .filter_map(|l| l.split_once(':'))
                .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
                .flat_map(|(_, v)| v.split_whitespace())
                .collect()
        };
        if !field("Types").contains(&"deb") {
            continue;
        }
        if field("Enabled")
            .first()
            .is_some_and(|v| v.eq_ignore_ascii_case("no"))
        {
            continue;
        }
        for uri in field("URIs") {
            for suite in field("Suites") {
                out.push(AptSource {
                    uri: uri.to_string(),
                    suite: suite.to_string(),
                });
            }
        }
    }
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let family = Family::from_evidence(ev)?;
    let text = ev.stdout(PROBE)?;
    let files = by_file(&text, &[".repo", ".list", ".sources"]);
    let mut apt = Vec::new();
    let mut repo_files: Vec<(&str, &[&str])> = Vec::new();
    for (file, lines) in &files {
        if file.ends_with(".sources") {
            apt_deb822(lines, &mut apt);
        } else if file.starts_with("/etc/apt/") {
            apt_one_line(lines, &mut apt);
        } else if file.ends_with(".repo") {
            repo_files.push((file, lines.as_slice()));
        }
    }
    let all_repos: Vec<RepoSection> = repo_sections(repo_files);
    let repos: Vec<&RepoSection> = all_repos.iter().filter(|r| r.enabled).collect();
    let found = {
        let mut f: Vec<String> = apt
            .iter()
            .map(|s| format!("{} {}", s.uri, s.suite))
            .collect();
        f.extend(repos.iter().map(|r| r.id.clone()));
        f.dedup();
        if f.is_empty() {
            "no enabled package source".to_string()
        } else {
            f.join(", ")
        }
    };
    let any_id = |pred: &dyn Fn(&str) -> bool| repos.iter().any(|r| pred(&r.id));
    let need = |ok: bool, what: &str| -> Vec<String> {
        if ok {
            Vec::new()
        } else {
            vec![what.to_string()]
        }
    };
    let (required, missing): (String, Vec<String>) = match family.distro {
        Distro::Ubuntu => {
            let arm = ev
                .stdout("uname-m")
                .is_ok_and(|m| matches!(m.trim(), "aarch64" | "arm64"));
            let host = if arm {
                "ports.ubuntu.com"
            } else {
                "azure.archive.ubuntu.com"
            };
            let mut m = need(
                apt.iter().any(|s| s.uri.contains(host)),
                &format!("a source on {host}"),
            );
            for suffix in ["-updates", "-security"] {
                m.extend(need(
                    apt.iter().any(|s| s.suite.contains(suffix)),
                    &format!("a {suffix} suite"),
                ));
            }
            (format!("{host} with -updates and -security suites"), m)
        }
        Distro::Debian => {
            const HOSTS: [&str; 3] = [
                "deb.debian.org",
                "debian-archive.trafficmanager.net",
                "azure.deb.debian.cloud/debian",
            ];
            let ok = apt.iter().any(|s| HOSTS.iter().any(|h| s.uri.contains(h)));
            (
                "a source on deb.debian.org, debian-archive.trafficmanager.net or azure.deb.debian.cloud".to_string(),
                need(ok, "a source on one of these hosts"),
            )
        }
        Distro::Sles => {
            // LISA greps `zypper lr` (alias and name columns), case-sensitively.
            let has = |w: &str| {
                repos
                    .iter()
                    .any(|r| r.id.contains(w) || r.name.as_deref().is_some_and(|n| n.contains(w)))
            };
            let mut m = need(has("Pool"), "a Pool repository");
            m.extend(need(has("Updates"), "an Updates repository"));
            ("Pool and Updates repositories".to_string(), m)
        }
        Distro::SuseLike => {
            // openSUSE: an `oss` and an `update` repository (alias or name, lower case), neither
            // debug nor non-oss.
            let has = |w: &str| {
                repos.iter().any(|r| {
                    let full = format!("{} {}", r.id, r.name.as_deref().unwrap_or(""))
                        .to_ascii_lowercase();
                    full.contains(w) && !full.contains("debug") && !full.contains("non")
                })
            };
            let mut m = need(has("oss"), "an oss repository");
            m.extend(need(has("update"), "an update repository"));
            ("oss and update repositories".to_string(), m)
        }
        Distro::Oracle => (
            "a `latest` repository".to_string(),
            need(
                any_id(&|id| id.contains("latest")),
                "an enabled repository whose id contains `latest`",
            ),
        ),
        Distro::Rhel
        | Distro::Alma
        | Distro::Rocky
        | Distro::CentOs
        | Distro::Fedora
        | Distro::RhelLike => {
            const BASE: [&str; 6] = ["base", "baseos", "rhel", "fedora", "centos", "rhui"];
            let mut m = need(
                any_id(&|id| {
                    let id = id.to_ascii_lowercase();
                    BASE.iter().any(|b| id.contains(b))
                }),
                "an enabled base repository (id with base, baseos, rhel, fedora, centos or rhui)",
            );
            let mut required = "a base or baseos repository".to_string();
            if family.distro == Distro::Rhel {
                // LISA: `yum repolist all` lists more than five rhui-* repositories.
                let rhui = all_repos.iter().filter(|r| r.id.contains("rhui-")).count();
                m.extend(need(
                    rhui > 5,
                    &format!("more than five rhui-* repositories (found {rhui})"),
                ));
                required = "RHUI repositories (more than five rhui-*)".to_string();
            }
            (required, m)
        }
        Distro::AzureLinux | Distro::Mariner if family.major.is_some() => {
            let ids: &[&str] = match (family.distro, family.major) {
                (Distro::AzureLinux, _) => &[
                    "azurelinux-official-base",
                    "azurelinux-official-ms-oss",
                    "azurelinux-official-ms-non-oss",
                ],
                (_, Some(1)) => &[
                    "mariner-official-base",
                    "mariner-official-microsoft",
                    "mariner-official-update",
                ],
                _ => &[
                    "mariner-official-base",
                    "mariner-official-microsoft",
                    "mariner-official-extras",
                ],
            };
            let m = ids
                .iter()
                .filter(|id| !any_id(&|r| r.contains(**id)))
                .map(|id| format!("the {id} repository"))
                .collect();
            (format!("the {} repositories", ids.join(", ")), m)
        }
        _ => {
            return Ok(Verdict::new(
                Status::Warning,
                found,
                "distribution repositories",
                format!(
                    "{} is not a distribution LISA's verify_repository_installed has a rule for \
                     (Ubuntu, Debian, SUSE, Oracle Linux, the RHEL family, Azure Linux): check by \
                     hand that VMs get updates from the vendor's repositories.",
                    family.pretty
                ),
            ));
        }
    };
    if missing.is_empty() {
        return Ok(Verdict::new(
            Status::Pass,
            found,
            required.clone(),
            format!("{} is configured with {required}.", family.pretty),
        ));
    }
    Ok(Verdict::new(
        Status::Fail,
        found.clone(),
        required.clone(),
        format!(
            "{} needs {required}, but {} missing (configured: {found}). VMs made from the image \
             would not get the distribution's updates from Azure's repositories.",
            family.pretty,
            if missing.len() == 1 {
                format!("{} is", missing[0])
            } else {
                format!("{} are", missing.join(" and "))
            }
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_and_deb822() {
        let mut out = Vec::new();
        apt_one_line(
            &[
                "deb [arch=amd64 signed-by=/x.gpg] http://azure.archive.ubuntu.com/ubuntu/ jammy-updates main",
                "# deb http://archive.ubuntu.com/ubuntu jammy main",
                "deb-src http://azure.archive.ubuntu.com/ubuntu/ jammy main",
            ],
            &mut out,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].suite, "jammy-updates");
        let mut out = Vec::new();
        apt_deb822(
            &[
                "Types: deb",
                "URIs: http://azure.archive.ubuntu.com/ubuntu/",
                "Suites: noble noble-updates noble-backports",
                "Components: main",
                "",
                "Types: deb",
                "URIs: http://private.example/ubuntu",
                "Suites: noble-security",
                "Enabled: no",
            ],
            &mut out,
        );
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].uri, "http://azure.archive.ubuntu.com/ubuntu/");
    }
}
