//! `selftest.json`: the run in the shape of Microsoft's self-test API response (APIVersion 1.5),
//! for pipelines and reviewers that already read that format (research/cert-cases.md §5.2).
//!
//! Mapping decisions (the API only knew Passed, Warning and Failed):
//! - Pass → `Passed`, Warning → `Warning`, Fail → `Failed`, also when a vmcert waiver covers the
//!   check: waivers are vmcert's policy, the self-test result is the image's state.
//! - Error → `Warning`, with `ActualValue` `Could not evaluate: <reason>`: an unevaluated check is
//!   never reported as passed or failed, and a reviewer must look at it.
//! - NotApplicable → left out of `Tests[]`, as the API listed only the tests that apply to the
//!   image; `results.json` keeps it.
//! - `TestResult` is `Pass` exactly when no check has status Fail (waived or not), else `Fail`.
//! - `TestID` is the check's Microsoft TestID, or its vmcert id when it has none; `TestCaseName`
//!   and `Description` fall back to the check's title.
//! - `CreatedDate` is the run's end (its start if the end is unreadable), UTC, `MM/dd/yyyy
//!   HH:mm:ss`; empty if neither time parses.
//! - OS fields come from the target's facts, empty when a fact was not collected (Windows has no
//!   kernel facts).

use chrono::{DateTime, Utc};
use serde::Serialize;
use vmcert_checks::Status;

use super::model::{CheckResult, RunInfo, RunReport};

/// The self-test response.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SelfTest<'a> {
    schema_version: u32,
    app_certification_category: &'static str,
    #[serde(rename = "ProviderID")]
    provider_id: &'static str,
    #[serde(rename = "OSName")]
    os_name: &'a str,
    #[serde(rename = "OSDistro")]
    os_distro: &'a str,
    kernel_version: &'a str,
    kernel_full_version: &'a str,
    #[serde(rename = "OSVersion")]
    os_version: &'a str,
    created_date: String,
    test_result: &'static str,
    #[serde(rename = "APIVersion")]
    api_version: &'static str,
    tests: Vec<Test<'a>>,
}

/// One entry of `Tests[]`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Test<'a> {
    #[serde(rename = "TestID")]
    test_id: &'a str,
    test_case_name: &'a str,
    description: &'a str,
    result: &'static str,
    actual_value: String,
    required_value: &'a str,
}

/// The self-test form of `report`.
pub(crate) fn of(report: &RunReport) -> SelfTest<'_> {
    let fact = |k: &str| report.target.facts.get(k).map_or("", String::as_str);
    SelfTest {
        schema_version: 1,
        app_certification_category: "Microsoft Single VM Certification",
        provider_id: "050DE427-2A99-46D4-817C-5354D3BF2AE8",
        os_name: fact("OSName"),
        os_distro: fact("OSDistro"),
        kernel_version: fact("KernelVersion"),
        kernel_full_version: fact("KernelFullVersion"),
        os_version: fact("OSVersion"),
        created_date: created_date(&report.run),
        test_result: if report.checks.iter().any(|c| c.status == Status::Fail) {
            "Fail"
        } else {
            "Pass"
        },
        api_version: "1.5",
        tests: report.checks.iter().filter_map(test).collect(),
    }
}

fn test(c: &CheckResult) -> Option<Test<'_>> {
    let (result, actual_value) = match c.status {
        Status::Pass => ("Passed", c.actual.clone()),
        Status::Warning => ("Warning", c.actual.clone()),
        Status::Fail => ("Failed", c.actual.clone()),
        Status::Error => ("Warning", format!("Could not evaluate: {}", c.message)),
        Status::NotApplicable => return None,
    };
    Some(Test {
        test_id: c.test_id.as_deref().unwrap_or(&c.id),
        test_case_name: c.test_case_name.as_deref().unwrap_or(&c.title),
        description: if c.description.is_empty() {
            &c.title
        } else {
            &c.description
        },
        result,
        actual_value,
        required_value: &c.required,
    })
}

/// `MM/dd/yyyy HH:mm:ss` (UTC) of the run's end, else its start, else empty.
fn created_date(run: &RunInfo) -> String {
    [&run.finished, &run.started]
        .into_iter()
        .find_map(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| {
            t.with_timezone(&Utc)
                .format("%m/%d/%Y %H:%M:%S")
                .to_string()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::bundle;

    #[test]
    fn maps_statuses_and_fields() {
        let b = bundle();
        let v = serde_json::to_value(of(&b.results)).unwrap();
        assert_eq!(v["SchemaVersion"], 1);
        assert_eq!(v["ProviderID"], "050DE427-2A99-46D4-817C-5354D3BF2AE8");
        assert_eq!(
            v["AppCertificationCategory"],
            "Microsoft Single VM Certification"
        );
        assert_eq!(v["APIVersion"], "1.5");
        assert_eq!(v["CreatedDate"], "11/21/2026 10:15:04");
        assert_eq!(v["OSDistro"], "Debian GNU/Linux 12 (bookworm)");
        assert_eq!(v["TestResult"], "Fail");
        let tests = v["Tests"].as_array().unwrap();
        let by_id = |id: &str| tests.iter().find(|t| t["TestID"] == id).unwrap().clone();
        assert_eq!(by_id("48")["Result"], "Failed");
        assert_eq!(by_id("48")["TestCaseName"], "Bash History");
        assert_eq!(by_id("49")["Result"], "Passed");
        assert_eq!(by_id("46")["Result"], "Warning");
        let err = by_id("root-password-locked");
        assert_eq!(err["Result"], "Warning");
        assert!(
            err["ActualValue"]
                .as_str()
                .unwrap()
                .starts_with("Could not evaluate: probe `shadow-status`")
        );
        assert!(
            tests.iter().all(|t| t["TestID"] != "acme-motd-branded"),
            "NotApplicable is left out"
        );
        assert_eq!(tests.len(), 5);
    }

    #[test]
    fn test_result_is_pass_exactly_without_fail() {
        let mut b = bundle();
        b.results.checks.retain(|c| c.status != Status::Fail);
        assert_eq!(
            of(&b.results).test_result,
            "Pass",
            "Error and Warning do not make it Fail"
        );
    }

    #[test]
    fn created_date_falls_back_to_the_start() {
        let mut b = bundle();
        b.results.run.finished = "not a time".to_owned();
        b.results.run.started = "2026-01-02T03:04:05+01:00".to_owned();
        assert_eq!(created_date(&b.results.run), "01/02/2026 02:04:05");
    }
}
