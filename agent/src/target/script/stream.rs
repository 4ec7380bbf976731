//! What the `sh` and the PowerShell frame parsers share: cutting the script's stdout into lines
//! of bounded length (a runaway line can never grow memory), and the stream-level facts that a
//! transport reads the same way whichever script ran: the `start` header, `done`, `fatal`, noise
//! lines, problems, which probes have not arrived, and the Error of a probe another process forged
//! a frame for. Each parser keeps its own frame grammar.

use vmcert_checks::ProbeOutput;

use super::ProbeResult;

/// One line of the stream, without its `\n` and a trailing `\r`.
pub(crate) enum Line<'a> {
    /// A line within the length bound.
    Text(&'a [u8]),
    /// A line longer than the bound: its bytes were dropped as they came.
    Overlong,
}

/// Splits a byte stream, fed in arbitrary pieces, into [`Line`]s.
#[derive(Debug, Default)]
pub(crate) struct Lines {
    buf: Vec<u8>,
    overlong: bool,
    max: usize,
}

impl Lines {
    /// A splitter that keeps lines of at most `max` bytes.
    pub(crate) fn new(max: usize) -> Self {
        Self {
            buf: Vec::new(),
            overlong: false,
            max,
        }
    }

    /// Feeds the next bytes; calls `each` for every line they complete.
    pub(crate) fn feed(&mut self, bytes: &[u8], mut each: impl FnMut(Line<'_>)) {
        let mut rest = bytes;
        while let Some(pos) = rest.iter().position(|&b| b == b'\n') {
            self.push(&rest[..pos]);
            self.end(&mut each);
            rest = &rest[pos + 1..];
        }
        self.push(rest);
    }

    /// Ends the stream: a last line without a newline is still a line.
    pub(crate) fn finish(&mut self, mut each: impl FnMut(Line<'_>)) {
        if !self.buf.is_empty() || self.overlong {
            self.end(&mut each);
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        if self.overlong {
            return;
        }
        if self.buf.len() + bytes.len() > self.max {
            self.overlong = true;
            self.buf = Vec::new();
        } else {
            self.buf.extend_from_slice(bytes);
        }
    }

    fn end(&mut self, each: &mut impl FnMut(Line<'_>)) {
        let line = std::mem::take(&mut self.buf);
        if std::mem::take(&mut self.overlong) {
            each(Line::Overlong);
        } else {
            each(Line::Text(line.strip_suffix(b"\r").unwrap_or(&line)));
        }
    }
}

/// The stream-level facts of one script's output (both parsers deref to it).
#[derive(Debug)]
pub(crate) struct StreamState {
    /// `#vmcert:<nonce>:`, the start of every frame line.
    pub(crate) prefix: Vec<u8>,
    /// Probe ids with their output caps, in script order.
    pub(crate) probes: Vec<(String, u64)>,
    /// Whether each probe's frame has been delivered.
    pub(crate) delivered: Vec<bool>,
    pub(crate) header: Option<String>,
    pub(crate) done: bool,
    pub(crate) fatal: Option<String>,
    pub(crate) noise_lines: u64,
    pub(crate) problems: Vec<String>,
    /// Frames the script did not print (forged, replayed or naming no probe): any makes the
    /// run fail, whatever else arrived.
    pub(crate) forged: Vec<String>,
    /// Probes a forged or repeated frame was aimed at: delivered as Error once, never again.
    pub(crate) tainted: Vec<bool>,
}

impl StreamState {
    /// The state before the first byte of the script run with `nonce` over `probes`.
    pub(crate) fn new(nonce: &str, probes: Vec<(String, u64)>) -> Self {
        Self {
            prefix: format!("#vmcert:{nonce}:").into_bytes(),
            delivered: vec![false; probes.len()],
            tainted: vec![false; probes.len()],
            probes,
            header: None,
            done: false,
            fatal: None,
            noise_lines: 0,
            problems: Vec::new(),
            forged: Vec::new(),
        }
    }

    /// Probe `idx` got a frame its script did not print (`what`: no token or HMAC, or a second
    /// one): recorded as forged; the first time, the probe's result is an Error (to deliver,
    /// replacing anything delivered before), never again.
    pub(crate) fn forge(&mut self, idx: usize, what: &str) -> Option<ProbeResult> {
        let id = self.probes[idx].0.clone();
        self.forged.push(format!("{what} for probe `{id}`"));
        if std::mem::replace(&mut self.tainted[idx], true) {
            return None;
        }
        self.delivered[idx] = true;
        Some(ProbeResult {
            id,
            output: ProbeOutput {
                error: Some(format!(
                    "its output cannot be trusted: {what} arrived for it, which another process on the target forged or replayed"
                )),
                ..ProbeOutput::default()
            },
        })
    }

    /// True once the script said every frame was sent.
    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// The script's own fatal error, if it printed one.
    pub(crate) fn fatal(&self) -> Option<&str> {
        self.fatal.as_deref()
    }

    /// The script's `start` line (for `sh`: uid, timeout tool, encoding, clock, sudo state; for
    /// PowerShell: probe count, lanes, version, admin), for the run log.
    pub(crate) fn header(&self) -> Option<&str> {
        self.header.as_deref()
    }

    /// Non-frame lines seen (shell chatter), for the run log.
    pub(crate) fn noise_lines(&self) -> u64 {
        self.noise_lines
    }

    /// Malformed or cut-off frames, for the run log.
    pub(crate) fn problems(&self) -> &[String] {
        &self.problems
    }

    /// Frames that another process on the target forged or replayed, for the run's error.
    pub(crate) fn forged(&self) -> &[String] {
        &self.forged
    }

    /// Ids of the probes whose frame has not arrived, in script order.
    pub(crate) fn missing(&self) -> Vec<&str> {
        self.probes
            .iter()
            .zip(&self.delivered)
            .filter(|(_, d)| !**d)
            .map(|((id, _), _)| id.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(max: usize, pieces: &[&[u8]]) -> Vec<Option<Vec<u8>>> {
        let mut out = Vec::new();
        let mut l = Lines::new(max);
        let mut each = |line: Line<'_>| {
            out.push(match line {
                Line::Text(t) => Some(t.to_vec()),
                Line::Overlong => None,
            });
        };
        for p in pieces {
            l.feed(p, &mut each);
        }
        l.finish(&mut each);
        out
    }

    #[test]
    fn lines_survive_any_split_and_overlong_ones_are_marked_not_kept() {
        let want = vec![
            Some(b"ab".to_vec()),
            None,
            Some(b"c".to_vec()),
            Some(b"d".to_vec()),
        ];
        assert_eq!(lines(4, &[b"ab\r\n0123456789\nc\nd"]), want);
        assert_eq!(
            lines(4, &[b"a", b"b\r", b"\n01234", b"56789\nc", b"\nd"]),
            want
        );
        assert_eq!(lines(4, &[b""]), Vec::<Option<Vec<u8>>>::new());
    }
}
