//! `vmcert connect` ("Test Connection"): everything a run needs from the target, checked before
//! a run, over the same transport a run uses ([`ssh`] or [`winrm`]), gathered into one
//! [`report::ConnectReport`]. Exits 0 only when a run could gather every probe; otherwise it
//! still prints what it learned, then one error line saying what is missing.

mod report;
mod ssh;
mod winrm;

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use crate::cmd::cli::ConnectArgs;

/// Runs `vmcert connect`.
pub(crate) fn run(args: &ConnectArgs) -> anyhow::Result<ExitCode> {
    if args.target.local {
        bail!(
            "connect tests a connection: give --target ssh://USER@HOST[:PORT] or winrms://USER@HOST[:PORT] (--local has nothing to connect to)"
        );
    }
    let url = args
        .target
        .target
        .as_deref()
        .context("--target is required")?;
    let report = if crate::target::winrm::is_winrm_url(url) {
        winrm::connect(args)?
    } else {
        ssh::connect(args)?
    };
    let mut out = std::io::stdout().lock();
    write!(out, "{}", report.render(args.format)?)?;
    out.flush()?;
    if let Some(first) = report.problems.first() {
        bail!("{first}");
    }
    Ok(ExitCode::SUCCESS)
}
