//! `vmcert connect` ("Test Connection"): everything a run needs from the target, checked before
//! a run: the host key and why it is trusted, the authentication methods, the OS (gathered with
//! one small script over one channel) and whether root probes can run through sudo. Exits 0 only
//! when a run could gather every probe; otherwise it still prints what it learned, then one error
//! line saying what is missing.

mod winrm;

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Serialize;

use crate::cmd::cli::{ConnectArgs, Format};
use crate::target::ssh::sudo::{self, SudoStatus};
use crate::target::ssh::{AuthReport, MethodList, SshSession, SshSetup, Trust};

/// Collects the OS facts in one round trip. `uname -n` rather than `hostname`, which minimal
/// images may lack.
const FACTS_SCRIPT: &str = r#"echo "kernel=$(uname -r)"
echo "arch=$(uname -m)"
echo "hostname=$(uname -n)"
echo "uid=$(id -u)"
for f in /etc/os-release /usr/lib/os-release; do
  if [ -r "$f" ]; then sed -n 's/^PRETTY_NAME=/pretty_name=/p' "$f"; break; fi
done
"#;

/// Longest wait for the facts script.
const FACTS_TIMEOUT: Duration = Duration::from_secs(60);

/// What `connect` found, printed as text, Markdown or JSON.
#[derive(Debug, Serialize)]
struct ConnectReport {
    target: TargetInfo,
    server: String,
    setup_ms: u128,
    host_key: HostKeyInfo,
    auth: AuthReport,
    os: OsFacts,
    sudo: SudoInfo,
    ready: bool,
}

#[derive(Debug, Serialize)]
struct TargetInfo {
    transport: &'static str,
    url: String,
    user: String,
    host: String,
    port: u16,
    address: String,
}

#[derive(Debug, Serialize)]
struct HostKeyInfo {
    #[serde(rename = "type")]
    key_type: String,
    fingerprint: String,
    #[serde(flatten)]
    trust: Trust,
}

#[derive(Debug, Serialize)]
struct SudoInfo {
    #[serde(flatten)]
    status: SudoStatus,
    works: bool,
    message: String,
}

/// OS facts of the target.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
struct OsFacts {
    /// `PRETTY_NAME` of os-release, when there is one.
    pretty_name: Option<String>,
    /// `uname -r`.
    kernel: String,
    /// `uname -m`.
    arch: String,
    /// `uname -n`.
    hostname: String,
    /// `id -u` of the login user.
    uid: Option<u32>,
}

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
    if crate::target::winrm::is_winrm_url(url) {
        return winrm::run(args);
    }
    let setup = SshSetup::from_options(&args.target.options())?;
    let session = SshSession::connect(&setup, MethodList::First)?;
    let facts = gather_facts(&session)?;
    let sudo = sudo::check(&session, facts.uid.unwrap_or(u32::MAX))?;
    let report = build_report(&session, facts, sudo);
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?,
        Format::Table => write!(out, "{}", render_text(&report))?,
        Format::Md => write!(out, "{}", render_markdown(&report))?,
    }
    out.flush()?;
    if !report.ready {
        bail!(
            "{}@{}: sudo {}",
            report.target.user,
            report.target.host,
            report.sudo.message
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn gather_facts(session: &SshSession) -> anyhow::Result<OsFacts> {
    let out = session.exec("sh -s", FACTS_SCRIPT.as_bytes(), FACTS_TIMEOUT)?;
    if out.status != 0 || out.signal.is_some() {
        let said = String::from_utf8_lossy(&out.stderr);
        let said = said
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no message");
        bail!(
            "{}: the OS facts script failed with status {} ({said}); can the login user run a shell?",
            session.target(),
            out.status
        );
    }
    Ok(parse_facts(&String::from_utf8_lossy(&out.stdout)))
}

fn parse_facts(stdout: &str) -> OsFacts {
    let mut f = OsFacts::default();
    for line in stdout.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        match k {
            "kernel" => f.kernel = v.trim().to_owned(),
            "arch" => f.arch = v.trim().to_owned(),
            "hostname" => f.hostname = v.trim().to_owned(),
            "uid" => f.uid = v.trim().parse().ok(),
            "pretty_name" if f.pretty_name.is_none() => {
                f.pretty_name = Some(unquote_os_release(v)).filter(|s| !s.is_empty());
            }
            _ => {}
        }
    }
    f
}

/// An os-release(5) value: optionally single- or double-quoted; in double quotes and bare
/// values a backslash escapes the next character.
fn unquote_os_release(v: &str) -> String {
    let v = v.trim();
    if v.len() >= 2 && v.starts_with('\'') && v.ends_with('\'') {
        return v[1..v.len() - 1].to_owned();
    }
    let inner = if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        &v[1..v.len() - 1]
    } else {
        v
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn build_report(session: &SshSession, os: OsFacts, sudo: SudoStatus) -> ConnectReport {
    let t = session.target();
    let hk = session.host_key();
    let works = sudo.works();
    ConnectReport {
        target: TargetInfo {
            transport: "ssh",
            url: t.to_string(),
            user: t.user.clone(),
            host: t.host.clone(),
            port: t.port,
            address: session.peer().to_string(),
        },
        server: session.server_banner().to_owned(),
        setup_ms: session.setup_time().as_millis(),
        host_key: HostKeyInfo {
            key_type: hk.key.key_type.clone(),
            fingerprint: hk.key.fingerprint().to_string(),
            trust: hk.trust.clone(),
        },
        auth: session.auth().clone(),
        os,
        sudo: SudoInfo {
            message: sudo.to_string(),
            status: sudo,
            works,
        },
        ready: works,
    }
}

fn rows(r: &ConnectReport) -> Vec<(&'static str, String)> {
    let mut rows = vec![
        ("Target", format!("{} ({})", r.target.url, r.target.address)),
        ("Server", r.server.clone()),
        (
            "Host key",
            format!(
                "{} {} - {}",
                r.host_key.key_type, r.host_key.fingerprint, r.host_key.trust
            ),
        ),
        (
            "Auth offered",
            r.auth
                .offered
                .as_ref()
                .map_or_else(|| "not asked".to_owned(), |o| o.join(", ")),
        ),
        ("Auth used", r.auth.method.clone()),
    ];
    if !r.auth.refused.is_empty() {
        rows.push(("Auth refused", r.auth.refused.join(", ")));
    }
    rows.extend([
        (
            "Setup time",
            format!("{} ms (connect, handshake, host key, login)", r.setup_ms),
        ),
        (
            "OS",
            r.os.pretty_name
                .clone()
                .unwrap_or_else(|| "unknown (no os-release)".to_owned()),
        ),
        ("Kernel", r.os.kernel.clone()),
        ("Architecture", r.os.arch.clone()),
        ("Hostname", r.os.hostname.clone()),
        (
            "Login uid",
            r.os.uid
                .map_or_else(|| "unknown".to_owned(), |u| u.to_string()),
        ),
        ("Sudo", r.sudo.message.clone()),
        (
            "Ready",
            if r.ready {
                "yes: a run can gather every probe".to_owned()
            } else {
                "no: root probes would be Error".to_owned()
            },
        ),
    ]);
    rows
}

fn render_text(r: &ConnectReport) -> String {
    rows(r)
        .into_iter()
        .map(|(k, v)| format!("{k:<13} {v}\n"))
        .collect()
}

fn render_markdown(r: &ConnectReport) -> String {
    let mut s = String::from("| Item | Value |\n|---|---|\n");
    for (k, v) in rows(r) {
        s.push_str(&format!("| {k} | {} |\n", v.replace('|', "\\|")));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_parse_the_script_output() {
        // FACTS_SCRIPT's output, recorded with `chroot /var/cache/vmcert-lab/bookworm-root sh -s`.
        let out = "kernel=6.18.44-fc-v669\narch=x86_64\nhostname=vm\nuid=0\npretty_name=\"Debian GNU/Linux 12 (bookworm)\"\n";
        assert_eq!(
            parse_facts(out),
            OsFacts {
                pretty_name: Some("Debian GNU/Linux 12 (bookworm)".to_owned()),
                kernel: "6.18.44-fc-v669".to_owned(),
                arch: "x86_64".to_owned(),
                hostname: "vm".to_owned(),
                uid: Some(0),
            }
        );
        let bare = parse_facts("kernel=5.4\narch=aarch64\nhostname=h\nuid=\n");
        assert_eq!((bare.pretty_name, bare.uid), (None, None));
    }

    #[test]
    fn os_release_values_unquote() {
        assert_eq!(
            unquote_os_release(r#""Ubuntu 22.04.4 LTS""#),
            "Ubuntu 22.04.4 LTS"
        );
        assert_eq!(
            unquote_os_release("'Alpine Linux v3.19'"),
            "Alpine Linux v3.19"
        );
        assert_eq!(
            unquote_os_release(r#""A \"quoted\" \$name""#),
            r#"A "quoted" $name"#
        );
        assert_eq!(unquote_os_release("Arch"), "Arch");
    }
}
