//! `junit.xml`: the checks as JUnit test results, so CI systems (GitLab, Jenkins, Azure
//! Pipelines, GitHub test reporters) show them without knowing vmcert. One `<testsuite>` per
//! target (a report has one), one `<testcase>` per check:
//! Fail → `<failure>`, Error → `<error>`, NotApplicable → `<skipped>`, Pass and Warning → a passed
//! test case (a Warning says so in `<system-out>`). A Fail or Error covered by a waiver is
//! `<skipped>` with a message starting `WAIVED` (neither passed nor failed, matching the run's
//! exit code); the run's outcome is a property of the suite.
//!
//! XML 1.0 cannot carry most control characters even escaped; they are shown as control pictures
//! (see `render::visible`), and carriage returns and tabs in attributes as character references.

use std::fmt::Write as _;

use vmcert_checks::Status;

use super::model::{CheckResult, RunReport};
use super::render::visible;

/// Renders `junit.xml` of one report.
pub(crate) fn render(report: &RunReport) -> String {
    render_many(&[report])
}

/// Counts of one report's test cases: (failures, errors, skipped).
fn counts(checks: &[CheckResult]) -> (usize, usize, usize) {
    let count = |s: Status| {
        checks
            .iter()
            .filter(|c| c.status == s && c.waived.is_none())
            .count()
    };
    let skipped = checks
        .iter()
        .filter(|c| {
            c.status == Status::NotApplicable
                || (matches!(c.status, Status::Fail | Status::Error) && c.waived.is_some())
        })
        .count();
    (count(Status::Fail), count(Status::Error), skipped)
}

/// Renders a JUnit document with one `<testsuite>` per report (a fleet's targets).
pub(crate) fn render_many(reports: &[&RunReport]) -> String {
    let mut x = String::with_capacity(512 + reports.len() * 8192);
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let all: Vec<(usize, usize, usize)> = reports.iter().map(|r| counts(&r.checks)).collect();
    let time = secs(
        reports
            .iter()
            .flat_map(|r| &r.checks)
            .map(|c| c.duration_ms)
            .sum(),
    );
    let name = match reports {
        [one] => one.run.name.clone(),
        _ => format!("fleet of {}", reports.len()),
    };
    let _ = writeln!(
        x,
        "<testsuites name=\"vmcert {}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{time}\">",
        attr(&name),
        reports.iter().map(|r| r.checks.len()).sum::<usize>(),
        all.iter().map(|c| c.0).sum::<usize>(),
        all.iter().map(|c| c.1).sum::<usize>(),
        all.iter().map(|c| c.2).sum::<usize>(),
    );
    for (i, report) in reports.iter().enumerate() {
        suite(&mut x, i, report);
    }
    x.push_str("</testsuites>\n");
    x
}

fn suite(x: &mut String, id: usize, report: &RunReport) {
    let checks = &report.checks;
    let (failures, errors, skipped) = counts(checks);
    let time = secs(checks.iter().map(|c| c.duration_ms).sum());
    let t = &report.target;
    let suite = match t.port {
        Some(p) => format!("{}://{}:{p}", t.transport, t.host),
        None => format!("{}://{}", t.transport, t.host),
    };
    let class = format!("vmcert.{}", t.os);
    let _ = writeln!(
        x,
        "  <testsuite name=\"{}\" id=\"{id}\" package=\"{class}\" hostname=\"{}\" timestamp=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{time}\">",
        attr(&suite),
        attr(&t.host),
        attr(&report.run.started),
        checks.len(),
    );
    x.push_str("    <properties>\n");
    let mut props = vec![
        ("run.id", report.run.id.as_str()),
        ("run.name", report.run.name.as_str()),
        ("outcome", report.summary.outcome.as_str()),
        ("profile", report.run.profile.as_str()),
        ("phase", report.scope.phase.as_str()),
        ("os", t.os.as_str()),
        ("tool.version", report.tool.version.as_str()),
    ];
    props.extend(t.facts.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    for (name, value) in props {
        let _ = writeln!(
            x,
            "      <property name=\"{}\" value=\"{}\"/>",
            attr(name),
            attr(value)
        );
    }
    x.push_str("    </properties>\n");
    for c in checks {
        testcase(x, &class, c);
    }
    x.push_str("  </testsuite>\n");
}

fn testcase(x: &mut String, class: &str, c: &CheckResult) {
    let _ = write!(
        x,
        "    <testcase name=\"{}\" classname=\"{class}\" time=\"{}\"",
        attr(&c.id),
        secs(c.duration_ms)
    );
    let details = format!(
        "{}\nFound: {}\nRequired: {}\nMessage: {}\nRemediation: {}\nEvidence: probes {}",
        c.title,
        c.actual,
        c.required,
        c.message,
        c.remediation,
        c.probes.join(", ")
    );
    let body = match (c.status, &c.waived) {
        (Status::Fail | Status::Error, Some(w)) => format!(
            "      <skipped message=\"{}\"/>\n      <system-out>{}</system-out>\n",
            attr(&format!(
                "WAIVED {} until {}: {}",
                c.status, w.expires, w.justification
            )),
            text(&details)
        ),
        (Status::Fail, None) => format!(
            "      <failure type=\"Fail\" message=\"{}\">{}</failure>\n",
            attr(&c.message),
            text(&details)
        ),
        (Status::Error, None) => format!(
            "      <error type=\"Error\" message=\"{}\">{}</error>\n",
            attr(&c.message),
            text(&details)
        ),
        (Status::NotApplicable, _) => {
            format!("      <skipped message=\"{}\"/>\n", attr(&c.message))
        }
        (Status::Warning, Some(w)) => format!(
            "      <system-out>{}</system-out>\n",
            text(&format!(
                "Warning, waived until {}: {}\n{details}",
                w.expires, w.justification
            ))
        ),
        (Status::Warning, None) => format!(
            "      <system-out>{}</system-out>\n",
            text(&format!("Warning\n{details}"))
        ),
        (Status::Pass, _) => format!("      <system-out>{}</system-out>\n", text(&details)),
    };
    x.push_str(">\n");
    x.push_str(&body);
    x.push_str("    </testcase>\n");
}

fn secs(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// Escapes character data.
fn text(s: &str) -> String {
    escape(s, false)
}

/// Escapes an attribute value (line breaks and tabs kept as character references).
fn attr(s: &str) -> String {
    escape(s, true)
}

fn escape(s: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\r' => out.push_str("&#13;"),
            '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(visible(c)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::bundle;

    #[test]
    fn one_testcase_per_check_with_the_right_element() {
        let b = bundle();
        let x = render(&b.results);
        assert_eq!(x.matches("<testsuite ").count(), 1);
        assert_eq!(x.matches("<testcase ").count(), b.results.checks.len());
        assert_eq!(x.matches("<failure ").count(), 1);
        assert_eq!(x.matches("<error ").count(), 1);
        assert_eq!(x.matches("<skipped ").count(), 1);
        assert!(
            x.contains("tests=\"6\" failures=\"1\" errors=\"1\" skipped=\"1\""),
            "{x}"
        );
        assert!(x.contains(
            "<testcase name=\"bash-history-cleared\" classname=\"vmcert.linux\" time=\"0.009\">"
        ));
        // A waived Warning stays a passed test case that names its (escaped) waiver.
        assert!(x.contains("<system-out>Warning, waived until 2027-06-30: 120 s matches our load balancer's idle timeout &amp; was agreed with the reviewer &lt;ticket 4711&gt;."), "{x}");
    }

    #[test]
    fn a_fleet_has_one_testsuite_per_target() {
        let b = bundle();
        let mut other = b.results.clone();
        other.target.host = "10.0.0.6".to_owned();
        let x = render_many(&[&b.results, &other]);
        assert_eq!(x.matches("<testsuite ").count(), 2);
        assert!(
            x.contains("<testsuite name=\"ssh://10.0.0.6:22\" id=\"1\""),
            "{x}"
        );
        assert!(x.contains("<testsuites name=\"vmcert fleet of 2\" tests=\"12\" failures=\"2\" errors=\"2\" skipped=\"2\""), "{x}");
    }

    #[test]
    fn escapes_markup_quotes_and_control_characters() {
        assert_eq!(attr("a\"<b>&\n\tc"), "a&quot;&lt;b&gt;&amp;&#10;&#9;c");
        assert_eq!(text("x\u{1b}[0m\r\n\u{0}"), "x\u{241b}[0m&#13;\n\u{2400}");
    }

    #[test]
    fn waived_fail_is_skipped_not_a_failure() {
        let mut b = bundle();
        let fail = b
            .results
            .checks
            .iter_mut()
            .find(|c| c.status == Status::Fail)
            .unwrap();
        fail.waived = Some(crate::report::model::Waived {
            justification: "removed by the pipeline".to_owned(),
            expires: "2027-01-01".to_owned(),
        });
        let x = render(&b.results);
        assert_eq!(x.matches("<failure ").count(), 0);
        assert!(
            x.contains(
                "<skipped message=\"WAIVED Fail until 2027-01-01: removed by the pipeline\"/>"
            ),
            "{x}"
        );
        assert!(
            x.contains("failures=\"0\" errors=\"1\" skipped=\"2\""),
            "{x}"
        );
        assert!(
            x.contains("<property name=\"outcome\" value=\"failed\"/>"),
            "{x}"
        );
    }
}
