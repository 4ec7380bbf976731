//! vmcert's fuzz targets: one function of bytes per parser of hostile input (what a target, an
//! image, a report zip, a SAS server or a user's file can hand vmcert). Each runs the parser and
//! what reads its result, and panics only on a vmcert bug: a panic inside, or a broken invariant
//! checked here. The coverage-guided fuzzer (AFL++ through cargo-afl, `fuzz/run.sh`) runs them
//! from the seeds in `fuzz/corpus/<target>/`; `cargo test -p vmcert-fuzz` replays every seed and
//! every saved regression (`fuzz/corpus/<target>/regression-*`) through its target.
//!
//! Agent parsers are reached through `vmcert::fuzzing`; the pure crate's and winrm-rs's directly.

use std::cmp::Ordering;

use vmcert_checks::questionnaire::Answers;
use vmcert_checks::{Check as _, Evidence, Os, ProbeOutput, Profile, Status};

/// A fuzz target: runs one parser over the fuzzer's bytes.
pub type Target = fn(&[u8]);

/// Every target, by name: the name is the corpus directory and the harness's argument.
pub const TARGETS: &[(&str, Target)] = &[
    ("sh_frames", vmcert::fuzzing::sh_frames),
    ("ps_frames", vmcert::fuzzing::ps_frames),
    ("vhd", vmcert::fuzzing::vhd),
    ("sas", vmcert::fuzzing::sas),
    ("check_pack", check_pack),
    ("waivers", waivers),
    ("answers", answers),
    ("fleet_inventory", vmcert::fuzzing::fleet_inventory),
    ("report_zip", vmcert::fuzzing::report_zip),
    ("known_hosts", vmcert::fuzzing::known_hosts),
    ("key_file", vmcert::fuzzing::key_file),
    ("target_url", vmcert::fuzzing::target_url),
    ("version", version),
    ("sudo_output", vmcert::fuzzing::sudo_output),
    ("blob_error", vmcert::fuzzing::blob_error),
    ("evaluate", evaluate),
    ("winrm_soap", winrm_soap),
    ("winrm_ntlm", winrm_ntlm),
];

/// The target named `name`.
#[must_use]
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// A check pack (TOML) as `--checks` reads it; each check it defines is then evaluated over
/// probe output taken from the same bytes.
fn check_pack(data: &[u8]) {
    let Ok(checks) = vmcert_checks::pack::parse("fuzz.toml", &text(data)) else {
        return;
    };
    for c in &checks {
        let mut ev = Evidence::new(Profile::default());
        for id in c.probes() {
            ev.insert(*id, ProbeOutput::exited(0, data));
        }
        let _ = c.evaluate(&ev);
    }
}

/// A waiver file (TOML) as `--waivers` reads it.
fn waivers(data: &[u8]) {
    if let Ok(ws) = vmcert_checks::waiver::parse("fuzz.toml", &text(data)) {
        for w in &ws {
            let _ = w.expires_text();
        }
    }
}

/// An answers file (TOML) as `--answers` reads it, for each OS; what parses must survive being
/// written back (`questionnaire --save`) and read again unchanged.
fn answers(data: &[u8]) {
    let input = text(data);
    for os in [Os::Linux, Os::Windows] {
        if let Ok(a) = Answers::parse(&input, os) {
            let written = a.to_toml();
            let again = Answers::parse(&written, os)
                .unwrap_or_else(|e| panic!("answers written as {written:?} do not parse: {e}"));
            assert_eq!(again, a, "answers changed through {written:?}");
        }
    }
}

/// Version strings (two, on two lines) as the checks compare them: comparison is antisymmetric.
fn version(data: &[u8]) {
    let input = text(data);
    let (a, b) = input.split_once('\n').unwrap_or((&input, ""));
    let _ = vmcert_checks::version::Version::parse(a);
    let _ = vmcert_checks::version::Version::parse(b);
    let ab = vmcert_checks::version::compare(a, b);
    let ba = vmcert_checks::version::compare(b, a);
    assert_eq!(
        ab,
        ba.map(Ordering::reverse),
        "compare({a:?}, {b:?}) and compare({b:?}, {a:?}) disagree"
    );
}

/// Every check of the registry, for both OSes, over evidence made of the fuzzer's bytes: the
/// bytes are cut at NUL into the outputs of the probes (in the order the checks declare them);
/// each output's first byte sets the exit code, and with its top bit the probe did not finish
/// (no exit code, an error); probes past the last part are missing. A check none of whose probes finished must give Error or Not
/// applicable, never Pass, Warning or Fail.
fn evaluate(data: &[u8]) {
    for os in [Os::Linux, Os::Windows] {
        let mut ids: Vec<&str> = Vec::new();
        for c in vmcert_checks::registry::for_os(os) {
            for id in c.probes() {
                if !ids.contains(id) {
                    ids.push(id);
                }
            }
        }
        let mut parts = data.split(|&b| b == 0);
        let mut ev = Evidence::new(Profile::default());
        let mut unfinished = Vec::new();
        for id in &ids {
            let Some(part) = parts.next() else { break };
            let (first, rest) = part.split_first().map_or((0, part), |(f, r)| (*f, r));
            let out = if first & 0x80 == 0 {
                ProbeOutput::exited(i32::from(first & 0x7f), rest)
            } else {
                unfinished.push(*id);
                ProbeOutput {
                    stdout: rest.to_vec(),
                    error: Some("did not finish".to_owned()),
                    ..ProbeOutput::default()
                }
            };
            ev.insert(*id, out);
        }
        for c in vmcert_checks::registry::for_os(os) {
            let v = c.evaluate(&ev);
            let nothing_finished = !c.probes().is_empty()
                && c.probes()
                    .iter()
                    .all(|p| unfinished.contains(p) || ev.completed(p).is_err());
            assert!(
                !nothing_finished || matches!(v.status, Status::Error | Status::NotApplicable),
                "{} gave {:?} although none of its probes finished: {v:?}",
                c.meta().id,
                v.status
            );
        }
    }
}

/// The SOAP replies a WinRM server sends, through winrm-rs's parsers.
fn winrm_soap(data: &[u8]) {
    let xml = text(data);
    let _ = winrm_rs::check_soap_fault(&xml);
    let _ = winrm_rs::parse_shell_id(&xml);
    let _ = winrm_rs::parse_command_id(&xml);
    let _ = winrm_rs::parse_receive_output(&xml);
    let _ = winrm_rs::parse_enumerate_response(&xml);
}

/// NTLM from a WinRM server: the challenge message (raw and as the `WWW-Authenticate` header),
/// a sealed message, and a sealed multipart body to unseal.
fn winrm_ntlm(data: &[u8]) {
    let _ = winrm_rs::parse_challenge(data);
    let _ = winrm_rs::decode_challenge_header(&text(data));
    let mut session = winrm_rs::NtlmSession::from_auth(&[7; 16]);
    let _ = session.unseal(data);
    let mut session = winrm_rs::NtlmSession::from_auth(&[7; 16]);
    let _ = winrm_rs::unseal_body(&mut session, data);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every checked-in seed and regression input runs through its target without a panic: a
    /// crash the fuzzer found stays fixed once its input is saved as `regression-*`.
    #[test]
    fn every_corpus_file_runs_through_its_target() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
        let mut ran = 0;
        for (name, target) in TARGETS {
            let mut files: Vec<_> = std::fs::read_dir(root.join(name))
                .unwrap_or_else(|e| panic!("fuzz/corpus/{name}: {e}"))
                .map(|e| e.expect("a corpus entry").path())
                .collect();
            files.sort();
            for file in files {
                let data = std::fs::read(&file).expect("a corpus file");
                let outcome = std::panic::catch_unwind(|| target(&data));
                assert!(outcome.is_ok(), "{name} panicked on {}", file.display());
                ran += 1;
            }
        }
        assert!(ran >= TARGETS.len(), "only {ran} corpus files");
    }

    #[test]
    fn names_are_unique_and_each_has_a_corpus() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
        for (i, (name, _)) in TARGETS.iter().enumerate() {
            assert!(TARGETS[..i].iter().all(|(n, _)| n != name), "{name} twice");
            let seeds = std::fs::read_dir(root.join(name))
                .unwrap_or_else(|e| panic!("fuzz/corpus/{name}: {e}"))
                .count();
            assert!(seeds > 0, "fuzz/corpus/{name} is empty");
        }
    }
}
