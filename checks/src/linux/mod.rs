//! Built-in Linux checks, one file each, and the Linux probe catalogue.
//!
//! A check file holds a unit struct named after the check id, its [`crate::Meta`], the probes it
//! reads and a pure `evaluate`. Fixture cases live in `checks/tests/fixtures/linux/<id>/`.

pub mod probes;

mod os_architecture;

pub use os_architecture::OsArchitecture;
