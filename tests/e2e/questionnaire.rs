//! The questionnaire of `vmcert run` on a real terminal (tmux, read with `capture-pane` as a
//! person sees it): asked after the checks with their results on screen, with progress, answers
//! typed in any case, each one saved to `--save-answers` as it is given; Ctrl-C or SIGTERM at a
//! question writes the report with the answers given (exit 2), and the terminal is given back.
//!
//! Every wait polls the screen or a file until what it waits for is there, within a generous
//! bound (a loaded machine is slow, never wrong); nothing is timed.

use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::vmcert_bin;

/// How long any one wait may take before the test gives up.
const BOUND: Duration = Duration::from_secs(180);

/// A tmux server of the test's own (its own socket) running one shell command in a 200x50
/// terminal, whose screen stays readable after the command ended; killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(name: &str, command: &str) -> Self {
        let t = Self {
            socket: format!("vmcert-e2e-{name}-{}", std::process::id()),
        };
        // The pane stays when the shell has ended, so the last screen can still be read.
        let out = t.run(&[
            "-f",
            "/dev/null",
            "start-server",
            ";",
            "set-option",
            "-g",
            "remain-on-exit",
            "on",
            ";",
            "new-session",
            "-d",
            "-x",
            "200",
            "-y",
            "50",
            "sh",
            "-c",
            command,
        ]);
        assert!(
            out.status.success(),
            "tmux (tests/lab/install-prereqs.sh installs it) could not start: {out:?}"
        );
        t
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux is installed (tests/lab/install-prereqs.sh)")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p"]).stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys"];
        args.extend_from_slice(keys);
        let out = self.run(&args);
        assert!(out.status.success(), "{out:?}");
    }

    /// The screen once it shows `what`.
    fn wait_for(&self, what: &str) -> String {
        let deadline = Instant::now() + BOUND;
        loop {
            let s = self.screen();
            if s.contains(what) {
                return s;
            }
            assert!(Instant::now() < deadline, "never `{what}` on screen:\n{s}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}

/// The shell command: `vmcert run --local ARGS` in `dir`, its pid in `pid`, then, once it has
/// ended, the terminal's settings in `stty.txt` and its exit status in `exit.txt` (last).
fn command(dir: &Path, args: &str) -> String {
    format!(
        "cd '{d}' && echo $$ > shell.pid && '{bin}' run --local {args}; e=$?; \
         stty -a > stty.txt; echo $e > exit.tmp && mv exit.tmp exit.txt",
        d = dir.display(),
        bin = vmcert_bin().display()
    )
}

/// The exit status of the run, once the shell around it has written it.
fn exit_status(dir: &Path, tmux: &Tmux) -> i32 {
    let file = dir.join("exit.txt");
    let deadline = Instant::now() + BOUND;
    while !file.exists() {
        assert!(
            Instant::now() < deadline,
            "the run did not end:\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    fs::read_to_string(&file).unwrap().trim().parse().unwrap()
}

/// The terminal is back in its normal (cooked, echoing) mode after the run.
fn assert_terminal_given_back(dir: &Path) {
    let stty = fs::read_to_string(dir.join("stty.txt")).unwrap();
    let flags: Vec<&str> = stty.split_whitespace().collect();
    for flag in ["icanon", "echo", "isig"] {
        assert!(
            flags.contains(&flag),
            "`{flag}` not set after the run:\n{stty}"
        );
    }
}

fn results(zip_path: &Path) -> Value {
    let file = fs::File::open(zip_path).unwrap_or_else(|e| panic!("{}: {e}", zip_path.display()));
    let mut zip = zip::ZipArchive::new(file).expect("a zip");
    let mut text = String::new();
    zip.by_name("results.json")
        .expect("results.json")
        .read_to_string(&mut text)
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn answer<'a>(r: &'a Value, id: &str) -> &'a Value {
    r["questionnaire"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["id"] == id)
        .map(|q| &q["answer"])
        .unwrap_or_else(|| panic!("no question {id} in {r}"))
}

/// A `[general]` answers file with these General Assessment answers true.
fn given(dir: &Path, ga: &[u32]) -> PathBuf {
    let lines: String = ga.iter().map(|i| format!("GA{i} = true\n")).collect();
    let path = dir.join("given.toml");
    fs::write(&path, format!("[general]\n{lines}")).unwrap();
    path
}

#[test]
fn questionnaire_comes_after_the_checks_and_ctrl_c_keeps_the_answers() {
    let dir = tempfile::tempdir().unwrap();
    // GA11 and GA12 left open: 8 questions with the kernel ones and the notes.
    given(dir.path(), &[1, 2, 3, 4, 5, 6, 7, 8, 9]);
    let tmux = Tmux::start(
        "questions",
        &command(
            dir.path(),
            "--checks os-architecture,python-version --out r.zip --answers given.toml \
             --save-answers saved.toml",
        ),
    );
    let first = tmux.wait_for("(1 of 8) GA11");
    let results_at = first.find("os-architecture").unwrap_or(usize::MAX);
    assert!(
        results_at < first.find("(1 of 8) GA11").unwrap(),
        "the check results come before the first question:\n{first}"
    );
    assert!(first.contains("python-version"), "{first}");
    tmux.keys(&["YES", "Enter"]);
    tmux.wait_for("(2 of 8) GA12");
    // Shown after the answer was saved.
    let saved = fs::read_to_string(dir.path().join("saved.toml")).unwrap();
    assert!(saved.contains("GA11 = true"), "{saved}");
    tmux.keys(&["N", "Enter"]);
    tmux.wait_for("(3 of 8) KC1");
    // Not the first choice, so that it is the typing in capitals that picks it.
    tmux.keys(&["AZURE"]);
    tmux.wait_for("> 2) azure-tuned");
    tmux.keys(&["Enter"]);
    let s = tmux.wait_for("(4 of 8) KC3");
    // Ctrl-C at the fourth question.
    tmux.keys(&["C-c"]);
    let code = exit_status(dir.path(), &tmux);
    let s = format!("{s}\n---\n{}", tmux.screen());
    assert_eq!(code, 2, "the interrupted run's exit status:\n{s}");
    assert!(s.contains("Report: r.zip"), "{s}");
    assert_terminal_given_back(dir.path());

    let r = results(&dir.path().join("r.zip"));
    assert_eq!(r["run"]["interrupted"], true, "{r}");
    let why = r["run"]["interrupted_reason"].as_str().unwrap();
    assert!(why.contains("during the questionnaire"), "{why}");
    let statuses: Vec<(&str, &str)> = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap(), c["status"].as_str().unwrap()))
        .collect();
    assert_eq!(statuses.len(), 2, "{statuses:?}");
    assert!(
        statuses.iter().all(|(_, s)| *s != "Error"),
        "the checks had finished: {statuses:?}"
    );
    assert_eq!(answer(&r, "GA1"), true, "from the answers file");
    assert_eq!(answer(&r, "GA11"), true);
    assert_eq!(answer(&r, "GA12"), false);
    assert_eq!(answer(&r, "KC1"), "azure-tuned");
    assert!(answer(&r, "KC3").is_null(), "{r}");

    let saved = fs::read_to_string(dir.path().join("saved.toml")).unwrap();
    for line in [
        "GA1 = true",
        "GA11 = true",
        "GA12 = false",
        "KC1 = \"azure-tuned\"",
    ] {
        assert!(saved.contains(line), "{line} not in:\n{saved}");
    }
    assert!(!saved.contains("KC3"), "{saved}");
}

#[test]
fn sigterm_at_a_question_writes_the_report_and_gives_the_terminal_back() {
    let dir = tempfile::tempdir().unwrap();
    given(dir.path(), &[1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12]);
    let tmux = Tmux::start(
        "sigterm",
        &command(
            dir.path(),
            "--checks os-architecture --out r.zip --answers given.toml --save-answers saved.toml",
        ),
    );
    tmux.wait_for("(1 of 6) KC1");
    tmux.keys(&["Custom"]);
    tmux.wait_for("> 3) custom");
    tmux.keys(&["Enter"]);
    // KC2 joins the questions once KC1 is custom.
    tmux.wait_for("(2 of 7) KC2");
    tmux.keys(&["based on 6.1", "Enter"]);
    let s = tmux.wait_for("(3 of 7) KC3");
    // vmcert is the shell's only child.
    let shell = fs::read_to_string(dir.path().join("shell.pid")).unwrap();
    let ps = Command::new("ps")
        .args(["-o", "pid=", "--ppid", shell.trim()])
        .output()
        .unwrap();
    let pid = String::from_utf8_lossy(&ps.stdout).trim().to_owned();
    assert!(pid.parse::<u32>().is_ok(), "vmcert's pid: {pid:?}\n{s}");
    let kill = Command::new("kill").args(["-TERM", &pid]).output().unwrap();
    assert!(kill.status.success(), "{kill:?}");
    let code = exit_status(dir.path(), &tmux);
    assert_eq!(code, 2, "{}", tmux.screen());
    assert_terminal_given_back(dir.path());

    let r = results(&dir.path().join("r.zip"));
    assert_eq!(r["run"]["interrupted"], true, "{r}");
    assert_eq!(answer(&r, "KC1"), "custom");
    assert_eq!(answer(&r, "KC2"), "based on 6.1");
    assert!(answer(&r, "KC3").is_null(), "{r}");
    let saved = fs::read_to_string(dir.path().join("saved.toml")).unwrap();
    assert!(saved.contains("KC2 = \"based on 6.1\""), "{saved}");
    assert!(!saved.contains("KC3"), "{saved}");
}
