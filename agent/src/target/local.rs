//! The local transport (`vmcert run --local`): certifies the machine vmcert runs on, inside the
//! VM or an image pipeline, by feeding the probe script to a local `/bin/sh -s`. Exactly what the
//! SSH transport does on the far side of its channel, minus the network: same script, same
//! parser, same sudo rules (root probes use `sudo -n` when vmcert is not root).

use std::io::{self, Read, Write as _};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use vmcert_checks::Os;

use super::{ProbeSink, STDERR_KEEP, Transport, TransportError, conclude_unix_run};
use crate::report::model::TargetInfo;
use crate::target::open::{Connected, Kind, TargetSpec};
use crate::target::options::TargetOptions;
use crate::target::script::{DEFAULT_LANES, ProbeScript, ProbeSpec, pump};

/// `--local`: this machine, no transport.
pub(crate) const KIND: Kind = Kind {
    usage: TargetOptions::LOCAL,
    accepts: |locator| locator == TargetOptions::LOCAL,
    open: |_| Ok(Box::new(Local)),
};

/// This machine as a target.
struct Local;

impl TargetSpec for Local {
    fn os(&self) -> Os {
        Os::Linux
    }

    fn host(&self) -> String {
        hostname()
    }

    fn describe(&self) -> String {
        "this machine (local)".to_string()
    }

    fn record_source(&self) -> String {
        format!("vmcert run --local on {}", hostname())
    }

    fn connect(&self) -> anyhow::Result<Connected> {
        Ok(Connected {
            transport: Box::new(LocalTransport::new()),
            info: TargetInfo {
                transport: "local".to_string(),
                host: "localhost".to_string(),
                port: None,
                user: std::env::var("USER")
                    .or_else(|_| std::env::var("LOGNAME"))
                    .ok(),
                os: Os::Linux,
                facts: Default::default(),
            },
            log: Vec::new(),
        })
    }
}

/// This machine's host name, as the kernel knows it.
pub(crate) fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Runs probes on this machine.
#[derive(Debug, Clone)]
pub(crate) struct LocalTransport {
    shell: String,
}

impl LocalTransport {
    /// A transport using `/bin/sh`.
    pub(crate) fn new() -> Self {
        Self {
            shell: "/bin/sh".to_string(),
        }
    }
}

/// Sends `signal` to our own child `pid` with kill(1) (the crate forbids the unsafe libc call).
fn signal(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// How long the reader waits for the end of the script's output once the shell has exited, and
/// for the shell to exit once the script said `done`: a process the probes left behind may hold
/// the output open for ever.
const GRACE: Duration = Duration::from_secs(5);

/// Chunks of the script's output (64 KiB each) read ahead of the parser at most.
const QUEUED_CHUNKS: usize = 16;

/// How often a wait for the script's output looks at the interrupt flag.
const SIGNAL_CHECK: Duration = Duration::from_millis(200);

/// What the threads around the local shell report.
enum Event {
    /// Bytes of stdout (empty at its end), or the read error.
    Out(io::Result<Vec<u8>>),
    /// The shell exited.
    Exited(Option<ExitStatus>),
}

/// The script's stdout as the parser reads it, with every wait bounded: the script's deadline
/// (then TERM, and KILL 5 s later), and a grace period once the shell has exited, since a
/// process left behind by a probe may hold the output open for ever.
struct Output {
    rx: mpsc::Receiver<Event>,
    chunk: Vec<u8>,
    pos: usize,
    pid: u32,
    deadline: Instant,
    deadline_len: Duration,
    /// TERM was sent at the deadline.
    terminated: bool,
    /// TERM was sent because vmcert was interrupted.
    interrupted: bool,
    timed_out: bool,
    exited: Option<(Instant, Option<ExitStatus>)>,
}

impl Output {
    /// Waits (at most `GRACE`, then KILL and `GRACE` again) for the shell's exit status.
    fn status(&mut self) -> Option<ExitStatus> {
        for kill in [false, true] {
            if let Some((_, s)) = self.exited {
                return s;
            }
            if kill {
                signal(self.pid, "KILL");
            }
            let until = Instant::now() + GRACE;
            while self.exited.is_none() {
                match self
                    .rx
                    .recv_timeout(until.saturating_duration_since(Instant::now()))
                {
                    Ok(Event::Exited(s)) => self.exited = Some((Instant::now(), s)),
                    Ok(Event::Out(_)) => {}
                    Err(_) => break,
                }
            }
        }
        self.exited.and_then(|(_, s)| s)
    }
}

impl Read for Output {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.pos < self.chunk.len() {
                let n = buf.len().min(self.chunk.len() - self.pos);
                buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            if crate::interrupt::requested() && !self.interrupted && self.exited.is_none() {
                // Ctrl-C on a terminal reached the script too; SIGTERM (or any signal sent to
                // vmcert alone) did not: TERM runs its traps, which kill the probes, and it ends
                // without `done`.
                self.interrupted = true;
                signal(self.pid, "TERM");
            }
            let until = match self.exited {
                Some((at, _)) => at + GRACE,
                None => self.deadline,
            };
            let wait = until
                .saturating_duration_since(Instant::now())
                .min(SIGNAL_CHECK);
            match self.rx.recv_timeout(wait) {
                Ok(Event::Out(Ok(bytes))) if bytes.is_empty() => return Ok(0),
                Ok(Event::Out(Ok(bytes))) => {
                    self.chunk = bytes;
                    self.pos = 0;
                }
                Ok(Event::Out(Err(e))) => return Err(e),
                Ok(Event::Exited(s)) => self.exited = Some((Instant::now(), s)),
                Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(0),
                // Only time to look at the interrupt flag again.
                Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < until => {}
                Err(mpsc::RecvTimeoutError::Timeout) if self.exited.is_some() => {
                    return Err(io::Error::other(format!(
                        "the probe script's shell exited, but a process left on the machine still held its output {} s later",
                        GRACE.as_secs()
                    )));
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    // The script cannot run past its deadline (every probe is killed at its
                    // timeout); if it does, something is wedged: TERM lets its trap clean up,
                    // KILL follows.
                    self.timed_out = true;
                    if self.terminated {
                        signal(self.pid, "KILL");
                        return Err(io::Error::new(io::ErrorKind::TimedOut, "stopped"));
                    }
                    signal(self.pid, "TERM");
                    self.terminated = true;
                    self.deadline = Instant::now() + GRACE;
                }
            }
        }
    }
}

/// Variables of vmcert's environment that the probe script keeps; the rest (an `--upload` SAS
/// read from `env:VAR`, passwords from `--password-env`, tokens of the user's session) never
/// reach a probe, which any binary on the machine may be.
const KEPT_VARS: [&str; 3] = ["PATH", "HOME", "TMPDIR"];

/// The probe script's environment: [`KEPT_VARS`] from `vars`, and the C locale (the script's
/// parsing and the checks' parsers of probe output expect untranslated messages).
fn probe_env(
    vars: impl Iterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
    let mut env: Vec<_> = vars
        .filter(|(k, _)| KEPT_VARS.iter().any(|kept| k == kept))
        .collect();
    env.push(("LANG".into(), "C".into()));
    env.push(("LC_ALL".into(), "C".into()));
    env
}

impl Transport for LocalTransport {
    fn kind(&self) -> &'static str {
        "local"
    }

    fn run_probes(
        &mut self,
        probes: &[ProbeSpec],
        sink: &mut dyn ProbeSink,
    ) -> Result<(), TransportError> {
        let script = ProbeScript::new(probes, DEFAULT_LANES)?;
        let mut child = Command::new(&self.shell)
            .arg("-s")
            .env_clear()
            .envs(probe_env(std::env::vars_os()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| TransportError::Start {
                what: format!("{} -s", self.shell),
                source,
            })?;
        let pid = child.id();
        let (Some(mut stdin), Some(mut stdout), Some(mut stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(TransportError::Lost(
                "the local shell has no standard streams".into(),
            ));
        };

        // Bounded: when the parser is slower than the script prints (a probe flooding its
        // output), the reader waits and the script with it, instead of queueing the whole
        // output in memory (issue 17 item 10: a run of 30 probes of 8+8 MB peaked at 700 MB
        // with a bounded evidence).
        let (tx, rx) = mpsc::sync_channel::<Event>(QUEUED_CHUNKS);
        let out_tx = tx.clone();
        // Blocked for ever when a process left behind holds the output: it is then left behind
        // too, never waited for.
        thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match stdout.read(&mut buf) {
                    Ok(n) => {
                        let end = n == 0;
                        if out_tx.send(Event::Out(Ok(buf[..n].to_vec()))).is_err() || end {
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        let _ = out_tx.send(Event::Out(Err(e)));
                        break;
                    }
                }
            }
        });
        thread::spawn(move || {
            let status = child.wait().ok();
            let _ = tx.send(Event::Exited(status));
        });
        let text = script.text().to_string();
        let writer = thread::spawn(move || stdin.write_all(text.as_bytes()));
        let (err_tx, err_rx) = mpsc::channel::<Vec<u8>>();
        thread::spawn(move || {
            let mut kept = Vec::new();
            let _ = (&mut stderr)
                .take(STDERR_KEEP as u64)
                .read_to_end(&mut kept);
            let _ = err_tx.send(kept);
            // Drain the rest so the script never blocks on a full pipe.
            let _ = std::io::copy(&mut stderr, &mut std::io::sink());
        });

        let deadline = script.deadline();
        let mut output = Output {
            rx,
            chunk: Vec::new(),
            pos: 0,
            pid,
            deadline: Instant::now() + deadline,
            deadline_len: deadline,
            terminated: false,
            interrupted: false,
            timed_out: false,
            exited: None,
        };
        let mut parser = script.parser();
        // Ends at the `done` line: what follows it is no part of the run.
        let read = pump(&mut output, &mut parser, sink);
        let status = output.status();
        let written = if writer.is_finished() {
            writer.join().ok()
        } else {
            None
        };
        let stderr = err_rx.recv_timeout(GRACE).unwrap_or_default();
        if let Some(Err(e)) = written
            && !parser.is_done()
        {
            sink.note(format!(
                "writing the probe script to {} failed: {e}",
                self.shell
            ));
        }
        let cut = if output.timed_out {
            Some(format!(
                "the probe script did not finish within {} s and was stopped",
                output.deadline_len.as_secs()
            ))
        } else {
            read.err()
                .map(|e| format!("reading the probe script's output failed: {e}"))
        };
        conclude_unix_run(&parser, status.and_then(|s| s.code()), &stderr, cut, sink)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::target::script::{DEFAULT_OUTPUT_CAP, ProbeResult};

    #[derive(Default)]
    struct Collect {
        results: Vec<ProbeResult>,
        notes: Vec<String>,
    }

    impl ProbeSink for Collect {
        fn result(&mut self, result: ProbeResult) {
            self.results.push(result);
        }
        fn note(&mut self, line: String) {
            self.notes.push(line);
        }
    }

    fn spec(id: &str, command: &str) -> ProbeSpec {
        ProbeSpec {
            id: id.into(),
            command: command.into(),
            needs_root: false,
            timeout_secs: 10,
            output_cap: DEFAULT_OUTPUT_CAP,
        }
    }

    #[test]
    fn runs_probes_and_notes_the_tools() {
        let mut sink = Collect::default();
        LocalTransport::new()
            .run_probes(&[spec("a", "echo a"), spec("b", "exit 5")], &mut sink)
            .unwrap();
        let mut got: Vec<(&str, Option<i32>)> = sink
            .results
            .iter()
            .map(|r| (r.id.as_str(), r.output.exit_code))
            .collect();
        got.sort_unstable();
        assert_eq!(got, [("a", Some(0)), ("b", Some(5))]);
        assert!(
            sink.notes[0].starts_with("probe script started: n=2 "),
            "{:?}",
            sink.notes
        );
    }

    #[test]
    fn a_script_that_dies_is_a_lost_run_after_delivering_what_arrived() {
        let mut sink = Collect::default();
        // After `a` reported, the probe SIGKILLs the script's main shell (the parent of its lane,
        // which is the parent of its `timeout`), so no trap runs; it removes the script's
        // temporary directory itself ($0 is $T/<n>.cmd; only a `vmcert.*` directory is removed).
        let probes = [
            spec("a", "echo a"),
            spec(
                "killer",
                "sleep 1; t=$(dirname \"$0\"); kill -KILL $(ps -o ppid= -p $(ps -o ppid= -p $PPID)); case $t in */vmcert.*) rm -rf \"$t\" ;; esac",
            ),
        ];
        let mut t = LocalTransport::new();
        let err = t.run_probes(&probes, &mut sink).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("the probe script ended early (without an exit status)"),
            "{msg}"
        );
        assert!(msg.ends_with("1 probe(s) did not report"), "{msg}");
        assert_eq!(sink.results.len(), 1);
        assert_eq!(sink.results[0].id, "a");
    }

    /// A probe command that leaves a `sleep` behind holding the script's own stdout (opened
    /// through /proc from the ancestor whose stdout is a pipe), its pid in `pidfile`.
    fn holder(pidfile: &Path, then: &str) -> String {
        format!(
            r#"p=$$
while :; do
  p=$(sed 's/.*) //' /proc/$p/stat | cut -d' ' -f2)
  case $(readlink /proc/$p/fd/1) in pipe:*) break ;; esac
  [ "$p" -gt 1 ] || exit 1
done
sleep 600 </dev/null >/proc/$p/fd/1 2>/dev/null &
echo $! >{}
{then}"#,
            pidfile.display()
        )
    }

    /// Runs `probes` locally on a thread; the test fails if that takes more than `limit` (a
    /// hang, not a speed measure: the bound is far above the expected time).
    fn run_bounded(probes: Vec<ProbeSpec>, limit: Duration) -> (Result<(), String>, Collect) {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut sink = Collect::default();
            let r = LocalTransport::new()
                .run_probes(&probes, &mut sink)
                .map_err(|e| e.to_string());
            let _ = tx.send((r, sink));
        });
        rx.recv_timeout(limit)
            .expect("the local run hung on a process holding its output")
    }

    fn kill_holder(pidfile: &Path) {
        let pid = std::fs::read_to_string(pidfile).expect("the holder started");
        signal(pid.trim().parse().unwrap(), "KILL");
    }

    #[test]
    fn a_process_left_holding_the_output_does_not_hang_a_finished_run() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let probes = vec![
            spec("a", "echo a"),
            spec("holder", &holder(&pidfile, "true")),
        ];
        let (r, sink) = run_bounded(probes, Duration::from_secs(60));
        kill_holder(&pidfile);
        r.unwrap();
        assert_eq!(sink.results.len(), 2);
    }

    #[test]
    fn a_process_left_holding_the_output_does_not_hang_a_dead_script() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        // The shell is killed (no `done`) while the holder keeps its stdout open.
        let probes = vec![
            spec("a", "echo a"),
            spec("holder", &holder(&pidfile, "sleep 1; kill -KILL $p")),
        ];
        let (r, sink) = run_bounded(probes, Duration::from_secs(60));
        kill_holder(&pidfile);
        let msg = r.unwrap_err();
        assert!(msg.contains("still held its output"), "{msg}");
        assert_eq!(sink.results.len(), 1);
    }

    #[test]
    fn probes_see_none_of_vmcerts_environment_but_path_home_and_tmpdir() {
        // `cargo test` gives this process CARGO_* variables: the stand-ins for a SAS in `env:VAR`.
        assert!(std::env::var_os("CARGO_MANIFEST_DIR").is_some());
        let (r, sink) = run_bounded(vec![spec("env", "env")], Duration::from_secs(60));
        r.unwrap();
        let out = String::from_utf8_lossy(&sink.results[0].output.stdout).into_owned();
        let names: Vec<&str> = out
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, _)| k)
            .collect();
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy();
            assert!(
                KEPT_VARS.contains(&k.as_ref())
                    // Set by vmcert, or by the shell itself.
                    || ["LANG", "LC_ALL", "PWD", "OLDPWD", "SHLVL", "_"].contains(&k.as_ref())
                    || !names.contains(&k.as_ref()),
                "{k} reached a probe: {names:?}"
            );
        }
        assert!(
            names.contains(&"PATH") && names.contains(&"LC_ALL"),
            "{names:?}"
        );
    }

    #[test]
    fn a_missing_shell_is_a_start_error() {
        let mut t = LocalTransport {
            shell: "/nonexistent/sh".into(),
        };
        let err = t
            .run_probes(&[spec("a", "true")], &mut Collect::default())
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("could not start /nonexistent/sh -s: "),
            "{err}"
        );
    }
}
