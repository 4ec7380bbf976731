//! Windows probe commands: PowerShell fragments run once per target inside the single PowerShell
//! script the WinRM transport sends over stdin.

use crate::probe::{Probe, ProbeId};

/// Probes that fill the report header.
pub const FACTS: &[ProbeId] = &[];

/// The Windows catalogue.
pub static PROBES: &[Probe] = &[];
