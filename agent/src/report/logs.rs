//! `logs/<check-id>.log`: for each check, its verdict and every probe it read (command id,
//! command text, start, duration, exit code, stdout, stderr). The probe output is written byte
//! for byte, so output that is not UTF-8 survives here; every other file of the report renders it
//! lossily (invalid sequences become U+FFFD). Each stream is preceded by its length in bytes, so
//! the log stays unambiguous whatever the output contains.

use std::collections::BTreeSet;
use std::io::Write as _;

use super::ReportBundle;
use super::model::CheckResult;

/// The zip path of each check's log, in check order: `logs/<id>.log`, with any character outside
/// `[A-Za-z0-9._-]` replaced by `_` and a numeric suffix if two ids collide after that.
pub(crate) fn log_paths(checks: &[CheckResult]) -> Vec<String> {
    let mut used = BTreeSet::new();
    checks
        .iter()
        .map(|c| {
            let mut stem: String =
                c.id.chars()
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

/// The log of one check.
pub(crate) fn check_log(bundle: &ReportBundle, check: &CheckResult) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    // Writing into a Vec cannot fail.
    let _ = write_check_log(&mut out, bundle, check);
    out
}

fn write_check_log(
    out: &mut Vec<u8>,
    bundle: &ReportBundle,
    check: &CheckResult,
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
        let log = bundle.probe_logs.get(id);
        match log {
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
            continue;
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
            writeln!(out, "truncated:   yes (output cut at the cap)")?;
        }
        if let Some(e) = &o.error {
            writeln!(out, "error:       {}", one_line(e))?;
        }
        for (name, bytes) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
            let utf8 = if std::str::from_utf8(bytes).is_ok() {
                ""
            } else {
                ", not valid UTF-8, written raw"
            };
            writeln!(out, "--- {name} ({} bytes{utf8})", bytes.len())?;
            out.extend_from_slice(bytes);
            if !bytes.is_empty() && !bytes.ends_with(b"\n") {
                writeln!(out, "\n(no newline at end of {name})")?;
            }
        }
        writeln!(out, "=== end of probe {id}")?;
    }
    Ok(())
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
    fn raw_output_survives_and_lengths_frame_it() {
        let b = super::super::testdata::bundle();
        let c = b
            .results
            .checks
            .iter()
            .find(|c| c.id == "bash-history-cleared")
            .unwrap();
        let log = check_log(&b, c);
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
        assert!(text.contains("command:     awk -F:"), "{text}");
        assert!(text.contains("exit code:   0"), "{text}");
    }
}
