//! The agent's parsers of hostile input, for the coverage-guided fuzzer (`fuzz/`) and nothing
//! else: each function takes the fuzzer's bytes, runs one parser (and what reads its result)
//! and panics only where vmcert has a bug: a panic of the parser itself, or a broken invariant
//! checked here. The parsers stay private to the crate; this module is the one door, hidden
//! from the docs, and it exposes functions of bytes, never the parsers' types.
//!
//! Parsers that read a file (report zips, known_hosts, key files) get the bytes through a
//! temporary file, as they would from a user's disk.

use std::io::Write as _;
use std::path::Path;

use vmcert_checks::{Os, Profile};

use crate::vhd::rules::{Intent, Origin, Role};
use crate::vhd::source::Source;

/// The sh frame parser over a stream (see `target::script::fuzz`).
pub fn sh_frames(data: &[u8]) {
    crate::target::script::fuzz::sh_frames(data);
}

/// The PowerShell frame parser over a stream (see `target::script::fuzz`).
pub fn ps_frames(data: &[u8]) {
    crate::target::script::fuzz::ps_frames(data);
}

/// `data` as text, lossily: most parsers take text that vmcert already decoded.
fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// `data` split at the first newline: a short argument, then the body.
fn head_and_body(data: &[u8]) -> (String, &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(i) => (text(&data[..i]), &data[i + 1..]),
        None => (String::new(), data),
    }
}

/// `bytes` in a temporary file, for parsers that read a path.
fn temp_file(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().expect("a temporary file for the fuzzer's input");
    f.write_all(bytes)
        .and_then(|()| f.flush())
        .expect("writing the fuzzer's input");
    f
}

/// A disk image in memory, mostly zeros: `data` is an 8-byte little-endian length, then the
/// image's first bytes; its last 512 bytes, when `data` has more than 512 after the length, are
/// the image's last 512 bytes (the footer). So a few hundred bytes of input stand for a disk of
/// any size, with a head and a footer where the reader looks for them.
struct SparseImage {
    len: u64,
    head: Vec<u8>,
    tail: Vec<u8>,
    reads: u32,
}

impl SparseImage {
    fn new(data: &[u8]) -> Option<Self> {
        let (len, rest) = data.split_first_chunk::<8>()?;
        let len = u64::from_le_bytes(*len);
        let (head, tail) = if rest.len() > 512 {
            rest.split_at(rest.len() - 512)
        } else {
            (rest, &[][..])
        };
        let data_len = (head.len() + tail.len()) as u64;
        Some(Self {
            len: len.max(data_len),
            head: head.to_vec(),
            tail: tail.to_vec(),
            reads: 0,
        })
    }

    fn byte(&self, at: u64) -> u8 {
        let tail_start = self.len - self.tail.len() as u64;
        if let Some(b) = usize::try_from(at).ok().and_then(|i| self.head.get(i)) {
            *b
        } else if at >= tail_start {
            usize::try_from(at - tail_start)
                .ok()
                .and_then(|i| self.tail.get(i))
                .copied()
                .unwrap_or(0)
        } else {
            0
        }
    }
}

/// The most a single read of the VHD reader may ask for: the head it reads is 34 sectors, a
/// GPT entry array at most a few MiB. A read past this is a bug (memory chosen by the image).
const MAX_VHD_READ: usize = 16 << 20;

impl Source for SparseImage {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&mut self, offset: u64, len: usize) -> anyhow::Result<Vec<u8>> {
        self.reads += 1;
        assert!(
            len <= MAX_VHD_READ,
            "the VHD reader asked for {len} bytes at once"
        );
        let end = offset
            .checked_add(len as u64)
            .filter(|&e| e <= self.len)
            .unwrap_or_else(|| panic!("read of {len} bytes at {offset} past the image's end"));
        Ok((offset..end).map(|at| self.byte(at)).collect())
    }

    fn origin(&self) -> Origin {
        Origin::Local
    }

    fn reads(&self) -> u32 {
        self.reads
    }

    fn display_name(&self) -> String {
        "fuzz".to_owned()
    }
}

/// `vhd inspect` (footer, MBR, GPT header and entries, the rules) over a sparse image
/// ([`SparseImage`]), for an OS disk and a data disk.
pub fn vhd(data: &[u8]) {
    for intent in [
        Intent {
            role: Some(Role::Os),
            os: Some(Os::Linux),
            profile: Profile::default(),
        },
        Intent {
            role: Some(Role::Data),
            os: None,
            profile: Profile::default(),
        },
    ] {
        let Some(mut img) = SparseImage::new(data) else {
            return;
        };
        if let Ok(inspection) = crate::vhd::inspect(&mut img, intent) {
            serde_json::to_string(&inspection).expect("an inspection serializes");
        }
    }
}

/// A SAS URL as `vhd inspect`, `sas check` and `--upload` take it: parsed, checked against the
/// rules, and redacted. No form of the URL that vmcert prints (the redacted URL, its parameters,
/// any text through `redact`) may hold the signature, whatever the encoding of its key.
pub fn sas(data: &[u8]) {
    let input = text(data);
    let redacted = crate::sas::redact(&input);
    assert_eq!(
        crate::sas::redact(&redacted),
        redacted,
        "redacting twice changes the text"
    );
    let Ok(report) = crate::sas::check(&input) else {
        return;
    };
    let Ok(url) = crate::sas::SasUrl::parse(&input) else {
        unreachable!("check parsed it")
    };
    serde_json::to_string(&report).expect("a SAS report serializes");
    // The forms that carry the URL's text (the rules' messages hold fixed examples that a short
    // "signature" can be part of).
    let params = format!("{:?}", url.params_redacted());
    // Each `sig` value, as written and decoded; one that also appears elsewhere in the input (a
    // date, another parameter) may show there.
    let sigs = url
        .secret_url()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            let key = percent_encoding::percent_decode_str(k).decode_utf8_lossy();
            (key == "sig").then(|| {
                let decoded = percent_encoding::percent_decode_str(v).decode_utf8_lossy();
                [v.to_owned(), decoded.into_owned()]
            })
        });
    let whole = url.secret_url().as_str();
    let decoded = percent_encoding::percent_decode_str(whole).decode_utf8_lossy();
    for sig in sigs.flatten() {
        let elsewhere = [&input, whole, &decoded]
            .iter()
            .any(|h| h.matches(sig.as_str()).count() > 1);
        if sig.len() < 8 || elsewhere {
            continue;
        }
        for shown in [&params, &url.redacted(), &redacted] {
            assert!(
                !shown.contains(&sig),
                "the signature {sig:?} shows in {shown:?}"
            );
        }
    }
}

/// A fleet inventory (TOML) as `vmcert fleet` reads it.
pub fn fleet_inventory(data: &[u8]) {
    let _ = crate::engine::fleet::inventory::parse_inventory(
        Path::new("/fuzz/fleet.toml"),
        &text(data),
        Path::new("/fuzz/out"),
    );
}

/// A report zip as `report show` (every format) and `report verify` read it; what they print,
/// once made terminal-safe, holds no escape character.
pub fn report_zip(data: &[u8]) {
    use crate::cmd::cli::Format;
    let file = temp_file(data);
    let mut printed = Vec::new();
    for format in [Format::Table, Format::Json, Format::Md] {
        if let Ok((text, _)) = crate::cmd::report::show(file.path(), format) {
            printed.push(text);
        }
    }
    if let Ok((text, _)) = crate::cmd::report::verify_text(file.path(), None) {
        printed.push(text);
    }
    for text in printed {
        let safe = crate::report::render::terminal_safe(&text);
        assert!(
            !safe.contains(['\u{1b}', '\u{9b}', '\r']),
            "terminal_safe kept a control character: {safe:?}"
        );
    }
}

/// A known_hosts file (after a first line naming the host looked up).
pub fn known_hosts(data: &[u8]) {
    let (name, body) = head_and_body(data);
    let file = temp_file(body);
    let _ = crate::target::ssh::known_hosts::lookup(file.path(), &name);
}

/// A private key file as `--key` reads it before libssh2 does.
pub fn key_file(data: &[u8]) {
    let file = temp_file(data);
    if let Ok(k) = crate::target::ssh::keyfile::KeyFile::inspect(file.path()) {
        let _ = k.describe();
    }
}

/// A `--target` URL: `ssh://`, `winrm://` and `winrms://` locators.
pub fn target_url(data: &[u8]) {
    let url = text(data);
    if let Ok(t) = crate::target::ssh::target::SshTarget::parse(&url) {
        assert!(!t.host.is_empty(), "an ssh target without a host: {url:?}");
    }
    if let Ok(t) = crate::target::winrm::WinrmTarget::parse(&url) {
        let _ = format!("{t:?}");
    }
}

/// sudo's stderr as the SSH transport summarizes it.
pub fn sudo_output(data: &[u8]) {
    let said = crate::target::ssh::sudo::sudo_said(data);
    assert!(
        !said.contains('\n'),
        "sudo_said returned more than a line: {said:?}"
    );
}

/// A blob service's error reply (first two bytes: the HTTP status; then the XML body) as an
/// upload or `vhd inspect` over a SAS URL describes it.
pub fn blob_error(data: &[u8]) {
    let Some((status, body)) = data.split_first_chunk::<2>() else {
        return;
    };
    let Ok(status) = reqwest::StatusCode::from_u16(100 + u16::from_le_bytes(*status) % 500) else {
        return;
    };
    let reply = crate::blob::Reply {
        status,
        headers: reqwest::header::HeaderMap::new(),
        body: body.to_vec(),
    };
    let _ = reply.error_code();
    let _ = reply.describe();
}
