//! `vmcert sas check URL`: checks a VHD's SAS URL against Partner Center's rules offline (no
//! request is made) with [`crate::sas::check`], prints every rule's verdict, and exits 0
//! (acceptable), 1 (a rule violated) or 2 (not a usable URL). The signature is never printed.

use std::fmt::Write as _;
use std::process::ExitCode;

use crate::cmd::cli::Format;
use crate::cmd::rules::{exit_code, results_markdown, write_rules};
use crate::sas::{SasReport, check, redact};

/// Runs `vmcert sas check`: 0 acceptable, 1 a rule violated, 2 not a usable URL.
pub(crate) fn run(input: &str, format: Format) -> anyhow::Result<ExitCode> {
    let report = check(input)?;
    let text = match format {
        Format::Json => serde_json::to_string_pretty(&report)? + "\n",
        Format::Md => results_markdown(
            &report.url_redacted,
            &[
                ("account", report.account.clone()),
                ("container", report.container.clone()),
                (
                    "blob",
                    report.blob.clone().unwrap_or_else(|| "-".to_owned()),
                ),
            ],
            &report.rules,
            report.acceptable,
        ),
        Format::Table => human(&report)?,
    };
    // Belt and braces: nothing printed may carry a signature, whatever built the text.
    print!("{}", redact(&text));
    Ok(exit_code(&report.rules))
}

fn human(r: &SasReport) -> anyhow::Result<String> {
    let mut out = String::new();
    writeln!(out, "{}", r.url_redacted)?;
    writeln!(out, "  account    {}", r.account)?;
    writeln!(out, "  container  {}", r.container)?;
    writeln!(out, "  blob       {}", r.blob.as_deref().unwrap_or("-"))?;
    write_rules(&mut out, &r.rules)?;
    writeln!(
        out,
        "{}",
        if r.acceptable {
            "acceptable"
        } else {
            "NOT acceptable"
        }
    )?;
    Ok(out)
}
