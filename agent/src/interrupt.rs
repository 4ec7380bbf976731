//! Ctrl-C during `vmcert run`: the probes already finished must not be lost. The first SIGINT
//! (or SIGTERM) only raises a flag; the transports' read loops look at it between reads and stop
//! with the cause "interrupted", so the run ends like a dropped connection: every delivered probe
//! is kept, the others are Error with that cause, and the report is written (exit 2). A second
//! signal exits at once with 130, for a user who does not want to wait.
//!
//! `vmcert fleet` handles Ctrl-C itself (its own policy over many targets) and does not call
//! [`watch`]; then the flag is never raised.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};

static FLAG: LazyLock<Arc<AtomicBool>> = LazyLock::new(|| Arc::new(AtomicBool::new(false)));

/// What a transport says when it stopped because of the flag.
pub(crate) const CAUSE: &str = "interrupted (Ctrl-C)";

/// Starts watching for SIGINT and SIGTERM (see the module docs).
///
/// # Errors
/// The signal handlers could not be installed.
pub(crate) fn watch() -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::flag;
    for sig in [SIGINT, SIGTERM] {
        // In this order: the shutdown only fires when the flag was already raised.
        flag::register_conditional_shutdown(sig, 130, Arc::clone(&FLAG))?;
        flag::register(sig, Arc::clone(&FLAG))?;
    }
    Ok(())
}

/// Whether the user asked the run to stop.
pub(crate) fn requested() -> bool {
    FLAG.load(Ordering::SeqCst)
}
