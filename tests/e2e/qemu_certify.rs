//! vmcert against a real VM booted by qemu from the very fixed VHD a publisher would upload: `vhd
//! inspect` on the image, `vmcert run` over SSH with every check's status asserted against
//! `tests/qemu/expected.toml` (including the checks the namespace lab cannot vary: boot
//! parameters, swap and partitions, the first MiB, the agent service, Hyper-V drivers), then, for
//! the golden image, the report and the VHD itself (as a page blob) uploaded to Azurite and the
//! blob inspected again through its SAS URL. Each variant boots once: the checks of the VM itself
//! (qemu_smoke.rs) run first on the same boot.
//!
//! The defect variants booted by default are CI's three (about a minute each under TCG);
//! `VMCERT_QEMU_VARIANTS=a,b` or `=all` certifies others the same way.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;

use crate::azurite::{assert_no_signature, azurite, sas_now};
use crate::qemu::{Expected, QemuVm};
use crate::qemu_smoke::{assert_golden_vm_is_sound, boot_and_observe};
use crate::util::vmcert;

/// `vmcert vhd inspect --format json` of a path or URL, with its exit code.
fn inspect(what: &str) -> (Option<i32>, serde_json::Value) {
    let out = vmcert(&[
        "vhd", "inspect", what, "--role", "os", "--os", "linux", "--format", "json",
    ]);
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "vhd inspect {what}: {e}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), json)
}

/// The ids of the failing rules of a `vhd inspect` report, sorted.
fn failing_rules(report: &serde_json::Value) -> Vec<String> {
    let mut ids: Vec<String> = report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "Fail")
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

/// Runs the whole Linux catalogue over SSH against the booted VM and returns the report zip.
fn certify(vm: &QemuVm, dir: &Path) -> std::path::PathBuf {
    let zip = dir.join(format!("{}.zip", vm.image.variant));
    let target = format!("ssh://{}@127.0.0.1:{}", vm.image.user, vm.port);
    let out = vmcert(&[
        "run",
        "--target",
        &target,
        "--identity",
        vm.image.key.to_str().unwrap(),
        "--known-hosts",
        vm.known_hosts.to_str().unwrap(),
        "--non-interactive",
        "--allow-unanswered",
        "--timeout",
        "300",
        "--out",
        zip.to_str().unwrap(),
    ]);
    assert!(
        zip.exists(),
        "no report for {}: exit {:?}\n{}",
        vm.image.variant,
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    zip
}

fn statuses(zip: &Path) -> BTreeMap<String, (String, String)> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    let mut text = String::new();
    archive
        .by_name("results.json")
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    let results: serde_json::Value = serde_json::from_str(&text).unwrap();
    results["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                (
                    c["status"].as_str().unwrap().to_string(),
                    c["message"].as_str().unwrap_or_default().to_string(),
                ),
            )
        })
        .collect()
}

/// Every check's status must be what `expected.toml` says a careful reviewer expects.
fn assert_statuses(variant: &str, zip: &Path) {
    let want = Expected::load().statuses(variant);
    let got = statuses(zip);
    let mut wrong = Vec::new();
    for (id, status) in &want {
        match got.get(id) {
            Some((s, _)) if s == status => {}
            Some((s, msg)) => wrong.push(format!("{id}: expected {status}, got {s} ({msg})")),
            None => wrong.push(format!("{id}: expected {status}, not in the report")),
        }
    }
    assert!(wrong.is_empty(), "{variant}:\n{}", wrong.join("\n"));
}

#[test]
fn golden_image_boots_certifies_and_travels_to_the_container_unchanged() {
    let vm = boot_and_observe("golden");
    assert_golden_vm_is_sound(&vm);
    let (code, local) = inspect(vm.image.vhd.to_str().unwrap());
    assert_eq!(code, Some(0), "{local:#}");
    assert_eq!(local["format"], "vhd-fixed");
    assert_eq!(local["acceptable"], true, "{local:#}");

    let dir = tempfile::tempdir().unwrap();
    let zip = certify(&vm, dir.path());
    assert_statuses("golden", &zip);

    // The report and the VHD go into one container, as the submission needs.
    let az = azurite();
    az.create_container("vhds-golden");
    let sas = sas_now("vhds-golden", "racwl");
    let container = format!("{}/vhds-golden?{sas}", az.base());
    let up = vmcert(&["report", "upload", zip.to_str().unwrap(), &container]);
    assert_eq!(
        up.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    assert_no_signature(&sas, &String::from_utf8_lossy(&up.stdout));
    let name = zip.file_name().unwrap().to_str().unwrap();
    assert_eq!(
        az.get("vhds-golden", name, &sas),
        std::fs::read(&zip).unwrap()
    );

    az.put_page_blob_sparse("vhds-golden", "golden.vhd", &vm.image.vhd);
    let blob = format!("{}/vhds-golden/golden.vhd?{sas}", az.base());
    let (code, remote) = inspect(&blob);
    assert_eq!(code, Some(0), "{remote:#}");
    assert_eq!(remote["format"], "vhd-fixed");
    assert_eq!(remote["virtual_size"], local["virtual_size"]);
    assert_eq!(failing_rules(&remote), Vec::<String>::new());
    assert_no_signature(&sas, &remote.to_string());
}

/// The defect variants certified by default: one per kind of defect only a real VM shows (a
/// swap partition, the disk layout, the kernel command line).
const DEFAULT_DEFECT_VARIANTS: &str = "swap-partition,first-partition-1024,no-rootdelay";

#[test]
fn defect_variants_fail_vhd_inspect_and_run_as_expected_toml_says() {
    let expected = Expected::load();
    let wanted =
        std::env::var("VMCERT_QEMU_VARIANTS").unwrap_or_else(|_| DEFAULT_DEFECT_VARIANTS.into());
    let variants: Vec<String> = if wanted == "all" {
        expected
            .variants()
            .into_iter()
            .filter(|v| v != "golden")
            .collect()
    } else {
        wanted.split(',').map(|v| v.trim().to_string()).collect()
    };
    for variant in &variants {
        // Its planted defect shows over SSH, in `vhd inspect` when it is a disk-layout defect,
        // and in `vmcert run`; every other check as golden.
        let vm = boot_and_observe(variant);
        let (code, report) = inspect(vm.image.vhd.to_str().unwrap());
        let want = expected.vhd_failing(variant);
        assert_eq!(failing_rules(&report), want, "{variant}: {report:#}");
        assert_eq!(code, Some(if want.is_empty() { 0 } else { 1 }), "{variant}");
        let dir = tempfile::tempdir().unwrap();
        assert_statuses(variant, &certify(&vm, dir.path()));
        eprintln!("qemu: {variant}: vhd inspect and every check status as expected");
    }
}
