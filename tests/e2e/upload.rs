//! `vmcert report upload`: a report zip into an Azurite container through a container SAS URL,
//! read back byte for byte, and every way the SAS can be refused (read-only, expired, tampered,
//! signed for another container, missing container), each a one-line error with exit 2, the
//! local zip untouched and the signature nowhere in the output.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Output;

use chrono::{Duration, Utc};

use crate::azurite::{assert_no_signature, azurite, container_sas, sas_now};
use crate::util::vmcert;

/// A real zip (a small results.json and a log), named `name`, in a fresh directory.
fn report_zip(dir: &Path, name: &str, marker: &str) -> PathBuf {
    let path = dir.join(name);
    let file = std::fs::File::create(&path).expect("create zip");
    let mut zip = zip::ZipWriter::new(file);
    let opts = zip::write::SimpleFileOptions::default();
    zip.start_file("results.json", opts).expect("zip entry");
    zip.write_all(
        format!("{{\"schema\":\"vmcert.report/v1\",\"marker\":\"{marker}\"}}").as_bytes(),
    )
    .expect("write");
    zip.start_file("logs/run.log", opts).expect("zip entry");
    zip.write_all(&vec![b'x'; 300_000]).expect("write");
    zip.finish().expect("finish zip");
    path
}

fn upload(zip: &Path, container_url: &str, sas: &str) -> Output {
    let out = vmcert(&[
        "-vv",
        "report",
        "upload",
        zip.to_str().expect("utf-8"),
        container_url,
    ]);
    assert_no_signature(sas, &String::from_utf8_lossy(&out.stdout));
    assert_no_signature(sas, &String::from_utf8_lossy(&out.stderr));
    out
}

fn container_url(container: &str, sas: &str) -> String {
    format!("{}/{container}?{sas}", azurite().base())
}

/// The error line (the last stderr line: `-vv` logs come before it).
fn error_line(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    err.trim().lines().last().unwrap_or_default().to_string()
}

#[test]
fn upload_then_download_byte_for_byte() {
    let az = azurite();
    az.create_container("reports-ok");
    let dir = tempfile::tempdir().expect("tmp");
    let zip = report_zip(dir.path(), "myimage_20261121-101500.zip", "ok");
    let local = std::fs::read(&zip).expect("zip bytes");
    let sas = sas_now("reports-ok", "racwl");
    let out = upload(&zip, &container_url("reports-ok", &sas), &sas);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with(&format!(
            "uploaded: {}/reports-ok/myimage_20261121-101500.zip (",
            az.base()
        )),
        "{stdout}"
    );
    assert!(stdout.contains("verified by HEAD"), "{stdout}");
    assert!(
        !stdout.contains('?'),
        "the printed blob URL has no query: {stdout}"
    );
    assert_eq!(
        az.get("reports-ok", "myimage_20261121-101500.zip", &sas),
        local
    );
    assert_eq!(
        std::fs::read(&zip).expect("zip"),
        local,
        "local zip untouched"
    );

    // Again: the same bytes are already there, nothing is overwritten.
    let again = upload(&zip, &container_url("reports-ok", &sas), &sas);
    assert_eq!(again.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&again.stdout).starts_with("already present (identical)"));

    // Different bytes under the same name: refused, the blob keeps the first upload.
    let other_dir = tempfile::tempdir().expect("tmp");
    let other = report_zip(other_dir.path(), "myimage_20261121-101500.zip", "different");
    let refused = upload(&other, &container_url("reports-ok", &sas), &sas);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        error_line(&refused)
            .contains("a different blob named `myimage_20261121-101500.zip` already exists"),
        "{}",
        error_line(&refused)
    );
    assert_eq!(
        az.get("reports-ok", "myimage_20261121-101500.zip", &sas),
        local
    );
}

#[test]
fn create_write_sas_uploads_without_reading_back() {
    let az = azurite();
    az.create_container("reports-cw");
    let dir = tempfile::tempdir().expect("tmp");
    let zip = report_zip(dir.path(), "cw.zip", "cw");
    let sas = sas_now("reports-cw", "cw");
    let out = upload(&zip, &container_url("reports-cw", &sas), &sas);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("not read back (HTTP 403"), "{stdout}");
    let reader = sas_now("reports-cw", "rl");
    assert_eq!(
        az.get("reports-cw", "cw.zip", &reader),
        std::fs::read(&zip).expect("zip")
    );
}

/// Asserts a refused upload: exit 2, one `vmcert: error:` line containing `needle`, zip intact.
fn assert_refused(container: &str, sas: &str, needle: &str) {
    let dir = tempfile::tempdir().expect("tmp");
    let zip = report_zip(dir.path(), "refused.zip", "refused");
    let before = std::fs::read(&zip).expect("zip");
    let out = upload(&zip, &container_url(container, sas), sas);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let line = error_line(&out);
    assert!(line.starts_with("vmcert: error: cannot upload"), "{line}");
    assert!(line.contains(needle), "expected `{needle}` in: {line}");
    assert!(out.stdout.is_empty());
    assert_eq!(
        std::fs::read(&zip).expect("zip still there"),
        before,
        "local zip untouched"
    );
    // Without -vv the error is the only line.
    let quiet = vmcert(&[
        "report",
        "upload",
        zip.to_str().expect("utf-8"),
        &container_url(container, sas),
    ]);
    let err = String::from_utf8_lossy(&quiet.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert_no_signature(sas, &err);
}

#[test]
fn read_only_sas_is_refused() {
    azurite().create_container("reports-ro");
    assert_refused(
        "reports-ro",
        &sas_now("reports-ro", "rl"),
        "HTTP 403 AuthorizationPermissionMismatch",
    );
}

#[test]
fn expired_sas_is_refused() {
    azurite().create_container("reports-exp");
    let sas = container_sas(
        "reports-exp",
        "racwl",
        Some(Utc::now() - Duration::days(2)),
        Utc::now() - Duration::hours(1),
    );
    assert_refused("reports-exp", &sas, "the SAS expired at");
}

#[test]
fn tampered_signature_is_refused() {
    azurite().create_container("reports-tamper");
    let sas = sas_now("reports-tamper", "racwl");
    let i = sas.find("&sig=").expect("sig") + 5;
    let flipped = if &sas[i..=i] == "A" { "B" } else { "A" };
    let tampered = format!("{}{flipped}{}", &sas[..i], &sas[i + 1..]);
    assert_refused("reports-tamper", &tampered, "signature does not match");
}

#[test]
fn sas_of_another_container_is_refused() {
    azurite().create_container("reports-a");
    azurite().create_container("reports-b");
    assert_refused(
        "reports-b",
        &sas_now("reports-a", "racwl"),
        "made for another container",
    );
}

#[test]
fn missing_container_is_named() {
    assert_refused(
        "reports-missing",
        &sas_now("reports-missing", "racwl"),
        "container `reports-missing` does not exist",
    );
}

#[test]
fn bad_inputs_exit_2() {
    let dir = tempfile::tempdir().expect("tmp");
    let zip = report_zip(dir.path(), "r.zip", "x");
    let sas = sas_now("reports-x", "cw");
    let blob_url = format!("{}/reports-x/r.zip?{sas}", azurite().base());
    let out = vmcert(&["report", "upload", zip.to_str().expect("utf-8"), &blob_url]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        error_line(&out).contains("expected a container SAS URL"),
        "{}",
        error_line(&out)
    );
    assert_no_signature(&sas, &String::from_utf8_lossy(&out.stderr));
    let missing = vmcert(&[
        "report",
        "upload",
        "/nonexistent/r.zip",
        &container_url("reports-x", &sas),
    ]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        error_line(&missing).starts_with("vmcert: error: cannot read /nonexistent/r.zip"),
        "{}",
        error_line(&missing)
    );
}

#[test]
fn run_upload_puts_the_finished_report_into_the_container() {
    let az = azurite();
    az.create_container("reports-run");
    let dir = tempfile::tempdir().expect("tmp");
    let zip = dir.path().join("run-upload.zip");
    let sas = sas_now("reports-run", "racwl");
    let url = container_url("reports-run", &sas);
    let out = vmcert(&[
        "run",
        "--local",
        "--checks",
        "os-architecture",
        "--non-interactive",
        "--allow-unanswered",
        "--out",
        zip.to_str().expect("utf-8 path"),
        "--upload",
        &url,
    ]);
    assert_no_signature(&sas, &String::from_utf8_lossy(&out.stdout));
    assert_no_signature(&sas, &String::from_utf8_lossy(&out.stderr));
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let local = std::fs::read(&zip).expect("the zip is written before the upload");
    assert_eq!(az.get("reports-run", "run-upload.zip", &sas), local);
}

#[test]
fn run_upload_failure_keeps_the_zip_and_exits_2() {
    let az = azurite();
    az.create_container("reports-run-ro");
    let dir = tempfile::tempdir().expect("tmp");
    let zip = dir.path().join("kept.zip");
    let sas = sas_now("reports-run-ro", "rl");
    let out = vmcert(&[
        "run",
        "--local",
        "--checks",
        "os-architecture",
        "--non-interactive",
        "--allow-unanswered",
        "--out",
        zip.to_str().expect("utf-8 path"),
        "--upload",
        &container_url("reports-run-ro", &sas),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let line = error_line(&out);
    assert!(line.contains("the report is kept at"), "{line}");
    assert_no_signature(&sas, &String::from_utf8_lossy(&out.stderr));
    assert!(zip.exists(), "a failed upload never loses the local report");
}

#[test]
fn run_refuses_a_blob_url_as_upload_target_before_running() {
    let dir = tempfile::tempdir().expect("tmp");
    let zip = dir.path().join("never.zip");
    let sas = sas_now("reports-x", "racwl");
    let out = vmcert(&[
        "run",
        "--local",
        "--non-interactive",
        "--allow-unanswered",
        "--out",
        zip.to_str().expect("utf-8 path"),
        "--upload",
        &format!("{}/reports-x/some.zip?{sas}", azurite().base()),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        error_line(&out).contains("expected a container SAS URL"),
        "{}",
        error_line(&out)
    );
    assert!(!zip.exists(), "bad input is refused before the run");
}

/// Issue 17 item 13: an upload to an endpoint that accepts connections and never answers took
/// 20 minutes (4 attempts of 300 s). A request that times out is no longer retried, and the whole
/// upload has a deadline: exit 2, one line naming the flag, the zip kept, no signature.
#[test]
fn upload_to_a_silent_endpoint_gives_up_at_the_deadline() {
    let dir = tempfile::tempdir().expect("tmp");
    let zip = report_zip(dir.path(), "r.zip", "silent");
    let before = std::fs::read(&zip).expect("read zip");
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let url = format!("http://127.0.0.1:{port}/acct/reports?sp=cw&sig=SILENTSECRET");
    let out = vmcert(&[
        "report",
        "upload",
        zip.to_str().expect("utf-8"),
        &url,
        "--deadline",
        "2",
    ]);
    drop(silent);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(
        error_line(&out),
        "vmcert: error: the upload did not finish within 2 s: the server is not answering or answers too slowly (the limit is --deadline)"
    );
    assert!(!err.contains("SILENTSECRET"));
    assert_eq!(std::fs::read(&zip).expect("read zip"), before);
}
