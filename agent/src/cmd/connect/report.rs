//! What `vmcert connect` found, whatever the transport: one [`ConnectReport`], printed as a
//! table, Markdown or JSON by one renderer. Each transport fills the parts it has (SSH: server,
//! host key, authentication methods, sudo; WinRM: the account and its token) and says what stands
//! in the way of a full run.

use std::fmt::Write as _;

use serde::Serialize;

use super::ssh::LinuxOs;
use super::winrm::{AccountFacts, WindowsOs};
use crate::cmd::cli::Format;
use crate::target::ssh::sudo::SudoStatus;
use crate::target::ssh::{AuthReport, Trust};

/// What `connect` found.
#[derive(Debug, Serialize)]
pub(super) struct ConnectReport {
    pub target: TargetInfo,
    /// The SSH server's banner.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    pub setup_ms: u128,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_key: Option<HostKeyInfo>,
    /// SSH authentication: methods offered, used and refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthReport>,
    /// The OS facts, when the probes for them worked.
    pub os: Option<OsFacts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sudo: Option<SudoInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<AccountFacts>,
    /// A run could gather every probe.
    pub ready: bool,
    /// What stands in the way of a full run, most important first (the error line).
    #[serde(skip)]
    pub problems: Vec<String>,
}

/// The target as reached.
#[derive(Debug, Serialize)]
pub(super) struct TargetInfo {
    pub transport: &'static str,
    pub url: String,
    pub user: String,
    pub host: String,
    pub port: u16,
    /// The peer address (SSH).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The authentication method (WinRM).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<String>,
}

/// The SSH host key and why it is trusted.
#[derive(Debug, Serialize)]
pub(super) struct HostKeyInfo {
    #[serde(rename = "type")]
    pub key_type: String,
    pub fingerprint: String,
    #[serde(flatten)]
    pub trust: Trust,
}

/// Whether root probes can run through sudo.
#[derive(Debug, Serialize)]
pub(super) struct SudoInfo {
    #[serde(flatten)]
    pub status: SudoStatus,
    pub works: bool,
    pub message: String,
}

/// The OS facts of either kind of target.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(super) enum OsFacts {
    /// From os-release and uname.
    Linux(LinuxOs),
    /// From `Win32_OperatingSystem`.
    Windows(WindowsOs),
}

impl ConnectReport {
    /// The report's lines, in the order a reader checks them.
    fn rows(&self) -> Vec<(&'static str, String)> {
        match (&self.os, &self.host_key, &self.auth, &self.sudo) {
            (Some(OsFacts::Linux(os)), Some(key), Some(auth), Some(sudo)) => {
                super::ssh::rows(self, os, key, auth, sudo)
            }
            (os, ..) => super::winrm::rows(
                self,
                match os {
                    Some(OsFacts::Windows(w)) => Some(w),
                    _ => None,
                },
            ),
        }
    }

    /// The report in `format`.
    pub(super) fn render(&self, format: Format) -> anyhow::Result<String> {
        let rows = self.rows();
        let mut t = String::new();
        match format {
            Format::Json => t = serde_json::to_string_pretty(self)? + "\n",
            Format::Md => {
                t.push_str("| Item | Value |\n|---|---|\n");
                for (k, v) in rows {
                    let _ = writeln!(t, "| {k} | {} |", v.replace('|', "\\|"));
                }
            }
            Format::Table => {
                let w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0) + 2;
                for (k, v) in rows {
                    let _ = writeln!(t, "{k:<w$}{v}");
                }
            }
        }
        Ok(t)
    }
}
