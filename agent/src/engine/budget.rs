//! The run's total budget of probe output: each probe's stdout and stderr are capped on the target
//! (8 MiB each by default), but nothing bounded their sum, so 30 probes printing 8+8 MB made a
//! 963 MB report with a 3.6 GB peak of memory, which `report verify` could not even read back
//! (issue 17 item 10). The gatherer passes every probe through one [`OutputBudget`]: past it, the
//! bytes are dropped and the probe is marked truncated, so every check reading it is Error (a
//! truncated output never passes [`vmcert_checks::Evidence::completed`]), never Pass or Fail on
//! the half that was kept.
//!
//! A small part of the budget is held back for small outputs: once large outputs have used the
//! rest, a probe printing a few lines still arrives whole, so one flooding probe does not turn
//! every other check of the run into Error.

use vmcert_checks::ProbeOutput;

/// Bytes of probe output (stdout and stderr of every probe together) a run keeps by default
/// (`run --output-budget`, in MiB).
pub(crate) const DEFAULT_OUTPUT_BUDGET: u64 = 64 * 1024 * 1024;

/// Largest budget allowed: the report then stays well under what `--upload` sends (256 MiB)
/// and `report verify` reads (1 GiB).
pub(crate) const MAX_OUTPUT_BUDGET: u64 = 128 * 1024 * 1024;

/// An output of at most this many bytes (stdout and stderr together) may use the reserve.
const SMALL: u64 = 64 * 1024;

/// What a budget did to one probe's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cut {
    /// Bytes kept.
    pub kept: u64,
    /// Bytes dropped.
    pub dropped: u64,
}

/// The bytes of probe output a run may still keep.
#[derive(Debug, Clone)]
pub(crate) struct OutputBudget {
    limit: u64,
    reserve: u64,
    used: u64,
}

impl OutputBudget {
    /// A budget of `limit` bytes, a sixteenth of it (at most 4 MiB) held back for small outputs.
    pub(crate) fn new(limit: u64) -> Self {
        Self {
            limit,
            reserve: (limit / 16).min(4 * 1024 * 1024),
            used: 0,
        }
    }

    /// The budget in bytes.
    pub(crate) const fn limit(&self) -> u64 {
        self.limit
    }

    /// Bytes kept so far.
    pub(crate) const fn used(&self) -> u64 {
        self.used
    }

    /// Charges `out` to the budget: kept whole when it fits, else cut (stdout first, then
    /// stderr) to what is left outside the reserve and marked truncated. Returns the cut, if any.
    pub(crate) fn admit(&mut self, out: &mut ProbeOutput) -> Option<Cut> {
        let size = (out.stdout.len() + out.stderr.len()) as u64;
        let bulk = self.limit - self.reserve;
        let fits = self.used + size <= bulk || (size <= SMALL && self.used + size <= self.limit);
        if fits {
            self.used += size;
            return None;
        }
        let room = bulk.saturating_sub(self.used);
        let stdout = (out.stdout.len() as u64).min(room);
        let stderr = (out.stderr.len() as u64).min(room - stdout);
        // Both fit in usize: they are at most the lengths of the vectors.
        out.stdout
            .truncate(usize::try_from(stdout).unwrap_or(usize::MAX));
        out.stderr
            .truncate(usize::try_from(stderr).unwrap_or(usize::MAX));
        out.stdout.shrink_to_fit();
        out.stderr.shrink_to_fit();
        out.truncated = true;
        self.used += stdout + stderr;
        Some(Cut {
            kept: stdout + stderr,
            dropped: size - stdout - stderr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(stdout: usize, stderr: usize) -> ProbeOutput {
        ProbeOutput {
            stdout: vec![b'o'; stdout],
            stderr: vec![b'e'; stderr],
            exit_code: Some(0),
            ..ProbeOutput::default()
        }
    }

    #[test]
    fn outputs_that_fit_are_kept_whole_and_the_total_never_exceeds_the_limit() {
        // 1600 bytes: 100 reserved for small outputs, 1500 for any.
        let mut b = OutputBudget::new(1600);
        let mut first = output(600, 400);
        assert_eq!(b.admit(&mut first), None);
        assert_eq!((first.stdout.len(), first.stderr.len()), (600, 400));
        assert!(!first.truncated);
        // 1000 more do not fit in the 500 left outside the reserve: stdout first.
        let mut second = output(300, 700);
        assert_eq!(
            b.admit(&mut second),
            Some(Cut {
                kept: 500,
                dropped: 500
            })
        );
        assert_eq!((second.stdout.len(), second.stderr.len()), (300, 200));
        assert!(second.truncated);
        assert_eq!(b.used(), 1500);
        // Small outputs still arrive whole from the reserve, until it is spent too.
        let mut small = output(60, 0);
        assert_eq!(b.admit(&mut small), None);
        assert!(!small.truncated);
        let mut late = output(60, 0);
        assert_eq!(
            b.admit(&mut late),
            Some(Cut {
                kept: 0,
                dropped: 60
            })
        );
        assert!(late.truncated && late.stdout.is_empty());
        assert_eq!(b.used(), 1560);
        assert!(b.used() <= b.limit());
    }

    #[test]
    fn a_large_output_never_uses_the_reserve() {
        let mut b = OutputBudget::new(16 * 1024 * 1024);
        let mut flood = output(20 * 1024 * 1024, 0);
        let cut = b.admit(&mut flood).expect("cut");
        assert_eq!(cut.kept, 15 * 1024 * 1024);
        assert_eq!(flood.stdout.len(), 15 * 1024 * 1024);
        assert!(flood.truncated);
    }
}
