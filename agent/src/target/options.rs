//! How to reach a target and authenticate, as plain data: `crate::cmd` builds it from the
//! command line (`run`, `connect`) or from an inventory entry (`fleet`), and each kind of target
//! reads the fields it needs when it is opened. No clap type reaches the targets or the engine.
//! Secrets are never fields here, only where to read them from (an environment variable, stdin or
//! a prompt).

use std::path::PathBuf;

/// WinRM authentication method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum WinrmAuth {
    /// HTTP Basic (HTTPS only unless `allow_unencrypted`).
    Basic,
    /// NTLM (the default; message encryption over HTTP).
    #[default]
    Ntlm,
    /// Kerberos (needs the `kerberos` cargo feature).
    Kerberos,
}

impl WinrmAuth {
    /// The lowercase name, as on the command line and in `connect`'s output.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Basic => "basic",
            Self::Ntlm => "ntlm",
            Self::Kerberos => "kerberos",
        }
    }
}

/// Where a run goes and how to log in. `locator` names the target: `local`, or a URL that one
/// kind of target accepts (see [`crate::target::open`]).
#[derive(Debug, Clone)]
pub(crate) struct TargetOptions {
    /// `local`, `ssh://USER@HOST[:PORT]`, `winrm://…` or `winrms://…`.
    pub locator: String,
    /// SSH private key file.
    pub identity: Option<PathBuf>,
    /// Environment variable holding the key's passphrase.
    pub passphrase_env: Option<String>,
    /// Environment variable holding the login password.
    pub password_env: Option<String>,
    /// Read the login password from the first line of stdin.
    pub password_stdin: bool,
    /// Environment variable holding the sudo password, when it differs from the login's.
    pub sudo_password_env: Option<String>,
    /// WinRM authentication method.
    pub auth: WinrmAuth,
    /// PEM file of the CA that signed the WinRM server's certificate.
    pub ca_file: Option<PathBuf>,
    /// Skip TLS verification (WinRM).
    pub insecure: bool,
    /// Allow WinRM over HTTP without message encryption.
    pub allow_unencrypted: bool,
    /// SSH known-hosts file (default `~/.ssh/known_hosts`).
    pub known_hosts: Option<PathBuf>,
    /// Expected SSH host key fingerprint.
    pub host_key: Option<String>,
    /// Trust an unknown SSH host key and record it.
    pub accept_new_host_key: bool,
    /// Seconds to wait for the connection.
    pub connect_timeout: u64,
    /// Never prompt, even on a terminal (fleets, `--non-interactive`).
    pub no_prompt: bool,
    /// A disk image: the account VMs made from it are reached with.
    pub login_user: Option<String>,
}

impl TargetOptions {
    /// The locator of this machine (`--local`).
    pub(crate) const LOCAL: &'static str = "local";
    /// Seconds to wait for a connection when nothing else is said.
    pub(crate) const DEFAULT_CONNECT_TIMEOUT: u64 = 15;

    /// Options for `locator` with every other setting at its default.
    pub(crate) fn new(locator: impl Into<String>) -> Self {
        Self {
            locator: locator.into(),
            identity: None,
            passphrase_env: None,
            password_env: None,
            password_stdin: false,
            sudo_password_env: None,
            auth: WinrmAuth::default(),
            ca_file: None,
            insecure: false,
            allow_unencrypted: false,
            known_hosts: None,
            host_key: None,
            accept_new_host_key: false,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            no_prompt: false,
            login_user: None,
        }
    }
}
