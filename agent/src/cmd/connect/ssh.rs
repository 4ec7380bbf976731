//! `vmcert connect` over SSH: the host key and why it is trusted, the authentication methods,
//! the OS (gathered with one small script over one channel, os-release read by the pure crate's
//! one parser) and whether root probes can run through sudo.

use std::time::Duration;

use anyhow::bail;
use serde::Serialize;
use vmcert_checks::linux::os_release::OsRelease;

use super::report::{ConnectReport, HostKeyInfo, OsFacts, SudoInfo, TargetInfo};
use crate::cmd::cli::ConnectArgs;
use crate::target::ssh::sudo::{self, SudoStatus};
use crate::target::ssh::{AuthReport, MethodList, SshSession, SshSetup};

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

/// OS facts of a Linux target.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub(super) struct LinuxOs {
    /// `PRETTY_NAME` of os-release, when there is one.
    pub(super) pretty_name: Option<String>,
    /// `uname -r`.
    pub(super) kernel: String,
    /// `uname -m`.
    pub(super) arch: String,
    /// `uname -n`.
    pub(super) hostname: String,
    /// `id -u` of the login user.
    pub(super) uid: Option<u32>,
}

/// Connects over SSH as a run would, then gathers the OS facts and checks sudo.
///
/// # Errors
/// The connection, the host key or the login failed, or the facts script could not run.
pub(super) fn connect(args: &ConnectArgs) -> anyhow::Result<ConnectReport> {
    let setup = SshSetup::from_options(&args.target.options())?;
    let session = SshSession::connect(&setup, MethodList::First)?;
    let facts = gather_facts(&session)?;
    let sudo = sudo::check(&session, facts.uid.unwrap_or(u32::MAX))?;
    Ok(build_report(&session, facts, sudo))
}

fn gather_facts(session: &SshSession) -> anyhow::Result<LinuxOs> {
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

fn parse_facts(stdout: &str) -> LinuxOs {
    let mut f = LinuxOs::default();
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
                f.pretty_name = OsRelease::parse(&format!("PRETTY_NAME={v}"))
                    .get("PRETTY_NAME")
                    .map(str::to_owned);
            }
            _ => {}
        }
    }
    f
}

fn build_report(session: &SshSession, os: LinuxOs, sudo: SudoStatus) -> ConnectReport {
    let t = session.target();
    let hk = session.host_key();
    let works = sudo.works();
    let problems = if works {
        Vec::new()
    } else {
        vec![format!("{}@{}: sudo {sudo}", t.user, t.host)]
    };
    ConnectReport {
        target: TargetInfo {
            transport: "ssh",
            url: t.to_string(),
            user: t.user.clone(),
            host: t.host.clone(),
            port: t.port,
            address: Some(session.peer().to_string()),
            auth: None,
        },
        server: Some(session.server_banner().to_owned()),
        setup_ms: session.setup_time().as_millis(),
        host_key: Some(HostKeyInfo {
            key_type: hk.key.key_type.clone(),
            fingerprint: hk.key.fingerprint().to_string(),
            trust: hk.trust.clone(),
        }),
        auth: Some(session.auth().clone()),
        os: Some(OsFacts::Linux(os)),
        sudo: Some(SudoInfo {
            message: sudo.to_string(),
            status: sudo,
            works,
        }),
        account: None,
        ready: works,
        problems,
    }
}

/// The SSH report's lines, in the order a reader checks them.
pub(super) fn rows(
    r: &ConnectReport,
    os: &LinuxOs,
    host_key: &HostKeyInfo,
    auth: &AuthReport,
    sudo: &SudoInfo,
) -> Vec<(&'static str, String)> {
    let mut rows = vec![
        (
            "Target",
            format!(
                "{} ({})",
                r.target.url,
                r.target.address.as_deref().unwrap_or("?")
            ),
        ),
        ("Server", r.server.clone().unwrap_or_default()),
        (
            "Host key",
            format!(
                "{} {} - {}",
                host_key.key_type, host_key.fingerprint, host_key.trust
            ),
        ),
        (
            "Auth offered",
            auth.offered
                .as_ref()
                .map_or_else(|| "not asked".to_owned(), |o| o.join(", ")),
        ),
        ("Auth used", auth.method.clone()),
    ];
    if !auth.refused.is_empty() {
        rows.push(("Auth refused", auth.refused.join(", ")));
    }
    rows.extend([
        (
            "Setup time",
            format!("{} ms (connect, handshake, host key, login)", r.setup_ms),
        ),
        (
            "OS",
            os.pretty_name
                .clone()
                .unwrap_or_else(|| "unknown (no os-release)".to_owned()),
        ),
        ("Kernel", os.kernel.clone()),
        ("Architecture", os.arch.clone()),
        ("Hostname", os.hostname.clone()),
        (
            "Login uid",
            os.uid
                .map_or_else(|| "unknown".to_owned(), |u| u.to_string()),
        ),
        ("Sudo", sudo.message.clone()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_parse_the_script_output() {
        // FACTS_SCRIPT's output, recorded with `chroot /var/cache/vmcert-lab/bookworm-root sh -s`.
        let out = "kernel=6.18.44-fc-v669\narch=x86_64\nhostname=vm\nuid=0\npretty_name=\"Debian GNU/Linux 12 (bookworm)\"\n";
        assert_eq!(
            parse_facts(out),
            LinuxOs {
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
}
