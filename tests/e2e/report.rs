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
        text(&out.stdout).starts_with("manifest consistent: the 23 other files of ")
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

/// Issue 17 item 5: a hostile report cannot drive the terminal: an entry name that clears the
/// line and prints "valid", and escape sequences inside results.json (the target's own strings)
/// reach `report verify`, `show` and `diff` only as visible characters.
#[test]
fn report_commands_print_no_escape_sequences() {
    let (dir, path) = copy_of_golden();
    let hostile = dir.path().join("hostile.zip");
    rewrite(&path, &hostile, |name, content| {
        if name == "results.json" {
            let t = String::from_utf8(content).unwrap();
            // Inside JSON strings: ESC and CSI (C1) as JSON escapes, a bidi override raw.
            Some(
                t.replace(
                    "\"title\": \"",
                    "\"title\": \"\\u001b]0;owned\\u0007\\u009b2J\u{202e}",
                )
                .into_bytes(),
            )
        } else {
            Some(content)
        }
    });
    // An added entry whose name rewrites the line.
    let mut z = zip::ZipWriter::new_append(
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&hostile)
            .unwrap(),
    )
    .unwrap();
    z.start_file(
        "logs/\u{1b}[2K\rvalid: all files match\u{1b}[8m.log",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    z.write_all(b"x").unwrap();
    z.finish().unwrap();
    let h = path_arg(&hostile);
    for args in [
        vec!["report", "verify", h],
        vec!["report", "show", h],
        vec!["report", "show", "--format", "md", h],
        vec!["report", "show", "--format", "json", h],
        vec!["report", "diff", path_arg(&path), h],
    ] {
        let out = vmcert(&args);
        for stream in [&out.stdout, &out.stderr] {
            let t = text(stream);
            assert!(
                !t.contains(['\u{1b}', '\u{9b}', '\u{7}', '\r', '\u{202e}']),
                "{args:?}: {t:?}"
            );
        }
    }
    // The hostile strings were there, shown as control pictures.
    let show = text(&vmcert(&["report", "show", h]).stdout);
    assert!(show.contains('\u{241b}'), "{show}");
    let out = vmcert(&["report", "verify", h]);
    assert!(
        text(&out.stdout).contains("logs/\u{241b}[2K\u{240d}valid"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).starts_with("MANIFEST MISMATCH"),
        "{}",
        text(&out.stdout)
    );
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

/// ed25519 keys as `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout` write them
/// (test-only keys).
const SIGNING_KEY: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIG+ycOc9ukzK9Xxg+WD9qfIiwc9HecQ9AS4sLXbNnvQu\n-----END PRIVATE KEY-----\n";
const SIGNING_PUB: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAyWjwaP1zZ76HF5NX7bnSpHcSKuKDsOihr5HQaYzXBe4=\n-----END PUBLIC KEY-----\n";
const SIGNING_FP: &str = "SHA256:H24xNDeg6zrHPleqWGA0SpPz0ZZzIQK4Bkvz+hS+kxQ";
const FORGER_KEY: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEILxhrR2RfeQ+sLNMENwf6jQKSpcyGtF/dVLcyt/TCcm2\n-----END PRIVATE KEY-----\n";

/// Rewrites `src` into `dst` with `notes.txt` replaced and the manifest updated to match, as a
/// forger who knows the format would (every other entry, the signature too, kept).
fn forge_notes(src: &Path, dst: &Path) {
    use sha2::Digest as _;
    let forged = b"All good, nothing to see.\n".to_vec();
    let hex: String = sha2::Sha256::digest(&forged)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let size = forged.len();
    rewrite(src, dst, |name, content| match name {
        "notes.txt" => Some(forged.clone()),
        "manifest.json" => {
            let mut m: serde_json::Value = serde_json::from_slice(&content).unwrap();
            for f in m["files"].as_array_mut().unwrap() {
                if f["path"] == "notes.txt" {
                    f["sha256"] = serde_json::json!(hex);
                    f["size"] = serde_json::json!(size);
                }
            }
            Some(serde_json::to_vec_pretty(&m).unwrap())
        }
        _ => Some(content),
    });
}

#[test]
fn signing_proves_who_and_a_rewritten_manifest_no_longer_passes() {
    let (dir, zip) = copy_of_golden();
    let key = dir.path().join("signing.pem");
    let public = dir.path().join("signing.pub.pem");
    let forger = dir.path().join("forger.pem");
    std::fs::write(&key, SIGNING_KEY).unwrap();
    std::fs::write(&public, SIGNING_PUB).unwrap();
    std::fs::write(&forger, FORGER_KEY).unwrap();
    let verify = |zip: &Path, public: Option<&Path>| {
        let mut args = vec!["report", "verify", path_arg(zip)];
        if let Some(p) = public {
            args.extend(["--public-key", path_arg(p)]);
        }
        let out = vmcert(&args);
        (out.status.code(), text(&out.stdout))
    };

    // Unsigned: --public-key asks for a signature it does not find.
    let (code, out) = verify(&zip, Some(&public));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("MISSING SIGNATURE"), "{out}");

    let out = vmcert(&["report", "sign", path_arg(&zip), "--key", path_arg(&key)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(SIGNING_FP),
        "{}",
        text(&out.stdout)
    );
    let (code, out) = verify(&zip, Some(&public));
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!("signed by key {SIGNING_FP}, the key given")),
        "{out}"
    );
    let (code, out) = verify(&zip, None);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("pass --public-key to check it is one you trust"),
        "{out}"
    );
    let show = text(&vmcert(&["report", "show", path_arg(&zip)]).stdout);
    assert!(
        show.contains(&format!(
            "(manifest consistent, signed by key {SIGNING_FP})"
        )),
        "{show}"
    );
    assert!(
        !text(&std::fs::read(&zip).unwrap()).contains("MC4CAQAw"),
        "no private key material in the report"
    );

    // A forged file with its hash updated in the manifest: the manifest is consistent, the
    // signature is not.
    let forged = dir.path().join("forged.zip");
    forge_notes(&zip, &forged);
    let (code, out) = verify(&forged, None);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.starts_with("manifest consistent: "), "{out}");
    assert!(
        out.contains("BAD SIGNATURE: the signature by key ")
            && out.contains("does not match manifest.json"),
        "{out}"
    );

    // The forger signs with their own key: that is all the report then says, and the key the
    // reader trusts refuses it.
    let out = vmcert(&[
        "report",
        "sign",
        path_arg(&forged),
        "--key",
        path_arg(&forger),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let (code, out) = verify(&forged, None);
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains(SIGNING_FP), "{out}");
    let (code, out) = verify(&forged, Some(&public));
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!(", not by the key given ({SIGNING_FP})")),
        "{out}"
    );

    // A report that does not match its manifest is not signed.
    let tampered = dir.path().join("tampered.zip");
    rewrite(&zip, &tampered, |name, content| {
        (name != "logs/run.log").then_some(content)
    });
    let out = vmcert(&[
        "report",
        "sign",
        path_arg(&tampered),
        "--key",
        path_arg(&key),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).starts_with("NOT SIGNED: "),
        "{}",
        text(&out.stdout)
    );

    // Bad key files: one line, exit 2, no key material shown.
    let out = vmcert(&["report", "sign", path_arg(&zip), "--key", path_arg(&public)]);
    assert_one_error_line(&out);
    let out = vmcert(&[
        "report",
        "verify",
        path_arg(&zip),
        "--public-key",
        path_arg(&key),
    ]);
    assert_one_error_line(&out);
    assert!(
        text(&out.stderr).contains("that is a private key"),
        "{}",
        text(&out.stderr)
    );
    assert!(!text(&out.stderr).contains("MC4C"));
}
