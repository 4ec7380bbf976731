//! Everything that can go wrong while reaching, verifying and logging in to an SSH target, as one
//! typed error. Each variant prints as one line that says what happened and what to do, because
//! `vmcert` shows it verbatim after `vmcert: error:`. No variant ever carries a secret.

use std::path::PathBuf;

use thiserror::Error;

/// An SSH setup or transport failure.
#[derive(Debug, Error)]
pub(crate) enum SshError {
    /// The `--target` URL is malformed.
    #[error("--target {url}: {reason}")]
    BadTarget {
        /// The URL as given.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// A flag or a secret source is unusable (missing variable, empty stdin, bad pin...).
    #[error("{0}")]
    Input(String),
    /// No credential could be found or asked for.
    #[error(
        "no credentials for {target}: give --identity FILE, --password-env VAR or --password-stdin, \
         start an ssh-agent (SSH_AUTH_SOCK), or run on a terminal to be asked for the password"
    )]
    NoCredentials {
        /// `user@host`.
        target: String,
    },
    /// The host name did not resolve.
    #[error("cannot resolve {host}: {reason}")]
    Resolve {
        /// The host.
        host: String,
        /// The resolver's message.
        reason: String,
    },
    /// The TCP connection failed (refused, timed out, unreachable).
    #[error("cannot connect to {addr}: {reason}{}", attempts_note(*.attempts))]
    Connect {
        /// `host:port`.
        addr: String,
        /// What the socket said.
        reason: String,
        /// How many attempts were made.
        attempts: u32,
    },
    /// The SSH handshake (banner, key exchange) failed.
    #[error("SSH handshake with {addr} failed: {reason}{}", attempts_note(*.attempts))]
    Handshake {
        /// `host:port`.
        addr: String,
        /// libssh2's message or the timeout.
        reason: String,
        /// How many attempts were made.
        attempts: u32,
    },
    /// The host key is not in the known_hosts file and no flag allows trusting it.
    #[error(
        "unknown host key for {name}: {key_type} {fingerprint}; check it out of band (ssh-keygen -lf \
         /etc/ssh/ssh_host_*_key.pub on the VM), then pass --host-key {fingerprint} or \
         --accept-new-host-key (known hosts: {file})"
    )]
    UnknownHostKey {
        /// The known_hosts name (`host` or `[host]:port`).
        name: String,
        /// Key type, e.g. `ssh-ed25519`.
        key_type: String,
        /// `SHA256:...`.
        fingerprint: String,
        /// The known_hosts file consulted.
        file: PathBuf,
    },
    /// The host key differs from the one recorded for this host.
    #[error(
        "host key for {name} has CHANGED: the server presented {presented} but {file}:{line} records \
         {known}; refusing to connect (possible man-in-the-middle; if the VM was re-created, remove that line)"
    )]
    ChangedHostKey {
        /// The known_hosts name.
        name: String,
        /// Presented key: `type SHA256:...`.
        presented: String,
        /// The known_hosts file holding the old key.
        file: PathBuf,
        /// Its line number (1-based).
        line: usize,
        /// The recorded key: `type SHA256:...`.
        known: String,
    },
    /// The host key does not match `--host-key`.
    #[error(
        "host key for {name} does not match --host-key: the server presented {presented}, expected \
         {pinned}; refusing to connect"
    )]
    PinMismatch {
        /// The known_hosts name.
        name: String,
        /// Presented key: `type SHA256:...`.
        presented: String,
        /// The pinned fingerprint.
        pinned: String,
    },
    /// The host key is marked `@revoked`.
    #[error(
        "host key {presented} of {name} is marked @revoked in {file}:{line}; refusing to connect"
    )]
    RevokedHostKey {
        /// The known_hosts name.
        name: String,
        /// Presented key: `type SHA256:...`.
        presented: String,
        /// The file with the `@revoked` line.
        file: PathBuf,
        /// Its line number.
        line: usize,
    },
    /// Reading or writing a known_hosts file failed.
    #[error("known hosts file {file}: {reason}")]
    KnownHosts {
        /// The file.
        file: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The key file cannot be read or is in a format we cannot use.
    #[error("key file {file}: {reason}")]
    KeyFile {
        /// The key file.
        file: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The passphrase does not decrypt the key.
    #[error("key file {file}: wrong passphrase")]
    WrongPassphrase {
        /// The key file.
        file: PathBuf,
    },
    /// Every credential tried was refused.
    #[error(
        "authentication failed for {user}@{host} (methods tried: {tried}; the server offers: {offered})"
    )]
    AuthFailed {
        /// Login user.
        user: String,
        /// Host.
        host: String,
        /// What was tried, comma-separated, or `none`.
        tried: String,
        /// What the server offers, comma-separated.
        offered: String,
    },
    /// Talking to ssh-agent failed.
    #[error("ssh-agent ({socket}): {reason}")]
    Agent {
        /// `SSH_AUTH_SOCK`.
        socket: String,
        /// What failed.
        reason: String,
    },
    /// The session broke after the handshake (during auth or a command).
    #[error("SSH session with {addr}: {reason}")]
    Session {
        /// `host:port`.
        addr: String,
        /// What failed.
        reason: String,
    },
}

impl SshError {
    /// Whether a second attempt may help: only failures while connecting or in the handshake.
    pub(crate) fn is_setup_retryable(&self) -> bool {
        matches!(self, Self::Connect { .. } | Self::Handshake { .. })
    }

    /// The same failure, recording that it happened on attempt `n`.
    pub(crate) fn with_attempts(mut self, n: u32) -> Self {
        if let Self::Connect { attempts, .. } | Self::Handshake { attempts, .. } = &mut self {
            *attempts = n;
        }
        self
    }
}

fn attempts_note(attempts: u32) -> String {
    if attempts > 1 {
        format!(" ({attempts} attempts)")
    } else {
        String::new()
    }
}
