//! Replays every recorded fixture case (`tests/fixtures/<os>/<check-id>/<case>/`) through its
//! check, asserts the expected status, and snapshots the verdict (`cargo insta review`).
#![allow(
    clippy::unwrap_used,
    reason = "test harness: a panic is the failure report"
)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use vmcert_checks::fixture::{CaseFile, evidence_from};
use vmcert_checks::{Os, ProbeOutput, Status, Verdict, registry};

struct Case {
    os: Os,
    check: String,
    name: String,
    dir: PathBuf,
    file: CaseFile,
}

fn fixtures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn sorted_dirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .map(|e| e.expect("fixture directory entry").path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for (os, sub) in [(Os::Linux, "linux"), (Os::Windows, "windows")] {
        for check_dir in sorted_dirs(&fixtures_root().join(sub)) {
            for case_dir in sorted_dirs(&check_dir) {
                let text = fs::read_to_string(case_dir.join("case.toml"))
                    .unwrap_or_else(|e| panic!("{}: {e}", case_dir.display()));
                let file: CaseFile =
                    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", case_dir.display()));
                out.push(Case {
                    os,
                    check: check_dir
                        .file_name()
                        .expect("check directory name")
                        .to_string_lossy()
                        .into_owned(),
                    name: case_dir
                        .file_name()
                        .expect("case directory name")
                        .to_string_lossy()
                        .into_owned(),
                    dir: case_dir,
                    file,
                });
            }
        }
    }
    out
}

fn files_of(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for e in fs::read_dir(dir).expect("fixture case directory") {
        let p = e.expect("fixture file entry").path();
        let name = p
            .file_name()
            .expect("fixture file name")
            .to_string_lossy()
            .into_owned();
        if name.ends_with(".stdout") || name.ends_with(".stderr") {
            files.insert(name, fs::read(&p).expect("fixture file"));
        }
    }
    files
}

fn evaluate(case: &Case) -> Verdict {
    let check = registry::by_id(case.os, &case.check)
        .unwrap_or_else(|| panic!("fixture dir {} names no {} check", case.check, case.os));
    let ev = evidence_from(&case.file, &files_of(&case.dir));
    for id in ev.outputs.keys() {
        assert!(
            check.probes().contains(&id.as_str()),
            "{}/{}: probe {id} is not one the check declares",
            case.check,
            case.name
        );
    }
    check.evaluate(&ev)
}

#[test]
fn every_case_gives_its_expected_status() {
    let mut wrong = Vec::new();
    for case in cases() {
        let v = evaluate(&case);
        let expect = case
            .file
            .expect
            .unwrap_or_else(|| panic!("{}: no expect", case.dir.display()));
        if v.status != expect {
            wrong.push(format!(
                "{} {}/{}: expected {expect}, got {} ({})",
                case.os, case.check, case.name, v.status, v.message
            ));
        }
        assert!(
            !case.file.source.trim().is_empty(),
            "{}: say where the outputs come from",
            case.dir.display()
        );
    }
    assert!(wrong.is_empty(), "wrong statuses:\n{}", wrong.join("\n"));
}

/// Issue 17 item 10: a probe whose output was cut (at its cap or at the run's output budget) is
/// never read as a finding. In every recorded case, with each of the check's probes in turn cut
/// in half and marked truncated, the check is Error, or gives exactly its verdict on the whole
/// evidence (it decided without reading that probe), or its verdict when that probe did not run
/// at all (an optional source the check does without).
#[test]
fn a_truncated_probe_gives_error_or_the_verdict_that_did_not_read_it() {
    let mut wrong = Vec::new();
    for case in cases() {
        let check = registry::by_id(case.os, &case.check).expect("the case's check");
        let ev = evidence_from(&case.file, &files_of(&case.dir));
        let whole = check.evaluate(&ev);
        for id in ev.outputs.keys() {
            let mut cut = ev.clone();
            let out = cut.outputs.get_mut(id).expect("the probe");
            out.stdout.truncate(out.stdout.len() / 2);
            out.truncated = true;
            let v = check.evaluate(&cut);
            let mut absent = ev.clone();
            absent.insert(
                id.clone(),
                ProbeOutput {
                    error: Some("not run".into()),
                    ..ProbeOutput::default()
                },
            );
            // `actual` may say why the optional source is missing, in the probe's own words.
            let without = check.evaluate(&absent);
            let as_without = (v.status, &v.message) == (without.status, &without.message);
            if v.status != Status::Error && v != whole && !as_without {
                wrong.push(format!(
                    "{} {}/{} with {id} truncated: {} ({})",
                    case.os, case.check, case.name, v.status, v.message
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "verdicts on truncated output:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn verdict_snapshots() {
    for case in cases() {
        let v = evaluate(&case);
        insta::assert_yaml_snapshot!(format!("{}__{}__{}", case.os, case.check, case.name), v);
    }
}

#[test]
fn every_check_has_a_case_for_every_outcome() {
    let all = cases();
    for check in registry::ALL {
        let m = check.meta();
        for outcome in m.outcomes {
            assert!(
                all.iter()
                    .any(|c| c.os == m.os && c.check == m.id && c.file.expect == Some(*outcome)),
                "{} {}: no fixture case expecting {outcome}",
                m.os,
                m.id
            );
        }
        // A case expecting a status the check does not declare means `outcomes` is stale.
        for c in all.iter().filter(|c| c.os == m.os && c.check == m.id) {
            let e = c.file.expect.unwrap_or(Status::Error);
            assert!(
                m.outcomes.contains(&e),
                "{} {}/{}: {e} is not in outcomes",
                m.os,
                m.id,
                c.name
            );
        }
    }
}

#[test]
fn windows_golden_machine_passes_every_check() {
    // tests/winrm/README.md promises one case per Windows check rendered from the golden
    // machine profile, and that the profile passes (wannacry-patch: NotApplicable on 2019).
    let all = cases();
    for check in registry::for_os(Os::Windows) {
        let id = check.meta().id;
        let golden: Vec<&Case> = all
            .iter()
            .filter(|c| c.os == Os::Windows && c.check == id)
            .filter(|c| c.file.source.starts_with("golden machine"))
            .collect();
        assert_eq!(golden.len(), 1, "{id}: exactly one golden-machine case");
        let status = evaluate(golden[0]).status;
        assert!(
            matches!(status, Status::Pass | Status::NotApplicable),
            "{id}/{}: the golden machine gives {status}",
            golden[0].name
        );
    }
}
