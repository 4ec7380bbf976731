//! The WinRM transport (`--target winrms://USER@HOST[:PORT]` or `winrm://...`): certifies a
//! Windows VM through WS-Management with ONE remote shell and ONE PowerShell process reading the
//! generated probe script ([`crate::target::script::powershell`]) from stdin.
//!
//! Security decisions, all made before anything is sent:
//! - HTTPS (`winrms://`, port 5986) is the default for Windows. The server certificate is
//!   verified against the system's roots (and the built-in webpki roots), or only against
//!   `--ca-file PEM`; `--insecure` skips verification and says so loudly on stderr.
//! - NTLM (the default) over HTTP seals every SOAP body (MS-WSMV message encryption), as Windows
//!   requires unless `AllowUnencrypted=true`. Basic sends the password with every request, so it
//!   is refused over HTTP unless `--allow-unencrypted`. Kerberos (cargo feature `kerberos`) does
//!   not seal, so it has the same rule.
//! - The password comes from `--password-env`, `--password-stdin` or a no-echo prompt, lives in
//!   a [`Secret`], and only reaches winrm-rs's credentials. No remote command line carries
//!   anything but `powershell.exe -NoProfile -NonInteractive -Command -`.
//!
//! The crate is winrm-rs 1.1.2 with vmcert's documented fixes (vendor/winrm-rs/VMCERT-PATCHES.md):
//! without them NTLM sealing does not interoperate with Windows and no CA file can be given.

mod session;
mod target;

use std::time::Duration;

use anyhow::{Context as _, bail};
use winrm_rs::{
    AuthMethod, EncryptionMode, SoapError, WinrmClient, WinrmConfig, WinrmCredentials, WinrmError,
};

use vmcert_checks::Os;

use crate::report::model::TargetInfo;
use crate::target::open::{Connected, Kind, TargetSpec};
use crate::target::options::{TargetOptions, WinrmAuth};
use crate::target::script::powershell::{FrameKey, PsScript};
use crate::target::script::{DEFAULT_LANES, ProbeSpec};
use crate::target::secret::{PasswordSource, Secret};
use crate::target::{ProbeSink, Transport, TransportError};
pub(crate) use target::{Scheme, WinrmTarget, is_winrm_url};

/// `winrm://` (HTTP) or `winrms://` (HTTPS): a Windows VM over WinRM.
pub(crate) const KIND: Kind = Kind {
    usage: "winrm://USER@HOST[:PORT] or winrms://USER@HOST[:PORT]",
    accepts: is_winrm_url,
    open: |options| Ok(Box::new(WinrmSetup::from_options(options)?)),
};

impl TargetSpec for WinrmSetup {
    fn os(&self) -> Os {
        Os::Windows
    }

    fn host(&self) -> String {
        self.target.host.trim_matches(['[', ']']).to_string()
    }

    fn describe(&self) -> String {
        self.target.to_string()
    }

    fn record_source(&self) -> String {
        format!("vmcert run --target {}", self.target)
    }

    fn connect(&self) -> anyhow::Result<Connected> {
        let transport = WinrmTransport::connect(self)?;
        let t = &self.target;
        let log = vec![format!(
            "connected to {t} in {} ms (one shell, one PowerShell)",
            transport.connect_ms()
        )];
        let info = TargetInfo {
            transport: transport.kind().to_string(),
            host: t.host.clone(),
            port: Some(t.port),
            user: Some(t.user.clone()),
            os: Os::Windows,
            facts: Default::default(),
        };
        Ok(Connected {
            transport: Box::new(transport),
            info,
            log,
        })
    }
}

/// Seconds a WS-Man request may wait on the host (the `OperationTimeout` of each request; a
/// Receive with no output by then gets `w:TimedOut` and is asked again).
const OPERATION_TIMEOUT_SECS: u64 = 30;

/// Everything needed to connect, checked and read from the command line.
#[derive(Debug)]
pub(crate) struct WinrmSetup {
    /// Where.
    pub(crate) target: WinrmTarget,
    auth: WinrmAuth,
    ca_pem: Option<Vec<u8>>,
    insecure: bool,
    password: Option<Secret>,
    connect_timeout: u64,
}

impl WinrmSetup {
    /// The authentication method.
    pub(crate) fn auth(&self) -> WinrmAuth {
        self.auth
    }

    /// Checks the options against the `winrm(s)://` locator and reads the password (which may prompt).
    ///
    /// # Errors
    /// One line for each refusal: a malformed URL, an SSH-only flag, an unencrypted
    /// combination, an unreadable CA file, a missing password.
    pub(crate) fn from_options(args: &TargetOptions) -> anyhow::Result<Self> {
        let url = args.locator.as_str();
        let target = WinrmTarget::parse(url).map_err(|e| anyhow::anyhow!("--target {url}: {e}"))?;
        let ssh_only = [
            ("--identity", args.identity.is_some()),
            ("--passphrase-env", args.passphrase_env.is_some()),
            ("--sudo-password-env", args.sudo_password_env.is_some()),
            ("--known-hosts", args.known_hosts.is_some()),
            ("--host-key", args.host_key.is_some()),
            ("--accept-new-host-key", args.accept_new_host_key),
        ];
        if let Some((flag, _)) = ssh_only.iter().find(|(_, set)| *set) {
            bail!("{flag} applies to ssh:// targets, not to WinRM");
        }
        let https = target.scheme == Scheme::Https;
        if !https && !args.allow_unencrypted {
            match args.auth {
                WinrmAuth::Basic => bail!(
                    "--auth basic over winrm:// (HTTP) would send the password and every result in clear: use winrms:// (HTTPS), --auth ntlm (encrypted), or --allow-unencrypted if you accept that"
                ),
                WinrmAuth::Kerberos => bail!(
                    "--auth kerberos over winrm:// (HTTP) is not encrypted by this build: use winrms:// (HTTPS), or --allow-unencrypted if you accept that"
                ),
                WinrmAuth::Ntlm => {}
            }
        }
        if cfg!(not(feature = "kerberos")) && args.auth == WinrmAuth::Kerberos {
            bail!(
                "--auth kerberos: this vmcert was built without Kerberos (cargo feature `kerberos`); use --auth ntlm or basic"
            );
        }
        if !https && (args.ca_file.is_some() || args.insecure) {
            bail!("--ca-file and --insecure apply to winrms:// (HTTPS) targets only");
        }
        if args.ca_file.is_some() && args.insecure {
            bail!("--ca-file and --insecure contradict each other: give one");
        }
        let ca_pem = match &args.ca_file {
            Some(path) => {
                let pem =
                    std::fs::read(path).with_context(|| format!("--ca-file {}", path.display()))?;
                if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
                    bail!(
                        "--ca-file {}: no PEM certificate (-----BEGIN CERTIFICATE-----) in it",
                        path.display()
                    );
                }
                Some(pem)
            }
            None => None,
        };
        let password = if args.auth == WinrmAuth::Kerberos {
            if args.password_env.is_some() || args.password_stdin {
                bail!(
                    "--auth kerberos uses the Kerberos ticket cache (kinit), not a password: drop --password-env/--password-stdin"
                );
            }
            None
        } else {
            let source =
                PasswordSource::from_flags(args.password_env.as_deref(), args.password_stdin);
            if args.no_prompt && source == PasswordSource::Prompt {
                bail!(
                    "no password given for {} and prompting is off: use --password-env VAR or --password-stdin",
                    target
                );
            }
            let prompt = format!("Password for {} on {} (WinRM): ", target.user, target.host);
            Some(source.read(&prompt).map_err(anyhow::Error::msg)?)
        };
        if args.insecure {
            eprintln!(
                "vmcert: WARNING: --insecure: the TLS certificate of {} is NOT verified; anyone on the network path can pose as the host and read the password and the results",
                target.host
            );
        }
        Ok(Self {
            target,
            auth: args.auth,
            ca_pem,
            insecure: args.insecure,
            password,
            connect_timeout: args.connect_timeout.max(1),
        })
    }

    /// A client whose shells hold `key` in their environment (see [`FrameKey`]).
    fn client(&self, key: &FrameKey) -> anyhow::Result<WinrmClient> {
        let auth_method = match self.auth {
            WinrmAuth::Basic => AuthMethod::Basic,
            WinrmAuth::Ntlm => AuthMethod::Ntlm,
            WinrmAuth::Kerberos => AuthMethod::Kerberos,
        };
        let config = WinrmConfig {
            port: self.target.port,
            use_tls: self.target.scheme == Scheme::Https,
            accept_invalid_certs: self.insecure,
            ca_pem: self.ca_pem.clone(),
            connect_timeout_secs: self.connect_timeout,
            operation_timeout_secs: OPERATION_TIMEOUT_SECS,
            auth_method,
            // Seals over HTTP, relies on TLS over HTTPS.
            encryption: EncryptionMode::Auto,
            codepage: 65001,
            user_agent: Some(format!("vmcert/{}", env!("CARGO_PKG_VERSION"))),
            // The probe script's frame key: in the shell's environment, never in a statement.
            env_vars: vec![key.env_var()],
            ..WinrmConfig::default()
        };
        let (domain, name) = self.target.domain_and_name();
        let password = self.password.as_ref().map_or("", Secret::expose);
        let credentials = WinrmCredentials::new(name, password, domain);
        WinrmClient::new(config, credentials)
            .map_err(|e| anyhow::anyhow!("{}", describe(&e, &self.target)))
    }
}

/// A connected WinRM target: the shell exists (so the host answered, TLS and the credentials
/// were accepted) and waits for the one probe run.
pub(crate) struct WinrmTransport {
    runtime: tokio::runtime::Runtime,
    client: WinrmClient,
    target: WinrmTarget,
    shell_id: Option<String>,
    connect_ms: u128,
    /// The frame key in the shell's environment.
    key: FrameKey,
}

impl WinrmTransport {
    /// Connects and authenticates by creating the remote shell.
    ///
    /// # Errors
    /// One line: connection refused, TLS failure, bad credentials, a WinRM fault, no answer.
    pub(crate) fn connect(setup: &WinrmSetup) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let key = FrameKey::random();
        let client = setup.client(&key)?;
        let target = setup.target.clone();
        let started = std::time::Instant::now();
        let limit = Duration::from_secs(setup.connect_timeout + OPERATION_TIMEOUT_SECS + 10);
        let created = runtime.block_on(async {
            tokio::time::timeout(limit, client.create_shell(&target.host)).await
        });
        let shell_id = match created {
            Ok(Ok(id)) => id,
            Ok(Err(e)) => bail!("{}", describe(&e, &target)),
            Err(_) => bail!(
                "no answer from {}:{} within {} s",
                target.host,
                target.port,
                limit.as_secs()
            ),
        };
        tracing::info!("WinRM shell {shell_id} created on {target}");
        Ok(Self {
            runtime,
            client,
            target,
            shell_id: Some(shell_id),
            connect_ms: started.elapsed().as_millis(),
            key,
        })
    }

    /// The target this transport reaches.
    pub(crate) fn target(&self) -> &WinrmTarget {
        &self.target
    }

    /// Milliseconds the connection (TCP, TLS, authentication, shell creation) took.
    pub(crate) fn connect_ms(&self) -> u128 {
        self.connect_ms
    }
}

impl Transport for WinrmTransport {
    fn kind(&self) -> &'static str {
        self.target.scheme.as_str()
    }

    fn run_probes(
        &mut self,
        probes: &[ProbeSpec],
        sink: &mut dyn ProbeSink,
    ) -> Result<(), TransportError> {
        let script = PsScript::new(probes, DEFAULT_LANES)?.keyed(self.key.clone());
        let Some(shell_id) = self.shell_id.take() else {
            return Err(TransportError::Lost(
                "the WinRM shell of this connection was already used".to_string(),
            ));
        };
        sink.note(format!(
            "WinRM shell on {}: PowerShell script of {} bytes for {} probe(s)",
            self.target,
            script.text().len(),
            probes.len()
        ));
        self.runtime.block_on(session::run(
            &self.client,
            &self.target,
            &shell_id,
            &script,
            sink,
        ))
    }
}

impl Drop for WinrmTransport {
    /// A shell never used (the run was abandoned before it started) is deleted, best effort.
    fn drop(&mut self) {
        if let Some(id) = self.shell_id.take() {
            let delete = self.client.delete_shell(&self.target.host, &id);
            let _ = self
                .runtime
                .block_on(async { tokio::time::timeout(Duration::from_secs(10), delete).await });
        }
    }
}

/// A winrm-rs error as one line that says what went wrong and what to do. Never holds a secret
/// (winrm-rs errors carry none; HTTP bodies of authentication failures are not shown).
pub(crate) fn describe(e: &WinrmError, t: &WinrmTarget) -> String {
    let at = format!("{}:{}", t.host, t.port);
    let text = match e {
        WinrmError::Http(h) => {
            let mut chain = Vec::new();
            let mut source = std::error::Error::source(h);
            while let Some(s) = source {
                chain.push(s.to_string());
                source = s.source();
            }
            let detail = chain.last().cloned().unwrap_or_else(|| h.to_string());
            let all = chain.join(": ").to_lowercase();
            if all.contains("certificate")
                || all.contains("tls")
                || all.contains("handshake")
                || all.contains("alert")
                || all.contains("corrupt message")
            {
                format!(
                    "TLS handshake with {at} failed: {detail} (trust the host's CA with --ca-file PEM, or skip verification with --insecure)"
                )
            } else if h.is_timeout() {
                format!("no answer from {at} in time: {detail}")
            } else if all.contains("connection refused") {
                format!(
                    "cannot connect to {at}: connection refused (is WinRM listening there? HTTPS is 5986, HTTP 5985)"
                )
            } else if h.is_connect() {
                format!("cannot connect to {at}: {detail}")
            } else {
                format!("the connection to {at} failed: {detail}")
            }
        }
        WinrmError::AuthFailed(m) => {
            if let Some(tls) = m.strip_prefix("TLS: ") {
                format!("TLS set-up for {at} failed: {tls}")
            } else if m.contains("401") || m.contains("rejected") {
                format!(
                    "authentication failed for {} at {at} (HTTP 401): wrong user name or password, or the account may not log on over WinRM",
                    t.user
                )
            } else if m.contains("Negotiate") || m.contains("WWW-Authenticate") {
                format!(
                    "{at} does not offer NTLM (Negotiate) authentication: {m} (try --auth basic over winrms://)"
                )
            } else {
                let first = m.lines().next().unwrap_or("");
                let cut: String = first.chars().take(200).collect();
                format!("WinRM at {at} refused the request: {cut}")
            }
        }
        WinrmError::Soap(SoapError::Fault { code, reason }) => {
            let hint = if code.ends_with("AccessDenied") {
                " (the account must be an administrator or in Remote Management Users)"
            } else {
                ""
            };
            format!("WinRM fault from {at}: {code}: {reason}{hint}")
        }
        WinrmError::Soap(other) => format!("unexpected WinRM answer from {at}: {other}"),
        WinrmError::Ntlm(n) => format!("NTLM with {at} failed: {n}"),
        WinrmError::Timeout(s) => format!("no answer from {at} within {s} s"),
        other => format!("WinRM with {at} failed: {other}"),
    };
    session::one_line(&text)
}
