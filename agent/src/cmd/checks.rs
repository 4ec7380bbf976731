//! `vmcert checks list|show`: the built-in catalogue as a table, JSON or Markdown.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use serde::Serialize;
use vmcert_checks::{Check, Meta, Os, Profile, probe, registry};

use crate::cmd::cli::{ChecksCommand, Format};

/// Runs a `checks` subcommand.
pub(crate) fn run(cmd: &ChecksCommand) -> anyhow::Result<ExitCode> {
    let text = match cmd {
        ChecksCommand::List { os, format } => list(os.map(Os::from), *format)?,
        ChecksCommand::Show { id, os, format } => show(id, os.map(Os::from), *format)?,
        ChecksCommand::Probes {
            os,
            script,
            timeout,
        } => probes(Os::from(*os), *script, *timeout)?,
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// The union of the probes of every check of `os`, exactly as `run` builds it: JSON
/// (`id`, `command`, `needs_root`) or, with `script`, the probe script itself.
fn probes(os: Os, script: bool, timeout: u64) -> anyhow::Result<String> {
    if timeout == 0 {
        bail!("--timeout must be at least 1 second");
    }
    let selected = crate::engine::runner::select(os, &[], &[], &[])?;
    let mut specs = crate::engine::runner::probe_specs(os, &selected, timeout)?;
    crate::engine::runner::long_timeouts(
        os,
        &mut specs,
        crate::engine::runner::UPDATE_SEARCH_TIMEOUT,
    );
    if script {
        let lanes = crate::target::script::DEFAULT_LANES;
        // Each OS's own script: the `sh` one, or the PowerShell one with its loader.
        return Ok(match os {
            Os::Windows => crate::target::script::powershell::PsScript::new(&specs, lanes)?
                .text()
                .to_string(),
            Os::Linux => crate::target::script::ProbeScript::new(&specs, lanes)?
                .text()
                .to_string(),
        });
    }
    let list: Vec<serde_json::Value> = specs
        .iter()
        .map(
            |p| serde_json::json!({ "id": p.id, "command": p.command, "needs_root": p.needs_root }),
        )
        .collect();
    Ok(serde_json::to_string_pretty(&list)? + "\n")
}

#[derive(Serialize)]
struct Row<'a> {
    id: &'a str,
    os: Os,
    title: &'a str,
    test_id: Option<&'a str>,
    test_case_name: Option<&'a str>,
    severity: vmcert_checks::Severity,
    since: &'a str,
    inferred: bool,
    description: &'a str,
    probes: &'a [&'static str],
}

fn row(c: &'static dyn Check) -> Row<'static> {
    let m = c.meta();
    Row {
        id: m.id,
        os: m.os,
        title: m.title,
        test_id: m.test_id,
        test_case_name: m.test_case_name,
        severity: m.severity,
        since: m.since,
        inferred: m.inferred,
        description: m.description,
        probes: c.probes(),
    }
}

fn list(os: Option<Os>, format: Format) -> anyhow::Result<String> {
    let checks: Vec<&'static dyn Check> = registry::ALL
        .iter()
        .copied()
        .filter(|c| os.is_none_or(|o| c.meta().os == o))
        .collect();
    let mut out = String::new();
    match format {
        Format::Json => {
            let rows: Vec<Row<'_>> = checks.iter().map(|c| row(*c)).collect();
            out = serde_json::to_string_pretty(&rows)? + "\n";
        }
        Format::Md => {
            out.push_str("| id | os | TestID | TestCaseName | title | severity |\n|---|---|---|---|---|---|\n");
            for c in checks {
                let m = c.meta();
                writeln!(
                    out,
                    "| `{}` | {} | {} | {} | {} | {:?} |",
                    m.id,
                    m.os,
                    m.test_id.unwrap_or("-"),
                    m.test_case_name.unwrap_or("-"),
                    m.title,
                    m.severity
                )?;
            }
        }
        Format::Table => {
            let w = checks
                .iter()
                .map(|c| c.meta().id.len())
                .max()
                .unwrap_or(2)
                .max(2);
            writeln!(out, "{:<8} {:<w$} {:<7} TITLE", "OS", "ID", "TESTID")?;
            for c in checks {
                let m = c.meta();
                writeln!(
                    out,
                    "{:<8} {:<w$} {:<7} {}",
                    m.os,
                    m.id,
                    m.test_id.unwrap_or("-"),
                    m.title
                )?;
            }
        }
    }
    Ok(out)
}

fn find(id: &str, os: Option<Os>) -> anyhow::Result<&'static dyn Check> {
    let matches: Vec<&'static dyn Check> = registry::ALL
        .iter()
        .copied()
        .filter(|c| c.meta().id == id && os.is_none_or(|o| c.meta().os == o))
        .collect();
    match matches.as_slice() {
        [one] => Ok(*one),
        [] => bail!("unknown check id `{id}` (see `vmcert checks list`)"),
        _ => bail!("check id `{id}` exists for several OSes; add --os linux or --os windows"),
    }
}

fn show(id: &str, os: Option<Os>, format: Format) -> anyhow::Result<String> {
    let c = find(id, os)?;
    let m: &Meta = c.meta();
    let probes: Vec<&probe::Probe> = c
        .probes()
        .iter()
        .map(|p| {
            probe::find(m.os, p).with_context(|| format!("probe {p} missing from the catalogue"))
        })
        .collect::<anyhow::Result<_>>()?;
    let thresholds: Vec<(Profile, Vec<(&str, String)>)> = Profile::ALL
        .iter()
        .map(|p| {
            let t = p.thresholds();
            (
                *p,
                m.knobs
                    .iter()
                    .map(|k| (*k, t.knob(k).unwrap_or_default()))
                    .collect(),
            )
        })
        .collect();
    if format == Format::Json {
        #[derive(Serialize)]
        struct Show<'a> {
            #[serde(flatten)]
            meta: &'a Meta,
            probes: &'a [&'a probe::Probe],
            thresholds: std::collections::BTreeMap<
                &'static str,
                std::collections::BTreeMap<&'a str, String>,
            >,
        }
        let thresholds = thresholds
            .iter()
            .map(|(p, kv)| (p.as_str(), kv.iter().cloned().collect()))
            .collect();
        return Ok(serde_json::to_string_pretty(&Show {
            meta: m,
            probes: &probes,
            thresholds,
        })? + "\n");
    }
    let mut out = String::new();
    writeln!(out, "{} ({}): {}", m.id, m.os, m.title)?;
    if let (Some(tid), Some(name)) = (m.test_id, m.test_case_name) {
        writeln!(out, "Microsoft TestID {tid}, \"{name}\"")?;
    }
    writeln!(
        out,
        "Severity: {:?}   Since: {}{}",
        m.severity,
        m.since,
        if m.inferred {
            "   (inferred rule: no published threshold)"
        } else {
            ""
        }
    )?;
    writeln!(
        out,
        "\nRule\n  {}\n\nRationale\n  {}\n\nRemediation\n  {}",
        m.description, m.rationale, m.remediation
    )?;
    writeln!(out, "\nProbes")?;
    for p in probes {
        writeln!(
            out,
            "  {}{}: {}",
            p.id,
            if p.needs_root { " (root)" } else { "" },
            p.description
        )?;
        for line in p.command.lines() {
            writeln!(out, "      {line}")?;
        }
    }
    if !m.knobs.is_empty() {
        writeln!(out, "\nThresholds")?;
        for (p, kv) in thresholds {
            for (k, v) in kv {
                writeln!(out, "  {:<8} {k} = {v}", p.as_str())?;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_os_gets_its_own_probe_script() {
        let windows = probes(Os::Windows, true, 60).unwrap();
        assert!(
            windows.starts_with("\r\n$VmB = New-Object System.Text.StringBuilder\r\n"),
            "the PowerShell loader: {}",
            &windows[..80]
        );
        let linux = probes(Os::Linux, true, 60).unwrap();
        assert!(!linux.contains("$VmB"), "the sh script");
    }
}
