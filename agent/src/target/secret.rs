//! Secrets held in memory (login and sudo passwords, key passphrases) and the three places they
//! may come from: an environment variable, the first line of stdin, or a no-echo prompt. A secret
//! is the one kind of value that must never reach a log, an error message, a report or a remote
//! command line, so it lives in a type that has no `Display`, prints as `<redacted>` under
//! `Debug`, and wipes its buffer when dropped. Both transports (SSH and WinRM) use this module.

use std::fmt;
use std::io::{BufRead as _, IsTerminal as _};

use zeroize::Zeroizing;

/// A secret string: a login or sudo password, or a key passphrase.
#[derive(Clone)]
pub(crate) struct Secret(Zeroizing<String>);

impl Secret {
    /// Takes ownership of `value`; the buffer is zeroed when the secret is dropped.
    pub(crate) fn new(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    /// The secret's text, for handing to the authentication code or writing to a channel's
    /// stdin. Never format it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The secret in the environment variable `var`, which `flag` named.
///
/// # Errors
/// One line naming the flag: the variable is unset, empty or not UTF-8.
pub(crate) fn from_env(flag: &str, var: &str) -> Result<Secret, String> {
    match std::env::var(var) {
        Ok(v) if v.is_empty() => Err(format!("{flag} {var}: the environment variable is empty")),
        Ok(v) => Ok(Secret::new(v)),
        Err(std::env::VarError::NotPresent) => {
            Err(format!("{flag} {var}: the environment variable is not set"))
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(format!("{flag} {var}: the value is not valid UTF-8"))
        }
    }
}

/// The first line of standard input, without its line ending (`--password-stdin`).
///
/// # Errors
/// Standard input cannot be read, or its first line is empty.
pub(crate) fn from_stdin_line() -> Result<Secret, String> {
    let mut line = Zeroizing::new(String::new());
    let n = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("--password-stdin: cannot read standard input: {e}"))?;
    let value = line.trim_end_matches(['\n', '\r']);
    if n == 0 || value.is_empty() {
        return Err("--password-stdin: the first line of standard input is empty".to_string());
    }
    Ok(Secret::new(value.to_string()))
}

/// Asks on the terminal without echo. The caller decides whether there is a terminal to ask on.
///
/// # Errors
/// The terminal cannot be read.
pub(crate) fn from_terminal(prompt: &str) -> Result<Secret, String> {
    let value = rpassword::prompt_password(prompt)
        .map_err(|e| format!("cannot read from the terminal: {e}"))?;
    Ok(Secret::new(value))
}

/// Where the login password comes from, per the interface contract: `--password-env VAR`,
/// `--password-stdin` (the first line of stdin), else a no-echo prompt on the terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PasswordSource {
    /// An environment variable.
    Env(String),
    /// The first line of standard input.
    Stdin,
    /// Ask on the terminal (refused when there is none).
    Prompt,
}

impl PasswordSource {
    /// The source the flags name.
    pub(crate) fn from_flags(env: Option<&str>, stdin: bool) -> Self {
        match (env, stdin) {
            (Some(var), _) => Self::Env(var.to_string()),
            (None, true) => Self::Stdin,
            (None, false) => Self::Prompt,
        }
    }

    /// Reads the password. `prompt` is the question shown on the terminal.
    ///
    /// # Errors
    /// One line naming the flag: the variable is unset, empty or not UTF-8, stdin's first line
    /// is empty, or there is no terminal to ask on.
    pub(crate) fn read(&self, prompt: &str) -> Result<Secret, String> {
        match self {
            Self::Env(var) => from_env("--password-env", var),
            Self::Stdin => from_stdin_line(),
            Self::Prompt => {
                if !std::io::stdin().is_terminal() {
                    return Err("no password given and no terminal to ask on: use --password-env VAR or --password-stdin".to_string());
                }
                let value = from_terminal(prompt)?;
                if value.expose().is_empty() {
                    return Err("the password is empty".to_string());
                }
                Ok(value)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("hunter2-Very-Secret".to_owned());
        let shown = format!("{s:?} {:?}", Some(s.clone()));
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(s.expose(), "hunter2-Very-Secret");
    }

    #[test]
    fn sources_follow_the_flags_and_explain_failures() {
        assert_eq!(
            PasswordSource::from_flags(Some("P"), false),
            PasswordSource::Env("P".into())
        );
        assert_eq!(
            PasswordSource::from_flags(None, true),
            PasswordSource::Stdin
        );
        assert_eq!(
            PasswordSource::from_flags(None, false),
            PasswordSource::Prompt
        );
        let e = PasswordSource::Env("VMCERT_TEST_SURELY_UNSET_VAR".into())
            .read("")
            .unwrap_err();
        assert_eq!(
            e,
            "--password-env VMCERT_TEST_SURELY_UNSET_VAR: the environment variable is not set"
        );
    }
}
