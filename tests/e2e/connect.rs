//! `vmcert connect` against a real OpenSSH server ([`Sshd`]): every way of logging in (password
//! from env and stdin, ed25519/RSA PEM/ECDSA/encrypted keys, ssh-agent, keyboard-interactive),
//! every host key outcome (unknown, recorded, known, hashed, changed, pinned), the failures a user
//! will meet (refused port, silent port, wrong password or passphrase, bad key files), and sudo.
//! Secrets are checked against stdout, stderr, every remote command line and the process list.

use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::sshd_fixture::{
    Agent, PASSPHRASE, PASSWORD, Sshd, SshdOptions, USER, client_keys, free_port,
};
use crate::util::vmcert_bin;

/// Name of the environment variable that carries the password in these tests.
const PW_VAR: &str = "VMCERT_TEST_PASSWORD";

/// One `vmcert connect` invocation with a private HOME, no inherited ssh-agent and a temp
/// known_hosts file.
struct Connect {
    home: tempfile::TempDir,
    cmd: Command,
    stdin: Option<Vec<u8>>,
    format: &'static str,
}

impl Connect {
    fn new(url: &str) -> Self {
        let home = tempfile::tempdir().expect("temp HOME");
        let mut cmd = Command::new(vmcert_bin());
        cmd.args(["connect", "--target", url])
            .env("HOME", home.path())
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::null());
        Self {
            home,
            cmd,
            stdin: None,
            format: "json",
        }
    }

    /// Connects to `sshd` with `--known-hosts` in the temp HOME, accepting the new key.
    fn to(sshd: &Sshd) -> Self {
        let mut c = Self::new(&sshd.url());
        let kh = c.known_hosts();
        c.arg("--known-hosts").arg(kh).arg("--accept-new-host-key");
        c
    }

    fn known_hosts(&self) -> PathBuf {
        self.home.path().join("known_hosts")
    }

    fn arg(&mut self, a: impl AsRef<std::ffi::OsStr>) -> &mut Self {
        self.cmd.arg(a);
        self
    }

    fn env(&mut self, k: &str, v: impl AsRef<std::ffi::OsStr>) -> &mut Self {
        self.cmd.env(k, v);
        self
    }

    fn format(&mut self, format: &'static str) -> &mut Self {
        self.format = format;
        self
    }

    fn password_env(&mut self) -> &mut Self {
        self.env(PW_VAR, PASSWORD).arg("--password-env").arg(PW_VAR)
    }

    fn stdin(&mut self, data: &str) -> &mut Self {
        self.stdin = Some(data.as_bytes().to_vec());
        self.cmd.stdin(Stdio::piped());
        self
    }

    fn run(&mut self) -> Output {
        self.run_watching_ps().0
    }

    /// Runs it while taking `ps -eo args` snapshots of this machine (which is also the target).
    fn run_watching_ps(&mut self) -> (Output, Vec<String>) {
        self.cmd.args(["--format", self.format]);
        let mut child = self
            .cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start vmcert");
        if let Some(data) = self.stdin.take() {
            let mut stdin = child.stdin.take().expect("vmcert stdin");
            stdin.write_all(&data).expect("write vmcert stdin");
        }
        let mut snapshots = Vec::new();
        while child.try_wait().expect("poll vmcert").is_none() {
            let ps = Command::new("ps")
                .args(["-eo", "args"])
                .output()
                .expect("run ps");
            snapshots.push(String::from_utf8_lossy(&ps.stdout).into_owned());
        }
        (child.wait_with_output().expect("wait vmcert"), snapshots)
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            stdout(out),
            stderr(out)
        )
    })
}

/// Asserts a successful connect and returns its JSON.
fn ready(out: &Output) -> Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
    let v = json(out);
    assert_eq!(v["ready"], true, "{v:#}");
    v
}

/// Asserts exit 2 with exactly one `vmcert: error:` line on stderr containing `want`.
fn fails_with(out: &Output, want: &str) -> String {
    let err = stderr(out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "stdout:\n{}\nstderr:\n{err}",
        stdout(out)
    );
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "want one error line, got:\n{err}");
    assert!(lines[0].starts_with("vmcert: error: "), "{err}");
    assert!(err.contains(want), "want `{want}` in:\n{err}");
    err
}

/// Asserts none of `secrets` shows up in the output, the server's command log or `ps` snapshots.
fn assert_secrets_hidden(out: &Output, sshd: &Sshd, snapshots: &[String], secrets: &[&str]) {
    let commands = sshd.commands().join("\n");
    for s in secrets {
        assert!(
            !stdout(out).contains(s),
            "secret in stdout:\n{}",
            stdout(out)
        );
        assert!(
            !stderr(out).contains(s),
            "secret in stderr:\n{}",
            stderr(out)
        );
        assert!(
            !commands.contains(s),
            "secret on a remote command line:\n{commands}"
        );
        for snap in snapshots {
            assert!(!snap.contains(s), "secret in the process list:\n{snap}");
        }
    }
}

fn host_os_release_pretty_name() -> String {
    let text = fs::read_to_string("/etc/os-release").expect("read /etc/os-release");
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .expect("PRETTY_NAME");
    line.trim_matches('"').to_owned()
}

fn uname(flag: &str) -> String {
    let out = Command::new("uname").arg(flag).output().expect("run uname");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn password_from_env_logs_in_and_sudo_takes_it_over_stdin() {
    let sshd = Sshd::start();
    let (out, snapshots) = Connect::to(&sshd).password_env().run_watching_ps();
    let v = ready(&out);
    assert_eq!(v["auth"]["method"], "password");
    assert_eq!(
        v["auth"]["offered"],
        serde_json::json!(["publickey", "password"])
    );
    assert_eq!(v["target"]["user"], USER);
    assert_eq!(v["target"]["port"], sshd.port());
    assert_eq!(v["host_key"]["fingerprint"], sshd.host_fingerprint());
    assert_eq!(v["host_key"]["trust"], "recorded");
    assert_eq!(v["os"]["pretty_name"], host_os_release_pretty_name());
    assert_eq!(v["os"]["kernel"], uname("-r"));
    assert_eq!(v["os"]["arch"], uname("-m"));
    assert_eq!(v["os"]["hostname"], uname("-n"));
    assert_eq!(v["sudo"]["status"], "with_password", "{v:#}");
    assert!(
        v["server"].as_str().unwrap().starts_with("SSH-2.0-OpenSSH"),
        "{v:#}"
    );
    assert!(!snapshots.is_empty());
    assert_secrets_hidden(&out, &sshd, &snapshots, &[PASSWORD]);
    // One channel for the facts, then sudo -n, then sudo -S with the password on stdin.
    assert_eq!(
        sshd.commands(),
        ["sh -s", "sudo -n true", "sudo -k -S -p '' true"]
    );
}

#[test]
fn password_from_stdin_first_line() {
    let sshd = Sshd::start();
    let (out, snapshots) = Connect::to(&sshd)
        .arg("--password-stdin")
        .stdin(&format!("{PASSWORD}\nignored\n"))
        .run_watching_ps();
    let v = ready(&out);
    assert_eq!(v["auth"]["method"], "password");
    assert_eq!(v["sudo"]["status"], "with_password");
    assert_secrets_hidden(&out, &sshd, &snapshots, &[PASSWORD]);
}

#[test]
fn password_prompt_on_a_terminal_does_not_echo() {
    let sshd = Sshd::start();
    let home = tempfile::tempdir().unwrap();
    // `script` runs vmcert on a pseudo-terminal; the test types the password once vmcert has
    // switched the terminal's echo off.
    let command = format!(
        "{} connect --target {} --known-hosts {} --accept-new-host-key --format json",
        vmcert_bin().display(),
        sshd.url(),
        home.path().join("known_hosts").display()
    );
    let mut script = Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .env("HOME", home.path())
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run script (util-linux)");
    let vmcert = wait_for_descendant(script.id(), "vmcert");
    let tty = format!("/proc/{vmcert}/fd/0");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stty = Command::new("stty")
            .args(["-a", "-F", &tty])
            .output()
            .expect("run stty");
        let settings = String::from_utf8_lossy(&stty.stdout);
        if settings.split_whitespace().any(|w| w == "-echo") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "vmcert never turned echo off on {tty}:\n{settings}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut stdin = script.stdin.take().unwrap();
    stdin.write_all(format!("{PASSWORD}\n").as_bytes()).unwrap();
    let out = script.wait_with_output().unwrap();
    drop(stdin);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.starts_with(&format!("Password for {USER}@127.0.0.1: ")),
        "{text}"
    );
    assert!(!text.contains(PASSWORD), "the password was echoed:\n{text}");
    let body = &text[text.find('{').unwrap()..=text.rfind('}').unwrap()];
    let v: Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["auth"]["method"], "password");
    assert_eq!(
        v["sudo"]["status"], "with_password",
        "the prompted password also serves sudo"
    );
}

/// The pid of the first process named `name` below `root` (script forks a shell that runs it).
fn wait_for_descendant(root: u32, name: &str) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut queue = vec![root];
        while let Some(pid) = queue.pop() {
            let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim() == name {
                return pid;
            }
            let children =
                fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
            queue.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<u32>().ok()),
            );
        }
        assert!(
            Instant::now() < deadline,
            "no `{name}` process appeared below pid {root}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn text_output_names_every_fact() {
    let sshd = Sshd::start();
    let out = Connect::to(&sshd).password_env().format("table").run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for want in [
        format!("Target        {}", sshd.url()),
        format!(
            "Host key      ssh-ed25519 {} - new, recorded in",
            sshd.host_fingerprint()
        ),
        "Auth offered  publickey, password".to_owned(),
        "Auth used     password".to_owned(),
        format!("OS            {}", host_os_release_pretty_name()),
        "Sudo          works with the sudo password (given over stdin)".to_owned(),
        "Ready         yes".to_owned(),
    ] {
        assert!(text.contains(&want), "want `{want}` in:\n{text}");
    }
}

#[test]
fn ed25519_openssh_key_logs_in_and_key_only_login_has_no_sudo_password() {
    let sshd = Sshd::start();
    let out = Connect::to(&sshd)
        .arg("--identity")
        .arg(&client_keys().ed25519)
        .run();
    // Logged in, but sudo needs a password nobody gave: a run's root probes would be Error.
    let err = fails_with(&out, "sudo needs a password and none was given");
    assert!(err.contains("root probes will be Error"), "{err}");
    let v = json(&out);
    assert!(
        v["auth"]["method"]
            .as_str()
            .unwrap()
            .contains("OpenSSH ssh-ed25519"),
        "{v:#}"
    );
    assert_eq!(v["sudo"]["status"], "needs_password");
    assert_eq!(v["ready"], false);
    assert_eq!(
        sshd.commands(),
        ["sh -s", "sudo -n true"],
        "key-only logins only try sudo -n"
    );
}

#[test]
fn rsa_pem_key_with_sudo_password_from_env() {
    let sshd = Sshd::start();
    let (out, snapshots) = Connect::to(&sshd)
        .arg("--identity")
        .arg(&client_keys().rsa_pem)
        .env("SUDO_PW", PASSWORD)
        .arg("--sudo-password-env")
        .arg("SUDO_PW")
        .run_watching_ps();
    let v = ready(&out);
    assert!(
        v["auth"]["method"]
            .as_str()
            .unwrap()
            .contains("PEM RSA ssh-rsa"),
        "{v:#}"
    );
    assert_eq!(v["sudo"]["status"], "with_password");
    assert_secrets_hidden(&out, &sshd, &snapshots, &[PASSWORD]);
}

#[test]
fn ecdsa_key_logs_in() {
    let sshd = Sshd::start();
    let out = Connect::to(&sshd)
        .arg("--identity")
        .arg(&client_keys().ecdsa)
        .password_env()
        .run();
    let v = ready(&out);
    assert!(
        v["auth"]["method"]
            .as_str()
            .unwrap()
            .contains("ecdsa-sha2-nistp256"),
        "{v:#}"
    );
}

#[test]
fn encrypted_keys_open_with_the_passphrase_from_env() {
    let sshd = Sshd::start();
    for key in [
        &client_keys().ed25519_encrypted,
        &client_keys().rsa_pem_encrypted,
    ] {
        let (out, snapshots) = Connect::to(&sshd)
            .arg("--identity")
            .arg(key)
            .env("KEY_PP", PASSPHRASE)
            .arg("--passphrase-env")
            .arg("KEY_PP")
            .password_env()
            .run_watching_ps();
        let v = ready(&out);
        let method = v["auth"]["method"].as_str().unwrap();
        assert!(
            method.starts_with("publickey") && method.contains("encrypted"),
            "{v:#}"
        );
        assert_secrets_hidden(&out, &sshd, &snapshots, &[PASSPHRASE, PASSWORD]);
    }
}

#[test]
fn wrong_passphrase_is_named_as_such() {
    let sshd = Sshd::start();
    let wrong = "Not-The-Phrase-31337";
    // OpenSSH format (libssh2 says "unable to extract public key") and PEM (a distinct code).
    for key in [
        &client_keys().ed25519_encrypted,
        &client_keys().rsa_pem_encrypted,
    ] {
        let (out, snapshots) = Connect::to(&sshd)
            .arg("--identity")
            .arg(key)
            .env("KEY_PP", wrong)
            .arg("--passphrase-env")
            .arg("KEY_PP")
            .run_watching_ps();
        fails_with(
            &out,
            &format!("key file {}: wrong passphrase", key.display()),
        );
        assert_secrets_hidden(&out, &sshd, &snapshots, &[wrong]);
    }
}

#[test]
fn encrypted_key_without_passphrase_and_without_terminal_is_refused_before_connecting() {
    let port = free_port();
    let out = Connect::new(&format!("ssh://{USER}@127.0.0.1:{port}"))
        .arg("--identity")
        .arg(&client_keys().ed25519_encrypted)
        .run();
    fails_with(&out, "is encrypted: give --passphrase-env VAR");
}

#[test]
fn wrong_password_lists_the_methods_tried() {
    let sshd = Sshd::start();
    let wrong = "Wrong-Password-0000";
    let (out, snapshots) = Connect::to(&sshd)
        .env(PW_VAR, wrong)
        .arg("--password-env")
        .arg(PW_VAR)
        .run_watching_ps();
    fails_with(
        &out,
        &format!(
            "authentication failed for {USER}@127.0.0.1 (methods tried: password; the server offers: publickey,password)"
        ),
    );
    assert_secrets_hidden(&out, &sshd, &snapshots, &[wrong]);
}

#[test]
fn key_refused_then_password_tried() {
    let sshd = Sshd::start();
    let stranger = tempfile::tempdir().unwrap();
    let key = stranger.path().join("id_stranger");
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(ok.success());
    let v = ready(
        &Connect::to(&sshd)
            .arg("--identity")
            .arg(&key)
            .password_env()
            .run(),
    );
    assert_eq!(v["auth"]["method"], "password");
    let refused = v["auth"]["refused"][0].as_str().unwrap();
    assert!(
        refused.starts_with("publickey (key ") && refused.contains("id_stranger"),
        "{v:#}"
    );
}

#[test]
fn ssh_agent_is_used_when_no_key_or_password_is_given() {
    let sshd = Sshd::start();
    let agent = Agent::start_with_key(&client_keys().ed25519);
    let mut c = Connect::to(&sshd);
    c.env("SSH_AUTH_SOCK", agent.socket());
    let out = c.run();
    // Logged in through the agent; no password, so sudo cannot be used.
    fails_with(&out, "sudo needs a password");
    let v = json(&out);
    let method = v["auth"]["method"].as_str().unwrap();
    assert!(
        method.starts_with("publickey (ssh-agent key ") && method.contains("id_ed25519"),
        "{v:#}"
    );
}

#[test]
fn keyboard_interactive_is_answered_with_the_password() {
    let sshd = Sshd::start_with(SshdOptions {
        keyboard_interactive_only: true,
        ..SshdOptions::default()
    });
    let (out, snapshots) = Connect::to(&sshd).password_env().run_watching_ps();
    let v = ready(&out);
    assert_eq!(
        v["auth"]["offered"],
        serde_json::json!(["publickey", "keyboard-interactive"])
    );
    assert_eq!(v["auth"]["method"], "keyboard-interactive (password)");
    assert_secrets_hidden(&out, &sshd, &snapshots, &[PASSWORD]);
}

#[test]
fn ipv6_target_in_brackets_is_recorded_under_its_bracketed_name() {
    let sshd = Sshd::start_with(SshdOptions {
        ipv6: true,
        ..SshdOptions::default()
    });
    assert!(sshd.url().contains("@[::1]:"), "{}", sshd.url());
    let mut c = Connect::to(&sshd);
    let kh = c.known_hosts();
    let v = ready(&c.password_env().run());
    assert_eq!(v["target"]["host"], "::1");
    assert_eq!(v["target"]["address"], sshd.authority());
    let line = fs::read_to_string(&kh).unwrap();
    assert!(
        line.starts_with(&format!("[::1]:{} ssh-ed25519 ", sshd.port())),
        "{line}"
    );
}

#[test]
fn unknown_host_key_is_refused_with_its_fingerprint() {
    let sshd = Sshd::start();
    let mut c = Connect::new(&sshd.url());
    let kh = c.known_hosts();
    let out = c.arg("--known-hosts").arg(&kh).password_env().run();
    let err = fails_with(
        &out,
        &format!(
            "unknown host key for [127.0.0.1]:{}: ssh-ed25519 {}",
            sshd.port(),
            sshd.host_fingerprint()
        ),
    );
    assert!(
        err.contains(&format!("--host-key {}", sshd.host_fingerprint())),
        "{err}"
    );
    assert!(
        !kh.exists(),
        "nothing may be recorded without --accept-new-host-key"
    );
    assert!(
        !sshd
            .log()
            .contains(&format!("Accepted password for {USER}")),
        "no credential may be sent"
    );
}

#[test]
fn accept_new_records_a_line_openssh_reads_then_the_key_is_known() {
    let sshd = Sshd::start();
    let mut c = Connect::new(&sshd.url());
    // Default location: $HOME/.ssh/known_hosts, created with its directory.
    let kh = c.home.path().join(".ssh/known_hosts");
    let v = ready(&c.arg("--accept-new-host-key").password_env().run());
    assert_eq!(v["host_key"]["trust"], "recorded");
    assert_eq!(v["host_key"]["file"], kh.to_str().unwrap());
    assert_eq!(
        fs::metadata(&kh).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        fs::metadata(kh.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    // OpenSSH itself finds the recorded line under the name ssh would look up.
    let found = Command::new("ssh-keygen")
        .arg("-F")
        .arg(format!("[127.0.0.1]:{}", sshd.port()))
        .arg("-f")
        .arg(&kh)
        .output()
        .unwrap();
    assert!(
        found.status.success(),
        "ssh-keygen -F did not find it:\n{}",
        fs::read_to_string(&kh).unwrap()
    );
    let public = sshd.host_public_key();
    let type_and_key = public
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    assert!(String::from_utf8_lossy(&found.stdout).contains(&type_and_key));

    let mut again = Connect::new(&sshd.url());
    again.env("HOME", c.home.path());
    let v = ready(&again.password_env().run());
    assert_eq!(v["host_key"]["trust"], "known");
    assert_eq!(v["host_key"]["line"], 1);
}

#[test]
fn hashed_known_hosts_entries_are_honoured() {
    let sshd = Sshd::start();
    let mut c = Connect::new(&sshd.url());
    let kh = c.known_hosts();
    fs::write(
        &kh,
        format!("[127.0.0.1]:{} {}\n", sshd.port(), sshd.host_public_key()),
    )
    .unwrap();
    let hashed = Command::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(&kh)
        .output()
        .unwrap();
    assert!(
        hashed.status.success(),
        "{}",
        String::from_utf8_lossy(&hashed.stderr)
    );
    assert!(fs::read_to_string(&kh).unwrap().starts_with("|1|"));
    let v = ready(&c.arg("--known-hosts").arg(&kh).password_env().run());
    assert_eq!(v["host_key"]["trust"], "known");
}

#[test]
fn changed_host_key_is_refused_even_with_accept_new() {
    let sshd = Sshd::start();
    let other = Sshd::start();
    let mut c = Connect::new(&sshd.url());
    let kh = c.known_hosts();
    // The line records another server's key for this host and port.
    fs::write(
        &kh,
        format!("[127.0.0.1]:{} {}\n", sshd.port(), other.host_public_key()),
    )
    .unwrap();
    let out = c
        .arg("--known-hosts")
        .arg(&kh)
        .arg("--accept-new-host-key")
        .password_env()
        .run();
    let err = fails_with(
        &out,
        &format!("host key for [127.0.0.1]:{} has CHANGED", sshd.port()),
    );
    assert!(
        err.contains(&format!(
            "presented ssh-ed25519 {}",
            sshd.host_fingerprint()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{}:1 records ssh-ed25519 {}",
            kh.display(),
            other.host_fingerprint()
        )),
        "{err}"
    );
    assert_eq!(
        fs::read_to_string(&kh).unwrap().lines().count(),
        1,
        "the file is left alone"
    );
    assert!(
        !sshd
            .log()
            .contains(&format!("Accepted password for {USER}")),
        "no credential may be sent"
    );
}

#[test]
fn pinned_host_key_right_and_wrong() {
    let sshd = Sshd::start();
    let other = Sshd::start();
    let mut c = Connect::new(&sshd.url());
    let kh = c.known_hosts();
    let v = ready(
        &c.arg("--known-hosts")
            .arg(&kh)
            .arg("--host-key")
            .arg(sshd.host_fingerprint())
            .password_env()
            .run(),
    );
    assert_eq!(v["host_key"]["trust"], "pinned");
    assert!(!kh.exists(), "a pin records nothing");

    let mut c = Connect::new(&sshd.url());
    let kh = c.known_hosts();
    let out = c
        .arg("--known-hosts")
        .arg(&kh)
        .arg("--host-key")
        .arg(other.host_fingerprint())
        .password_env()
        .run();
    let err = fails_with(&out, "does not match --host-key");
    assert!(
        err.contains(&sshd.host_fingerprint()) && err.contains(&other.host_fingerprint()),
        "{err}"
    );
}

#[test]
fn wrong_sudo_password_reports_sudo_not_working() {
    let sshd = Sshd::start();
    let wrong = "Wrong-Sudo-Pw-4242";
    let (out, snapshots) = Connect::to(&sshd)
        .password_env()
        .env("SUDO_PW", wrong)
        .arg("--sudo-password-env")
        .arg("SUDO_PW")
        .run_watching_ps();
    let err = fails_with(&out, "sudo does not work: sudo: ");
    assert!(err.contains("incorrect password attempt"), "{err}");
    let v = json(&out);
    assert_eq!(v["auth"]["method"], "password", "the login itself worked");
    assert_eq!(v["sudo"]["status"], "refused");
    assert_eq!(v["ready"], false);
    assert_secrets_hidden(&out, &sshd, &snapshots, &[PASSWORD, wrong]);
}

#[test]
fn closed_port_is_connection_refused_after_one_retry() {
    let port = free_port();
    let out = Connect::new(&format!("ssh://{USER}@127.0.0.1:{port}"))
        .password_env()
        .run();
    fails_with(
        &out,
        &format!("cannot connect to 127.0.0.1:{port}: connection refused"),
    );
    assert!(stderr(&out).contains("(2 attempts)"), "{}", stderr(&out));
}

#[test]
fn silent_server_times_out_in_the_handshake() {
    // Accepts TCP (the kernel completes the handshake from the backlog) but never speaks SSH.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let out = Connect::new(&format!("ssh://{USER}@127.0.0.1:{port}"))
        .arg("--connect-timeout")
        .arg("1")
        .password_env()
        .run();
    fails_with(
        &out,
        &format!("SSH handshake with 127.0.0.1:{port} failed: no answer within 1s"),
    );
    assert!(stderr(&out).contains("(2 attempts)"), "{}", stderr(&out));
    drop(listener);
}

/// Issue 17, item 3: a server that sends text lines before its version line without end
/// (libssh2 reads them a byte at a time and checks its timeout only when a read would block,
/// which never happens) is cut at --connect-timeout.
#[test]
fn endless_banner_is_cut_at_the_connect_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            std::thread::spawn(move || {
                let lines = b"please wait\r\n".repeat(4096);
                while conn.write_all(&lines).is_ok() {}
            });
        }
    });
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let out = Connect::new(&format!("ssh://{USER}@127.0.0.1:{port}"))
            .arg("--connect-timeout")
            .arg("1")
            .password_env()
            .run();
        let _ = tx.send(out);
    });
    // A hang guard, not a speed measure: two attempts of ~2 s each are expected.
    let out = rx
        .recv_timeout(Duration::from_secs(90))
        .expect("vmcert connect still running 90 s after a 1 s --connect-timeout");
    fails_with(
        &out,
        &format!("SSH handshake with 127.0.0.1:{port} failed: no complete SSH handshake within 1s"),
    );
}

#[test]
fn unusable_key_files_are_explained_before_connecting() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let ppk = dir.path().join("key.ppk");
    fs::write(
        &ppk,
        "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n",
    )
    .unwrap();
    let public = client_keys().ed25519.with_extension("pub");
    let missing = dir.path().join("no-such-key");
    for (key, want) in [
        (public.as_path(), "this is a public key"),
        (ppk.as_path(), "a PuTTY key; convert it"),
        (missing.as_path(), "cannot read: No such file or directory"),
    ] {
        let out = Connect::new(&format!("ssh://{USER}@127.0.0.1:{port}"))
            .arg("--identity")
            .arg(key)
            .run();
        fails_with(&out, &format!("key file {}: {want}", key.display()));
    }
}

#[test]
fn no_credentials_and_no_terminal_is_a_clear_error() {
    let out = Connect::new(&format!("ssh://{USER}@127.0.0.1:{}", free_port())).run();
    fails_with(
        &out,
        &format!("no credentials for {USER}@127.0.0.1: give --identity FILE"),
    );
}

#[test]
fn bad_target_urls_and_secret_sources_are_refused() {
    for (url, extra, want) in [
        (
            "ssh://u:pw@h",
            &[][..],
            "a password in the URL is not accepted",
        ),
        ("ssh://u@::1", &[][..], "an IPv6 address needs brackets"),
        ("ssh://u@h:99999", &[][..], "not a port number"),
        (
            "ssh://u@h",
            &["--password-env", "VMCERT_NO_SUCH_VAR"][..],
            "--password-env VMCERT_NO_SUCH_VAR: the environment variable is not set",
        ),
        (
            "ssh://u@h",
            &["--password-stdin"][..],
            "--password-stdin: the first line of standard input is empty",
        ),
        (
            "ssh://u@h",
            &["--host-key", "MD5:12:34"][..],
            "MD5 fingerprints are not accepted",
        ),
    ] {
        let mut c = Connect::new(url);
        for a in extra {
            c.arg(a);
        }
        fails_with(&c.run(), want);
    }
}

/// `ssh://ALIAS` as `ssh ALIAS` reads it: HostName, User, Port and IdentityFile from
/// `~/.ssh/config`; and without any key flag, the default key file `~/.ssh/id_ed25519`.
#[test]
fn ssh_config_host_alias_and_the_default_key_file() {
    let sshd = Sshd::start();
    let logged_in_with_the_key = |out: &Output| {
        fails_with(out, "sudo needs a password and none was given");
        let v = json(out);
        assert!(
            v["auth"]["method"]
                .as_str()
                .unwrap()
                .contains("OpenSSH ssh-ed25519"),
            "{v:#}"
        );
    };

    let mut c = Connect::new("ssh://lab");
    let kh = c.known_hosts();
    let ssh_dir = c.home.path().join(".ssh");
    fs::create_dir_all(&ssh_dir).unwrap();
    fs::write(
        ssh_dir.join("config"),
        format!(
            "Host other\n  User nobody\n\nHost lab\n  HostName 127.0.0.1\n  User {USER}\n  Port {}\n  IdentityFile {}\n",
            sshd.port(),
            client_keys().ed25519.display()
        ),
    )
    .unwrap();
    let out = c
        .arg("--known-hosts")
        .arg(&kh)
        .arg("--accept-new-host-key")
        .run();
    logged_in_with_the_key(&out);

    let mut c = Connect::to(&sshd);
    let ssh_dir = c.home.path().join(".ssh");
    fs::create_dir_all(&ssh_dir).unwrap();
    let key = ssh_dir.join("id_ed25519");
    fs::copy(&client_keys().ed25519, &key).unwrap();
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
    logged_in_with_the_key(&c.run());
}
