//! Can this login run root probes? Asked the way the runner will use sudo: `sudo -n true` first
//! (passwordless sudo needs nothing), then, when a sudo password is known, `sudo -k -S -p '' true`
//! with the password written to the command's stdin (never on its command line, where any user
//! of the VM could read it in the process list). `-k` makes sudo check the password now instead of
//! trusting a cached login.

use std::fmt;
use std::time::Duration;

use serde::Serialize;
use zeroize::Zeroizing;

use super::error::SshError;
use super::session::SshSession;

/// Longest wait for one sudo step (a rejected password costs sudo about 2 s).
const SUDO_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether and how sudo works for the login user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub(crate) enum SudoStatus {
    /// The login is root; sudo is not needed.
    Root,
    /// `sudo -n` works.
    Passwordless,
    /// `sudo -S` accepted the given password.
    WithPassword,
    /// sudo needs a password and none was given.
    NeedsPassword,
    /// sudo refused (wrong password, not in sudoers, no sudo, needs a tty...).
    Refused {
        /// What sudo said (its first stderr line) or what is missing.
        reason: String,
    },
}

impl SudoStatus {
    /// Whether root probes can run.
    pub(crate) fn works(&self) -> bool {
        matches!(self, Self::Root | Self::Passwordless | Self::WithPassword)
    }
}

impl fmt::Display for SudoStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Root => f.write_str("not needed (logged in as root)"),
            Self::Passwordless => f.write_str("works without a password (sudo -n)"),
            Self::WithPassword => f.write_str("works with the sudo password (given over stdin)"),
            Self::NeedsPassword => f.write_str(
                "needs a password and none was given (--sudo-password-env VAR, or log in with a password): root probes will be Error",
            ),
            Self::Refused { reason } => write!(f, "does not work: {reason}: root probes will be Error"),
        }
    }
}

/// Finds out whether sudo works for the session's user. `uid` is the login's user id.
pub(crate) fn check(session: &SshSession, uid: u32) -> Result<SudoStatus, SshError> {
    if uid == 0 {
        return Ok(SudoStatus::Root);
    }
    let n = session.exec("sudo -n true", b"", SUDO_TIMEOUT)?;
    if n.status == 0 && n.signal.is_none() {
        return Ok(SudoStatus::Passwordless);
    }
    let said = sudo_said(&n.stderr);
    if n.status == 127 {
        return Ok(SudoStatus::Refused {
            reason: "sudo is not installed".to_owned(),
        });
    }
    if !said.contains("password is required") {
        return Ok(SudoStatus::Refused {
            reason: non_empty(said, n.status),
        });
    }
    let Some(password) = session.sudo_password() else {
        return Ok(SudoStatus::NeedsPassword);
    };
    let mut input = Zeroizing::new(Vec::with_capacity(password.expose().len() + 1));
    input.extend_from_slice(password.expose().as_bytes());
    input.push(b'\n');
    let s = session.exec("sudo -k -S -p '' true", &input, SUDO_TIMEOUT)?;
    if s.status == 0 && s.signal.is_none() {
        Ok(SudoStatus::WithPassword)
    } else {
        Ok(SudoStatus::Refused {
            reason: non_empty(sudo_said(&s.stderr), s.status),
        })
    }
}

/// sudo's verdict: its last `sudo: ...` line (after a wrong password it first says
/// "Sorry, try again."), else its last line.
pub(crate) fn sudo_said(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let said = lines
        .iter()
        .rev()
        .find(|l| l.starts_with("sudo:"))
        .or(lines.last());
    said.map_or_else(String::new, |l| (*l).to_owned())
}

fn non_empty(said: String, status: i32) -> String {
    if said.is_empty() {
        format!("sudo exited with status {status}")
    } else {
        said
    }
}

/// Property tests (proptest, on stable; `fuzz/run.sh` runs them longer) of [`sudo_said`]: any
/// bytes sudo writes give one trimmed line of them, its last `sudo:` line when there is one.
#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(
            crate::proptest_cases::cases(128)
        ))]

        #[test]
        fn sudo_said_is_one_of_its_lines(
            lines in prop::collection::vec(
                prop_oneof![
                    Just("sudo: a password is required".to_string()),
                    Just("Sorry, try again.".to_string()),
                    Just("sudo: 1 incorrect password attempt".to_string()),
                    "sudo:.{0,30}",
                    ".{0,40}",
                    "[ \t\r]{0,3}",
                ],
                0..8,
            ),
            junk in prop::collection::vec(any::<u8>(), 0..16),
        ) {
            let mut bytes = lines.join("\n").into_bytes();
            bytes.extend_from_slice(&junk);
            let said = sudo_said(&bytes);
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let all: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
            prop_assert!(!said.contains('\n'));
            prop_assert_eq!(said.is_empty(), all.is_empty());
            if !said.is_empty() {
                prop_assert!(all.contains(&said.as_str()));
            }
            if let Some(last) = all.iter().rev().find(|l| l.starts_with("sudo:")) {
                prop_assert_eq!(&said, last);
            }
        }
    }
}
