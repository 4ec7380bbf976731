//! One authenticated SSH connection to a target, and running a command on it. Setup is
//! resolve, TCP connect (with TCP_NODELAY: without it Nagle plus delayed ACKs add ~40 ms to every
//! round trip, see feasibility.md §2), handshake, host key verification, authentication. A failure
//! while connecting or in the handshake is retried once (a VM whose sshd is restarting); nothing
//! is retried once credentials have been sent. TCP keepalive is on, so a target that vanishes
//! without closing the connection is noticed within about a minute even while no data flows.

use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ssh2::{MethodType, Session};

use super::auth::{self, AuthReport, MethodList};
use super::error::SshError;
use super::host_key::{self, HostKey, Trust};
use super::known_hosts::blob_key_type;
use super::setup::SshSetup;
use super::target::SshTarget;
use crate::target::secret::Secret;

/// Pause before the one retry of a failed connect or handshake.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// Margin past `--connect-timeout` before the whole handshake is cut (libssh2's own timeout, per
/// wait, says "no answer" first when the server is silent).
const HANDSHAKE_MARGIN: Duration = Duration::from_secs(1);

/// Longest authentication (password, keys, keyboard-interactive, sudo password check excluded).
const AUTH_LIMIT: Duration = Duration::from_secs(60);

/// Shuts a socket down when a whole exchange has not ended by its deadline. libssh2 bounds each
/// single wait only, so a server that sends its banner (or its key exchange, or its answers to
/// authentication) a byte at a time would otherwise hold a connect for ever.
struct Deadline {
    stop: mpsc::Sender<()>,
    fired: Arc<AtomicBool>,
}

impl Deadline {
    /// Arms a deadline `limit` from now on `socket` (a handle on the session's socket).
    fn arm(socket: &TcpStream, limit: Duration) -> std::io::Result<Self> {
        let socket = socket.try_clone()?;
        let (stop, rx) = mpsc::channel::<()>();
        let fired = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&fired);
        std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
                flag.store(true, Ordering::SeqCst);
                let _ = socket.shutdown(Shutdown::Both);
            }
        });
        Ok(Self { stop, fired })
    }

    /// Disarms it; true when it had fired.
    fn disarm(self) -> bool {
        let _ = self.stop.send(());
        self.fired.load(Ordering::SeqCst)
    }
}

/// The host key the server presented and why it was trusted.
#[derive(Debug, Clone)]
pub(crate) struct VerifiedHostKey {
    /// The key.
    pub(crate) key: HostKey,
    /// Why we accepted it.
    pub(crate) trust: Trust,
}

/// What a finished command left behind.
#[derive(Debug, Clone)]
pub(crate) struct ExecOutput {
    /// Everything it wrote to stdout.
    pub(crate) stdout: Vec<u8>,
    /// Everything it wrote to stderr.
    pub(crate) stderr: Vec<u8>,
    /// Exit status (meaningless when `signal` is set).
    pub(crate) status: i32,
    /// The signal that killed it, without `SIG` (`TERM`, `KILL`...).
    pub(crate) signal: Option<String>,
}

/// An authenticated SSH session to one target.
pub(crate) struct SshSession {
    pub(super) session: Session,
    /// A second handle on the session's socket, to wait on it with poll(2) while a channel is
    /// streamed in non-blocking mode ([`super::stream`]).
    pub(super) socket: TcpStream,
    target: SshTarget,
    addr: SocketAddr,
    server_banner: String,
    host_key: VerifiedHostKey,
    auth: AuthReport,
    sudo_password: Option<Secret>,
    setup_time: Duration,
    /// Channels opened on this session so far (each exec is one channel, one round trip).
    pub(super) channels: Cell<usize>,
}

impl SshSession {
    /// Connects, verifies the host key and logs in as `setup` says, asking for the server's
    /// authentication methods when `list` says.
    pub(crate) fn connect(setup: &SshSetup, list: MethodList) -> Result<Self, SshError> {
        let started = Instant::now();
        let name = setup.target.known_hosts_name();
        let entries = setup.host_keys.entries(&name)?;
        let (session, socket, addr) = match establish(setup, &entries) {
            Err(e) if e.is_setup_retryable() => {
                tracing::info!("{e}; retrying once");
                std::thread::sleep(RETRY_PAUSE);
                establish(setup, &entries).map_err(|e| e.with_attempts(2))?
            }
            other => other?,
        };
        let authority = setup.target.authority();
        let guard = Deadline::arm(&socket, AUTH_LIMIT + setup.connect_timeout).map_err(|e| {
            SshError::Handshake {
                addr: authority.clone(),
                reason: format!("cannot duplicate the socket: {e}"),
                attempts: 1,
            }
        })?;
        let logged_in = Self::verify_and_log_in(setup, list, &session, &entries, &authority);
        if guard.disarm() {
            return Err(SshError::Session {
                addr: authority,
                reason: format!(
                    "the server did not finish authentication within {} s",
                    (AUTH_LIMIT + setup.connect_timeout).as_secs()
                ),
            });
        }
        let (key, trust, auth) = logged_in?;
        Ok(Self {
            server_banner: session.banner().unwrap_or_default().to_owned(),
            session,
            socket,
            target: setup.target.clone(),
            addr,
            host_key: VerifiedHostKey { key, trust },
            auth,
            sudo_password: setup.credentials.sudo_password.clone(),
            setup_time: started.elapsed(),
            channels: Cell::new(0),
        })
    }

    /// Host key verification and authentication on an established session.
    fn verify_and_log_in(
        setup: &SshSetup,
        list: MethodList,
        session: &Session,
        entries: &[super::known_hosts::Entry],
        authority: &str,
    ) -> Result<(HostKey, Trust, AuthReport), SshError> {
        let name = setup.target.known_hosts_name();
        let (blob, _) = session.host_key().ok_or_else(|| SshError::Handshake {
            addr: authority.to_owned(),
            reason: "the server sent no host key".to_owned(),
            attempts: 1,
        })?;
        let key = HostKey {
            key_type: blob_key_type(blob).unwrap_or_else(|| "unknown".to_owned()),
            blob: blob.to_vec(),
        };
        let trust = setup.host_keys.verify(&name, &key, entries)?;
        tracing::debug!(
            "host key {} {} of {name}: {trust}",
            key.key_type,
            key.fingerprint()
        );
        let auth = auth::authenticate(session, &setup.target, authority, &setup.credentials, list)?;
        tracing::info!("logged in to {} with {}", setup.target, auth.method);
        Ok((key, trust, auth))
    }

    /// The target.
    pub(crate) fn target(&self) -> &SshTarget {
        &self.target
    }

    /// The address actually connected to.
    pub(crate) fn peer(&self) -> SocketAddr {
        self.addr
    }

    /// The server's identification string (`SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10`).
    pub(crate) fn server_banner(&self) -> &str {
        &self.server_banner
    }

    /// The verified host key.
    pub(crate) fn host_key(&self) -> &VerifiedHostKey {
        &self.host_key
    }

    /// How the login went.
    pub(crate) fn auth(&self) -> &AuthReport {
        &self.auth
    }

    /// The password to give `sudo -S` over stdin; `None` means use `sudo -n`.
    pub(crate) fn sudo_password(&self) -> Option<&Secret> {
        self.sudo_password.as_ref()
    }

    /// Time from the first connect attempt to being logged in.
    pub(crate) fn setup_time(&self) -> Duration {
        self.setup_time
    }

    /// How many channels (commands) have been opened on this connection.
    pub(crate) fn channels_opened(&self) -> usize {
        self.channels.get()
    }

    /// Runs `command` on one new channel, writes `stdin` to it and closes its input, then
    /// collects stdout, stderr and the exit status. `timeout` bounds every single wait on the
    /// server, not the whole command. stdout is read before stderr, so a command must keep its
    /// stderr under the channel window (2 MiB); the probe script frames its probes' stderr into
    /// stdout. `command` is visible in the target's process list: never put a secret in it.
    pub(crate) fn exec(
        &self,
        command: &str,
        stdin: &[u8],
        timeout: Duration,
    ) -> Result<ExecOutput, SshError> {
        let failed = |what: &str, e: &dyn std::fmt::Display| SshError::Session {
            addr: self.target.authority(),
            reason: format!("{what}: {e}"),
        };
        self.session.set_timeout(millis(timeout));
        self.channels.set(self.channels.get() + 1);
        let mut ch = self
            .session
            .channel_session()
            .map_err(|e| failed("cannot open a channel", &e))?;
        ch.exec(command)
            .map_err(|e| failed("cannot start the command", &e))?;
        if !stdin.is_empty() {
            ch.write_all(stdin)
                .map_err(|e| failed("cannot write the command's input", &e))?;
        }
        ch.send_eof()
            .map_err(|e| failed("cannot close the command's input", &e))?;
        let mut stdout = Vec::new();
        ch.read_to_end(&mut stdout)
            .map_err(|e| failed("reading the command's output", &e))?;
        let mut stderr = Vec::new();
        ch.stderr()
            .read_to_end(&mut stderr)
            .map_err(|e| failed("reading the command's errors", &e))?;
        ch.wait_close()
            .map_err(|e| failed("closing the channel", &e))?;
        let status = ch
            .exit_status()
            .map_err(|e| failed("reading the exit status", &e))?;
        let signal = ch
            .exit_signal()
            .map_err(|e| failed("reading the exit signal", &e))?
            .exit_signal;
        Ok(ExecOutput {
            stdout,
            stderr,
            status,
            signal,
        })
    }
}

impl Drop for SshSession {
    fn drop(&mut self) {
        // Best effort: tell the server we are leaving so sshd logs a clean disconnect.
        if let Err(e) = self.session.disconnect(None, "vmcert done", None) {
            tracing::debug!("disconnect from {}: {e}", self.target.authority());
        }
    }
}

/// libssh2 timeouts are u32 milliseconds; 0 would mean "wait forever".
pub(super) fn millis(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX).max(1)
}

/// Resolves, connects and does the SSH handshake: one attempt.
fn establish(
    setup: &SshSetup,
    entries: &[super::known_hosts::Entry],
) -> Result<(Session, TcpStream, SocketAddr), SshError> {
    let target = &setup.target;
    let authority = target.authority();
    let addrs: Vec<SocketAddr> = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map_err(|e| SshError::Resolve {
            host: target.host.clone(),
            reason: e.to_string(),
        })?
        .collect();
    if addrs.is_empty() {
        return Err(SshError::Resolve {
            host: target.host.clone(),
            reason: "no addresses".to_owned(),
        });
    }
    let mut last = None;
    let mut stream = None;
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, setup.connect_timeout) {
            Ok(s) => {
                stream = Some((s, *addr));
                break;
            }
            Err(e) => {
                tracing::debug!("connect to {addr}: {e}");
                last = Some(e);
            }
        }
    }
    let Some((tcp, addr)) = stream else {
        let reason = last.map_or_else(
            || "no addresses".to_owned(),
            |e| describe_connect_error(&e, setup.connect_timeout),
        );
        return Err(SshError::Connect {
            addr: authority,
            reason,
            attempts: 1,
        });
    };
    let handshake_err = |reason: String| SshError::Handshake {
        addr: authority.clone(),
        reason,
        attempts: 1,
    };
    tcp.set_nodelay(true)
        .map_err(|e| handshake_err(format!("cannot set TCP_NODELAY: {e}")))?;
    if let Err(e) = keepalive(&tcp) {
        tracing::debug!("TCP keepalive on {addr}: {e}");
    }
    let socket = tcp
        .try_clone()
        .map_err(|e| handshake_err(format!("cannot duplicate the socket: {e}")))?;
    let mut session = Session::new().map_err(|e| handshake_err(e.message().to_owned()))?;
    let supported = session
        .supported_algs(MethodType::HostKey)
        .map_err(|e| handshake_err(e.message().to_owned()))?;
    let prefs = host_key::preferred_algorithms(entries, &supported);
    session
        .method_pref(MethodType::HostKey, &prefs)
        .map_err(|e| handshake_err(e.message().to_owned()))?;
    session.set_tcp_stream(tcp);
    session.set_timeout(millis(setup.connect_timeout));
    let guard = Deadline::arm(&socket, setup.connect_timeout + HANDSHAKE_MARGIN)
        .map_err(|e| handshake_err(format!("cannot duplicate the socket: {e}")))?;
    let shaken = session.handshake();
    if guard.disarm() {
        return Err(handshake_err(format!(
            "no complete SSH handshake within {}s (the server keeps sending without finishing its banner or key exchange)",
            setup.connect_timeout.as_secs()
        )));
    }
    shaken.map_err(|e| {
        handshake_err(
            if e.code() == ssh2::ErrorCode::Session(LIBSSH2_ERROR_TIMEOUT) {
                format!(
                    "no answer within {}s (is it an SSH server?)",
                    setup.connect_timeout.as_secs()
                )
            } else {
                e.message().to_owned()
            },
        )
    })?;
    tracing::debug!(
        "{authority}: key exchange {}, host key {}, ciphers {} / {}, MACs {} / {}",
        session.methods(MethodType::Kex).unwrap_or("?"),
        session.methods(MethodType::HostKey).unwrap_or("?"),
        session.methods(MethodType::CryptCs).unwrap_or("?"),
        session.methods(MethodType::CryptSc).unwrap_or("?"),
        session.methods(MethodType::MacCs).unwrap_or("?"),
        session.methods(MethodType::MacSc).unwrap_or("?"),
    );
    Ok((session, socket, addr))
}

/// TCP keepalive: probes after 15 s of silence, every 5 s, 4 unanswered probes end the
/// connection; unacknowledged data is given up after 40 s. A target that is switched off or cut
/// from the network then fails the next read instead of hanging until the script's deadline.
fn keepalive(tcp: &TcpStream) -> std::io::Result<()> {
    use rustix::net::sockopt;
    sockopt::set_socket_keepalive(tcp, true)?;
    sockopt::set_tcp_keepidle(tcp, Duration::from_secs(15))?;
    sockopt::set_tcp_keepintvl(tcp, Duration::from_secs(5))?;
    sockopt::set_tcp_keepcnt(tcp, 4)?;
    sockopt::set_tcp_user_timeout(tcp, 40_000)?;
    Ok(())
}

/// libssh2: a blocking call hit the session timeout.
const LIBSSH2_ERROR_TIMEOUT: i32 = -9;

fn describe_connect_error(e: &std::io::Error, timeout: Duration) -> String {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => {
            "connection refused (is sshd running and the port right?)".to_owned()
        }
        K::TimedOut | K::WouldBlock => format!("timed out after {}s", timeout.as_secs()),
        K::HostUnreachable => "host unreachable".to_owned(),
        K::NetworkUnreachable => "network unreachable".to_owned(),
        _ => e.to_string(),
    }
}
