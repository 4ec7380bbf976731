//! Placeholder, replaced on merge by the report branch (which writes the full report zip: HTML,
//! Markdown, JUnit, self-test JSON, per-check logs, manifest). This version writes only
//! results.json, notes.txt and the logs, so the runner branch compiles and runs on its own.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;
use zip::write::SimpleFileOptions;

use super::ReportBundle;

/// Writes the report zip for `bundle` to `path`.
pub(crate) fn write_zip(path: &Path, bundle: &ReportBundle) -> anyhow::Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut zip = zip::ZipWriter::new(file);
    let options = SimpleFileOptions::default();
    zip.start_file("results.json", options)?;
    serde_json::to_writer_pretty(&mut zip, &bundle.results)?;
    zip.start_file("notes.txt", options)?;
    zip.write_all(bundle.notes.as_bytes())?;
    zip.start_file("logs/run.log", options)?;
    zip.write_all(bundle.run_log.as_bytes())?;
    for (id, out) in &bundle.evidence.outputs {
        let mut text = String::new();
        if let Some(log) = bundle.probe_logs.get(id) {
            writeln!(
                text,
                "command: {}\nstarted: {}",
                log.command,
                log.started.as_deref().unwrap_or("-")
            )?;
        }
        writeln!(
            text,
            "exit: {:?}\nstdout:\n{}\nstderr:\n{}",
            out.exit_code,
            out.stdout_text(),
            out.stderr_text()
        )?;
        zip.start_file(format!("logs/probes/{id}.log"), options)?;
        zip.write_all(text.as_bytes())?;
    }
    zip.finish()?;
    Ok(())
}
