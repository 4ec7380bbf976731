//! SAS URLs on the agent's side: reading a URL argument (`env:VAR` included) and checking it
//! against Partner Center's rules for `vmcert sas check` (the command is `crate::cmd::sas`).
//! Parsing, redaction and the rules are the pure crate's; every URL printed goes through
//! [`url::redact`].

pub(crate) use vmcert_checks::sas::{rules, url};

use serde::Serialize;

use crate::vhd::rules::{RuleResult, acceptable};
pub(crate) use url::{SasUrl, redact};

/// A SAS URL argument as given, or, for `env:VAR`, the URL held in environment variable `VAR`:
/// a URL typed on the command line shows its signature in the process list and the shell's
/// history, a variable does not.
///
/// # Errors
/// `env:VAR` names a variable that is unset, empty or not UTF-8.
pub(crate) fn url_arg(arg: &str) -> anyhow::Result<String> {
    let Some(var) = arg.strip_prefix("env:") else {
        return Ok(arg.to_owned());
    };
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
        Ok(_) => anyhow::bail!("environment variable {var} (from `{arg}`) is empty"),
        Err(std::env::VarError::NotPresent) => {
            anyhow::bail!("environment variable {var} (from `{arg}`) is not set")
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            anyhow::bail!("environment variable {var} (from `{arg}`) is not valid UTF-8")
        }
    }
}

/// The `sas check --format json` document (interface contract, plus `parameters`).
#[derive(Debug, Serialize)]
pub(crate) struct SasReport {
    /// The URL, signature hidden.
    pub url_redacted: String,
    /// Storage account.
    pub account: String,
    /// Container.
    pub container: String,
    /// Blob name, if the URL names one.
    pub blob: Option<String>,
    /// Rule outcomes.
    pub rules: Vec<RuleResult>,
    /// No Fail and no Error.
    pub acceptable: bool,
    /// The SAS parameters, signature hidden.
    pub parameters: Vec<(String, String)>,
}

/// Checks `input` as of now.
pub(crate) fn check(input: &str) -> anyhow::Result<SasReport> {
    let u = SasUrl::parse(input)?;
    let rules = rules::evaluate(&u, chrono::Utc::now());
    Ok(SasReport {
        url_redacted: u.redacted(),
        account: u.account.clone(),
        container: u.container.clone(),
        blob: u.blob.clone(),
        acceptable: acceptable(&rules),
        rules,
        parameters: u.params_redacted(),
    })
}
