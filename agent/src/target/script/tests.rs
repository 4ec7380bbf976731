//! Tests of the probe script, run for real under dash (`sh`) and `bash --posix`, and of the frame
//! parser on hand-made, garbled and cut streams. The shell tests need root only where they switch
//! to an unprivileged user (the sudo cases) and fail, never skip, when that is not possible.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use super::*;

const SHELLS: [&[&str]; 2] = [&["sh", "-s"], &["bash", "--posix", "-s"]];

fn spec(id: &str, command: &str) -> ProbeSpec {
    ProbeSpec {
        id: id.to_string(),
        command: command.to_string(),
        needs_root: false,
        timeout_secs: 30,
        output_cap: DEFAULT_OUTPUT_CAP,
    }
}

/// What one run of a script gave.
struct Run {
    /// Results in arrival order.
    order: Vec<String>,
    results: BTreeMap<String, ProbeOutput>,
    parser: FrameParser,
    status: std::process::ExitStatus,
    stderr: String,
}

impl Run {
    fn out(&self, id: &str) -> &ProbeOutput {
        self.results
            .get(id)
            .unwrap_or_else(|| panic!("no result for {id}; stderr: {}", self.stderr))
    }
    fn stdout(&self, id: &str) -> String {
        String::from_utf8_lossy(&self.out(id).stdout).into_owned()
    }
}

struct Opts<'a> {
    /// argv that reads the script on stdin.
    argv: Vec<String>,
    /// Directories put in front of PATH.
    path_prefix: Option<&'a Path>,
    tmpdir: Option<&'a Path>,
    on_result: Box<dyn FnMut(&ProbeResult) + 'a>,
}

impl<'a> Opts<'a> {
    fn shell(argv: &[&str]) -> Self {
        Self {
            argv: argv.iter().map(ToString::to_string).collect(),
            path_prefix: None,
            tmpdir: None,
            on_result: Box::new(|_| {}),
        }
    }
}

/// Runs `script` with `opts`, failing the test if it takes more than two minutes.
fn run(script: &ProbeScript, mut opts: Opts<'_>) -> Run {
    let mut cmd = Command::new(&opts.argv[0]);
    cmd.args(&opts.argv[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(p) = opts.path_prefix {
        let path = std::env::var("PATH").unwrap_or_default();
        cmd.env("PATH", format!("{}:{path}", p.display()));
    }
    if let Some(t) = opts.tmpdir {
        cmd.env("TMPDIR", t);
    }
    let mut child = cmd.spawn().expect("spawn shell");
    let pid = child.id();
    let (tx, rx) = mpsc::channel::<()>();
    let guard = thread::spawn(move || {
        if rx.recv_timeout(Duration::from_secs(120)).is_err() {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .status();
            panic!("the probe script ran for more than 120 s");
        }
    });
    let mut stdin = child.stdin.take().unwrap();
    let text = script.text().to_string();
    let writer = thread::spawn(move || {
        let _ = stdin.write_all(text.as_bytes());
    });
    let mut stderr = child.stderr.take().unwrap();
    let err_reader = thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut parser = script.parser();
    let mut order = Vec::new();
    let mut results = BTreeMap::new();
    let mut stdout = child.stdout.take().unwrap();
    let mut sink = FnSink(|r: ProbeResult| {
        (opts.on_result)(&r);
        order.push(r.id.clone());
        assert!(
            results.insert(r.id, r.output).is_none(),
            "a probe arrived twice"
        );
    });
    pump(&mut stdout, &mut parser, &mut sink).unwrap();
    let status = child.wait().unwrap();
    let _ = tx.send(());
    guard.join().unwrap();
    writer.join().unwrap();
    let stderr = err_reader.join().unwrap();
    Run {
        order,
        results,
        parser,
        status,
        stderr,
    }
}

/// A sink handing results to a closure (notes are not under test here).
struct FnSink<F: FnMut(ProbeResult)>(F);

impl<F: FnMut(ProbeResult)> ProbeSink for FnSink<F> {
    fn result(&mut self, result: ProbeResult) {
        (self.0)(result);
    }
    fn note(&mut self, _line: String) {}
}

fn header_field<'a>(run: &'a Run, key: &str) -> &'a str {
    let header = run.parser.header().expect("start line");
    header
        .split_whitespace()
        .find_map(|f| f.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {key} in {header}"))
}

/// A directory of stand-ins for `timeout`, `base64` and `head` that fail, so the script takes its
/// fallbacks (watchdog, od hex, dd).
fn without_gnu_tools() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for tool in ["timeout", "base64", "head"] {
        let p = dir.path().join(tool);
        fs::write(&p, "#!/bin/sh\nexit 1\n").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

/// Asserts that `pid` is gone or a zombie (a killed process whose new parent has not reaped it
/// yet), allowing the kernel up to 5 s to finish delivering a SIGKILL.
fn assert_dead(pid: &str) {
    let pid = pid.trim();
    assert!(!pid.is_empty(), "no pid recorded");
    let mut last = String::new();
    for _ in 0..50 {
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return;
        };
        let state = stat.rsplit_once(") ").and_then(|(_, r)| r.chars().next());
        if state == Some('Z') {
            return;
        }
        last = stat;
        thread::sleep(Duration::from_millis(100));
    }
    panic!("process {pid} is still alive: {last}");
}

fn empty_dir(p: &Path) -> bool {
    fs::read_dir(p).unwrap().next().is_none()
}

#[test]
fn outputs_exit_codes_and_bytes_survive_the_round_trip() {
    let probes = vec![
        spec("hello", "echo hello; echo oops >&2"),
        spec("exit3", "echo partial; exit 3"),
        spec("absent", "no-such-command-vmcert"),
        spec("binary", "printf '\\377\\376\\000x\\n'"),
        spec("silent", "true"),
        spec("reads-stdin", "cat; echo after-cat"),
        spec("literal", "echo '$T $M' \"`echo ran`\"\nVMCERT_CMD_x"),
        spec("quotes", r#"echo "it's" '\' ''\''' %s"#),
        spec("last", "echo last"),
    ];
    let script = ProbeScript::new(&probes, 3).unwrap();
    for argv in SHELLS {
        let tmp = tempfile::tempdir().unwrap();
        let mut opts = Opts::shell(argv);
        opts.tmpdir = Some(tmp.path());
        let r = run(&script, opts);
        let shell = argv.join(" ");
        assert!(r.status.success(), "{shell}: {}", r.stderr);
        assert!(r.parser.is_done(), "{shell}");
        assert!(
            r.parser.missing().is_empty(),
            "{shell}: {:?}",
            r.parser.missing()
        );
        assert!(
            r.parser.problems().is_empty(),
            "{shell}: {:?}",
            r.parser.problems()
        );
        assert_eq!(
            r.out("hello"),
            &ProbeOutput {
                stderr: b"oops\n".to_vec(),
                duration_ms: r.out("hello").duration_ms,
                ..ProbeOutput::exited(0, "hello\n")
            }
        );
        assert_eq!(
            (r.out("exit3").exit_code, r.stdout("exit3").as_str()),
            (Some(3), "partial\n")
        );
        assert_eq!(r.out("absent").exit_code, Some(127), "{shell}");
        assert!(
            r.out("absent").stderr_text().contains("not found"),
            "{shell}"
        );
        assert_eq!(r.out("binary").stdout, b"\xff\xfe\x00x\n", "{shell}");
        assert_eq!(
            r.out("silent"),
            &ProbeOutput {
                duration_ms: r.out("silent").duration_ms,
                ..ProbeOutput::exited(0, "")
            }
        );
        // The probe's stdin is /dev/null: it did not swallow the rest of the script.
        assert_eq!(r.stdout("reads-stdin"), "after-cat\n", "{shell}");
        assert_eq!(r.stdout("last"), "last\n", "{shell}");
        // The command file is written without expansion.
        assert_eq!(r.out("literal").exit_code, Some(127), "{shell}");
        assert_eq!(r.stdout("literal"), "$T $M ran\n", "{shell}");
        // Quotes and format characters reach the command file as they are.
        assert_eq!(r.stdout("quotes"), "it's \\ ' %s\n", "{shell}");
        assert_eq!(r.results.len(), probes.len());
        assert!(
            empty_dir(tmp.path()),
            "{shell}: temporary files left behind"
        );
        let fields = ["n", "timeout", "enc", "clock", "cap", "sudo"].map(|k| header_field(&r, k));
        assert_eq!(fields, ["9", "gnu", "b64", "up", "head", "none"], "{shell}");
        assert_eq!(r.parser.noise_lines(), 0);
    }
}

/// A directory with an `nproc` that prints `cpus` (or fails, for `None`).
fn with_cpus(cpus: Option<u32>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("nproc");
    let body = cpus.map_or_else(|| "exit 1".to_owned(), |n| format!("echo {n}"));
    fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// The most probes the script ran at once: each of `n` probes records the count of running
/// probes when it starts and 0.3 s later.
fn most_at_once(argv: &[&str], lanes: usize, n: usize, cpus: Option<u32>) -> (u32, String) {
    let running = tempfile::tempdir().unwrap();
    let d = running.path().display();
    let count = format!("touch {d}/$$; ls {d} | wc -l; sleep 0.3; ls {d} | wc -l; rm {d}/$$");
    let probes: Vec<ProbeSpec> = (0..n).map(|i| spec(&format!("c{i}"), &count)).collect();
    let fake = with_cpus(cpus);
    let r = run(
        &ProbeScript::new(&probes, lanes).unwrap(),
        Opts {
            path_prefix: Some(fake.path()),
            ..Opts::shell(argv)
        },
    );
    let max = (0..n)
        .flat_map(|i| {
            r.stdout(&format!("c{i}"))
                .lines()
                .map(|l| l.trim().parse::<u32>().unwrap())
                .collect::<Vec<_>>()
        })
        .max()
        .unwrap();
    (max, header_field(&r, "lanes").to_owned())
}

#[test]
fn probes_run_concurrently_within_the_lane_bound() {
    for argv in SHELLS {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        // Three probes wait (up to 20 s) until all three have started: only concurrency lets
        // each of them see all three.
        let barrier = format!(
            "touch {d}/$$; n=0; while [ $(ls {d} | wc -l) -lt 3 ] && [ $n -lt 200 ]; do sleep 0.1; n=$((n + 1)); done; ls {d} | wc -l"
        );
        let probes: Vec<ProbeSpec> = (0..3).map(|i| spec(&format!("b{i}"), &barrier)).collect();
        let cpus = with_cpus(Some(8));
        let r = run(
            &ProbeScript::new(&probes, 3).unwrap(),
            Opts {
                path_prefix: Some(cpus.path()),
                ..Opts::shell(argv)
            },
        );
        for i in 0..3 {
            assert_eq!(r.stdout(&format!("b{i}")).trim(), "3", "{argv:?}");
        }

        // Six probes, two lanes, many CPUs: no probe ever sees more than two running.
        assert_eq!(
            most_at_once(argv, 2, 6, Some(8)),
            (2, "2".to_owned()),
            "{argv:?}"
        );
    }
}

#[test]
fn lanes_follow_the_cpus_between_two_and_the_bound() {
    for argv in SHELLS {
        // One lane per CPU: 3 CPUs, bound 4.
        assert_eq!(
            most_at_once(argv, 4, 6, Some(3)),
            (3, "3".to_owned()),
            "{argv:?}"
        );
        // At least two, so a hung probe does not hold up the rest: 1 CPU.
        assert_eq!(
            most_at_once(argv, 4, 6, Some(1)),
            (2, "2".to_owned()),
            "{argv:?}"
        );
        // No `nproc`: the bound.
        assert_eq!(
            most_at_once(argv, 4, 6, None),
            (4, "4".to_owned()),
            "{argv:?}"
        );
    }
}

#[test]
fn frames_stream_as_probes_finish() {
    for argv in SHELLS {
        let dir = tempfile::tempdir().unwrap();
        let go = dir.path().join("go");
        // `slow` waits for a file that the test creates only when `fast` has been delivered: it
        // can only succeed if `fast` streamed out while `slow` was still running.
        let probes = vec![
            spec(
                "slow",
                &format!(
                    "n=0; while [ ! -e {} ] && [ $n -lt 200 ]; do sleep 0.1; n=$((n + 1)); done; [ -e {0} ] && echo released",
                    go.display()
                ),
            ),
            spec("fast", "echo fast"),
        ];
        let mut opts = Opts::shell(argv);
        let go2 = go.clone();
        opts.on_result = Box::new(move |r| {
            if r.id == "fast" {
                fs::write(&go2, b"").unwrap();
            }
        });
        let r = run(&ProbeScript::new(&probes, 2).unwrap(), opts);
        assert_eq!(r.order, ["fast", "slow"], "{argv:?}");
        assert_eq!(
            (r.out("slow").exit_code, r.stdout("slow").as_str()),
            (Some(0), "released\n"),
            "{argv:?}"
        );
    }
}

fn hanging_probe(dir: &Path) -> ProbeSpec {
    ProbeSpec {
        timeout_secs: 1,
        ..spec(
            "hang",
            &format!(
                "sleep 1000 & echo $! > {}/child; echo started; sleep 1000",
                dir.display()
            ),
        )
    }
}

#[test]
fn a_hanging_probe_and_its_children_are_killed_at_the_timeout() {
    let fallback = without_gnu_tools();
    for (argv, prefix, mode) in [
        (SHELLS[0], None, "gnu"),
        (SHELLS[1], None, "gnu"),
        (SHELLS[0], Some(fallback.path()), "watchdog"),
        (SHELLS[1], Some(fallback.path()), "watchdog"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let probes = vec![hanging_probe(dir.path()), spec("after", "echo after")];
        let mut opts = Opts::shell(argv);
        opts.path_prefix = prefix;
        opts.tmpdir = Some(tmp.path());
        let r = run(&ProbeScript::new(&probes, 2).unwrap(), opts);
        assert_eq!(header_field(&r, "timeout"), mode);
        let hang = r.out("hang");
        assert!(hang.timed_out, "{argv:?} {mode}: {hang:?} {}", r.stderr);
        assert_eq!(hang.exit_code, None);
        assert!(hang.duration_ms >= 1000, "{hang:?}");
        assert_eq!(r.stdout("hang"), "started\n");
        assert_dead(&fs::read_to_string(dir.path().join("child")).unwrap());
        assert_eq!(r.stdout("after"), "after\n");
        assert!(r.parser.is_done());
        assert!(empty_dir(tmp.path()), "temporary files left behind");
    }
}

#[test]
fn a_probe_printing_50_mb_is_capped_and_flagged() {
    for argv in SHELLS {
        let probes = vec![
            ProbeSpec {
                output_cap: 1024 * 1024,
                ..spec("flood", "dd if=/dev/zero bs=1048576 count=50 2>/dev/null")
            },
            ProbeSpec {
                output_cap: 1024 * 1024,
                ..spec(
                    "flood-err",
                    "dd if=/dev/zero bs=1048576 count=50 >&2 2>/dev/null",
                )
            },
            ProbeSpec {
                output_cap: 4,
                ..spec("exact", "printf abcd")
            },
        ];
        let r = run(&ProbeScript::new(&probes, 3).unwrap(), Opts::shell(argv));
        let flood = r.out("flood");
        assert!(flood.truncated, "{argv:?}");
        assert_eq!(flood.stdout.len(), 1024 * 1024);
        assert!(flood.stdout.iter().all(|&b| b == 0));
        // The writer was stopped at the cap (SIGPIPE), not left to write 50 MB.
        assert_eq!(flood.exit_code, Some(128 + 13), "{argv:?}");
        assert!(r.out("flood-err").truncated);
        assert_eq!(r.out("flood-err").stderr.len(), 1024 * 1024);
        // Exactly the cap is not truncated.
        assert!(!r.out("exact").truncated);
        assert_eq!(r.stdout("exact"), "abcd");
    }
}

#[test]
fn fallbacks_without_gnu_timeout_base64_and_head_give_the_same_results() {
    let fallback = without_gnu_tools();
    let probes = vec![
        spec(
            "binary",
            "printf '\\377\\376\\000x\\n'; echo err >&2; exit 4",
        ),
        ProbeSpec {
            output_cap: 1000,
            ..spec("flood", "while :; do echo yyyyyyyyyyyyyyyyyyy; done")
        },
        spec("empty", "true"),
    ];
    for argv in SHELLS {
        let mut opts = Opts::shell(argv);
        opts.path_prefix = Some(fallback.path());
        let r = run(&ProbeScript::new(&probes, 2).unwrap(), opts);
        assert_eq!(
            (
                header_field(&r, "enc"),
                header_field(&r, "cap"),
                header_field(&r, "timeout")
            ),
            ("hex", "dd", "watchdog")
        );
        assert_eq!(r.out("binary").stdout, b"\xff\xfe\x00x\n");
        assert_eq!(
            (r.out("binary").stderr.as_slice(), r.out("binary").exit_code),
            (&b"err\n"[..], Some(4))
        );
        assert!(r.out("flood").truncated);
        assert_eq!(r.out("flood").stdout.len(), 1000);
        assert_eq!(r.out("empty").exit_code, Some(0));
        assert!(r.parser.problems().is_empty(), "{:?}", r.parser.problems());
    }
}

#[test]
fn durations_come_from_proc_uptime_else_from_date() {
    require_root("hiding /proc/uptime needs a mount namespace");
    let probes = vec![spec("nap", "sleep 0.3")];
    let script = ProbeScript::new(&probes, 1).unwrap();
    let hidden = [
        "unshare",
        "-m",
        "sh",
        "-c",
        "mount --bind /dev/null /proc/uptime && exec sh -s",
    ];
    for (argv, clock) in [(&["sh", "-s"][..], "up"), (&hidden[..], "ns")] {
        let r = run(&script, Opts::shell(argv));
        assert_eq!(header_field(&r, "clock"), clock, "{argv:?}");
        let ms = r.out("nap").duration_ms;
        // A lower bound only: the clock must see the nap, however slow the machine.
        assert!(ms >= 290, "{argv:?}: sleep 0.3 took {ms} ms");
    }
}

fn require_root(what: &str) {
    let uid = Command::new("id").arg("-u").output().expect("id -u");
    assert_eq!(
        String::from_utf8_lossy(&uid.stdout).trim(),
        "0",
        "{what} needs root (it switches to the `nobody` user); run the tests as root (tests/run.sh does)"
    );
}

/// A temporary directory `nobody` can write to.
fn shared_tmp() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    fs::set_permissions(t.path(), fs::Permissions::from_mode(0o1777)).unwrap();
    t
}

fn root_probes(dir: &Path) -> Vec<ProbeSpec> {
    vec![
        ProbeSpec {
            needs_root: true,
            ..spec("whoami-root", "id -u")
        },
        ProbeSpec {
            needs_root: true,
            timeout_secs: 1,
            ..spec(
                "hang-root",
                &format!("sleep 1000 & echo $! > {}/child; sleep 1000", dir.display()),
            )
        },
        spec("whoami", "id -u"),
    ]
}

#[test]
fn root_probes_without_sudo_rights_say_so_and_the_rest_still_run() {
    require_root("this test");
    let tmp = shared_tmp();
    let dir = shared_tmp();
    let script = ProbeScript::new(&root_probes(dir.path()), 2).unwrap();
    for argv in SHELLS {
        let mut full = vec![
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
        ];
        full.extend_from_slice(argv);
        let mut opts = Opts::shell(&full);
        opts.tmpdir = Some(tmp.path());
        let r = run(&script, opts);
        assert_eq!(header_field(&r, "sudo"), "password", "{}", r.stderr);
        for id in ["whoami-root", "hang-root"] {
            let o = r.out(id);
            assert_eq!(
                o.error.as_deref(),
                Some("needs root: sudo requires a password")
            );
            assert_eq!(o.exit_code, None);
        }
        assert_eq!(r.stdout("whoami").trim(), "65534");
        assert!(empty_dir(tmp.path()));
    }
}

#[test]
fn root_probes_go_through_sudo_and_their_timeout_kills_roots_processes() {
    require_root("this test");
    // A real sudo, with a sudoers file granting `nobody` NOPASSWD, bind-mounted over
    // /etc/sudoers in a private mount namespace only this test's processes see.
    let sudoers = tempfile::NamedTempFile::new().unwrap();
    fs::write(
        sudoers.path(),
        "Defaults env_reset\nnobody ALL=(ALL:ALL) NOPASSWD: ALL\n",
    )
    .unwrap();
    fs::set_permissions(sudoers.path(), fs::Permissions::from_mode(0o440)).unwrap();
    let tmp = shared_tmp();
    let dir = shared_tmp();
    let script = ProbeScript::new(&root_probes(dir.path()), 3).unwrap();
    for argv in SHELLS {
        let inner = format!(
            "mount --bind {} /etc/sudoers && exec setpriv --reuid=nobody --regid=nogroup --clear-groups {}",
            sudoers.path().display(),
            argv.join(" ")
        );
        let mut opts = Opts::shell(&["unshare", "-m", "sh", "-c", &inner]);
        opts.tmpdir = Some(tmp.path());
        let r = run(&script, opts);
        assert_eq!(header_field(&r, "sudo"), "ok", "{}", r.stderr);
        assert_eq!(
            r.stdout("whoami-root").trim(),
            "0",
            "{:?}",
            r.out("whoami-root")
        );
        assert_eq!(r.stdout("whoami").trim(), "65534");
        assert!(r.out("hang-root").timed_out, "{:?}", r.out("hang-root"));
        assert_dead(&fs::read_to_string(dir.path().join("child")).unwrap());
        assert!(empty_dir(tmp.path()));
    }
}

#[test]
fn a_killed_script_cleans_up_and_kills_its_probes() {
    for argv in SHELLS {
        let dir = tempfile::tempdir().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let probes = vec![
            ProbeSpec {
                timeout_secs: 600,
                ..hanging_probe(dir.path())
            },
            spec("quick", "echo quick"),
        ];
        let script = ProbeScript::new(&probes, 2).unwrap();
        let mut child = Command::new(argv[0])
            .args(&argv[1..])
            .env("TMPDIR", tmp.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.text().as_bytes())
            .unwrap();
        let mut parser = script.parser();
        let mut stdout = child.stdout.take().unwrap();
        let mut buf = [0u8; 4096];
        // Read until `quick` arrives and the hanging probe has recorded its child.
        let child_file = dir.path().join("child");
        let mut got_quick = false;
        while !got_quick {
            let n = stdout.read(&mut buf).unwrap();
            assert!(n > 0, "the script ended early");
            got_quick |= parser.feed(&buf[..n]).iter().any(|r| r.id == "quick");
        }
        // `quick` can arrive before the hanging probe has written its child's pid; no more output
        // comes after it, so wait for the file itself rather than for the stream.
        for _ in 0..500 {
            if child_file.exists() && !fs::read_to_string(&child_file).unwrap().trim().is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            child_file.exists(),
            "{argv:?}: the hanging probe never started its child"
        );
        let pid = child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let mut rest = Vec::new();
        let _ = stdout.read_to_end(&mut rest);
        parser.feed(&rest);
        parser.finish();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(143), "{argv:?}");
        assert!(!parser.is_done());
        assert_eq!(parser.missing(), ["hang"]);
        assert_dead(&fs::read_to_string(&child_file).unwrap());
        assert!(
            empty_dir(tmp.path()),
            "{argv:?}: temporary files left behind"
        );
    }
}

#[test]
fn an_unwritable_tmpdir_is_a_fatal_frame() {
    let probes = vec![spec("a", "true")];
    let script = ProbeScript::new(&probes, 1).unwrap();
    let missing = PathBuf::from("/nonexistent/vmcert");
    let mut opts = Opts::shell(SHELLS[0]);
    opts.tmpdir = Some(&missing);
    let r = run(&script, opts);
    assert_eq!(
        r.parser.fatal(),
        Some("cannot create a temporary directory in /nonexistent/vmcert")
    );
    assert_eq!(r.parser.missing(), ["a"]);
    assert!(!r.status.success());
}

#[test]
fn an_empty_probe_list_is_a_complete_run() {
    let script = ProbeScript::new(&[], 4).unwrap();
    let r = run(&script, Opts::shell(SHELLS[0]));
    assert!(r.parser.is_done());
    assert!(r.results.is_empty());
}

#[test]
fn generator_refuses_unsafe_input() {
    assert_eq!(
        ProbeScript::new(&[spec("a b", "x")], 1).unwrap_err(),
        ScriptError::BadId("a b".into())
    );
    assert_eq!(
        ProbeScript::new(&[spec("a'", "x")], 1).unwrap_err(),
        ScriptError::BadId("a'".into())
    );
    assert_eq!(
        ProbeScript::new(&[spec("a", "x"), spec("a", "y")], 1).unwrap_err(),
        ScriptError::Duplicate("a".into())
    );
    assert_eq!(
        ProbeScript::new(
            &[ProbeSpec {
                timeout_secs: 0,
                ..spec("a", "x")
            }],
            1
        )
        .unwrap_err(),
        ScriptError::Zero("a".into())
    );
    assert_eq!(ProbeScript::new(&[], 0).unwrap_err(), ScriptError::NoLanes);
    let s = ProbeScript::new(&[spec("a", "x")], 1).unwrap();
    let t = ProbeScript::new(&[spec("a", "x")], 1).unwrap();
    assert_ne!(s.nonce, t.nonce, "every script has its own nonce");
    assert!(
        !s.text().contains("@@"),
        "a template slot was left unfilled"
    );
}

// ---- parser on synthetic streams ----

fn parser_for(ids: &[&str]) -> (ProbeScript, FrameParser) {
    let probes: Vec<ProbeSpec> = ids
        .iter()
        .map(|id| ProbeSpec {
            output_cap: 64,
            ..spec(id, "true")
        })
        .collect();
    let s = ProbeScript::new(&probes, 1).unwrap();
    let p = s.parser();
    (s, p)
}

/// The frame the script prints for probe `idx`: `meta` without its `bytes=` field, which is
/// added from `out_b64` (0 when that is not valid base64).
fn frame(s: &ProbeScript, idx: usize, id: &str, meta: &str, out_b64: &str) -> String {
    let m = format!("#vmcert:{}:", s.nonce);
    let k = &s.tokens[idx];
    let clean: String = out_b64.split_whitespace().collect();
    let n = base64::engine::general_purpose::STANDARD
        .decode(clean)
        .map_or(0, |d| d.len());
    format!(
        "{m}begin {idx} {id} {k}\n{m}meta {meta} bytes={n},0\n{m}stdout b64\n{out_b64}\n{m}stderr b64\n{m}end {idx} {k}\n"
    )
}

/// The script's `done` line.
fn done(s: &ProbeScript) -> String {
    format!("#vmcert:{}:done {}\n", s.nonce, s.done_token)
}

#[test]
fn parser_ignores_noise_and_reports_what_never_arrived() {
    let (s, mut p) = parser_for(&["a", "b", "c"]);
    let m = format!("#vmcert:{}:", s.nonce);
    let stream = format!(
        "Welcome to the machine\r\n#vmcert:othernonce:begin 0 a {}\n{m}start n=3\n{}garbage line\n{}",
        s.tokens[0],
        frame(&s, 0, "a", "rc=0 ms=5 timeout=0 truncated=0", "aGVsbG8K"),
        frame(&s, 2, "c", "rc=- ms=1000 timeout=1 truncated=0", ""),
    );
    let got = p.feed(stream.as_bytes());
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[0].output,
        ProbeOutput {
            duration_ms: 5,
            ..ProbeOutput::exited(0, "hello\n")
        }
    );
    assert_eq!(
        got[1].output,
        ProbeOutput {
            duration_ms: 1000,
            timed_out: true,
            ..ProbeOutput::default()
        }
    );
    assert!(p.finish().is_empty());
    assert_eq!(p.missing(), ["b"]);
    assert!(!p.is_done());
    assert_eq!(p.noise_lines(), 3);
}

#[test]
fn parser_is_indifferent_to_how_the_stream_is_split() {
    let (s, whole_parser) = parser_for(&["a", "b"]);
    let stream = format!(
        "{}{}{}",
        frame(
            &s,
            0,
            "a",
            "rc=2 ms=5 timeout=0 truncated=0",
            "AAEC\r\n/w=="
        ),
        frame(&s, 1, "b", "rc=0 ms=5 timeout=0 truncated=1", "eA=="),
        done(&s),
    );
    let mut whole_parser = whole_parser;
    let whole = whole_parser.feed(stream.as_bytes());
    let mut bytewise = s.parser();
    let mut pieces = Vec::new();
    for b in stream.as_bytes() {
        pieces.extend(bytewise.feed(std::slice::from_ref(b)));
    }
    assert_eq!(whole, pieces);
    assert_eq!(whole[0].output.stdout, [0, 1, 2, 255]);
    assert_eq!(whole[0].output.exit_code, Some(2));
    assert!(whole[1].output.truncated);
    assert!(bytewise.is_done() && whole_parser.is_done());
}

#[test]
fn parser_turns_malformed_frames_into_errors_and_cut_frames_into_missing() {
    let (s, mut p) = parser_for(&["a", "b", "c", "d", "e"]);
    let m = format!("#vmcert:{}:", s.nonce);
    let (k3, k4) = (&s.tokens[3], &s.tokens[4]);
    let stream = format!(
        "{}{}{}{m}begin 3 d {k3}\n{m}meta rc=0 ms=1 timeout=0 truncated=0 bytes=0,0\n{}{m}begin 4 e {k4}\n{m}meta rc=0 ms=1 timeout=0 truncated=0 bytes=6,0\n{m}stdout b64\naGVsbG8K\n",
        frame(&s, 0, "a", "rc=zero ms=5 timeout=0 truncated=0", ""),
        frame(&s, 1, "b", "rc=0 ms=5 timeout=0 truncated=0", "!!!!"),
        // More than the 64-byte cap.
        frame(
            &s,
            2,
            "c",
            "rc=0 ms=5 timeout=0 truncated=0",
            &"QUFB".repeat(30)
        ),
        // `d` is interrupted by a frame of `c` (a repeat, which the script never prints: `c`
        // is delivered again, as an error, and the stream is marked forged).
        frame(&s, 2, "c", "rc=0 ms=5 timeout=0 truncated=0", ""),
    );
    let got = p.feed(stream.as_bytes());
    let errors: Vec<(&str, &str)> = got
        .iter()
        .map(|r| (r.id.as_str(), r.output.error.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(
        errors,
        [
            (
                "a",
                "its output frame arrived malformed (its meta line is malformed)"
            ),
            (
                "b",
                "its output frame arrived malformed (its output is not valid base64/hex)"
            ),
            (
                "c",
                "its output frame arrived malformed (it holds more output than the probe's cap)"
            ),
            (
                "d",
                "its output frame arrived malformed (it was not ended before the next frame began)"
            ),
            (
                "c",
                "its output cannot be trusted: a second frame arrived for it, which another process on the target forged or replayed"
            ),
        ]
    );
    assert!(got.iter().all(|r| r.output.exit_code.is_none()));
    assert!(p.finish().is_empty());
    assert_eq!(p.missing(), ["e"]);
    assert!(
        p.problems().iter().any(|x| x.contains("`e` was cut off")),
        "{:?}",
        p.problems()
    );
    assert_eq!(p.forged(), ["a second frame for probe `c`"]);
    assert!(
        p.problems().iter().any(|x| x.contains("`e` was cut off")),
        "{:?}",
        p.problems()
    );
}

#[test]
fn parser_survives_garbage_and_overlong_lines() {
    let (s, mut p) = parser_for(&["a"]);
    // Deterministic pseudo-random bytes, including newlines and marker fragments.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut junk = Vec::new();
    for i in 0..200_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        junk.push((x & 0xff) as u8);
        if i % 5000 == 0 {
            junk.extend_from_slice(format!("#vmcert:{}:", s.nonce).as_bytes());
        }
    }
    junk.extend(std::iter::repeat_n(b'A', MAX_LINE * 3));
    junk.push(b'\n');
    let _ = p.feed(&junk);
    let got = p.feed(frame(&s, 0, "a", "rc=0 ms=1 timeout=0 truncated=0", "eA==").as_bytes());
    // The garbage opened no frame (the generator is fixed, so this is deterministic) and the
    // clean frame afterwards is read.
    assert_eq!(got.len(), 1, "{:?}", p.problems());
    assert_eq!(got[0].output.stdout, b"x");
}

#[test]
fn parser_reads_hex_frames_and_a_final_line_without_newline() {
    let (s, mut p) = parser_for(&["a"]);
    let m = format!("#vmcert:{}:", s.nonce);
    let k = &s.tokens[0];
    let stream = format!(
        "{m}begin 0 a {k}\n{m}meta rc=0 ms=1 timeout=0 truncated=0 bytes=3,0\n{m}stdout hex\n 68 69 0a\n{m}stderr hex\n{m}end 0 {k}\n{}",
        done(&s).trim_end()
    );
    let got = p.feed(stream.as_bytes());
    assert_eq!(got[0].output.stdout, b"hi\n");
    assert!(!p.is_done());
    assert!(p.finish().is_empty());
    assert!(p.is_done());
}

// ---- hostile probes (issue 17, item 1) ----

#[test]
fn frames_without_their_token_or_repeated_make_the_probe_error_and_the_run_forged() {
    let (s, mut p) = parser_for(&["a", "b", "c"]);
    let m = format!("#vmcert:{}:", s.nonce);
    // A forger who knows the nonce but not the tokens: a frame of `a` before the real one, a
    // `done` line, a frame of a probe the script does not run, and a lying frame size inside
    // `c`'s genuine frame.
    let forged_a = format!(
        "{m}begin 0 a\n{m}meta rc=0 ms=1 timeout=0 truncated=0 bytes=6,0\n{m}stdout b64\naGVsbG8K\n{m}stderr b64\n{m}end 0\n"
    );
    let genuine_c = frame(&s, 2, "c", "rc=1 ms=1 timeout=0 truncated=0", "eA==");
    let tampered_c = genuine_c.replacen("eA==\n", "eA==\nQUFB\n", 1);
    let stream = format!(
        "{forged_a}{m}done\n{m}begin 7 zzz\n{}{}{tampered_c}{}",
        frame(&s, 0, "a", "rc=1 ms=1 timeout=0 truncated=0", "eA=="),
        frame(&s, 1, "b", "rc=1 ms=1 timeout=0 truncated=0", "eA=="),
        done(&s),
    );
    let mut got = p.feed(stream.as_bytes());
    got.extend(p.finish());
    let by_id: Vec<(&str, Option<i32>, &str)> = got
        .iter()
        .map(|r| {
            (
                r.id.as_str(),
                r.output.exit_code,
                r.output.error.as_deref().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        by_id,
        [
            (
                "a",
                None,
                "its output cannot be trusted: a frame without its token arrived for it, which another process on the target forged or replayed"
            ),
            ("b", Some(1), ""),
            (
                "c",
                None,
                "its output frame arrived malformed (its output is not the size its meta line gives)"
            ),
        ]
    );
    assert!(p.is_done());
    assert_eq!(
        p.forged(),
        [
            "a frame without its token for probe `a`",
            "a `done` line without the script's token",
            "a frame named an unknown probe: `7 zzz`",
            "a second frame for probe `a`",
        ]
    );
    // The run fails however complete it looks.
    struct Drop;
    impl ProbeSink for Drop {
        fn result(&mut self, _: ProbeResult) {}
        fn note(&mut self, _: String) {}
    }
    let err = crate::target::conclude_unix_run(&p, Some(0), b"", None, &mut Drop).unwrap_err();
    assert!(
        err.to_string().contains("tampered with on the target"),
        "{err}"
    );
}

/// The attack of issue 17: a probe leaves a process behind that learns the frame prefix from the
/// probe's own frame file as the script writes it (holding the main shell stopped meanwhile, so
/// the race is always won), finds the main shell, and writes a forged passing frame of another
/// probe straight to the main shell's stdout through /proc. The forged frame arrives before the
/// real one (the victim waits for the forger to have written it).
#[test]
fn a_probe_cannot_forge_another_probes_frame_through_proc() {
    for shell in SHELLS {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        let forger = format!(
            r#"me=$(readlink /proc/$$/fd/1); d=${{me%.o}}
p=$$
while :; do
  p=$(sed 's/.*) //' /proc/$p/stat | cut -d' ' -f2)
  case $(readlink /proc/$p/fd/1) in pipe:*) break ;; esac
  [ "$p" -gt 1 ] || exit 1
done
(
  kill -STOP $p
  l=
  while :; do
    read -r l <"$d.frame" 2>/dev/null
    case $l in '#vmcert:'*) break ;; esac
  done
  M=${{l%%:meta*}}; M=${{M%%:stdout*}}
  for t in '' ' 00000000000000000000000000000000'; do
    printf '%s\n' "$M:begin 1 victim$t" "$M:meta rc=0 ms=1 timeout=0 truncated=0" "$M:meta rc=0 ms=1 timeout=0 truncated=0 bytes=7,0" "$M:stdout b64" "Zm9yZ2VkCg==" "$M:stderr b64" "$M:end 1$t" >/proc/$p/fd/1
  done
  echo "$M" >{d}/forged
  kill -CONT $p
) </dev/null >/dev/null 2>&1 &
head -c 300000 /dev/zero"#
        );
        let victim = format!(
            "n=0; while [ ! -e {d}/forged ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done; sleep 1; echo genuine; exit 3"
        );
        let script =
            ProbeScript::new(&[spec("forger", &forger), spec("victim", &victim)], 2).unwrap();
        let r = run(&script, Opts::shell(shell));
        let stolen = fs::read_to_string(dir.path().join("forged"))
            .unwrap_or_else(|_| panic!("{shell:?}: the forger never learned the prefix"));
        assert_eq!(stolen.trim(), format!("#vmcert:{}", script.nonce));
        let v = r.out("victim");
        assert_eq!(v.exit_code, None, "{shell:?}: {v:?}");
        assert!(
            v.error
                .as_deref()
                .unwrap_or("")
                .contains("cannot be trusted"),
            "{shell:?}: {v:?}"
        );
        assert!(v.stdout.is_empty(), "{shell:?}: {v:?}");
        assert!(!r.parser.forged().is_empty(), "{shell:?}");
    }
}
