//! A real OpenSSH server on a loopback port for the SSH end-to-end tests (feasibility.md §1a):
//! its own host key and config, a test user with a password, authorized client keys of every
//! supported kind, and a sudoers rule. Small and self-contained so the namespace lab (LabVm) can
//! replace it later. Every command the server runs for the user is logged (a `ForceCommand`
//! wrapper records `SSH_ORIGINAL_COMMAND`), so tests can prove no secret ever reached a remote
//! command line. Needs root (useradd, sudoers, sshd); fails loudly when root or a tool is missing.

use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The test user on this machine.
pub(crate) const USER: &str = "vmcert-ssh";
/// Its login (and sudo) password.
pub(crate) const PASSWORD: &str = "Login-Pw-4b7e1c93";
/// Passphrase of the encrypted client key.
pub(crate) const PASSPHRASE: &str = "Key-Phrase-8d2f6a05";

const SSHD: &str = "/usr/sbin/sshd";
const SUDOERS: &str = "/etc/sudoers.d/vmcert-ssh-test";

/// Client keys, made once per test process; all are authorized for [`USER`].
pub(crate) struct ClientKeys {
    _dir: tempfile::TempDir,
    /// OpenSSH-format ed25519 key.
    pub(crate) ed25519: PathBuf,
    /// OpenSSH-format ed25519 key encrypted with [`PASSPHRASE`].
    pub(crate) ed25519_encrypted: PathBuf,
    /// PEM (PKCS#1) RSA key.
    pub(crate) rsa_pem: PathBuf,
    /// OpenSSH-format ECDSA P-256 key.
    pub(crate) ecdsa: PathBuf,
    /// Encrypted PEM RSA key (passphrase [`PASSPHRASE`]).
    pub(crate) rsa_pem_encrypted: PathBuf,
    authorized: String,
}

/// The client keys of this test process.
pub(crate) fn client_keys() -> &'static ClientKeys {
    static KEYS: OnceLock<ClientKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        require_tools();
        let dir = tempfile::tempdir().expect("temp dir for client keys");
        let keygen = |name: &str, args: &[&str]| -> PathBuf {
            let path = dir.path().join(name);
            run(Command::new("ssh-keygen")
                .args(["-q", "-C", name, "-f"])
                .arg(&path)
                .args(args));
            path
        };
        let keys = ClientKeys {
            ed25519: keygen("id_ed25519", &["-t", "ed25519", "-N", ""]),
            ed25519_encrypted: keygen("id_ed25519_enc", &["-t", "ed25519", "-N", PASSPHRASE]),
            rsa_pem: keygen(
                "id_rsa_pem",
                &["-t", "rsa", "-b", "2048", "-m", "PEM", "-N", ""],
            ),
            ecdsa: keygen("id_ecdsa", &["-t", "ecdsa", "-b", "256", "-N", ""]),
            rsa_pem_encrypted: keygen(
                "id_rsa_pem_enc",
                &["-t", "rsa", "-b", "2048", "-m", "PEM", "-N", PASSPHRASE],
            ),
            authorized: String::new(),
            _dir: dir,
        };
        let mut authorized = String::new();
        for k in [
            &keys.ed25519,
            &keys.ed25519_encrypted,
            &keys.rsa_pem,
            &keys.ecdsa,
            &keys.rsa_pem_encrypted,
        ] {
            authorized.push_str(&fs::read_to_string(k.with_extension("pub")).expect("read .pub"));
        }
        ClientKeys { authorized, ..keys }
    })
}

/// Creates the test user (once per process), sets its password and its sudoers rule. The rule
/// allows only `/usr/bin/true` as root, with a password: enough to test sudo, useless to abuse.
fn ensure_user() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        require_tools();
        let exists = Command::new("id")
            .arg("-u")
            .arg(USER)
            .output()
            .expect("run id")
            .status
            .success();
        if !exists {
            run(Command::new("useradd").args(["-m", "-s", "/bin/sh", USER]));
        }
        // The password goes over stdin: never on a command line, even in tests.
        let mut chpasswd = Command::new("chpasswd")
            .stdin(Stdio::piped())
            .spawn()
            .expect("run chpasswd");
        chpasswd
            .stdin
            .take()
            .expect("chpasswd stdin")
            .write_all(format!("{USER}:{PASSWORD}\n").as_bytes())
            .expect("write to chpasswd");
        assert!(
            chpasswd.wait().expect("wait chpasswd").success(),
            "chpasswd failed"
        );
        let tmp = format!("{SUDOERS}.tmp");
        fs::write(&tmp, format!("{USER} ALL=(root) /usr/bin/true\n")).expect("write sudoers rule");
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o440)).expect("chmod sudoers rule");
        run(Command::new("visudo").args(["-c", "-q", "-f", &tmp]));
        fs::rename(&tmp, SUDOERS).expect("install sudoers rule");
    });
}

/// Panics with what is missing unless we are root and the tools are installed.
fn require_tools() {
    let status = fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next());
    assert_eq!(
        uid,
        Some("0"),
        "the SSH end-to-end tests need root (they add the user {USER}, a sudoers rule, and start sshd): run them as root, e.g. `bash tests/run.sh`"
    );
    for tool in [
        SSHD,
        "/usr/bin/ssh-keygen",
        "/usr/bin/ssh-agent",
        "/usr/bin/ssh-add",
        "/usr/bin/sudo",
        "/usr/sbin/visudo",
    ] {
        assert!(
            Path::new(tool).exists(),
            "{tool} is missing: install openssh-server, openssh-client and sudo (bash tests/lab/install-prereqs.sh)"
        );
    }
}

/// Runs a command, panicking with its stderr when it fails.
fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// How to configure a server.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SshdOptions {
    /// Offer keyboard-interactive (PAM) instead of password authentication.
    pub(crate) keyboard_interactive_only: bool,
    /// Listen on `::1` instead of `127.0.0.1`.
    pub(crate) ipv6: bool,
    /// `LogLevel DEBUG1` instead of `VERBOSE`: every authentication request is logged.
    pub(crate) debug_log: bool,
}

/// A running sshd; stopped (by PID) when dropped.
pub(crate) struct Sshd {
    dir: tempfile::TempDir,
    listen: &'static str,
    port: u16,
    child: Child,
}

impl Sshd {
    /// Starts a server with password and public key authentication.
    pub(crate) fn start() -> Self {
        Self::start_with(SshdOptions::default())
    }

    /// Starts a server configured by `opts`.
    pub(crate) fn start_with(opts: SshdOptions) -> Self {
        ensure_user();
        let keys = client_keys();
        let dir = tempfile::tempdir().expect("temp dir for sshd");
        // The user reads authorized_keys and runs the command logger from here.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod sshd dir");
        let d = dir.path();
        run(Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "fixture-host", "-f"])
            .arg(d.join("host_ed25519")));
        fs::write(d.join("authorized_keys"), &keys.authorized).expect("write authorized_keys");
        fs::set_permissions(d.join("authorized_keys"), fs::Permissions::from_mode(0o644))
            .expect("chmod authorized_keys");
        let log = d.join("commands.log");
        fs::write(&log, "").expect("create command log");
        fs::set_permissions(&log, fs::Permissions::from_mode(0o666)).expect("chmod command log");
        let logger = d.join("log-command");
        fs::write(
            &logger,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$SSH_ORIGINAL_COMMAND\" >> {}\nexec /bin/sh -c \"$SSH_ORIGINAL_COMMAND\"\n",
                log.display()
            ),
        )
        .expect("write command logger");
        fs::set_permissions(&logger, fs::Permissions::from_mode(0o755))
            .expect("chmod command logger");
        fs::create_dir_all("/run/sshd").expect("create /run/sshd (privilege separation directory)");

        let listen = if opts.ipv6 { "::1" } else { "127.0.0.1" };
        let mut last_log = String::new();
        for _ in 0..3 {
            let port = free_port_on(listen);
            let (password, kbd) = if opts.keyboard_interactive_only {
                ("no", "yes")
            } else {
                ("yes", "no")
            };
            let config = format!(
                "Port {port}\nListenAddress {listen}\nHostKey {d}/host_ed25519\nPidFile {d}/sshd.pid\n\
                 AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nPasswordAuthentication {password}\n\
                 KbdInteractiveAuthentication {kbd}\nPubkeyAuthentication yes\nUsePAM yes\nPermitRootLogin no\n\
                 AllowUsers {USER}\nForceCommand {d}/log-command\nLogLevel {level}\n",
                d = d.display(),
                level = if opts.debug_log { "DEBUG1" } else { "VERBOSE" },
            );
            fs::write(d.join("sshd_config"), config).expect("write sshd_config");
            let stderr = fs::File::create(d.join("sshd.log")).expect("create sshd.log");
            let mut child = Command::new(SSHD)
                .arg("-D")
                .arg("-e")
                .arg("-f")
                .arg(d.join("sshd_config"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr)
                .spawn()
                .expect("start sshd");
            let ready = format!("Server listening on {listen} port {port}.");
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                last_log = fs::read_to_string(d.join("sshd.log")).unwrap_or_default();
                if last_log.contains(&ready) {
                    return Self {
                        dir,
                        listen,
                        port,
                        child,
                    };
                }
                if child.try_wait().expect("poll sshd").is_some() || Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if !last_log.contains("Address already in use") {
                break;
            }
        }
        panic!("sshd did not start; its log:\n{last_log}");
    }

    /// `ssh://USER@127.0.0.1:PORT` (or `[::1]`).
    pub(crate) fn url(&self) -> String {
        format!("ssh://{USER}@{}", self.authority())
    }

    /// `127.0.0.1:PORT` or `[::1]:PORT`.
    pub(crate) fn authority(&self) -> String {
        if self.listen.contains(':') {
            format!("[{}]:{}", self.listen, self.port)
        } else {
            format!("{}:{}", self.listen, self.port)
        }
    }

    /// The port.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// The host's public key line (`ssh-ed25519 AAAA... fixture-host`).
    pub(crate) fn host_public_key(&self) -> String {
        fs::read_to_string(self.dir.path().join("host_ed25519.pub"))
            .expect("read host key")
            .trim()
            .to_owned()
    }

    /// The host key fingerprint as `ssh-keygen -lf` prints it (`SHA256:...`).
    pub(crate) fn host_fingerprint(&self) -> String {
        let out = Command::new("ssh-keygen")
            .arg("-lf")
            .arg(self.dir.path().join("host_ed25519.pub"))
            .output()
            .expect("run ssh-keygen -lf");
        let text = String::from_utf8_lossy(&out.stdout);
        text.split_whitespace()
            .nth(1)
            .expect("fingerprint in ssh-keygen -lf output")
            .to_owned()
    }

    /// Every command line the server ran for the user, in order.
    pub(crate) fn commands(&self) -> Vec<String> {
        let text =
            fs::read_to_string(self.dir.path().join("commands.log")).expect("read command log");
        text.lines().map(str::to_owned).collect()
    }

    /// The server's own log.
    pub(crate) fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port on 127.0.0.1 nobody listens on right now.
pub(crate) fn free_port() -> u16 {
    free_port_on("127.0.0.1")
}

fn free_port_on(ip: &str) -> u16 {
    let l = TcpListener::bind((ip, 0)).unwrap_or_else(|e| panic!("bind a free port on {ip}: {e}"));
    l.local_addr().expect("local addr").port()
}

/// A real `ssh-agent` on a private socket, holding one key; stopped (by PID) when dropped.
pub(crate) struct Agent {
    dir: tempfile::TempDir,
    child: Child,
}

impl Agent {
    /// Starts an agent and adds `key` (unencrypted) to it.
    pub(crate) fn start_with_key(key: &Path) -> Self {
        require_tools();
        let dir = tempfile::tempdir().expect("temp dir for ssh-agent");
        let sock = dir.path().join("agent.sock");
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&sock)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ssh-agent");
        let deadline = Instant::now() + Duration::from_secs(5);
        while !sock.exists() {
            assert!(
                Instant::now() < deadline,
                "ssh-agent did not create {}",
                sock.display()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let agent = Self { dir, child };
        run(Command::new("ssh-add")
            .arg("-q")
            .arg(key)
            .env("SSH_AUTH_SOCK", agent.socket()));
        agent
    }

    /// Its `SSH_AUTH_SOCK`.
    pub(crate) fn socket(&self) -> PathBuf {
        self.dir.path().join("agent.sock")
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
