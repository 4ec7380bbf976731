//! The Packer example (`examples/packer/`) run by Debian's real `packer` (1.6.6) through its
//! `null` builder against a lab VM, as a publisher's build runs it against the Azure build VM:
//! the `file` provisioner uploads vmcert, the `shell` provisioner runs `vmcert run --local
//! --phase build` with sudo, a `file` download brings the report back, and a last `shell` step
//! fails the build with vmcert's exit status. What deprovisioning removes (the build user's
//! history, root's .bash_history, Packer's temporary key) must not fail the build; a key left in
//! root's authorized_keys, which deprovisioning keeps, must. One VM serves every build, in order.

use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::lab::{LabVm, require_command};
use crate::util::vmcert_bin;

/// Checks a namespace VM cannot pass whatever the image (its `[fixed]` rows of
/// tests/lab/scenarios/expected.toml that are not Pass): left out through the template's
/// `vmcert_args`, as a publisher passes `--waivers` or `--skip` there.
const LAB_SKIP: &str = "--skip single-root-partition,os-disk-first-mib-free,hyperv-drivers-present";

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/packer")
        .join(name)
}

/// Runs `cmd` in the VM as its user over SSH (key login, the VM's own host key).
fn in_vm(vm: &LabVm, known_hosts: &Path, cmd: &str) {
    let out = Command::new("ssh")
        .args([
            "-F",
            "/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
        ])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
        .args([
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "IdentityAgent=none",
        ])
        .arg("-i")
        .arg(&vm.key_ed25519)
        .args(["-p", &vm.port.to_string()])
        .arg(format!("{}@{}", vm.user, vm.host))
        .arg(cmd)
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::null())
        .output()
        .expect("run ssh");
    assert!(
        out.status.success(),
        "in the VM: {cmd}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `packer build` of the example `template` against `vm`, the report downloaded into `out`.
fn packer_build(vm: &LabVm, template: &str, home: &Path, out: &Path) -> Output {
    Command::new("packer")
        .args(["build", "-color=false"])
        .args(["-var", &format!("host={}", vm.host)])
        .args(["-var", &format!("port={}", vm.port)])
        .args(["-var", &format!("user={}", vm.user)])
        .arg("-var")
        .arg(format!("private_key_file={}", vm.key_ed25519.display()))
        .arg("-var")
        .arg(format!("vmcert_binary={}", vmcert_bin().display()))
        .arg("-var")
        .arg(format!("output_dir={}", out.display()))
        .arg("-var")
        .arg(format!("vmcert_args=--allow-unanswered {LAB_SKIP}"))
        .arg(example(template))
        .current_dir(home)
        // No call home to HashiCorp's checkpoint service, no user config, no plugins of the host.
        .env("CHECKPOINT_DISABLE", "1")
        .env("HOME", home)
        .env_remove("PACKER_LOG")
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::null())
        .output()
        .expect("run packer")
}

/// `results.json` of the report zip Packer downloaded.
fn results(out: &Path) -> Value {
    let zip = out.join("vmcert-report.zip");
    let file = fs::File::open(&zip).unwrap_or_else(|e| panic!("{}: {e}", zip.display()));
    let mut archive = zip::ZipArchive::new(file).expect("report zip");
    let mut text = String::new();
    archive
        .by_name("results.json")
        .expect("results.json in the zip")
        .read_to_string(&mut text)
        .expect("read results.json");
    serde_json::from_str(&text).expect("results.json is JSON")
}

fn status<'a>(results: &'a Value, id: &str) -> (&'a str, &'a str) {
    let c = results["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in the report"));
    (
        c["status"].as_str().expect("status"),
        c["message"].as_str().expect("message"),
    )
}

fn log(out: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn packer_build_phase_passes_what_deprovisioning_removes_and_fails_a_kept_root_key() {
    require_command("packer");
    let vm = LabVm::start("keyonly");
    let home = tempfile::tempdir().expect("temp dir");
    let known_hosts = home.path().join("known_hosts");
    fs::write(&known_hosts, vm.known_hosts_line()).expect("write known_hosts");

    // What a build leaves and `waagent -deprovision+user` removes: the build user's history,
    // root's .bash_history, and the key Packer's azure-arm builder generates for the build user
    // (its comment format; the lab's own public key, so no key is made up).
    let pubkey = fs::read_to_string(vm.key_ed25519.with_extension("pub")).expect("lab public key");
    let key: Vec<&str> = pubkey.split_whitespace().take(2).collect();
    let packer_key = format!(
        "{} packer Azure Deployment2026-12-06T17:02:11Z",
        key.join(" ")
    );
    in_vm(
        &vm,
        &known_hosts,
        &format!(
            "printf 'sudo apt-get install -y nginx\\n' >> ~/.bash_history && \
             echo '{packer_key}' >> ~/.ssh/authorized_keys && \
             sudo sh -c 'echo \"apt-get update\" > /root/.bash_history'"
        ),
    );

    for template in ["vmcert-build-check.json", "vmcert-build-check.pkr.hcl"] {
        let out = home.path().join(template.replace('.', "-"));
        let build = packer_build(&vm, template, home.path(), &out);
        assert!(
            build.status.success(),
            "{template}: packer build failed\n{}",
            log(&build)
        );
        let r = results(&out);
        assert_eq!(r["scope"]["phase"], "build", "{template}");
        assert_eq!(r["summary"]["outcome"], "pre-check", "{template}");
        assert_eq!(r["summary"]["certified"], false, "{template}");
        assert_eq!(r["summary"]["fail"], 0, "{template}");
        let (s, msg) = status(&r, "bash-history-cleared");
        assert_eq!(s, "Warning", "{template}: {msg}");
        assert!(
            msg.contains("/home/azureuser/.bash_history") && msg.contains("/root/.bash_history"),
            "{msg}"
        );
        let (s, msg) = status(&r, "no-leftover-authorized-keys");
        assert_eq!(s, "Warning", "{template}: {msg}");
        assert!(msg.contains("Packer's temporary build key"), "{msg}");
        let junit = fs::read_to_string(out.join("vmcert-junit.xml")).expect("junit downloaded");
        assert!(
            junit.contains(r#"<property name="phase" value="build"/>"#),
            "{junit}"
        );
    }

    // A defect deprovisioning keeps: Packer's key copied into root's authorized_keys (root is
    // never the deleted account). The build must fail, after the report came back.
    in_vm(
        &vm,
        &known_hosts,
        "sudo sh -c 'grep \"packer Azure Deployment\" /home/azureuser/.ssh/authorized_keys \
         >> /root/.ssh/authorized_keys'",
    );
    let out = home.path().join("defect");
    let build = packer_build(&vm, "vmcert-build-check.json", home.path(), &out);
    assert!(
        !build.status.success(),
        "packer build passed a kept root key\n{}",
        log(&build)
    );
    assert!(
        String::from_utf8_lossy(&build.stdout).contains("vmcert exited with 1"),
        "{}",
        log(&build)
    );
    let r = results(&out);
    assert_eq!(r["scope"]["phase"], "build");
    assert_eq!(r["summary"]["outcome"], "failed");
    let (s, msg) = status(&r, "no-leftover-authorized-keys");
    assert_eq!(s, "Fail", "{msg}");
    assert!(msg.contains("/root/.ssh/authorized_keys"), "{msg}");
}

/// The azure-arm build that examples/packer/README.md shows (its one `hcl` block) is a template
/// Packer accepts: `packer validate`, which needs no Azure account.
#[test]
fn the_readme_azure_arm_build_validates() {
    require_command("packer");
    let readme = fs::read_to_string(example("README.md")).expect("examples/packer/README.md");
    let start = readme
        .find("```hcl\n")
        .expect("an ```hcl block in the README")
        + 7;
    let len = readme[start..]
        .find("```")
        .expect("the end of the hcl block");
    let home = tempfile::tempdir().expect("temp dir");
    let template = home.path().join("azure-arm.pkr.hcl");
    fs::write(&template, &readme[start..start + len]).expect("write the template");
    let out = Command::new("packer")
        .arg("validate")
        .arg("-var")
        .arg(format!("vmcert_binary={}", vmcert_bin().display()))
        .arg(&template)
        .current_dir(home.path())
        .env("CHECKPOINT_DISABLE", "1")
        .env("HOME", home.path())
        .stdin(Stdio::null())
        .output()
        .expect("run packer validate");
    assert!(out.status.success(), "packer validate\n{}", log(&out));
}
