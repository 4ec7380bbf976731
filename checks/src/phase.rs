//! When in an image's life a run looks at it: a VM deployed from the finished image (`final`, the
//! default), or the build VM before the publisher deprovisions it (`build`: a `vmcert run
//! --local --phase build` inside a Packer or Azure Image Builder build). Deprovisioning (`waagent
//! -deprovision+user`, `cloud-init clean --logs`) still removes some leftovers after a
//! build-phase run, so the checks that read such leftovers see the phase in the [`Evidence`]
//! (like the profile) and say "deprovisioning will remove this" instead of failing; what
//! deprovisioning does not remove fails in both phases. A build-phase run is a pre-check, never a
//! certification.
//!
//! [`Evidence`]: crate::Evidence

use serde::{Deserialize, Serialize};

/// The moment of the image's life the run looks at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// A VM deployed from the finished (deprovisioned, captured) image: the certification run.
    #[default]
    Final,
    /// The build VM, before deprovisioning: a pre-check that does not fail on what
    /// deprovisioning removes.
    Build,
}

impl Phase {
    /// Every phase, in `--help` order.
    pub const ALL: [Self; 2] = [Self::Final, Self::Build];

    /// The name used on the command line and in `results.json`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Final => "final",
            Self::Build => "build",
        }
    }

    /// One line for `--help`.
    #[must_use]
    pub const fn help(self) -> &'static str {
        match self {
            Self::Final => "a VM deployed from the finished image (certification)",
            Self::Build => {
                "the build VM before it is generalized (pre-check only: what `waagent \
                 -deprovision+user`, `cloud-init clean` or sysprep will remove or do is a \
                 Warning, not a Fail)"
            }
        }
    }

    /// `final` (for `skip_serializing_if`).
    #[must_use]
    #[allow(clippy::trivially_copy_pass_by_ref)]
    pub fn is_final(&self) -> bool {
        *self == Self::Final
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Phase {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "final" => Ok(Self::Final),
            "build" => Ok(Self::Build),
            other => Err(format!("unknown phase `{other}` (expected final or build)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Phase::ALL {
            assert_eq!(p.as_str().parse::<Phase>().unwrap(), p);
        }
        assert!("deployed".parse::<Phase>().is_err());
        assert_eq!(Phase::default(), Phase::Final);
    }
}
