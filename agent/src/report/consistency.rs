//! Whether a report agrees with itself, beyond its manifest: `report verify` recomputes the
//! summary from `checks[]` and reads `selftest.json` as the self-test API's response. The
//! manifest only proves the files match the hashes written next to them (anyone editing the zip
//! can rewrite both); these checks catch an edited verdict that left the rest of the report as
//! it was, and a `selftest.json` a CI validator could not read. They prove nothing about who
//! wrote the report: only a signature does (`report sign`).

use vmcert_checks::Status;

use super::model::RunReport;
use super::read::ReportZip;
use super::selftest;

/// Every way `results` disagrees with itself or with `selftest.json`, one line each.
pub(crate) fn problems(zip: &ReportZip, r: &RunReport) -> Vec<String> {
    let mut out = Vec::new();
    let s = &r.summary;
    let count = |st: Status| r.checks.iter().filter(|c| c.status == st).count();
    for (name, recorded, actual) in [
        ("pass", s.pass, count(Status::Pass)),
        ("warning", s.warning, count(Status::Warning)),
        ("fail", s.fail, count(Status::Fail)),
        (
            "not_applicable",
            s.not_applicable,
            count(Status::NotApplicable),
        ),
        ("error", s.error, count(Status::Error)),
    ] {
        if recorded != actual {
            out.push(format!(
                "results.json: summary.{name} is {recorded} but checks[] has {actual}"
            ));
        }
    }
    if s.certified != (s.outcome == super::model::Outcome::Certified) {
        out.push(format!(
            "results.json: summary.certified is {} but summary.outcome is {}",
            s.certified, s.outcome
        ));
    }
    if s.outcome == super::model::Outcome::Certified && (s.fail > 0 || s.error > 0) {
        out.push("results.json: outcome certified with a Fail or an Error".to_owned());
    }
    if s.outcome == super::model::Outcome::Certified && !r.scope.full_catalogue {
        out.push("results.json: outcome certified for a partial run".to_owned());
    }
    // A duplicated file is the manifest check's finding too.
    match zip.get("selftest.json").ok().flatten().map(selftest::parse) {
        None => {} // a missing file is the manifest check's finding
        Some(Err(why)) => out.push(format!(
            "selftest.json: not the self-test API's response: {why}"
        )),
        Some(Ok(st)) => {
            let want = if s.fail > 0 { "Fail" } else { "Pass" };
            if st.test_result != want {
                out.push(format!(
                    "selftest.json: TestResult is {} but results.json has {} failed check(s)",
                    st.test_result, s.fail
                ));
            }
            if st.tracking_id != r.run.id {
                out.push(format!(
                    "selftest.json: TrackingId {} is not the run id {}",
                    st.tracking_id, r.run.id
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::bundle;
    use crate::report::write::write_zip;

    #[test]
    fn an_edited_verdict_is_found_even_with_the_manifest_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.zip");
        let b = bundle();
        write_zip(&p, &b).unwrap();
        let zip = ReportZip::open(&p).unwrap();
        assert_eq!(problems(&zip, &b.results), Vec::<String>::new());

        // A forger flips the Fail to Pass in checks[] but forgets the summary and selftest.json,
        // then writes a fresh manifest (write_zip does): the manifest is consistent, the
        // report is not.
        let mut forged = b.clone();
        forged
            .results
            .checks
            .iter_mut()
            .filter(|c| c.status == Status::Fail)
            .for_each(|c| c.status = Status::Pass);
        let p2 = dir.path().join("forged.zip");
        write_zip(&p2, &forged).unwrap();
        let zip2 = ReportZip::open(&p2).unwrap();
        assert!(crate::report::read::verify(&zip2).is_empty());
        let found = problems(&zip2, &forged.results);
        assert!(
            found.contains(&"results.json: summary.pass is 2 but checks[] has 3".to_owned()),
            "{found:?}"
        );
        assert!(
            found.contains(&"results.json: summary.fail is 1 but checks[] has 0".to_owned()),
            "{found:?}"
        );
    }
}
