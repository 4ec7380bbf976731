//! The logs of a report: `logs/<check-id>.log` for each check, its verdict and every probe it
//! read (command id, command text, start, duration, exit code, output sizes), and
//! `probes/<probe-id>.log` for each probe, the same facts followed by its stdout and stderr.
//! Each probe's output is stored whole once, in its probe log, which the check logs name: a probe
//! read by several checks was copied into each check's log, and a run of large outputs made a
//! report several times their size (issue 17 item 10). A reviewer still reads a check's evidence
//! in its own log: streams of at most [`INLINE_STREAM`] bytes are also shown there, as text, until
//! the report's check logs have shown [`INLINE_TOTAL`] bytes in all (a bound however many checks
//! read a probe). The probe log is written byte for byte, so
//! output that is not UTF-8 survives there; every other file of the report renders it lossily
//! (invalid sequences become U+FFFD). Each stream is preceded by its length in bytes, so the log
//! stays unambiguous whatever the output contains. Probe logs are written straight into the
//! zip ([`write_probe_log`]), never assembled in memory.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use super::ReportBundle;
use super::model::CheckResult;

/// `stem` with any character outside `[A-Za-z0-9._-]` replaced by `_`, never empty nor
/// starting with a dot.
fn safe_stem(id: &str) -> String {
    let mut stem: String = id
        .chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || "._-".contains(ch) {
                ch
            } else {
                '_'
            }
        })
        .collect();
    if stem.is_empty() || stem.starts_with('.') {
        stem.insert(0, '_');
    }
    stem
}

/// The zip path of each check's log, in check order: `logs/<id>.log`, with any character outside
/// `[A-Za-z0-9._-]` replaced by `_` and a numeric suffix if two ids collide after that.
pub(crate) fn log_paths(checks: &[CheckResult]) -> Vec<String> {
    let mut used = BTreeSet::new();
    checks
        .iter()
        .map(|c| {
            let stem = safe_stem(&c.id);
            let mut path = format!("logs/{stem}.log");
            let mut n = 2;
            // `run.log` is the run's own log.
            while path == "logs/run.log" || !used.insert(path.clone()) {
                path = format!("logs/{stem}-{n}.log");
                n += 1;
            }
            path
        })
        .collect()
}

/// The zip path of the log of every probe that reported, by probe id: `probes/<id>.log`, named
/// like the check logs.
pub(crate) fn probe_paths(bundle: &ReportBundle) -> BTreeMap<String, String> {
    let mut used = BTreeSet::new();
    bundle
        .evidence
        .outputs
        .keys()
        .map(|id| {
            let stem = safe_stem(id);
            let mut path = format!("probes/{stem}.log");
            let mut n = 2;
            while !used.insert(path.clone()) {
                path = format!("probes/{stem}-{n}.log");
                n += 1;
            }
            (id.clone(), path)
        })
        .collect()
}

/// A stream of at most this many bytes is also shown in the logs of the checks that read it.
pub(crate) const INLINE_STREAM: usize = 8 * 1024;
/// At most this many bytes of output are shown in all the check logs of a report together.
pub(crate) const INLINE_TOTAL: usize = 2 * 1024 * 1024;

/// The log of one check; `probe_paths` as [`probe_paths`] gives them. `inline_left` is what
/// the report's check logs may still show of probe output ([`INLINE_TOTAL`] for the first).
pub(crate) fn check_log(
    bundle: &ReportBundle,
    check: &CheckResult,
    probe_paths: &BTreeMap<String, String>,
    inline_left: &mut usize,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    // Writing into a Vec cannot fail.
    let _ = write_check_log(&mut out, bundle, check, probe_paths, inline_left);
    out
}

fn write_check_log(
    out: &mut Vec<u8>,
    bundle: &ReportBundle,
    check: &CheckResult,
    probe_paths: &BTreeMap<String, String>,
    inline_left: &mut usize,
) -> std::io::Result<()> {
    writeln!(out, "check:       {}", check.id)?;
    writeln!(out, "title:       {}", check.title)?;
    writeln!(out, "status:      {}", check.status)?;
    writeln!(out, "actual:      {}", one_line(&check.actual))?;
    writeln!(out, "required:    {}", one_line(&check.required))?;
    writeln!(out, "message:     {}", one_line(&check.message))?;
    if let Some(w) = &check.waived {
        writeln!(
            out,
            "waived:      until {}: {}",
            w.expires,
            one_line(&w.justification)
        )?;
    }
    writeln!(out, "duration:    {} ms", check.duration_ms)?;
    if check.probes.is_empty() {
        writeln!(out, "\nThis check read no probe.")?;
    }
    for id in &check.probes {
        writeln!(out, "\n=== probe {id}")?;
        if write_probe_facts(out, bundle, id)? {
            let path = probe_paths.get(id).map_or("?", String::as_str);
            let o = &bundle.evidence.outputs[id];
            for (name, bytes) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
                writeln!(out, "{name}:      {} bytes, in {path}", bytes.len())?;
                if !bytes.is_empty() && bytes.len() <= INLINE_STREAM && bytes.len() <= *inline_left
                {
                    *inline_left -= bytes.len();
                    writeln!(out, "--- {name} as text")?;
                    let text = String::from_utf8_lossy(bytes);
                    out.extend_from_slice(text.as_bytes());
                    if !text.ends_with('\n') {
                        writeln!(out, "\n(no newline at end of {name})")?;
                    }
                    writeln!(out, "--- end of {name}")?;
                }
            }
        }
        writeln!(out, "=== end of probe {id}")?;
    }
    Ok(())
}

/// Writes `probes/<id>.log` of probe `id` (which reported) into `out`: its facts, the checks
/// that read it, then its stdout and stderr byte for byte.
///
/// # Errors
/// Writing to `out` failed.
pub(crate) fn write_probe_log(
    out: &mut dyn Write,
    bundle: &ReportBundle,
    id: &str,
) -> std::io::Result<()> {
    writeln!(out, "probe:       {id}")?;
    let readers: Vec<&str> = bundle
        .results
        .checks
        .iter()
        .filter(|c| c.probes.iter().any(|p| p == id))
        .map(|c| c.id.as_str())
        .collect();
    if readers.is_empty() {
        writeln!(out, "read by:     no check (a fact of the report header)")?;
    } else {
        writeln!(out, "read by:     {}", readers.join(", "))?;
    }
    if !write_probe_facts(out, bundle, id)? {
        return Ok(());
    }
    let o = &bundle.evidence.outputs[id];
    for (name, bytes) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
        let utf8 = if std::str::from_utf8(bytes).is_ok() {
            ""
        } else {
            ", not valid UTF-8, written raw"
        };
        writeln!(out, "--- {name} ({} bytes{utf8})", bytes.len())?;
        out.write_all(bytes)?;
        if !bytes.is_empty() && !bytes.ends_with(b"\n") {
            writeln!(out, "\n(no newline at end of {name})")?;
        }
    }
    writeln!(out, "=== end of probe {id}")
}

/// The facts of probe `id`: command, start, duration, exit code, timeout, truncation, error.
/// Returns whether the probe reported (else only its command was written).
fn write_probe_facts(
    out: &mut dyn Write,
    bundle: &ReportBundle,
    id: &str,
) -> std::io::Result<bool> {
    match bundle.probe_logs.get(id) {
        Some(l) => {
            writeln!(out, "command:     {}", indent_continuation(&l.command))?;
            writeln!(
                out,
                "started:     {}",
                l.started.as_deref().unwrap_or("unknown")
            )?;
        }
        None => writeln!(out, "command:     unknown (no probe log)")?,
    }
    let Some(o) = bundle.evidence.outputs.get(id) else {
        writeln!(out, "result:      not collected")?;
        return Ok(false);
    };
    writeln!(out, "duration:    {} ms", o.duration_ms)?;
    match o.exit_code {
        Some(code) => writeln!(out, "exit code:   {code}")?,
        None => writeln!(out, "exit code:   none (did not finish)")?,
    }
    if o.timed_out {
        writeln!(out, "timed out:   yes")?;
    }
    if o.truncated {
        writeln!(
            out,
            "truncated:   yes (output cut at the probe's cap or at the run's output budget)"
        )?;
    }
    if let Some(e) = &o.error {
        writeln!(out, "error:       {}", one_line(e))?;
    }
    Ok(true)
}

fn one_line(s: &str) -> String {
    s.replace('\n', "\\n")
}

fn indent_continuation(s: &str) -> String {
    s.replace('\n', "\n             ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(id: &str) -> CheckResult {
        let mut c = super::super::testdata::bundle().results.checks[0].clone();
        c.id = id.to_owned();
        c
    }

    #[test]
    fn log_paths_are_safe_and_unique() {
        let checks: Vec<_> = ["a-b", "a/b", "a_b", "../x", "run", ""]
            .into_iter()
            .map(check)
            .collect();
        assert_eq!(
            log_paths(&checks),
            [
                "logs/a-b.log",
                "logs/a_b.log",
                "logs/a_b-2.log",
                "logs/_.._x.log",
                "logs/run-2.log",
                "logs/_.log"
            ]
        );
    }

    #[test]
    fn raw_output_is_stored_once_in_the_probe_log_and_the_check_log_names_it() {
        let b = super::super::testdata::bundle();
        let c = b
            .results
            .checks
            .iter()
            .find(|c| c.id == "bash-history-cleared")
            .unwrap();
        let paths = probe_paths(&b);
        assert_eq!(paths["history-files"], "probes/history-files.log");
        let mut log = Vec::new();
        write_probe_log(&mut log, &b, "history-files").unwrap();
        let raw = &b.evidence.outputs["history-files"].stdout;
        assert!(
            std::str::from_utf8(raw).is_err(),
            "the fixture has non-UTF-8 output"
        );
        assert!(
            log.windows(raw.len()).any(|w| w == raw.as_slice()),
            "raw bytes are kept"
        );
        let text = String::from_utf8_lossy(&log);
        assert!(
            text.contains(&format!(
                "--- stdout ({} bytes, not valid UTF-8, written raw)",
                raw.len()
            )),
            "{text}"
        );
        assert!(text.contains("read by:     bash-history-cleared"), "{text}");
        assert!(text.contains("command:     awk -F:"), "{text}");
        assert!(text.contains("exit code:   0"), "{text}");
        // With the report's inline allowance spent, the check log only names the probe log.
        let check = check_log(&b, c, &paths, &mut 0);
        assert!(
            !check.windows(raw.len()).any(|w| w == raw.as_slice()),
            "the output is not copied into the check's log"
        );
        assert!(!String::from_utf8_lossy(&check).contains("--- stdout as text"));
        let text = String::from_utf8_lossy(&check);
        assert!(
            text.contains(&format!(
                "stdout:      {} bytes, in probes/history-files.log",
                raw.len()
            )),
            "{text}"
        );
        assert!(text.contains("command:     awk -F:"), "{text}");
        assert!(text.contains("exit code:   0"), "{text}");
    }

    #[test]
    fn small_outputs_are_also_shown_in_the_check_log_within_the_reports_allowance() {
        let b = super::super::testdata::bundle();
        let c = b
            .results
            .checks
            .iter()
            .find(|c| c.id == "bash-history-cleared")
            .unwrap();
        let paths = probe_paths(&b);
        let raw = b.evidence.outputs["history-files"].stdout.clone();
        assert!(!raw.is_empty() && raw.len() <= INLINE_STREAM);
        // Enough left for this output once, not twice.
        let mut left = raw.len() + raw.len() / 2;
        let first = String::from_utf8_lossy(&check_log(&b, c, &paths, &mut left)).into_owned();
        let lossy = String::from_utf8_lossy(&raw).into_owned();
        assert!(first.contains("--- stdout as text"), "{first}");
        assert!(first.contains(lossy.trim_end()), "{first}");
        assert!(
            first.contains(&format!(
                "stdout:      {} bytes, in probes/history-files.log",
                raw.len()
            )),
            "{first}"
        );
        assert_eq!(left, raw.len() / 2);
        let second = String::from_utf8_lossy(&check_log(&b, c, &paths, &mut left)).into_owned();
        assert!(!second.contains("--- stdout as text"), "{second}");
        assert_eq!(left, raw.len() / 2, "nothing shown, nothing spent");
    }
}
