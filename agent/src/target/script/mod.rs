//! The probe-execution protocol of every Unix transport: one POSIX `sh` script that runs all the
//! probes of a target, and the streaming parser of what it prints.
//!
//! The rules say one connection, one script: the local transport pipes [`ProbeScript::text`] into
//! `sh -s`, the SSH transport into one channel's `sh -s` (or `sudo -S -p '' sh -s` after the sudo
//! password line); both feed what comes back into a [`FrameParser`] through [`pump`], unchanged.
//!
//! Inside the script (template: `script.sh`):
//! - each command is written to `$T/<n>.cmd` by the `printf` builtin from a single-quoted string
//!   (no expansion) in a `mktemp -d` directory that an EXIT trap removes, with running probes
//!   killed; the script starts as few processes per probe as it can (the readers, `timeout`, the
//!   probe's `sh`, `wc` and `base64` for non-empty outputs, `cat` of the frame), because on a
//!   small VM those processes, not the round trips, are what a full run costs;
//! - probes run as many at a time as the target has CPUs, at least 2 and at most `lanes` (more
//!   would only make them share the CPUs, so the longest ended later); each lane tells the main shell it finished through a
//!   FIFO held open read-write on fd 3, and the main shell prints that probe's frame at once, so
//!   frames stream in completion order and never interleave;
//! - a probe runs `sh cmd` with stdin from `/dev/null` (it cannot eat the script), under GNU
//!   `timeout -s KILL`, which kills its whole process group, or, without GNU timeout, under a
//!   watchdog that stops and SIGKILLs the probe's process tree; root probes run the same wrapper
//!   through `sudo -n` when the script is not uid 0, or get a `needs root: sudo requires a
//!   password` frame when `sudo -n true` fails;
//! - stdout and stderr each go through a FIFO into `head -c cap+1`, so a probe printing 50 MB
//!   costs at most `cap+1` bytes of disk and is flagged truncated (and dies of SIGPIPE);
//! - durations come from /proc/uptime read by the shell (10 ms steps, no process), else
//!   `date +%s%N` (milliseconds), else `date +%s`.
//!
//! Frames (`<M>` is `#vmcert:<nonce>:`, the nonce random per script, so no probe output and no
//! shell noise is taken for a frame line):
//! ```text
//! <M>start n=3 lanes=2 uid=0 timeout=gnu enc=b64 clock=up cap=head sudo=none
//! <M>begin 0 os-release <K0>
//! <M>meta rc=0 ms=3 timeout=0 truncated=0 bytes=210,0  (rc=- when killed at the timeout or not run)
//! <M>error needs root: sudo requires a password  (only when the probe did not run)
//! <M>stdout b64                                  (b64, or hex from `od -An -v -tx1`)
//! UFJFVFRZX05BTUU9...
//! <M>stderr b64
//! <M>end 0 <K0>
//! <M>done <D>                                    (all frames sent)
//! <M>fatal cannot create a temporary directory in /tmp
//! ```
//!
//! Hostile probes (issue 17): a probe, or a process it leaves behind, runs as the script's user,
//! so it can read the script's working files (the nonce is in them) and write to the main shell's
//! stdout through `/proc/<pid>/fd/1`. What it cannot learn is a token: `<Kn>` (one per probe)
//! and `<D>` are random, in the script text only, which the shell reads whole before running
//! anything (one brace group), and only the main shell prints them, in the begin and end lines it
//! puts around each frame body. So a frame without its token, a second frame of a probe, a frame
//! of a probe the script does not run or a `done` without its token are the work of another
//! process: the probe is delivered as Error (replacing what came before, never replaced after)
//! and the run fails ([`StreamState::forged`]); lines slipped inside a genuine frame change its
//! size (`bytes=` on the meta line), so that frame is delivered as malformed. What remains out of
//! reach of any protocol is a process of the same user rewriting the working files before the
//! main shell reads them, or reading the shell's memory where ptrace is allowed between
//! processes of one user (`kernel.yama.ptrace_scope` 0): see the README's threat model.

use std::io::{self, Read};
use std::time::Duration;

use base64::Engine as _;
use vmcert_checks::ProbeOutput;

/// Where a transport delivers what it learns while the probes run.
pub(crate) trait ProbeSink {
    /// One probe finished; called in completion order, as soon as its output arrived.
    fn result(&mut self, result: ProbeResult);
    /// A diagnostic line for the run log (tools found on the target, shell noise, stderr of
    /// the script). Transports never pass secrets here.
    fn note(&mut self, line: String);
}

/// Most probes that run at the same time inside the script (fewer on a target with fewer CPUs).
pub(crate) const DEFAULT_LANES: usize = 4;

/// Fewest lanes the script uses when the target has fewer CPUs than `lanes`.
const MIN_LANES: usize = 2;

/// Bytes of stdout (and, separately, stderr) kept per probe.
pub(crate) const DEFAULT_OUTPUT_CAP: u64 = 8 * 1024 * 1024;

/// Longest probe timeout, in seconds (a day): larger ones are refused, so no arithmetic on
/// timeouts can overflow.
pub(crate) const MAX_TIMEOUT: u64 = 86_400;

/// Longest line the parser keeps (frame lines are at most ~100 bytes, base64 lines 76).
const MAX_LINE: usize = 16 * 1024;

const TEMPLATE: &str = include_str!("script.sh");

pub(crate) mod powershell;
mod stream;

pub(crate) use stream::StreamState;
use stream::{Line, Lines};

/// One probe to run on a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProbeSpec {
    /// Probe id (`os-release`, `pack-my-check`): lower-case letters, digits, `-`, `.`, `_`.
    pub id: String,
    /// Shell text; written to a file verbatim and run with `sh`.
    pub command: String,
    /// Run as root (through `sudo -n` when the script is not root).
    pub needs_root: bool,
    /// Seconds after which the probe and its children are killed.
    pub timeout_secs: u64,
    /// Bytes of stdout and of stderr kept; more sets `truncated`.
    pub output_cap: u64,
}

/// A probe list that cannot be turned into a script.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ScriptError {
    /// The id would not be safe inside the script.
    #[error(
        "probe id `{0}` cannot be used in a probe script (lower-case letters, digits, `-`, `.`, `_`)"
    )]
    BadId(String),
    /// The same id twice.
    #[error("probe `{0}` is listed twice")]
    Duplicate(String),
    /// A zero timeout or cap.
    #[error("probe `{0}` needs a timeout and an output cap above 0")]
    Zero(String),
    /// A timeout above [`MAX_TIMEOUT`].
    #[error("probe `{0}` has a timeout above {MAX_TIMEOUT} seconds")]
    TooLong(String),
    /// Zero lanes.
    #[error("a probe script needs at least one lane")]
    NoLanes,
    /// A probe ordered after one listed later, or after two probes.
    #[error(
        "probe `{0}` cannot wait for probe `{1}`: it must come after it in the list, and wait for one probe at most"
    )]
    Order(String, String),
}

/// One finished probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProbeResult {
    /// Probe id.
    pub id: String,
    /// What it produced.
    pub output: ProbeOutput,
}

/// A generated script and what its parser needs to know.
#[derive(Debug, Clone)]
pub(crate) struct ProbeScript {
    text: String,
    nonce: String,
    probes: Vec<(String, u64)>,
    /// Per-probe tokens, in probe order: only the script's main shell prints them.
    tokens: Vec<String>,
    /// The token of the `done` line.
    done_token: String,
    deadline: Duration,
}

/// A fresh random token (128 bits, hex).
fn new_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn id_ok(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 100
        && id.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.' | b'_')
        })
}

impl ProbeScript {
    /// The script running `probes`, at most `lanes` at a time.
    ///
    /// # Errors
    /// A bad or duplicate id, a zero timeout or cap, zero lanes.
    pub(crate) fn new(probes: &[ProbeSpec], lanes: usize) -> Result<Self, ScriptError> {
        if lanes == 0 {
            return Err(ScriptError::NoLanes);
        }
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let tokens: Vec<String> = probes.iter().map(|_| new_token()).collect();
        let done_token = new_token();
        let mut blocks = String::new();
        for (n, p) in probes.iter().enumerate() {
            if !id_ok(&p.id) {
                return Err(ScriptError::BadId(p.id.clone()));
            }
            if probes[..n].iter().any(|q| q.id == p.id) {
                return Err(ScriptError::Duplicate(p.id.clone()));
            }
            if p.timeout_secs == 0 || p.output_cap == 0 {
                return Err(ScriptError::Zero(p.id.clone()));
            }
            if p.timeout_secs > MAX_TIMEOUT {
                return Err(ScriptError::TooLong(p.id.clone()));
            }
            // `printf` is a shell builtin: writing the commands starts no process. Inside single
            // quotes nothing expands; a quote itself is closed, escaped and reopened.
            let command = p.command.strip_suffix('\n').unwrap_or(&p.command);
            blocks.push_str(&format!(
                "I{n}='{id} {root} {timeout} {cap}'\nK{n}={token}\nprintf '%s\\n' '{command}' >\"$T/{n}.cmd\" || fatal \"cannot write the probe commands in $T\"\n",
                id = p.id,
                root = u8::from(p.needs_root),
                timeout = p.timeout_secs,
                cap = p.output_cap,
                command = command.replace('\'', "'\\''"),
                token = tokens[n],
            ));
        }
        let root = u8::from(probes.iter().any(|p| p.needs_root));
        let text = TEMPLATE
            .replace("@@NONCE@@", &nonce)
            .replace("@@DONE@@", &done_token)
            .replace("@@COUNT@@", &probes.len().to_string())
            .replace("@@LANES@@", &lanes.to_string())
            .replace("@@ROOT_PROBES@@", &root.to_string())
            .replace("@@PROBES@@", blocks.trim_end());
        // Worst case: every lane (as few as the script may use) runs its share of probes to their
        // timeouts, plus the 10 s grace for escaped output holders and time to encode; then a
        // margin for startup and sudo.
        let rounds = probes.len().div_ceil(lanes.min(MIN_LANES)) as u64;
        let longest = probes.iter().map(|p| p.timeout_secs).max().unwrap_or(0);
        // Saturating: a list of thousands of day-long probes must not wrap to a short deadline.
        let deadline = Duration::from_secs(
            rounds
                .saturating_mul(longest.saturating_add(12))
                .saturating_add(30),
        );
        Ok(Self {
            text,
            nonce,
            probes: probes
                .iter()
                .map(|p| (p.id.clone(), p.output_cap))
                .collect(),
            tokens,
            done_token,
            deadline,
        })
    }

    /// The script, to be fed to `sh -s` on stdin.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// Time after which a transport should give up on the script: it cannot legitimately run
    /// longer, since every probe is killed at its timeout.
    pub(crate) fn deadline(&self) -> Duration {
        self.deadline
    }

    /// A parser for this script's output.
    pub(crate) fn parser(&self) -> FrameParser {
        FrameParser {
            state: StreamState::new(&self.nonce, self.probes.clone()),
            lines: Lines::new(MAX_LINE),
            frame: None,
            tokens: self.tokens.clone(),
            done_token: self.done_token.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Base64,
    Hex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Head,
    Stdout(Encoding),
    Stderr(Encoding),
}

#[derive(Debug, Default)]
struct Meta {
    rc: Option<i32>,
    ms: u64,
    timed_out: bool,
    truncated: bool,
    /// Bytes of stdout and stderr the frame carries.
    bytes: (u64, u64),
}

#[derive(Debug)]
struct Frame {
    /// Index into the probe list; `None` for a frame that is skipped (unknown or repeated probe).
    idx: Option<usize>,
    meta: Option<Meta>,
    error: Option<String>,
    section: Section,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    pending: Vec<u8>,
    corrupt: Option<String>,
}

/// Incremental parser of a probe script's stdout: feed bytes as they arrive, get each probe as
/// soon as its frame is complete. Lines that are not frames (shell rc-file chatter, garbage) are
/// ignored; a malformed frame is delivered as a probe that did not run, with the reason; a frame
/// cut off by the end of the stream is never delivered (see [`FrameParser::missing`]).
///
/// The stream-level facts (header, done, fatal, missing probes...) are its [`StreamState`].
#[derive(Debug)]
pub(crate) struct FrameParser {
    state: StreamState,
    lines: Lines,
    frame: Option<Frame>,
    tokens: Vec<String>,
    done_token: String,
}

impl std::ops::Deref for FrameParser {
    type Target = StreamState;

    fn deref(&self) -> &StreamState {
        &self.state
    }
}

impl FrameParser {
    /// Feeds the next bytes of the stream; returns the probes whose frames completed.
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Vec<ProbeResult> {
        let mut out = Vec::new();
        let mut lines = std::mem::take(&mut self.lines);
        lines.feed(bytes, |l| self.line(l, &mut out));
        self.lines = lines;
        out
    }

    /// Ends the stream: a last line without newline is still read; a frame still open is dropped.
    pub(crate) fn finish(&mut self) -> Vec<ProbeResult> {
        let mut out = Vec::new();
        let mut lines = std::mem::take(&mut self.lines);
        lines.finish(|l| self.line(l, &mut out));
        self.lines = lines;
        if let Some(f) = self.frame.take()
            && let Some(idx) = f.idx
        {
            self.state.problems.push(format!(
                "the frame of probe `{}` was cut off by the end of the output",
                self.state.probes[idx].0
            ));
        }
        out
    }

    fn line(&mut self, line: Line<'_>, out: &mut Vec<ProbeResult>) {
        let Line::Text(line) = line else {
            match &mut self.frame {
                Some(f) => corrupt(f, "a line of the frame is too long"),
                None => self.state.noise_lines += 1,
            }
            return;
        };
        if let Some(rest) = line.strip_prefix(self.state.prefix.as_slice()) {
            let rest = String::from_utf8_lossy(rest).into_owned();
            self.marker(&rest, out);
        } else if let Some(f) = &mut self.frame {
            data_line(
                f,
                line,
                self.state
                    .probes
                    .get(f.idx.unwrap_or(usize::MAX))
                    .map_or(0, |p| p.1),
            );
        } else {
            self.state.noise_lines += 1;
        }
    }

    fn marker(&mut self, rest: &str, out: &mut Vec<ProbeResult>) {
        let (kind, args) = rest.split_once(' ').unwrap_or((rest, ""));
        match kind {
            "start" => {
                if self.state.header.is_none() {
                    self.state.header = Some(args.to_string());
                }
            }
            "done" => {
                if args.trim() != self.done_token {
                    self.state
                        .forged
                        .push("a `done` line without the script's token".to_string());
                    return;
                }
                self.close_open_frame("the script's `done` line", out);
                self.state.done = true;
            }
            "fatal" => {
                self.close_open_frame("the script's `fatal` line", out);
                self.state.fatal = Some(args.to_string());
            }
            "begin" => {
                self.close_open_frame("the next frame began", out);
                let idx = match parse_begin(args, &self.state.probes) {
                    Some((i, token)) if token != self.tokens[i] => {
                        self.forge(i, "a frame without its token", out);
                        None
                    }
                    Some((i, _)) if self.state.delivered[i] => {
                        self.forge(i, "a second frame", out);
                        None
                    }
                    Some((i, _)) => Some(i),
                    None => {
                        self.state
                            .forged
                            .push(format!("a frame named an unknown probe: `{args}`"));
                        None
                    }
                };
                self.frame = Some(Frame {
                    idx,
                    meta: None,
                    error: None,
                    section: Section::Head,
                    stdout: Vec::new(),
                    stderr: Vec::new(),
                    pending: Vec::new(),
                    corrupt: None,
                });
            }
            "end" => {
                if let Some(mut f) = self.frame.take() {
                    if f.idx
                        .is_some_and(|i| args.trim() != format!("{i} {}", self.tokens[i]))
                    {
                        corrupt(
                            &mut f,
                            "its end line names another probe or lacks the token",
                        );
                    }
                    self.deliver(f, out);
                } else {
                    self.state.noise_lines += 1;
                }
            }
            "meta" | "error" | "stdout" | "stderr" => {
                let Some(f) = &mut self.frame else {
                    self.state.noise_lines += 1;
                    return;
                };
                match kind {
                    "meta" if f.meta.is_some() || f.section != Section::Head => {
                        corrupt(f, "it holds a second or late meta line");
                    }
                    "meta" => match parse_meta(args) {
                        Some(m) => f.meta = Some(m),
                        None => corrupt(f, "its meta line is malformed"),
                    },
                    "error" if f.error.is_some() || f.section != Section::Head => {
                        corrupt(f, "it holds a second or late error line");
                    }
                    "error" => f.error = Some(args.to_string()),
                    _ if (kind == "stdout" && f.section != Section::Head)
                        || (kind == "stderr" && !matches!(f.section, Section::Stdout(_))) =>
                    {
                        corrupt(f, "its sections are repeated or out of order");
                    }
                    _ => {
                        finish_section(f);
                        let enc = match args.trim() {
                            "b64" => Encoding::Base64,
                            "hex" => Encoding::Hex,
                            _ => {
                                corrupt(f, "it names an unknown encoding");
                                Encoding::Base64
                            }
                        };
                        f.section = if kind == "stdout" {
                            Section::Stdout(enc)
                        } else {
                            Section::Stderr(enc)
                        };
                    }
                }
            }
            _ => match &mut self.frame {
                Some(f) => corrupt(f, "it holds an unknown marker"),
                None => self.state.noise_lines += 1,
            },
        }
    }

    /// A frame interrupted by another marker is delivered as broken (the stream is otherwise
    /// intact, so the probe did end; its output just cannot be trusted).
    fn close_open_frame(&mut self, why: &str, out: &mut Vec<ProbeResult>) {
        if let Some(mut f) = self.frame.take() {
            corrupt(&mut f, &format!("it was not ended before {why}"));
            self.deliver(f, out);
        }
    }

    /// Delivers the Error of probe `idx`, the aim of a frame its script did not print.
    fn forge(&mut self, idx: usize, what: &str, out: &mut Vec<ProbeResult>) {
        out.extend(self.state.forge(idx, what));
    }

    fn deliver(&mut self, mut f: Frame, out: &mut Vec<ProbeResult>) {
        let Some(idx) = f.idx else { return };
        if self.state.tainted[idx] {
            return;
        }
        finish_section(&mut f);
        if f.meta.is_none() {
            corrupt(&mut f, "it has no meta line");
        } else if f
            .meta
            .as_ref()
            .is_some_and(|m| m.bytes != (f.stdout.len() as u64, f.stderr.len() as u64))
        {
            corrupt(&mut f, "its output is not the size its meta line gives");
        }
        let id = self.state.probes[idx].0.clone();
        let output = if let Some(why) = f.corrupt {
            self.state
                .problems
                .push(format!("the frame of probe `{id}` is malformed: {why}"));
            ProbeOutput {
                error: Some(format!("its output frame arrived malformed ({why})")),
                ..ProbeOutput::default()
            }
        } else {
            let m = f.meta.unwrap_or_default();
            ProbeOutput {
                stdout: f.stdout,
                stderr: f.stderr,
                exit_code: if m.timed_out || f.error.is_some() {
                    None
                } else {
                    m.rc
                },
                duration_ms: m.ms,
                truncated: m.truncated,
                timed_out: m.timed_out,
                error: f.error,
            }
        };
        self.state.delivered[idx] = true;
        out.push(ProbeResult { id, output });
    }
}

fn corrupt(f: &mut Frame, why: &str) {
    if f.corrupt.is_none() {
        f.corrupt = Some(why.to_string());
    }
}

/// `<n> <id> <token>`: the probe's index (when `n` and `id` name a probe) and the token given.
fn parse_begin<'a>(args: &'a str, probes: &[(String, u64)]) -> Option<(usize, &'a str)> {
    let mut fields = args.split(' ');
    let idx: usize = fields.next()?.parse().ok()?;
    let id = fields.next()?;
    let token = fields.next().unwrap_or("");
    (probes.get(idx)?.0 == id && fields.next().is_none()).then_some((idx, token))
}

fn parse_meta(args: &str) -> Option<Meta> {
    let mut m = Meta::default();
    let mut seen = 0;
    for field in args.split_whitespace() {
        let (k, v) = field.split_once('=')?;
        match k {
            "rc" => {
                m.rc = if v == "-" {
                    None
                } else {
                    Some(v.parse().ok()?)
                }
            }
            "ms" => m.ms = v.parse::<i64>().ok()?.max(0).unsigned_abs(),
            "timeout" => m.timed_out = flag(v)?,
            "truncated" => m.truncated = flag(v)?,
            "bytes" => {
                let (o, e) = v.split_once(',')?;
                m.bytes = (o.parse().ok()?, e.parse().ok()?);
            }
            _ => return None,
        }
        seen += 1;
    }
    (seen == 5).then_some(m)
}

fn flag(v: &str) -> Option<bool> {
    match v {
        "0" => Some(false),
        "1" => Some(true),
        _ => None,
    }
}

/// Decodes one data line into the current section.
fn data_line(f: &mut Frame, line: &[u8], cap: u64) {
    if f.corrupt.is_some() || f.idx.is_none() {
        return;
    }
    let (enc, target) = match f.section {
        Section::Head => return corrupt(f, "it holds data outside a stdout or stderr section"),
        Section::Stdout(e) => (e, &mut f.stdout),
        Section::Stderr(e) => (e, &mut f.stderr),
    };
    let ok = match enc {
        Encoding::Base64 => {
            f.pending
                .extend(line.iter().filter(|b| !b.is_ascii_whitespace()));
            let whole = f.pending.len() / 4 * 4;
            let ok = base64::engine::general_purpose::STANDARD
                .decode_vec(&f.pending[..whole], target)
                .is_ok();
            f.pending.drain(..whole);
            ok
        }
        Encoding::Hex => line
            .split(u8::is_ascii_whitespace)
            .filter(|t| !t.is_empty())
            .all(|t| {
                let byte = std::str::from_utf8(t)
                    .ok()
                    .filter(|s| s.len() == 2)
                    .and_then(|s| u8::from_str_radix(s, 16).ok());
                byte.map(|b| target.push(b)).is_some()
            }),
    };
    let too_big = target.len() as u64 > cap;
    if !ok {
        corrupt(f, "its output is not valid base64/hex");
    } else if too_big {
        corrupt(f, "it holds more output than the probe's cap");
    }
}

fn finish_section(f: &mut Frame) {
    if !f.pending.is_empty() {
        f.pending.clear();
        corrupt(f, "its base64 output ends mid-group");
    }
}

/// Reads `reader` to its end or to the script's `done` line, feeding `parser` and handing every finished probe to the sink as
/// it completes (and the script's `start` line to its log as soon as it arrives). Returns the
/// read error that cut the stream, if any; [`crate::target::conclude_unix_run`] then says
/// whether the run completed.
pub(crate) fn pump(
    reader: &mut dyn Read,
    parser: &mut FrameParser,
    sink: &mut dyn ProbeSink,
) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut header_noted = false;
    let result = loop {
        match reader.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                let finished = parser.feed(&buf[..n]);
                if !header_noted && let Some(h) = parser.header() {
                    sink.note(format!("probe script started: {h}"));
                    header_noted = true;
                }
                finished.into_iter().for_each(|r| sink.result(r));
                // The script prints nothing after `done`: stop there rather than wait for an
                // end of file that a process left behind by a probe may hold off for ever.
                if parser.is_done() {
                    break Ok(());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    parser.finish().into_iter().for_each(|r| sink.result(r));
    result
}

#[doc(hidden)]
pub(crate) mod fuzz;
#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;
