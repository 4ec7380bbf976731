//! Rule output shared by the VHD and SAS commands: `vmcert vhd rules` and `vmcert sas rules` list
//! the registries of the pure crate's rules the way `vmcert checks list` lists the checks (a
//! table, JSON or Markdown), and `vhd inspect` and `sas check` print rule results and pick their
//! exit status here.

use std::fmt::Write as _;
use std::process::ExitCode;

use vmcert_checks::Status;
use vmcert_checks::vhd::rules::{RuleMeta, RuleResult};

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

/// `vhd inspect` and `sas check` with `--format md`: a heading, the facts as a list, the verdict,
/// and every rule's result as a table; every value escaped for Markdown.
pub(crate) fn results_markdown(
    heading: &str,
    facts: &[(&str, String)],
    rules: &[RuleResult],
    acceptable: bool,
) -> String {
    use crate::report::render::md_escape;
    let mut t = format!("## {}\n\n", md_escape(heading));
    for (k, v) in facts {
        let _ = writeln!(t, "- {k}: {}", md_escape(v));
    }
    let _ = writeln!(
        t,
        "\n**{}**\n\n| rule | status | message |\n|---|---|---|",
        if acceptable {
            "Acceptable"
        } else {
            "NOT acceptable"
        }
    );
    for r in rules {
        let _ = writeln!(
            t,
            "| `{}` | {} | {} |",
            r.id,
            r.status.as_str(),
            md_escape(&r.message)
        );
    }
    t
}

/// Exit status of `vhd inspect` and `sas check`: 2 if a rule could not be evaluated, 1 if one
/// failed, else 0.
pub(crate) fn exit_code(rules: &[RuleResult]) -> ExitCode {
    if rules.iter().any(|r| r.status == Status::Error) {
        ExitCode::from(crate::EXIT_ERROR)
    } else if rules.iter().any(|r| r.status == Status::Fail) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// The rules as aligned text lines.
pub(crate) fn write_rules(out: &mut String, rules: &[RuleResult]) -> std::fmt::Result {
    let w = rules.iter().map(|r| r.id.len()).max().unwrap_or(0);
    for r in rules {
        writeln!(
            out,
            "  {:<13} {:<w$}  {}",
            r.status.as_str(),
            r.id,
            r.message
        )?;
    }
    Ok(())
}
