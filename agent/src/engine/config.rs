//! What one target's run is asked to do, as plain data. `vmcert run` builds a [`RunConfig`] from
//! its flags, `vmcert fleet` one per inventory entry; the engine's plan reads and checks every
//! file it names. No clap type is in here, and the defaults live here once.

use std::path::PathBuf;

use vmcert_checks::{Phase, Profile};

use crate::engine::questionnaire::AskMode;
use crate::engine::runner::FailOn;
use crate::target::options::TargetOptions;

/// One target's run, as asked for.
#[derive(Debug, Clone)]
pub(crate) struct RunConfig {
    /// Where to run and how to log in.
    pub target: TargetOptions,
    /// The run's name (default: the target's host).
    pub name: Option<String>,
    /// Where the report zip goes (default: `<name>_<yyyyMMdd-HHmmss>.zip` here).
    pub out: Option<PathBuf>,
    /// Threshold profile.
    pub profile: Profile,
    /// The build VM before deprovisioning, or a VM deployed from the finished image.
    pub phase: Phase,
    /// Run only these check ids (empty: every check of the target's OS).
    pub only: Vec<String>,
    /// Skip these check ids.
    pub skip: Vec<String>,
    /// Check pack files or directories.
    pub check_packs: Vec<PathBuf>,
    /// Waivers file.
    pub waivers: Option<PathBuf>,
    /// Answers file.
    pub answers: Option<PathBuf>,
    /// What to do about unanswered questions.
    pub ask: AskMode,
    /// Seconds each probe may take.
    pub timeout: u64,
    /// Seconds the Windows Update search may take (Windows targets).
    pub update_search_timeout: u64,
    /// Bytes of probe output the run keeps in all (see `crate::engine::budget`).
    pub output_budget: u64,
    /// Save the raw probe outputs here as a fixture case.
    pub record: Option<PathBuf>,
    /// The lowest status that makes the exit status non-zero.
    pub fail_on: FailOn,
    /// Sign the report with this ed25519 private key file.
    pub sign_key: Option<PathBuf>,
    /// Save the answers given at the prompt here, after each one.
    pub save_answers: Option<PathBuf>,
}

impl RunConfig {
    /// Seconds each probe may take when nothing else is said.
    pub(crate) const DEFAULT_TIMEOUT: u64 = 60;

    /// A run of every check on the target `target` with every other setting at its default.
    pub(crate) fn new(target: TargetOptions) -> Self {
        Self {
            target,
            name: None,
            out: None,
            profile: Profile::default(),
            phase: Phase::default(),
            only: Vec::new(),
            skip: Vec::new(),
            check_packs: Vec::new(),
            waivers: None,
            answers: None,
            ask: AskMode::RequireAll,
            timeout: Self::DEFAULT_TIMEOUT,
            update_search_timeout: crate::engine::runner::UPDATE_SEARCH_TIMEOUT,
            output_budget: crate::engine::budget::DEFAULT_OUTPUT_BUDGET,
            record: None,
            fail_on: FailOn::default(),
            sign_key: None,
            save_answers: None,
        }
    }
}
