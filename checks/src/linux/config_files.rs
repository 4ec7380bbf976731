//! Shapes of configuration files several LISA-parity checks read: probe outputs made of `== name`
//! sections, `file:line` listings (grep -H), shell-style `KEY=value` files (RHEL's
//! /etc/sysconfig, SUSE's sysconfig, ifcfg) and INI sections (yum/dnf and zypper `.repo`).
//! Parsed once here so every check reads them the same way.

use std::collections::BTreeMap;

/// `== NAME` headers and the lines after each, in order. Lines before the first header are
/// dropped (probes print none).
pub(crate) fn sections(text: &str) -> Vec<(&str, Vec<&str>)> {
    let mut out: Vec<(&str, Vec<&str>)> = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("== ") {
            out.push((name.trim(), Vec::new()));
        } else if let Some((_, lines)) = out.last_mut() {
            lines.push(line);
        }
    }
    out
}

/// The lines of the section called `name`, if the probe printed it.
pub(crate) fn section<'a>(
    secs: &'a [(&'a str, Vec<&'a str>)],
    name: &str,
) -> Option<&'a [&'a str]> {
    secs.iter()
        .find(|(n, _)| *n == name)
        .map(|(_, l)| l.as_slice())
}

/// `file:line` output of `grep -H ''` grouped by file, in the order files first appear. File
/// names may contain `:` (zypper's `Product:Repo.repo`), so the file ends at the first
/// `<suffix>:` of `suffixes` when one is given, else at the first `:`.
pub(crate) fn by_file<'a>(text: &'a str, suffixes: &[&str]) -> Vec<(&'a str, Vec<&'a str>)> {
    let mut out: Vec<(&str, Vec<&str>)> = Vec::new();
    for line in text.lines() {
        let end = suffixes
            .iter()
            .filter_map(|s| line.find(&format!("{s}:")).map(|i| i + s.len()))
            .min()
            .or_else(|| line.find(':'));
        let Some((file, rest)) = end.map(|i| (&line[..i], &line[i + 1..])) else {
            continue;
        };
        match out.iter_mut().find(|(f, _)| *f == file) {
            Some((_, lines)) => lines.push(rest),
            None => out.push((file, vec![rest])),
        }
    }
    out
}

/// Shell-style `KEY=value` assignments (`export` allowed, comments and blanks skipped, one level
/// of single or double quotes removed, a trailing ` # comment` after an unquoted value cut); a
/// later assignment wins.
pub(crate) fn shell_vars<'a>(lines: impl IntoIterator<Item = &'a str>) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    for line in lines {
        let line = line.trim();
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, raw)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let raw = raw.trim();
        let value = if let Some(q) = raw.strip_prefix('"') {
            q.split('"').next().unwrap_or("")
        } else if let Some(q) = raw.strip_prefix('\'') {
            q.split('\'').next().unwrap_or("")
        } else {
            raw.split(" #").next().unwrap_or("").trim()
        };
        vars.insert(key.to_string(), value.to_string());
    }
    vars
}

/// One `[id]` section of a `.repo` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RepoSection {
    /// The file it came from.
    pub(crate) file: String,
    /// The section name (the repository id / zypper alias).
    pub(crate) id: String,
    /// `name=`, when set.
    pub(crate) name: Option<String>,
    /// `enabled=` is not 0 (yum, dnf and zypper all default to enabled).
    pub(crate) enabled: bool,
    /// `baseurl=`, `mirrorlist=` and `metalink=` values.
    pub(crate) urls: Vec<String>,
}

/// The sections of INI-style repository files given as (file, lines).
pub(crate) fn repo_sections<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a [&'a str])>,
) -> Vec<RepoSection> {
    let mut out: Vec<RepoSection> = Vec::new();
    for (file, lines) in files {
        let mut current: Option<RepoSection> = None;
        for line in lines {
            let line = line.trim();
            if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
                continue;
            }
            if let Some(id) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                out.extend(current.take());
                current = Some(RepoSection {
                    file: file.to_string(),
                    id: id.trim().to_string(),
                    name: None,
                    enabled: true,
                    urls: Vec::new(),
                });
                continue;
            }
            let (Some(sec), Some((k, v))) = (current.as_mut(), line.split_once('=')) else {
                continue;
            };
            let v = v.trim();
            match k.trim().to_ascii_lowercase().as_str() {
                "name" => sec.name = Some(v.to_string()),
                "enabled" => sec.enabled = !matches!(v, "0" | "false" | "no" | "False" | "No"),
                "baseurl" | "mirrorlist" | "metalink" => sec.urls.push(v.to_string()),
                _ => {}
            }
        }
        out.extend(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_and_files() {
        let s = sections("== /a\nx=1\n\n== /b\n== nmcli\neth0:ethernet:connected:x\n");
        assert_eq!(s.len(), 3);
        assert_eq!(section(&s, "/a"), Some(&["x=1", ""][..]));
        assert_eq!(section(&s, "/b"), Some(&[][..]));
        assert_eq!(section(&s, "/c"), None);
        let f = by_file("/a:1\n/b:2\n/a:3\n", &[]);
        assert_eq!(f, vec![("/a", vec!["1", "3"]), ("/b", vec!["2"])]);
        let f = by_file("/r.d/P:Pool.repo:[P:Pool]\n", &[".repo", ".list"]);
        assert_eq!(f, vec![("/r.d/P:Pool.repo", vec!["[P:Pool]"])]);
    }

    #[test]
    fn shell_assignments() {
        let v = shell_vars(
            "# c\nNETWORKING=yes\nDEVICE=\"eth0\"\nexport ONBOOT='yes'\nBOOTPROTO=dhcp # dynamic\nBAD KEY=1\nDEVICE=eth0 \n"
                .lines(),
        );
        assert_eq!(v["NETWORKING"], "yes");
        assert_eq!(v["DEVICE"], "eth0");
        assert_eq!(v["ONBOOT"], "yes");
        assert_eq!(v["BOOTPROTO"], "dhcp");
        assert!(!v.contains_key("BAD KEY"));
    }

    #[test]
    fn repo_files() {
        let lines = [
            "[baseos]",
            "name=AlmaLinux $releasever - BaseOS",
            "mirrorlist=https://mirrors.almalinux.org/mirrorlist/$releasever/baseos",
            "enabled=1",
            "# [commented]",
            "[baseos-source]",
            "enabled=0",
        ];
        let s = repo_sections([("/etc/yum.repos.d/almalinux-baseos.repo", &lines[..])]);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].id, "baseos");
        assert!(s[0].enabled);
        assert_eq!(s[0].urls.len(), 1);
        assert!(!s[1].enabled);
    }
}
