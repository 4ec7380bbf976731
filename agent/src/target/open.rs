//! Opening a target: the registry of target kinds. A locator (`local`, or a URL such as
//! `ssh://USER@HOST`) is offered to each kind in [`KINDS`] order; the first that accepts it reads
//! the options it needs (URL parsed, secrets fetched, nothing connected) and returns a
//! [`TargetSpec`], which the engine connects only after every other input of the run passed.
//!
//! A new kind of target is one folder under `target/` that exports a [`Kind`], and one line in
//! [`KINDS`].

use vmcert_checks::Os;

use crate::report::model::TargetInfo;
use crate::target::options::TargetOptions;
use crate::target::{Transport, image, local, ssh, winrm};

/// Every kind of target, in the order a locator is offered to them.
const KINDS: &[Kind] = &[local::KIND, ssh::KIND, winrm::KIND, image::KIND];

/// One kind of target: which locators it takes and how it opens them.
pub(crate) struct Kind {
    /// The locator's form, for the error that lists them (`ssh://USER@HOST[:PORT]`).
    pub usage: &'static str,
    /// Whether `locator` is of this kind.
    pub accepts: fn(locator: &str) -> bool,
    /// Reads the options this kind needs, without connecting.
    pub open: fn(&TargetOptions) -> anyhow::Result<Box<dyn TargetSpec>>,
}

/// A target with its locator parsed and its secrets read; nothing connected yet.
pub(crate) trait TargetSpec: Send + Sync {
    /// The OS the target runs, known before connecting.
    fn os(&self) -> Os;
    /// The host, for the default run name.
    fn host(&self) -> String;
    /// The target for display and the run log: `this machine (local)` or the URL (never a
    /// secret).
    fn describe(&self) -> String;
    /// How the run was asked for, for the `source` of a `--record`ed fixture case.
    fn record_source(&self) -> String;
    /// The target is a captured disk image read offline (no live system, no build phase).
    fn is_disk_image(&self) -> bool {
        false
    }
    /// Connects and logs in.
    ///
    /// # Errors
    /// The target could not be reached or logged in to.
    fn connect(&self) -> anyhow::Result<Connected>;
}

/// A connected target: its transport and what the report says about it.
pub(crate) struct Connected {
    /// Runs the probes.
    pub transport: Box<dyn Transport>,
    /// `target` of results.json, without the facts (they come from the probes).
    pub info: TargetInfo,
    /// Lines for the run log: how the target was reached (never a secret).
    pub log: Vec<String>,
}

/// Opens the target that `options.locator` names.
///
/// # Errors
/// No kind accepts the locator (the message lists the forms), or the kind refused its options.
pub(crate) fn open(options: &TargetOptions) -> anyhow::Result<Box<dyn TargetSpec>> {
    let locator = options.locator.as_str();
    match KINDS.iter().find(|k| (k.accepts)(locator)) {
        Some(kind) => (kind.open)(options),
        None => {
            let forms: Vec<&str> = KINDS
                .iter()
                .map(|k| k.usage)
                .filter(|u| u.contains("://"))
                .collect();
            anyhow::bail!("--target {locator}: expected {}", forms.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_usage_and_accepts_its_own_form() {
        for kind in KINDS {
            assert!(!kind.usage.is_empty());
            let sample = kind.usage.replace("USER@HOST[:PORT]", "u@h");
            assert!((kind.accepts)(&sample), "{} rejects {sample}", kind.usage);
            let others = KINDS
                .iter()
                .filter(|k| !std::ptr::eq(*k, kind) && (k.accepts)(&sample))
                .count();
            assert_eq!(others, 0, "{sample} is accepted by more than one kind");
        }
    }
}
