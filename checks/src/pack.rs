//! User-defined checks from TOML check packs (parsed and evaluated purely).
//!
//! A publisher can add rules of their own (`--check-pack FILE_OR_DIR`) without writing Rust. Each
//! `[[check]]` runs one command on the target, as its own probe `pack-<id>`, and states what the
//! output must look like:
//!
//! ```toml
//! [[check]]
//! id = "openssl-3"
//! title = "OpenSSL 3 or newer"
//! os = "linux"
//! command = "openssl version"
//! version_regex = '^OpenSSL (\S+)'
//! version_min = "3.0.0"
//! on_mismatch = "fail"        # or "warning"
//! ```
//!
//! Expectations, checked in this order, the first unmet one deciding: `exit_code` (default 0),
//! `stdout_matches` (a regex that must match), `stdout_not_matches` (a regex that must not match),
//! and `version_regex` (first capture group, else the whole match) with `version_min` and/or
//! `version_max` (inclusive, compared with [`crate::version`]). Regexes are in multi-line mode, so
//! `^` and `$` match at line boundaries. An unmet expectation gives `on_mismatch` (Fail unless
//! `"warning"`); a probe that did not complete, a command that is not found (exit 126/127 when
//! another status was expected) or a version that cannot be read gives Error, never Fail.
//!
//! A pack is refused as a whole, before anything runs, when a key is unknown, a regex or version
//! is bad, or an id is not kebab-case or duplicates a built-in or another pack check; the error
//! names the file, the line and the problem.
//!
//! [`Meta`] and [`Probe`] hold `&'static str` so built-in checks can be plain statics. Pack checks
//! are loaded once per process and live until it exits, so their strings are leaked with
//! [`Box::leak`] to get that lifetime: the memory would be held to the end anyway, and the check
//! engine keeps one metadata type for built-in and user-defined checks.

use std::collections::HashMap;

use regex::{Regex, RegexBuilder};
use serde::Deserialize;
use toml::Spanned;

use crate::evidence::Evidence;
use crate::meta::{Meta, Os, Severity};
use crate::probe::{Probe, ProbeId};
use crate::verdict::{Status, Verdict};
use crate::version::Version;
use crate::waiver::{Lines, toml_error};
use crate::{Check, Unevaluable, registry};

/// Prefix of the probe id of every pack check (`pack-<id>`).
pub const PROBE_PREFIX: &str = "pack-";

/// A check pack that cannot be used; displays as `file:line: problem` on one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct PackError {
    /// The file name given to [`parse`].
    pub file: String,
    /// 1-based line of the problem.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PackToml {
    #[serde(default)]
    check: Vec<CheckToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckToml {
    id: Spanned<String>,
    title: String,
    os: Os,
    command: Spanned<String>,
    #[serde(default)]
    needs_root: bool,
    description: Option<String>,
    remediation: Option<String>,
    severity: Option<Severity>,
    exit_code: Option<i32>,
    stdout_matches: Option<Spanned<String>>,
    stdout_not_matches: Option<Spanned<String>>,
    version_regex: Option<Spanned<String>>,
    version_min: Option<Spanned<String>>,
    version_max: Option<Spanned<String>>,
    on_mismatch: Option<Spanned<String>>,
}

/// The version expectation of a pack check.
#[derive(Debug)]
struct VersionRule {
    regex: Regex,
    min: Option<Version>,
    max: Option<Version>,
}

/// A check defined in a check pack.
#[derive(Debug)]
pub struct PackCheck {
    meta: Meta,
    probe_ids: [ProbeId; 1],
    probe: [Probe; 1],
    file: String,
    line: usize,
    exit_code: i32,
    must_match: Option<Regex>,
    must_not_match: Option<Regex>,
    version: Option<VersionRule>,
    on_mismatch: Status,
    required: String,
}

impl PackCheck {
    /// The pack file the check comes from.
    #[must_use]
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Line of its `id = ...` key in that file.
    #[must_use]
    pub fn line(&self) -> usize {
        self.line
    }

    fn mismatch(&self, actual: impl Into<String>, message: impl Into<String>) -> Verdict {
        Verdict::new(self.on_mismatch, actual, self.required.clone(), message)
    }

    fn check_output(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        let id = self.probe_ids[0];
        let out = ev.completed(id)?;
        let code = out
            .exit_code
            .ok_or_else(|| Unevaluable::new(format!("probe `{id}` did not finish")))?;
        let stderr = out.stderr_text();
        let first_err = stderr
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("");
        if code != self.exit_code {
            if code == 126 || code == 127 {
                return Err(Unevaluable::new(format!(
                    "the command was not found or could not be executed (exit status {code}){}",
                    if first_err.is_empty() {
                        String::new()
                    } else {
                        format!(": {first_err}")
                    }
                )));
            }
            let actual = if first_err.is_empty() {
                format!("exit status {code}")
            } else {
                format!("exit status {code}: {first_err}")
            };
            return Ok(self.mismatch(
                actual,
                format!(
                    "The command exited with status {code}, not {}.",
                    self.exit_code
                ),
            ));
        }
        let stdout = out.stdout_text();
        if let Some(re) = &self.must_match
            && !re.is_match(&stdout)
        {
            return Ok(self.mismatch(
                one_line(&stdout),
                format!("The output does not match /{}/.", re.as_str()),
            ));
        }
        if let Some(re) = &self.must_not_match
            && let Some(m) = re.find(&stdout)
        {
            return Ok(self.mismatch(
                one_line(m.as_str()),
                format!("The output matches /{}/, which it must not.", re.as_str()),
            ));
        }
        let Some(rule) = &self.version else {
            return Ok(Verdict::new(
                Status::Pass,
                one_line(&stdout),
                self.required.clone(),
                "Every expectation of the check is met.",
            ));
        };
        let caps = rule.regex.captures(&stdout).ok_or_else(|| {
            Unevaluable::new(format!(
                "no version found: the output does not match /{}/",
                rule.regex.as_str()
            ))
        })?;
        let text = caps
            .get(1)
            .or_else(|| caps.get(0))
            .map_or("", |m| m.as_str());
        let version = Version::parse(text)
            .ok_or_else(|| Unevaluable::new(format!("`{}` is not a version", one_line(text))))?;
        if let Some(min) = &rule.min
            && version < *min
        {
            return Ok(self.mismatch(
                version.as_str(),
                format!(
                    "Version {} is older than {}.",
                    version.as_str(),
                    min.as_str()
                ),
            ));
        }
        if let Some(max) = &rule.max
            && version > *max
        {
            return Ok(self.mismatch(
                version.as_str(),
                format!(
                    "Version {} is newer than {}.",
                    version.as_str(),
                    max.as_str()
                ),
            ));
        }
        Ok(Verdict::new(
            Status::Pass,
            version.as_str(),
            self.required.clone(),
            format!("Version {} meets the requirement.", version.as_str()),
        ))
    }
}

impl Check for PackCheck {
    fn meta(&self) -> &Meta {
        &self.meta
    }

    fn probes(&self) -> &[ProbeId] {
        &self.probe_ids
    }

    fn own_probes(&self) -> &[Probe] {
        &self.probe
    }

    fn required(&self, _: &Evidence) -> String {
        self.required.clone()
    }

    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        self.check_output(ev)
    }
}

/// The first non-empty line of `s`, trimmed and cut to 200 characters.
fn one_line(s: &str) -> String {
    let line = s
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut out: String = line.chars().take(200).collect();
    if line.chars().count() > 200 {
        out.push('…');
    }
    out
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn is_kebab(id: &str) -> bool {
    !id.is_empty()
        && id.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// A regex error on one line (the regex crate draws a caret diagram over several lines).
fn regex_problem(err: &regex::Error) -> String {
    let text = err.to_string();
    text.lines()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .map_or_else(
            || text.lines().map(str::trim).collect::<Vec<_>>().join(" "),
            str::to_string,
        )
}

/// Parses one check pack. `file` names it in errors and in the checks' metadata.
///
/// # Errors
/// See the module documentation.
pub fn parse(file: &str, text: &str) -> Result<Vec<PackCheck>, PackError> {
    parse_all(&[(file, text)])
}

/// Parses several check packs, refusing ids repeated across them.
///
/// # Errors
/// The first problem found, see the module documentation.
pub fn parse_all(files: &[(&str, &str)]) -> Result<Vec<PackCheck>, PackError> {
    let mut out: Vec<PackCheck> = Vec::new();
    // Where each id was defined (index into `out`), to name the first of a duplicate.
    let mut defined: HashMap<String, usize> = HashMap::new();
    for (file, text) in files {
        let doc: PackToml = toml::from_str(text).map_err(|e| {
            let (line, message) = toml_error(text, &e);
            PackError {
                file: (*file).to_string(),
                line,
                message,
            }
        })?;
        let lines = Lines::new(text);
        for c in doc.check {
            let check = build(file, &lines, c, &out, &defined)?;
            defined.insert(check.meta.id.to_string(), out.len());
            out.push(check);
        }
    }
    Ok(out)
}

fn build(
    file: &str,
    lines: &Lines,
    c: CheckToml,
    earlier: &[PackCheck],
    defined: &HashMap<String, usize>,
) -> Result<PackCheck, PackError> {
    let err = |span: std::ops::Range<usize>, message: String| PackError {
        file: file.to_string(),
        line: lines.of(span.start),
        message,
    };
    let line = lines.of(c.id.span().start);
    let id = c.id.get_ref().clone();
    if !is_kebab(&id) {
        return Err(err(
            c.id.span(),
            format!(
                "check id `{id}` must be kebab-case (lower-case letters and digits joined by `-`)"
            ),
        ));
    }
    if registry::ALL.iter().any(|b| b.meta().id == id) {
        return Err(err(
            c.id.span(),
            format!("check id `{id}` is already used by a built-in check"),
        ));
    }
    if let Some(other) = defined.get(&id).map(|&i| &earlier[i]) {
        return Err(err(
            c.id.span(),
            format!(
                "check id `{id}` is already defined at {}:{}",
                other.file, other.line
            ),
        ));
    }
    if c.title.trim().is_empty() {
        return Err(err(c.id.span(), format!("check `{id}` has an empty title")));
    }
    if c.command.get_ref().trim().is_empty() {
        return Err(err(
            c.command.span(),
            format!("check `{id}` has an empty command"),
        ));
    }
    let compile = |s: &Spanned<String>, key: &str| {
        RegexBuilder::new(s.get_ref())
            .multi_line(true)
            .build()
            .map_err(|e| {
                err(
                    s.span(),
                    format!(
                        "`{key}` of `{id}` is not a valid regex: {}",
                        regex_problem(&e)
                    ),
                )
            })
    };
    let must_match = c
        .stdout_matches
        .as_ref()
        .map(|s| compile(s, "stdout_matches"))
        .transpose()?;
    let must_not_match = c
        .stdout_not_matches
        .as_ref()
        .map(|s| compile(s, "stdout_not_matches"))
        .transpose()?;
    let version_of = |s: &Spanned<String>, key: &str| {
        Version::parse(s.get_ref()).ok_or_else(|| {
            err(
                s.span(),
                format!("`{key}` of `{id}` is not a version: `{}`", s.get_ref()),
            )
        })
    };
    let min = c
        .version_min
        .as_ref()
        .map(|s| version_of(s, "version_min"))
        .transpose()?;
    let max = c
        .version_max
        .as_ref()
        .map(|s| version_of(s, "version_max"))
        .transpose()?;
    let version = match (&c.version_regex, min.is_some() || max.is_some()) {
        (Some(re), true) => Some(VersionRule {
            regex: compile(re, "version_regex")?,
            min,
            max,
        }),
        (Some(re), false) => {
            return Err(err(
                re.span(),
                format!("`version_regex` of `{id}` needs `version_min` and/or `version_max`"),
            ));
        }
        (None, true) => {
            return Err(err(
                c.id.span(),
                format!("`version_min`/`version_max` of `{id}` need a `version_regex`"),
            ));
        }
        (None, false) => None,
    };
    let on_mismatch = match c.on_mismatch.as_ref().map(|s| s.get_ref().as_str()) {
        None | Some("fail") => Status::Fail,
        Some("warning") => Status::Warning,
        Some(other) => {
            let span = c
                .on_mismatch
                .as_ref()
                .map_or_else(|| c.id.span(), Spanned::span);
            return Err(err(
                span,
                format!("`on_mismatch` of `{id}` must be \"fail\" or \"warning\", not `{other}`"),
            ));
        }
    };
    let exit_code = c.exit_code.unwrap_or(0);
    let mut required = vec![format!("exit status {exit_code}")];
    if let Some(re) = &must_match {
        required.push(format!("output matches /{}/", re.as_str()));
    }
    if let Some(re) = &must_not_match {
        required.push(format!("output does not match /{}/", re.as_str()));
    }
    if let Some(rule) = &version {
        match (&rule.min, &rule.max) {
            (Some(a), Some(b)) => required.push(format!("version {}..={}", a.as_str(), b.as_str())),
            (Some(a), None) => required.push(format!("version >= {}", a.as_str())),
            (None, Some(b)) => required.push(format!("version <= {}", b.as_str())),
            (None, None) => {}
        }
    }
    let probe_id: ProbeId = leak(format!("{PROBE_PREFIX}{id}"));
    let title = leak(c.title);
    let meta = Meta {
        id: leak(id),
        title,
        test_id: None,
        test_case_name: None,
        description: c.description.map_or(title, leak),
        rationale: leak(format!(
            "User-defined check from the check pack {file} (line {line})."
        )),
        remediation: c
            .remediation
            .map_or("The check pack gives no remediation.", leak),
        os: c.os,
        severity: c.severity.unwrap_or(Severity::Medium),
        since: "check pack",
        inferred: false,
        outcomes: if on_mismatch == Status::Warning {
            &[Status::Pass, Status::Warning, Status::Error]
        } else {
            &[Status::Pass, Status::Fail, Status::Error]
        },
        knobs: &[],
    };
    let probe = Probe {
        id: probe_id,
        os: c.os,
        command: leak(c.command.into_inner()),
        needs_root: c.needs_root,
        description: leak(format!("command of the check pack {file} (line {line})")),
    };
    Ok(PackCheck {
        meta,
        probe_ids: [probe_id],
        probe: [probe],
        file: file.to_string(),
        line,
        exit_code,
        must_match,
        must_not_match,
        version,
        on_mismatch,
        required: required.join("; "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::ProbeOutput;
    use crate::profile::Profile;

    const OPENSSL: &str = r#"[[check]]
id = "openssl-3"
title = "OpenSSL 3 or newer"
os = "linux"
command = "openssl version"
version_regex = '^OpenSSL (\S+)'
version_min = "3.0.0"
remediation = "Install OpenSSL 3."
severity = "high"

[[check]]
id = "tmp-noexec"
title = "/tmp is mounted noexec"
os = "linux"
command = "findmnt -no OPTIONS /tmp"
stdout_matches = '(^|,)noexec(,|$)'
on_mismatch = "warning"
"#;

    fn ev(probe: &str, out: ProbeOutput) -> Evidence {
        let mut ev = Evidence::new(Profile::Current);
        ev.insert(probe, out);
        ev
    }

    fn error_of(file: &str, text: &str) -> String {
        let e = parse(file, text).unwrap_err();
        let s = e.to_string();
        assert_eq!(s.lines().count(), 1, "{s}");
        s
    }

    #[test]
    fn parses_meta_and_own_probe() {
        let checks = parse("packs/site.toml", OPENSSL).unwrap();
        assert_eq!(checks.len(), 2);
        let c = &checks[0];
        assert_eq!(c.meta().id, "openssl-3");
        assert_eq!(c.meta().severity, Severity::High);
        assert_eq!(c.meta().description, "OpenSSL 3 or newer");
        assert_eq!(c.meta().remediation, "Install OpenSSL 3.");
        assert_eq!(c.probes(), &["pack-openssl-3"]);
        assert_eq!(c.own_probes()[0].command, "openssl version");
        assert!(!c.own_probes()[0].needs_root);
        assert_eq!((c.file(), c.line()), ("packs/site.toml", 2));
        assert_eq!(checks[1].meta().severity, Severity::Medium);
        assert_eq!(
            checks[1].meta().outcomes,
            &[Status::Pass, Status::Warning, Status::Error]
        );
    }

    #[test]
    fn version_expectation() {
        let checks = parse("p.toml", OPENSSL).unwrap();
        let c = &checks[0];
        // `openssl version` output of Debian 12 and Debian 10.
        let v = c.evaluate(&ev(
            "pack-openssl-3",
            ProbeOutput::exited(
                0,
                "OpenSSL 3.0.11 19 Sep 2023 (Library: OpenSSL 3.0.11 19 Sep 2023)\n",
            ),
        ));
        assert_eq!((v.status, v.actual.as_str()), (Status::Pass, "3.0.11"));
        assert_eq!(v.required, "exit status 0; version >= 3.0.0");
        let v = c.evaluate(&ev(
            "pack-openssl-3",
            ProbeOutput::exited(0, "OpenSSL 1.1.1n  15 Mar 2022\n"),
        ));
        assert_eq!((v.status, v.actual.as_str()), (Status::Fail, "1.1.1n"));
        assert_eq!(v.message, "Version 1.1.1n is older than 3.0.0.");
        let v = c.evaluate(&ev(
            "pack-openssl-3",
            ProbeOutput::exited(0, "LibreSSL 3.8.2\n"),
        ));
        assert_eq!(v.status, Status::Error);
        assert!(v.message.contains("no version found"), "{}", v.message);
    }

    #[test]
    fn regex_expectations_and_warning_status() {
        let checks = parse("p.toml", OPENSSL).unwrap();
        let c = &checks[1];
        let v = c.evaluate(&ev(
            "pack-tmp-noexec",
            ProbeOutput::exited(0, "rw,nosuid,nodev,noexec,relatime\n"),
        ));
        assert_eq!(v.status, Status::Pass);
        let v = c.evaluate(&ev(
            "pack-tmp-noexec",
            ProbeOutput::exited(0, "rw,relatime\n"),
        ));
        assert_eq!(
            (v.status, v.actual.as_str()),
            (Status::Warning, "rw,relatime")
        );
        let not = parse(
            "p.toml",
            "[[check]]\nid = \"no-telnet\"\ntitle = \"t\"\nos = \"linux\"\ncommand = \"ss -ltn\"\nstdout_not_matches = ':23 '\n",
        )
        .unwrap();
        let v = not[0].evaluate(&ev(
            "pack-no-telnet",
            ProbeOutput::exited(0, "LISTEN 0 128 0.0.0.0:23 0.0.0.0:*\n"),
        ));
        assert_eq!((v.status, v.actual.as_str()), (Status::Fail, ":23"));
    }

    #[test]
    fn exit_code_expectation_and_missing_command() {
        let checks = parse(
            "p.toml",
            "[[check]]\nid = \"no-nis\"\ntitle = \"t\"\nos = \"linux\"\ncommand = \"grep -q nis /etc/nsswitch.conf\"\nexit_code = 1\n",
        )
        .unwrap();
        let c = &checks[0];
        assert_eq!(
            c.evaluate(&ev("pack-no-nis", ProbeOutput::exited(1, "")))
                .status,
            Status::Pass
        );
        let v = c.evaluate(&ev("pack-no-nis", ProbeOutput::exited(0, "")));
        assert_eq!(
            (v.status, v.actual.as_str()),
            (Status::Fail, "exit status 0")
        );
        let mut missing = ProbeOutput::exited(127, "");
        missing.stderr = b"sh: 1: grep: not found\n".to_vec();
        let v = c.evaluate(&ev("pack-no-nis", missing));
        assert_eq!(v.status, Status::Error);
        assert!(
            v.message
                .ends_with("(exit status 127): sh: 1: grep: not found"),
            "{}",
            v.message
        );
    }

    #[test]
    fn broken_probes_are_errors_never_fail() {
        let checks = parse("p.toml", OPENSSL).unwrap();
        let c = &checks[1];
        assert_eq!(c.evaluate(&Evidence::default()).status, Status::Error);
        let timed_out = ProbeOutput {
            timed_out: true,
            ..ProbeOutput::default()
        };
        assert_eq!(
            c.evaluate(&ev("pack-tmp-noexec", timed_out)).status,
            Status::Error
        );
        let sudo = ProbeOutput {
            error: Some("needs root: sudo requires a password".into()),
            ..ProbeOutput::default()
        };
        let v = c.evaluate(&ev("pack-tmp-noexec", sudo));
        assert_eq!(v.status, Status::Error);
        assert!(v.message.contains("sudo requires a password"));
    }

    #[test]
    fn unknown_key_names_file_and_line() {
        let text = "[[check]]\nid = \"a\"\ntitle = \"t\"\nos = \"linux\"\ncommand = \"true\"\nstdout_match = 'x'\n";
        let e = error_of("site.toml", text);
        assert!(
            e.starts_with("site.toml:6: unknown field `stdout_match`"),
            "{e}"
        );
    }

    #[test]
    fn bad_regex_names_file_and_line() {
        let text = "[[check]]\nid = \"a\"\ntitle = \"t\"\nos = \"linux\"\ncommand = \"true\"\n\nstdout_matches = '(unclosed'\n";
        let e = error_of("site.toml", text);
        assert_eq!(
            e,
            "site.toml:7: `stdout_matches` of `a` is not a valid regex: unclosed group"
        );
    }

    #[test]
    fn duplicates_of_builtins_and_of_other_packs_are_refused() {
        let text = "[[check]]\nid = \"os-architecture\"\ntitle = \"t\"\nos = \"linux\"\ncommand = \"uname -m\"\n";
        assert_eq!(
            error_of("a.toml", text),
            "a.toml:2: check id `os-architecture` is already used by a built-in check"
        );
        let one = "[[check]]\nid = \"mine\"\ntitle = \"t\"\nos = \"linux\"\ncommand = \"true\"\n";
        let e = parse_all(&[("a.toml", one), ("b.toml", &format!("\n{one}"))]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "b.toml:3: check id `mine` is already defined at a.toml:2"
        );
    }

    #[test]
    fn other_refusals() {
        let base = "[[check]]\ntitle = \"t\"\nos = \"linux\"\ncommand = \"true\"\n";
        let e = error_of("a.toml", &format!("{base}id = \"Bad_Id\"\n"));
        assert!(
            e.starts_with("a.toml:5: check id `Bad_Id` must be kebab-case"),
            "{e}"
        );
        let e = error_of(
            "a.toml",
            &format!("{base}id = \"x\"\nversion_min = \"3\"\n"),
        );
        assert_eq!(
            e,
            "a.toml:5: `version_min`/`version_max` of `x` need a `version_regex`"
        );
        let e = error_of(
            "a.toml",
            &format!("{base}id = \"x\"\nversion_regex = 'v(\\S+)'\n"),
        );
        assert_eq!(
            e,
            "a.toml:6: `version_regex` of `x` needs `version_min` and/or `version_max`"
        );
        let e = error_of(
            "a.toml",
            &format!("{base}id = \"x\"\nversion_regex = 'v'\nversion_max = \"abc\"\n"),
        );
        assert_eq!(e, "a.toml:7: `version_max` of `x` is not a version: `abc`");
        let e = error_of(
            "a.toml",
            &format!("{base}id = \"x\"\non_mismatch = \"error\"\n"),
        );
        assert_eq!(
            e,
            "a.toml:6: `on_mismatch` of `x` must be \"fail\" or \"warning\", not `error`"
        );
        let e = error_of(
            "a.toml",
            "[[check]]\nid = \"x\"\ntitle = \"t\"\nos = \"solaris\"\ncommand = \"true\"\n",
        );
        assert!(e.starts_with("a.toml:4: unknown variant `solaris`"), "{e}");
        let e = error_of(
            "a.toml",
            "[[check]]\nid = \"x\"\ntitle = \"t\"\nos = \"linux\"\n",
        );
        assert!(e.contains("missing field `command`"), "{e}");
        let e = error_of("a.toml", "[checks]\n");
        assert!(e.starts_with("a.toml:1: unknown field `checks`"), "{e}");
    }

    #[test]
    fn no_builtin_probe_uses_the_pack_prefix() {
        assert!(crate::probe::all().all(|p| !p.id.starts_with(PROBE_PREFIX)));
    }
}
