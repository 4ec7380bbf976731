//! The real test VM of tests/qemu/ for end-to-end tests: a Debian image built as a fixed VHD by
//! `build-image.sh` (golden, or a variant with one planted certification defect), booted from
//! that VHD by `vm.sh` under QEMU, reached over a forwarded loopback SSH port. This file only
//! drives the two scripts; what each variant must show is data, in tests/qemu/expected.toml.
//!
//! ```ignore
//! let vm = QemuVm::build_and_boot("swap-partition");  // about 40 s under TCG
//! let out = vm.ssh_stdout("/usr/sbin/swapon --show=NAME --noheadings");
//! // vm.port, vm.image.user, vm.image.key, vm.known_hosts, vm.image.vhd: for vmcert itself
//! ```
//! One VM at a time in the whole test binary (a global lock, taken before the build and held
//! until the VM is dropped): the machine has 2 cores and a TCG guest wants both. Dropping the VM
//! stops it (by PID) and deletes its directory; `VMCERT_QEMU_KEEP=1` keeps the directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};

static ONE_VM: Mutex<()> = Mutex::new(());

fn qemu_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("qemu")
}

/// Fails the test (never skips it) unless we are root: debootstrap, chroot and file ownership
/// inside the image need it.
fn require_root() {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().next())
        .expect("Uid line in /proc/self/status");
    assert_eq!(
        uid, "0",
        "the QEMU VM tests need root (debootstrap, chroot, root-owned files in the image): run \
         `cargo test -p vmcert-tests qemu` as root"
    );
}

fn run_script(script: &str, args: &[&str]) -> Output {
    let path = qemu_dir().join(script);
    Command::new(&path)
        .args(args)
        // A killed test binary never drops its VM: vm.sh's watcher then stops qemu.
        .env("VM_OWNER_PID", std::process::id().to_string())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()))
}

fn last_json_line(out: &Output, what: &str) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .last()
        .unwrap_or_else(|| panic!("{what} printed nothing on stdout"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{what}: bad JSON line {line:?}: {e}"))
}

/// A built image: the fixed VHD and the login material for it.
pub(crate) struct Image {
    /// The variant name (`golden`, `swap-partition`, ... : `build-image.sh --list`).
    pub(crate) variant: String,
    /// The fixed VHD (`qemu-img convert -O vpc -o subformat=fixed,force_size=on`).
    pub(crate) vhd: PathBuf,
    /// The login user (`azureuser`: key only, passwordless sudo).
    pub(crate) user: String,
    /// The private ed25519 key for `user` (generated for this build).
    pub(crate) key: PathBuf,
    /// Seconds `build-image.sh` took.
    pub(crate) build_seconds: f64,
    dir: tempfile::TempDir,
    /// Held until the image (and the VM booted from it) is dropped: one VM at a time.
    _one_vm: MutexGuard<'static, ()>,
}

impl Image {
    /// Builds `variant` (from the cached root: seconds; the first build on a machine debootstraps
    /// for a few minutes). Waits for any other image or VM of this test binary to be dropped.
    pub(crate) fn build(variant: &str) -> Image {
        require_root();
        let lock = ONE_VM
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut dir = tempfile::Builder::new()
            .prefix(&format!("vmcert-qemu-{variant}-"))
            .tempdir_in("/var/tmp")
            .expect("temp dir in /var/tmp");
        if std::env::var_os("VMCERT_QEMU_KEEP").is_some() {
            dir.disable_cleanup(true);
        }
        let out_dir = dir.path().to_str().expect("utf-8 temp dir").to_string();
        let out = run_script("build-image.sh", &["--out", &out_dir, variant]);
        assert!(
            out.status.success(),
            "tests/qemu/build-image.sh {variant} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let info = last_json_line(&out, "build-image.sh");
        let text = |k: &str| {
            info[k]
                .as_str()
                .unwrap_or_else(|| panic!("image.json: no {k}"))
        };
        let image = Image {
            variant: text("variant").to_string(),
            vhd: PathBuf::from(text("vhd")),
            user: text("user").to_string(),
            key: PathBuf::from(text("key")),
            build_seconds: info["build_seconds"].as_f64().expect("build_seconds"),
            dir,
            _one_vm: lock,
        };
        eprintln!(
            "qemu: built {} in {:.1} s: {}",
            image.variant,
            image.build_seconds,
            image.vhd.display()
        );
        image
    }

    /// Boots the image from its VHD (SeaBIOS, GRUB, the image's kernel) and waits until sshd
    /// answers. The VHD itself is not written to (the VM runs on a throwaway overlay).
    pub(crate) fn boot(self) -> QemuVm {
        let dir = self.dir.path().to_str().expect("utf-8 dir").to_string();
        let out = run_script("vm.sh", &["start", &dir]);
        if !out.status.success() {
            // vm.sh printed the console's tail and stopped qemu itself.
            panic!(
                "tests/qemu/vm.sh start ({}) failed:\n{}",
                self.variant,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let info = last_json_line(&out, "vm.sh start");
        let port = info["port"].as_u64().expect("port");
        let text = |k: &str| {
            info[k]
                .as_str()
                .unwrap_or_else(|| panic!("vm.json: no {k}"))
        };
        let vm = QemuVm {
            port: u16::try_from(port).expect("port fits u16"),
            known_hosts: PathBuf::from(text("known_hosts")),
            console: PathBuf::from(text("console")),
            boot_seconds: info["boot_seconds"].as_f64().expect("boot_seconds"),
            image: self,
        };
        eprintln!(
            "qemu: {} up on 127.0.0.1:{} after {:.1} s",
            vm.image.variant, vm.port, vm.boot_seconds
        );
        vm
    }
}

/// A running VM, stopped when dropped.
pub(crate) struct QemuVm {
    /// Where SSH listens: `127.0.0.1:port` (forwarded to the guest's port 22).
    pub(crate) port: u16,
    /// A known_hosts file with the image's host keys for `[127.0.0.1]:port`: use it with
    /// `StrictHostKeyChecking=yes`.
    pub(crate) known_hosts: PathBuf,
    /// The serial console log (GRUB, kernel, systemd).
    pub(crate) console: PathBuf,
    /// Seconds from starting qemu until `ssh true` succeeded.
    pub(crate) boot_seconds: f64,
    /// The image the VM booted from (its VHD, user and key).
    pub(crate) image: Image,
}

impl QemuVm {
    /// [`Image::build`] then [`Image::boot`].
    pub(crate) fn build_and_boot(variant: &str) -> QemuVm {
        Image::build(variant).boot()
    }

    /// The options of a real OpenSSH `ssh` client for this VM, up to and including the
    /// destination: `ssh <these> <command>`. BatchMode (no prompt ever), the build's key only,
    /// the image's host keys checked strictly, no user configuration.
    pub(crate) fn ssh_args(&self) -> Vec<String> {
        vec![
            "-F".into(),
            "/dev/null".into(),
            "-i".into(),
            self.image.key.display().to_string(),
            "-p".into(),
            self.port.to_string(),
            "-o".into(),
            "BatchMode=yes".into(),
            "-o".into(),
            "IdentitiesOnly=yes".into(),
            "-o".into(),
            "StrictHostKeyChecking=yes".into(),
            "-o".into(),
            format!("UserKnownHostsFile={}", self.known_hosts.display()),
            "-o".into(),
            "ConnectTimeout=20".into(),
            "-o".into(),
            "LogLevel=ERROR".into(),
            format!("{}@127.0.0.1", self.image.user),
        ]
    }

    /// Runs `command` (a shell command line) on the VM through `ssh`.
    pub(crate) fn ssh(&self, command: &str) -> Output {
        Command::new("ssh")
            .args(self.ssh_args())
            .arg(command)
            .output()
            .expect("run ssh (the OpenSSH client)")
    }

    /// The trimmed stdout of `command`, whatever its exit status; fails the test when ssh itself
    /// fails (exit 255: no connection, authentication, host key).
    pub(crate) fn ssh_stdout(&self, command: &str) -> String {
        let out = self.ssh(command);
        assert_ne!(
            out.status.code(),
            Some(255),
            "ssh to the {} VM failed for `{command}`: {}",
            self.image.variant,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// The last `lines` lines of the serial console.
    pub(crate) fn console_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.console).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for QemuVm {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "qemu: last console lines of the {} VM:\n{}",
                self.image.variant,
                self.console_tail(30)
            );
        }
        let dir = self.image.dir.path().to_string_lossy().into_owned();
        let stopped = run_script("vm.sh", &["stop", &dir]);
        if !stopped.status.success() {
            eprintln!(
                "qemu: vm.sh stop {dir} failed: {}",
                String::from_utf8_lossy(&stopped.stderr)
            );
        }
    }
}

/// One observation of tests/qemu/expected.toml: a command and what its stdout must be.
#[derive(Debug, Clone)]
pub(crate) struct Observation {
    /// The key in expected.toml (`cmdline`, `swap`, ...).
    pub(crate) name: String,
    /// The shell command line run over ssh as the login user.
    pub(crate) cmd: String,
    /// The whole trimmed stdout, when given.
    pub(crate) equals: Option<String>,
    /// Strings the stdout must contain.
    pub(crate) contains: Vec<String>,
    /// Strings the stdout must not contain.
    pub(crate) lacks: Vec<String>,
}

impl Observation {
    /// What is wrong with `stdout`, if anything.
    pub(crate) fn mismatch(&self, stdout: &str) -> Option<String> {
        let mut wrong = Vec::new();
        if let Some(want) = &self.equals
            && stdout != want
        {
            wrong.push(format!("expected exactly {want:?}"));
        }
        for s in &self.contains {
            if !stdout.contains(s.as_str()) {
                wrong.push(format!("missing {s:?}"));
            }
        }
        for s in &self.lacks {
            if stdout.contains(s.as_str()) {
                wrong.push(format!("unexpected {s:?}"));
            }
        }
        (!wrong.is_empty()).then(|| {
            format!(
                "{} (`{}`): {}; got {stdout:?}",
                self.name,
                self.cmd,
                wrong.join(", ")
            )
        })
    }
}

/// tests/qemu/expected.toml, with a defect variant's gaps filled from `golden`.
pub(crate) struct Expected {
    table: toml::Table,
}

impl Expected {
    /// Reads and parses the file.
    pub(crate) fn load() -> Expected {
        let path = qemu_dir().join("expected.toml");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let table = text
            .parse::<toml::Table>()
            .unwrap_or_else(|e| panic!("parse {}: {e}", path.display()));
        Expected { table }
    }

    /// The variant names, as listed in the file.
    pub(crate) fn variants(&self) -> Vec<String> {
        self.table.keys().cloned().collect()
    }

    fn section(&self, variant: &str, key: &str) -> toml::Table {
        let v = self
            .table
            .get(variant)
            .and_then(toml::Value::as_table)
            .unwrap_or_else(|| panic!("expected.toml has no [{variant}]"));
        v.get(key)
            .and_then(toml::Value::as_table)
            .cloned()
            .unwrap_or_default()
    }

    /// The variant's own section `key`, over golden's.
    fn merged(&self, variant: &str, key: &str) -> toml::Table {
        let mut all = self.section("golden", key);
        if variant != "golden" {
            all.extend(self.section(variant, key));
        }
        all
    }

    /// What the variant plants, in words.
    pub(crate) fn planted(&self, variant: &str) -> String {
        self.table[variant]["planted"]
            .as_str()
            .unwrap_or_else(|| panic!("[{variant}] has no planted = \"...\""))
            .to_string()
    }

    /// Check id -> status (`Pass`, `Warning`, `Fail`, `NotApplicable`) for every Linux check.
    pub(crate) fn statuses(&self, variant: &str) -> BTreeMap<String, String> {
        self.merged(variant, "status")
            .into_iter()
            .map(|(id, s)| {
                let s = s
                    .as_str()
                    .unwrap_or_else(|| panic!("[{variant}.status] {id}: not a string"));
                (id, s.to_string())
            })
            .collect()
    }

    /// The `vhd inspect` rule ids that must fail on the variant's VHD (`vhd_inspect_fails`, golden's
    /// when the variant has none of its own), sorted.
    pub(crate) fn vhd_failing(&self, variant: &str) -> Vec<String> {
        let key = "vhd_inspect_fails";
        let own = self.table.get(variant).and_then(|v| v.get(key));
        let list = own
            .or_else(|| self.table.get("golden").and_then(|g| g.get(key)))
            .and_then(toml::Value::as_array)
            .unwrap_or_else(|| panic!("expected.toml: no {key} for {variant} nor golden"));
        let mut ids: Vec<String> = list
            .iter()
            .map(|id| {
                id.as_str()
                    .unwrap_or_else(|| panic!("[{variant}] {key}: strings only"))
                    .to_string()
            })
            .collect();
        ids.sort();
        ids
    }

    /// The check ids whose status differs from golden's (what the defect trips).
    pub(crate) fn tripped(&self, variant: &str) -> Vec<String> {
        self.section(variant, "status").keys().cloned().collect()
    }

    /// Every observation for the variant, golden's where it has none of its own.
    pub(crate) fn observations(&self, variant: &str) -> Vec<Observation> {
        let strings = |v: &toml::Value, k: &str| -> Vec<String> {
            v.get(k)
                .and_then(toml::Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|s| s.as_str().expect("strings only").to_string())
                        .collect()
                })
                .unwrap_or_default()
        };
        self.merged(variant, "observe")
            .into_iter()
            .map(|(name, v)| Observation {
                cmd: v["cmd"]
                    .as_str()
                    .unwrap_or_else(|| panic!("observe.{name}: no cmd"))
                    .to_string(),
                equals: v.get("equals").and_then(|e| e.as_str()).map(str::to_string),
                contains: strings(&v, "contains"),
                lacks: strings(&v, "lacks"),
                name,
            })
            .collect()
    }
}
