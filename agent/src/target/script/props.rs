//! Property tests (proptest, on stable) of the frame parsers and the stream splitter, with the
//! target as the adversary: any bytes, cut anywhere, never panic, never grow memory past the
//! line bound, and never turn into a probe result that the script did not print. They run with
//! `cargo test` (a few hundred cases each); `fuzz/run.sh` runs them longer.

use proptest::prelude::*;

use super::powershell::PsScript;
use super::*;

fn script(n: usize) -> ProbeScript {
    let probes: Vec<ProbeSpec> = (0..n)
        .map(|i| ProbeSpec {
            id: format!("p{i}"),
            command: "true".into(),
            needs_root: false,
            timeout_secs: 5,
            output_cap: 64,
        })
        .collect();
    ProbeScript::new(&probes, 2).unwrap()
}

/// A stream of lines made of frame fragments (with the right nonce, without the tokens), base64
/// and garbage: what a probe writing into the main shell's stdout could produce.
fn hostile_lines(nonce: String) -> impl Strategy<Value = Vec<u8>> {
    let m = format!("#vmcert:{nonce}:");
    let line = prop_oneof![
        Just(format!("{m}begin 0 p0")),
        Just(format!("{m}begin 1 p1 0123456789abcdef0123456789abcdef")),
        Just(format!("{m}meta rc=0 ms=1 timeout=0 truncated=0 bytes=3,0")),
        Just(format!("{m}stdout b64")),
        Just(format!("{m}stderr hex")),
        Just(format!("{m}end 0")),
        Just(format!("{m}done")),
        Just(format!("{m}fatal x")),
        "[A-Za-z0-9+/=]{0,80}",
        ".{0,120}",
    ];
    prop::collection::vec(line, 0..60).prop_map(|ls| {
        let mut b = ls.join("\n").into_bytes();
        b.push(b'\n');
        b
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        crate::proptest_cases::cases(256)
    ))]

    /// Arbitrary bytes, fed in arbitrary pieces: no panic, and whatever the parser delivers for
    /// the same bytes does not depend on how they were cut.
    #[test]
    fn sh_parser_takes_any_bytes_in_any_pieces(
        bytes in prop::collection::vec(any::<u8>(), 0..4096),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..16),
    ) {
        let s = script(3);
        let mut whole = s.parser();
        let mut a = whole.feed(&bytes);
        a.extend(whole.finish());
        let mut pieces = s.parser();
        let mut at: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
        at.sort_unstable();
        let mut b = Vec::new();
        let mut last = 0;
        for c in at {
            b.extend(pieces.feed(&bytes[last..c]));
            last = c;
        }
        b.extend(pieces.feed(&bytes[last..]));
        b.extend(pieces.finish());
        prop_assert_eq!(a, b);
    }

    /// Frames written by someone who knows the nonce but not the tokens never deliver a result
    /// that is not an error, and never say the script is done.
    #[test]
    fn sh_frames_without_tokens_never_pass(stream in hostile_lines(script(0).nonce)) {
        // A parser for a script with the same nonce (the strategy needs it first).
        let mut s = script(2);
        let nonce = String::from_utf8_lossy(&stream)
            .split("#vmcert:")
            .nth(1)
            .map(|r| r.split(':').next().unwrap_or("").to_string());
        if let Some(n) = nonce {
            s.nonce = n;
        }
        let mut p = s.parser();
        let mut got = p.feed(&stream);
        got.extend(p.finish());
        for r in &got {
            prop_assert!(r.output.error.is_some() && r.output.exit_code.is_none(), "{:?}", r);
        }
        prop_assert!(!p.is_done());
    }

    /// The PowerShell frame parser shares the splitter: any bytes, no panic.
    #[test]
    fn ps_parser_takes_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let probes = vec![ProbeSpec {
            id: "a".into(),
            command: "1".into(),
            needs_root: false,
            timeout_secs: 5,
            output_cap: 64,
        }];
        let s = PsScript::new(&probes, 1).unwrap();
        let mut p = s.parser();
        let _ = p.feed(&bytes);
        let _ = p.finish();
    }
}
