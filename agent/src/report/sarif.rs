//! `report.sarif`: the findings as a SARIF 2.1.0 log, the format code-scanning services read
//! (GitHub's `upload-sarif`, Azure DevOps' SARIF viewer, SonarQube). One `run` per target (a
//! fleet writes several), the checks that ran as the driver's `rules` (`ruleId` = check id, the
//! remediation as help, `security-severity` from the check's severity), and one `result` per
//! check that needs attention:
//! - Fail → `kind: fail`, `level: error`; Warning → `kind: fail`, `level: warning`;
//! - Error (could not evaluate) → `kind: open`, `level: none`: SARIF's "the tool could not tell",
//!   never a pass or a fail;
//! - a waived Fail, Error or Warning keeps its kind and level and carries an `external`,
//!   `accepted` suppression with the waiver's justification and expiry, so scanners show it as
//!   suppressed;
//! - Pass and NotApplicable are not results (a scanner would show them as alerts).
//!
//! Each result has `partialFingerprints."vmcert/check/v1"` = `<os>/<check id>`, stable across
//! runs, so an alert follows the check rather than the VM it ran on, and a location: the check's
//! log inside the report zip (`uriBaseId` `REPORT`) and the target as a logical location.
//! Text goes through serde_json, which escapes it for JSON; control characters are shown as
//! control pictures like everywhere else in the report.

use serde_json::{Value, json};
use vmcert_checks::{Severity, Status};

use super::logs::log_paths;
use super::model::{CheckResult, RunReport};
use super::render::visible;

/// The schema URI written into the log.
pub(crate) const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The SARIF log of one or more reports, one run each.
pub(crate) fn log(reports: &[&RunReport]) -> Value {
    json!({
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": reports.iter().map(|r| run(r)).collect::<Vec<_>>(),
    })
}

fn clean(s: &str) -> String {
    s.chars().map(visible).collect()
}

/// GitHub's `security-severity`: a score from 0.0 to 10.0 as a string (>= 7.0 shows as high).
const fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::High => "8.0",
        Severity::Medium => "5.0",
        Severity::Low => "2.0",
    }
}

fn run(r: &RunReport) -> Value {
    let target = match (&r.target.user, r.target.port) {
        _ if r.target.transport == "local" => format!("local ({})", r.target.host),
        (Some(u), Some(p)) => format!("{}://{u}@{}:{p}", r.target.transport, r.target.host),
        (None, Some(p)) => format!("{}://{}:{p}", r.target.transport, r.target.host),
        (Some(u), None) => format!("{}://{u}@{}", r.target.transport, r.target.host),
        (None, None) => format!("{}://{}", r.target.transport, r.target.host),
    };
    let rules: Vec<Value> = r.checks.iter().map(rule).collect();
    let paths = log_paths(&r.checks);
    let results: Vec<Value> = r
        .checks
        .iter()
        .enumerate()
        .filter(|(_, c)| matches!(c.status, Status::Fail | Status::Warning | Status::Error))
        .map(|(i, c)| result(r, c, i, &paths[i], &target))
        .collect();
    json!({
        "tool": {
            "driver": {
                "name": "vmcert",
                "version": clean(&r.tool.version),
                "informationUri": "https://github.com/vmcert/vmcert",
                "rules": rules,
            }
        },
        "automationDetails": {
            // Code scanning keeps one set of alerts per category: one per run name (target).
            "id": format!("vmcert/{}/{}", clean(&r.run.name), r.run.id),
        },
        "invocations": [{
            "executionSuccessful": !r.run.interrupted,
            "startTimeUtc": r.run.started,
            "endTimeUtc": r.run.finished,
        }],
        "originalUriBaseIds": {
            "REPORT": { "description": { "text": "The root of the vmcert report zip." } },
        },
        "properties": {
            "outcome": r.summary.outcome.as_str(),
            "certified": r.summary.certified,
            "target": clean(&target),
            "os": r.target.os.as_str(),
            "profile": clean(&r.run.profile),
            "phase": r.scope.phase.as_str(),
        },
        "results": results,
    })
}

fn rule(c: &CheckResult) -> Value {
    let mut tags = vec!["azure-marketplace".to_owned(), "vm-image".to_owned()];
    if let Some(id) = &c.test_id {
        tags.push(format!("TestID:{}", clean(id)));
    }
    let description = if c.description.is_empty() {
        &c.title
    } else {
        &c.description
    };
    json!({
        "id": c.id,
        "name": clean(&c.title),
        "shortDescription": { "text": clean(&c.title) },
        "fullDescription": { "text": clean(description) },
        "help": { "text": clean(if c.remediation.is_empty() { description } else { &c.remediation }) },
        "defaultConfiguration": {
            "level": match c.severity {
                Severity::High => "error",
                Severity::Medium => "warning",
                Severity::Low => "note",
            }
        },
        "properties": {
            "security-severity": security_severity(c.severity),
            "tags": tags,
        },
    })
}

fn result(r: &RunReport, c: &CheckResult, index: usize, log: &str, target: &str) -> Value {
    let (kind, level) = match c.status {
        Status::Fail => ("fail", "error"),
        Status::Warning => ("fail", "warning"),
        _ => ("open", "none"),
    };
    let mut text = match c.status {
        Status::Error => format!("{}: could not evaluate: {}", c.title, c.message),
        _ => format!("{}: {}", c.title, c.message),
    };
    if !c.actual.is_empty() {
        text.push_str(&format!(" Found: {}.", c.actual));
    }
    if !c.required.is_empty() {
        text.push_str(&format!(" Required: {}.", c.required));
    }
    let mut v = json!({
        "ruleId": c.id,
        "ruleIndex": index,
        "kind": kind,
        "level": level,
        "message": { "text": clean(&text) },
        "locations": [{
            "physicalLocation": {
                "artifactLocation": { "uri": log, "uriBaseId": "REPORT" }
            },
            "logicalLocations": [{ "name": clean(target), "kind": "module" }],
        }],
        "partialFingerprints": {
            "vmcert/check/v1": format!("{}/{}", r.target.os, c.id),
        },
        "properties": {
            "status": c.status.as_str(),
            "severity": format!("{:?}", c.severity).to_lowercase(),
            "source": clean(&c.source),
        },
    });
    if let Some(w) = &c.waived {
        v["suppressions"] = json!([{
            "kind": "external",
            "status": "accepted",
            "justification": clean(&format!("{} (waiver expires {})", w.justification, w.expires)),
        }]);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::bundle;

    #[test]
    fn one_run_with_a_rule_per_check_and_a_result_per_finding() {
        let b = bundle();
        let v = log(&[&b.results]);
        assert_eq!(v["version"], "2.1.0");
        let runs = v["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 1);
        let run = &runs[0];
        assert_eq!(
            run["tool"]["driver"]["rules"].as_array().unwrap().len(),
            b.results.checks.len()
        );
        let results = run["results"].as_array().unwrap();
        let by_id = |id: &str| results.iter().find(|r| r["ruleId"] == id).cloned();
        let fail = by_id("bash-history-cleared").unwrap();
        assert_eq!(
            (&fail["kind"], &fail["level"]),
            (&json!("fail"), &json!("error"))
        );
        assert_eq!(
            fail["partialFingerprints"]["vmcert/check/v1"],
            "linux/bash-history-cleared"
        );
        let rule = &run["tool"]["driver"]["rules"][fail["ruleIndex"].as_u64().unwrap() as usize];
        assert_eq!(rule["id"], "bash-history-cleared");
        assert_eq!(rule["properties"]["security-severity"], "8.0");
        let error = by_id("root-password-locked").unwrap();
        assert_eq!(
            (&error["kind"], &error["level"]),
            (&json!("open"), &json!("none"))
        );
        let waived = by_id("ssh-client-alive-interval").unwrap();
        assert_eq!(waived["level"], "warning");
        assert_eq!(waived["suppressions"][0]["kind"], "external");
        assert_eq!(waived["suppressions"][0]["status"], "accepted");
        assert!(by_id("os-architecture").is_none(), "a Pass is not a result");
        assert!(by_id("acme-motd-branded").is_none(), "nor is NotApplicable");
        assert_eq!(run["properties"]["outcome"], "failed");
    }

    #[test]
    fn validates_against_the_official_sarif_2_1_0_schema() {
        // The OASIS SARIF 2.1.0 schema (sarif-2.1.0-rtm.5), as Microsoft ships it in the npm
        // package @microsoft/jest-sarif; tests/lab/install-prereqs.sh puts it there and installs
        // python3-jsonschema. A missing prerequisite fails the test, it does not skip it.
        let schema = std::path::Path::new(SCHEMA_FILE);
        assert!(
            schema.is_file(),
            "{SCHEMA_FILE} is missing: run tests/lab/install-prereqs.sh"
        );
        let mut b = bundle();
        // Every kind of result: fail, warning, open (Error), waived, and a second target.
        b.results.checks[0].waived = Some(crate::report::model::Waived {
            justification: "a \"quoted\" <reason>\n\u{1b}[31m".to_owned(),
            expires: "2030-01-01".to_owned(),
        });
        let mut other = b.results.clone();
        other.run.name = "second".to_owned();
        let text = serde_json::to_string_pretty(&log(&[&b.results, &other])).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("r.sarif");
        std::fs::write(&file, &text).unwrap();
        let out = std::process::Command::new("/usr/bin/python3")
            .args([
                "-c",
                "import json, sys, jsonschema\n\
                 schema = json.load(open(sys.argv[1]))\n\
                 log = json.load(open(sys.argv[2]))\n\
                 jsonschema.Draft4Validator.check_schema(schema)\n\
                 errors = list(jsonschema.Draft4Validator(schema).iter_errors(log))\n\
                 for e in errors: print(list(e.absolute_path), e.message)\n\
                 sys.exit(1 if errors else 0)",
                SCHEMA_FILE,
                file.to_str().unwrap(),
            ])
            .output()
            .expect("python3 runs");
        assert!(
            out.status.success(),
            "the SARIF log does not validate:\n{}{}\n{text}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Where install-prereqs.sh puts the official schema.
    const SCHEMA_FILE: &str = "/usr/local/share/vmcert-test/sarif-2.1.0-rtm.5.json";
}
