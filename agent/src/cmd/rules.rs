//! `vmcert vhd rules` and `vmcert sas rules`: the registries of the pure crate's VHD and SAS URL
//! rules, listed the way `vmcert checks list` lists the checks (a table, JSON or Markdown).

use std::fmt::Write as _;
use std::process::ExitCode;

use vmcert_checks::vhd::rules::RuleMeta;

use crate::cmd::cli::Format;

/// Prints `rules` in `format`.
pub(crate) fn list(rules: &[RuleMeta], format: Format) -> anyhow::Result<ExitCode> {
    let text = match format {
        Format::Json => serde_json::to_string_pretty(rules)? + "\n",
        Format::Md => markdown(rules),
        Format::Table => table(rules),
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

fn table(rules: &[RuleMeta]) -> String {
    let w = rules.iter().map(|r| r.id.len()).max().unwrap_or(0);
    let mut t = String::new();
    for r in rules {
        let _ = writeln!(t, "{:<w$}  {}", r.id, r.title);
    }
    t
}

fn markdown(rules: &[RuleMeta]) -> String {
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    let mut t = String::from("| id | rule | remediation |\n|---|---|---|\n");
    for r in rules {
        let _ = writeln!(
            t,
            "| `{}` | **{}.** {} | {} |",
            r.id,
            cell(r.title),
            cell(r.description),
            cell(r.remediation)
        );
    }
    t
}
