//! Built-in Windows checks, one file each, and the Windows probe catalogue (PowerShell).

pub mod probes;
