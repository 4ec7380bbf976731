//! The SSH transport (`vmcert run --target ssh://...`): the probe script of
//! [`crate::probe_script`], unchanged, fed to `sh -s` on ONE channel of the run's one SSH
//! connection, its stdout streamed into the same parser as the local transport so each probe is
//! delivered the moment its frame arrives.
//!
//! Root probes: with a sudo password (the login password, or `--sudo-password-env`), the channel
//! runs `sudo -k -S -p '' sh -s` and the password is the first line of its stdin, written from a
//! zeroized buffer; it never appears on a command line, where any user of the VM could read it
//! in the process list. `-k` makes sudo read the password even when it has a cached login, so the
//! password line can never fall through to the shell. Before that, [`sudo::check`] (two small
//! channels) makes sure sudo takes that password; if it does not (sudo needs no password, the
//! login is root, the password is refused, the user may not sudo), the channel runs plain
//! `sh -s` and the script itself uses `sudo -n` per root probe, or reports "needs root: ..."
//! frames for them while every other probe still runs. Key-only logins skip the check.
//!
//! Faults: a connection that drops mid-run keeps every probe already delivered and ends in
//! [`TransportError::Lost`] with the cause; the script's own deadline bounds the whole run; a
//! failure while connecting was already retried once by [`SshSession::connect`].

use std::io;

use zeroize::Zeroizing;

use super::{ProbeSink, STDERR_KEEP, Transport, TransportError, conclude_unix_run};
use crate::probe_script::{DEFAULT_LANES, FrameParser, ProbeScript, ProbeSpec, pump};
use crate::ssh::sudo::{self, SudoStatus};
use crate::ssh::{SshSession, StreamEnd};

/// How the script is started on the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shell {
    /// `sh -s`: the script runs as the login user (root probes through `sudo -n`).
    Plain,
    /// `sudo -k -S -p '' sh -s` after the sudo password line: the whole script runs as root.
    Sudo,
}

impl Shell {
    fn command(self) -> &'static str {
        match self {
            Self::Plain => "sh -s",
            Self::Sudo => "sudo -k -S -p '' sh -s",
        }
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

    /// Chooses how to start the script: through `sudo -S` only when sudo has been seen to
    /// accept the password.
    fn choose_shell(&self, probes: &[ProbeSpec], sink: &mut dyn ProbeSink) -> Shell {
        if !probes.iter().any(|p| p.needs_root) {
            return Shell::Plain;
        }
        if self.session.sudo_password().is_none() {
            sink.note(
                "no sudo password (key-only login): root probes use `sudo -n` on the target"
                    .to_string(),
            );
            return Shell::Plain;
        }
        // The uid is not asked for (one round trip less): a uid-0 login passes `sudo -n true`,
        // which ends the check before any password is sent, exactly as a known uid 0 would.
        let uid = if self.session.target().user == "root" {
            0
        } else {
            u32::MAX
        };
        match sudo::check(&self.session, uid) {
            Ok(SudoStatus::WithPassword) => {
                sink.note(format!(
                    "sudo {}: the probe script runs as root",
                    SudoStatus::WithPassword
                ));
                Shell::Sudo
            }
            Ok(other) => {
                sink.note(format!(
                    "sudo {other}; the probe script runs as the login user"
                ));
                Shell::Plain
            }
            Err(e) => {
                sink.note(format!(
                    "the sudo check failed ({e}); the probe script runs as the login user"
                ));
                Shell::Plain
            }
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
            Shell::Sudo => self.session.sudo_password().map(|p| p.expose()),
            Shell::Plain => None,
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
            .exec_streaming(shell.command(), &input, script.deadline(), STDERR_KEEP)
            .map_err(|e| TransportError::Start {
                what: format!("`{}` on {}", shell.command(), self.session.target()),
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
        let shell = self.choose_shell(probes, sink);
        let mut run = self.attempt(&script, shell, sink)?;
        // sudo that accepted the password can still refuse `sh` (sudoers may allow only some
        // commands, or require a tty): nothing ran, so run it again as the login user.
        if shell == Shell::Sudo && run.nothing_ran(probes.len()) {
            sink.note(format!(
                "`{}` did not start the probe script ({}); running it with `{}` as the login user",
                Shell::Sudo.command(),
                run.refusal(),
                Shell::Plain.command()
            ));
            run = self.attempt(&script, Shell::Plain, sink)?;
        }
        let Attempt { parser, read, end } = run;
        if let Some(e) = &end.input_error
            && !parser.is_done()
        {
            sink.note(format!("the probe script's input: {e}"));
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
