//! The SSH transport (`vmcert run --target ssh://...`): the probe script of
//! [`crate::target::script`], unchanged, fed to `sh -s` on ONE channel of the run's one SSH
//! connection, its stdout streamed into the same parser as the local transport so each probe is
//! delivered the moment its frame arrives.
//!
//! Root probes: the channel runs a short `sh -c` wrapper that chooses, on the target and without
//! another round trip, how the script starts: as is when the login is root; under `sudo -n sh -s`
//! when sudo needs no password; with a sudo password (the login password, or
//! `--sudo-password-env`), which is the first line of the channel's stdin, written from a
//! zeroized buffer, the wrapper reads that line, checks it once with `sudo -k -S -p '' true`
//! (one attempt, so a wrong password cannot use up an account's failed-login allowance), then
//! pipes it, followed by the script, into `sudo -k -S -p '' sh -s`. The password travels only
//! through stdin and the shell's `printf` builtin: never on a command line, where any user of the
//! VM could read it in the process list. When sudo refuses (wrong password, not in sudoers, no
//! sudo, a tty required) the wrapper says why on stderr and runs the script with plain `sh -s`,
//! where root probes use `sudo -n` or report "needs root: ..." while every other probe still
//! runs. One channel for all of it: a probe run costs the same round trips with or without sudo.
//!
//! Faults: a connection that drops mid-run keeps every probe already delivered and ends in
//! [`TransportError::Lost`] with the cause; the script's own deadline bounds the whole run; a
//! failure while connecting was already retried once by [`SshSession::connect`].

use std::io;

use zeroize::Zeroizing;

use vmcert_checks::Os;

use crate::report::model::TargetInfo;
use crate::target::open::{Connected, Kind, TargetSpec};
use crate::target::script::{DEFAULT_LANES, FrameParser, ProbeScript, ProbeSpec, pump};
use crate::target::ssh::sudo;
use crate::target::ssh::{MethodList, SshSession, SshSetup, StreamEnd};
use crate::target::{ProbeSink, STDERR_KEEP, Transport, TransportError, conclude_unix_run};

/// `ssh://USER@HOST[:PORT]`: a Linux VM over SSH.
pub(crate) const KIND: Kind = Kind {
    usage: "ssh://USER@HOST[:PORT]",
    accepts: |locator| locator.starts_with("ssh://"),
    open: |options| Ok(Box::new(SshSetup::from_options(options)?)),
};

impl TargetSpec for SshSetup {
    fn os(&self) -> Os {
        Os::Linux
    }

    fn host(&self) -> String {
        self.target.host.clone()
    }

    fn describe(&self) -> String {
        self.target.to_string()
    }

    fn record_source(&self) -> String {
        format!("vmcert run --target {}", self.target)
    }

    fn connect(&self) -> anyhow::Result<Connected> {
        let session = SshSession::connect(self, MethodList::OnRefusal)?;
        let t = session.target();
        let key = session.host_key();
        let log = vec![
            format!(
                "connected to {t} ({}, {}) in {} ms",
                session.peer(),
                session.server_banner(),
                session.setup_time().as_millis()
            ),
            format!(
                "host key {} {}: {}",
                key.key.key_type,
                key.key.fingerprint(),
                key.trust
            ),
            format!("logged in with {}", session.auth().method),
        ];
        let info = TargetInfo {
            transport: "ssh".to_string(),
            host: t.host.clone(),
            port: Some(t.port),
            user: Some(t.user.clone()),
            os: Os::Linux,
            facts: Default::default(),
        };
        Ok(Connected {
            transport: Box::new(SshTransport::new(session)),
            info,
            log,
        })
    }
}

/// What every probe script starts under on the target: `env -i` and a fixed, minimal
/// environment. Nothing of vmcert's environment crosses the connection (no `setenv` request is
/// ever made), but the remote login shell's did reach the probes: sshd's `SSH_CONNECTION`,
/// `SSH_CLIENT`, `USER`, `MAIL`, whatever `/etc/environment`, PAM, `~/.ssh/environment` or the
/// login's rc files export (issue 17 item 6). Kept: a standard `PATH`, the login's `HOME`, and
/// the C locale that the script and the checks' parsers expect. Under sudo, sudo's own policy
/// (env_reset) then adds `SUDO_USER` and the like, which the `login-user` probe reads. The
/// expansion of `$HOME` and the quoting work in any login shell (sh, bash, csh, fish).
const CLEAN_ENV: &str = "env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
HOME=\"$HOME\" LANG=C LC_ALL=C ";

/// The wrapper for logins with a sudo password, which comes first on stdin (see the module
/// docs). One line, so that any login shell (even csh) passes it to `sh` intact.
const WITH_SUDO_PASSWORD: &str = "sh -c 'IFS= read -r pw || exit 125; \
if [ \"$(id -u)\" = 0 ]; then pw=; exec sh -s; fi; \
if sudo -n true </dev/null >/dev/null 2>&1; then pw=; exec sudo -n sh -s; fi; \
if said=$(printf \"%s\\n\" \"$pw\" | sudo -k -S -p \"\" true 2>&1 >/dev/null); then \
{ printf \"%s\\n\" \"$pw\"; pw=; exec cat; } | sudo -k -S -p \"\" sh -s; exit; fi; \
pw=; printf \"vmcert-sudo-refused\\n%s\\nvmcert-sudo-end\\n\" \"$said\" >&2; exec sh -s'";

/// The wrapper for key-only logins: the whole script as root when sudo needs no password.
const WITHOUT_SUDO_PASSWORD: &str = "sh -c 'if [ \"$(id -u)\" != 0 ] && \
sudo -n true </dev/null >/dev/null 2>&1; then exec sudo -n sh -s; fi; exec sh -s'";

/// How the script is started on the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shell {
    /// `sh -s`: the script runs as the login user (root probes through `sudo -n`).
    Plain,
    /// The wrapper: root when the login is root or sudo lets it, else the login user.
    Elevate {
        /// The sudo password is the first line of stdin.
        password: bool,
    },
}

impl Shell {
    /// The remote command line: the shell under [`CLEAN_ENV`].
    fn command(self) -> String {
        let shell = match self {
            Self::Plain => "sh -s",
            Self::Elevate { password: true } => WITH_SUDO_PASSWORD,
            Self::Elevate { password: false } => WITHOUT_SUDO_PASSWORD,
        };
        format!("{CLEAN_ENV}{shell}")
    }
}

/// One run of the script on one channel: what the parser saw and how the channel ended.
struct Attempt {
    parser: FrameParser,
    /// The error that cut stdout short, if any.
    read: io::Result<()>,
    end: StreamEnd,
}

impl Attempt {
    /// The script never printed its `start` line: not a single probe ran.
    fn nothing_ran(&self, probes: usize) -> bool {
        self.read.is_ok() && self.parser.header().is_none() && self.parser.missing().len() == probes
    }

    /// sudo's last stderr line and the exit status, for the run log.
    fn refusal(&self) -> String {
        let said = String::from_utf8_lossy(&self.end.stderr);
        let said = said
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .unwrap_or("no message")
            .to_string();
        let status = self
            .end
            .status
            .map_or_else(|| "unknown".to_string(), |s| s.to_string());
        format!("exit status {status}: {said}")
    }

    /// What sudo said when the wrapper found it would not take the password, if it did.
    fn wrapper_refusal(&self) -> Option<String> {
        let text = String::from_utf8_lossy(&self.end.stderr);
        let (_, rest) = text.split_once("vmcert-sudo-refused\n")?;
        let (said, _) = rest.split_once("vmcert-sudo-end")?;
        Some(sudo::sudo_said(said.as_bytes()))
    }
}

/// Runs probes on a Linux target over an authenticated SSH session.
pub(crate) struct SshTransport {
    session: SshSession,
}

impl SshTransport {
    /// A transport over `session` (connected, host key verified, logged in).
    pub(crate) fn new(session: SshSession) -> Self {
        Self { session }
    }

    /// Chooses how to start the script: plain `sh -s` when no probe needs root, else the
    /// wrapper (with the sudo password on stdin when there is one).
    fn choose_shell(&self, probes: &[ProbeSpec]) -> Shell {
        if probes.iter().any(|p| p.needs_root) {
            Shell::Elevate {
                password: self.session.sudo_password().is_some(),
            }
        } else {
            Shell::Plain
        }
    }

    /// Runs the script once on a new channel started with `shell`.
    fn attempt(
        &self,
        script: &ProbeScript,
        shell: Shell,
        sink: &mut dyn ProbeSink,
    ) -> Result<Attempt, TransportError> {
        let password = match shell {
            Shell::Elevate { password: true } => self.session.sudo_password().map(|p| p.expose()),
            Shell::Elevate { password: false } | Shell::Plain => None,
        };
        let mut input = Zeroizing::new(Vec::with_capacity(
            password.map_or(0, |p| p.len() + 1) + script.text().len(),
        ));
        if let Some(p) = password {
            input.extend_from_slice(p.as_bytes());
            input.push(b'\n');
        }
        input.extend_from_slice(script.text().as_bytes());
        let mut exec = self
            .session
            .exec_streaming(&shell.command(), &input, script.deadline(), STDERR_KEEP)
            .map_err(|e| TransportError::Start {
                what: format!("the probe script's shell on {}", self.session.target()),
                source: io::Error::other(e.to_string()),
            })?;
        let mut parser = script.parser();
        let read = pump(&mut exec, &mut parser, sink);
        let mut end = exec.finish();
        end.stderr = redact(&end.stderr, password);
        Ok(Attempt { parser, read, end })
    }
}

/// `bytes` with every occurrence of `secret` replaced: sudo never echoes the password, but the
/// run log must not depend on that.
fn redact(bytes: &[u8], secret: Option<&str>) -> Vec<u8> {
    let Some(secret) = secret.map(str::as_bytes).filter(|s| !s.is_empty()) else {
        return bytes.to_vec();
    };
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while !rest.is_empty() {
        if rest.starts_with(secret) {
            out.extend_from_slice(b"<redacted>");
            rest = &rest[secret.len()..];
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out
}

impl Transport for SshTransport {
    fn kind(&self) -> &'static str {
        "ssh"
    }

    fn run_probes(
        &mut self,
        probes: &[ProbeSpec],
        sink: &mut dyn ProbeSink,
    ) -> Result<(), TransportError> {
        let script = ProbeScript::new(probes, DEFAULT_LANES)?;
        let shell = self.choose_shell(probes);
        let mut run = self.attempt(&script, shell, sink)?;
        // sudo can take the password and still refuse `sh` (sudoers may allow only some
        // commands): nothing ran, so run it again as the login user.
        if matches!(shell, Shell::Elevate { .. }) && run.nothing_ran(probes.len()) {
            sink.note(format!(
                "sudo did not start the probe script ({}); running it with `{}` as the login user",
                run.refusal(),
                Shell::Plain.command()
            ));
            run = self.attempt(&script, Shell::Plain, sink)?;
        } else if let Some(said) = run.wrapper_refusal() {
            sink.note(format!(
                "sudo refused the sudo password ({said}); the probe script ran as the login user"
            ));
        }
        if let Some(uid) = run.parser.header().and_then(|h| {
            h.split_whitespace()
                .find_map(|f| f.strip_prefix("uid="))
                .map(str::to_owned)
        }) {
            sink.note(match (uid.as_str(), shell) {
                ("0", _) => "the probe script runs as root".to_string(),
                (_, Shell::Elevate { password: false }) => format!(
                    "the probe script runs as the login user (uid {uid}): sudo needs a password \
                     and none was given (key-only login), so root probes cannot run"
                ),
                _ => format!(
                    "the probe script runs as the login user (uid {uid}); root probes use `sudo -n`"
                ),
            });
        }
        let Attempt { parser, read, end } = run;
        if let Some(e) = &end.input_error
            && !parser.is_done()
        {
            sink.note(format!("the probe script's input: {e}"));
        }
        if parser.is_done() && !end.closed {
            sink.note(
                "the target kept the probe script's channel open after its `done` line (a process \
                 left behind by a probe holds its output); stopped waiting for it"
                    .to_string(),
            );
        }
        if let Some(sig) = &end.signal {
            sink.note(format!("the probe script's shell was killed by SIG{sig}"));
        }
        let cut = read.err().map(|e| match e.kind() {
            io::ErrorKind::TimedOut => format!(
                "the probe script did not finish within {} s and was stopped",
                script.deadline().as_secs()
            ),
            _ => e.to_string(),
        });
        let status = end.status.filter(|_| end.signal.is_none());
        sink.note(format!(
            "{} SSH channel(s) opened on one connection to {}",
            self.session.channels_opened(),
            self.session.target()
        ));
        conclude_unix_run(&parser, status, &end.stderr, cut, sink)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_replaces_every_occurrence() {
        let text = b"sh: 1: Pw-1: not found\nPw-1Pw-1 x";
        assert_eq!(
            redact(text, Some("Pw-1")),
            b"sh: 1: <redacted>: not found\n<redacted><redacted> x"
        );
        assert_eq!(redact(text, None), text);
        assert_eq!(redact(text, Some("")), text);
    }
}
