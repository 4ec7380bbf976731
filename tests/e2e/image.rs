//! `vmcert run --image`: the disk image checked offline. Against the qemu builder's real images
//! (each variant's offline verdicts equal the live verdicts expected.toml records for the same
//! VHD booted under qemu; golden also over a SAS URL from Azurite, with bounded reads and no
//! signature anywhere), and against bad input built here without mounting anything (mkfs.ext4
//! -d from a directory tree, partition tables written byte by byte, qemu-img conversions):
//! a clear error and exit 2 where nothing could be read, a verdict otherwise, never a panic.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::azurite::{assert_no_signature, azurite, sas_now};
use crate::qemu::{Expected, Image};
use crate::util::vmcert_bin;

/// Checks whose probes ask a running system (loaded firewall rules, pending updates against
/// the package lists, running daemons, the Azure temp disk): an image run says they need a live
/// run.
const LIVE_ONLY: &[&str] = &[
    "firewall-no-rules",
    "security-updates-pending",
    "hv-kvp-daemon",
    "resource-disk",
];

fn run_image(image: &str, out: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(vmcert_bin());
    cmd.args([
        "run",
        "--image",
        image,
        "--non-interactive",
        "--allow-unanswered",
    ])
    .args(["--format", "json", "--out"])
    .arg(out);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run vmcert")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Check id -> status from `run --format json`.
fn statuses(out: &Output) -> BTreeMap<String, String> {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "vmcert printed no JSON ({e}):\nstdout {}\nstderr {}",
            text(&out.stdout),
            text(&out.stderr)
        )
    });
    assert_eq!(
        v["summary"]["certified"], false,
        "an image run is a pre-check"
    );
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Every file of the report zip, as text.
fn zip_texts(path: &Path) -> BTreeMap<String, String> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut out = BTreeMap::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let mut s = Vec::new();
        f.read_to_end(&mut s).unwrap();
        out.insert(f.name().to_string(), text(&s));
    }
    out
}

fn assert_live_verdicts(
    variant: &str,
    got: &BTreeMap<String, String>,
    want: &BTreeMap<String, String>,
) {
    for (id, status) in want {
        let have = got.get(id).map_or("missing", String::as_str);
        if LIVE_ONLY.contains(&id.as_str()) {
            assert_eq!(have, "NotApplicable", "{variant}: {id} needs a live run");
        } else {
            assert_eq!(
                have, status,
                "{variant}: {id} offline {have}, live {status}"
            );
        }
    }
}

/// `N bytes read in M reads` of the run log.
fn reads(log: &str) -> (u64, u64) {
    let line = log
        .lines()
        .find(|l| l.contains(" bytes read in "))
        .unwrap_or_else(|| panic!("no read count in the run log:\n{log}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "bytes").unwrap();
    (
        words[at - 1].parse().unwrap(),
        words[at + 3].parse().unwrap(),
    )
}

#[test]
fn image_check_of_every_qemu_variant_gives_the_live_verdicts_and_golden_reads_the_same_over_sas() {
    let expected = Expected::load();
    let dir = tempfile::tempdir().unwrap();
    for variant in expected.variants() {
        let image = Image::build(&variant);
        let zip = dir.path().join(format!("{variant}.zip"));
        let out = run_image(image.vhd.to_str().unwrap(), &zip, &[]);
        let want = expected.statuses(&variant);
        let got = statuses(&out);
        assert_live_verdicts(&variant, &got, &want);
        let code = out.status.code();
        let fails = want.values().any(|s| s == "Fail");
        assert_eq!(
            code,
            Some(i32::from(fails)),
            "{variant}: {}",
            text(&out.stderr)
        );
        let files = zip_texts(&zip);
        let results = &files["results.json"];
        assert!(results.contains("\"transport\": \"image\""), "{results}");
        if variant != "golden" {
            continue;
        }
        // The same VHD as a page blob, its SAS URL in an environment variable.
        let az = azurite();
        az.create_container("images");
        az.put_page_blob_sparse("images", "golden.vhd", &image.vhd);
        let sas = sas_now("images", "r");
        let url = format!("{}/images/golden.vhd?{sas}", az.base());
        let zip = dir.path().join("golden-sas.zip");
        let out = run_image("env:VMCERT_IMAGE_URL", &zip, &[("VMCERT_IMAGE_URL", &url)]);
        assert_eq!(statuses(&out), got, "over SAS: {}", text(&out.stderr));
        let files = zip_texts(&zip);
        let (bytes, requests) = reads(&files["logs/run.log"]);
        assert!(bytes <= 64 << 20, "{bytes} bytes read over SAS");
        assert!(requests <= 400, "{requests} requests over SAS");
        assert_no_signature(&sas, &text(&out.stdout));
        assert_no_signature(&sas, &text(&out.stderr));
        for (name, body) in &files {
            assert!(!body.is_empty() || name.ends_with('/'), "{name} empty");
            assert_no_signature(&sas, body);
        }
    }
}

/// A small Linux root made with `mkfs.ext4 -d` (no mount, no root needed), as a raw disk with
/// one MBR partition at sector 2048.
struct SmallDisk {
    dir: tempfile::TempDir,
}

fn sh(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?}: {}", text(&out.stderr));
}

fn write(root: &Path, path: &str, body: &str) {
    let p = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, body).unwrap();
}

impl SmallDisk {
    /// The tree given by `plant` (on top of a minimal root) as `disk.raw`.
    fn build(plant: impl FnOnce(&Path)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        write(
            &root,
            "etc/os-release",
            "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
        );
        write(&root, "etc/fstab", "/dev/sda1 / ext4 defaults 0 1\n");
        write(
            &root,
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/bash\nazureuser:x:1000:1000::/home/azureuser:/bin/bash\n",
        );
        write(
            &root,
            "etc/shadow",
            "root:!:19000::::::\nazureuser:*:19000::::::\n",
        );
        std::fs::create_dir_all(root.join("root")).unwrap();
        std::fs::create_dir_all(root.join("home/azureuser")).unwrap();
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::copy("/bin/sh", root.join("bin/sh")).unwrap();
        plant(&root);
        let fs = dir.path().join("fs.img");
        sh(Command::new("mkfs.ext4")
            .args(["-q", "-F", "-b", "4096", "-d"])
            .arg(&root)
            .arg(&fs)
            .arg("64M"));
        let mut disk = vec![0u8; 2048 * 512];
        let sectors = u32::try_from(std::fs::metadata(&fs).unwrap().len() / 512).unwrap();
        let e = &mut disk[446..462];
        e[4] = 0x83;
        e[8..12].copy_from_slice(&2048u32.to_le_bytes());
        e[12..16].copy_from_slice(&sectors.to_le_bytes());
        disk[510] = 0x55;
        disk[511] = 0xaa;
        disk.extend(std::fs::read(&fs).unwrap());
        std::fs::write(dir.path().join("disk.raw"), disk).unwrap();
        Self { dir }
    }

    fn raw(&self) -> PathBuf {
        self.dir.path().join("disk.raw")
    }

    /// The disk converted by qemu-img (`vpc` with `subformat=fixed|dynamic`, or `vhdx`).
    fn convert(&self, format: &str, options: &[&str], name: &str) -> PathBuf {
        let out = self.dir.path().join(name);
        let mut cmd = Command::new("qemu-img");
        cmd.args(["convert", "-q", "-f", "raw", "-O", format]);
        for o in options {
            cmd.args(["-o", o]);
        }
        sh(cmd.arg(self.raw()).arg(&out));
        out
    }
}

fn assert_clear_exit_2(out: &Output, what: &str, says: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{what}: {err}");
    assert!(!err.contains("panicked"), "{what}: {err}");
    assert!(err.contains(says), "{what}: expected `{says}` in: {err}");
}

#[test]
fn bad_images_end_in_a_clear_error_or_a_verdict_never_a_panic() {
    let out_dir = tempfile::tempdir().unwrap();
    let zip = out_dir.path().join("r.zip");
    let disk = SmallDisk::build(|root| {
        // A symlink loop where a probe looks, and a 10 GiB sparse history file (root's: the
        // image's login user, azureuser, has its own history listed but not failed, as in LISA).
        std::os::unix::fs::symlink("waagent.conf", root.join("etc/waagent.conf")).unwrap();
        let f = std::fs::File::create(root.join("root/.bash_history")).unwrap();
        f.set_len(10 << 30).unwrap();
    });

    // The small disk itself: read, with verdicts (the loop is an absent file, as `[ -e ]` says).
    let out = run_image(disk.raw().to_str().unwrap(), &zip, &[]);
    let got = statuses(&out);
    assert_eq!(got["bash-history-cleared"], "Fail", "{}", text(&out.stderr));
    assert_eq!(got["os-architecture"], "Pass");
    assert_eq!(got["os-disk-first-mib-free"], "Pass");
    assert!(!text(&out.stderr).contains("panicked"));
    let vhd = disk.convert("vpc", &["subformat=fixed,force_size=on"], "fixed.vhd");
    let out = run_image(vhd.to_str().unwrap(), &zip, &[]);
    assert_eq!(statuses(&out)["bash-history-cleared"], "Fail");
    // A captured disk is past deprovisioning: the build phase is refused, before any report.
    let build = Command::new(vmcert_bin())
        .args(["run", "--image", vhd.to_str().unwrap(), "--phase", "build"])
        .args(["--non-interactive", "--allow-unanswered", "--out"])
        .arg(out_dir.path().join("build.zip"))
        .output()
        .expect("run vmcert");
    assert_clear_exit_2(
        &build,
        "--phase build of an image",
        "--phase build is for a run inside the build VM",
    );
    assert!(!out_dir.path().join("build.zip").exists());

    let dir = disk.dir.path();
    let random = dir.join("random.bin");
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let bytes: Vec<u8> = (0..1 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[0]
        })
        .collect();
    std::fs::write(&random, bytes).unwrap();
    assert_clear_exit_2(
        &run_image(random.to_str().unwrap(), &zip, &[]),
        "random bytes",
        "not a disk image",
    );

    let dynamic = disk.convert("vpc", &["subformat=dynamic"], "dynamic.vhd");
    assert_clear_exit_2(
        &run_image(dynamic.to_str().unwrap(), &zip, &[]),
        "dynamic VHD",
        "dynamic VHD",
    );
    let vhdx = disk.convert("vhdx", &[], "disk.vhdx");
    assert_clear_exit_2(
        &run_image(vhdx.to_str().unwrap(), &zip, &[]),
        "VHDX",
        "VHDX",
    );

    // A fixed VHD cut in the middle of its file system.
    let cut = dir.join("truncated.vhd");
    std::fs::copy(&vhd, &cut).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&cut)
        .unwrap()
        .set_len(3 << 20)
        .unwrap();
    assert_clear_exit_2(
        &run_image(cut.to_str().unwrap(), &zip, &[]),
        "truncated VHD",
        "root",
    );

    // A partition table pointing outside the disk.
    let mut raw = std::fs::read(disk.raw()).unwrap();
    raw[446 + 8..446 + 12].copy_from_slice(&0x00ff_0000u32.to_le_bytes());
    let outside = dir.join("outside.raw");
    std::fs::write(&outside, &raw).unwrap();
    assert_clear_exit_2(
        &run_image(outside.to_str().unwrap(), &zip, &[]),
        "partition outside the disk",
        "beyond the end of the disk",
    );

    // A corrupt superblock (block count zeroed, magic kept).
    let mut raw = std::fs::read(disk.raw()).unwrap();
    let sb = 2048 * 512 + 1024;
    raw[sb + 4..sb + 8].fill(0);
    let corrupt = dir.join("corrupt.raw");
    std::fs::write(&corrupt, &raw).unwrap();
    assert_clear_exit_2(
        &run_image(corrupt.to_str().unwrap(), &zip, &[]),
        "corrupt superblock",
        "cannot be read",
    );

    // Other file systems: named, and pointed to a live run.
    let mut raw = std::fs::read(disk.raw()).unwrap();
    let p = 2048 * 512;
    raw[p..p + 4096].fill(0);
    raw[p..p + 4].copy_from_slice(b"XFSB");
    let xfs = dir.join("xfs.raw");
    std::fs::write(&xfs, &raw).unwrap();
    assert_clear_exit_2(
        &run_image(xfs.to_str().unwrap(), &zip, &[]),
        "XFS root",
        "xfs",
    );
    assert!(text(&run_image(xfs.to_str().unwrap(), &zip, &[]).stderr).contains("live run"));
    let mut raw = std::fs::read(disk.raw()).unwrap();
    raw[p..p + 4096].fill(0);
    raw[p + 512..p + 520].copy_from_slice(b"LABELONE");
    let lvm = dir.join("lvm.raw");
    std::fs::write(&lvm, &raw).unwrap();
    assert_clear_exit_2(
        &run_image(lvm.to_str().unwrap(), &zip, &[]),
        "LVM root",
        "LVM2_member",
    );
}

/// Writes `src` into `disk` at sector `start`.
fn put(disk: &mut Vec<u8>, start: usize, src: &Path) {
    let b = std::fs::read(src).unwrap();
    let at = start * 512;
    if disk.len() < at + b.len() {
        disk.resize(at + b.len(), 0);
    }
    disk[at..at + b.len()].copy_from_slice(&b);
}

#[test]
fn gpt_image_with_boot_on_its_own_partition_and_a_swap_partition_from_fstab() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (boot_uuid, swap_partuuid) = (
        "0b0e0b0e-1111-4222-8333-444455556666",
        "5a5a5a5a-1111-4222-8333-444455556666",
    );
    let root = d.join("root");
    write(
        &root,
        "etc/os-release",
        "ID=ubuntu\nVERSION_ID=\"22.04\"\nPRETTY_NAME=\"Ubuntu 22.04\"\n",
    );
    write(
        &root,
        "etc/fstab",
        &format!(
            "LABEL=rootfs / ext4 defaults 0 1\nUUID={boot_uuid} /boot ext4 defaults 0 2\nPARTUUID={swap_partuuid} none swap sw 0 0\n"
        ),
    );
    write(&root, "etc/passwd", "root:x:0:0:root:/root:/bin/bash\n");
    write(&root, "etc/shadow", "root:*:19000::::::\n");
    std::fs::create_dir_all(root.join("boot")).unwrap();
    std::fs::create_dir_all(root.join("usr/bin")).unwrap();
    std::fs::copy("/bin/sh", root.join("usr/bin/sh")).unwrap();
    std::os::unix::fs::symlink("usr/bin", root.join("bin")).unwrap();
    // The kernel the GRUB entry names: hv_vmbus built in, hv_netvsc a module, and hv_storvsc
    // listed by modules.dep but its file gone (modinfo fails on it: missing).
    let mods = "usr/lib/modules/5.15.0-1";
    write(
        &root,
        &format!("{mods}/modules.builtin"),
        "kernel/drivers/hv/hv_vmbus.ko\n",
    );
    write(
        &root,
        &format!("{mods}/modules.dep"),
        "kernel/drivers/net/hyperv/hv_netvsc.ko.zst:\nkernel/drivers/scsi/hv_storvsc.ko.zst:\n",
    );
    write(
        &root,
        &format!("{mods}/kernel/drivers/net/hyperv/hv_netvsc.ko.zst"),
        "x",
    );
    std::os::unix::fs::symlink("usr/lib", root.join("lib")).unwrap();
    let boot = d.join("boot");
    write(
        &boot,
        "grub/grub.cfg",
        "set default=\"0\"\nmenuentry 'Ubuntu' {\n\tlinux\t/vmlinuz-5.15.0-1 root=LABEL=rootfs ro console=ttyS0 earlyprintk=ttyS0 rootdelay=300 $vt_handoff\n\tinitrd /initrd.img-5.15.0-1\n}\n",
    );
    write(&boot, "vmlinuz-5.15.0-1", "not a kernel");
    let fs = |src: &Path, out: &str, extra: &[&str]| {
        let p = d.join(out);
        sh(Command::new("mkfs.ext4")
            .args(["-q", "-F", "-b", "4096"])
            .args(extra)
            .arg("-d")
            .arg(src)
            .arg(&p)
            .arg("16M"));
        p
    };
    let root_img = fs(&root, "root.img", &["-L", "rootfs"]);
    let boot_img = fs(&boot, "boot.img", &["-U", boot_uuid]);
    let swap_img = d.join("swap.img");
    std::fs::File::create(&swap_img)
        .unwrap()
        .set_len(8 << 20)
        .unwrap();
    sh(Command::new("mkswap").arg("-q").arg(&swap_img));
    let disk = d.join("gpt.raw");
    std::fs::File::create(&disk)
        .unwrap()
        .set_len(48 << 20)
        .unwrap();
    let script = format!(
        "label: gpt\nstart=2048, size=2048, type=21686148-6449-6E6F-744E-656564454649\nstart=4096, size=32768, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\nstart=36864, size=32768, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\nstart=69632, size=16384, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, uuid={swap_partuuid}\n"
    );
    let mut sf = Command::new("sfdisk");
    sf.args(["-q", "--no-reread", "--no-tell-kernel"])
        .arg(&disk);
    sf.stdin(std::process::Stdio::piped());
    let mut child = sf.spawn().unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), script.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success(), "sfdisk");
    let mut bytes = std::fs::read(&disk).unwrap();
    put(&mut bytes, 4096, &boot_img);
    put(&mut bytes, 36864, &root_img);
    put(&mut bytes, 69632, &swap_img);
    std::fs::write(&disk, bytes).unwrap();

    let zip = d.join("r.zip");
    let out = run_image(disk.to_str().unwrap(), &zip, &[]);
    let got = statuses(&out);
    assert_eq!(got["no-swap-on-os-disk"], "Fail", "{}", text(&out.stderr));
    assert_eq!(got["kernel-boot-parameters"], "Pass");
    assert_eq!(got["os-disk-first-mib-free"], "Pass");
    assert_eq!(got["os-architecture"], "Pass");
    let files = zip_texts(&zip);
    let log = &files["logs/run.log"];
    assert!(
        log.contains("partition table: gpt, 4 partition(s)"),
        "{log}"
    );
    assert!(log.contains("mounted at /boot"), "{log}");
    let results = &files["results.json"];
    assert!(results.contains("swap partition /dev/sda4"), "{results}");
    assert_eq!(got["hyperv-drivers-present"], "Fail");
    let check_log = &files["logs/hyperv-drivers-present.log"];
    assert!(
        check_log.contains("bytes, in probes/hyperv-modules.log"),
        "the check's log names its probe's log: {check_log}"
    );
    let hv = &files["probes/hyperv-modules.log"];
    assert!(
        hv.contains("hv_vmbus builtin")
            && hv.contains("hv_netvsc available")
            && hv.contains("hv_storvsc missing"),
        "{hv}"
    );
}

/// Debian's python3, where python3-hivex is installed (a pyenv `python3` first in PATH has not).
const PYTHON: &str = "/usr/bin/python3";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("e2e/fixtures")
        .join(name)
}

/// A Windows-layout disk built without mounting: mkntfs formats a volume, ntfs-3g's library
/// makes the directories (fixtures/ntfs_mkdir.py), the SYSTEM and SOFTWARE hives are written
/// from JSON specs with hivex (fixtures/make_hive.py), ntfscp copies the files in, and the volume
/// goes into an MBR disk at sector 2048 with type 0x07.
fn windows_disk(
    dir: &Path,
    system: &serde_json::Value,
    software: &serde_json::Value,
    files: &[(&str, &str)],
) -> PathBuf {
    let ntfs = dir.join("ntfs.img");
    std::fs::File::create(&ntfs)
        .unwrap()
        .set_len(16 << 20)
        .unwrap();
    sh(Command::new("mkntfs").args(["-F", "-Q", "-q"]).arg(&ntfs));
    let mut dirs = vec!["Windows/System32/config".to_string()];
    dirs.extend(
        files
            .iter()
            .filter_map(|(p, _)| p.rsplit_once('/').map(|(d, _)| d.to_string())),
    );
    sh(Command::new(PYTHON)
        .arg(fixture("ntfs_mkdir.py"))
        .arg(&ntfs)
        .args(&dirs));
    let mut copies: Vec<(PathBuf, String)> = Vec::new();
    for (name, spec) in [("SYSTEM", system), ("SOFTWARE", software)] {
        let spec_path = dir.join(format!("{name}.json"));
        std::fs::write(&spec_path, spec.to_string()).unwrap();
        let hive = dir.join(name);
        sh(Command::new(PYTHON)
            .arg(fixture("make_hive.py"))
            .arg(&hive)
            .arg(&spec_path));
        copies.push((hive, format!("Windows/System32/config/{name}")));
    }
    for (i, (path, body)) in files.iter().enumerate() {
        let src = dir.join(format!("file{i}"));
        std::fs::write(&src, body).unwrap();
        copies.push((src, (*path).to_string()));
    }
    for (src, dest) in copies {
        sh(Command::new("ntfscp")
            .args(["-f", "-q"])
            .arg(&ntfs)
            .arg(src)
            .arg(dest));
    }
    let mut disk = vec![0u8; 2048 * 512];
    let e = &mut disk[446..462];
    e[4] = 0x07;
    e[8..12].copy_from_slice(&2048u32.to_le_bytes());
    e[12..16].copy_from_slice(&(32768u32).to_le_bytes());
    disk[510] = 0x55;
    disk[511] = 0xaa;
    put(&mut disk, 2048, &ntfs);
    let raw = dir.join("windows.raw");
    std::fs::write(&raw, disk).unwrap();
    raw
}

/// The SYSTEM hive of an Azure-ready image, changed by `edit`.
fn system_hive(edit: impl FnOnce(&mut serde_json::Value)) -> serde_json::Value {
    let mut v = serde_json::json!({
        "Select": {"Current": ["dword", 1]},
        "Setup\\Status\\SysprepStatus": {"GeneralizationState": ["dword", 7], "CleanupState": ["dword", 2]},
        "ControlSet001\\Services\\RdAgent": {"Start": ["dword", 2], "ImagePath": ["expand_sz", "C:\\WindowsAzure\\Packages\\WaAppAgent.exe"]},
        "ControlSet001\\Services\\WindowsAzureGuestAgent": {"Start": ["dword", 2], "ImagePath": ["expand_sz", "C:\\WindowsAzure\\GuestAgent\\WindowsAzureGuestAgent.exe"]},
        "ControlSet001\\Control\\Terminal Server": {"fDenyTSConnections": ["dword", 0]},
        "ControlSet001\\Control\\Terminal Server\\WinStations\\RDP-Tcp": {"PortNumber": ["dword", 3389]},
        "ControlSet001\\Services\\SharedAccess\\Parameters\\FirewallPolicy\\FirewallRules": {
            "RemoteDesktop-UserMode-In-TCP": ["sz", "v2.30|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=3389|App=%SystemRoot%\\system32\\svchost.exe|Svc=termservice|Name=@FirewallAPI.dll,-28775|Desc=@FirewallAPI.dll,-28756|EmbedCtxt=@FirewallAPI.dll,-28752|"],
            "RemoteDesktop-Shadow-In-TCP": ["sz", "v2.30|Action=Allow|Active=TRUE|Dir=In|Protocol=6|App=%SystemRoot%\\system32\\RdpSa.exe|Name=@FirewallAPI.dll,-28778|EmbedCtxt=@FirewallAPI.dll,-28752|"],
            "CoreNet-DHCP-In": ["sz", "v2.30|Action=Allow|Active=TRUE|Dir=In|Protocol=17|LPort=68|EmbedCtxt=@FirewallAPI.dll,-25000|"]
        },
        "ControlSet001\\Control\\Session Manager\\Environment": {"PROCESSOR_ARCHITECTURE": ["sz", "AMD64"]},
        "ControlSet001\\Control\\ComputerName\\ComputerName": {"ComputerName": ["sz", "WIN-GOLDEN"]}
    });
    edit(&mut v);
    v
}

fn software_hive(image_state: &str) -> serde_json::Value {
    serde_json::json!({
        "Microsoft\\Windows\\CurrentVersion\\Setup\\State": {"ImageState": ["sz", image_state]},
        "Microsoft\\Windows NT\\CurrentVersion": {
            "ProductName": ["sz", "Windows Server 2022 Datacenter"],
            "CurrentBuild": ["sz", "20348"],
            "CurrentMajorVersionNumber": ["dword", 10],
            "CurrentMinorVersionNumber": ["dword", 0]
        }
    })
}

const SETUPACT: &str = "2026-11-30 10:00:01, Info       [0x0f005f] SYSPRP ParseCommands:Found supported command line option 'GENERALIZE'\r\n\
2026-11-30 10:00:02, Info                  SYSPRP SysprepSession::Execute: Beginning action execution from C:\\Windows\\System32\\Sysprep\\ActionFiles\\Generalize.xml\r\n\
2026-11-30 10:00:09, Info                  SYSPRP Sysprep_Clean_Validate_Opk: There are no Opk-related registry keys\r\n\
2026-11-30 10:00:10, Info       [0x0f004d] SYSPRP WinMain:Processing 'generalize' internal provider request.\r\n";

/// The Windows checks a disk can decide, and the others: NotApplicable, needing a live run.
fn assert_windows_statuses(what: &str, got: &BTreeMap<String, String>, decided: &[(&str, &str)]) {
    assert!(got.len() > decided.len(), "{what}: {got:?}");
    for (id, status) in got {
        let want = decided
            .iter()
            .find(|(d, _)| d == id)
            .map_or("NotApplicable", |(_, s)| s);
        assert_eq!(status, want, "{what}: {id}");
    }
}

#[test]
fn windows_images_generalized_or_not_get_their_offline_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good");
    std::fs::create_dir(&good).unwrap();
    let raw = windows_disk(
        &good,
        &system_hive(|_| {}),
        &software_hive("IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE"),
        &[
            ("Windows/System32/Sysprep/Panther/setupact.log", SETUPACT),
            ("Windows/System32/Sysprep/Sysprep_succeeded.tag", ""),
        ],
    );
    let zip = good.join("r.zip");
    let out = run_image(raw.to_str().unwrap(), &zip, &[]);
    let got = statuses(&out);
    assert_windows_statuses(
        "generalized",
        &got,
        &[
            ("image-generalized", "Pass"),
            ("rdp-enabled", "Pass"),
            ("os-architecture", "Pass"),
            ("sql-server-not-self-installed", "Pass"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let files = zip_texts(&zip);
    let results = &files["results.json"];
    assert!(results.contains("\"transport\": \"image\""), "{results}");
    assert!(
        results.contains(
            "both Azure VM Agent services are installed (RdAgent Auto, WindowsAzureGuestAgent Auto)"
        ),
        "{results}"
    );
    assert!(results.contains("Needs a live run"), "{results}");

    // The same disk as a page blob behind a SAS URL: the same verdicts, no signature anywhere.
    let az = azurite();
    az.create_container("winimages");
    az.put_page_blob_sparse("winimages", "generalized.raw", &raw);
    let sas = sas_now("winimages", "r");
    let url = format!("{}/winimages/generalized.raw?{sas}", az.base());
    let sas_zip = good.join("sas.zip");
    let sas_out = run_image(
        "env:VMCERT_IMAGE_URL",
        &sas_zip,
        &[("VMCERT_IMAGE_URL", &url)],
    );
    assert_eq!(
        statuses(&sas_out),
        got,
        "over SAS: {}",
        text(&sas_out.stderr)
    );
    assert_no_signature(&sas, &text(&sas_out.stdout));
    assert_no_signature(&sas, &text(&sas_out.stderr));
    let sas_files = zip_texts(&sas_zip);
    let (bytes, requests) = reads(&sas_files["logs/run.log"]);
    assert!(bytes <= 8 << 20, "{bytes} bytes read over SAS");
    assert!(requests <= 100, "{requests} requests over SAS");
    for body in sas_files.values() {
        assert_no_signature(&sas, body);
    }

    // Captured without sysprep, RdAgent missing, RDP denied.
    let bad = dir.path().join("bad");
    std::fs::create_dir(&bad).unwrap();
    let raw = windows_disk(
        &bad,
        &system_hive(|v| {
            let m = v.as_object_mut().unwrap();
            m.remove("Setup\\Status\\SysprepStatus");
            m.remove("ControlSet001\\Services\\RdAgent");
            m["ControlSet001\\Control\\Terminal Server"]["fDenyTSConnections"] =
                serde_json::json!(["dword", 1]);
            m.insert(
                "ControlSet001\\Services\\MSSQLSERVER".to_string(),
                serde_json::json!({"Start": ["dword", 2], "DisplayName": ["sz", "SQL Server (MSSQLSERVER)"]}),
            );
        }),
        &software_hive("IMAGE_STATE_COMPLETE"),
        &[(
            "Windows/Panther/setupact.log",
            "2026-11-30 09:00:00, Info                  [windeploy.exe] Setup complete\r\n",
        )],
    );
    let out = run_image(raw.to_str().unwrap(), &bad.join("r.zip"), &[]);
    let got = statuses(&out);
    assert_windows_statuses(
        "not generalized",
        &got,
        &[
            ("image-generalized", "Fail"),
            ("azure-vm-agent-installed", "Fail"),
            ("rdp-enabled", "Fail"),
            ("os-architecture", "Pass"),
            ("sql-server-not-self-installed", "Warning"),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
}

#[test]
fn corrupt_windows_hives_and_volumes_are_errors_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    // A SYSTEM hive whose root cell points outside it: the checks reading it are in Error.
    let raw = windows_disk(
        dir.path(),
        &system_hive(|_| {}),
        &software_hive("IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE"),
        &[],
    );
    let mut hive = std::fs::read(dir.path().join("SYSTEM")).unwrap();
    hive[0x24..0x28].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    let bad_hive = dir.path().join("SYSTEM.bad");
    std::fs::write(&bad_hive, &hive).unwrap();
    let ntfs = dir.path().join("ntfs.img");
    sh(Command::new("ntfscp")
        .args(["-f", "-q"])
        .arg(&ntfs)
        .arg(&bad_hive)
        .arg("Windows/System32/config/SYSTEM"));
    let mut disk = std::fs::read(&raw).unwrap();
    put(&mut disk, 2048, &ntfs);
    std::fs::write(&raw, &disk).unwrap();
    let out = run_image(raw.to_str().unwrap(), &dir.path().join("r.zip"), &[]);
    let err = text(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    let got = statuses(&out);
    for id in [
        "image-generalized",
        "rdp-enabled",
        "azure-vm-agent-installed",
    ] {
        assert_eq!(got[id], "Error", "{id}: {got:?}");
    }
    assert_eq!(out.status.code(), Some(2), "{err}");
    let results = zip_texts(&dir.path().join("r.zip"))["results.json"].clone();
    assert!(results.contains("corrupt registry hive"), "{results}");

    // The volume's MFT overwritten: no Windows volume, a clear exit 2.
    // The boot sector: bytes per sector at 0x0b, sectors per cluster at 0x0d, the MFT's cluster
    // at 0x30.
    let boot = &disk[2048 * 512..2048 * 512 + 512];
    let cluster = u64::from(u16::from_le_bytes([boot[0x0b], boot[0x0c]])) * u64::from(boot[0x0d]);
    let mft_lcn = u64::from_le_bytes(boot[0x30..0x38].try_into().unwrap());
    let at = 2048 * 512 + usize::try_from(mft_lcn * cluster).unwrap();
    for b in &mut disk[at..at + 64 * 1024] {
        *b = 0xa5;
    }
    std::fs::write(&raw, &disk).unwrap();
    let out = run_image(raw.to_str().unwrap(), &dir.path().join("r2.zip"), &[]);
    assert_clear_exit_2(
        &out,
        "NTFS with a broken MFT",
        "no NTFS partition holds a readable Windows",
    );
}

#[test]
fn fleet_takes_image_targets_relative_to_its_inventory() {
    let disk = SmallDisk::build(|_| {});
    let d = disk.dir.path();
    std::fs::write(
        d.join("fleet.toml"),
        "[defaults]\nallow_unanswered = true\n\n[[target]]\nname = \"img\"\ntarget = \"image:disk.raw\"\n",
    )
    .unwrap();
    let out = Command::new(vmcert_bin())
        .current_dir("/")
        .args(["fleet", "--inventory"])
        .arg(d.join("fleet.toml"))
        .arg("--out-dir")
        .arg(d.join("reports"))
        .output()
        .unwrap();
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    // The small disk has no agent, grub or sshd: some checks fail, as they would live.
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("Completed 1, failed 0"), "{all}");
    let results = &zip_texts(&d.join("reports/img.zip"))["results.json"];
    assert!(results.contains("\"transport\": \"image\""), "{results}");
}
