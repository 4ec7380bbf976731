//! `vmcert fleet` end to end: one inventory of real lab VMs of three scenarios (each logging in
//! differently) plus three bad targets (a closed port on a lab VM's address, a wrong password, a
//! server that accepts TCP and never speaks SSH) runs concurrently. Each good target must leave a
//! complete report whose statuses are the ones `tests/lab/scenarios/expected.toml` promises,
//! each bad one a named cause in the fleet summary, the exit code must be the worst over all,
//! and no secret may appear in stdout, stderr, the summaries or any file of any zip. That the
//! bad targets do not hold the good ones up is asserted by structure (the good reports are
//! complete and not interrupted, every target ran in its own slot), never by a stopwatch.
//! Also here: Ctrl-C, the open-file limit, and the live display on a real terminal (tmux).

use std::fs;
use std::io::Read as _;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::lab::{LabVm, expected};
use crate::util::vmcert_bin;

/// Environment variables of the inventory's secrets.
const GOLDEN_PW: &str = "VMCERT_FLEET_GOLDEN_PW";
const ACCOUNTS_SUDO: &str = "VMCERT_FLEET_ACCOUNTS_SUDO";
const WRONG_PW: &str = "VMCERT_FLEET_WRONG_PW";
const WRONG: &str = "Wrong-Fleet-Password-4711";

/// Every file of the zip at `path`, decompressed.
fn zip_files(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut z = zip::ZipArchive::new(fs::File::open(path).unwrap()).unwrap();
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).unwrap();
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes).unwrap();
            (f.name().to_owned(), bytes)
        })
        .collect()
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn fleet_of_lab_vms_and_bad_targets_runs_concurrently_with_zips_summary_and_worst_exit() {
    let exp = expected();
    let golden = LabVm::start("golden");
    let keyonly = LabVm::start("keyonly");
    let accounts = LabVm::start("defects-accounts");
    let golden_pw = golden.password.clone().expect("golden has a password");
    let accounts_pw = accounts
        .password
        .clone()
        .expect("defects-accounts has a password");
    // Accepts TCP connections and never answers: the SSH handshake must time out.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();

    let dir = tempfile::tempdir().unwrap();
    let known_hosts = dir.path().join("known_hosts");
    fs::write(
        &known_hosts,
        [&golden, &keyonly, &accounts]
            .map(LabVm::known_hosts_line)
            .concat(),
    )
    .unwrap();
    let inventory = format!(
        r#"# The lab fleet of tests/e2e/fleet.rs.
[defaults]
known_hosts = "known_hosts"
allow_unanswered = true
timeout = 300

[[target]]
name = "golden"
target = "ssh://{u}@{gh}:{gp}"
password_env = "{GOLDEN_PW}"

[[target]]
name = "keyonly"
target = "ssh://{u}@{kh}:{kp}"
identity = "{kkey}"

[[target]]
name = "defects-accounts"
target = "ssh://{u}@{ah}:{ap}"
identity = "{akey}"
sudo_password_env = "{ACCOUNTS_SUDO}"

[[target]]
name = "closed-port"
target = "ssh://{u}@{gh}:1"
password_env = "{GOLDEN_PW}"

[[target]]
name = "wrong-password"
target = "ssh://{u}@{gh}:{gp}"
password_env = "{WRONG_PW}"

[[target]]
name = "silent"
target = "ssh://{u}@127.0.0.1:{silent_port}"
password_env = "{WRONG_PW}"
accept_new_host_key = true
connect_timeout = 3
"#,
        u = golden.user,
        gh = golden.host,
        gp = golden.port,
        kh = keyonly.host,
        kp = keyonly.port,
        kkey = keyonly.key_ed25519.display(),
        ah = accounts.host,
        ap = accounts.port,
        akey = accounts.key_rsa_pem.display(),
    );
    let inv_path = dir.path().join("fleet.toml");
    fs::write(&inv_path, &inventory).unwrap();
    let out_dir = dir.path().join("reports");

    let out = Command::new(vmcert_bin())
        .current_dir(dir.path())
        .args(["fleet", "--inventory"])
        .arg(&inv_path)
        .args(["--jobs", "6", "--format", "json", "--out-dir"])
        .arg(&out_dir)
        .args(["--junit", "fleet-junit.xml", "--sarif", "fleet.sarif"])
        .env("HOME", dir.path())
        .env_remove("SSH_AUTH_SOCK")
        .env("GITHUB_ACTIONS", "true")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("TF_BUILD")
        .env(GOLDEN_PW, &golden_pw)
        .env(ACCOUNTS_SUDO, &accounts_pw)
        .env(WRONG_PW, WRONG)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    drop(silent);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let show = format!("stdout:\n{stdout}\nstderr:\n{stderr}");

    // stdout is the summary, and the same as fleet-summary.json.
    let summary: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}\n{show}"));
    let on_disk: Value =
        serde_json::from_slice(&fs::read(out_dir.join("fleet-summary.json")).unwrap()).unwrap();
    assert_eq!(summary, on_disk);
    assert_eq!(summary["schema"], "vmcert.fleet/v1");
    let rows = summary["targets"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "golden",
            "keyonly",
            "defects-accounts",
            "closed-port",
            "wrong-password",
            "silent"
        ],
        "{show}"
    );
    let row = |name: &str| rows.iter().find(|r| r["name"] == name).unwrap();

    // Good targets: a complete, uninterrupted report with the statuses expected.toml promises.
    let mut worst = 0;
    for scenario in ["golden", "keyonly", "defects-accounts"] {
        let r = row(scenario);
        assert_eq!(r["status"], "completed", "{scenario}: {r}\n{show}");
        assert!(r["error"].is_null(), "{scenario}: {r}");
        assert!(r["interrupted"].is_null(), "{scenario}: {r}");
        let zip = out_dir.join(format!("{scenario}.zip"));
        assert_eq!(r["report"], zip.display().to_string());
        let files = zip_files(&zip);
        let results: Value =
            serde_json::from_slice(&files.iter().find(|(n, _)| n == "results.json").unwrap().1)
                .unwrap();
        assert_eq!(results["run"]["name"], scenario);
        assert_eq!(results["run"]["interrupted"], false);
        assert_eq!(r["summary"], results["summary"], "{scenario}");
        let want = &exp.scenarios[scenario];
        let got: Vec<(String, String)> = results["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["id"].as_str().unwrap().to_owned(),
                    c["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(got.len(), want.len(), "{scenario}: every check reported");
        for (id, status) in &got {
            assert_eq!(
                status,
                want[id].as_str(),
                "{scenario}: check {id} (expected.toml)"
            );
        }
        let code = r["exit_code"].as_u64().unwrap();
        let s = &results["summary"];
        let expected_code = if s["error"] != 0 {
            2
        } else if s["fail"] != 0 {
            1
        } else {
            0
        };
        assert_eq!(code, expected_code, "{scenario}: exit code as for run");
        worst = worst.max(code);
    }

    // Bad targets: no report, the cause named.
    for (name, cause) in [
        ("closed-port", "refused"),
        ("wrong-password", "auth"),
        ("silent", "no answer within 3s"),
    ] {
        let r = row(name);
        assert_eq!(r["status"], "failed", "{name}: {r}");
        assert_eq!(r["exit_code"], 2, "{name}");
        assert!(r["report"].is_null(), "{name}: {r}");
        let error = r["error"].as_str().unwrap_or_default().to_lowercase();
        assert!(error.contains(cause), "{name}: `{error}` names no {cause}");
        assert!(!out_dir.join(format!("{name}.zip")).exists(), "{name}");
    }
    assert!(worst <= 2);
    assert_eq!(summary["exit_code"], 2);
    assert_eq!(out.status.code(), Some(2), "{show}");
    assert_eq!(summary["completed"], 3);
    assert_eq!(summary["failed"], 3);

    // The HTML summary names every target, links each report relative to itself (the link
    // resolves from the summary's directory), and colours a row by its outcome.
    let html = fs::read_to_string(out_dir.join("fleet-summary.html")).unwrap();
    for name in names {
        assert!(html.contains(&format!("<td>{name}</td>")), "{name} in html");
    }
    for scenario in ["golden", "keyonly", "defects-accounts"] {
        assert!(
            html.contains(&format!("<a href=\"{scenario}.zip\">")),
            "{scenario}: {html}"
        );
        assert!(out_dir.join(format!("{scenario}.zip")).is_file());
        let outcome = row(scenario)["outcome"].as_str().unwrap().to_owned();
        assert!(
            html.contains(&format!("<tr class=\"completed outcome-{outcome}\">")),
            "{scenario}: {outcome}"
        );
    }
    assert_eq!(row("defects-accounts")["outcome"], "failed");
    assert!(html.contains("tr.outcome-failed td { background: #fbd5d5; }"));

    // The CI outputs: one JUnit testsuite and one SARIF run per target with a report, and a
    // GitHub annotation on stderr (stdout carries the JSON) per finding.
    let junit = fs::read_to_string(dir.path().join("fleet-junit.xml")).unwrap();
    assert_eq!(junit.matches("<testsuite ").count(), 3, "{junit}");
    let sarif: Value =
        serde_json::from_slice(&fs::read(dir.path().join("fleet.sarif")).unwrap()).unwrap();
    assert_eq!(sarif["runs"].as_array().unwrap().len(), 3);
    assert!(stderr.contains("\n::error title="), "{show}");

    // No secret anywhere.
    let mut places: Vec<(String, Vec<u8>)> = vec![
        ("stdout".into(), out.stdout.clone()),
        ("stderr".into(), out.stderr.clone()),
        ("fleet-summary.html".into(), html.into_bytes()),
    ];
    for scenario in ["golden", "keyonly", "defects-accounts"] {
        for (n, bytes) in zip_files(&out_dir.join(format!("{scenario}.zip"))) {
            places.push((format!("{scenario}.zip:{n}"), bytes));
        }
    }
    for (place, bytes) in &places {
        for secret in [golden_pw.as_str(), accounts_pw.as_str(), WRONG] {
            assert!(!contains(bytes, secret), "a secret shows in {place}");
        }
    }
}

#[test]
fn fleet_refuses_a_bad_inventory_with_file_and_line_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("fleet.toml");
    // Port 9 of a documentation address: a connection attempt would hang or fail, never pass.
    fs::write(
        &inv,
        "[[target]]\nname = \"a\"\ntarget = \"ssh://u@192.0.2.1:9\"\nidentity = \"k\"\n\
         [[target]]\nname = \"b\"\ntarget = \"ssh://u@192.0.2.1:9\"\npassword = \"hunter2\"\n",
    )
    .unwrap();
    let out = Command::new(vmcert_bin())
        .args(["fleet", "--inventory"])
        .arg(&inv)
        .arg("--out-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "vmcert: error: {}:8: unknown field `password`",
            inv.display()
        )),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(!stderr.contains("hunter2"));
    assert!(out.stdout.is_empty());
    assert!(!dir.path().join("fleet-summary.json").exists());
}

/// Writes `fleet.toml` in `dir`: three targets (the same lab VM under the names first, second and
/// third), key login, the checks os-architecture and a pack check whose probe sleeps 4 s.
fn three_napping_targets(vm: &LabVm, dir: &Path) -> std::path::PathBuf {
    fs::write(dir.join("known_hosts"), vm.known_hosts_line()).unwrap();
    fs::write(
        dir.join("nap.toml"),
        "[[check]]\nid = \"nap\"\ntitle = \"nap\"\nos = \"linux\"\ncommand = 'sleep 4'\n",
    )
    .unwrap();
    let targets: String = ["first", "second", "third"]
        .iter()
        .map(|n| {
            format!(
                "\n[[target]]\nname = \"{n}\"\ntarget = \"ssh://{}@{}:{}\"\n",
                vm.user, vm.host, vm.port
            )
        })
        .collect();
    let inv = dir.join("fleet.toml");
    fs::write(
        &inv,
        format!(
            "[defaults]\nknown_hosts = \"known_hosts\"\nidentity = \"{}\"\nallow_unanswered = true\n\
             check_packs = [\"nap.toml\"]\nchecks = [\"os-architecture\", \"nap\"]\n{targets}",
            vm.key_ed25519.display()
        ),
    )
    .unwrap();
    inv
}

/// Starts a fleet of [`three_napping_targets`], one at a time; sends `signals` (`-INT`, `-TERM`)
/// in turn once the first target is running; returns the exit code, stderr and the summary.
fn interrupted_fleet(vm: &LabVm, dir: &Path, signals: &[&str]) -> (Option<i32>, String, Value) {
    let inv = three_napping_targets(vm, dir);
    let mut child = Command::new(vmcert_bin())
        .current_dir(dir)
        .args(["fleet", "--jobs", "1", "--format", "json", "--inventory"])
        .arg(&inv)
        .arg("--out-dir")
        .arg(dir.join("reports"))
        .env("HOME", dir)
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vmcert fleet");
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = std::io::BufRead::read_line(&mut stderr, &mut line).unwrap();
        assert!(
            n > 0,
            "the fleet ended before `first` ran its probes:\n{seen}"
        );
        seen.push_str(&line);
        if line.starts_with("vmcert: first: running ") {
            break;
        }
    }
    for sig in signals {
        let pid = child.id().to_string();
        assert!(
            Command::new("kill")
                .args([*sig, pid.as_str()])
                .status()
                .unwrap()
                .success()
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    stderr.read_to_string(&mut seen).unwrap();
    let code = child.wait().unwrap().code();
    let summary: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("summary on stdout: {e}\n{stdout}\n{seen}"));
    (code, seen, summary)
}

#[test]
fn fleet_ctrl_c_lets_running_targets_finish_and_starts_no_more_and_twice_stops_waiting() {
    let vm = LabVm::start("golden");

    // Once (SIGTERM, as from a service manager, is Ctrl-C; issue 17 item 8): `first` finishes
    // with its report; the other two never start.
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr, s) = interrupted_fleet(&vm, dir.path(), &["-TERM"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("vmcert: interrupted: no new target starts; waiting for the running ones"),
        "{stderr}"
    );
    assert_eq!(s["interrupted"], true, "{s:#}");
    let t = s["targets"].as_array().unwrap();
    assert_eq!(t[0]["name"], "first");
    assert_eq!(t[0]["status"], "completed", "{s:#}");
    let report = t[0]["report"].as_str().unwrap();
    assert!(Path::new(report).exists(), "{report}");
    assert!(
        zip_files(Path::new(report))
            .iter()
            .any(|(n, _)| n == "results.json")
    );
    for row in &t[1..] {
        assert_eq!(row["status"], "failed", "{s:#}");
        assert_eq!(
            row["error"], "not started: the fleet was interrupted (Ctrl-C)",
            "{s:#}"
        );
    }
    let on_disk: Value = serde_json::from_slice(
        &fs::read(dir.path().join("reports").join("fleet-summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(on_disk, s);

    // Twice: the fleet stops waiting for `first`, which gets no report.
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr, s) = interrupted_fleet(&vm, dir.path(), &["-INT", "-TERM"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("vmcert: interrupted again: not waiting for the running targets"),
        "{stderr}"
    );
    let t = s["targets"].as_array().unwrap();
    assert_eq!(
        t[0]["error"], "still running when the fleet was stopped (Ctrl-C twice): no report",
        "{s:#}"
    );
    assert_eq!(
        t[2]["error"], "not started: the fleet was interrupted (Ctrl-C)",
        "{s:#}"
    );
}

/// Runs `vmcert fleet --jobs 40` over 40 targets on a closed port under `prlimit --nofile=LIMITS`;
/// returns stderr and the summary.
fn fleet_under_open_file_limit(limits: &str) -> (String, Value) {
    let dir = tempfile::tempdir().unwrap();
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut inventory = String::from(
        "[defaults]\npassword_env = \"VMCERT_FLEET_NOFILE_PW\"\nallow_unanswered = true\n",
    );
    for i in 0..40 {
        inventory.push_str(&format!(
            "\n[[target]]\nname = \"t{i}\"\ntarget = \"ssh://u@127.0.0.1:{port}\"\n"
        ));
    }
    let inv = dir.path().join("fleet.toml");
    fs::write(&inv, inventory).unwrap();
    let out = Command::new("prlimit")
        .arg(format!("--nofile={limits}"))
        .arg(vmcert_bin())
        .args(["fleet", "--jobs", "40", "--format", "json", "--inventory"])
        .arg(&inv)
        .arg("--out-dir")
        .arg(dir.path().join("out"))
        .env("VMCERT_FLEET_NOFILE_PW", "not-used-0000")
        .stdin(Stdio::null())
        .output()
        .expect("run prlimit (util-linux)");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let summary: Value = serde_json::from_slice(&out.stdout).expect("summary JSON");
    assert_eq!(summary["failed"], 40, "{summary:#}");
    for t in summary["targets"].as_array().unwrap() {
        let error = t["error"].as_str().unwrap_or_default();
        assert!(error.contains("refused"), "{t:#}");
    }
    (stderr, summary)
}

#[test]
fn fleet_raises_the_open_file_limit_or_runs_fewer_targets_at_once() {
    // 40 targets at once need 64 + 4 * 40 = 224 open files. A low soft limit under a high hard
    // one is raised: all 40 at once, nothing said.
    let (stderr, summary) = fleet_under_open_file_limit("100:4096");
    assert_eq!(summary["jobs"], 40, "{stderr}");
    assert!(!stderr.contains("open files"), "{stderr}");
    // A low hard limit: (100 - 64) / 4 = 9 at once, and the fleet says why.
    let (stderr, summary) = fleet_under_open_file_limit("100:100");
    assert_eq!(summary["jobs"], 9, "{stderr}");
    assert!(
        stderr.contains(
            "vmcert: --jobs 40 needs about 224 open files, but this process may open only 100 \
             (ulimit -n): running at most 9 targets at a time"
        ),
        "{stderr}"
    );
}

/// Whether `line` of a screen is a target's live bar: its name, then a `done/total` counter.
fn is_bar_of(line: &str, name: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    words.iter().position(|w| *w == name).is_some_and(|i| {
        words[i + 1..].first().is_some_and(|w| {
            w.split_once('/')
                .is_some_and(|(a, b)| a.parse::<u32>().is_ok() && b.parse::<u32>().is_ok())
        })
    })
}

#[test]
fn fleet_on_a_terminal_shows_a_live_line_per_target_then_the_table() {
    // tmux runs the fleet on a real terminal in a detached session of its own server, and
    // `capture-pane` reads the screen as a person would see it.
    let vm = LabVm::start("golden");
    let dir = tempfile::tempdir().unwrap();
    three_napping_targets(&vm, dir.path());
    let socket = format!("vmcert-e2e-fleet-{}", std::process::id());
    let tmux = |args: &[&str]| {
        Command::new("tmux")
            .args(["-L", &socket])
            .args(args)
            .output()
            .expect("run tmux")
    };
    let command = format!(
        "cd '{d}' && env -u SSH_AUTH_SOCK HOME='{d}' '{bin}' fleet --jobs 3 --inventory fleet.toml \
         --out-dir reports; echo FLEET-EXIT=$?; sleep 600",
        d = dir.path().display(),
        bin = vmcert_bin().display()
    );
    let started = tmux(&[
        "new-session",
        "-d",
        "-x",
        "160",
        "-y",
        "40",
        "sh",
        "-c",
        &command,
    ]);
    assert!(started.status.success(), "{started:?}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let mut bars_seen = None;
    let screen = loop {
        let out = tmux(&["capture-pane", "-p"]);
        let screen = String::from_utf8_lossy(&out.stdout).into_owned();
        let names = ["first", "second", "third"];
        if bars_seen.is_none()
            && names
                .iter()
                .all(|n| screen.lines().filter(|l| is_bar_of(l, n)).count() == 1)
        {
            bars_seen = Some(screen.clone());
        }
        if screen.contains("FLEET-EXIT=") || std::time::Instant::now() > deadline {
            break screen;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    tmux(&["kill-server"]);
    let bars = bars_seen.unwrap_or_else(|| {
        panic!("never a screen with a live line for each of the three targets; last:\n{screen}")
    });
    assert!(screen.contains("FLEET-EXIT=0"), "{screen}");
    // The bars are gone; the table is what stays on the screen.
    assert!(
        ["first", "second", "third"]
            .iter()
            .all(|n| !screen.lines().any(|l| is_bar_of(l, n))),
        "bars left behind:\n{screen}\n(while running:\n{bars})"
    );
    assert!(screen.contains("vmcert fleet: 3 target(s)"), "{screen}");
    for n in ["first", "second", "third"] {
        assert!(
            screen
                .lines()
                .any(|l| l.starts_with("  exit 0  ") && l.split_whitespace().nth(2) == Some(n)),
            "{screen}"
        );
    }
    assert!(screen.contains("Completed 3, failed 0; exit 0"), "{screen}");
}
