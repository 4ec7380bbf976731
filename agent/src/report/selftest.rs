//! `selftest.json`: the run in the shape of Microsoft's self-test API response (APIVersion 1.5),
//! for pipelines and reviewers that already read that format (research/cert-cases.md §5.2).
//! The file is the API's answer as it comes over the wire: `{"TrackingId": "<uuid>", "Response":
//! "<the inner JSON as a string>"}`, so Microsoft's sample CI validator (`.Response |
//! ConvertFrom-Json`, then `TestResult -eq "Pass"`) reads it unchanged. `TrackingId` is the run
//! id.
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

/// The API's envelope: the tracking id and the inner object serialized as a string.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Envelope {
    tracking_id: String,
    response: String,
}

/// `selftest.json` of `report`: the envelope around [`of`].
///
/// # Errors
/// Serializing the inner object failed (it holds only strings and numbers: a bug).
pub(crate) fn envelope(report: &RunReport) -> serde_json::Result<Envelope> {
    Ok(Envelope {
        tracking_id: report.run.id.clone(),
        response: serde_json::to_string(&of(report))?,
    })
}

/// What a reader of a report takes from its `selftest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Summary {
    /// `TrackingId`.
    pub tracking_id: String,
    /// The inner `TestResult` (`Pass` or `Fail`).
    pub test_result: String,
    /// Entries of the inner `Tests[]`.
    pub tests: usize,
}

/// Reads `selftest.json` as the API's response, as Microsoft's validator would: the envelope,
/// then `Response` parsed as JSON, with a string `TestResult` and a `Tests` array.
///
/// # Errors
/// What is missing or malformed, in a phrase.
pub(crate) fn parse(bytes: &[u8]) -> Result<Summary, String> {
    let outer: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let field = |v: &serde_json::Value, k: &str| -> Result<String, String> {
        v.get(k)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("no string `{k}`"))
    };
    let tracking_id = field(&outer, "TrackingId")?;
    let inner: serde_json::Value = serde_json::from_str(&field(&outer, "Response")?)
        .map_err(|e| format!("`Response` is not a JSON string of the result: {e}"))?;
    let test_result = field(&inner, "TestResult").map_err(|e| format!("`Response` has {e}"))?;
    let tests = inner
        .get("Tests")
        .and_then(serde_json::Value::as_array)
        .ok_or("`Response` has no `Tests` array")?
        .len();
    Ok(Summary {
        tracking_id,
        test_result,
        tests,
    })
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
    fn the_file_is_the_api_response_with_the_inner_json_as_a_string() {
        let b = bundle();
        let text = serde_json::to_string_pretty(&envelope(&b.results).unwrap()).unwrap();
        let outer: serde_json::Value = serde_json::from_str(&text).unwrap();
        let keys: Vec<&String> = outer.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["Response", "TrackingId"]);
        assert_eq!(outer["TrackingId"], b.results.run.id);
        // `.Response | ConvertFrom-Json`: the string parses to the inner object.
        let inner: serde_json::Value =
            serde_json::from_str(outer["Response"].as_str().unwrap()).unwrap();
        assert_eq!(inner, serde_json::to_value(of(&b.results)).unwrap());
        assert_eq!(
            parse(text.as_bytes()),
            Ok(Summary {
                tracking_id: b.results.run.id.clone(),
                test_result: "Fail".to_owned(),
                tests: 5,
            })
        );
        let old_shape = serde_json::to_vec(&of(&b.results)).unwrap();
        assert_eq!(parse(&old_shape), Err("no string `TrackingId`".to_owned()));
        assert_eq!(
            parse(br#"{"TrackingId":"x","Response":"{}"}"#),
            Err("`Response` has no string `TestResult`".to_owned())
        );
    }

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
