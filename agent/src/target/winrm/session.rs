//! One run of the PowerShell probe script over WS-Man, on a shell the transport already created:
//! Command (`powershell.exe -NoProfile -NonInteractive -Command -`), the script in as few Send
//! requests as the envelope size allows, Receive until the script's `done` frame and the
//! command's Done state, then Signal (only when the command is still running) and Delete.
//!
//! The request count is constant in the number of probes except for Receive, which follows the
//! output: a Receive is a long poll (the host answers when output is ready, or faults with
//! `w:TimedOut` after the OperationTimeout, which simply means "ask again"), and after an answer
//! that brought little output the next one waits until [`RECEIVE_PACE`] has passed since the
//! last, so frames finishing close together share one answer. Receives therefore grow with the
//! run's duration, at most one per pace interval, never with the number of checks.

use std::time::Duration;

use tokio::time::{Instant, sleep_until, timeout, timeout_at};
use winrm_rs::{Shell, SoapError, WinrmClient, WinrmError};

use super::{WinrmTarget, describe};
use crate::target::script::powershell::{POWERSHELL, PsFrameParser, PsScript};
use crate::target::{ProbeSink, STDERR_KEEP, TransportError};

/// Bytes of script per Send: base64 makes 128 KiB of it, under winrm-rs's default
/// MaxEnvelopeSize of 150 KiB (and Windows' 150 KiB minimum) with room for the envelope.
const SEND_CHUNK: usize = 96 * 1024;

/// Shortest interval between two Receives, unless the last one brought a lot of output.
pub(super) const RECEIVE_PACE: Duration = Duration::from_millis(1000);

/// A Receive that brought at least this much output is followed at once: more is waiting.
const PACE_BYTES: usize = 16 * 1024;

/// How long to wait for the command's Done state after the script's `done` frame.
const DONE_GRACE: Duration = Duration::from_secs(10);

/// Limit on each cleanup request (Signal, Delete) of a run that is ending anyway.
const CLEANUP_LIMIT: Duration = Duration::from_secs(10);

/// WS-Man requests one run made, for the run log.
#[derive(Debug, Default)]
struct Requests {
    sends: u32,
    receives: u32,
    timed_out: u32,
    signal: bool,
}

/// What a run accumulates while it receives.
struct State {
    parser: PsFrameParser,
    stderr: Vec<u8>,
    requests: Requests,
}

/// What the Receive loop ended with.
#[derive(Debug, Default)]
struct Ended {
    /// The command reached Done (with this exit code, when the host gave one).
    exit: Option<Option<i32>>,
    /// Why the loop stopped before that, if it did.
    cut: Option<String>,
}

/// Runs `script` in the shell `shell_id` and hands each probe to `sink` as it finishes. The
/// shell is deleted at the end, whatever happened.
pub(super) async fn run(
    client: &WinrmClient,
    target: &WinrmTarget,
    shell_id: &str,
    script: &PsScript,
    sink: &mut dyn ProbeSink,
) -> Result<(), TransportError> {
    let shell = Shell::attach(client, &target.host, shell_id);
    let mut state = State {
        parser: script.parser(),
        stderr: Vec::new(),
        requests: Requests::default(),
    };
    let started = Instant::now();
    let (program, args) = POWERSHELL;
    let outcome = match shell.start_command(program, args).await {
        Ok(command_id) => {
            let ended = drive(&shell, target, &command_id, script, &mut state, sink).await;
            if ended.exit.is_none() {
                state.requests.signal = true;
                let _ = timeout(
                    CLEANUP_LIMIT,
                    client.signal_terminate(&target.host, shell_id, &command_id),
                )
                .await;
            }
            Ok(ended)
        }
        Err(e) => Err(describe(&e, target)),
    };
    let closed = timeout(CLEANUP_LIMIT, shell.close()).await;
    let ended = outcome
        .map_err(|why| TransportError::Lost(format!("could not start PowerShell: {why}")))?;
    let requests = &state.requests;
    sink.note(format!(
        "WinRM: 1 Command, {} Send, {} Receive ({} w:TimedOut), {}Delete{} in {} ms",
        requests.sends,
        requests.receives,
        requests.timed_out,
        if requests.signal { "Signal, " } else { "" },
        match closed {
            Ok(Ok(())) => String::new(),
            Ok(Err(e)) => format!(" (failed: {})", describe(&e, target)),
            Err(_) => " (no answer)".to_string(),
        },
        started.elapsed().as_millis()
    ));
    conclude(&state.parser, &ended, &state.stderr, sink)
}

/// How often a waiting Receive looks at the Ctrl-C flag.
const INTERRUPT_POLL: Duration = Duration::from_millis(200);

/// Resolves once Ctrl-C was pressed (see `crate::interrupt`; the flag has no waker, so it is
/// polled).
async fn interrupted() {
    while !crate::interrupt::requested() {
        tokio::time::sleep(INTERRUPT_POLL).await;
    }
}

/// Sends the script and receives until the end, feeding the parser.
async fn drive(
    shell: &Shell<'_>,
    target: &WinrmTarget,
    command_id: &str,
    script: &PsScript,
    state: &mut State,
    sink: &mut dyn ProbeSink,
) -> Ended {
    let State {
        parser,
        stderr,
        requests,
    } = state;
    let chunks: Vec<&[u8]> = script.text().as_bytes().chunks(SEND_CHUNK).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        requests.sends += 1;
        if let Err(e) = shell
            .send_input(command_id, chunk, i + 1 == chunks.len())
            .await
        {
            return Ended {
                exit: None,
                cut: Some(format!(
                    "sending the probe script failed: {}",
                    describe(&e, target)
                )),
            };
        }
    }
    let deadline = Instant::now() + script.deadline();
    let mut done_at: Option<Instant> = None;
    let mut header_noted = false;
    loop {
        let asked = Instant::now();
        requests.receives += 1;
        let limit = done_at.map_or(deadline, |d| (d + DONE_GRACE).min(deadline));
        // A Receive can wait for output up to the operation timeout; Ctrl-C must not.
        let received = tokio::select! {
            r = timeout_at(limit, shell.receive_next(command_id)) => r,
            () = interrupted() => {
                return Ended {
                    exit: None,
                    cut: Some(crate::interrupt::CAUSE.to_string()),
                };
            }
        };
        let answer = match received {
            Ok(a) => a,
            Err(_) if done_at.is_some() => {
                return Ended {
                    exit: None,
                    cut: None,
                };
            }
            Err(_) => {
                return Ended {
                    exit: None,
                    cut: Some(format!(
                        "the probe script ran past its deadline of {} s",
                        script.deadline().as_secs()
                    )),
                };
            }
        };
        match answer {
            Ok(out) => {
                if stderr.len() < STDERR_KEEP {
                    let room = STDERR_KEEP - stderr.len();
                    stderr.extend_from_slice(&out.stderr[..out.stderr.len().min(room)]);
                }
                for r in parser.feed(&out.stdout) {
                    sink.result(r);
                }
                if !header_noted && let Some(h) = parser.header() {
                    sink.note(format!("probe script started: {h}"));
                    header_noted = true;
                }
                if out.done {
                    for r in parser.finish() {
                        sink.result(r);
                    }
                    return Ended {
                        exit: Some(out.exit_code),
                        cut: None,
                    };
                }
                if parser.is_done() && done_at.is_none() {
                    done_at = Some(Instant::now());
                }
                if out.stdout.len() + out.stderr.len() < PACE_BYTES {
                    sleep_until(asked + RECEIVE_PACE).await;
                }
            }
            Err(WinrmError::Soap(SoapError::Fault { code, .. })) if code.ends_with("TimedOut") => {
                requests.timed_out += 1;
            }
            Err(e) => {
                for r in parser.finish() {
                    sink.result(r);
                }
                return Ended {
                    exit: None,
                    cut: Some(format!("the run was cut off: {}", describe(&e, target))),
                };
            }
        }
    }
}

/// Passes the run's diagnostics to the run log and tells whether every probe reported.
fn conclude(
    parser: &PsFrameParser,
    ended: &Ended,
    stderr: &[u8],
    sink: &mut dyn ProbeSink,
) -> Result<(), TransportError> {
    if parser.noise_lines() > 0 {
        sink.note(format!(
            "probe script: {} non-frame line(s) on stdout ignored",
            parser.noise_lines()
        ));
    }
    for p in parser.problems() {
        sink.note(format!("probe script: {p}"));
    }
    let stderr = clixml_text(&String::from_utf8_lossy(stderr));
    for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
        sink.note(format!("probe script stderr: {line}"));
    }
    if let Some(first) = parser.forged().first() {
        return Err(TransportError::Lost(format!(
            "the probe output was tampered with on the target: {first}"
        )));
    }
    if parser.is_done() {
        return Ok(());
    }
    let missing = parser.missing().len();
    let why = if let Some(cut) = &ended.cut {
        cut.clone()
    } else if let Some(fatal) = parser.fatal() {
        format!("the probe script stopped: {fatal}")
    } else {
        let status = match ended.exit {
            Some(Some(c)) => format!("with exit code {c}"),
            _ => "without an exit code".to_string(),
        };
        match stderr.lines().rev().map(str::trim).find(|l| !l.is_empty()) {
            Some(l) => format!("PowerShell ended early ({status}): {l}"),
            None => format!("PowerShell ended early ({status})"),
        }
    };
    Err(TransportError::Lost(format!(
        "{why}; {missing} probe(s) did not report"
    )))
}

/// PowerShell writes errors to a redirected stderr as CLIXML (`#< CLIXML` then
/// `<Objs>...<S S="Error">text_x000D__x000A_</S>...`); this keeps the text of the Error
/// strings. Anything else is returned as it is.
fn clixml_text(stderr: &str) -> String {
    let Some(xml) = stderr.trim_start().strip_prefix("#< CLIXML") else {
        return stderr.to_string();
    };
    let mut out = String::new();
    for part in xml.split("<S S=\"Error\">").skip(1) {
        let text = part.split("</S>").next().unwrap_or("");
        out.push_str(
            &text
                .replace("_x000D_", "")
                .replace("_x000A_", "\n")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&amp;", "&"),
        );
    }
    out
}

/// Collapses all whitespace (line breaks included) to single spaces.
pub(super) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clixml_errors_become_text() {
        let raw = "#< CLIXML\r\n<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\"><S S=\"Error\">Get-Thing : not found_x000D__x000A_</S><S S=\"Error\">at line:1 &amp; more_x000D__x000A_</S></Objs>";
        assert_eq!(
            clixml_text(raw),
            "Get-Thing : not found\nat line:1 & more\n"
        );
        assert_eq!(clixml_text("plain\n"), "plain\n");
        assert_eq!(one_line(" a\r\n  b\tc "), "a b c");
    }
}
