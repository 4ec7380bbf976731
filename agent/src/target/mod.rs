//! Transports: how the runner gets the probes of one target run, whatever the target is.
//!
//! The runner hands a transport the union of the probes its checks need, once; the transport
//! runs them all through one script on one connection (local `sh -s`, one SSH channel running
//! `sh -s`, one WinRM shell running PowerShell) and hands each probe back as soon as it finishes,
//! so progress is live and a connection lost halfway loses only the probes still running.
//!
//! Unix transports share the protocol of [`crate::target::script`]: build a
//! [`ProbeScript`](crate::target::script::ProbeScript), write its text on the remote shell's stdin,
//! [`pump`](crate::target::script::pump) its stdout, then call [`conclude_unix_run`] with the exit
//! status and stderr. A WinRM transport brings its own script but keeps the same contract.

pub(crate) mod image;
pub(crate) mod local;
pub(crate) mod open;
pub(crate) mod options;
pub(crate) mod script;
pub(crate) mod secret;
pub(crate) mod ssh;
pub(crate) mod winrm;

pub(crate) use crate::target::script::ProbeSink;
use crate::target::script::{FrameParser, ProbeSpec, ScriptError};

/// Runs probes on one target.
///
/// Blocking: `run_probes` returns when every probe has been delivered to the sink, or when the
/// target can no longer be reached, after delivering everything that did arrive. Connecting and
/// authenticating happen before (in the transport's constructor), so a transport that exists
/// is connected.
pub(crate) trait Transport {
    /// `local`, `ssh`, `winrm` or `winrms`: the report's `target.transport`.
    fn kind(&self) -> &'static str;

    /// Runs each probe once, delivering each to `sink` as it finishes.
    ///
    /// # Errors
    /// When the probes could not all be run: the script could not be built or started, or the
    /// connection or the script ended before every probe reported. Probes delivered before the
    /// error are valid; the ones never delivered are the caller's to mark as not run.
    fn run_probes(
        &mut self,
        probes: &[ProbeSpec],
        sink: &mut dyn ProbeSink,
    ) -> Result<(), TransportError>;
}

/// Why the probes could not all be run.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TransportError {
    /// The probe list could not be turned into a script.
    #[error(transparent)]
    Script(#[from] ScriptError),
    /// The shell (or channel) could not be started.
    #[error("could not start {what}: {source}")]
    Start {
        /// What was being started.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The run started but ended before every probe reported.
    #[error("{0}")]
    Lost(String),
}

/// Stderr of a probe script kept for the run log, in bytes.
pub(crate) const STDERR_KEEP: usize = 16 * 1024;

/// Ends a run of a [`crate::target::script`] script: passes its diagnostics to the run log and
/// tells whether every probe reported. `exit` is the shell's exit status, if known; `stderr` what
/// it printed there (capped by the caller); `cut` a reason the transport stopped reading early.
///
/// # Errors
/// [`TransportError::Lost`] when the script did not print its `done` line.
pub(crate) fn conclude_unix_run(
    parser: &FrameParser,
    exit: Option<i32>,
    stderr: &[u8],
    cut: Option<String>,
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
    let stderr = String::from_utf8_lossy(stderr);
    for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
        sink.note(format!("probe script stderr: {line}"));
    }
    if let Some(first) = parser.forged().first() {
        // Every frame of this stream is suspect: the run cannot count, whatever arrived.
        return Err(TransportError::Lost(format!(
            "the probe output was tampered with on the target: {first} ({} frame(s) the script did not print)",
            parser.forged().len()
        )));
    }
    if parser.is_done() {
        return Ok(());
    }
    let missing = parser.missing().len();
    let why = if let Some(cut) = cut {
        cut
    } else if crate::interrupt::requested() {
        // Ctrl-C on a terminal reaches the local script too, which ends without `done`.
        crate::interrupt::CAUSE.to_string()
    } else if let Some(fatal) = parser.fatal() {
        format!("the probe script stopped: {fatal}")
    } else {
        let last = stderr.lines().rev().map(str::trim).find(|l| !l.is_empty());
        let status = exit.map_or_else(
            || "without an exit status".to_string(),
            |c| format!("with status {c}"),
        );
        match last {
            Some(l) => format!("the probe script ended early ({status}): {l}"),
            None => format!("the probe script ended early ({status})"),
        }
    };
    Err(TransportError::Lost(format!(
        "{why}; {missing} probe(s) did not report"
    )))
}
