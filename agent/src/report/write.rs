//! Writing the report zip: every file of the interface's layout rendered from the bundle and
//! stored in a zip that appears atomically at its path (temporary file in the same directory,
//! fsync, rename, fsync of the directory), so a crash never leaves a half-written report where a
//! finished one is expected, and an existing report is replaced only by a complete one.
//!
//! The small files are rendered in memory; each probe's output goes straight from the evidence
//! into its `probes/<id>.log` entry, hashed for the manifest on the way, so writing a report
//! costs no copy of the outputs (issue 17 item 10: a run of large outputs peaked at 3.6 GB).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::Context as _;
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use zip::write::SimpleFileOptions;

use super::ReportBundle;
use super::manifest::{self, Manifest};
use super::sign::{self, ReportSigner};
use super::{junit, logs, render, sarif, selftest};

/// One file of the zip, rendered in memory.
pub(crate) struct ZipFile {
    /// Path inside the zip.
    pub path: String,
    /// Content.
    pub content: Vec<u8>,
}

/// One file of the zip as the writer plans it.
enum Planned {
    /// Rendered in memory.
    File(ZipFile),
    /// `probes/<id>.log` of probe `id`, written from the evidence as it is stored.
    Probe {
        /// Path inside the zip.
        path: String,
        /// Probe id.
        id: String,
    },
}

impl Planned {
    fn path(&self) -> &str {
        match self {
            Self::File(f) => &f.path,
            Self::Probe { path, .. } => path,
        }
    }

    /// Writes the content into `out`.
    fn write_to(&self, bundle: &ReportBundle, out: &mut dyn Write) -> std::io::Result<()> {
        match self {
            Self::File(f) => out.write_all(&f.content),
            Self::Probe { id, .. } => logs::write_probe_log(out, bundle, id),
        }
    }
}

/// A writer that hashes and counts what passes through it, for the manifest.
struct Hashing<W> {
    inner: W,
    sha: Sha256,
    size: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// `questionnaire.json`: every question with its id, tab, text, answer (null when unanswered),
/// resulting status and the reason for it.
#[derive(Serialize)]
struct QuestionEntry<'a> {
    id: &'a str,
    tab: &'a str,
    text: &'a str,
    answer: &'a Option<serde_json::Value>,
    status: vmcert_checks::Status,
    message: &'a str,
}

/// Every file of the report but the manifest, in zip order.
///
/// # Errors
/// A template fails to render (a bug: the templates are compiled in and tested).
fn plan(bundle: &ReportBundle) -> anyhow::Result<Vec<Planned>> {
    let r = &bundle.results;
    let log_paths = logs::log_paths(&r.checks);
    let probe_paths = logs::probe_paths(bundle);
    let questionnaire: Vec<QuestionEntry<'_>> = r
        .questionnaire
        .iter()
        .map(|q| QuestionEntry {
            id: &q.id,
            tab: &q.tab,
            text: &q.question,
            answer: &q.answer,
            status: q.status,
            message: &q.message,
        })
        .collect();
    let mut files: Vec<Planned> = [
        file("results.json", pretty(r)?),
        file("selftest.json", pretty(&selftest::envelope(r)?)?),
        file(
            "report.html",
            render::html(bundle, &log_paths)?.into_bytes(),
        ),
        file(
            "report.md",
            render::markdown(bundle, &log_paths)?.into_bytes(),
        ),
        file("junit.xml", junit::render(r).into_bytes()),
        file("report.sarif", pretty(&sarif::log(&[r]))?),
        file("questionnaire.json", pretty(&questionnaire)?),
        file("notes.txt", bundle.notes.clone().into_bytes()),
        file("logs/run.log", bundle.run_log.clone().into_bytes()),
    ]
    .into_iter()
    .map(Planned::File)
    .collect();
    let mut inline_left = logs::INLINE_TOTAL;
    for (check, path) in r.checks.iter().zip(log_paths) {
        files.push(Planned::File(ZipFile {
            path,
            content: logs::check_log(bundle, check, &probe_paths, &mut inline_left),
        }));
    }
    for (id, path) in probe_paths {
        files.push(Planned::Probe { path, id });
    }
    Ok(files)
}

/// Every file of the report, in zip order, `manifest.json` last, all in memory (the tests
/// compare them with what the streaming writer stores).
///
/// # Errors
/// As [`plan`].
#[cfg(test)]
pub(crate) fn files(bundle: &ReportBundle) -> anyhow::Result<Vec<ZipFile>> {
    let mut files = Vec::new();
    for p in plan(bundle)? {
        let mut content = Vec::new();
        p.write_to(bundle, &mut content)?;
        files.push(ZipFile {
            path: p.path().to_owned(),
            content,
        });
    }
    let manifest = Manifest::of(
        files
            .iter()
            .map(|f| (f.path.as_str(), f.content.as_slice())),
    );
    files.push(file(manifest::PATH, pretty(&manifest)?));
    Ok(files)
}

fn file(path: &str, content: Vec<u8>) -> ZipFile {
    ZipFile {
        path: path.to_owned(),
        content,
    }
}

/// Pretty JSON with a final newline.
fn pretty<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<Vec<u8>> {
    let mut v = serde_json::to_vec_pretty(value)?;
    v.push(b'\n');
    Ok(v)
}

/// Copies of the CI-readable files written outside the zip (`--junit`, `--sarif`, `--html`,
/// `--md`); each `None` is not written.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Copies<'a> {
    /// JUnit XML.
    pub junit: Option<&'a Path>,
    /// SARIF 2.1.0.
    pub sarif: Option<&'a Path>,
    /// report.html.
    pub html: Option<&'a Path>,
    /// report.md.
    pub md: Option<&'a Path>,
}

/// Writes the copies `copies` asks for, each the same bytes as its file in the zip.
///
/// # Errors
/// A path cannot be written, naming it.
pub(crate) fn write_copies(bundle: &ReportBundle, copies: Copies<'_>) -> anyhow::Result<()> {
    let r = &bundle.results;
    let log_paths = logs::log_paths(&r.checks);
    let write = |path: &Path, content: &[u8], what: &str| {
        std::fs::write(path, content)
            .with_context(|| format!("cannot write the {what} copy to {}", path.display()))
    };
    if let Some(p) = copies.junit {
        write(p, junit::render(r).as_bytes(), "JUnit")?;
    }
    if let Some(p) = copies.sarif {
        write(p, &pretty(&sarif::log(&[r]))?, "SARIF")?;
    }
    if let Some(p) = copies.html {
        write(p, render::html(bundle, &log_paths)?.as_bytes(), "HTML")?;
    }
    if let Some(p) = copies.md {
        write(
            p,
            render::markdown(bundle, &log_paths)?.as_bytes(),
            "Markdown",
        )?;
    }
    Ok(())
}

/// Pretty JSON of `value` with a final newline (SARIF and JSON files outside the zip).
///
/// # Errors
/// Serialization failed (a bug: the models hold only strings and numbers).
pub(crate) fn pretty_json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<Vec<u8>> {
    pretty(value)
}

/// Writes the report zip of `bundle` to `path`, atomically.
///
/// # Errors
/// The directory is not writable, the disk is full, or a template fails to render. Nothing is
/// left at `path` (an existing file there is untouched) and the temporary file is removed.
#[cfg(test)]
pub(crate) fn write_zip(path: &Path, bundle: &ReportBundle) -> anyhow::Result<()> {
    write_zip_signed(path, bundle, None)
}

/// Writes the report zip of `bundle` to `path`, atomically, signed with `signer` when given
/// (`manifest.sig` after `manifest.json`).
///
/// # Errors
/// As [`write_zip`].
pub(crate) fn write_zip_signed(
    path: &Path,
    bundle: &ReportBundle,
    signer: Option<&ReportSigner>,
) -> anyhow::Result<()> {
    let planned = plan(bundle)?;
    let finished = &bundle.results.run.finished;
    persist_zip(path, "write", |zip| {
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(0o644)
            .last_modified_time(zip_time(finished));
        let mut entries = Vec::with_capacity(planned.len());
        for p in &planned {
            zip.start_file(p.path(), options)?;
            let mut out = Hashing {
                inner: &mut *zip,
                sha: Sha256::new(),
                size: 0,
            };
            p.write_to(bundle, &mut out)?;
            entries.push(manifest::Entry {
                path: p.path().to_owned(),
                size: out.size,
                sha256: manifest::hex(&out.sha.finalize()),
            });
        }
        let manifest = pretty(&Manifest::from_entries(entries))?;
        zip.start_file(manifest::PATH, options)?;
        zip.write_all(&manifest)?;
        if let Some(signer) = signer {
            let sig = signer.sign(&manifest)?;
            zip.start_file(sign::PATH, options)?;
            zip.write_all(&pretty(&sig)?)?;
        }
        Ok(())
    })
}

/// Rewrites the zip at `path` atomically with every entry but `name` copied as it is (raw, not
/// recompressed), then `name` holding `content` (`report sign` adding `manifest.sig`).
///
/// # Errors
/// The zip cannot be read or the new one written; the old one is then untouched.
pub(crate) fn rewrite_with(path: &Path, name: &str, content: &[u8]) -> anyhow::Result<()> {
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(
        File::open(path).with_context(|| format!("cannot open {}", path.display()))?,
    ))
    .with_context(|| format!("{} is not a readable zip archive", path.display()))?;
    persist_zip(path, "rewrite", |zip| {
        for i in 0..archive.len() {
            let f = archive.by_index_raw(i)?;
            if f.name() == name {
                continue;
            }
            zip.raw_copy_file(f)?;
        }
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(0o644);
        zip.start_file(name, options)?;
        zip.write_all(content)?;
        Ok(())
    })
}

/// Writes a zip with `fill` and puts it at `path` atomically: a temporary file in the same
/// directory, fsync, mode 0644, rename, fsync of the directory. A second Ctrl-C or SIGTERM waits
/// for the end of this (no `.tmp` is left behind); on an error the old file is untouched.
/// `verb` names the operation in errors (`write`, `rewrite`).
fn persist_zip(
    path: &Path,
    verb: &str,
    fill: impl FnOnce(&mut zip::ZipWriter<BufWriter<&File>>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let _writing = crate::interrupt::writing();
    let tmp = tempfile::Builder::new()
        .prefix(".vmcert-report-")
        .suffix(".zip.tmp")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    let written = (|| -> anyhow::Result<()> {
        let mut zip = zip::ZipWriter::new(BufWriter::new(tmp.as_file()));
        fill(&mut zip)?;
        let mut out = zip.finish()?;
        out.flush()?;
        drop(out);
        tmp.as_file().sync_all()?;
        Ok(())
    })();
    written.with_context(|| format!("cannot {verb} the report {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        // Reports are meant to be shared; the temporary file was created 0600.
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))
            .with_context(|| format!("cannot set the permissions of {}", tmp.path().display()))?;
    }
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot move the report into place at {}", path.display()))?;
    // Make the rename itself durable.
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot sync the directory {}", dir.display()))?;
    Ok(())
}

/// The zip timestamp of the run's end (zip times are local-less and 2-second grained), or the
/// zip epoch (1980-01-01) if it cannot be read.
fn zip_time(rfc3339: &str) -> zip::DateTime {
    use chrono::{Datelike as _, Timelike as _};
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
        .and_then(|t| {
            let year = u16::try_from(t.year()).ok()?;
            let (mo, d, h, mi, s) = (t.month(), t.day(), t.hour(), t.minute(), t.second());
            let b = |v: u32| u8::try_from(v).ok();
            zip::DateTime::from_date_and_time(year, b(mo)?, b(d)?, b(h)?, b(mi)?, b(s)?).ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::read::{ReportZip, verify};
    use crate::report::testdata::bundle;

    const LAYOUT: &[&str] = &[
        "results.json",
        "selftest.json",
        "report.html",
        "report.md",
        "junit.xml",
        "report.sarif",
        "questionnaire.json",
        "notes.txt",
        "logs/run.log",
        "logs/os-architecture.log",
        "logs/bash-history-cleared.log",
        "logs/linux-agent-version.log",
        "logs/ssh-client-alive-interval.log",
        "logs/root-password-locked.log",
        "logs/acme-motd-branded.log",
        "probes/acme-motd.log",
        "probes/history-files.log",
        "probes/os-release.log",
        "probes/shadow-status.log",
        "probes/sshd-config.log",
        "probes/sshd-effective.log",
        "probes/uname-m.log",
        "probes/waagent-version.log",
        "manifest.json",
    ];

    #[test]
    fn zip_has_exactly_the_layout_and_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.zip");
        write_zip(&path, &bundle()).unwrap();
        let z = ReportZip::open(&path).unwrap();
        let names: Vec<&str> = z.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, LAYOUT);
        assert!(verify(&z).is_empty(), "{:?}", verify(&z));
        // Only the report is left in the directory: no temporary file.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o644
            );
        }
    }

    #[test]
    fn rewriting_replaces_the_report_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.zip");
        std::fs::write(&path, b"an older report").unwrap();
        write_zip(&path, &bundle()).unwrap();
        assert!(ReportZip::open(&path).is_ok());
    }

    #[test]
    fn unwritable_directory_is_a_clear_error() {
        let err = write_zip(Path::new("/nonexistent-dir/r.zip"), &bundle()).unwrap_err();
        assert!(
            format!("{err:#}").starts_with("cannot create a temporary file in /nonexistent-dir"),
            "{err:#}"
        );
    }

    #[test]
    fn results_json_snapshot() {
        let files = files(&bundle()).unwrap();
        let results = &files
            .iter()
            .find(|f| f.path == "results.json")
            .unwrap()
            .content;
        insta::assert_snapshot!(String::from_utf8(results.clone()).unwrap());
    }

    /// A build-phase run (`--phase build`) says so in results.json, report.html, report.md,
    /// JUnit and SARIF, and concludes "pre-check", never "certified".
    #[test]
    fn every_file_shows_the_build_phase() {
        let mut b = bundle();
        b.results.scope.phase = vmcert_checks::Phase::Build;
        let r = &b.results;
        b.results.summary =
            crate::engine::runner::summarize(&r.checks, &r.questionnaire, &r.scope, "ssh", false);
        let files = files(&b).unwrap();
        let text = |name: &str| {
            let f = files.iter().find(|f| f.path == name).unwrap();
            String::from_utf8(f.content.clone()).unwrap()
        };
        let json: serde_json::Value = serde_json::from_str(&text("results.json")).unwrap();
        assert_eq!(json["scope"]["phase"], "build");
        let html = text("report.html");
        assert!(html.contains("build phase"), "report.html");
        assert!(html.contains("<td>build</td>"), "report.html facts");
        assert!(text("report.md").contains("| Phase | build |"), "report.md");
        assert!(
            text("junit.xml").contains(r#"<property name="phase" value="build"/>"#),
            "junit.xml"
        );
        let sarif: serde_json::Value = serde_json::from_str(&text("report.sarif")).unwrap();
        assert_eq!(sarif["runs"][0]["properties"]["phase"], "build");
        // The testdata run fails a check, so it is `failed`; without the Fail it is a pre-check.
        assert_eq!(json["summary"]["outcome"], "failed");
        b.results
            .checks
            .retain(|c| c.status != vmcert_checks::Status::Fail);
        let r = &b.results;
        let s =
            crate::engine::runner::summarize(&r.checks, &r.questionnaire, &r.scope, "ssh", false);
        assert_eq!(s.outcome, crate::report::model::Outcome::PreCheck);
        b.results.summary = s;
        let why = crate::report::render::outcome_reason(&b.results).unwrap();
        assert!(why.starts_with("a build-phase run"), "{why}");
    }

    #[test]
    fn questionnaire_json_has_every_question() {
        let files = files(&bundle()).unwrap();
        let q = &files
            .iter()
            .find(|f| f.path == "questionnaire.json")
            .unwrap()
            .content;
        let v: serde_json::Value = serde_json::from_slice(q).unwrap();
        let rows = v.as_array().unwrap();
        assert_eq!(
            rows.len(),
            vmcert_checks::questionnaire::for_os(vmcert_checks::Os::Linux).count()
        );
        let ga2 = rows.iter().find(|r| r["id"] == "GA2").unwrap();
        assert_eq!(ga2["answer"], serde_json::Value::Null);
        assert_eq!(ga2["status"], "Warning");
        assert_eq!(ga2["tab"], "General Assessment");
        assert!(ga2["text"].as_str().unwrap().contains("hardening"));
    }

    /// The e2e tests (`tests/e2e/report.rs`) run `vmcert report ...` on a zip of the fixed bundle
    /// kept in the repository. It must be what this writer writes today.
    #[test]
    fn golden_zip_for_the_e2e_tests_is_current() {
        let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/e2e/fixtures/report.zip");
        if std::env::var_os("VMCERT_UPDATE_GOLDEN").is_some() {
            write_zip(&golden, &bundle()).unwrap();
        }
        let z = ReportZip::open(&golden).unwrap();
        let stored: Vec<(&str, &str)> = z
            .entries
            .iter()
            .map(|e| (e.name.as_str(), e.content.as_ref().unwrap().sha256.as_str()))
            .collect();
        let now: Vec<(String, String)> = files(&bundle())
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f.path.clone(),
                    crate::report::manifest::sha256_hex(&f.content),
                )
            })
            .collect();
        let expected: Vec<(&str, &str)> =
            now.iter().map(|(p, h)| (p.as_str(), h.as_str())).collect();
        assert!(
            stored == expected,
            "{} is stale: run `VMCERT_UPDATE_GOLDEN=1 cargo test -p vmcert golden` and commit it",
            golden.display()
        );
    }

    #[test]
    fn zip_time_is_the_run_end() {
        let t = zip_time("2026-11-21T10:15:04Z");
        assert_eq!(
            (
                t.year(),
                t.month(),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            ),
            (2026, 11, 21, 10, 15, 4)
        );
        assert_eq!(zip_time("garbage"), zip::DateTime::default());
    }
}
