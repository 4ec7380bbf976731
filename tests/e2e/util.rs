//! Helpers shared by the end-to-end tests: finding the `vmcert` binary that cargo built for this
//! workspace and running it.

use std::path::PathBuf;
use std::process::{Command, Output};

/// The `vmcert` binary of this workspace build (`target/<profile>/vmcert`), or `$VMCERT_BIN`.
pub(crate) fn vmcert_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("VMCERT_BIN") {
        return PathBuf::from(p);
    }
    // The test binary is target/<profile>/deps/e2e-<hash>; vmcert sits in target/<profile>/.
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = dir.join("vmcert");
    assert!(
        bin.exists(),
        "{} not found: run `cargo build -p vmcert` first (the README's test command does)",
        bin.display()
    );
    bin
}

/// Runs `vmcert` with `args`.
pub(crate) fn vmcert(args: &[&str]) -> Output {
    Command::new(vmcert_bin())
        .args(args)
        .output()
        .expect("run vmcert")
}
