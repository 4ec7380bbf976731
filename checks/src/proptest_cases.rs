//! The number of cases each property test runs, in one place for every property of the pure crate (test code only: the crate itself reads no environment):
//! `VMCERT_PROPTEST_CASES` when set (`fuzz/run.sh` raises it for the long run), else the
//! property's own default, small enough for `cargo test`.

/// Cases for a property whose `cargo test` default is `default`.
pub(crate) fn cases(default: u32) -> u32 {
    std::env::var("VMCERT_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
