//! Entry points of the coverage-guided fuzzer (`fuzz/`, through [`crate::fuzzing`]) into the sh
//! and PowerShell frame parsers. A child of the script module so that it can put the script's
//! secrets (nonce, per-probe tokens, `done` token) into the fuzzer's input without making them
//! visible anywhere else: the fuzzer cannot guess 128-bit random tokens, so its input names them
//! by placeholders (`$N` the nonce, `$0` `$1` `$2` the probes' tokens, `$D` the done token),
//! which lets it reach the code behind a well-formed frame as well as the code that refuses one.

use super::powershell::PsScript;
use super::{ProbeResult, ProbeScript, ProbeSpec};

/// The probes of every fuzzed script: small caps so that truncation is reached too.
fn specs() -> Vec<ProbeSpec> {
    ["a", "b", "c"]
        .iter()
        .map(|id| ProbeSpec {
            id: (*id).to_owned(),
            command: "true".to_owned(),
            needs_root: false,
            timeout_secs: 5,
            output_cap: 64,
        })
        .collect()
}

/// `data` with each placeholder replaced by the secret it names.
fn substitute(data: &[u8], nonce: &str, tokens: &[String], done: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 64);
    let mut i = 0;
    while i < data.len() {
        let next = data.get(i + 1).copied();
        let secret = match (data[i], next) {
            (b'$', Some(b'N')) => Some(nonce),
            (b'$', Some(b'D')) => Some(done),
            (b'$', Some(d @ b'0'..=b'9')) => tokens.get(usize::from(d - b'0')).map(String::as_str),
            _ => None,
        };
        if let Some(s) = secret {
            out.extend_from_slice(s.as_bytes());
            i += 2;
        } else {
            out.push(data[i]);
            i += 1;
        }
    }
    out
}

/// Feeds `stream` whole and in pieces of `piece` bytes to parsers made by `parser`, and checks
/// that both deliver the same probes, each one of the script's.
fn both_ways<P>(
    stream: &[u8],
    piece: usize,
    parser: impl Fn() -> P,
    feed: impl Fn(&mut P, &[u8]) -> Vec<ProbeResult>,
    finish: impl Fn(&mut P) -> Vec<ProbeResult>,
) {
    let mut whole = parser();
    let mut a = feed(&mut whole, stream);
    a.extend(finish(&mut whole));
    let mut cut = parser();
    let mut b = Vec::new();
    for chunk in stream.chunks(piece.max(1)) {
        b.extend(feed(&mut cut, chunk));
    }
    b.extend(finish(&mut cut));
    assert_eq!(a, b, "the parser's results depend on how the stream is cut");
    for r in &a {
        assert!(
            ["a", "b", "c"].contains(&r.id.as_str()),
            "a result for a probe the script does not run: {:?}",
            r.id
        );
    }
}

/// The sh frame parser over `data` (first byte: the piece size; then the stream, placeholders
/// substituted).
pub(crate) fn sh_frames(data: &[u8]) {
    let Some((&piece, rest)) = data.split_first() else {
        return;
    };
    let Ok(script) = ProbeScript::new(&specs(), 2) else {
        unreachable!("fixed probe list")
    };
    let stream = substitute(rest, &script.nonce, &script.tokens, &script.done_token);
    both_ways(
        &stream,
        usize::from(piece),
        || script.parser(),
        |p, b| p.feed(b),
        |p| p.finish(),
    );
}

/// The PowerShell frame parser over `data` (as [`sh_frames`]; only `$N` means something).
pub(crate) fn ps_frames(data: &[u8]) {
    let Some((&piece, rest)) = data.split_first() else {
        return;
    };
    let Ok(script) = PsScript::new(&specs(), 2) else {
        unreachable!("fixed probe list")
    };
    let stream = substitute(rest, script.fuzz_nonce(), &[], "");
    both_ways(
        &stream,
        usize::from(piece),
        || script.parser(),
        |p, b| p.feed(b),
        |p| p.finish(),
    );
}
