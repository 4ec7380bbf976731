//! The local transport (`vmcert run --local`): certifies the machine vmcert runs on, inside the
//! VM or an image pipeline, by feeding the probe script to a local `/bin/sh -s`. Exactly what the
//! SSH transport does on the far side of its channel, minus the network: same script, same
//! parser, same sudo rules (root probes use `sudo -n` when vmcert is not root).

use std::io::{Read, Write as _};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use super::{ProbeSink, STDERR_KEEP, Transport, TransportError, conclude_unix_run};
use crate::target::script::{DEFAULT_LANES, ProbeScript, ProbeSpec, pump};

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

        // The script cannot run past its deadline (every probe is killed at its timeout); if it
        // does, something is wedged: TERM lets its trap clean up, KILL follows.
        let deadline = script.deadline();
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let watchdog = thread::spawn(move || match done_rx.recv_timeout(deadline) {
            Err(mpsc::RecvTimeoutError::Timeout) => {
                signal(pid, "TERM");
                if let Err(mpsc::RecvTimeoutError::Timeout) =
                    done_rx.recv_timeout(Duration::from_secs(5))
                {
                    signal(pid, "KILL");
                }
                true
            }
            _ => false,
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

        let mut parser = script.parser();
        let read = pump(&mut stdout, &mut parser, sink);
        let _ = done_tx.send(());
        let timed_out = watchdog.join().unwrap_or(false);
        let status = child.wait().ok();
        let written = writer.join();
        let stderr = err_rx
            .recv_timeout(Duration::from_secs(5))
            .unwrap_or_default();
        if let Ok(Err(e)) = written
            && !parser.is_done()
        {
            sink.note(format!(
                "writing the probe script to {} failed: {e}",
                self.shell
            ));
        }
        let cut = if timed_out {
            Some(format!(
                "the probe script did not finish within {} s and was stopped",
                deadline.as_secs()
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
