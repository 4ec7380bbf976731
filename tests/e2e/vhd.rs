//! `vmcert vhd inspect` on real disk images made by qemu-img (and sfdisk for the partitioned OS
//! disks) at test time, read locally and over SAS URLs from Azurite as page blobs. The images
//! are sparse, so even the 1100 GiB one costs a few KiB of disk; nothing is committed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

use crate::azurite::{assert_no_signature, azurite, sas_now};
use crate::util::vmcert;

fn run_tool(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run it ({e}); install qemu-utils and fdisk (bash tests/lab/install-prereqs.sh)"));
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn qemu_img(args: &[&str], dir: &Path) {
    run_tool(
        Command::new("qemu-img").current_dir(dir).args(args),
        &format!("qemu-img {}", args.join(" ")),
    );
}

/// A raw disk of `size` with one partition starting at sector `start` (label `dos` or `gpt`),
/// converted to a fixed VHD with force_size, as the certification docs recommend.
fn partitioned_vhd(dir: &Path, name: &str, size: &str, label: &str, start: u32) {
    let raw = dir.join(format!("{name}.raw"));
    qemu_img(
        &["create", "-q", "-f", "raw", &format!("{name}.raw"), size],
        dir,
    );
    let mut child = Command::new("sfdisk")
        .args(["-q", "--no-reread"])
        .arg(&raw)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sfdisk runs (apt-get install fdisk)");
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().expect("stdin");
        // sfdisk keeps GPT partitions out of the first MiB unless first-lba says otherwise.
        let first_lba = if label == "gpt" {
            "first-lba: 34\n"
        } else {
            ""
        };
        writeln!(
            stdin,
            "label: {label}\n{first_lba}start={start}, type=linux"
        )
        .expect("sfdisk script");
    }
    let out = child.wait_with_output().expect("sfdisk finishes");
    assert!(
        out.status.success(),
        "sfdisk: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    qemu_img(
        &[
            "convert",
            "-f",
            "raw",
            "-O",
            "vpc",
            "-o",
            "subformat=fixed,force_size=on",
            &format!("{name}.raw"),
            &format!("{name}.vhd"),
        ],
        dir,
    );
    std::fs::remove_file(raw).expect("remove the raw image");
}

/// Runs `init` once for the whole test binary; if it panicked, every caller fails with that
/// first panic's message instead of a confusing follow-up error.
fn once<T: Send + Sync>(
    cell: &'static OnceLock<Result<T, String>>,
    init: impl FnOnce() -> T + std::panic::UnwindSafe,
) -> &'static T {
    let r = cell.get_or_init(|| {
        std::panic::catch_unwind(init).map_err(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_string()))
                .unwrap_or_default()
        })
    });
    match r {
        Ok(v) => v,
        Err(e) => panic!("fixture setup failed: {e}"),
    }
}

/// A fresh sparse copy of `from` (cp --sparse=always).
fn sparse_copy(from: &Path, to: &Path) {
    run_tool(
        Command::new("cp").arg("--sparse=always").arg(from).arg(to),
        "cp --sparse=always",
    );
}

fn fixtures() -> &'static Path {
    static FIXTURES: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir: &'static PathBuf = once(&FIXTURES, || {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("vhd-fixtures");
        if dir.exists() {
            std::fs::remove_dir_all(&dir).expect("remove old fixtures");
        }
        std::fs::create_dir_all(&dir).expect("fixture dir");
        let d = dir.as_path();
        for (name, format, options, size) in [
            (
                "fixed-force.vhd",
                "vpc",
                "subformat=fixed,force_size=on",
                "30G",
            ),
            ("fixed-chs.vhd", "vpc", "subformat=fixed", "30G"),
            ("dynamic.vhd", "vpc", "subformat=dynamic", "30G"),
            ("disk.vhdx", "vhdx", "subformat=dynamic", "30G"),
            ("tiny.vhd", "vpc", "subformat=fixed,force_size=on", "16M"),
            (
                "oversize.vhd",
                "vpc",
                "subformat=fixed,force_size=on",
                "1100G",
            ),
            ("small.vhd", "vpc", "subformat=fixed,force_size=on", "20M"),
        ] {
            qemu_img(
                &["create", "-q", "-f", format, "-o", options, name, size],
                d,
            );
        }
        // Corrupted checksum: one byte of the footer's unique id flipped.
        let bad = d.join("bad-checksum.vhd");
        sparse_copy(&d.join("small.vhd"), &bad);
        {
            use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
            let mut f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&bad)
                .expect("open");
            let at = f.metadata().expect("len").len() - 512 + 70;
            let mut b = [0u8; 1];
            f.seek(SeekFrom::Start(at))
                .and_then(|_| f.read_exact(&mut b))
                .expect("read footer byte");
            f.seek(SeekFrom::Start(at))
                .and_then(|_| f.write_all(&[b[0] ^ 0xff]))
                .expect("flip it");
        }
        // Truncated: the last KiB, footer included, is gone.
        let truncated = d.join("truncated.vhd");
        sparse_copy(&d.join("small.vhd"), &truncated);
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&truncated)
            .expect("open");
        f.set_len(f.metadata().expect("len").len() - 1024)
            .expect("truncate");
        partitioned_vhd(d, "os-2048", "30G", "dos", 2048);
        partitioned_vhd(d, "os-63", "30G", "dos", 63);
        partitioned_vhd(d, "os-gpt-2048", "30G", "gpt", 2048);
        partitioned_vhd(d, "os-gpt-34", "30G", "gpt", 34);
        dir
    });
    dir
}

/// A fixture of this run (made once in `target/tmp/vhd-fixtures`, wiped first).
fn fixture(name: &str) -> PathBuf {
    fixtures().join(name)
}

fn inspect_json(target: &str, extra: &[&str]) -> (Output, Value) {
    let mut args = vec!["vhd", "inspect", target, "--format", "json"];
    args.extend_from_slice(extra);
    let out = vmcert(&args);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout {} stderr {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, v)
}

fn local(name: &str, extra: &[&str]) -> (Output, Value) {
    inspect_json(fixture(name).to_str().expect("utf-8 path"), extra)
}

fn rule(v: &Value, id: &str) -> String {
    v["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("rule {id} missing: {v}"))["status"]
        .as_str()
        .expect("status")
        .to_string()
}

#[test]
fn fixed_vhd_with_force_size_passes_the_footer_rules() {
    let (out, v) = local("fixed-force.vhd", &["--role", "data"]);
    assert_eq!(out.status.code(), Some(0), "{v}");
    assert_eq!(v["format"], "vhd-fixed");
    assert_eq!(v["virtual_size"], 30u64 << 30);
    assert_eq!(v["file_size"], (30u64 << 30) + 512);
    assert_eq!(v["checksum_ok"], true);
    assert_eq!(v["creator"], "qem2 5.3 (Wi2k)");
    assert_eq!(v["acceptable"], true);
    for id in [
        "vhd-cookie",
        "vhd-fixed",
        "vhd-checksum",
        "vhd-size-mib-aligned",
        "vhd-length-matches",
        "vhd-min-size",
        "vhd-data-size",
    ] {
        assert_eq!(rule(&v, id), "Pass", "{id}: {v}");
    }
    assert_eq!(v["reads"], 2);
}

#[test]
fn fixed_vhd_without_force_size_is_not_mib_aligned() {
    let (out, v) = local("fixed-chs.vhd", &["--role", "data"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(v["format"], "vhd-fixed");
    // qemu-img rounds 30G to CHS geometry (research/feasibility.md §5).
    assert_eq!(v["virtual_size"], 32_212_647_936u64);
    assert_eq!(rule(&v, "vhd-size-mib-aligned"), "Fail");
    assert_eq!(rule(&v, "vhd-length-matches"), "Pass");
}

#[test]
fn dynamic_vhd_is_refused() {
    let (out, v) = local("dynamic.vhd", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(v["format"], "vhd-dynamic");
    assert_eq!(rule(&v, "vhd-cookie"), "Pass");
    assert_eq!(rule(&v, "vhd-fixed"), "Fail");
    assert_eq!(rule(&v, "vhd-length-matches"), "Fail");
    assert_eq!(v["footer"]["disk_type"], 3);
    assert_eq!(v["footer"]["data_offset"], "0x0000000000000200");
}

#[test]
fn vhdx_is_told_apart() {
    let (out, v) = local("disk.vhdx", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(v["format"], "vhdx");
    assert_eq!(rule(&v, "vhd-cookie"), "Fail");
    assert_eq!(v["checksum_ok"], Value::Null);
}

#[test]
fn tiny_vhd_is_below_the_minimum() {
    let (out, v) = local("tiny.vhd", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(rule(&v, "vhd-min-size"), "Fail");
    assert_eq!(rule(&v, "vhd-fixed"), "Pass");
}

#[test]
fn oversize_sparse_vhd_costs_two_reads() {
    let (out, v) = local("oversize.vhd", &["--role", "data"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(v["virtual_size"], 1100u64 << 30);
    assert_eq!(rule(&v, "vhd-data-size"), "Fail");
    assert_eq!(v["reads"], 2, "footer + first sectors, whatever the size");
    let (_, w) = local("oversize.vhd", &["--os", "windows"]);
    assert_eq!(w["role"], "os", "--os implies --role os");
    assert_eq!(rule(&w, "vhd-os-size"), "Fail");
}

#[test]
fn corrupted_checksum_is_caught() {
    let (out, v) = local("bad-checksum.vhd", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(v["checksum_ok"], false);
    assert_eq!(rule(&v, "vhd-checksum"), "Fail");
}

#[test]
fn truncated_vhd_has_no_footer() {
    let (out, v) = local("truncated.vhd", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(v["format"], "unknown");
    assert_eq!(rule(&v, "vhd-cookie"), "Fail");
}

#[test]
fn os_disks_first_mib() {
    for (name, first, status, scheme) in [
        ("os-2048.vhd", 2048, "Pass", "mbr"),
        ("os-63.vhd", 63, "Fail", "mbr"),
        ("os-gpt-2048.vhd", 2048, "Pass", "gpt"),
        ("os-gpt-34.vhd", 34, "Fail", "gpt"),
    ] {
        let (out, v) = local(name, &["--os", "linux"]);
        assert_eq!(rule(&v, "vhd-first-mib-free"), status, "{name}: {v}");
        assert_eq!(v["partition_table"]["scheme"], scheme, "{name}");
        assert_eq!(
            v["partition_table"]["partitions"][0]["start"], first,
            "{name}"
        );
        assert_eq!(
            out.status.code(),
            Some(if status == "Pass" { 0 } else { 1 }),
            "{name}: {v}"
        );
        assert_eq!(
            v["reads"], 2,
            "{name}: the GPT entries sit in the first 34 sectors"
        );
    }
    let (_, data) = local("os-63.vhd", &["--role", "data"]);
    assert_eq!(rule(&data, "vhd-first-mib-free"), "NotApplicable");
}

#[test]
fn windows_os_disk_size_follows_the_profile() {
    let (_, current) = local("os-2048.vhd", &["--os", "windows"]);
    assert_eq!(rule(&current, "vhd-os-size"), "Pass");
    let (out, toolkit) = local("os-2048.vhd", &["--os", "windows", "--profile", "toolkit"]);
    assert_eq!(
        rule(&toolkit, "vhd-os-size"),
        "Fail",
        "toolkit: 127..=128 GiB"
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn human_output_and_missing_file() {
    let out = vmcert(&[
        "vhd",
        "inspect",
        fixture("os-2048.vhd").to_str().expect("utf-8"),
        "--os",
        "linux",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("vhd-first-mib-free") && text.contains("acceptable (2 reads)"),
        "{text}"
    );
    let missing = vmcert(&["vhd", "inspect", "/nonexistent/disk.vhd"]);
    assert_eq!(missing.status.code(), Some(2));
    let err = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.starts_with("vmcert: error: cannot open /nonexistent/disk.vhd"),
        "{err}"
    );
}

/// A fixed VHD of `size` bytes as `vmcert_checks::vhd::build` makes it (qemu-img's footer, so
/// its creator and time stamp never change), sparse, with one Linux partition at sector 2048
/// when `partitioned`.
fn built_vhd(path: &Path, size: u64, partitioned: bool) {
    use std::io::{Seek as _, SeekFrom, Write as _};
    use vmcert_checks::vhd::build;
    let mut f = std::fs::File::create(path).unwrap();
    f.set_len(size + 512).unwrap();
    if partitioned {
        let sectors = u32::try_from(size / 512 - 2048).unwrap();
        f.write_all(&build::mbr(&[(0x83, 2048, sectors)])).unwrap();
    }
    f.seek(SeekFrom::Start(size)).unwrap();
    f.write_all(&build::footer(2, size)).unwrap();
}

/// Whether `line` is a Markdown table row of `cells` cells: it starts and ends with `|` and
/// holds `cells + 1` pipes that are not escaped.
fn is_row(line: &str, cells: usize) -> bool {
    let mut pipes = 0;
    let mut escaped = false;
    for c in line.chars() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '|' => pipes += 1,
            _ => {}
        }
    }
    line.starts_with('|') && line.ends_with('|') && pipes == cells + 1
}

/// `vhd inspect --format md`: a heading, the facts as a list, the verdict, and one table row per
/// rule whose cells hold their values whatever they contain; the same exit status as the text.
#[test]
fn markdown_output_is_markdown() {
    let dir = tempfile::tempdir().unwrap();
    built_vhd(&dir.path().join("os_disk.vhd"), 30 << 30, true);
    built_vhd(&dir.path().join("bare.vhd"), 1 << 30, false);
    let md = |name: &str| {
        let out = Command::new(crate::util::vmcert_bin())
            .current_dir(dir.path())
            .args(["vhd", "inspect", name, "--os", "linux", "--format", "md"])
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8(out.stdout).unwrap())
    };
    let (code, text) = md("os_disk.vhd");
    assert_eq!(code, Some(0), "{text}");
    insta::assert_snapshot!("vhd_inspect_md_os_disk", text);
    let (code, bare) = md("bare.vhd");
    assert_eq!(code, Some(1), "an OS disk without partitions: {bare}");
    insta::assert_snapshot!("vhd_inspect_md_not_acceptable", bare);
    for text in [&text, &bare] {
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("## "), "{text}");
        let header = lines
            .iter()
            .position(|l| *l == "| rule | status | message |")
            .unwrap_or_else(|| panic!("no table: {text}"));
        assert_eq!(lines[header + 1], "|---|---|---|");
        let rows = &lines[header + 2..];
        assert_eq!(rows.len(), 10, "one row per VHD rule: {text}");
        assert!(rows.iter().all(|r| is_row(r, 3)), "{text}");
        assert!(
            lines[1..header]
                .iter()
                .all(|l| l.is_empty() || l.starts_with("- ") || l.starts_with("**")),
            "{text}"
        );
    }
    assert!(is_row("| a \\| b | c |", 2) && !is_row("| a | b | c |", 2));
}

/// Uploads the fixtures the SAS tests read, once; returns the container name.
fn vhd_container() -> &'static str {
    static UPLOADED: OnceLock<Result<(), String>> = OnceLock::new();
    once(&UPLOADED, || {
        let az = azurite();
        az.create_container("vhds");
        for name in ["os-2048.vhd", "os-63.vhd", "oversize.vhd", "dynamic.vhd"] {
            let written = az.put_page_blob_sparse("vhds", name, &fixture(name));
            assert!(
                written < 64 << 10,
                "{name}: {written} bytes written, the upload should be sparse"
            );
        }
        let small = std::fs::read(fixture("small.vhd")).expect("small.vhd");
        az.put_block_blob("vhds", "block.vhd", small);
    });
    "vhds"
}

fn over_sas(name: &str, sp: &str, extra: &[&str]) -> (Output, Value, String) {
    let c = vhd_container();
    let sas = sas_now(c, sp);
    let url = format!("{}/{c}/{name}?{sas}", azurite().base());
    let mut args = vec!["-vv"];
    args.extend_from_slice(extra);
    let mut all = vec!["vhd", "inspect", url.as_str(), "--format", "json"];
    all.extend_from_slice(&args);
    let out = vmcert(&all);
    assert_no_signature(&sas, &String::from_utf8_lossy(&out.stdout));
    assert_no_signature(&sas, &String::from_utf8_lossy(&out.stderr));
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out, v, sas)
}

#[test]
fn os_disk_over_sas_is_acceptable_with_three_requests() {
    let (out, v, _) = over_sas("os-2048.vhd", "rl", &["--os", "linux"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{v} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(v["acceptable"], true);
    assert_eq!(v["blob_type"], "PageBlob");
    assert_eq!(rule(&v, "vhd-page-blob"), "Pass");
    assert_eq!(rule(&v, "vhd-first-mib-free"), "Pass");
    assert_eq!(v["reads"], 3, "HEAD + footer + first sectors");
    let path = v["path"].as_str().expect("path");
    assert!(
        path.contains("/vhds/os-2048.vhd?") && path.contains("sig=REDACTED"),
        "{path}"
    );
}

#[test]
fn partition_at_63_over_sas_fails() {
    let (out, v, _) = over_sas("os-63.vhd", "rl", &["--os", "linux"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(rule(&v, "vhd-first-mib-free"), "Fail");
}

#[test]
fn oversize_page_blob_over_sas_costs_three_requests() {
    let (out, v, _) = over_sas("oversize.vhd", "rl", &["--role", "data"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(v["file_size"], (1100u64 << 30) + 512);
    assert_eq!(rule(&v, "vhd-data-size"), "Fail");
    assert_eq!(v["reads"], 3);
}

#[test]
fn dynamic_vhd_over_sas_is_refused() {
    let (out, v, _) = over_sas("dynamic.vhd", "rl", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(v["format"], "vhd-dynamic");
}

#[test]
fn block_blob_is_flagged() {
    let (out, v, _) = over_sas("block.vhd", "rl", &["--role", "data"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(v["blob_type"], "BlockBlob");
    assert_eq!(rule(&v, "vhd-page-blob"), "Fail");
    assert_eq!(rule(&v, "vhd-fixed"), "Pass");
}

#[test]
fn unreadable_sas_exits_2_with_one_line() {
    for (name, sp) in [("os-2048.vhd", "cw"), ("no-such.vhd", "rl")] {
        let (out, _, _) = over_sas(name, sp, &[]);
        assert_eq!(out.status.code(), Some(2), "{name} sp={sp}");
        assert!(out.stdout.is_empty());
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.trim().lines().last().unwrap_or_default();
        assert!(
            last.starts_with("vmcert: error: cannot read") && last.contains("HTTP"),
            "{err}"
        );
    }
}

/// Issue 17 item 13: over a SAS endpoint that accepts connections and never answers, each request
/// has its own timeout but the command took 243 s in all. `--deadline` bounds the whole
/// inspection: exit 2, one clear line naming the flag, no signature anywhere.
#[test]
fn inspect_of_a_silent_endpoint_gives_up_at_the_deadline() {
    // Bound and listening but never accepting: the kernel completes the connections, nobody
    // ever answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let url = format!("http://127.0.0.1:{port}/acct/vhds/os.vhd?sp=rl&sig=SILENTSECRET");
    let out = vmcert(&["vhd", "inspect", &url, "--deadline", "2"]);
    drop(silent);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(out.stdout.is_empty());
    assert_eq!(
        err.trim(),
        "vmcert: error: vhd inspect did not finish within 2 s: the server is not answering or answers too slowly (the limit is --deadline)"
    );
    assert!(!err.contains("SILENTSECRET"));
    let zero = vmcert(&["vhd", "inspect", &url, "--deadline", "0"]);
    assert_eq!(
        zero.status.code(),
        Some(2),
        "a zero deadline is a usage error"
    );
}
