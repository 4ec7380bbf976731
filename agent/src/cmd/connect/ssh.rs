//! `vmcert connect` over SSH: the host key and why it is trusted, the authentication methods,
//! the OS (gathered with one small script over one channel, os-release read by the pure crate's
//! one parser) and whether root probes can run through sudo.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use anyhow::bail;
use serde::Serialize;
use vmcert_checks::{Evidence, Os, ProbeOutput, Profile, probe};

use super::report::{ConnectReport, HostKeyInfo, OsFacts, SudoInfo, TargetInfo};
use crate::cmd::cli::ConnectArgs;
use crate::engine::runner::{self, RunLog};
use crate::target::ssh::sudo::{self, SudoStatus};
use crate::target::ssh::{AuthReport, MethodList, SshSession, SshSetup};

/// Marks the start of one fact probe's output in the facts script's stdout.
const MARK: &str = "--vmcert-fact ";

/// The facts script: the catalogue's fact probes, the very commands a run gathers the report's
/// facts with (so `connect` and a run show the same OS), each after a marker line, then the login
/// user's uid for the sudo check. One round trip.
fn facts_script() -> String {
    let mut script = String::new();
    for p in probe::fact_probes(Os::Linux)
        .iter()
        .filter_map(|id| probe::find(Os::Linux, id))
    {
        let _ = writeln!(
            script,
            "echo '{MARK}{}'\n( {} ) 2>/dev/null",
            p.id, p.command
        );
    }
    let _ = writeln!(script, "echo '{MARK}uid'\nid -u");
    script
}

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
    let out = session.exec("sh -s", facts_script().as_bytes(), FACTS_TIMEOUT)?;
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

/// The facts from the script's output, read by the run's own fact reader
/// ([`runner::linux_facts`]).
fn parse_facts(stdout: &str) -> LinuxOs {
    let mut sections: BTreeMap<&str, String> = BTreeMap::new();
    let mut current: Option<&str> = None;
    for line in stdout.lines() {
        if let Some(id) = line.strip_prefix(MARK) {
            current = Some(id);
            sections.entry(id).or_default();
        } else if let Some(id) = current {
            let text = sections.entry(id).or_default();
            text.push_str(line);
            text.push('\n');
        }
    }
    let mut ev = Evidence::new(Profile::Current);
    for (id, text) in &sections {
        ev.insert(*id, ProbeOutput::exited(0, text.as_bytes()));
    }
    let facts = runner::linux_facts(&ev, &mut RunLog::default());
    let fact = |k: &str| facts.get(k).cloned();
    LinuxOs {
        pretty_name: fact("OSDistro"),
        kernel: fact("KernelVersion").unwrap_or_default(),
        arch: fact("Architecture").unwrap_or_default(),
        hostname: fact("Hostname").unwrap_or_default(),
        uid: sections.get("uid").and_then(|u| u.trim().parse().ok()),
    }
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
        // The facts script's output on the lab root (`chroot /var/cache/vmcert-lab/bookworm-root
        // sh -s`), os-release shortened.
        let out = "--vmcert-fact os-release\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n--vmcert-fact uname-r\n6.18.44-fc-v669\n--vmcert-fact uname-m\nx86_64\n--vmcert-fact uname-n\nvm\n--vmcert-fact proc-version\nLinux version 6.18.44-fc-v669\n--vmcert-fact uid\n0\n";
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
        let bare = parse_facts(
            "--vmcert-fact os-release\n--vmcert-fact uname-r\n5.4\n--vmcert-fact uname-m\naarch64\n--vmcert-fact uid\n",
        );
        assert_eq!((bare.pretty_name, bare.uid), (None, None));
        assert_eq!(
            (bare.kernel.as_str(), bare.arch.as_str()),
            ("5.4", "aarch64")
        );
    }

    #[test]
    fn the_facts_script_runs_the_catalogue_fact_probes() {
        let script = facts_script();
        for id in probe::fact_probes(Os::Linux) {
            let command = probe::find(Os::Linux, id)
                .map(|p| p.command)
                .unwrap_or_default();
            assert!(
                script.contains(&format!("echo '{MARK}{id}'\n( {command} )")),
                "{script}"
            );
        }
        assert!(script.ends_with("id -u\n"));
    }
}
