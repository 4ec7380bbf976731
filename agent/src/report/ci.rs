//! What a CI system reads natively, besides the files: GitHub Actions workflow commands
//! (`::error`/`::warning`/`::notice`, shown as annotations on the run) and its job summary
//! (`$GITHUB_STEP_SUMMARY`, Markdown appended), and Azure Pipelines logging commands
//! (`##vso[task.logissue ...]`, shown as the run's errors and warnings). Each is detected from
//! the variables the runner sets (`GITHUB_ACTIONS=true`, `TF_BUILD=True`).
//!
//! One line per finding: an unwaived Fail and an Error are errors, a Warning a warning, a waived
//! finding a notice (GitHub) or a warning naming the waiver (Azure, which has no notice level).
//! Values are escaped by each format's rules so that probe output cannot end the command or
//! start a new one: GitHub (actions/toolkit `escapeData`/`escapeProperty`): `%` `\r` `\n`, and in
//! properties also `:` `,`; Azure (azure-pipelines-task-lib): `%` as `%AZP25`, `\r` `\n`, and in
//! properties also `;` `]`. Other control characters become control pictures.

use std::fmt::Write as _;

use vmcert_checks::Status;

use super::model::{CheckResult, RunReport};
use super::render::visible;

/// Which CI system's conventions to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ci {
    /// GitHub Actions.
    Github,
    /// Azure Pipelines.
    Azure,
}

impl Ci {
    /// The CI systems the environment says we run under (`GITHUB_ACTIONS=true`, `TF_BUILD=True`,
    /// compared case-insensitively as the runners document them).
    pub(crate) fn detect(var: impl Fn(&str) -> Option<String>) -> Vec<Self> {
        let is = |name: &str, want: &str| var(name).is_some_and(|v| v.eq_ignore_ascii_case(want));
        let mut found = Vec::new();
        if is("GITHUB_ACTIONS", "true") {
            found.push(Self::Github);
        }
        if is("TF_BUILD", "true") {
            found.push(Self::Azure);
        }
        found
    }
}

/// What a finding is for a CI annotation.
enum Level {
    Error,
    Warning,
    Notice,
}

fn level(c: &CheckResult) -> Option<Level> {
    match (c.status, c.waived.is_some()) {
        (Status::Pass | Status::NotApplicable, _) => None,
        (_, true) => Some(Level::Notice),
        (Status::Fail | Status::Error, false) => Some(Level::Error),
        (Status::Warning, false) => Some(Level::Warning),
    }
}

fn sentence(r: &RunReport, c: &CheckResult) -> String {
    let what = match c.status {
        Status::Error => format!("could not evaluate: {}", c.message),
        _ => c.message.clone(),
    };
    let mut s = format!("{}: {} {what}", r.run.name, c.status.as_str());
    if let Some(w) = &c.waived {
        s.push_str(&format!(
            " (waived until {}: {})",
            w.expires, w.justification
        ));
    }
    if matches!(c.status, Status::Fail | Status::Warning) && !c.remediation.is_empty() {
        s.push_str(&format!("\nRemediation: {}", c.remediation));
    }
    s
}

/// The annotation lines for `r` in `ci`'s syntax, then one line with the outcome.
pub(crate) fn annotations(ci: Ci, r: &RunReport) -> String {
    let mut out = String::new();
    for c in &r.checks {
        let Some(level) = level(c) else { continue };
        let title = format!("{} {}", c.id, c.title);
        let message = sentence(r, c);
        match ci {
            Ci::Github => {
                let cmd = match level {
                    Level::Error => "error",
                    Level::Warning => "warning",
                    Level::Notice => "notice",
                };
                let _ = writeln!(
                    out,
                    "::{cmd} title={}::{}",
                    gh_property(&title),
                    gh_data(&message)
                );
            }
            Ci::Azure => {
                let kind = match level {
                    Level::Error => "error",
                    Level::Warning | Level::Notice => "warning",
                };
                let _ = writeln!(
                    out,
                    "##vso[task.logissue type={kind};code={};]{}",
                    azp_property(&c.id),
                    azp_data(&format!("{title}: {message}"))
                );
            }
        }
    }
    out
}

/// actions/toolkit `escapeData`, and control pictures for the other control characters.
fn gh_data(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => o.push_str("%25"),
            '\r' => o.push_str("%0D"),
            '\n' => o.push_str("%0A"),
            c => o.push(visible(c)),
        }
    }
    o
}

/// actions/toolkit `escapeProperty`.
fn gh_property(s: &str) -> String {
    gh_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// azure-pipelines-task-lib's message escaping.
fn azp_data(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => o.push_str("%AZP25"),
            '\r' => o.push_str("%0D"),
            '\n' => o.push_str("%0A"),
            c => o.push(visible(c)),
        }
    }
    o
}

/// azure-pipelines-task-lib's property escaping.
fn azp_property(s: &str) -> String {
    azp_data(s).replace(';', "%3B").replace(']', "%5D")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::bundle;

    #[test]
    fn detects_the_ci_from_its_variables() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(Ci::detect(env(&[("GITHUB_ACTIONS", "true")])), [Ci::Github]);
        assert_eq!(Ci::detect(env(&[("TF_BUILD", "True")])), [Ci::Azure]);
        assert_eq!(Ci::detect(env(&[("GITHUB_ACTIONS", "false")])), []);
        assert_eq!(Ci::detect(env(&[])), []);
    }

    #[test]
    fn github_annotations_per_finding_escaped() {
        let b = bundle();
        let text = annotations(Ci::Github, &b.results);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(
            lines.iter().any(|l| l.starts_with(
                "::error title=bash-history-cleared Shell history cleared::debian-img-01: Fail "
            )),
            "{text}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("::error title=root-password-locked ")
                    && l.contains(": Error could not evaluate: ")),
            "{text}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("::notice title=ssh-client-alive-interval ")),
            "a waived Warning is a notice: {text}"
        );
        assert_eq!(
            gh_data("50%\r\nnext\u{1b}[2J"),
            "50%25%0D%0Anext\u{241b}[2J"
        );
        assert_eq!(gh_property("a:b,c"), "a%3Ab%2Cc");
        // A probe cannot start a command of its own: no raw line break survives.
        let mut evil = b.results.clone();
        evil.checks[1].message = "x\n::error::forged".to_owned();
        let text = annotations(Ci::Github, &evil);
        assert!(!text.contains("\n::error::forged"), "{text}");
    }

    #[test]
    fn azure_logging_commands_escaped() {
        let b = bundle();
        let text = annotations(Ci::Azure, &b.results);
        assert!(
            text.contains("##vso[task.logissue type=error;code=bash-history-cleared;]bash-history-cleared Shell history cleared: debian-img-01: Fail "),
            "{text}"
        );
        assert!(
            text.contains("##vso[task.logissue type=warning;code=ssh-client-alive-interval;]"),
            "{text}"
        );
        assert_eq!(azp_data("100%\n"), "100%AZP25%0A");
        assert_eq!(azp_property("a;b]"), "a%3Bb%5D");
        let mut evil = b.results.clone();
        evil.checks[1].message = "x\n##vso[task.complete result=Succeeded;]".to_owned();
        assert!(!annotations(Ci::Azure, &evil).contains("\n##vso[task.complete"));
    }
}
