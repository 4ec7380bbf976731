//! `vmcert run --target ssh://...` against real targets: lab VMs (tests/lab/vm.sh) for the
//! faults a run must survive (the target dying mid-run or cut from the network, a probe that
//! hangs, a probe printing 50 MB, bytes that are not UTF-8), for sudo without a password and for
//! secrets, and the sshd fixture, whose `ForceCommand` log shows every command line the server
//! ran. Secrets are looked for in stdout, stderr, every file of the report zip, the process list
//! during the run and the remote command lines. [`SshRun`] is shared with `lab_checks.rs`.

use std::fs;
use std::io::{BufRead, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::lab::LabVm;
use crate::sshd_fixture::{PASSWORD, Sshd, SshdOptions, USER, client_keys};
use crate::util::vmcert_bin;

/// Environment variables that carry secrets to vmcert in these tests.
const PW_VAR: &str = "VMCERT_TEST_PASSWORD";
const PP_VAR: &str = "VMCERT_TEST_PASSPHRASE";
const SUDO_VAR: &str = "VMCERT_TEST_SUDO_PASSWORD";

/// One `vmcert run` over SSH with a private HOME and known_hosts, no ssh-agent, no prompts,
/// `--format json`, the report in a temp dir.
pub(crate) struct SshRun {
    dir: tempfile::TempDir,
    cmd: Command,
    watch_ps: bool,
}

/// What a finished run left: its output, the process list snapshots, its report.
pub(crate) struct Finished {
    pub(crate) out: Output,
    /// `ps -eo args` snapshots taken while it ran (when asked for).
    pub(crate) ps: Vec<String>,
    /// Highest VmHWM (peak resident memory) of vmcert seen while it ran, in KiB.
    pub(crate) peak_rss_kib: u64,
    dir: tempfile::TempDir,
}

impl SshRun {
    /// A run against `vm`, trusting its ed25519 host key.
    pub(crate) fn new(vm: &LabVm) -> Self {
        let url = format!("ssh://{}@{}:{}", vm.user, vm.host, vm.port);
        let run = Self::to_url(&url);
        fs::write(run.known_hosts(), vm.known_hosts_line()).expect("write known_hosts");
        run
    }

    /// A run against `url` with an empty known_hosts file.
    pub(crate) fn to_url(url: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let known_hosts = dir.path().join("known_hosts");
        fs::write(&known_hosts, "").expect("create known_hosts");
        let mut cmd = Command::new(vmcert_bin());
        cmd.current_dir(dir.path())
            .args(["run", "--target", url, "--known-hosts"])
            .arg(&known_hosts)
            .args([
                "--non-interactive",
                "--allow-unanswered",
                "--format",
                "json",
            ])
            .arg("--out")
            .arg(dir.path().join("report.zip"))
            .env("HOME", dir.path())
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::null());
        Self {
            dir,
            cmd,
            watch_ps: false,
        }
    }

    fn known_hosts(&self) -> PathBuf {
        self.dir.path().join("known_hosts")
    }

    /// The temp dir of the run (HOME and working directory).
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn arg(&mut self, a: impl AsRef<std::ffi::OsStr>) -> &mut Self {
        self.cmd.arg(a);
        self
    }

    /// Logs in with `password` (`--password-env`); sudo then uses it too.
    pub(crate) fn password(&mut self, password: &str) -> &mut Self {
        self.cmd
            .env(PW_VAR, password)
            .arg("--password-env")
            .arg(PW_VAR);
        self
    }

    /// Logs in with the key file `key`.
    pub(crate) fn key(&mut self, key: &Path) -> &mut Self {
        self.cmd.arg("--identity").arg(key);
        self
    }

    /// Logs in with the encrypted key `key`, unlocked by `passphrase` (`--passphrase-env`).
    pub(crate) fn encrypted_key(&mut self, key: &Path, passphrase: &str) -> &mut Self {
        self.key(key);
        self.cmd
            .env(PP_VAR, passphrase)
            .arg("--passphrase-env")
            .arg(PP_VAR);
        self
    }

    /// Gives sudo `password` (`--sudo-password-env`).
    pub(crate) fn sudo_password(&mut self, password: &str) -> &mut Self {
        self.cmd
            .env(SUDO_VAR, password)
            .arg("--sudo-password-env")
            .arg(SUDO_VAR);
        self
    }

    /// Writes `text` as a check pack and passes it with `--check-pack`.
    pub(crate) fn pack(&mut self, text: &str) -> &mut Self {
        let path = self.dir.path().join("pack.toml");
        fs::write(&path, text).expect("write the check pack");
        self.arg("--check-pack").arg(path)
    }

    /// Takes `ps -eo args` snapshots of this machine (which sees every lab VM's processes)
    /// while the run goes on.
    pub(crate) fn watch_ps(&mut self) -> &mut Self {
        self.watch_ps = true;
        self
    }

    pub(crate) fn run(self) -> Finished {
        self.run_watching(|_, _| {})
    }

    /// Runs it, handing each stderr line (the progress) to `on_line` as it arrives, with
    /// vmcert's PID.
    pub(crate) fn run_watching(mut self, mut on_line: impl FnMut(&str, u32)) -> Finished {
        let mut child: Child = self
            .cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start vmcert");
        let pid = child.id();
        let stderr = child.stderr.take().expect("vmcert stderr");
        let (tx, rx) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut stdout = child.stdout.take().expect("vmcert stdout");
        let out_reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            stdout.read_to_end(&mut buf).expect("read vmcert stdout");
            buf
        });
        let mut err_lines = Vec::new();
        let mut ps = Vec::new();
        let mut peak_rss_kib = 0;
        let status = loop {
            if let Some(kib) = vm_hwm_kib(pid) {
                peak_rss_kib = peak_rss_kib.max(kib);
            }
            if self.watch_ps {
                let snap = Command::new("ps")
                    .args(["-eo", "args"])
                    .output()
                    .expect("run ps");
                ps.push(String::from_utf8_lossy(&snap.stdout).into_owned());
            }
            while let Ok(line) = rx.try_recv() {
                on_line(&line, pid);
                err_lines.push(line);
            }
            if let Some(status) = child.try_wait().expect("poll vmcert") {
                break status;
            }
            std::thread::sleep(Duration::from_millis(if self.watch_ps { 5 } else { 20 }));
        };
        reader.join().expect("stderr reader");
        for line in rx.try_iter() {
            on_line(&line, pid);
            err_lines.push(line);
        }
        let stdout = out_reader.join().expect("stdout reader");
        let mut stderr = err_lines.join("\n");
        if !stderr.is_empty() {
            stderr.push('\n');
        }
        Finished {
            out: Output {
                status,
                stdout,
                stderr: stderr.into_bytes(),
            },
            ps,
            peak_rss_kib,
            dir: self.dir,
        }
    }
}

/// Peak resident memory of a running process, from /proc.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()
}

impl Finished {
    pub(crate) fn code(&self) -> Option<i32> {
        self.out.status.code()
    }

    pub(crate) fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }

    pub(crate) fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }

    /// stdout and stderr, for assertion messages.
    pub(crate) fn show(&self) -> String {
        format!(
            "exit {:?}\nstdout:\n{}\nstderr:\n{}",
            self.code(),
            self.stdout(),
            self.stderr()
        )
    }

    pub(crate) fn zip_path(&self) -> PathBuf {
        self.dir.path().join("report.zip")
    }

    /// Every file of the report zip, by name.
    pub(crate) fn files(&self) -> Vec<(String, Vec<u8>)> {
        let file = fs::File::open(self.zip_path())
            .unwrap_or_else(|e| panic!("no report zip ({e}):\n{}", self.show()));
        let mut zip = zip::ZipArchive::new(file).expect("the report is a zip");
        (0..zip.len())
            .map(|i| {
                let mut f = zip.by_index(i).expect("zip entry");
                let mut bytes = Vec::new();
                f.read_to_end(&mut bytes).expect("read zip entry");
                (f.name().to_owned(), bytes)
            })
            .collect()
    }

    fn file(&self, name: &str) -> Vec<u8> {
        self.files()
            .into_iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no {name} in the report"))
            .1
    }

    pub(crate) fn results(&self) -> Value {
        serde_json::from_slice(&self.file("results.json")).expect("results.json is JSON")
    }

    pub(crate) fn run_log(&self) -> String {
        String::from_utf8(self.file("logs/run.log")).expect("run.log is UTF-8")
    }

    /// Asserts that no secret is in stdout, stderr, any file of the report or a ps snapshot.
    pub(crate) fn assert_secrets_hidden(&self, secrets: &[&str]) {
        let files = self.files();
        assert!(!files.is_empty(), "the report is empty");
        for s in secrets {
            assert!(!s.is_empty());
            assert!(
                !self.stdout().contains(s),
                "secret in stdout:\n{}",
                self.show()
            );
            assert!(
                !self.stderr().contains(s),
                "secret in stderr:\n{}",
                self.show()
            );
            for (name, bytes) in &files {
                assert!(
                    !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                    "secret in {name} of the report"
                );
            }
            for snap in &self.ps {
                assert!(!snap.contains(s), "secret in the process list:\n{snap}");
            }
        }
    }
}

/// The check `id` of a results.json.
pub(crate) fn check<'a>(results: &'a Value, id: &str) -> &'a Value {
    results["checks"]
        .as_array()
        .expect("checks[]")
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {results:#}"))
}

fn status_of(results: &Value, id: &str) -> String {
    check(results, id)["status"]
        .as_str()
        .expect("status")
        .to_owned()
}

fn message_of(results: &Value, id: &str) -> String {
    check(results, id)["message"]
        .as_str()
        .expect("message")
        .to_owned()
}

/// Pack checks used below: each runs one command on the target.
fn pack_check(id: &str, command: &str, extra: &str) -> String {
    format!(
        "[[check]]\nid = \"{id}\"\ntitle = \"{id}\"\nos = \"linux\"\ncommand = '''{command}'''\n{extra}\n"
    )
}

/// Whether a process whose command line is `args` runs in the network namespace `netns`.
fn runs_in_netns(netns: &str, args: &str) -> bool {
    let out = Command::new("ip")
        .args(["netns", "pids", netns])
        .output()
        .expect("run ip netns pids");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|pid| fs::read(format!("/proc/{pid}/cmdline")).ok())
        .any(|c| String::from_utf8_lossy(&c).replace('\0', " ").trim() == args)
}

/// Runs three checks and a pack probe that sleeps on golden, calls `cut` with vmcert's PID once
/// every other probe has arrived, and asserts what a cut run must keep: exit 2, the report, the
/// finished checks Pass, the slow one Error with the cause. Returns that cause.
fn cut_before_the_slow_probe(vm: &LabVm, cut: impl Fn(u32)) -> String {
    let mut run = SshRun::new(vm);
    run.key(&vm.key_ed25519)
        .sudo_password(vm.password.as_deref().expect("golden has a password"))
        .pack(&pack_check("slow", "sleep 60; echo done", ""))
        .arg("--checks")
        .arg("os-architecture,root-password-locked,openssl-version,slow");
    // Fact probes + uname-m + shadow-status + login-user + openssl-version + the pack probe.
    let total = 9;
    let mut done_cut = false;
    let done = run.run_watching(|line, pid| {
        if !done_cut && line.contains(&format!("[{}/{total}]", total - 1)) {
            cut(pid);
            done_cut = true;
        }
    });
    assert!(
        done_cut,
        "the progress never reached {}/{total}:\n{}",
        total - 1,
        done.show()
    );
    assert_eq!(done.code(), Some(2), "{}", done.show());
    let r = done.results();
    assert_eq!(r["run"]["interrupted"], true, "{r:#}");
    let why = r["run"]["interrupted_reason"]
        .as_str()
        .expect("a reason")
        .to_owned();
    for id in ["os-architecture", "root-password-locked", "openssl-version"] {
        assert_eq!(status_of(&r, id), "Pass", "{id}: {}", message_of(&r, id));
    }
    assert_eq!(status_of(&r, "slow"), "Error");
    assert_eq!(
        message_of(&r, "slow"),
        format!("probe `pack-slow` never arrived: {why}")
    );
    let log = done.run_log();
    assert!(
        log.contains("probes that never arrived: pack-slow"),
        "{log}"
    );
    why
}

fn kill(signal: &str, pid: u32) {
    let ok = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(ok.success(), "kill {signal} {pid}");
}

#[test]
fn ssh_run_keeps_finished_results_when_the_target_dies_mid_run() {
    // The VM dies: its PID namespace, sshd with it.
    let vm = LabVm::start("golden");
    let why = cut_before_the_slow_probe(&vm, |_| kill("-KILL", vm.pid));
    assert!(
        why.starts_with(&format!("the SSH connection to {}:22 was lost", vm.host))
            && why.ends_with("; 1 probe(s) did not report"),
        "{why}"
    );
}

#[test]
fn ssh_run_ctrl_c_keeps_finished_results_and_writes_the_report() {
    // vmcert alone gets SIGINT (as from `kill -INT`); the remote script only learns of it when
    // the channel closes.
    let vm = LabVm::start("golden");
    let why = cut_before_the_slow_probe(&vm, |pid| kill("-INT", pid));
    assert_eq!(why, "interrupted (Ctrl-C); 1 probe(s) did not report");
}

#[test]
fn ssh_run_sigterm_is_ctrl_c() {
    // Issue 17 item 8: SIGTERM (a service manager, `timeout`) does not wait for the remote probe.
    let vm = LabVm::start("golden");
    let why = cut_before_the_slow_probe(&vm, |pid| kill("-TERM", pid));
    assert_eq!(why, "interrupted (Ctrl-C); 1 probe(s) did not report");
}

#[test]
fn ssh_run_notices_a_target_cut_from_the_network() {
    // No FIN, no RST: the VM's interface goes down while a probe sleeps. TCP keepalive ends the
    // silent connection (about 35 s) long before the script's deadline.
    let vm = LabVm::start("golden");
    let mut run = SshRun::new(&vm);
    run.key(&vm.key_ed25519)
        .pack(&pack_check("slow", "sleep 600", ""))
        .arg("--checks")
        .arg("os-architecture,slow");
    let total = 6;
    let mut cut = false;
    let netns = vm.netns.clone();
    let done = run.run_watching(|line, _| {
        if !cut && line.contains(&format!("[{}/{total}]", total - 1)) {
            let ok = Command::new("ip")
                .args(["netns", "exec", &netns, "ip", "link", "set", "eth0", "down"])
                .status()
                .expect("run ip");
            assert!(ok.success(), "take the VM's eth0 down");
            cut = true;
        }
    });
    assert!(
        cut,
        "the progress never reached {}/{total}:\n{}",
        total - 1,
        done.show()
    );
    assert_eq!(done.code(), Some(2), "{}", done.show());
    let r = done.results();
    let why = r["run"]["interrupted_reason"].as_str().expect("a reason");
    assert!(
        why.starts_with(&format!(
            "the SSH connection to {}:22 was lost after ",
            vm.host
        )) && why.contains("(the target closed or reset it, or stopped answering)"),
        "{why}"
    );
    assert_eq!(status_of(&r, "os-architecture"), "Pass");
    assert_eq!(status_of(&r, "slow"), "Error");
}

#[test]
fn ssh_run_kills_a_hung_probe_at_its_timeout_and_finishes_the_others() {
    let vm = LabVm::start("golden");
    let mut run = SshRun::new(&vm);
    run.password(vm.password.as_deref().expect("golden has a password"))
        .pack(&pack_check("hangs", "sleep 600", ""))
        .arg("--timeout")
        .arg("2")
        .arg("--checks")
        .arg("os-architecture,hangs");
    let done = run.run();
    assert_eq!(done.code(), Some(2), "{}", done.show());
    let r = done.results();
    assert_eq!(r["run"]["interrupted"], false, "{r:#}");
    assert_eq!(status_of(&r, "os-architecture"), "Pass");
    assert_eq!(status_of(&r, "hangs"), "Error");
    let msg = message_of(&r, "hangs");
    assert!(
        msg.starts_with("probe `pack-hangs` timed out after "),
        "{msg}"
    );
    assert!(
        !runs_in_netns(&vm.netns, "sleep 600"),
        "the hung probe still runs on the target"
    );
}

#[test]
fn ssh_run_caps_a_probe_printing_50_mb_and_stays_small() {
    let vm = LabVm::start("golden");
    let mut run = SshRun::new(&vm);
    run.key(&vm.key_ed25519)
        .pack(&pack_check(
            "flood",
            "head -c 52428800 /dev/zero | tr '\\0' x",
            "",
        ))
        .arg("--checks")
        .arg("os-architecture,flood");
    let done = run.run();
    assert_eq!(done.code(), Some(2), "{}", done.show());
    let r = done.results();
    assert_eq!(status_of(&r, "os-architecture"), "Pass");
    assert_eq!(status_of(&r, "flood"), "Error");
    assert_eq!(
        message_of(&r, "flood"),
        "probe `pack-flood` printed more than the output cap; its output was truncated"
    );
    let log = done.run_log();
    assert!(
        log.contains("8388608 bytes stdout") && log.contains("output truncated at the cap"),
        "{log}"
    );
    // 8 MiB kept of 50 MB sent through base64 frames: vmcert holds a few copies at most.
    eprintln!(
        "vmcert peak RSS with a 50 MB probe: {} KiB",
        done.peak_rss_kib
    );
    assert!(
        done.peak_rss_kib > 0 && done.peak_rss_kib < 100 * 1024,
        "vmcert peaked at {} KiB",
        done.peak_rss_kib
    );
}

#[test]
fn ssh_run_keeps_output_that_is_not_utf8_byte_for_byte() {
    let vm = LabVm::start("golden");
    let mut run = SshRun::new(&vm);
    let record = run.dir().join("recorded");
    run.key(&vm.key_ed25519)
        .pack(&pack_check(
            "latin1",
            "printf 'caf\\351 \\377\\376\\000end\\n'",
            "stdout_matches = '^caf'",
        ))
        .arg("--checks")
        .arg("latin1")
        .arg("--record")
        .arg(&record);
    let done = run.run();
    assert_eq!(done.code(), Some(0), "{}", done.show());
    let r = done.results();
    assert_eq!(
        status_of(&r, "latin1"),
        "Pass",
        "{}",
        message_of(&r, "latin1")
    );
    let raw = fs::read(record.join("pack-latin1.stdout")).expect("the recorded stdout");
    assert_eq!(raw, b"caf\xe9 \xff\xfe\x00end\n");
    let case = fs::read_to_string(record.join("case.toml")).expect("case.toml");
    assert!(
        case.contains(&format!(
            "source = \"vmcert run --target ssh://{}@{}:22 at ",
            vm.user, vm.host
        )),
        "{case}"
    );
}

#[test]
fn ssh_run_without_a_working_sudo_password_runs_root_probes_as_needs_root_and_the_rest() {
    // golden's sudo asks for a password: a key login gives none, or a wrong one.
    let vm = LabVm::start("golden");
    for sudo_password in [None, Some("not-the-password")] {
        let mut run = SshRun::new(&vm);
        run.key(&vm.key_ed25519)
            .arg("--checks")
            .arg("os-architecture,root-password-locked");
        if let Some(p) = sudo_password {
            run.sudo_password(p);
        }
        let done = run.run();
        assert_eq!(done.code(), Some(2), "{}", done.show());
        let r = done.results();
        assert_eq!(r["run"]["interrupted"], false, "{r:#}");
        assert_eq!(status_of(&r, "os-architecture"), "Pass");
        assert_eq!(status_of(&r, "root-password-locked"), "Error");
        let msg = message_of(&r, "root-password-locked");
        assert!(
            msg.contains("needs root: sudo requires a password"),
            "{msg}"
        );
        let log = done.run_log();
        assert!(
            log.contains("the probe script runs as the login user (uid 1000)"),
            "{log}"
        );
        assert!(
            log.contains("1 SSH channel(s) opened on one connection"),
            "{log}"
        );
        match sudo_password {
            None => assert!(
                log.contains(
                    "sudo needs a password and none was given (key-only login), so root probes \
                     cannot run"
                ),
                "{log}"
            ),
            Some(wrong) => {
                // One attempt: a wrong password must not use up the account's failed-login
                // allowance.
                assert!(
                    log.contains(
                        "sudo refused the sudo password (sudo: 1 incorrect password attempt)"
                    ),
                    "{log}"
                );
                done.assert_secrets_hidden(&[wrong]);
            }
        }
    }
}

#[test]
fn ssh_run_secrets_appear_nowhere() {
    let vm = LabVm::start("golden");
    let password = vm.password.clone().expect("golden has a password");
    let slow = pack_check("slowish", "sleep 3; echo ok", "stdout_matches = '^ok$'");
    let checks = "root-password-locked,os-architecture,slowish";

    // Password login; sudo -S gets the same password as the first line of its stdin.
    let mut run = SshRun::new(&vm);
    run.password(&password)
        .pack(&slow)
        .arg("--checks")
        .arg(checks)
        .watch_ps();
    let done = run.run();
    assert_eq!(done.code(), Some(0), "{}", done.show());
    assert!(
        done.ps.len() > 10,
        "too few ps snapshots: {}",
        done.ps.len()
    );
    assert!(
        done.ps
            .iter()
            .any(|s| s.contains("sudo -k -S -p  sh -s") || s.contains("sudo -k -S -p '' sh -s")),
        "the probe script never showed in the process list"
    );
    let log = done.run_log();
    assert!(log.contains("the probe script runs as root"), "{log}");
    // The sudo check happens inside the script's own channel.
    assert!(
        log.contains("1 SSH channel(s) opened on one connection"),
        "{log}"
    );
    done.assert_secrets_hidden(&[&password]);

    // An encrypted key with its passphrase, and the sudo password on its own.
    let mut run = SshRun::new(&vm);
    run.encrypted_key(&vm.key_ed25519_encrypted, &vm.passphrase)
        .sudo_password(&password)
        .pack(&slow)
        .arg("--checks")
        .arg(checks)
        .watch_ps();
    let done = run.run();
    assert_eq!(done.code(), Some(0), "{}", done.show());
    done.assert_secrets_hidden(&[&password, &vm.passphrase]);
}

#[test]
fn ssh_run_remote_command_lines_hold_no_secret() {
    // The fixture's sudoers allows only /usr/bin/true: sudo takes the password but refuses the
    // shell, so the run falls back to `sh -s` as the login user. The ForceCommand log shows
    // every command line the server ran.
    let sshd = Sshd::start();
    let mut run = SshRun::to_url(&sshd.url());
    run.arg("--accept-new-host-key")
        .password(PASSWORD)
        .arg("--checks")
        .arg("os-architecture,root-password-locked")
        .watch_ps();
    let done = run.run();
    assert_eq!(done.code(), Some(2), "{}", done.show());
    let r = done.results();
    assert_eq!(r["target"]["transport"], "ssh");
    assert_eq!(r["target"]["user"], USER);
    assert_eq!(r["target"]["port"], sshd.port());
    assert_eq!(status_of(&r, "os-architecture"), "Pass");
    assert!(
        message_of(&r, "root-password-locked").contains("needs root: sudo requires a password"),
        "{r:#}"
    );
    // The wrapper (sudo takes the password, refuses `sh`), then plain `sh -s`, both under a
    // clean environment.
    const CLEAN: &str = "env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=\"$HOME\" LANG=C LC_ALL=C ";
    let commands = sshd.commands();
    assert_eq!(commands.len(), 2, "{commands:?}\n{}", sshd.log());
    assert!(
        commands[0].starts_with(&format!("{CLEAN}sh -c 'IFS= read -r pw || exit 125; ")),
        "{commands:?}"
    );
    assert!(
        commands[0].contains("| sudo -k -S -p \"\" sh -s;"),
        "{commands:?}"
    );
    assert_eq!(commands[1], format!("{CLEAN}sh -s"));
    let log = done.run_log();
    assert!(
        log.contains("sudo did not start the probe script (exit status 1: "),
        "{log}"
    );
    done.assert_secrets_hidden(&[PASSWORD]);
}

#[test]
fn ssh_run_refuses_an_unknown_host_key_before_anything_runs() {
    let vm = LabVm::start("golden");
    let url = format!("ssh://{}@{}:{}", vm.user, vm.host, vm.port);
    let mut run = SshRun::to_url(&url);
    run.key(&vm.key_ed25519);
    let done = run.run();
    assert_eq!(done.code(), Some(2), "{}", done.show());
    let err = done.stderr();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{}", done.show());
    assert!(
        lines[0].starts_with(&format!(
            "vmcert: error: unknown host key for {}: ",
            vm.host
        )),
        "{err}"
    );
    assert!(err.contains(" --host-key SHA256:"), "{err}");
    assert!(!done.zip_path().exists(), "no report without a connection");
}

/// How many authentication requests of method "none" (the question "which methods do you
/// offer?") the fixture's sshd logged (it needs [`SshdOptions::debug_log`]).
fn none_requests(sshd: &Sshd) -> usize {
    sshd.log()
        .matches(&format!(
            "userauth-request for user {USER} service ssh-connection method none"
        ))
        .count()
}

#[test]
fn ssh_run_with_a_fitting_key_does_not_ask_for_the_methods_first() {
    let sshd = Sshd::start_with(SshdOptions {
        debug_log: true,
        ..SshdOptions::default()
    });
    let key = &client_keys().ed25519;
    // `vmcert connect` asks first, to show the offered methods: the control that sshd logs it.
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(vmcert_bin())
        .args(["connect", "--format", "json", "--accept-new-host-key"])
        .args(["--target", &sshd.url()])
        .arg("--known-hosts")
        .arg(home.path().join("known_hosts"))
        .arg("--identity")
        .arg(key)
        .env("HOME", home.path())
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).expect("connect prints JSON");
    assert_eq!(
        v["auth"]["offered"],
        serde_json::json!(["publickey", "password"])
    );
    assert_eq!(none_requests(&sshd), 1, "{}", sshd.log());

    // A run tries the key at once: one round trip less per target.
    let mut run = SshRun::to_url(&sshd.url());
    run.arg("--accept-new-host-key")
        .key(key)
        .arg("--checks")
        .arg("os-architecture");
    let done = run.run();
    assert_eq!(status_of(&done.results(), "os-architecture"), "Pass");
    assert!(
        done.run_log().contains("logged in with publickey (key "),
        "{}",
        done.run_log()
    );
    assert_eq!(sshd.log().matches("Accepted publickey for ").count(), 2);
    assert_eq!(none_requests(&sshd), 1, "{}", sshd.log());
}

#[test]
fn ssh_run_whose_password_is_refused_names_the_offered_methods() {
    let sshd = Sshd::start();
    let wrong = "Wrong-Password-1111";
    let mut run = SshRun::to_url(&sshd.url());
    run.arg("--accept-new-host-key").password(wrong);
    let done = run.run();
    assert_eq!(done.code(), Some(2), "{}", done.show());
    assert!(!done.zip_path().exists(), "no report without a login");
    assert!(
        done.stderr().contains(&format!(
            "authentication failed for {USER}@127.0.0.1 (methods tried: password; the server offers: publickey,password)"
        )),
        "{}",
        done.show()
    );
    assert!(!done.show().contains(wrong), "{}", done.show());
}

#[test]
fn ssh_run_on_a_keyboard_interactive_server_answers_its_prompt_with_the_password() {
    // `PasswordAuthentication no`: the password request is refused, the list shows
    // keyboard-interactive, and PAM's prompt gets the password.
    let sshd = Sshd::start_with(SshdOptions {
        keyboard_interactive_only: true,
        ..SshdOptions::default()
    });
    let mut run = SshRun::to_url(&sshd.url());
    run.arg("--accept-new-host-key")
        .password(PASSWORD)
        .arg("--checks")
        .arg("os-architecture")
        .watch_ps();
    let done = run.run();
    assert_eq!(status_of(&done.results(), "os-architecture"), "Pass");
    assert!(
        done.run_log()
            .contains("logged in with keyboard-interactive (password)"),
        "{}",
        done.run_log()
    );
    done.assert_secrets_hidden(&[PASSWORD]);
}

/// The names of the variables in `env` output.
fn env_names(env: &[u8]) -> std::collections::BTreeSet<String> {
    String::from_utf8_lossy(env)
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.to_owned()))
        .collect()
}

/// Issue 17 item 6 over SSH: the probes start from a clean, minimal environment, not the login
/// shell's (sshd's `SSH_CONNECTION`, `SSH_CLIENT`, `USER`, `MAIL`...), and nothing of vmcert's
/// own crosses the connection. As the login user: `PATH`, `HOME`, `LANG=C`, `LC_ALL=C` and what
/// `sh` sets itself; under sudo, what sudo's env_reset adds.
#[test]
fn ssh_run_probes_get_a_clean_minimal_environment() {
    const CANARY: &str = "vmcert-env-canary-5a1c";
    let vm = LabVm::start("golden");
    let as_user: std::collections::BTreeSet<&str> = [
        "PATH", "HOME", "LANG", "LC_ALL", "PWD", "SHLVL", "_", "OLDPWD",
    ]
    .into();
    for sudo in [false, true] {
        let mut run = SshRun::new(&vm);
        let record = run.dir().join("recorded");
        if sudo {
            run.password(vm.password.as_deref().expect("golden has a password"));
        } else {
            run.key(&vm.key_ed25519);
        }
        run.pack(&pack_check("env-dump", "env", ""))
            .arg("--checks")
            // root-password-locked has a root probe: with the password, the script runs under sudo.
            .arg(if sudo {
                "env-dump,root-password-locked"
            } else {
                "env-dump"
            })
            .arg("--record")
            .arg(&record);
        run.cmd
            .env("VMCERT_CANARY", CANARY)
            .env("LC_ALL", "fr_FR.UTF-8")
            .env("SSH_CLIENT", CANARY);
        let done = run.run();
        let r = done.results();
        assert_eq!(status_of(&r, "env-dump"), "Pass", "{}", done.show());
        let env = fs::read(record.join("pack-env-dump.stdout")).expect("the recorded env");
        let text = String::from_utf8_lossy(&env);
        let names = env_names(&env);
        for gone in ["SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY", "VMCERT_CANARY"] {
            assert!(
                !names.contains(gone),
                "sudo {sudo}: {gone} reached the probe:\n{text}"
            );
        }
        assert!(!text.contains(CANARY), "sudo {sudo}:\n{text}");
        assert!(
            text.lines().any(|l| l == "LC_ALL=C"),
            "sudo {sudo}:\n{text}"
        );
        // sudo's env_reset sets these for the target user (MAIL and HOME are root's then).
        let by_sudo = [
            "SUDO_USER",
            "SUDO_UID",
            "SUDO_GID",
            "SUDO_COMMAND",
            "SUDO_HOME",
            "USER",
            "LOGNAME",
            "HOME",
            "MAIL",
            "SHELL",
            "TERM",
        ];
        let extra: Vec<&String> = names
            .iter()
            .filter(|n| !(as_user.contains(n.as_str()) || sudo && by_sudo.contains(&n.as_str())))
            .collect();
        assert!(
            extra.is_empty(),
            "sudo {sudo}: {extra:?} reached the probe:\n{text}"
        );
        if sudo {
            assert!(
                text.lines().any(|l| l == format!("SUDO_USER={}", vm.user)),
                "the script ran under sudo:\n{text}"
            );
        } else {
            assert!(text.lines().any(|l| l == "LANG=C"), "{text}");
            assert!(
                text.lines()
                    .any(|l| l.starts_with("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:")),
                "{text}"
            );
            assert!(
                text.lines().any(|l| l.starts_with("HOME=/")),
                "the login's HOME is kept:\n{text}"
            );
        }
    }
}

/// Issue 17 item 2 over SSH: a probe leaves a process holding the script's own stdout (the
/// pipe or socket to sshd, opened through /proc from the script's shell). The reader ends at the
/// script's `done` line: the run finishes with every probe, not at the script's deadline.
#[test]
fn ssh_run_is_not_held_open_by_a_process_keeping_the_output() {
    let vm = LabVm::start("golden");
    let holder = r#"p=$$
while :; do
  p=$(sed 's/.*) //' /proc/$p/stat | cut -d' ' -f2)
  case $(readlink /proc/$p/fd/1) in pipe:*|socket:*) break ;; esac
  [ "$p" -gt 1 ] || exit 1
done
sleep 600 </dev/null >/proc/$p/fd/1 2>/dev/null &
echo held"#;
    let mut run = SshRun::new(&vm);
    run.key(&vm.key_ed25519)
        .pack(&format!(
            "{}{}",
            pack_check("holder", holder, "stdout_matches = '^held$'"),
            pack_check("after", "sleep 1; echo ok", "stdout_matches = '^ok$'")
        ))
        .arg("--checks")
        .arg("os-architecture,holder,after")
        .arg("--timeout")
        .arg("30");
    let done = run.run();
    assert_eq!(done.code(), Some(0), "{}", done.show());
    let r = done.results();
    assert_eq!(r["run"]["interrupted"], false, "{r:#}");
    for id in ["os-architecture", "holder", "after"] {
        assert_eq!(status_of(&r, id), "Pass", "{id}: {}", message_of(&r, id));
    }
    assert!(
        runs_in_netns(&vm.netns, "sleep 600"),
        "the holder was meant to outlive the script"
    );
    let log = done.run_log();
    assert!(
        log.contains("the target kept the probe script's channel open after its `done` line"),
        "the holder did not hold the output:\n{log}"
    );
}
