//! The lab from the tests' side: [`LabVm::start`] boots a real Debian target with
//! `tests/lab/vm.sh` (own network, PID, mount and UTS namespace; real sshd on port 22) and parses
//! the facts it prints; dropping the [`LabVm`] stops it, also when the test panics. The first
//! start in this test process stops the VMs that crashed runs left behind (`vm.sh stop-stale`).
//! Missing root or prerequisites fail the test with what is missing, never skip it.
//!
//! Also here: the expected statuses of every scenario (`tests/lab/scenarios/expected.toml`) and
//! the tests that hold that file to its promises.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use vmcert_checks::Status;

/// `tests/lab/` of this workspace.
pub(crate) fn lab_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("lab")
}

/// How the VM's user may become root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sudo {
    /// `sudo` asks for the user's password.
    Password,
    /// `sudo -n` works (cloud-init's NOPASSWD rule).
    NoPasswd,
    /// The user is not in sudoers.
    None,
}

/// A running lab VM, described by the facts `vm.sh start` printed. Stopped on drop.
#[derive(Debug)]
pub(crate) struct LabVm {
    /// VM name: also its hostname.
    pub(crate) name: String,
    /// IPv4 address of the VM (its end of the veth pair).
    pub(crate) host: String,
    /// SSH port (22).
    pub(crate) port: u16,
    /// The login user (azureuser).
    pub(crate) user: String,
    /// The user's password; None for key-only scenarios.
    pub(crate) password: Option<String>,
    /// How the user may use sudo.
    pub(crate) sudo: Sudo,
    /// ed25519 client key, OpenSSH format, no passphrase.
    pub(crate) key_ed25519: PathBuf,
    /// RSA client key, PEM format, no passphrase.
    pub(crate) key_rsa_pem: PathBuf,
    /// ECDSA (P-256) client key, no passphrase.
    pub(crate) key_ecdsa: PathBuf,
    /// ed25519 client key encrypted with [`LabVm::passphrase`].
    pub(crate) key_ed25519_encrypted: PathBuf,
    /// Passphrase of the encrypted key.
    pub(crate) passphrase: String,
    /// The VM's ed25519 host key as `ssh-ed25519 AAAA...`.
    pub(crate) host_key: String,
    /// `SHA256:...` fingerprint of that host key.
    pub(crate) host_key_fingerprint: String,
    /// The kernel command line the VM's /proc/cmdline shows.
    pub(crate) cmdline: String,
    /// Name of the VM's network namespace.
    pub(crate) netns: String,
    /// Host side of the VM's veth pair.
    pub(crate) veth: String,
    /// PID (host namespace) of the `unshare` process that holds the VM.
    pub(crate) pid: u32,
    /// PID (host namespace) of the VM's sshd, PID 1 inside the VM.
    pub(crate) sshd_pid: u32,
}

static STALE_STOPPED: OnceLock<()> = OnceLock::new();
static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Panics unless the lab can run here: root, and vm.sh's own prerequisite check.
fn require_lab() {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next())
        .expect("Uid line in /proc/self/status");
    assert_eq!(
        uid, "0",
        "the lab tests need root (network namespaces, overlay mounts, chroot): run them as root, \
         after tests/lab/install-prereqs.sh"
    );
}

fn vm_sh(args: &[&str]) -> std::process::Output {
    Command::new("bash")
        .arg(lab_dir().join("vm.sh"))
        .args(args)
        .env("VMCERT_LAB_OWNER", std::process::id().to_string())
        .output()
        .expect("run bash tests/lab/vm.sh")
}

/// Asserts that `cmd` is on PATH, naming the script that installs it.
pub(crate) fn require_command(cmd: &str) {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(cmd).is_file()));
    assert!(
        found,
        "`{cmd}` is not installed: run tests/lab/install-prereqs.sh (as root)"
    );
}

impl LabVm {
    /// Starts a VM of `scenario` (a file in tests/lab/scenarios/) under a name unique to this
    /// test process. Panics with vm.sh's message when the VM cannot start.
    pub(crate) fn start(scenario: &str) -> Self {
        STALE_STOPPED.get_or_init(|| {
            require_lab();
            let out = vm_sh(&["stop-stale"]);
            assert!(
                out.status.success(),
                "vm.sh stop-stale failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        });
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{scenario}-{}-{n}", std::process::id());
        let out = vm_sh(&["start", scenario, &name]);
        assert!(
            out.status.success(),
            "vm.sh start {scenario} {name} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let facts = parse_facts(&String::from_utf8_lossy(&out.stdout));
        Self::from_facts(&facts)
    }

    fn from_facts(f: &HashMap<String, String>) -> Self {
        let get = |k: &str| -> String {
            f.get(k)
                .cloned()
                .unwrap_or_else(|| panic!("vm.sh printed no {k}= line: {f:?}"))
        };
        let num = |k: &str| -> u32 {
            get(k)
                .parse()
                .unwrap_or_else(|e| panic!("{k}={}: {e}", get(k)))
        };
        let password = get("PASSWORD");
        Self {
            name: get("NAME"),
            host: get("HOST"),
            port: get("PORT").parse().expect("PORT is a number"),
            user: get("USER"),
            password: (!password.is_empty()).then_some(password),
            sudo: match get("SUDO").as_str() {
                "password" => Sudo::Password,
                "nopasswd" => Sudo::NoPasswd,
                "none" => Sudo::None,
                other => panic!("unknown SUDO={other}"),
            },
            key_ed25519: get("KEY_ED25519").into(),
            key_rsa_pem: get("KEY_RSA_PEM").into(),
            key_ecdsa: get("KEY_ECDSA").into(),
            key_ed25519_encrypted: get("KEY_ED25519_ENCRYPTED").into(),
            passphrase: get("PASSPHRASE"),
            host_key: get("HOST_KEY"),
            host_key_fingerprint: get("HOST_KEY_FINGERPRINT"),
            cmdline: get("CMDLINE"),
            netns: get("NETNS"),
            veth: get("VETH"),
            pid: num("PID"),
            sshd_pid: num("SSHD_PID"),
        }
    }

    /// A known_hosts line for this VM, built from the printed host key.
    pub(crate) fn known_hosts_line(&self) -> String {
        if self.port == 22 {
            format!("{} {}\n", self.host, self.host_key)
        } else {
            format!("[{}]:{} {}\n", self.host, self.port, self.host_key)
        }
    }
}

impl Drop for LabVm {
    fn drop(&mut self) {
        let out = vm_sh(&["stop", &self.name]);
        if !out.status.success() {
            // Never panic in drop (it may run during a panic); stop-stale cleans up next run.
            eprintln!(
                "vm.sh stop {} failed: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// `KEY=VALUE` lines; the value is the rest of the line, taken literally.
fn parse_facts(stdout: &str) -> HashMap<String, String> {
    stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// `tests/lab/scenarios/expected.toml`: scenario -> check id -> status, plus `[fixed]`: check id ->
/// why no namespace VM can move it.
pub(crate) struct Expected {
    pub(crate) fixed: BTreeMap<String, String>,
    pub(crate) scenarios: BTreeMap<String, BTreeMap<String, Status>>,
}

pub(crate) fn expected() -> Expected {
    let path = lab_dir().join("scenarios/expected.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut tables: BTreeMap<String, toml::Value> =
        toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let fixed = tables
        .remove("fixed")
        .expect("[fixed] table")
        .try_into()
        .expect("[fixed]: check id = \"reason\"");
    let scenarios = tables
        .into_iter()
        .map(|(name, table)| {
            let statuses = table
                .try_into()
                .unwrap_or_else(|e| panic!("[{name}]: check id = \"Pass|Warning|...\": {e}"));
            (name, statuses)
        })
        .collect();
    Expected { fixed, scenarios }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use vmcert_checks::{Os, registry};

    #[test]
    fn lab_expected_covers_every_scenario_and_the_same_checks_in_each() {
        let exp = expected();
        let files: BTreeSet<String> = std::fs::read_dir(lab_dir().join("scenarios"))
            .expect("read tests/lab/scenarios")
            .filter_map(|e| {
                let name = e
                    .expect("dir entry")
                    .file_name()
                    .into_string()
                    .expect("utf-8 name");
                name.strip_suffix(".sh").map(str::to_owned)
            })
            .collect();
        let tables: BTreeSet<String> = exp.scenarios.keys().cloned().collect();
        assert_eq!(
            files, tables,
            "scenario files and expected.toml tables differ"
        );
        let golden: BTreeSet<&String> = exp.scenarios["golden"].keys().collect();
        for (name, statuses) in &exp.scenarios {
            let ids: BTreeSet<&String> = statuses.keys().collect();
            assert_eq!(ids, golden, "[{name}] lists other checks than [golden]");
        }
        for id in exp.fixed.keys() {
            assert!(golden.contains(id), "[fixed] names unknown check {id}");
        }
    }

    #[test]
    fn lab_every_check_that_can_vary_fails_or_warns_somewhere_and_passes_in_golden() {
        let exp = expected();
        for (id, status) in &exp.scenarios["golden"] {
            if exp.fixed.contains_key(id) {
                continue;
            }
            // golden is Debian: a check that applies only to other families (network files of the
            // RHEL family, SUSE's DHCP option, the agent's temp disk) is NotApplicable there and
            // must then Pass in a scenario that presents as a family it applies to.
            let passes_elsewhere = exp.scenarios.values().any(|s| s[id] == Status::Pass);
            assert!(
                *status == Status::Pass || (*status == Status::NotApplicable && passes_elsewhere),
                "golden: {id} can vary, so it must Pass (or be NotApplicable to Debian and Pass in \
                 another scenario)"
            );
            let bad = exp
                .scenarios
                .iter()
                .filter(|(_, s)| matches!(s[id], Status::Fail | Status::Warning))
                .count();
            assert!(
                bad > 0,
                "no scenario makes {id} Fail or Warn, and it is not in [fixed]"
            );
        }
    }

    #[test]
    fn lab_expected_lists_every_registered_linux_check() {
        let exp = expected();
        for check in registry::for_os(Os::Linux) {
            let id = check.meta().id;
            assert!(
                exp.scenarios["golden"].contains_key(id),
                "{id} is registered but has no expected status in tests/lab/scenarios/expected.toml"
            );
        }
    }

    #[test]
    fn lab_facts_parse_keeps_values_with_spaces_and_equals_signs() {
        let f = parse_facts("HOST_KEY=ssh-ed25519 AAAA=\nCMDLINE=ro console=ttyS0\n");
        assert_eq!(f["HOST_KEY"], "ssh-ed25519 AAAA=");
        assert_eq!(f["CMDLINE"], "ro console=ttyS0");
    }
}
