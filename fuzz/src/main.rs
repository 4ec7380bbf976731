//! `vmcert-fuzz TARGET`: runs one fuzz target of [`vmcert_fuzz::TARGETS`]. Built by
//! `cargo afl build --features afl` (fuzz/run.sh) it is AFL++'s persistent-mode harness; built
//! plainly it reads one input on stdin and runs it once, which is how a crash is reproduced
//! (`vmcert-fuzz sh_frames < crash-file`, a panic with its message and backtrace).

use std::process::ExitCode;

fn main() -> ExitCode {
    let name = std::env::args().nth(1).unwrap_or_default();
    let Some(target) = vmcert_fuzz::target(&name) else {
        eprintln!(
            "usage: vmcert-fuzz TARGET < INPUT\ntargets: {}",
            vmcert_fuzz::TARGETS
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(" ")
        );
        return ExitCode::from(2);
    };
    run(target)
}

#[cfg(feature = "afl")]
fn run(target: vmcert_fuzz::Target) -> ExitCode {
    afl::fuzz!(|data: &[u8]| target(data));
    ExitCode::SUCCESS
}

#[cfg(not(feature = "afl"))]
fn run(target: vmcert_fuzz::Target) -> ExitCode {
    use std::io::Read as _;
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut input) {
        eprintln!("vmcert-fuzz: cannot read stdin: {e}");
        return ExitCode::from(2);
    }
    target(&input);
    ExitCode::SUCCESS
}
