//! The pure heart of vmcert: what a certification check is, which evidence it needs, and how it
//! turns that evidence into a verdict.
//!
//! Nothing in this crate performs I/O, spawns processes or uses async: a transport in the `vmcert`
//! agent gathers the union of the probes ([`probe`]) that the selected checks declare, once per
//! target, and hands every check the same [`Evidence`]. Each check ([`Check`]) is then a pure
//! function of that evidence, which is what makes verdicts testable from recorded fixtures.
#![deny(missing_docs)]
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod evidence;
pub mod fixture;
pub mod linux;
pub mod meta;
pub mod pack;
pub mod phase;
pub mod probe;
pub mod profile;
#[cfg(test)]
mod proptest_cases;
pub mod questionnaire;
pub mod registry;
pub mod sas;
pub mod verdict;
pub mod version;
pub mod vhd;
pub mod waiver;
pub mod windows;

pub use evidence::{Evidence, ProbeOutput, Unevaluable};
pub use meta::{Meta, Os, Severity};
pub use phase::Phase;
pub use probe::{Probe, ProbeId};
pub use profile::{Profile, Thresholds};
pub use verdict::{Status, Verdict};

/// One certification rule.
///
/// A check is a unit struct in its own file under `linux/` or `windows/`, listed once in
/// [`registry::ALL`]. It declares the probes it needs and evaluates their recorded outputs; it never
/// runs anything itself.
pub trait Check: Sync + Send {
    /// Identity and documentation of the check.
    fn meta(&self) -> &Meta;

    /// Ids of the probes whose output [`Check::evaluate`] reads. Built-in checks name probes of
    /// the catalogue in [`probe::PROBES`]; user-defined checks bring their own ([`Check::own_probes`]).
    fn probes(&self) -> &[ProbeId];

    /// Probes that are not in the built-in catalogue (user-defined check packs).
    fn own_probes(&self) -> &[Probe] {
        &[]
    }

    /// What passing requires, for the report's `required` (under the profile's thresholds,
    /// `ev.thresholds()`). An Error verdict carries it too, so a reviewer sees what was asked
    /// even when it could not be evaluated.
    fn required(&self, ev: &Evidence) -> String;

    /// The verdict the evidence gives, or why it gives none: a probe that failed, timed out or
    /// printed something unparsable is an [`Unevaluable`] (`ev.stdout(id)?` does that).
    ///
    /// # Errors
    /// The evidence cannot be evaluated.
    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable>;

    /// Turns evidence into a verdict. Pure: same evidence, same verdict. What
    /// [`Check::try_evaluate`] cannot evaluate gives [`Status::Error`] with [`Check::required`],
    /// never Pass or Fail.
    fn evaluate(&self, ev: &Evidence) -> Verdict {
        self.try_evaluate(ev)
            .unwrap_or_else(|e| Verdict::from(e).with_required(self.required(ev)))
    }
}
