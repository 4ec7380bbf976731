//! Reading and appending OpenSSH known_hosts files. Our own parser rather than libssh2's
//! `KnownHosts`: we need every entry recorded for a host (to tell "unknown" from "changed", to
//! name the file and line in the refusal, and to prefer the recorded key types in the key
//! exchange), and libssh2's lookup reports none of that. Handles what sshd(8) documents under
//! SSH_KNOWN_HOSTS FILE FORMAT: comma-separated patterns with `*`/`?` and `!` negation, hashed
//! `|1|salt|hash` names (HMAC-SHA1), `[host]:port` names, and the `@revoked` and
//! `@cert-authority` markers.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// A line marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Marker {
    /// A plain host key line.
    None,
    /// `@revoked`: this key must never be accepted.
    Revoked,
    /// `@cert-authority`: a CA for host certificates (not used: we do not verify certificates).
    CertAuthority,
}

/// One known_hosts line that matched the host being looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The file it came from.
    pub(crate) file: PathBuf,
    /// 1-based line number.
    pub(crate) line: usize,
    /// Its marker.
    pub(crate) marker: Marker,
    /// The key type named inside the key blob (e.g. `ssh-ed25519`, `ssh-rsa`).
    pub(crate) key_type: String,
    /// The public key blob (SSH wire format).
    pub(crate) blob: Vec<u8>,
}

/// Reads `file` and returns the entries whose host field matches `name` (`host` or
/// `[host]:port`). A missing file has no entries; malformed lines are skipped as OpenSSH does.
pub(crate) fn lookup(file: &Path, name: &str) -> io::Result<Vec<Entry>> {
    let text = match fs::read(file) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let name = name.to_ascii_lowercase();
    let mut found = Vec::new();
    for (i, line) in text.lines().enumerate() {
        match parse_line(line) {
            Some(p) if host_field_matches(p.hosts, &name) => found.push(Entry {
                file: file.to_path_buf(),
                line: i + 1,
                marker: p.marker,
                key_type: p.key_type,
                blob: p.blob,
            }),
            Some(_) => {}
            None => {
                let t = line.trim();
                if !t.is_empty() && !t.starts_with('#') {
                    tracing::debug!(
                        "{}:{}: skipping a malformed known_hosts line",
                        file.display(),
                        i + 1
                    );
                }
            }
        }
    }
    Ok(found)
}

/// Appends `name key_type base64(blob)` to `file`, creating the file (0600) and its directory
/// (0700) when missing. Starts a new line first if the file does not end with one.
pub(crate) fn append(file: &Path, name: &str, key_type: &str, blob: &[u8]) -> io::Result<()> {
    if let Some(dir) = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty() && !d.exists())
    {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let needs_newline = match fs::read(file) {
        Ok(bytes) => bytes.last().is_some_and(|&b| b != b'\n'),
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(e) => return Err(e),
    };
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(file)?;
    let line = format!(
        "{}{name} {key_type} {}\n",
        if needs_newline { "\n" } else { "" },
        STANDARD.encode(blob)
    );
    f.write_all(line.as_bytes())?;
    f.sync_all()
}

/// The key type stored at the start of an SSH public key blob (`string key_type`).
pub(crate) fn blob_key_type(blob: &[u8]) -> Option<String> {
    let len = u32::from_be_bytes(blob.get(..4)?.try_into().ok()?) as usize;
    let name = blob.get(4..4usize.checked_add(len)?)?;
    String::from_utf8(name.to_vec())
        .ok()
        .filter(|n| !n.is_empty())
}

struct Parsed<'a> {
    marker: Marker,
    hosts: &'a str,
    key_type: String,
    blob: Vec<u8>,
}

fn parse_line(line: &str) -> Option<Parsed<'_>> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let mut fields = line.split_whitespace();
    let mut first = fields.next()?;
    let marker = match first {
        "@revoked" => Marker::Revoked,
        "@cert-authority" => Marker::CertAuthority,
        m if m.starts_with('@') => return None,
        _ => Marker::None,
    };
    if marker != Marker::None {
        first = fields.next()?;
    }
    let _declared_type = fields.next()?;
    let blob = STANDARD.decode(fields.next()?).ok()?;
    let key_type = blob_key_type(&blob)?;
    Some(Parsed {
        marker,
        hosts: first,
        key_type,
        blob,
    })
}

/// Whether a known_hosts host field matches `name` (already lower-cased): a hashed name, or a
/// comma-separated pattern list in which a matching negated pattern vetoes the line.
fn host_field_matches(field: &str, name: &str) -> bool {
    if let Some(hashed) = field.strip_prefix("|1|") {
        return hashed_matches(hashed, name);
    }
    let mut matched = false;
    for pat in field.split(',') {
        let (negated, pat) = match pat.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, pat),
        };
        if glob_match(pat.to_ascii_lowercase().as_bytes(), name.as_bytes()) {
            if negated {
                return false;
            }
            matched = true;
        }
    }
    matched
}

/// `salt|hash` (both base64) with hash = HMAC-SHA1(key = salt, name).
fn hashed_matches(salt_and_hash: &str, name: &str) -> bool {
    let Some((salt, hash)) = salt_and_hash.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (STANDARD.decode(salt), STANDARD.decode(hash)) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(&salt) else {
        return false;
    };
    mac.update(name.as_bytes());
    mac.verify_slice(&hash).is_ok()
}

/// OpenSSH's `match_pattern`: `*` matches any run of characters, `?` exactly one.
fn glob_match(pat: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        match pat.get(p) {
            Some(b'*') => {
                star = Some((p, i));
                p += 1;
            }
            Some(&c) if c == b'?' || c == s[i] => {
                p += 1;
                i += 1;
            }
            _ => match star {
                Some((sp, si)) => {
                    p = sp + 1;
                    i = si + 1;
                    star = Some((sp, si + 1));
                }
                None => return false,
            },
        }
    }
    pat[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two public keys made by `ssh-keygen -t ed25519`.
    const ED: &str = "AAAAC3NzaC1lZDI1NTE5AAAAILhaf4XlvnYdTQdBHVTpDn7mbbZt6XkbTASjrQJCQKjC";
    const ED2: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIF3zyZuBtDhjwa9frHI4xpHQC3LtxvOeRyt5YcZhuSyq";

    fn blob(b64: &str) -> Vec<u8> {
        STANDARD.decode(b64).unwrap()
    }

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn blob_type_is_read_from_the_blob() {
        assert_eq!(blob_key_type(&blob(ED)).as_deref(), Some("ssh-ed25519"));
        assert_eq!(blob_key_type(&[0, 0, 0, 9, b'x']), None);
        assert_eq!(blob_key_type(&[]), None);
    }

    #[test]
    fn plain_port_and_pattern_entries_match() {
        let text = format!(
            "# comment\n\
             10.0.0.5 ssh-ed25519 {ED}\n\
             [127.0.0.1]:2222,other ssh-ed25519 {ED2} c\n\
             *.example.com,!bad.example.com ssh-ed25519 {ED}\n\
             vm-?? ssh-ed25519 {ED}\n\
             garbage line\n\
             bad ssh-ed25519 !!notbase64!!\n"
        );
        let (_d, f) = write(&text);
        let lines = |name: &str| {
            lookup(&f, name)
                .unwrap()
                .iter()
                .map(|e| e.line)
                .collect::<Vec<_>>()
        };
        assert_eq!(lines("10.0.0.5"), [2]);
        assert_eq!(lines("[127.0.0.1]:2222"), [3]);
        assert_eq!(
            lines("127.0.0.1"),
            Vec::<usize>::new(),
            "port 22 must not match [h]:2222"
        );
        assert_eq!(lines("VM.Example.com"), [4]);
        assert_eq!(
            lines("bad.example.com"),
            Vec::<usize>::new(),
            "negation vetoes"
        );
        assert_eq!(lines("vm-01"), [5]);
        assert_eq!(lines("vm-001"), Vec::<usize>::new());
        let e = &lookup(&f, "other").unwrap()[0];
        assert_eq!(
            (e.key_type.as_str(), e.marker),
            ("ssh-ed25519", Marker::None)
        );
        assert_eq!(e.blob, blob(ED2));
    }

    #[test]
    fn hashed_entries_match_their_name_only() {
        // `ssh-keygen -H` output for the line `[127.0.0.1]:2222 ssh-ed25519 ED`.
        let text = format!(
            "|1|mnmFJaMpDOa+6I1Pc8/xZQizNYo=|Gz/YiRDPg9F+1CTyqB5d7VAsagY= ssh-ed25519 {ED}\n"
        );
        let (_d, f) = write(&text);
        assert_eq!(lookup(&f, "[127.0.0.1]:2222").unwrap().len(), 1);
        assert!(lookup(&f, "127.0.0.1").unwrap().is_empty());
        assert!(lookup(&f, "[127.0.0.1]:2223").unwrap().is_empty());
    }

    #[test]
    fn markers_are_kept() {
        let text = format!(
            "@revoked * ssh-ed25519 {ED}\n@cert-authority *.corp ssh-ed25519 {ED2}\n@bogus h ssh-ed25519 {ED}\n"
        );
        let (_d, f) = write(&text);
        let found = lookup(&f, "h.corp").unwrap();
        let markers: Vec<_> = found.iter().map(|e| e.marker).collect();
        assert_eq!(markers, [Marker::Revoked, Marker::CertAuthority]);
    }

    #[test]
    fn missing_file_has_no_entries() {
        let dir = tempfile::tempdir().unwrap();
        assert!(lookup(&dir.path().join("nope"), "h").unwrap().is_empty());
    }

    #[test]
    fn append_creates_private_file_and_dir_and_reads_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("new/.ssh/known_hosts");
        append(&file, "[::1]:2222", "ssh-ed25519", &blob(ED)).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(file.parent().unwrap()), 0o700);
        assert_eq!(
            fs::read_to_string(&file).unwrap(),
            format!("[::1]:2222 ssh-ed25519 {ED}\n")
        );
        assert_eq!(lookup(&file, "[::1]:2222").unwrap().len(), 1);
    }

    #[test]
    fn append_adds_a_missing_final_newline() {
        let (_d, f) = write(&format!("a ssh-ed25519 {ED}"));
        append(&f, "b", "ssh-ed25519", &blob(ED2)).unwrap();
        let text = fs::read_to_string(&f).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert_eq!(lookup(&f, "b").unwrap()[0].line, 2);
    }

    #[test]
    fn glob_edge_cases() {
        assert!(glob_match(b"*", b""));
        assert!(glob_match(b"a*b*c", b"axxbyyc"));
        assert!(!glob_match(b"a*b", b"ac"));
        assert!(glob_match(b"10.0.*", b"10.0.3.4"));
        assert!(!glob_match(b"", b"x"));
    }
}

/// Property tests (proptest, on stable; `fuzz/run.sh` runs them longer) of the known_hosts
/// reader: any line is parsed or skipped without a panic, patterns match as OpenSSH's
/// `match_pattern` does (checked against a regex), hashed names match their name only, and an
/// appended key is found again behind any earlier content of the file.
#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    fn cases() -> u32 {
        crate::proptest_cases::cases(24)
    }

    /// The glob as a regex: `*` any run, `?` one character, the rest literal.
    fn reference(pat: &str, s: &str) -> bool {
        let re: String = pat
            .chars()
            .map(|c| match c {
                '*' => ".*".to_string(),
                '?' => ".".to_string(),
                c => regex::escape(&c.to_string()),
            })
            .collect();
        regex::Regex::new(&format!("(?s)^{re}$"))
            .unwrap()
            .is_match(s)
    }

    /// A public key blob: `string key_type` then key bytes.
    fn blob() -> impl Strategy<Value = (String, Vec<u8>)> {
        (
            "(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256|[a-z@.-]{1,20})",
            prop::collection::vec(any::<u8>(), 0..64),
        )
            .prop_map(|(t, key)| {
                let mut b = u32::try_from(t.len()).unwrap().to_be_bytes().to_vec();
                b.extend_from_slice(t.as_bytes());
                b.extend_from_slice(&key);
                (t, b)
            })
    }

    fn host_name() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z0-9]([a-z0-9.-]{0,20}[a-z0-9])?",
            ("[a-z0-9.]{1,20}", 1..=65535u16).prop_map(|(h, p)| format!("[{h}]:{p}")),
            any::<std::net::Ipv4Addr>().prop_map(|a| a.to_string()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(cases()))]

        #[test]
        fn any_line_is_parsed_or_skipped(line in ".{0,200}", name in ".{0,30}") {
            if let Some(p) = parse_line(&line) {
                prop_assert!(!p.key_type.is_empty());
                let _ = host_field_matches(p.hosts, &name);
            }
            let _ = host_field_matches(&line, &name);
        }

        #[test]
        fn globs_match_as_the_reference_does(pat in "[ab.*?]{0,10}", s in "[ab.]{0,10}") {
            prop_assert_eq!(
                glob_match(pat.as_bytes(), s.as_bytes()),
                reference(&pat, &s),
                "{:?} ~ {:?}", pat, s
            );
        }

        #[test]
        fn hashed_names_match_their_name_only(
            name in host_name(),
            salt in prop::collection::vec(any::<u8>(), 1..64),
        ) {
            let mut mac = Hmac::<Sha1>::new_from_slice(&salt).unwrap();
            mac.update(name.as_bytes());
            let field = format!(
                "|1|{}|{}",
                STANDARD.encode(&salt),
                STANDARD.encode(mac.finalize().into_bytes())
            );
            prop_assert!(host_field_matches(&field, &name));
            let other = format!("{name}x");
            prop_assert!(!host_field_matches(&field, &other));
        }

        /// A key appended after any content is found under its name (case-insensitively),
        /// with its type and blob, on the file's last line.
        #[test]
        fn an_appended_key_is_found_again(
            before in prop_oneof![Just(String::new()), ".{0,200}", "([^\n]{0,40}\n){0,5}"],
            name in host_name(),
            (key_type, blob) in blob(),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("sub/known_hosts");
            if !before.is_empty() {
                fs::create_dir_all(file.parent().unwrap()).unwrap();
                fs::write(&file, &before).unwrap();
            }
            append(&file, &name, &key_type, &blob).unwrap();
            let text = fs::read_to_string(&file).unwrap();
            let found = lookup(&file, &name.to_ascii_uppercase()).unwrap();
            let last = found.last().unwrap();
            prop_assert_eq!(&last.blob, &blob);
            prop_assert_eq!(&last.key_type, &key_type);
            prop_assert_eq!(last.line, text.lines().count());
            prop_assert_eq!(last.marker, Marker::None);
        }
    }
}
