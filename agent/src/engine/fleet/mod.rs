//! Running a fleet: every target's [`Plan`] at most `jobs` at a time, each on a blocking thread
//! (its ssh2 work is blocking), within the process's open-file limit, and Ctrl-C / SIGTERM
//! handled so that the caller can always write the fleet summary. A target that cannot be
//! reached or hangs holds only its own slot, for at most its connect timeout plus its probe
//! script's deadline. What the fleet shows while it runs is the caller's ([`FleetDisplay`]);
//! the inventory is [`inventory`], the summary's model `crate::report::fleet`.

pub(crate) mod inventory;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::Context as _;
use tokio::signal::unix::{SignalKind, signal};

use crate::EXIT_ERROR;
use crate::engine::plan::{Plan, Watch};
use crate::report::fleet::TargetRow;

/// What a fleet shows while it runs (the live display of `vmcert fleet`).
pub(crate) trait FleetDisplay {
    /// One target's part of the display.
    type Target: TargetWatch;
    /// The part of the display for the target named `name` (queued until it starts).
    fn target(&self, name: &str) -> Self::Target;
    /// A fleet-wide message.
    fn note(&self, msg: &str);
}

/// One target's progress ([`Watch`]) and its end.
pub(crate) trait TargetWatch: Watch + Send + 'static {
    /// The target is done (or was never started): its row of the summary.
    fn end(&self, row: &TargetRow);
}

/// Open files the fleet keeps besides its targets (stdio, the runtime, the display).
const FILES_BASE: u64 = 64;
/// Open files one running target holds at most: its socket and the socket's poll handle, the
/// report being written, a key or known_hosts file being read. (Measured: 54 for 20 targets.)
const FILES_PER_TARGET: u64 = 4;

/// What `jobs` targets at once need of the open-file limit (`soft`, `hard`; `None` is
/// unlimited): the soft limit to set (`None`: it is enough already) and how many targets fit.
fn open_file_plan(jobs: usize, soft: Option<u64>, hard: Option<u64>) -> (Option<u64>, usize) {
    let need = FILES_BASE + FILES_PER_TARGET * jobs as u64;
    if soft.is_none_or(|s| s >= need) {
        return (None, jobs);
    }
    match hard {
        Some(h) if h < need => {
            let fit = h.saturating_sub(FILES_BASE) / FILES_PER_TARGET;
            (Some(h), usize::try_from(fit).unwrap_or(jobs).clamp(1, jobs))
        }
        _ => (Some(need), jobs),
    }
}

/// Raises this process's soft open-file limit (`ulimit -n`, often 1024) as far as `jobs` targets
/// at once need, up to the hard limit; when even that is too low, runs fewer at once and says so,
/// instead of letting targets fail with "Too many open files". Returns the jobs to run.
pub(crate) fn jobs_within_open_file_limit(jobs: usize, display: &impl FleetDisplay) -> usize {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let now = getrlimit(Resource::Nofile);
    let mut limit = now.current;
    if let Some(soft) = open_file_plan(jobs, now.current, now.maximum).0 {
        let raised = Rlimit {
            current: Some(soft),
            maximum: now.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => {
                tracing::debug!("open-file limit raised to {soft}");
                limit = Some(soft);
            }
            Err(e) => tracing::debug!("cannot raise the open-file limit to {soft}: {e}"),
        }
    }
    let fit = open_file_plan(jobs, limit, limit).1;
    if let (Some(limit), true) = (limit, fit < jobs) {
        display.note(&format!(
            "--jobs {jobs} needs about {} open files, but this process may open only {limit} \
             (ulimit -n): running at most {fit} targets at a time",
            FILES_BASE + FILES_PER_TARGET * jobs as u64,
        ));
    }
    fit
}

/// What [`run_all`] gives back: a row per target, in plan order, and whether Ctrl-C cut it short.
pub(crate) struct FleetRows {
    pub rows: Vec<TargetRow>,
    pub interrupted: bool,
}

/// Runs every plan, at most `jobs` at a time, each on a blocking thread; rows in plan order.
///
/// Ctrl-C once: no queued target starts any more (each gets a row saying so); running targets
/// finish and write their reports. Ctrl-C again: the fleet stops waiting; the targets still
/// running get a row saying so (their blocking work ends with the process). Either way the
/// caller writes the summary of what finished, and every finished report is already on disk.
pub(crate) fn run_all<D: FleetDisplay>(
    plans: Vec<Plan>,
    jobs: usize,
    display: &D,
) -> anyhow::Result<FleetRows> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(jobs)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let names: Vec<(String, String)> = plans
        .iter()
        .map(|p| (p.name().to_string(), p.describe()))
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let started: Arc<[AtomicBool]> = names.iter().map(|_| AtomicBool::new(false)).collect();
    let result = runtime.block_on(async {
        let slots = Arc::new(tokio::sync::Semaphore::new(jobs));
        let mut set = tokio::task::JoinSet::new();
        for (i, plan) in plans.into_iter().enumerate() {
            let slots = Arc::clone(&slots);
            let stop = Arc::clone(&stop);
            let started = Arc::clone(&started);
            let watch = display.target(plan.name());
            set.spawn(async move {
                let permit = slots.acquire_owned().await;
                if stop.load(Ordering::SeqCst) {
                    let row = unfinished(plan.name(), &plan.describe(), NOT_STARTED);
                    watch.end(&row);
                    return (i, Ok(row));
                }
                started[i].store(true, Ordering::SeqCst);
                let row = tokio::task::spawn_blocking(move || {
                    let row = run_one(&plan, &watch);
                    watch.end(&row);
                    drop(permit);
                    row
                })
                .await;
                (i, row)
            });
        }
        let mut rows: Vec<Option<TargetRow>> = (0..names.len()).map(|_| None).collect();
        let mut interrupts = 0;
        // SIGTERM (a service manager, `timeout`, `kill`) is Ctrl-C: the summary is still written.
        let mut sigint = signal(SignalKind::interrupt()).context("cannot watch for Ctrl-C")?;
        let mut sigterm = signal(SignalKind::terminate()).context("cannot watch for SIGTERM")?;
        loop {
            let signalled = tokio::select! {
                joined = set.join_next() => {
                    let Some(joined) = joined else { break };
                    let (i, row) = joined.context("a fleet task was lost")?;
                    rows[i] = Some(row.context("a target's run panicked")?);
                    false
                }
                _ = sigint.recv(), if interrupts < 2 => true,
                _ = sigterm.recv(), if interrupts < 2 => true,
            };
            if signalled {
                interrupts += 1;
                stop.store(true, Ordering::SeqCst);
                if interrupts == 1 {
                    display.note(
                        "interrupted: no new target starts; waiting for the running ones \
                                  (Ctrl-C again to stop waiting)",
                    );
                } else {
                    display.note("interrupted again: not waiting for the running targets");
                    break;
                }
            }
        }
        let rows = rows
            .into_iter()
            .zip(&names)
            .enumerate()
            .map(|(i, (row, (name, target)))| {
                row.unwrap_or_else(|| {
                    let why = if started[i].load(Ordering::SeqCst) {
                        STILL_RUNNING
                    } else {
                        NOT_STARTED
                    };
                    unfinished(name, target, why)
                })
            })
            .collect();
        anyhow::Ok(FleetRows {
            rows,
            interrupted: stop.load(Ordering::SeqCst),
        })
    });
    // Targets still running after a second Ctrl-C are not waited for; reports being written are
    // (a report is never left half-written), and no new one starts.
    runtime.shutdown_background();
    crate::interrupt::close();
    result
}

const NOT_STARTED: &str = "not started: the fleet was interrupted (Ctrl-C)";
const STILL_RUNNING: &str = "still running when the fleet was stopped (Ctrl-C twice): no report";

/// The row of a target that did not complete (Ctrl-C, or `why`).
fn unfinished(name: &str, target: &str, why: &str) -> TargetRow {
    TargetRow {
        name: name.to_string(),
        target: target.to_string(),
        status: "failed",
        exit_code: EXIT_ERROR,
        summary: None,
        interrupted: None,
        report: None,
        report_href: None,
        outcome: "none",
        error: Some(why.to_string()),
        duration_ms: 0,
        results: None,
    }
}

/// One target through the same path as `vmcert run`.
fn run_one(plan: &Plan, watch: &impl Watch) -> TargetRow {
    let t = Instant::now();
    // Failed until the run says otherwise.
    let mut row = TargetRow {
        error: None,
        ..unfinished(plan.name(), &plan.describe(), "")
    };
    match plan.execute(watch) {
        Ok(done) => {
            row.summary = Some(done.bundle.results.summary.clone());
            row.interrupted = done.bundle.results.run.interrupted_reason.clone();
            row.outcome = done.bundle.results.summary.outcome.as_str();
            match done.written {
                Ok(()) => {
                    row.status = "completed";
                    row.exit_code = done.code;
                    row.report = Some(done.out.display().to_string());
                    row.report_href = done
                        .out
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned());
                    row.results = Some(Box::new(done.bundle.results));
                }
                Err(e) => row.error = Some(crate::sas::redact(&format!("{e:#}"))),
            }
        }
        Err(e) => row.error = Some(crate::sas::redact(&format!("{e:#}"))),
    }
    row.duration_ms = u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX);
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_file_limit_is_raised_to_what_the_jobs_need_or_the_jobs_fit_the_hard_limit() {
        // 300 targets need 64 + 4 * 300 = 1264 open files.
        assert_eq!(open_file_plan(300, Some(4096), Some(4096)), (None, 300));
        assert_eq!(open_file_plan(300, None, None), (None, 300));
        assert_eq!(
            open_file_plan(300, Some(1024), Some(4096)),
            (Some(1264), 300)
        );
        assert_eq!(open_file_plan(300, Some(1024), None), (Some(1264), 300));
        assert_eq!(
            open_file_plan(300, Some(1024), Some(1024)),
            (Some(1024), 240)
        );
        assert_eq!(
            open_file_plan(300, Some(256), Some(1024)),
            (Some(1024), 240)
        );
        // Always at least one target at a time.
        assert_eq!(open_file_plan(5, Some(10), Some(10)), (Some(10), 1));
    }
}
