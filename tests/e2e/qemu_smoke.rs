//! The QEMU test VM itself, before vmcert is pointed at it: over a real OpenSSH client, each booted
//! variant must show exactly what tests/qemu/expected.toml says it planted, and the golden image
//! must be a fixed VHD that booted through its own GRUB. qemu_certify.rs runs these right after
//! each boot, so every variant boots once for both. Also keeps expected.toml in step with the
//! variants build-image.sh knows and the Linux checks the registry has.

use std::process::Command;

use vmcert_checks::meta::Os;
use vmcert_checks::registry;

use crate::qemu::{Expected, QemuVm};

const STATUSES: &[&str] = &["Pass", "Warning", "Fail", "NotApplicable"];

#[test]
fn expected_toml_covers_every_variant_and_every_linux_check() {
    let expected = Expected::load();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/qemu/build-image.sh");
    let out = Command::new(script).arg("--list").output().unwrap();
    assert!(out.status.success(), "build-image.sh --list failed");
    let listed: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    let mut in_file = expected.variants();
    let mut in_script = listed.clone();
    in_file.sort();
    in_script.sort();
    assert_eq!(in_file, in_script, "expected.toml vs build-image.sh --list");

    let golden = expected.statuses("golden");
    for check in registry::for_os(Os::Linux) {
        let id = check.meta().id;
        assert!(
            golden.contains_key(id),
            "Linux check {id} has no status in tests/qemu/expected.toml [golden.status]"
        );
    }
    for variant in &listed {
        assert!(!expected.planted(variant).is_empty());
        let statuses = expected.statuses(variant);
        assert_eq!(
            statuses.keys().collect::<Vec<_>>(),
            golden.keys().collect::<Vec<_>>(),
            "{variant}: a status for a check golden does not list"
        );
        for (id, status) in &statuses {
            assert!(
                STATUSES.contains(&status.as_str()),
                "{variant}.{id}: {status}"
            );
        }
        assert!(!expected.observations(variant).is_empty());
        for id in expected.vhd_failing(variant) {
            assert!(
                id.starts_with("vhd-"),
                "{variant}: vhd_inspect_fails {id:?}"
            );
        }
        if variant != "golden" {
            let tripped = expected.tripped(variant);
            assert!(!tripped.is_empty(), "{variant} trips no check");
            for id in &tripped {
                assert_ne!(
                    statuses[id], golden[id],
                    "{variant}.{id} is golden's status"
                );
            }
            // The defect must be visible over SSH: an observation of its own that golden's
            // expectation would reject.
            let golden_obs = expected.observations("golden");
            let own: Vec<_> = expected
                .observations(variant)
                .into_iter()
                .filter(|o| {
                    golden_obs
                        .iter()
                        .any(|g| g.name == o.name && (g.equals != o.equals || g.lacks != o.lacks))
                })
                .collect();
            assert!(!own.is_empty(), "{variant} has no observation of its own");
        }
    }
}

/// Builds and boots `variant`, then checks every observation of expected.toml over SSH.
pub(crate) fn boot_and_observe(variant: &str) -> QemuVm {
    let expected = Expected::load();
    let vm = QemuVm::build_and_boot(variant);
    let mut wrong = Vec::new();
    for obs in expected.observations(variant) {
        let stdout = vm.ssh_stdout(&obs.cmd);
        if let Some(m) = obs.mismatch(&stdout) {
            wrong.push(m);
        }
    }
    assert!(
        wrong.is_empty(),
        "the {variant} VM (planted: {}) does not show what expected.toml says:\n{}",
        expected.planted(variant),
        wrong.join("\n")
    );
    vm
}

/// The booted golden VM is what the image promises: a fixed VHD, booted by its own GRUB and
/// kernel, systemd up, passwordless sudo for the probes.
pub(crate) fn assert_golden_vm_is_sound(vm: &QemuVm) {
    // The artifact is a fixed VHD: the raw disk, then a 512-byte footer (cookie `conectix`,
    // disk type 2 = fixed at offset 60, big-endian), 2 GiB exactly.
    let bytes = std::fs::read(&vm.image.vhd).unwrap();
    let footer = &bytes[bytes.len() - 512..];
    assert_eq!(&footer[..8], b"conectix");
    assert_eq!(&footer[60..64], &[0, 0, 0, 2]);
    assert_eq!(bytes.len() - 512, 2048 << 20);
    // It booted through GRUB in the image (qemu has no -kernel), with the image's kernel.
    let cmdline = vm.ssh_stdout("cat /proc/cmdline");
    assert!(
        cmdline.starts_with("BOOT_IMAGE=/boot/vmlinuz-"),
        "{cmdline}"
    );
    assert_eq!(
        vm.ssh_stdout("systemctl is-system-running --wait"),
        "running"
    );
    // sudo works without a password and without a terminal (the probes need it).
    assert_eq!(vm.ssh_stdout("sudo -n id -u"), "0");
}
