//! `vmcert report verify|show|diff` and `vmcert questionnaire template` on a real report zip, and
//! `report.html` rendered by a real browser (headless Chromium).
//!
//! `fixtures/report.zip` is the zip the report writer makes of its fixed test bundle; the agent's
//! unit test `golden_zip_for_the_e2e_tests_is_current` fails when it is stale, so these tests
//! always read what the writer writes today.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::util::vmcert;

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e/fixtures/report.zip")
}

/// A copy of the golden zip in a fresh directory.
fn copy_of_golden() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("report.zip");
    std::fs::copy(golden(), &path).expect("copy the golden report");
    (dir, path)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn path_arg(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temporary path")
}

/// Rewrites the zip at `src` into `dst`, passing each entry's content through `edit`.
fn rewrite(src: &Path, dst: &Path, edit: impl Fn(&str, Vec<u8>) -> Option<Vec<u8>>) {
    let file = std::fs::File::open(src).expect("open the source zip");
    let mut archive = zip::ZipArchive::new(file).expect("read the source zip");
    let mut out =
        zip::ZipWriter::new(std::fs::File::create(dst).expect("create the rewritten zip"));
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).expect("zip entry");
        let name = f.name().to_owned();
        let mut content = Vec::new();
        f.read_to_end(&mut content).expect("read the zip entry");
        if let Some(content) = edit(&name, content) {
            out.start_file(name, zip::write::SimpleFileOptions::default())
                .expect("start the entry");
            out.write_all(&content).expect("write the entry");
        }
    }
    out.finish().expect("finish the rewritten zip");
}

fn assert_one_error_line(out: &Output) {
    assert_eq!(out.status.code(), Some(2), "stdout: {}", text(&out.stdout));
    let err = text(&out.stderr);
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected:\n{err}"
    );
    assert!(err.starts_with("vmcert: error: "), "{err}");
}

#[test]
fn intact_report_verifies() {
    let (_dir, zip) = copy_of_golden();
    let out = vmcert(&["report", "verify", path_arg(&zip)]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).starts_with("manifest consistent: the 15 other files of ")
            && text(&out.stdout).contains("\ncontents consistent: ")
            && text(&out.stdout).contains("\nnot signed: "),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn modified_added_and_removed_files_are_tampering() {
    let (dir, zip) = copy_of_golden();
    let tampered = dir.path().join("tampered.zip");
    rewrite(&zip, &tampered, |name, content| match name {
        "results.json" => Some(
            text(&content)
                .replace("\"status\": \"Fail\"", "\"status\": \"Pass\"")
                .into_bytes(),
        ),
        "logs/run.log" => None,
        _ => Some(content),
    });
    let out = vmcert(&["report", "verify", path_arg(&tampered)]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("MANIFEST MISMATCH: "), "{stdout}");
    assert!(
        stdout.contains("  results.json: summary.pass is 2 but checks[] has 3\n"),
        "the edited verdict contradicts the summary: {stdout}"
    );
    assert!(
        stdout.contains("results.json: SHA-256 differs from the manifest (modified)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("logs/run.log: listed in the manifest but missing (removed)"),
        "{stdout}"
    );

    let added = dir.path().join("added.zip");
    rewrite(&zip, &added, |_, c| Some(c));
    let mut a = zip::ZipWriter::new_append(
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&added)
            .unwrap(),
    )
    .unwrap();
    a.start_file("logs/extra.log", zip::write::SimpleFileOptions::default())
        .unwrap();
    a.write_all(b"planted").unwrap();
    a.finish().unwrap();
    let out = vmcert(&["report", "verify", path_arg(&added)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("logs/extra.log: not listed in the manifest (added)"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn flipped_byte_in_compressed_data_is_tampering() {
    let (_dir, zip) = copy_of_golden();
    let offset = {
        let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
        let f = archive.by_name("report.html").unwrap();
        f.data_start() + f.compressed_size() / 2
    };
    let mut bytes = std::fs::read(&zip).unwrap();
    bytes[usize::try_from(offset).unwrap()] ^= 0x55;
    std::fs::write(&zip, bytes).unwrap();
    let out = vmcert(&["report", "verify", path_arg(&zip)]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("report.html: cannot be read back (corrupt)"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn garbage_or_missing_zip_is_unreadable_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.zip");
    std::fs::write(&garbage, b"this is not a zip archive\n").unwrap();
    for cmd in ["verify", "show"] {
        let out = vmcert(&["report", cmd, path_arg(&garbage)]);
        assert_one_error_line(&out);
        assert!(
            text(&out.stderr).contains("is not a readable zip archive"),
            "{}",
            text(&out.stderr)
        );
    }
    let out = vmcert(&[
        "report",
        "verify",
        path_arg(&dir.path().join("missing.zip")),
    ]);
    assert_one_error_line(&out);
    assert!(
        text(&out.stderr).contains("cannot open"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn show_prints_the_summary_and_the_findings() {
    let (_dir, zip) = copy_of_golden();
    let out = vmcert(&["report", "show", path_arg(&zip)]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed report: {}",
        text(&out.stderr)
    );
    let s = text(&out.stdout);
    assert!(s.contains("(manifest consistent, not signed)"), "{s}");
    assert!(
        s.contains("Result    FAILED: 2 pass, 1 warning, 1 fail, 1 not applicable, 1 error"),
        "{s}"
    );
    assert!(
        s.contains("Error    root-password-locked  Root password locked"),
        "{s}"
    );

    let out = vmcert(&["report", "show", path_arg(&zip), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "failed");
    let ids: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "bash-history-cleared",
            "ssh-client-alive-interval",
            "root-password-locked"
        ]
    );
}

#[test]
fn diff_names_status_changes() {
    let (dir, zip) = copy_of_golden();
    let newer = dir.path().join("newer.zip");
    rewrite(&zip, &newer, |name, content| {
        if name == "results.json" {
            Some(
                text(&content)
                    .replace("\"status\": \"Fail\"", "\"status\": \"Pass\"")
                    .into_bytes(),
            )
        } else {
            Some(content)
        }
    });
    let out = vmcert(&["report", "diff", path_arg(&zip), path_arg(&newer)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(
        s.contains("bash-history-cleared") && s.contains("Fail -> Pass"),
        "{s}"
    );
    assert!(s.contains("Unchanged: 5 check(s)"), "{s}");

    let out = vmcert(&[
        "report",
        "diff",
        path_arg(&zip),
        path_arg(&newer),
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["changed"][0]["id"], "bash-history-cleared");
    assert_eq!(v["changed"][0]["new"], "Pass");
}

#[test]
fn questionnaire_template_lists_every_question_of_the_os() {
    let out = vmcert(&["questionnaire", "template", "--os", "linux"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    for id in [
        "GA1:",
        "GA12:",
        "KC1:",
        "KC5:",
        "NOTES-SSH:",
        "[notes.exceptions]",
    ] {
        assert!(t.contains(id), "{id} missing from:\n{t}");
    }
    assert!(!t.contains("GA10:"), "GA10 is a Windows question");
    let out = vmcert(&["questionnaire", "template", "--os", "windows"]);
    let t = text(&out.stdout);
    assert!(
        t.contains("GA10:") && !t.contains("[kernel]") && !t.contains("ssh_access"),
        "{t}"
    );
}

/// Runs `cmd` to completion, killing it after `limit`.
fn run_with_limit(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap_or_else(|e| {
        panic!(
            "cannot start {:?}: {e}. Install Chromium (Debian: `apt-get install chromium`, done by \
             tests/lab/install-prereqs.sh) or point VMCERT_CHROMIUM at it",
            cmd.get_program()
        )
    });
    // Drain both pipes on threads so a large DOM or a chatty browser cannot stall it.
    let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            pipe.read_to_end(&mut v).map(|_| v)
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the browser") {
            break status;
        }
        if start.elapsed() > limit {
            child.kill().expect("kill the browser");
            panic!("{:?} did not finish within {limit:?}", cmd.get_program());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let collect = |h: std::thread::JoinHandle<std::io::Result<Vec<u8>>>| {
        h.join()
            .expect("pipe reader")
            .expect("read the browser's output")
    };
    Output {
        status,
        stdout: collect(stdout),
        stderr: collect(stderr),
    }
}

fn chromium(profile: &Path, extra: &[&str], url: &str) -> Output {
    let bin = std::env::var("VMCERT_CHROMIUM").unwrap_or_else(|_| "chromium".to_owned());
    let mut cmd = Command::new(bin);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(extra)
    .arg(url);
    run_with_limit(&mut cmd, Duration::from_secs(120))
}

/// A real browser parses report.html into the tree the template meant: every check section,
/// every question row, no element swallowed by bad markup or by hostile probe output, nothing
/// scripted; and it renders it to a screenshot and a PDF (the printable form).
#[test]
fn report_html_renders_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let mut archive = zip::ZipArchive::new(std::fs::File::open(golden()).unwrap()).unwrap();
    let mut html = String::new();
    archive
        .by_name("report.html")
        .unwrap()
        .read_to_string(&mut html)
        .unwrap();
    let page = dir.path().join("report.html");
    std::fs::write(&page, &html).unwrap();
    let url = format!("file://{}", page.display());

    let out = chromium(&dir.path().join("profile-dom"), &["--dump-dom"], &url);
    assert!(
        out.status.success(),
        "chromium --dump-dom failed: {}",
        text(&out.stderr)
    );
    let dom = text(&out.stdout);
    assert_eq!(dom.matches("<section class=\"check ").count(), 6, "{dom}");
    for id in [
        "os-architecture",
        "bash-history-cleared",
        "root-password-locked",
        "acme-motd-branded",
    ] {
        assert!(
            dom.contains(&format!("id=\"check-{id}\"")),
            "{id} section missing"
        );
    }
    // 11 General Assessment + 5 Kernel Customization + 2 Notes rows, in three tables.
    assert_eq!(dom.matches("<td class=\"answer").count(), 18, "{dom}");
    assert!(dom.contains("awk: cannot open /etc/shadow (Permission denied)"));
    assert!(!dom.contains("<script"), "no script in the report");
    assert!(dom.trim_end().ends_with("</html>"));

    let shot = dir.path().join("report.png");
    let out = chromium(
        &dir.path().join("profile-png"),
        &[
            "--hide-scrollbars",
            "--window-size=1280,2400",
            &format!("--screenshot={}", shot.display()),
        ],
        &url,
    );
    assert!(
        out.status.success(),
        "chromium --screenshot failed: {}",
        text(&out.stderr)
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 50_000,
        "screenshot of {} bytes",
        png.len()
    );

    let pdf = dir.path().join("report.pdf");
    let out = chromium(
        &dir.path().join("profile-pdf"),
        &[
            "--no-pdf-header-footer",
            &format!("--print-to-pdf={}", pdf.display()),
        ],
        &url,
    );
    assert!(
        out.status.success(),
        "chromium --print-to-pdf failed: {}",
        text(&out.stderr)
    );
    let pdf = std::fs::read(&pdf).unwrap();
    assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
}
