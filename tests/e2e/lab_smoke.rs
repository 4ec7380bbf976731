//! Proves the lab with the real OpenSSH client before any vmcert test relies on it: a golden VM
//! takes key, password and encrypted-key logins with strict host key checking, its user can
//! sudo with the password, it runs the real agent and shows the planted kernel command line and
//! its own hostname; stopping it leaves no process, namespace or veth behind. Also measures how
//! long starting one and ten VMs takes (printed, never asserted: speed is for benchmarks).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use crate::lab::{LabVm, Sudo, require_command};

/// `ssh` with strict host key checking against `known_hosts`, no agent, no user config.
fn ssh(vm: &LabVm, known_hosts: &Path) -> Command {
    let mut c = Command::new("ssh");
    c.args([
        "-F",
        "/dev/null",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "ConnectTimeout=10",
    ])
    .arg("-o")
    .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
    .args([
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        "-o",
        "IdentityAgent=none",
    ])
    .args(["-p", &vm.port.to_string()])
    .env_remove("SSH_AUTH_SOCK");
    c
}

fn with_key(mut c: Command, key: &Path) -> Command {
    c.args(["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-i"])
        .arg(key);
    c
}

fn run(mut c: Command, input: Option<&str>) -> Output {
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn ssh");
    let mut stdin = child.stdin.take().expect("stdin");
    if let Some(text) = input {
        stdin.write_all(text.as_bytes()).expect("write stdin");
    }
    drop(stdin);
    child.wait_with_output().expect("wait for ssh")
}

fn ok_stdout(what: &str, out: &Output) -> String {
    assert!(
        out.status.success(),
        "{what}: exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn running(pid: u32) -> bool {
    // Gone, or a zombie waiting for its reaper: either way nothing runs.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'))
    })
}

fn netns_exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

#[test]
fn lab_smoke_golden_vm_serves_real_openssh_clients_and_stops_cleanly() {
    for cmd in ["ssh", "sshpass", "ssh-keygen"] {
        require_command(cmd);
    }
    let t = Instant::now();
    let vm = LabVm::start("golden");
    eprintln!("lab: one golden VM started in {:?}", t.elapsed());
    let dir = tempfile::tempdir().expect("tempdir");
    let known_hosts = dir.path().join("known_hosts");
    std::fs::write(&known_hosts, vm.known_hosts_line()).expect("write known_hosts");
    let target = format!("{}@{}", vm.user, vm.host);

    // Key login (OpenSSH-format ed25519); the host key ssh verified is the printed one.
    let mut c = with_key(ssh(&vm, &known_hosts), &vm.key_ed25519);
    c.arg("-v")
        .arg(&target)
        .arg("hostname; cat /proc/cmdline; /usr/sbin/waagent --version");
    let out = run(c, None);
    let stdout = ok_stdout("ssh with the ed25519 key", &out);
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some(vm.name.as_str()), "hostname: {stdout}");
    assert_eq!(
        lines.next(),
        Some(vm.cmdline.as_str()),
        "/proc/cmdline: {stdout}"
    );
    assert!(
        stdout.contains("WALinuxAgent-2.7.3.0 running on debian 12"),
        "waagent: {stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let seen = format!("Server host key: ssh-ed25519 {}", vm.host_key_fingerprint);
    assert!(
        stderr.contains(&seen),
        "expected `{seen}` in ssh -v output:\n{stderr}"
    );

    // PEM RSA and ECDSA keys log in too.
    for key in [&vm.key_rsa_pem, &vm.key_ecdsa] {
        let mut c = with_key(ssh(&vm, &known_hosts), key);
        c.arg(&target).arg("id -un");
        assert_eq!(
            ok_stdout(&format!("ssh -i {}", key.display()), &run(c, None)).trim(),
            vm.user
        );
    }

    // The encrypted key with its passphrase, typed by sshpass at ssh's prompt.
    let mut c = Command::new("sshpass");
    c.args(["-e", "-P", "Enter passphrase for key"])
        .env("SSHPASS", &vm.passphrase)
        .arg("ssh")
        .args(ssh(&vm, &known_hosts).get_args())
        .args([
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "PasswordAuthentication=no",
        ])
        .args(["-o", "KbdInteractiveAuthentication=no", "-i"])
        .arg(&vm.key_ed25519_encrypted)
        .arg(&target)
        .arg("id -un");
    assert_eq!(
        ok_stdout("ssh with the encrypted key", &run(c, None)).trim(),
        vm.user
    );

    // Password login through sshpass -e: the password travels in SSHPASS, never in argv.
    let password = vm.password.clone().expect("golden has a password");
    let mut c = Command::new("sshpass");
    c.arg("-e")
        .env("SSHPASS", &password)
        .arg("ssh")
        .args(ssh(&vm, &known_hosts).get_args());
    c.args([
        "-o",
        "PubkeyAuthentication=no",
        "-o",
        "PreferredAuthentications=password",
    ]);
    c.arg(&target).arg("id -un");
    assert_eq!(
        ok_stdout("sshpass -e ssh (password)", &run(c, None)).trim(),
        vm.user
    );

    // sudo -S reads the password from stdin; without it sudo refuses.
    assert_eq!(vm.sudo, Sudo::Password);
    let mut c = with_key(ssh(&vm, &known_hosts), &vm.key_ed25519);
    c.arg(&target).arg("sudo -S -p '' id -u");
    let root = ok_stdout(
        "sudo -S with the password",
        &run(c, Some(&format!("{password}\n"))),
    );
    assert_eq!(root.trim(), "0");
    let mut c = with_key(ssh(&vm, &known_hosts), &vm.key_ed25519);
    c.arg(&target).arg("sudo -n true");
    assert!(
        !run(c, None).status.success(),
        "sudo -n must need the password on golden"
    );

    // A different host key is refused: the known_hosts line is what ssh trusts.
    let other = dir.path().join("other_known_hosts");
    let bogus = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBvBmPZ8f9UG3tLhuYg7qlBcdDNOK8Yfz0RdHrv6ARcS";
    std::fs::write(&other, format!("{} {bogus}\n", vm.host)).expect("write known_hosts");
    let mut c = with_key(ssh(&vm, &other), &vm.key_ed25519);
    c.arg(&target).arg("true");
    let out = run(c, None);
    assert!(
        !out.status.success(),
        "ssh accepted a host key that is not the VM's"
    );

    let (pid, sshd_pid, netns, veth) = (vm.pid, vm.sshd_pid, vm.netns.clone(), vm.veth.clone());
    assert!(running(pid) && running(sshd_pid) && netns_exists(&netns) && link_exists(&veth));
    drop(vm);
    assert!(!running(pid), "unshare {pid} still runs after stop");
    assert!(
        !running(sshd_pid),
        "the VM's sshd {sshd_pid} still runs after stop"
    );
    assert!(
        !netns_exists(&netns),
        "netns {netns} still exists after stop"
    );
    assert!(!link_exists(&veth), "veth {veth} still exists after stop");
}

#[test]
fn lab_smoke_ten_vms_start_side_by_side_and_stop() {
    require_command("ssh");
    let t = Instant::now();
    let vms: Vec<LabVm> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..10)
            .map(|_| s.spawn(|| LabVm::start("golden")))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("start thread"))
            .collect()
    });
    eprintln!(
        "lab: ten golden VMs started (10 threads) in {:?}",
        t.elapsed()
    );
    let mut hosts: Vec<&str> = vms.iter().map(|vm| vm.host.as_str()).collect();
    hosts.sort_unstable();
    hosts.dedup();
    assert_eq!(hosts.len(), 10, "every VM has its own address");
    let dir = tempfile::tempdir().expect("tempdir");
    for vm in &vms {
        let known_hosts = dir.path().join(&vm.name);
        std::fs::write(&known_hosts, vm.known_hosts_line()).expect("write known_hosts");
        let mut c = with_key(ssh(vm, &known_hosts), &vm.key_ed25519);
        c.arg(format!("{}@{}", vm.user, vm.host)).arg("hostname");
        assert_eq!(ok_stdout(&vm.name, &run(c, None)).trim(), vm.name);
    }
    let gone: Vec<(u32, String)> = vms
        .iter()
        .map(|vm| (vm.sshd_pid, vm.netns.clone()))
        .collect();
    let t = Instant::now();
    drop(vms);
    eprintln!("lab: ten VMs stopped in {:?}", t.elapsed());
    for (pid, netns) in gone {
        assert!(
            !running(pid) && !netns_exists(&netns),
            "{netns} (sshd {pid}) survived stop"
        );
    }
}
