//! `vmcert run --local` for real on this machine: the exit status agrees with the report it
//! writes, check packs, waivers and timeouts behave end to end, and every kind of bad input is
//! refused before the run with exit 2 and one line on stderr.

use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::util::vmcert_bin;

/// Runs `vmcert run --local --non-interactive --allow-unanswered ARGS` in `cwd`.
fn run_local(cwd: &Path, args: &[&str]) -> Output {
    Command::new(vmcert_bin())
        .current_dir(cwd)
        .args(["run", "--local", "--non-interactive", "--allow-unanswered"])
        .args(args)
        .output()
        .expect("run vmcert")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `results.json` of a report zip.
fn results(zip_path: &Path) -> Value {
    let file = fs::File::open(zip_path).unwrap_or_else(|e| panic!("{}: {e}", zip_path.display()));
    let mut zip = zip::ZipArchive::new(file).expect("a zip");
    let mut text = String::new();
    zip.by_name("results.json")
        .expect("results.json")
        .read_to_string(&mut text)
        .expect("results.json is readable");
    serde_json::from_str(&text).expect("results.json is JSON")
}

/// The exit status the interface contract gives a report: 2 if interrupted or an unwaived
/// Error, else 1 if an unwaived Fail, else 0.
fn expected_exit(results: &Value) -> i32 {
    let unwaived = |status: &str| {
        results["checks"]
            .as_array()
            .expect("checks[] is an array")
            .iter()
            .any(|c| c["status"] == status && c["waived"].is_null())
    };
    if results["run"]["interrupted"] == true || unwaived("Error") {
        2
    } else if unwaived("Fail") {
        1
    } else {
        0
    }
}

fn check<'a>(results: &'a Value, id: &str) -> &'a Value {
    results["checks"]
        .as_array()
        .expect("checks[] is an array")
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {results}"))
}

const PACK: &str = r#"# Checks whose outcome does not depend on the machine.
[[check]]
id = "always-passes"
title = "echo prints ok"
os = "linux"
command = "echo ok"
stdout_matches = '^ok$'

[[check]]
id = "always-fails"
title = "an old OpenSSL is too old"
os = "linux"
command = "echo 'OpenSSL 1.0.1f 6 Jan 2014'"
version_regex = '^OpenSSL (\S+)'
version_min = "3.0.0"

[[check]]
id = "hangs"
title = "a probe that never ends"
os = "linux"
command = "sleep 600"
"#;

#[test]
fn a_partial_run_is_incomplete_and_fail_on_sets_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_local(
        dir.path(),
        &["--checks", "os-architecture", "--out", "p.zip"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let r = results(&dir.path().join("p.zip"));
    assert_eq!(r["summary"]["outcome"], "incomplete", "{r}");
    assert_eq!(r["summary"]["certified"], false);
    assert_eq!(
        r["scope"]["checks_run"],
        serde_json::json!(["os-architecture"])
    );
    let skipped = r["scope"]["skipped"].as_array().unwrap();
    assert!(
        skipped
            .iter()
            .any(|k| k["id"] == "bash-history-cleared" && k["reason"] == "checks"),
        "{skipped:?}"
    );
    assert!(
        skipped.iter().any(|k| k["reason"] == "os"),
        "the Windows checks are recorded as skipped for the OS: {skipped:?}"
    );
    assert!(!stdout.contains("certified: yes"), "{stdout}");
    assert!(stdout.contains("Summary: INCOMPLETE: "), "{stdout}");
    assert!(
        stdout.contains("Not certified: only part of the catalogue ran: "),
        "{stdout}"
    );

    // -v logs piped to a file carry no colour escapes.
    let out = run_local(
        dir.path(),
        &["-v", "--checks", "os-architecture", "--out", "v.zip"],
    );
    let log = stderr(&out);
    assert!(log.contains("INFO"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "ANSI escapes in a piped log: {log:?}"
    );

    // --format md prints the Markdown report (not the table).
    let out = run_local(
        dir.path(),
        &[
            "--checks",
            "os-architecture",
            "--out",
            "m.zip",
            "--format",
            "md",
        ],
    );
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.starts_with("# vmcert certification report: "), "{md}");
    assert!(md.contains("**Result: INCOMPLETE**"), "{md}");
    assert!(md.trim_end().ends_with("Report zip: `m.zip`"), "{md}");

    let warn = dir.path().join("warn.toml");
    fs::write(
        &warn,
        "[[check]]\nid = \"old-openssl\"\ntitle = \"t\"\nos = \"linux\"\ncommand = \"echo 'OpenSSL 1.0.1f'\"\nversion_regex = '^OpenSSL (\\S+)'\nversion_min = \"3.0.0\"\non_mismatch = \"warning\"\n",
    )
    .unwrap();
    let w = warn.to_str().unwrap();
    let common = [
        "--check-pack",
        w,
        "--checks",
        "old-openssl",
        "--out",
        "w.zip",
    ];
    for (fail_on, code) in [(None, 0), (Some("warning"), 1), (Some("error"), 0)] {
        let mut args = common.to_vec();
        if let Some(f) = fail_on {
            args.extend(["--fail-on", f]);
        }
        let out = run_local(dir.path(), &args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "--fail-on {fail_on:?}: {}",
            stderr(&out)
        );
    }
    let pack = pack_file(dir.path());
    let p = pack.to_str().unwrap();
    let args = [
        "--check-pack",
        p,
        "--checks",
        "always-fails",
        "--fail-on",
        "error",
    ];
    let out = run_local(dir.path(), &[&args[..], &["--out", "f.zip"]].concat());
    assert_eq!(
        out.status.code(),
        Some(0),
        "--fail-on error lets a Fail through"
    );
    assert_eq!(
        results(&dir.path().join("f.zip"))["summary"]["outcome"],
        "failed"
    );
}

#[test]
fn ci_outputs_are_written_outside_the_zip_and_the_ci_variables_are_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let pack = pack_file(dir.path());
    let summary_file = dir.path().join("step-summary.md");
    fs::write(&summary_file, "# earlier step\n").unwrap();
    // A test-only ed25519 key, as `openssl genpkey -algorithm ed25519` writes it.
    let key = dir.path().join("signing.pem");
    fs::write(&key, "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIG+ycOc9ukzK9Xxg+WD9qfIiwc9HecQ9AS4sLXbNnvQu\n-----END PRIVATE KEY-----\n").unwrap();
    let out = Command::new(vmcert_bin())
        .current_dir(dir.path())
        .args(["run", "--local", "--non-interactive", "--allow-unanswered"])
        .args(["--check-pack", pack.to_str().unwrap()])
        .args(["--checks", "always-passes,always-fails", "--out", "r.zip"])
        .args([
            "--junit", "j.xml", "--sarif", "r.sarif", "--html", "r.html", "--md", "r.md",
        ])
        .args(["--sign-key", key.to_str().unwrap()])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary_file)
        .env("TF_BUILD", "True")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Each copy is the zip's own file, byte for byte.
    let file = fs::File::open(dir.path().join("r.zip")).unwrap();
    let mut zip = zip::ZipArchive::new(file).unwrap();
    for (copy, member) in [
        ("j.xml", "junit.xml"),
        ("r.sarif", "report.sarif"),
        ("r.html", "report.html"),
        ("r.md", "report.md"),
    ] {
        let mut inside = Vec::new();
        zip.by_name(member)
            .unwrap()
            .read_to_end(&mut inside)
            .unwrap();
        assert_eq!(fs::read(dir.path().join(copy)).unwrap(), inside, "{copy}");
    }
    let junit = fs::read_to_string(dir.path().join("j.xml")).unwrap();
    assert!(junit.contains("<failure type=\"Fail\""), "{junit}");
    let sarif: Value =
        serde_json::from_slice(&fs::read(dir.path().join("r.sarif")).unwrap()).unwrap();
    assert_eq!(sarif["runs"][0]["results"][0]["ruleId"], "always-fails");
    // GitHub: an annotation per finding, and the Markdown report appended to the job summary.
    assert!(
        stdout.contains("::error title=always-fails an old OpenSSL is too old::"),
        "{stdout}"
    );
    let summary = fs::read_to_string(&summary_file).unwrap();
    assert!(
        summary.starts_with("# earlier step\n# vmcert certification report"),
        "{summary}"
    );
    assert!(summary.contains("**Result: FAILED**"), "{summary}");
    // --sign-key: the report verifies as signed by that key.
    let verify = Command::new(vmcert_bin())
        .args([
            "report",
            "verify",
            dir.path().join("r.zip").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let verified = String::from_utf8_lossy(&verify.stdout);
    assert_eq!(verify.status.code(), Some(0), "{verified}");
    assert!(
        verified.contains("signed by key SHA256:H24xNDeg6zrHPleqWGA0SpPz0ZZzIQK4Bkvz+hS+kxQ"),
        "{verified}"
    );
    // Azure Pipelines: a logging command per finding.
    assert!(
        stdout.contains("##vso[task.logissue type=error;code=always-fails;]always-fails an old OpenSSL is too old: "),
        "{stdout}"
    );
}

fn pack_file(dir: &Path) -> PathBuf {
    let p = dir.join("site.toml");
    fs::write(&p, PACK).expect("write the pack");
    p
}

#[test]
fn a_full_local_run_writes_a_report_and_exits_as_it_says() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_local(dir.path(), &["--format", "json", "--name", "e2e-host"]);
    let code = out.status.code().expect("exit status");
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    let summary: Value = serde_json::from_slice(&out.stdout).expect("--format json prints JSON");
    assert_eq!(summary["exit_code"], code);
    // Default --out: <name>_<yyyyMMdd-HHmmss>.zip in the current directory.
    let report = summary["report"].as_str().unwrap();
    let name = report
        .strip_prefix("e2e-host_")
        .and_then(|r| r.strip_suffix(".zip"))
        .expect(report);
    assert!(name.len() == 15 && name.as_bytes()[8] == b'-', "{report}");
    let results = results(&dir.path().join(report));
    assert_eq!(results["schema"], "vmcert.report/v1");
    assert_eq!(expected_exit(&results), code, "{results}");
    assert_eq!(results["summary"], summary["summary"]);
    assert_eq!(results["target"]["transport"], "local");
    // The fact probes ran on this machine.
    let uname_r = Command::new("uname").arg("-r").output().unwrap();
    assert_eq!(
        results["target"]["facts"]["KernelVersion"],
        String::from_utf8_lossy(&uname_r.stdout).trim()
    );
    assert!(
        results["target"]["facts"]["OSName"].is_string(),
        "{results}"
    );
    assert_eq!(check(&results, "os-architecture")["probes"][0], "uname-m");
}

#[test]
fn pack_checks_waivers_and_timeouts_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let pack = pack_file(dir.path());
    let pack = pack.to_str().unwrap();

    let out = run_local(
        dir.path(),
        &[
            "--check-pack",
            pack,
            "--checks",
            "always-passes",
            "--out",
            "pass.zip",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        check(&results(&dir.path().join("pass.zip")), "always-passes")["status"],
        "Pass"
    );

    let out = run_local(
        dir.path(),
        &[
            "--check-pack",
            pack,
            "--checks",
            "always-passes,always-fails",
            "--out",
            "fail.zip",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let r = results(&dir.path().join("fail.zip"));
    assert_eq!(check(&r, "always-fails")["status"], "Fail");
    assert_eq!(check(&r, "always-fails")["actual"], "1.0.1f");
    assert_eq!(check(&r, "always-fails")["source"], pack);
    assert_eq!(r["summary"]["certified"], false);

    let waivers = dir.path().join("waivers.toml");
    fs::write(&waivers, "[[waiver]]\ncheck = \"always-fails\"\njustification = \"legacy build\"\nexpires = \"2999-12-31\"\n").unwrap();
    let w = waivers.to_str().unwrap();
    let out = run_local(
        dir.path(),
        &[
            "--check-pack",
            pack,
            "--checks",
            "always-fails",
            "--waivers",
            w,
            "--out",
            "waived.zip",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = results(&dir.path().join("waived.zip"));
    assert_eq!(check(&r, "always-fails")["status"], "Fail");
    assert_eq!(check(&r, "always-fails")["waived"]["expires"], "2999-12-31");
    // The waiver keeps the exit status 0 but does not certify: a Fail is a Fail, and only one
    // check of the catalogue ran.
    assert_eq!(
        (
            r["summary"]["waived"].as_u64(),
            r["summary"]["certified"].as_bool(),
            r["summary"]["outcome"].as_str()
        ),
        (Some(1), Some(false), Some("failed"))
    );
    assert_eq!(r["scope"]["waived"], serde_json::json!(["always-fails"]));
    assert_eq!(r["scope"]["full_catalogue"], false);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Summary: FAILED: 0 pass, 0 warning, 1 fail, 0 not applicable, 0 error (waived: 1 fail)\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Not certified: 1 check(s) failed; all are waived"),
        "{stdout}"
    );

    fs::write(&waivers, "[[waiver]]\ncheck = \"always-fails\"\njustification = \"legacy build\"\nexpires = \"2001-01-31\"\n").unwrap();
    let out = run_local(
        dir.path(),
        &[
            "--check-pack",
            pack,
            "--checks",
            "always-fails",
            "--waivers",
            w,
            "--out",
            "expired.zip",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let r = results(&dir.path().join("expired.zip"));
    let message = check(&r, "always-fails")["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.ends_with("expired on 2001-01-31 and was not applied."),
        "{message}"
    );

    // A probe killed at --timeout: the check is Error (never Pass/Fail), exit 2, report written.
    let out = run_local(
        dir.path(),
        &[
            "--check-pack",
            pack,
            "--checks",
            "hangs,always-passes",
            "--timeout",
            "1",
            "--out",
            "hang.zip",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let r = results(&dir.path().join("hang.zip"));
    assert_eq!(check(&r, "hangs")["status"], "Error");
    assert!(
        check(&r, "hangs")["message"]
            .as_str()
            .unwrap()
            .contains("timed out"),
        "{r}"
    );
    assert_eq!(check(&r, "always-passes")["status"], "Pass");
}

#[test]
fn record_writes_the_raw_evidence_as_a_fixture_case() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    let out = run_local(
        dir.path(),
        &[
            "--checks",
            "os-architecture",
            "--record",
            rec.to_str().unwrap(),
            "--out",
            "r.zip",
        ],
    );
    assert!(
        out.status.code().is_some_and(|c| c <= 2),
        "{}",
        stderr(&out)
    );
    let case = fs::read_to_string(rec.join("case.toml")).unwrap();
    assert!(case.contains("source = \"vmcert run --local on "), "{case}");
    let uname_m = Command::new("uname").arg("-m").output().unwrap();
    assert_eq!(
        fs::read(rec.join("uname-m.stdout")).unwrap(),
        uname_m.stdout
    );
    // Only the probes of the checks asked for: the report's fact probes are not part of the case.
    assert!(!rec.join("os-release.stdout").exists());
}

/// Exit 2, exactly one line on stderr containing `needle`, no panic, no report.
fn refused(dir: &Path, args: &[&str], needle: &str) {
    let out = run_local(dir, args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    assert!(err.starts_with("vmcert: error: "), "{err}");
    assert!(
        err.contains(needle),
        "{args:?}: expected `{needle}` in {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    let zips: Vec<_> = fs::read_dir(dir)
        .expect("list the test directory")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "zip"))
        .collect();
    assert!(zips.is_empty(), "{args:?}: a report was written");
}

#[test]
fn bad_inputs_exit_2_with_one_line_before_running() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    refused(
        d,
        &["--checks", "no-such-check"],
        "unknown check id `no-such-check`",
    );
    refused(
        d,
        &["--skip", "os-architecture,nope"],
        "unknown check id `nope`",
    );

    let broken = d.join("broken.toml");
    fs::write(&broken, "[[check]]\nid = \"x\"\ntitle = \"t\"\nos = \"linux\"\ncommand = \"true\"\nstdout_matches = '(('\n").unwrap();
    refused(
        d,
        &["--check-pack", broken.to_str().unwrap()],
        &format!(
            "{}:6: `stdout_matches` of `x` is not a valid regex",
            broken.display()
        ),
    );
    fs::write(
        &broken,
        "[[check]]\nid = \"x\"\ntitle = \"t\"\nos = \"linux\"\ncommand = \"true\"\ntimeout = 5\n",
    )
    .unwrap();
    refused(
        d,
        &["--check-pack", broken.to_str().unwrap()],
        &format!("{}:6: unknown field `timeout`", broken.display()),
    );
    fs::write(
        &broken,
        "[[check]]\nid = \"os-architecture\"\ntitle = \"t\"\nos = \"linux\"\ncommand = \"true\"\n",
    )
    .unwrap();
    refused(
        d,
        &["--check-pack", broken.to_str().unwrap()],
        "is already used by a built-in check",
    );
    refused(
        d,
        &["--check-pack", d.join("missing.toml").to_str().unwrap()],
        "missing.toml",
    );

    let waivers = d.join("w.toml");
    fs::write(
        &waivers,
        "[[waiver]]\ncheck = \"os-architecture\"\njustification = \"j\"\nexpires = \"next year\"\n",
    )
    .unwrap();
    refused(
        d,
        &["--waivers", waivers.to_str().unwrap()],
        &format!(
            "{}:4: `expires` of `os-architecture` must be a date",
            waivers.display()
        ),
    );
    fs::write(
        &waivers,
        "[[waiver]]\ncheck = \"os-architecture\"\nreason = \"j\"\n",
    )
    .unwrap();
    refused(
        d,
        &["--waivers", waivers.to_str().unwrap()],
        &format!("{}:3: unknown field `reason`", waivers.display()),
    );
    fs::write(
        &waivers,
        "[[waiver]]\ncheck = \"os-architectur\"\njustification = \"j\"\nexpires = \"2030-01-01\"\n",
    )
    .unwrap();
    refused(
        d,
        &["--waivers", waivers.to_str().unwrap()],
        "waiver for unknown check id `os-architectur`",
    );

    refused(
        d,
        &["--out", "/proc/vmcert-report.zip"],
        "cannot write the report to /proc/vmcert-report.zip",
    );
    refused(
        d,
        &["--out", d.join("no/such/dir/r.zip").to_str().unwrap()],
        "does not exist",
    );
    refused(d, &["--out", d.to_str().unwrap()], "it is a directory");
    refused(
        d,
        &["--timeout", "0"],
        "--timeout must be at least 1 second",
    );
    // Issue 17 items 12 and 14: a timeout whose arithmetic would wrap, and an endless answers
    // file.
    refused(
        d,
        &["--timeout", "18446744073709551604"],
        "--timeout must be at most 86400 seconds",
    );
    refused(
        d,
        &["--answers", "/dev/zero"],
        "more than 64 MiB: not an input file",
    );
}

/// Issue 17, item 8: SIGTERM sent to vmcert alone (a service manager, `timeout`, `kill`) stops a
/// local run like Ctrl-C: the slow probe is killed, the report is written and says interrupted,
/// exit 2; and no `.tmp` is left in the report's directory.
#[test]
fn sigterm_interrupts_a_local_run_and_the_report_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let started = dir.path().join("started");
    fs::write(
        dir.path().join("nap.toml"),
        format!(
            "[[check]]\nid = \"nap\"\ntitle = \"nap\"\nos = \"linux\"\ncommand = 'touch {}; sleep 600'\n",
            started.display()
        ),
    )
    .unwrap();
    let child = Command::new(vmcert_bin())
        .current_dir(dir.path())
        .args(["run", "--local", "--non-interactive", "--allow-unanswered"])
        .args([
            "--check-pack",
            "nap.toml",
            "--checks",
            "nap,os-architecture",
        ])
        .args(["--out", "r.zip", "--format", "json"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start vmcert");
    let mut waited = 0;
    while !started.exists() {
        assert!(waited < 600, "the nap probe never started");
        std::thread::sleep(std::time::Duration::from_millis(100));
        waited += 1;
    }
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    // A hang guard (the probe sleeps 600 s), not a speed measure.
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let out = child.wait_with_output();
        let _ = tx.send(());
        out
    });
    if rx
        .recv_timeout(std::time::Duration::from_secs(120))
        .is_err()
    {
        let _ = Command::new("kill").args(["-KILL", &pid]).status();
        panic!("vmcert still running 120 s after SIGTERM");
    }
    let out = waiter.join().unwrap().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let r = results(&dir.path().join("r.zip"));
    assert_eq!(r["run"]["interrupted"], true, "{r}");
    assert_eq!(check(&r, "nap")["status"], "Error", "{r}");
    let leftovers: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Issue 17 item 10: probes printing a lot. The run keeps at most `--output-budget` of output in
/// all: past it the probes are cut and marked truncated, and their checks are Error, never Pass
/// or Fail on part of the output; a small output arriving later still has its evidence; each
/// output is stored once in the zip (`probes/<id>.log`, named by the check logs); the report
/// stays small and verifies.
#[test]
fn the_output_budget_bounds_the_report_and_truncated_evidence_is_error() {
    const FLOODS: usize = 6;
    const BUDGET_MIB: u64 = 4;
    let dir = tempfile::tempdir().unwrap();
    let mut pack = String::new();
    for i in 0..FLOODS {
        // 1.5 MB of stdout and of stderr each, incompressible enough for a realistic zip size.
        pack.push_str(&format!(
            "[[check]]\nid = \"flood-{i}\"\ntitle = \"flood {i}\"\nos = \"linux\"\n\
             command = \"base64 /dev/urandom | head -c 1500000; base64 /dev/urandom | head -c 1500000 >&2\"\n\n"
        ));
    }
    // Runs after the floods: its output is a few bytes, which the budget's reserve keeps.
    pack.push_str(
        "[[check]]\nid = \"small-after\"\ntitle = \"small\"\nos = \"linux\"\n\
         command = \"sleep 2; echo ok\"\nstdout_matches = '^ok$'\n",
    );
    let pack_path = dir.path().join("flood.toml");
    fs::write(&pack_path, pack).unwrap();
    let ids: Vec<String> = (0..FLOODS)
        .map(|i| format!("flood-{i}"))
        .chain(["small-after".to_string(), "os-architecture".to_string()])
        .collect();
    let zip_path = dir.path().join("r.zip");
    let out = run_local(
        dir.path(),
        &[
            "--check-pack",
            pack_path.to_str().unwrap(),
            "--checks",
            &ids.join(","),
            "--output-budget",
            &BUDGET_MIB.to_string(),
            "--out",
            zip_path.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let r = results(&zip_path);
    assert_eq!(check(&r, "small-after")["status"], "Pass", "{r:#}");
    assert_eq!(check(&r, "os-architecture")["status"], "Pass", "{r:#}");
    let mut errors = 0;
    for i in 0..FLOODS {
        let c = check(&r, &format!("flood-{i}"));
        match c["status"].as_str().unwrap() {
            "Pass" => {}
            "Error" => {
                errors += 1;
                assert_eq!(
                    c["message"],
                    format!(
                        "probe `pack-flood-{i}` printed more than the output cap; its output was truncated"
                    )
                );
            }
            other => panic!("flood-{i} is {other}: {c:#}"),
        }
    }
    // 18 MB were printed, 4 MiB kept: most floods are cut.
    assert!(errors >= FLOODS - 2, "{errors} floods cut");

    let file = fs::File::open(&zip_path).unwrap();
    let mut zip = zip::ZipArchive::new(file).unwrap();
    let mut total = 0u64;
    let mut run_log = String::new();
    let mut kept_output = 0u64;
    for i in 0..zip.len() {
        let mut e = zip.by_index(i).unwrap();
        let name = e.name().to_owned();
        total += e.size();
        if name.starts_with("logs/") && name != "logs/run.log" {
            // Small outputs are shown in the check logs too (at most 8 KiB per stream); the floods only
            // in their probe logs.
            assert!(e.size() < 40 * 1024, "{name}: {} bytes", e.size());
        }
        if name == "logs/run.log" {
            e.read_to_string(&mut run_log).unwrap();
        }
        if name.starts_with("probes/") {
            let mut text = Vec::new();
            e.read_to_end(&mut text).unwrap();
            let text = String::from_utf8_lossy(&text);
            for line in text.lines().filter(|l| l.starts_with("--- std")) {
                let n: u64 = line
                    .split(['(', ' '])
                    .nth(3)
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| panic!("{name}: {line}"));
                kept_output += n;
            }
        }
    }
    let budget = BUDGET_MIB << 20;
    assert!(kept_output <= budget, "{kept_output} bytes of output kept");
    assert!(
        kept_output > budget / 2,
        "{kept_output} bytes of output kept"
    );
    // The output once, report.html's excerpts (64 KiB per stream) and the small files.
    assert!(total < budget + (3 << 20), "{total} bytes in the zip");
    assert!(
        run_log.contains("bytes of output kept: the run's output budget of 4194304 bytes is spent"),
        "{run_log}"
    );
    let verify = Command::new(vmcert_bin())
        .args(["report", "verify"])
        .arg(&zip_path)
        .output()
        .unwrap();
    assert_eq!(verify.status.code(), Some(0), "{}", stderr(&verify));
}
