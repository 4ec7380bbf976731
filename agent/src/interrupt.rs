//! Ctrl-C or SIGTERM during `vmcert run`: the probes already finished must not be lost. The first
//! SIGINT or SIGTERM only raises a flag; the transports' read loops look at it between reads (the
//! local one also passes SIGTERM on to its script, whose traps kill the probes) and stop with the
//! cause "interrupted", so the run ends like a dropped connection: every delivered probe is kept,
//! the others are Error with that cause, and the report is written (exit 2). A second signal
//! exits at once with 128 + the signal, for a user who does not want to wait; except while a
//! report is being written ([`writing`]): then the exit comes right after, so no half-written
//! `.tmp` file is left behind.
//!
//! While the questionnaire is on screen ([`on_request`]), the first signal (or Ctrl-C read as a
//! key by the prompt, which calls [`request`]) also ends the questionnaire: the report is written
//! with the answers given so far, as after an interrupted probe run (exit 2).
//!
//! `vmcert fleet` handles the signals itself (its own policy over many targets) and does not call
//! [`watch`]; then the flag is never raised, but its report writes are guarded the same way and
//! it calls [`close`] before exiting.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, LazyLock, Mutex, MutexGuard, PoisonError};

static FLAG: AtomicBool = AtomicBool::new(false);

/// What a transport says when it stopped because of the flag.
pub(crate) const CAUSE: &str = "interrupted (Ctrl-C)";

#[derive(Default)]
struct Writes {
    /// Reports being written now.
    active: usize,
    /// No new write may start (the process is about to exit).
    closing: bool,
    /// Exit with this code once the last write ends.
    exit: Option<i32>,
}

static WRITES: LazyLock<(Mutex<Writes>, Condvar)> =
    LazyLock::new(|| (Mutex::new(Writes::default()), Condvar::new()));

fn writes() -> MutexGuard<'static, Writes> {
    WRITES.0.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts watching for SIGINT and SIGTERM (see the module docs).
///
/// # Errors
/// The signal handlers could not be installed.
pub(crate) fn watch() -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    std::thread::spawn(move || {
        for sig in signals.forever() {
            if request() {
                continue;
            }
            exit_when_no_write(128 + sig);
        }
    });
    Ok(())
}

/// What to call on the first request to stop, besides raising the flag.
type Hook = Box<dyn Fn() + Send>;

static HOOK: Mutex<Option<Hook>> = Mutex::new(None);

fn hook() -> MutexGuard<'static, Option<Hook>> {
    HOOK.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Asks the run to stop, as the first SIGINT or SIGTERM does: raises the flag and calls the
/// [`on_request`] hook. Returns false when the flag was already raised (nothing is called again).
pub(crate) fn request() -> bool {
    if FLAG.swap(true, Ordering::SeqCst) {
        return false;
    }
    if let Some(f) = hook().as_ref() {
        f();
    }
    true
}

/// Calls `f` on the first request to stop (at once when it was already asked for) until the
/// returned guard is dropped. One hook at a time: a new one replaces the old.
pub(crate) fn on_request(f: impl Fn() + Send + 'static) -> OnRequest {
    let mut h = hook();
    if requested() {
        f();
    }
    *h = Some(Box::new(f));
    OnRequest(())
}

/// Removes the [`on_request`] hook when dropped.
pub(crate) struct OnRequest(());

impl Drop for OnRequest {
    fn drop(&mut self) {
        *hook() = None;
    }
}

/// Exits with `code` now, or, when reports are being written, right after the last one.
pub(crate) fn exit_when_no_write(code: i32) {
    let mut w = writes();
    if w.active == 0 {
        std::process::exit(code);
    }
    w.closing = true;
    w.exit = Some(code);
}

/// Whether the user asked the run to stop.
pub(crate) fn requested() -> bool {
    FLAG.load(Ordering::SeqCst)
}

/// Held while a report is written: an exit asked for meanwhile waits for its end.
pub(crate) struct Writing(());

/// Marks a report write; blocks for ever when the process is exiting (it will not get far).
pub(crate) fn writing() -> Writing {
    let mut w = writes();
    while w.closing {
        w = WRITES.1.wait(w).unwrap_or_else(PoisonError::into_inner);
    }
    w.active += 1;
    Writing(())
}

impl Drop for Writing {
    fn drop(&mut self) {
        let mut w = writes();
        w.active -= 1;
        if w.active == 0 {
            if let Some(code) = w.exit {
                std::process::exit(code);
            }
            WRITES.1.notify_all();
        }
    }
}

/// Waits for the reports being written and lets no new one start: called before the process
/// exits while threads may still be running targets.
pub(crate) fn close() {
    let mut w = writes();
    w.closing = true;
    while w.active > 0 {
        w = WRITES.1.wait(w).unwrap_or_else(PoisonError::into_inner);
    }
}
