//! `vmcert run` and `vmcert connect` against Windows targets, end to end: the real binary over
//! real WS-Man (HTTP with NTLM sealing, HTTPS with Basic and a CA file) to the test server of
//! tests/winrm, whose vmcert handler plays the agent's PowerShell probe script from a machine
//! profile. Every Windows check is asserted against the golden profile and the defect profiles
//! (tests/winrm/profiles/expected.toml), and so are the failure paths: a wrong password, an
//! untrusted certificate, a target that stops mid-run, a probe that hangs, a w:TimedOut Receive;
//! the password never shows anywhere, and the requests of a run do not grow with the checks.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::util::vmcert_bin;
use crate::winrm_server::{PASSWORD, USER, WinrmServer, winrm_dir};

/// Environment variable the tests hand the password through.
const PW_VAR: &str = "VMCERT_TEST_WINRM_PASSWORD";

fn profiles_dir() -> PathBuf {
    winrm_dir().join("profiles")
}

/// Status per check id per profile, from expected.toml.
fn expected() -> BTreeMap<String, BTreeMap<String, String>> {
    let text = std::fs::read_to_string(profiles_dir().join("expected.toml")).unwrap();
    toml::from_str(&text).unwrap()
}

/// A copy of `profile` with handler knobs set (`vmcert_handler` in the profile), in `dir`.
fn profile_with(dir: &Path, profile: &str, knobs: serde_json::Value) -> PathBuf {
    let text = std::fs::read_to_string(profiles_dir().join(format!("{profile}.json"))).unwrap();
    let mut m: serde_json::Value = serde_json::from_str(&text).unwrap();
    m["vmcert_handler"] = knobs;
    let path = dir.join(format!("{profile}.json"));
    std::fs::write(&path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    path
}

/// The test server with the vmcert handler, playing `machine`.
fn server(scheme: &str, auth: &str, machine: &Path, extra: &[&str]) -> WinrmServer {
    let mut args = vec![
        "--scheme",
        scheme,
        "--auth",
        auth,
        "--handler",
        "winrm_lab.vmcert_handler",
        "--machine",
        machine.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    WinrmServer::start(&args)
}

fn ca_file(s: &WinrmServer) -> String {
    s.info["ca_file"].as_str().unwrap().to_string()
}

/// Runs vmcert with the password in `PW_VAR` (or on stdin when `stdin` is given).
fn vmcert(args: &[&str], password: &str, stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(vmcert_bin());
    cmd.args(args)
        .env(PW_VAR, password)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match stdin {
        Some(_) => cmd.stdin(Stdio::piped()),
        None => cmd.stdin(Stdio::null()),
    };
    let mut child = cmd.spawn().expect("run vmcert");
    if let Some(text) = stdin {
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

/// `vmcert run` against `target` with the usual non-interactive flags and `extra`.
fn run(target: &str, out: &Path, extra: &[&str], password: &str) -> Output {
    let mut args = vec![
        "run",
        "--target",
        target,
        "--non-interactive",
        "--allow-unanswered",
        "--format",
        "json",
        "--out",
        out.to_str().unwrap(),
    ];
    if !extra.contains(&"--password-stdin") {
        args.extend(["--password-env", PW_VAR]);
    }
    args.extend_from_slice(extra);
    vmcert(&args, password, None)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Every file of a report zip, by name.
fn zip_files(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut files = BTreeMap::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        files.insert(f.name().to_string(), data);
    }
    files
}

fn results(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&zip_files(path)["results.json"]).unwrap()
}

fn statuses(results: &serde_json::Value) -> BTreeMap<String, String> {
    results["checks"]
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

fn exit_for(statuses: &BTreeMap<String, String>) -> i32 {
    if statuses.values().any(|s| s == "Error") {
        2
    } else if statuses.values().any(|s| s == "Fail") {
        1
    } else {
        0
    }
}

fn count(stats: &serde_json::Value, key: &str) -> u64 {
    stats[key].as_u64().unwrap_or(0)
}

fn op(stats: &serde_json::Value, name: &str) -> u64 {
    stats["operations"][name].as_u64().unwrap_or(0)
}

/// The handler's own suite: it prints exactly the golden fixtures of the Windows checks, and
/// plays the script (frames, timing, timeouts, admin-only probes) as documented.
#[test]
fn the_vmcert_handler_prints_what_the_windows_fixtures_say() {
    let venv = Command::new(winrm_dir().join("venv.sh")).output().unwrap();
    assert!(
        venv.status.success(),
        "tests/winrm/venv.sh failed (python3 with venv and PyPI are needed): {}",
        text(&venv.stderr)
    );
    let python = text(&venv.stdout).trim().to_string();
    let out = Command::new(&python)
        .arg(winrm_dir().join("test_vmcert_handler.py"))
        .output()
        .unwrap();
    let log = text(&out.stderr);
    assert!(out.status.success(), "vmcert handler suite failed:\n{log}");
    assert!(
        log.contains("\nOK"),
        "vmcert handler suite did not report OK:\n{log}"
    );
}

#[test]
fn expected_statuses_cover_every_windows_check_with_a_fail_or_warning() {
    let all = expected();
    let golden = &all["windows-server-2019"];
    let ids: Vec<&String> = golden.keys().collect();
    for (profile, checks) in &all {
        assert_eq!(
            checks.keys().collect::<Vec<_>>(),
            ids,
            "{profile} lists other checks than the golden profile"
        );
        assert!(
            profiles_dir().join(format!("{profile}.json")).is_file(),
            "{profile}.json is missing"
        );
    }
    let listed = Command::new(vmcert_bin())
        .args(["checks", "list", "--os", "windows", "--format", "json"])
        .output()
        .unwrap();
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let mut catalogue: Vec<String> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    catalogue.sort();
    assert_eq!(
        ids.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        catalogue.iter().map(String::as_str).collect::<Vec<_>>(),
        "expected.toml must list every Windows check"
    );
    for id in &ids {
        assert!(
            all.values()
                .any(|c| matches!(c[*id].as_str(), "Fail" | "Warning")),
            "no profile makes {id} Fail or Warn"
        );
    }
    assert!(
        golden
            .iter()
            .all(|(id, s)| s == "Pass" || (id.as_str() == "wannacry-patch" && s == "NotApplicable")),
        "the golden profile must pass: {golden:?}"
    );
}

/// Every profile over HTTPS with Basic and the test CA (`--ca-file`); probe timings shortened.
#[test]
fn every_windows_check_matches_every_profile_over_https_basic_with_a_ca_file() {
    let tmp = tempfile::tempdir().unwrap();
    for (profile, want) in expected() {
        let machine = profile_with(
            tmp.path(),
            &profile,
            serde_json::json!({ "timing_scale": 0.1 }),
        );
        let s = server("https", "basic", &machine, &[]);
        let ca = ca_file(&s);
        let target = format!("winrms://{USER}@127.0.0.1:{}", s.port());
        let zip = tmp.path().join(format!("{profile}.zip"));
        let out = run(
            &target,
            &zip,
            &["--auth", "basic", "--ca-file", &ca],
            PASSWORD,
        );
        let got = statuses(&results(&zip));
        assert_eq!(got, want, "{profile}: {}", text(&out.stderr));
        assert_eq!(
            out.status.code(),
            Some(exit_for(&want)),
            "{profile}: {}",
            text(&out.stderr)
        );
        let r = results(&zip);
        assert_eq!(r["target"]["transport"], "winrms");
        assert_eq!(r["target"]["os"], "windows");
        assert_eq!(r["run"]["interrupted"], false);
        let stats = s.stats();
        assert_eq!(count(&stats, "shells_open"), 0, "{profile}: {stats}");
        assert_eq!(count(&stats, "commands_started"), 1, "{profile}: {stats}");
    }
}

/// The golden machine with realistic probe timings, over HTTP with NTLM: every SOAP body sealed,
/// a w:TimedOut Receive asked again, one shell and one PowerShell, and the password nowhere.
#[test]
fn golden_run_over_http_ntlm_is_sealed_streams_and_keeps_the_password_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let golden = profiles_dir().join("windows-server-2019.json");
    let s = server(
        "http",
        "ntlm",
        &golden,
        &["--fault-on", "Receive@2:timed-out"],
    );
    let target = format!("winrm://{USER}@127.0.0.1:{}", s.port());
    let zip = tmp.path().join("golden.zip");
    let started = std::time::Instant::now();
    let out = run(&target, &zip, &["-vvv"], PASSWORD);
    let elapsed = started.elapsed();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let r = results(&zip);
    assert_eq!(statuses(&r), expected()["windows-server-2019"]);
    assert_eq!(r["target"]["transport"], "winrm");
    assert_eq!(
        r["target"]["facts"]["OSName"],
        "Microsoft Windows Server 2019 Datacenter"
    );
    assert_eq!(r["target"]["facts"]["OSBuild"], "17763");
    // Progress streamed: one line per probe as it arrived.
    assert_eq!(stderr.matches("vmcert: [").count(), 14, "{stderr}");

    let stats = s.stats();
    assert_eq!(count(&stats, "unencrypted_rejected"), 0, "{stats}");
    assert_eq!(
        count(&stats, "sealed_requests"),
        count(&stats, "soap_requests"),
        "every SOAP body must travel sealed: {stats}"
    );
    assert_eq!(stats["faults"]["w:TimedOut"], 1, "{stats}");
    assert_eq!(
        (
            op(&stats, "Create"),
            op(&stats, "Command"),
            op(&stats, "Send"),
            op(&stats, "Delete")
        ),
        (1, 1, 1, 1),
        "{stats}"
    );
    assert_eq!(count(&stats, "shells_open"), 0, "{stats}");
    // Receives follow the run's duration (one per second at most, plus the TimedOut retry and
    // the first), never the number of checks.
    let receives = op(&stats, "Receive");
    assert!(
        receives <= elapsed.as_secs() + 3,
        "{receives} Receives in {elapsed:?}: {stats}"
    );
    assert_eq!(
        stats["command_lines"],
        serde_json::json!(["powershell.exe -NoProfile -NonInteractive -Command -"])
    );

    let b64 = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
    };
    for (name, data) in zip_files(&zip) {
        let t = text(&data);
        assert!(!t.contains(PASSWORD), "the password is in {name}");
    }
    let stdout = text(&out.stdout);
    for (what, t) in [("stdout", &stdout), ("stderr (-vvv)", &stderr)] {
        assert!(!t.contains(PASSWORD), "the password is on {what}");
        assert!(!t.contains(&b64), "the Basic credentials are on {what}");
    }
    assert!(!stats.to_string().contains(PASSWORD), "{stats}");
    // The frame key travels in the Create request's shell environment; even -vvv (trace, which
    // logs every SOAP body) shows it only as redacted.
    let var = "<rsp:Variable Name=\"VMCERT_FRAME_KEY\">";
    assert!(stderr.contains(var), "the trace log shows the Create body");
    assert_eq!(
        stderr.matches(var).count(),
        stderr
            .matches(&format!("{var}[redacted]</rsp:Variable>"))
            .count(),
        "the frame key is in the trace log"
    );
    let server_log = std::fs::read_to_string(s.state.path().join("server.log")).unwrap();
    assert!(
        !server_log.contains(PASSWORD),
        "the password is in server.log"
    );
}

#[test]
fn the_request_count_is_the_same_for_five_checks_and_for_all_of_them() {
    let tmp = tempfile::tempdir().unwrap();
    // Probes finish together at PowerShell start-up, so the Receives do not depend on timing.
    let machine = profile_with(
        tmp.path(),
        "windows-server-2019",
        serde_json::json!({ "timing_scale": 0.0 }),
    );
    let s = server("http", "ntlm", &machine, &[]);
    let target = format!("winrm://{USER}@127.0.0.1:{}", s.port());
    let mut per_run = Vec::new();
    for (n, checks) in [
        "os-architecture,hyper-v-disabled,rdp-enabled,os-disk-size,auto-update-enabled",
        "",
    ]
    .iter()
    .enumerate()
    {
        let before = s.stats();
        let zip = tmp.path().join(format!("r{n}.zip"));
        let mut extra = vec![];
        if !checks.is_empty() {
            extra.extend(["--checks", checks]);
        }
        let out = run(&target, &zip, &extra, PASSWORD);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let after = s.stats();
        let delta = |k: &str| count(&after, k) - count(&before, k);
        let ops: BTreeMap<String, u64> =
            ["Create", "Command", "Send", "Receive", "Signal", "Delete"]
                .iter()
                .map(|o| ((*o).to_string(), op(&after, o) - op(&before, o)))
                .collect();
        per_run.push((delta("http_requests"), ops, statuses(&results(&zip)).len()));
    }
    assert_eq!(per_run[0].2, 5);
    assert_eq!(per_run[1].2, expected()["windows-server-2019"].len());
    assert_eq!(
        per_run[0].0, per_run[1].0,
        "HTTP requests for 5 checks and for all: {per_run:?}"
    );
    assert_eq!(per_run[0].1, per_run[1].1, "{per_run:?}");
    // NTLM's two authentication legs, Create, Command, one Send, one Receive (with
    // timing_scale 0 every frame, `done` and the exit are ready at the same instant, so one
    // Receive gets all of it whatever the load: it was two or one depending on when the Receive
    // arrived), Delete.
    assert_eq!(per_run[1].0, 7, "{per_run:?}");
}

#[test]
fn a_wrong_password_is_one_line_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let golden = profiles_dir().join("windows-server-2019.json");
    let s = server("http", "ntlm", &golden, &[]);
    let target = format!("winrm://{USER}@127.0.0.1:{}", s.port());
    let zip = tmp.path().join("never.zip");
    let out = run(&target, &zip, &["--password-stdin"], "");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "vmcert: error: --password-stdin: the first line of standard input is empty\n"
    );
    let out = vmcert(
        &[
            "run",
            "--target",
            &target,
            "--password-stdin",
            "--non-interactive",
            "--allow-unanswered",
            "--out",
            zip.to_str().unwrap(),
        ],
        "",
        Some("Not-The-Password-9\n"),
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "vmcert: error: authentication failed for {USER} at 127.0.0.1:{}",
            s.port()
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("Not-The-Password-9"), "{stderr}");
    assert!(!zip.exists(), "no report without a connection");
    let stats = s.stats();
    assert_eq!(stats["auth"]["ntlm_failed"], 1, "{stats}");
    assert_eq!(count(&stats, "shells_created"), 0, "{stats}");
}

#[test]
fn tls_is_verified_unless_insecure_is_asked_for_loudly() {
    let tmp = tempfile::tempdir().unwrap();
    let machine = profile_with(
        tmp.path(),
        "windows-server-2019",
        serde_json::json!({ "timing_scale": 0.0 }),
    );
    let s = server("https", "basic", &machine, &[]);
    let target = format!("winrms://{USER}@127.0.0.1:{}", s.port());
    let zip = tmp.path().join("r.zip");
    let out = run(&target, &zip, &["--auth", "basic"], PASSWORD);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "vmcert: error: TLS handshake with 127.0.0.1:{} failed: invalid peer certificate: UnknownIssuer",
            s.port()
        )),
        "{stderr}"
    );
    assert!(!zip.exists());
    assert_eq!(
        count(&s.stats(), "http_requests"),
        0,
        "nothing may be sent before TLS is trusted"
    );

    // A CA file that is not the host's (another server's own CA): refused the same way.
    let other = server("https", "basic", &machine, &[]);
    let other_ca = ca_file(&other);
    let out = run(
        &target,
        &zip,
        &["--auth", "basic", "--ca-file", &other_ca],
        PASSWORD,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    // Both test CAs have the same name, so rustls finds "the" issuer and its signature fails.
    assert!(
        text(&out.stderr).contains("failed: invalid peer certificate: BadSignature"),
        "{}",
        text(&out.stderr)
    );

    let out = run(&target, &zip, &["--auth", "basic", "--insecure"], PASSWORD);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(
            "vmcert: WARNING: --insecure: the TLS certificate of 127.0.0.1 is NOT verified"
        ),
        "{stderr}"
    );

    // Basic over plain HTTP is refused before anything is sent.
    let out = run(
        &format!("winrm://{USER}@127.0.0.1:{}", s.port()),
        &zip,
        &["--auth", "basic"],
        PASSWORD,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with(
            "vmcert: error: --auth basic over winrm:// (HTTP) would send the password"
        ),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_target_that_stops_mid_run_keeps_the_finished_results() {
    let tmp = tempfile::tempdir().unwrap();
    // PowerShell up after 0.3 s; os-info and current-user done by 0.5 s, windows-features at
    // 2.5 s, pending-updates at 4 s.
    let machine = profile_with(
        tmp.path(),
        "windows-server-2019",
        serde_json::json!({ "startup_seconds": 0.3 }),
    );
    // HTTPS with Basic: one HTTP request per operation. Create, Command, Send, then two
    // Receives (the start frame at 0.3 s, then a second later the probes done by then), then
    // the host is gone: the probes still running never report.
    let s = server("https", "basic", &machine, &["--stop-after", "5"]);
    let ca = ca_file(&s);
    let target = format!("winrms://{USER}@127.0.0.1:{}", s.port());
    let zip = tmp.path().join("cut.zip");
    let out = run(
        &target,
        &zip,
        &["--auth", "basic", "--ca-file", &ca],
        PASSWORD,
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let r = results(&zip);
    assert_eq!(r["run"]["interrupted"], true);
    let reason = r["run"]["interrupted_reason"].as_str().unwrap().to_string();
    assert!(reason.starts_with("the run was cut off: "), "{reason}");
    let st = statuses(&r);
    assert_eq!(st["os-architecture"], "Pass", "{st:?}");
    assert_eq!(st["user-account-dependency"], "Pass", "{st:?}");
    assert_eq!(st["hyper-v-disabled"], "Error", "{st:?}");
    assert_eq!(st["latest-patches-installed"], "Error", "{st:?}");
    let cut = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "latest-patches-installed")
        .unwrap();
    assert!(
        cut["message"]
            .as_str()
            .unwrap()
            .starts_with("probe `pending-updates` never arrived: the run was cut off"),
        "{cut}"
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["exit_code"], 2);
}

/// A server playing Windows Server 2019 (at a tenth of its timing) whose `pending-updates` probe
/// never ends, and the target URL of it.
fn server_with_a_hanging_probe(dir: &Path, probe: &str) -> (WinrmServer, String) {
    let machine = profile_with(
        dir,
        "windows-server-2019",
        serde_json::json!({ "timing_scale": 0.1, "hang": [probe] }),
    );
    let s = server("http", "ntlm", &machine, &[]);
    let target = format!("winrm://{USER}@127.0.0.1:{}", s.port());
    (s, target)
}

#[test]
fn a_probe_that_hangs_is_stopped_at_its_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let (s, target) = server_with_a_hanging_probe(tmp.path(), "pending-updates");
    let zip = tmp.path().join("hang.zip");
    // The update search has its own timeout (default 600 s), not --timeout's.
    let out = run(
        &target,
        &zip,
        &["--timeout", "2", "--update-search-timeout", "3"],
        PASSWORD,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let r = results(&zip);
    assert_eq!(r["run"]["interrupted"], false);
    let st = statuses(&r);
    let mut want = expected()["windows-server-2019"].clone();
    want.insert("latest-patches-installed".into(), "Error".into());
    assert_eq!(st, want);
    let files = zip_files(&zip);
    let log = text(&files["logs/run.log"]);
    assert!(
        log.contains("probe pending-updates: killed at its timeout"),
        "{log}"
    );
    // The stuck probe does not hold the run: no Signal was needed, the shell was deleted.
    let stats = s.stats();
    assert_eq!(count(&stats, "shells_open"), 0, "{stats}");
}

#[test]
fn ctrl_c_while_a_probe_hangs_keeps_the_rest_and_deletes_the_shell() {
    let tmp = tempfile::tempdir().unwrap();
    // Not the update search: the feature query would wait for it (see
    // the_feature_query_waits_for_the_update_search), so two probes would not report.
    let (s, target) = server_with_a_hanging_probe(tmp.path(), "srv-sys-versions");
    let zip = tmp.path().join("ctrl-c.zip");
    let total = expected()["windows-server-2019"].len();
    let mut child = Command::new(vmcert_bin())
        .args(["run", "--target", &target, "--password-env", PW_VAR])
        .args([
            "--non-interactive",
            "--allow-unanswered",
            "--timeout",
            "300",
            "--out",
        ])
        .arg(&zip)
        .env(PW_VAR, PASSWORD)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vmcert");
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    // Every probe (14) but the hanging one has arrived: Ctrl-C (SIGINT to vmcert alone).
    let mut arrived = 0;
    while arrived < 13 {
        let mut line = String::new();
        let n = std::io::BufRead::read_line(&mut stderr, &mut line).unwrap();
        assert!(n > 0, "vmcert ended before the probes arrived:\n{seen}");
        if line.starts_with("vmcert: [") {
            arrived += 1;
        }
        seen.push_str(&line);
    }
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    stderr.read_to_string(&mut seen).unwrap();
    let code = child.wait().unwrap().code();
    assert_eq!(code, Some(2), "{seen}");
    let r = results(&zip);
    assert_eq!(r["run"]["interrupted"], true, "{r:#}");
    assert_eq!(
        r["run"]["interrupted_reason"], "interrupted (Ctrl-C); 1 probe(s) did not report",
        "{r:#}"
    );
    let st = statuses(&r);
    assert_eq!(st.len(), total);
    assert_eq!(st["wannacry-patch"], "Error", "{st:?}");
    assert_eq!(
        st.values().filter(|v| *v == "Error").count(),
        1,
        "only the hanging probe's check is Error: {st:?}"
    );
    // The shell was signalled and deleted: nothing is left running on the machine.
    let stats = s.stats();
    assert_eq!(count(&stats, "shells_open"), 0, "{stats}");
}

#[test]
fn connect_reports_os_account_and_administrator() {
    let tmp = tempfile::tempdir().unwrap();
    let golden = profile_with(
        tmp.path(),
        "windows-server-2019",
        serde_json::json!({ "timing_scale": 0.0 }),
    );
    let s = server("https", "basic", &golden, &[]);
    let ca = ca_file(&s);
    let target = format!("winrms://{USER}@127.0.0.1:{}", s.port());
    let out = vmcert(
        &[
            "connect",
            "--target",
            &target,
            "--auth",
            "basic",
            "--ca-file",
            &ca,
            "--password-env",
            PW_VAR,
            "--format",
            "json",
        ],
        PASSWORD,
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        j["os"]["caption"],
        "Microsoft Windows Server 2019 Datacenter"
    );
    assert_eq!(j["os"]["build"], "17763");
    assert_eq!(j["os"]["hostname"], "WS2019-CERT01");
    assert_eq!(j["account"]["name"], "WS2019-CERT01\\vmcert");
    assert_eq!(j["account"]["administrator"], true);
    assert_eq!(j["account"]["powershell"], "5.1.17763.6054");
    assert_eq!(j["ready"], true);

    // The same machine where the account is not an administrator: facts, then one error line.
    let text_profile = std::fs::read_to_string(&golden).unwrap();
    let mut m: serde_json::Value = serde_json::from_str(&text_profile).unwrap();
    for u in m["local_users"].as_array_mut().unwrap() {
        if u["name"] == USER {
            u["groups"] = serde_json::json!(["Remote Management Users"]);
        }
    }
    let plain = tmp.path().join("plain-user.json");
    std::fs::write(&plain, serde_json::to_vec(&m).unwrap()).unwrap();
    let s = server("https", "basic", &plain, &[]);
    let ca = ca_file(&s);
    let target = format!("winrms://{USER}@127.0.0.1:{}", s.port());
    let out = vmcert(
        &[
            "connect",
            "--target",
            &target,
            "--auth",
            "basic",
            "--ca-file",
            &ca,
            "--password-env",
            PW_VAR,
        ],
        PASSWORD,
        None,
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(stdout.contains("Administrator    no"), "{stdout}");
    assert_eq!(
        text(&out.stderr),
        "vmcert: error: the account's token is not an administrator: WS2019-CERT01\\vmcert is not a member of Administrators, so the checks that need one are Error\n"
    );
    // And a run there: the probes that need an administrator do not run; their checks are Error.
    let zip = tmp.path().join("plain.zip");
    let out = run(
        &target,
        &zip,
        &["--auth", "basic", "--ca-file", &ca],
        PASSWORD,
    );
    assert_eq!(out.status.code(), Some(2));
    let r = results(&zip);
    let check = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "hyper-v-disabled")
        .unwrap();
    assert_eq!(check["status"], "Error");
    assert!(
        check["message"]
            .as_str()
            .unwrap()
            .contains("needs an administrator"),
        "{check}"
    );
    assert_eq!(statuses(&r)["os-architecture"], "Pass");
}

/// A local administrator other than the built-in one, on a machine without
/// LocalAccountTokenFilterPolicy = 1, as Windows treats it over WinRM: its token is UAC-filtered.
/// `connect` says so, with the fix, before a run; a run says it once in the report's facts.
#[test]
fn a_uac_filtered_administrator_is_told_apart_with_the_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let golden = profiles_dir().join("windows-server-2019.json");
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&golden).unwrap()).unwrap();
    m["registry"]
        .as_array_mut()
        .unwrap()
        .retain(|r| r["name"] != "LocalAccountTokenFilterPolicy");
    m["vmcert_handler"] = serde_json::json!({ "timing_scale": 0.0 });
    let filtered = tmp.path().join("filtered.json");
    std::fs::write(&filtered, serde_json::to_vec(&m).unwrap()).unwrap();
    let s = server("http", "ntlm", &filtered, &[]);
    let target = format!("winrm://{USER}@127.0.0.1:{}", s.port());
    let out = vmcert(
        &["connect", "--target", &target, "--password-env", PW_VAR],
        PASSWORD,
        None,
    );
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stdout.contains("Administrator    no (UAC-filtered token)"),
        "{stdout}"
    );
    assert!(stderr.contains("UAC-filtered"), "{stderr}");
    assert!(stderr.contains("LocalAccountTokenFilterPolicy"), "{stderr}");
    assert!(stderr.contains("built-in Administrator"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");

    let zip = tmp.path().join("filtered.zip");
    let out = run(&target, &zip, &[], PASSWORD);
    assert_eq!(out.status.code(), Some(2));
    let r = results(&zip);
    let fact = r["target"]["facts"]["AdminToken"].as_str().unwrap();
    assert!(fact.starts_with("UAC-filtered"), "{fact}");
    assert!(fact.contains("LocalAccountTokenFilterPolicy"), "{fact}");
    let st = statuses(&r);
    assert_eq!(st["hyper-v-disabled"], "Error");
    assert_eq!(st["os-architecture"], "Pass");
    let check = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "os-disk-size")
        .unwrap();
    assert!(
        check["message"].as_str().unwrap().contains("UAC-filtered"),
        "{check}"
    );
}

/// A fresh Marketplace VM as the test server plays it: a UTF-8 byte-order mark before the first
/// frame, hundreds of services and scheduled tasks (one of them unreadable), an update search
/// slower than the per-probe timeout (given its own), and Azure's NoAutoUpdate for patch mode
/// AutomaticByPlatform.
#[test]
fn a_fresh_vm_with_a_slow_update_search_and_azure_patch_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let golden = profiles_dir().join("windows-server-2019.json");
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&golden).unwrap()).unwrap();
    m["azure"] = serde_json::json!({ "patch_mode": "AutomaticByPlatform" });
    // One task whose definition cannot be read: reported beside the others, not sinking them.
    m["scheduled_tasks"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({ "path": "\\Vendor\\", "name": "Broken", "actions": [], "unreadable": true }));
    m["vmcert_handler"] = serde_json::json!({
        "timing_scale": 0.1,
        "stdout_bom": true,
        "extra_services": 300,
        "extra_tasks": 200,
        "update_search_seconds": 40.0
    });
    let fresh = tmp.path().join("fresh.json");
    std::fs::write(&fresh, serde_json::to_vec(&m).unwrap()).unwrap();
    let s = server("http", "ntlm", &fresh, &[]);
    let target = format!("winrm://{USER}@127.0.0.1:{}", s.port());
    let zip = tmp.path().join("fresh.zip");
    // The search takes 4 s (40 s at a tenth of the timing): over --timeout, under its own.
    let out = run(
        &target,
        &zip,
        &["--timeout", "3", "--update-search-timeout", "30"],
        PASSWORD,
    );
    let r = results(&zip);
    let st = statuses(&r);
    let mut want = expected()["windows-server-2019"].clone();
    want.insert("auto-update-enabled".into(), "Warning".into());
    want.insert("only-c-and-d-drives".into(), "Warning".into());
    assert_eq!(st, want, "{}", text(&out.stderr));
    let check = |id: &str| {
        r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap()
            .clone()
    };
    let au = check("auto-update-enabled");
    assert!(
        au["actual"]
            .as_str()
            .unwrap()
            .contains("AutomaticByPlatform"),
        "{au}"
    );
    assert!(
        au["message"].as_str().unwrap().contains("AutomaticByOS"),
        "{au}"
    );
    assert_eq!(r["target"]["facts"]["AdminToken"], "elevated administrator");
}

/// `Get-WindowsFeature` never runs beside the Windows Update search (issue 15): the test server
/// fails a feature query that overlaps the search (the servicing stack is busy), so the feature
/// check passes only if the script started it after the search had ended. The search (2 s) is
/// far slower than the feature query (0.22 s): the feature query's frame arriving after the
/// search's shows it waited; the fact probes in the other lanes did not.
#[test]
fn the_feature_query_waits_for_the_update_search() {
    let tmp = tempfile::tempdir().unwrap();
    let machine = profile_with(
        tmp.path(),
        "windows-server-2019",
        serde_json::json!({ "timing_scale": 0.1, "update_search_seconds": 20.0 }),
    );
    let s = server("http", "ntlm", &machine, &[]);
    let target = format!("winrm://{USER}@127.0.0.1:{}", s.port());
    let zip = tmp.path().join("order.zip");
    let out = run(
        &target,
        &zip,
        &["--checks", "hyper-v-disabled,latest-patches-installed"],
        PASSWORD,
    );
    let st = statuses(&results(&zip));
    assert_eq!(st["hyper-v-disabled"], "Pass", "{}", text(&out.stderr));
    assert_eq!(st["latest-patches-installed"], "Pass");
    let log = text(&zip_files(&zip)["logs/run.log"]);
    let at = |what: &str| {
        log.find(what)
            .unwrap_or_else(|| panic!("no `{what}` in the run log:\n{log}"))
    };
    assert!(
        at("probe pending-updates: exit 0") < at("probe windows-features: exit 0"),
        "{log}"
    );
    assert!(
        at("probe os-info: exit 0") < at("probe pending-updates: exit 0"),
        "{log}"
    );
}

/// Issue 17, item 1 on Windows: a hostile probe (or a process it leaves behind) writes frames to
/// the script's stdout. It knows everything the script text holds (the nonce, the frame format),
/// so it can write a frame that looks right: for another probe (here one that would Fail, with
/// the output that Passes, gluing the real frame to a partial line so it no longer starts a
/// line), or for itself after its own frame. Each makes the run Error as tampered, never Pass.
#[test]
fn a_probe_forging_frames_makes_the_run_tampered_not_pass() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        (
            "another probe's, its real frame hidden",
            serde_json::json!([{ "during": "os-info", "for": "sql-services", "stdout": "", "hide_real": true }]),
        ),
        (
            "another probe's, before the real one",
            serde_json::json!([{ "during": "os-info", "for": "sql-services", "stdout": "" }]),
        ),
        (
            "its own, after its end",
            serde_json::json!([{ "during": "sql-services", "for": "sql-services", "stdout": "", "after_end": true }]),
        ),
    ];
    for (n, (what, forge)) in cases.into_iter().enumerate() {
        let dir = tmp.path().join(n.to_string());
        std::fs::create_dir(&dir).unwrap();
        let machine = profile_with(
            &dir,
            "defect-provisioning",
            serde_json::json!({ "timing_scale": 0.1, "forge": forge }),
        );
        let s = server("http", "ntlm", &machine, &[]);
        let target = format!("winrm://{USER}@127.0.0.1:{}", s.port());
        let zip = dir.join("forged.zip");
        let out = run(&target, &zip, &[], PASSWORD);
        let stderr = text(&out.stderr);
        let r = results(&zip);
        let st = statuses(&r);
        assert_eq!(
            st["sql-server-not-self-installed"], "Error",
            "{what}: the forged frame was taken: {st:?}"
        );
        assert_eq!(out.status.code(), Some(2), "{what}: {stderr}");
        let reason = r["run"]["interrupted_reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains("tampered with on the target"),
            "{what}: {reason}\n{stderr}"
        );
    }
}
