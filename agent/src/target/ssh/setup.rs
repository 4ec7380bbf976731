//! Turning the target flags into everything a connection needs, before any network traffic:
//! the parsed target, the host key policy and the credentials. Secrets are fetched here from
//! their only allowed sources (an environment variable named by a flag, the first line of stdin,
//! or a no-echo prompt on a terminal), so a prompt never holds an open connection waiting and a
//! missing secret is reported before connecting.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use super::config;
use super::error::SshError;
use super::host_key::{Fingerprint, HostKeyPolicy};
use super::keyfile::KeyFile;
use super::target::SshTarget;
use crate::target::options::TargetOptions;
use crate::target::secret::{self, Secret};

/// The system-wide known hosts file, read (never written) when `--known-hosts` is not given.
const GLOBAL_KNOWN_HOSTS: &str = "/etc/ssh/ssh_known_hosts";

/// A private key and the passphrase that unlocks it.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    /// The key file.
    pub(crate) key: KeyFile,
    /// Its passphrase, when the key is encrypted.
    pub(crate) passphrase: Option<Secret>,
}

/// The credentials to try, in this order: key, agent, password.
#[derive(Debug, Clone, Default)]
pub(crate) struct Credentials {
    /// `--identity` (plus passphrase).
    pub(crate) identity: Option<Identity>,
    /// The `SSH_AUTH_SOCK` to use, when neither a key nor a password was given.
    pub(crate) agent: Option<String>,
    /// Login password (`--password-env`, `--password-stdin` or the prompt).
    pub(crate) password: Option<Secret>,
    /// sudo password: `--sudo-password-env`, else the login password; none means `sudo -n`.
    pub(crate) sudo_password: Option<Secret>,
}

/// Everything needed to open an authenticated session.
#[derive(Debug, Clone)]
pub(crate) struct SshSetup {
    /// Where to connect.
    pub(crate) target: SshTarget,
    /// Limit for the TCP connect and, separately, for the SSH handshake.
    pub(crate) connect_timeout: Duration,
    /// Which host keys to trust.
    pub(crate) host_keys: HostKeyPolicy,
    /// Who to log in as.
    pub(crate) credentials: Credentials,
}

impl SshSetup {
    /// Builds the setup for an `ssh://` locator from the target options, reading secrets from
    /// the environment, stdin or the terminal as the options say.
    pub(crate) fn from_options(args: &TargetOptions) -> Result<Self, SshError> {
        let url = args.locator.as_str();
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from);
        let config = host_config(url, home.as_deref());
        let target = SshTarget::parse(&config::resolve_url(url, &config)).map_err(|reason| {
            SshError::BadTarget {
                url: redact_url_password(url),
                reason,
            }
        })?;
        if args.connect_timeout == 0 {
            return Err(SshError::Input(
                "--connect-timeout must be at least 1 second".to_owned(),
            ));
        }
        let host_keys = host_key_policy(args)?;
        let interactive = !args.no_prompt && std::io::stdin().is_terminal();

        let agent_socket = std::env::var("SSH_AUTH_SOCK")
            .ok()
            .filter(|s| !s.is_empty());
        let identity_path = args
            .identity
            .clone()
            .or_else(|| config.identity_files.iter().find(|p| p.is_file()).cloned())
            .or_else(|| {
                // As ssh does without -i: the default key files, when nothing else would log
                // in (a key that needs a passphrase nobody can give is passed over).
                let nothing_else =
                    args.password_env.is_none() && !args.password_stdin && agent_socket.is_none();
                let dir = home.as_ref()?.join(".ssh");
                config::DEFAULT_KEYS
                    .iter()
                    .map(|name| dir.join(name))
                    .filter(|_| nothing_else)
                    .find(|p| {
                        KeyFile::inspect(p)
                            .is_ok_and(|k| !k.encrypted || args.passphrase_env.is_some())
                    })
            });
        if args.identity.is_none()
            && let Some(p) = &identity_path
        {
            tracing::info!("using the key file {} (ssh config or default)", p.display());
        }
        let identity = match &identity_path {
            None => None,
            Some(path) => {
                let key = KeyFile::inspect(path)?;
                let passphrase = if !key.encrypted {
                    if args.passphrase_env.is_some() {
                        tracing::warn!(
                            "{} is not encrypted; --passphrase-env is not used",
                            path.display()
                        );
                    }
                    None
                } else if let Some(var) = &args.passphrase_env {
                    Some(env_secret("--passphrase-env", var)?)
                } else if interactive {
                    Some(prompt(&format!("Passphrase for key {}: ", path.display()))?)
                } else {
                    return Err(SshError::Input(format!(
                        "key file {} is encrypted: give --passphrase-env VAR (no terminal to ask on)",
                        path.display()
                    )));
                };
                Some(Identity { key, passphrase })
            }
        };

        let password = if let Some(var) = &args.password_env {
            Some(env_secret("--password-env", var)?)
        } else if args.password_stdin {
            Some(stdin_secret()?)
        } else if identity.is_none() && agent_socket.is_none() && interactive {
            Some(prompt(&format!(
                "Password for {}@{}: ",
                target.user, target.host
            ))?)
        } else {
            None
        };
        let agent = if identity.is_none() && password.is_none() {
            agent_socket
        } else {
            None
        };
        if identity.is_none() && password.is_none() && agent.is_none() {
            return Err(SshError::NoCredentials {
                target: format!("{}@{}", target.user, target.host),
            });
        }
        let sudo_password = match &args.sudo_password_env {
            Some(var) => Some(env_secret("--sudo-password-env", var)?),
            None => password.clone(),
        };
        Ok(Self {
            target,
            connect_timeout: Duration::from_secs(args.connect_timeout),
            host_keys,
            credentials: Credentials {
                identity,
                agent,
                password,
                sudo_password,
            },
        })
    }
}

/// What `~/.ssh/config` says about the host of `url` (nothing when there is no such file).
fn host_config(url: &str, home: Option<&std::path::Path>) -> config::HostConfig {
    let rest = url.strip_prefix("ssh://").unwrap_or(url);
    let hostport = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let alias = if hostport.starts_with('[') {
        return config::HostConfig::default();
    } else {
        hostport
            .split(':')
            .next()
            .unwrap_or(hostport)
            .trim_end_matches('/')
    };
    let Some(file) = home.map(|h| h.join(".ssh/config")) else {
        return config::HostConfig::default();
    };
    match std::fs::read_to_string(&file) {
        Ok(text) => config::lookup(&text, alias, home),
        Err(_) => config::HostConfig::default(),
    }
}

/// `url` with the password of a `USER:PASSWORD@` part replaced, for error messages.
fn redact_url_password(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    match rest.rsplit_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or("");
            let sep = if scheme.is_empty() { "" } else { "://" };
            format!("{scheme}{sep}{user}:<redacted>@{host}")
        }
        _ => url.to_owned(),
    }
}

fn host_key_policy(args: &TargetOptions) -> Result<HostKeyPolicy, SshError> {
    let pin = match &args.host_key {
        Some(p) => Some(
            Fingerprint::parse(p).map_err(|e| SshError::Input(format!("--host-key {p}: {e}")))?,
        ),
        None => None,
    };
    let (known_hosts, read_only) = match &args.known_hosts {
        Some(f) => (f.clone(), Vec::new()),
        None => {
            let home = std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .ok_or_else(|| {
                    SshError::Input(
                        "cannot find ~/.ssh/known_hosts: HOME is not set; pass --known-hosts FILE"
                            .to_owned(),
                    )
                })?;
            (
                PathBuf::from(home).join(".ssh/known_hosts"),
                vec![PathBuf::from(GLOBAL_KNOWN_HOSTS)],
            )
        }
    };
    Ok(HostKeyPolicy {
        known_hosts,
        read_only,
        pin,
        accept_new: args.accept_new_host_key,
    })
}

/// A secret from the environment variable `var`, named by `flag`.
fn env_secret(flag: &str, var: &str) -> Result<Secret, SshError> {
    secret::from_env(flag, var).map_err(SshError::Input)
}

/// The first line of stdin, without its line ending.
fn stdin_secret() -> Result<Secret, SshError> {
    secret::from_stdin_line().map_err(SshError::Input)
}

/// Asks on the terminal without echo.
fn prompt(text: &str) -> Result<Secret, SshError> {
    secret::from_terminal(text).map_err(SshError::Input)
}
