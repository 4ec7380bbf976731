//! The probe-execution protocol of the WinRM transport: one PowerShell script that runs all the
//! probes of a Windows target, and the streaming parser of what it prints. The Windows twin of
//! the `sh` script in the parent module, with the same contract towards the runner.
//!
//! The transport starts ONE `powershell.exe -NoProfile -NonInteractive -Command -` in ONE WinRM
//! shell and sends [`PsScript::text`] as its stdin (a few WS-Man Send requests, never a command
//! line, so there is no length limit and nothing of the script shows in a process list). With
//! `-Command -` the console host reads stdin itself, line by line, and runs each line as a
//! statement. Windows PowerShell 5.1 reads it through its own buffered reader (PowerShell PR
//! #2336, `#if !CORECLR`), which takes up to 4 KB ahead of the line it runs: anything that
//! reads `[Console]::In` after it loses that, so NOTHING here reads `[Console]::In`. Instead the
//! host runs only one-line statements it reads itself (the pattern of
//! /work/shared/research/windows-real.md, finding 1):
//! - an empty first line (a byte-order mark some pipe might add lands there, alone, harmless);
//! - `$VmB = New-Object System.Text.StringBuilder`;
//! - `[void]$VmB.Append('<base64 chunk>')`, one line per [`CHUNK`] characters of the base64 of
//!   the UTF-8 body;
//! - one check line: it decodes the base64, and runs the body as ONE script block only if its
//!   byte length and SHA-256 are the ones this side computed, and it starts with the
//!   `#vmcert-begin:<nonce>` line and ends with the `#vmcert-end:<nonce>` line (a leading
//!   U+FEFF is stripped first); otherwise it prints a `fatal` frame saying which test failed.
//!   A body cut short, doubled, reordered or altered never runs, not even in part;
//! - the body (template `script.ps1`) holds each probe as
//!   `@{ Index = N; Id = '<id>'; Timeout = <s>; Cap = <bytes>; Admin = $true|$false; After = <index>|-1; Code = '<base64 of the UTF-8 fragment>' }`,
//!   one per line, so the script is pure ASCII and no fragment can break its quoting;
//! - probes run in a runspace pool, `lanes` at a time (`[PowerShell]::Create()` +
//!   `BeginInvoke`), started in table order as lanes free up, except that a probe with
//!   `After = K` starts only once probe K has ended (finished, failed, did not run or was
//!   stopped at its timeout): meanwhile the probes after it in the table take the free lanes.
//!   The pairs come from the catalogue ([`vmcert_checks::windows::probes::RUNS_AFTER`]:
//!   `Get-WindowsFeature` never beside the Windows Update search); K is always an earlier
//!   probe, so the wait can neither deadlock nor leave a lane idle while a probe could start;
//! - each probe runs in a local scope that starts with `$ErrorActionPreference = 'Stop'`
//!   (runspaces do not inherit it, and the Windows fragments rely on every failure being
//!   terminating); one that passes its timeout is stopped with `BeginStop` and reported as timed
//!   out, and the process ends with `[Environment]::Exit(0)` after the `done` frame rather than
//!   wait for a WMI call that ignores Stop; output and error text are cut at the cap;
//! - a fragment that does not parse, or needs an administrator when the account is not an
//!   elevated one, does not run: its frame carries the reason;
//! - rc is 1 when the probe stopped on a terminating error (`EndInvoke` threw, or the invocation
//!   state is `Failed`) or left a record in its error stream (`Streams.Error`), else 0; never
//!   from `HadErrors`, which PowerShell also sets for errors that were suppressed or caught
//!   (PowerShell#4613). stderr holds the records as the console shows them, so "the probe
//!   worked" never depends on what the fragment printed.
//!
//! None of this could be run here (no PowerShell on the build machine): the tests parse the
//! script and every fragment with a PowerShell grammar, and tests/winrm's vmcert handler plays
//! the console host as 5.1 behaves (line by line from its own buffer, a `[Console]::In` reader
//! losing the first 4 KB) and the script's documented behaviour over real WS-Man.
//!
//! Frames may be preceded by a UTF-8 byte-order mark (.NET Framework writes the preamble of a
//! UTF-8 console encoding before the first output): the parser strips it from any line.
//!
//! Frames are single lines written with `[Console]::Out` and flushed, in completion order.
//! `<M>` is `#vmcert:<nonce>:`, the nonce random per script and never written contiguously in
//! the script text, so neither probe output nor an echo of the script is taken for a frame.
//! `<H>` is the lower-case hex HMAC-SHA256, under the run's [`FrameKey`], of `<kind> <json>`:
//! ```text
//! <M>start <H> {"n":23,"lanes":4,"ps":"5.1.17763.6054","admin":true,"pid":4242}
//! <M>probe <H> {"i":0,"id":"os-info","rc":0,"ms":412,"timed_out":false,"truncated":false,"error":null,"stdout_b64":"eyJDYXB0...","stderr_b64":""}
//! <M>done <H> {"n":23}
//! <M>fatal [<H> ]{"error":"..."}   (the script itself failed; the loader's has no HMAC)
//! ```
//!
//! Hostile probes (issue 17): a probe fragment, a command it runs or a process it leaves behind
//! can write to this process's stdout (in-process through `[Console]::Out`, from another process
//! through a duplicated handle), and can read what the script text holds: the text is PowerShell
//! statements the console host runs, so with script block logging or transcription (both common
//! hardening policies) it is in the event log or a file. So the nonce is no secret on Windows.
//! The frame key is: 256 random bits per run, made by the agent and set as a variable of the
//! WinRM shell's environment when the shell is created (sealed or over TLS like every request),
//! never in a statement; the body reads it and removes it from the process environment before
//! the first probe starts, so no probe's `$env:`, no pool runspace and no child process sees it.
//! Only the script's main loop writes frames, each with its HMAC. The parser takes a frame only
//! with the right HMAC: a frame without it, a second frame of a probe, a frame of a probe the
//! script does not run, a second `start` or `done`, or a frame marker that does not start its
//! line (another writer glued a partial line to a real frame to hide it) marks the stream forged
//! ([`StreamState::forged`]): the probe named is delivered as Error (replacing what came before,
//! never replaced after) and the run fails as tampered. A frame changed in transit (bytes
//! inserted into it) fails its HMAC the same way. Out of reach of any protocol, as `ptrace` is
//! on Linux: code that reads powershell.exe's memory (a module loaded into the process, or a
//! process of the same administrator opening it), which finds the key there; the README's
//! threat model says so.

use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;
use vmcert_checks::ProbeOutput;

use super::stream::{Line, Lines, StreamState};
use super::{ProbeResult, ProbeSpec, ScriptError, id_ok};

const TEMPLATE: &str = include_str!("script.ps1");

/// The command line of the one PowerShell process: no script, no secret, nothing per probe.
pub(crate) const POWERSHELL: (&str, &[&str]) = (
    "powershell.exe",
    &["-NoProfile", "-NonInteractive", "-Command", "-"],
);

/// The environment variable of the WinRM shell that carries the [`FrameKey`] to the script.
pub(crate) const KEY_VAR: &str = "VMCERT_FRAME_KEY";

/// The key every frame's HMAC is made with: 256 random bits per run, known to the agent and to
/// the script's main loop only (see the module documentation). Never printed or logged.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct FrameKey([u8; 32]);

impl FrameKey {
    /// A fresh random key.
    pub(crate) fn random() -> Self {
        let mut k = [0u8; 32];
        k[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        k[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        Self(k)
    }

    /// The `(name, value)` of the shell environment variable that hands it to the script.
    pub(crate) fn env_var(&self) -> (String, String) {
        let hex = self.0.iter().map(|b| format!("{b:02x}")).collect();
        (KEY_VAR.to_string(), hex)
    }

    /// Whether `mac` (hex, as the script writes it) is the HMAC of `text` under this key.
    fn verifies(&self, text: &str, mac: &str) -> bool {
        use hmac::Mac as _;
        let Some(tag) = unhex(mac) else { return false };
        let Ok(mut h) = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.0) else {
            return false;
        };
        h.update(text.as_bytes());
        h.verify_slice(&tag).is_ok()
    }

    /// The hex HMAC of `text`, as the script computes it (for tests).
    #[cfg(test)]
    pub(crate) fn mac(&self, text: &str) -> String {
        use hmac::Mac as _;
        let mut h = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.0).expect("any key length");
        h.update(text.as_bytes());
        h.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl std::fmt::Debug for FrameKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FrameKey(..)")
    }
}

/// 64 lower-case hex digits as 32 bytes.
fn unhex(s: &str) -> Option<[u8; 32]> {
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (i, pair) in b.chunks(2).enumerate() {
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

/// A generated PowerShell probe script and what its parser needs to know.
#[derive(Debug, Clone)]
pub(crate) struct PsScript {
    text: String,
    nonce: String,
    probes: Vec<(String, u64)>,
    deadline: Duration,
    key: FrameKey,
}

impl PsScript {
    /// The script running `probes`, `lanes` at a time, in the catalogue's order
    /// ([`vmcert_checks::windows::probes::RUNS_AFTER`]).
    ///
    /// # Errors
    /// As [`PsScript::with_order`].
    pub(crate) fn new(probes: &[ProbeSpec], lanes: usize) -> Result<Self, ScriptError> {
        Self::with_order(probes, lanes, vmcert_checks::windows::probes::RUNS_AFTER)
    }

    /// The script running `probes`, `lanes` at a time, where for each `(a, b)` of `after` with
    /// both in `probes`, `a` starts only once `b` has ended. A pair naming a probe that is not
    /// in `probes` is ignored (nothing to wait for, or nothing waiting).
    ///
    /// # Errors
    /// A bad or duplicate id, a zero timeout or cap, zero lanes, a probe that waits for a
    /// probe listed after it (the script starts probes in list order).
    pub(crate) fn with_order(
        probes: &[ProbeSpec],
        lanes: usize,
        after: &[(&str, &str)],
    ) -> Result<Self, ScriptError> {
        if lanes == 0 {
            return Err(ScriptError::NoLanes);
        }
        // The index of the probe each one waits for, if any.
        let mut waits: Vec<Option<usize>> = vec![None; probes.len()];
        for (a, b) in after {
            let find = |id: &str| probes.iter().position(|p| p.id == id);
            if let (Some(ia), Some(ib)) = (find(a), find(b)) {
                if ib >= ia || waits[ia].is_some() {
                    return Err(ScriptError::Order((*a).to_string(), (*b).to_string()));
                }
                waits[ia] = Some(ib);
            }
        }
        let mut table = String::new();
        for (n, p) in probes.iter().enumerate() {
            if !id_ok(&p.id) {
                return Err(ScriptError::BadId(p.id.clone()));
            }
            if probes[..n].iter().any(|q| q.id == p.id) {
                return Err(ScriptError::Duplicate(p.id.clone()));
            }
            // The cap is an [int] in the script; 1 GiB is far above any sane probe output.
            if p.timeout_secs == 0 || p.output_cap == 0 || p.output_cap > 1 << 30 {
                return Err(ScriptError::Zero(p.id.clone()));
            }
            table.push_str(&format!(
                "@{{ Index = {n}; Id = '{id}'; Timeout = {t}; Cap = {cap}; Admin = ${admin}; After = {k}; Code = '{code}' }}\n",
                id = p.id,
                t = p.timeout_secs,
                cap = p.output_cap,
                admin = p.needs_root,
                k = waits[n].map_or(-1, |k| k as i64),
                code = base64::engine::general_purpose::STANDARD.encode(p.command.as_bytes()),
            ));
        }
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let body = TEMPLATE
            .replace("@@NONCE@@", &nonce)
            .replace("@@LANES@@", &lanes.to_string())
            .replace("@@KEYVAR@@", KEY_VAR)
            .replace("@@PROBES@@", table.trim_end());
        let body = format!("#vmcert-begin:{nonce}\r\n{body}\r\n");
        let text = loader(&nonce, &body);
        // Probes start in order as lanes free up, a waiting probe never holding a lane another
        // could use, so even if every probe runs to its timeout (plus 5 s to collect it) the
        // last one ends by (sum of all) / lanes + the longest chain of probes waiting for one
        // another (Graham's list-scheduling bound with precedence): one long probe (the update
        // search) does not multiply the deadline, and the feature query waiting for it adds
        // its own time once. Then a margin for starting powershell.exe and the pool, and for
        // sending the output back. Saturating: a timeout comes from the command line.
        let each = |p: &ProbeSpec| p.timeout_secs.saturating_add(5);
        let total: u64 = probes.iter().map(each).fold(0, u64::saturating_add);
        // A probe waits only for an earlier one, so one pass in order sums every chain.
        let mut chain: Vec<u64> = Vec::with_capacity(probes.len());
        for (n, p) in probes.iter().enumerate() {
            let before = waits[n].map_or(0, |k| chain[k]);
            chain.push(before.saturating_add(each(p)));
        }
        let longest = chain.iter().copied().max().unwrap_or(0);
        let deadline = Duration::from_secs(
            total
                .div_ceil(lanes as u64)
                .saturating_add(longest)
                .saturating_add(120),
        );
        Ok(Self {
            text,
            nonce,
            probes: probes
                .iter()
                .map(|p| (p.id.clone(), p.output_cap))
                .collect(),
            deadline,
            key: FrameKey::random(),
        })
    }

    /// The same script, its frames checked against `key` (the one the transport put in the
    /// shell's environment). The text does not hold the key, so it does not change.
    pub(crate) fn keyed(self, key: FrameKey) -> Self {
        Self { key, ..self }
    }

    /// The key this script's frames are checked against.
    #[cfg(test)]
    pub(crate) fn key(&self) -> &FrameKey {
        &self.key
    }

    /// The script, to be sent to `powershell.exe -Command -` on stdin.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// Time after which the transport should give up on the script.
    pub(crate) fn deadline(&self) -> Duration {
        self.deadline
    }

    /// The nonce of its frames, for the fuzzer's input (`super::fuzz`) and nothing else.
    pub(super) fn fuzz_nonce(&self) -> &str {
        &self.nonce
    }

    /// A parser for this script's output.
    pub(crate) fn parser(&self) -> PsFrameParser {
        let longest_cap = self.probes.iter().map(|p| p.1).max().unwrap_or(0);
        PsFrameParser {
            key: self.key.clone(),
            state: StreamState::new(&self.nonce, self.probes.clone()),
            // Two base64 payloads of up to `cap` bytes each, plus the JSON around them.
            lines: Lines::new(
                usize::try_from(longest_cap.div_ceil(3) * 8 + 64 * 1024).unwrap_or(usize::MAX),
            ),
        }
    }
}

/// Characters of base64 per `Append` line: far below any line limit of a console reader.
const CHUNK: usize = 2000;

/// What the console host reads from stdin: the body as one-line `Append` statements of base64,
/// then the line that verifies and runs it (see the module documentation).
fn loader(nonce: &str, body: &str) -> String {
    use sha2::Digest as _;
    let bytes = body.as_bytes();
    let sha = sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<String>();
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut text = String::with_capacity(b64.len() + b64.len() / CHUNK * 40 + 2048);
    text.push_str("\r\n$VmB = New-Object System.Text.StringBuilder\r\n");
    for chunk in b64.as_bytes().chunks(CHUNK) {
        text.push_str("[void]$VmB.Append('");
        // base64 is ASCII, so every chunk is whole characters.
        text.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        text.push_str("')\r\n");
    }
    // One line: ASCII-only, every frame marker assembled at run time. SHA256CryptoServiceProvider
    // rather than SHA256.Create(), which is the managed class .NET Framework refuses in FIPS mode.
    let fatal = |why: &str| {
        format!(
            "[Console]::Out.Write('#vmcert:'+'{nonce}'+':fatal {{\"error\":\"{why}'+$VmWhy+'\"}}'+[char]10);[Console]::Out.Flush()"
        )
    };
    text.push_str(&format!(
        "$VmWhy='';try{{$VmBytes=[Convert]::FromBase64String($VmB.ToString());$VmSha=[BitConverter]::ToString((New-Object System.Security.Cryptography.SHA256CryptoServiceProvider).ComputeHash($VmBytes)).Replace('-','');$VmText=(New-Object System.Text.UTF8Encoding($false)).GetString($VmBytes).TrimStart([char]0xFEFF);if($VmBytes.Length -ne {len}){{$VmWhy='length '+$VmBytes.Length+' instead of {len}'}}elseif($VmSha -ne '{sha}'){{$VmWhy='SHA-256 mismatch'}}elseif(-not $VmText.StartsWith('#vmcert-begin:'+'{nonce}')){{$VmWhy='no begin marker'}}elseif(-not $VmText.TrimEnd().EndsWith('#vmcert-end:'+'{nonce}')){{$VmWhy='no end marker'}}}}catch{{$VmWhy='not decodable'}};if($VmWhy -eq ''){{$VmB=$null;& ([ScriptBlock]::Create($VmText))}}else{{{fatal}}}\r\n\r\n",
        len = bytes.len(),
        fatal = fatal("the script did not arrive whole on stdin: "),
    ));
    text
}

/// One `probe` frame as the script writes it.
#[derive(Debug, Deserialize)]
struct ProbeFrame {
    i: usize,
    id: String,
    rc: Option<i32>,
    ms: u64,
    timed_out: bool,
    truncated: bool,
    error: Option<String>,
    stdout_b64: String,
    stderr_b64: String,
}

/// What a frame names, read to tell which probe a forged frame was aimed at.
#[derive(Debug, Deserialize)]
struct FrameName {
    i: usize,
    id: String,
}

#[derive(Debug, Deserialize)]
struct FatalFrame {
    error: String,
}

/// Incremental parser of the PowerShell script's stdout: feed bytes as they arrive, get each
/// probe as soon as its frame line is complete. Non-frame lines (PowerShell chatter) are
/// counted and ignored; a frame without its HMAC, repeated or unexpected marks the stream forged
/// (see the module documentation); a frame that names a probe but is malformed is delivered as
/// a probe that did not run, with the reason; a frame cut off by the end of the stream is never
/// delivered.
///
/// The stream-level facts (header, done, fatal, missing probes...) are its [`StreamState`].
#[derive(Debug)]
pub(crate) struct PsFrameParser {
    state: StreamState,
    lines: Lines,
    key: FrameKey,
}

impl std::ops::Deref for PsFrameParser {
    type Target = StreamState;

    fn deref(&self) -> &StreamState {
        &self.state
    }
}

impl PsFrameParser {
    /// Feeds the next bytes of the stream; returns the probes whose frames completed.
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Vec<ProbeResult> {
        let mut out = Vec::new();
        let mut lines = std::mem::take(&mut self.lines);
        lines.feed(bytes, |l| self.line(l, &mut out));
        self.lines = lines;
        out
    }

    /// Ends the stream: a last line without a newline is still read.
    pub(crate) fn finish(&mut self) -> Vec<ProbeResult> {
        let mut out = Vec::new();
        let mut lines = std::mem::take(&mut self.lines);
        lines.finish(|l| self.line(l, &mut out));
        self.lines = lines;
        out
    }

    fn line(&mut self, line: Line<'_>, out: &mut Vec<ProbeResult>) {
        let Line::Text(line) = line else {
            self.state
                .problems
                .push("a line longer than any frame can be was skipped".to_string());
            return;
        };
        // A UTF-8 byte-order mark before a line (the preamble .NET Framework writes with the
        // first output of a UTF-8 console) is not part of it.
        let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        let prefix = self.state.prefix.as_slice();
        let Some(rest) = line.strip_prefix(prefix) else {
            if line.windows(prefix.len()).any(|w| w == prefix) {
                // Only another writer puts bytes before a frame: a partial line glued to a real
                // frame hides it, so the stream cannot be trusted.
                self.state
                    .forged
                    .push("a frame that does not start its line".to_string());
            } else if !line.iter().all(u8::is_ascii_whitespace) {
                self.state.noise_lines += 1;
            }
            return;
        };
        let rest = String::from_utf8_lossy(rest);
        let (kind, after) = rest.split_once(' ').unwrap_or((&rest, ""));
        if kind == "fatal" {
            // The loader writes its fatal frame before the key is read: taken with or without
            // an HMAC (a forged one can only fail the run, which it does anyway).
            let json = match after.split_once(' ') {
                Some((mac, json)) if !after.starts_with('{') && mac.len() == 64 => json,
                _ => after,
            };
            let why = serde_json::from_str::<FatalFrame>(json)
                .map_or_else(|_| json.to_string(), |f| f.error);
            self.state.fatal = Some(why);
            return;
        }
        let (mac, json) = after.split_once(' ').unwrap_or((after, ""));
        if !self.key.verifies(&format!("{kind} {json}"), mac) {
            // Whatever the forger put before its JSON (no HMAC, a wrong one), the JSON says
            // which probe it was aimed at.
            let aimed = after.find('{').map_or("", |i| &after[i..]);
            let named = serde_json::from_str::<FrameName>(aimed)
                .ok()
                .filter(|f| self.state.probes.get(f.i).is_some_and(|p| p.0 == f.id));
            match (kind, named) {
                ("probe", Some(f)) => self.forge(f.i, "a frame without the frame key", out),
                _ => self
                    .state
                    .forged
                    .push(format!("a `{kind}` frame without the frame key")),
            }
            return;
        }
        match kind {
            "start" if self.state.header.is_some() => {
                self.state.forged.push("a second `start` frame".to_string());
            }
            "start" => self.state.header = Some(json.to_string()),
            "done" if self.state.done => {
                self.state.forged.push("a second `done` frame".to_string());
            }
            "done" => self.state.done = true,
            "probe" => self.probe(json, out),
            _ => self
                .state
                .problems
                .push(format!("a frame of unknown kind `{kind}` was skipped")),
        }
    }

    /// Delivers the Error of probe `idx`, the aim of a frame its script did not print.
    fn forge(&mut self, idx: usize, what: &str, out: &mut Vec<ProbeResult>) {
        out.extend(self.state.forge(idx, what));
    }

    fn probe(&mut self, json: &str, out: &mut Vec<ProbeResult>) {
        let frame: ProbeFrame = match serde_json::from_str(json) {
            Ok(f) => f,
            Err(e) => {
                self.state
                    .problems
                    .push(format!("a probe frame is not valid JSON ({e}); skipped"));
                return;
            }
        };
        let Some((id, cap)) = self.state.probes.get(frame.i).cloned() else {
            self.state.forged.push(format!(
                "a probe frame names probe #{} `{}`, which the script does not hold",
                frame.i, frame.id
            ));
            return;
        };
        if id != frame.id {
            self.state.forged.push(format!(
                "a probe frame names `{}` as probe #{}, which is `{id}`",
                frame.id, frame.i
            ));
            return;
        }
        if self.state.delivered[frame.i] {
            // The script prints one frame per probe: a second one is a replay.
            self.forge(frame.i, "a second frame", out);
            return;
        }
        let b64 = &base64::engine::general_purpose::STANDARD;
        let decoded = (b64.decode(&frame.stdout_b64), b64.decode(&frame.stderr_b64));
        let output = match decoded {
            (Ok(stdout), Ok(stderr))
                if stdout.len() as u64 <= cap && stderr.len() as u64 <= cap =>
            {
                let status_missing =
                    !frame.timed_out && frame.error.is_none() && frame.rc.is_none();
                ProbeOutput {
                    stdout,
                    stderr,
                    exit_code: if frame.timed_out || frame.error.is_some() {
                        None
                    } else {
                        frame.rc
                    },
                    duration_ms: frame.ms,
                    truncated: frame.truncated,
                    timed_out: frame.timed_out,
                    error: if status_missing {
                        Some("its frame carries no exit status".to_string())
                    } else {
                        frame.error
                    },
                }
            }
            (Ok(stdout), Ok(stderr)) => {
                let why = format!(
                    "its frame holds {} bytes, more than the probe's cap of {cap}",
                    stdout.len().max(stderr.len())
                );
                self.state
                    .problems
                    .push(format!("the frame of probe `{id}` is malformed: {why}"));
                ProbeOutput {
                    error: Some(format!("its output frame arrived malformed ({why})")),
                    ..ProbeOutput::default()
                }
            }
            _ => {
                let why = "its output is not valid base64";
                self.state
                    .problems
                    .push(format!("the frame of probe `{id}` is malformed: {why}"));
                ProbeOutput {
                    error: Some(format!("its output frame arrived malformed ({why})")),
                    ..ProbeOutput::default()
                }
            }
        };
        self.state.delivered[frame.i] = true;
        out.push(ProbeResult { id, output });
    }
}

#[cfg(test)]
mod tests;
