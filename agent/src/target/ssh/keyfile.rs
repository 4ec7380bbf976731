//! Looking at an `--identity` file before handing it to libssh2. libssh2 answers most problems
//! with the same "Unable to extract public key from private key" error (unreadable, a public key,
//! a PuTTY file, an encrypted OpenSSH key without or with the wrong passphrase), so we read the
//! file first: to say precisely what is wrong, to know whether a passphrase is needed before
//! connecting, and to tell a wrong passphrase from a broken key afterwards.

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use super::error::SshError;

/// The container format of a private key file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyFormat {
    /// `-----BEGIN OPENSSH PRIVATE KEY-----` (ssh-keygen's default since OpenSSH 7.8).
    OpenSsh,
    /// `-----BEGIN RSA PRIVATE KEY-----` (PKCS#1).
    PemRsa,
    /// `-----BEGIN EC PRIVATE KEY-----` (SEC1).
    PemEc,
    /// `-----BEGIN PRIVATE KEY-----` or `ENCRYPTED PRIVATE KEY` (PKCS#8).
    Pkcs8,
}

impl KeyFormat {
    fn name(self) -> &'static str {
        match self {
            Self::OpenSsh => "OpenSSH",
            Self::PemRsa => "PEM RSA",
            Self::PemEc => "PEM EC",
            Self::Pkcs8 => "PKCS#8",
        }
    }
}

/// A private key file that libssh2 should be able to use.
#[derive(Debug, Clone)]
pub(crate) struct KeyFile {
    /// Where it is.
    pub(crate) path: PathBuf,
    /// Container format.
    pub(crate) format: KeyFormat,
    /// Key type when the container names it (`ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256`...).
    pub(crate) key_type: Option<String>,
    /// Whether a passphrase is needed.
    pub(crate) encrypted: bool,
}

impl KeyFile {
    /// Reads and classifies the key at `path`.
    pub(crate) fn inspect(path: &Path) -> Result<Self, SshError> {
        let fail = |reason: String| SshError::KeyFile {
            file: path.to_path_buf(),
            reason,
        };
        if path.is_dir() {
            return Err(fail("is a directory".to_owned()));
        }
        let bytes = Zeroizing::new(fs::read(path).map_err(|e| fail(format!("cannot read: {e}")))?);
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            fail("not a text key file; expected an OpenSSH or PEM private key".to_owned())
        })?;
        let (format, key_type, encrypted) = classify(text).map_err(fail)?;
        Ok(Self {
            path: path.to_path_buf(),
            format,
            key_type,
            encrypted,
        })
    }

    /// `OpenSSH ssh-ed25519, encrypted` and the like, for reports.
    pub(crate) fn describe(&self) -> String {
        let mut s = self.format.name().to_owned();
        if let Some(t) = &self.key_type {
            s.push(' ');
            s.push_str(t);
        }
        if self.encrypted {
            s.push_str(", encrypted");
        }
        s
    }
}

/// Key types libssh2 1.11 (OpenSSL backend) signs with and OpenSSH servers accept.
const SUPPORTED_TYPES: [&str; 5] = [
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
];

fn classify(text: &str) -> Result<(KeyFormat, Option<String>, bool), String> {
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let label = first
        .strip_prefix("-----BEGIN ")
        .and_then(|l| l.strip_suffix("-----"));
    let pem_encrypted = text.lines().any(|l| l.trim() == "Proc-Type: 4,ENCRYPTED");
    match label {
        Some("OPENSSH PRIVATE KEY") => {
            let (key_type, encrypted) = openssh_header(text)?;
            if !SUPPORTED_TYPES.contains(&key_type.as_str()) {
                return Err(format!(
                    "{key_type} keys are not supported; use an ed25519, RSA or ECDSA key"
                ));
            }
            Ok((KeyFormat::OpenSsh, Some(key_type), encrypted))
        }
        Some("RSA PRIVATE KEY") => {
            Ok((KeyFormat::PemRsa, Some("ssh-rsa".to_owned()), pem_encrypted))
        }
        Some("EC PRIVATE KEY") => Ok((KeyFormat::PemEc, None, pem_encrypted)),
        Some("PRIVATE KEY") => Ok((KeyFormat::Pkcs8, None, false)),
        Some("ENCRYPTED PRIVATE KEY") => Ok((KeyFormat::Pkcs8, None, true)),
        Some("DSA PRIVATE KEY") => {
            Err("DSA keys are not supported; use an ed25519, RSA or ECDSA key".to_owned())
        }
        Some(other) => Err(format!(
            "`{other}` is not a supported private key; expected an OpenSSH or PEM private key"
        )),
        None if first.starts_with("PuTTY-User-Key-File-") => Err(
            "a PuTTY key; convert it with `puttygen KEY -O private-openssh -o KEY.openssh`"
                .to_owned(),
        ),
        None if first.starts_with("---- BEGIN SSH2") => {
            Err("an SSH.com (RFC 4716) key; convert it with `ssh-keygen -i -f KEY`".to_owned())
        }
        None if is_public_key_line(first) => {
            Err("this is a public key; give the private key (the file without .pub)".to_owned())
        }
        None => Err("not a private key in a supported format (OpenSSH or PEM)".to_owned()),
    }
}

fn is_public_key_line(line: &str) -> bool {
    ["ssh-", "ecdsa-", "sk-"]
        .iter()
        .any(|p| line.starts_with(p))
        && line.split_whitespace().count() >= 2
}

/// Reads the unencrypted header of an `openssh-key-v1` container (PROTOCOL.key): cipher name
/// and the first public key's type.
fn openssh_header(text: &str) -> Result<(String, bool), String> {
    let malformed = || "malformed OpenSSH private key".to_owned();
    let body: String = text
        .lines()
        .map(str::trim)
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    let raw = Zeroizing::new(STANDARD.decode(body).map_err(|_| malformed())?);
    let rest = raw
        .strip_prefix(b"openssh-key-v1\0".as_slice())
        .ok_or_else(malformed)?;
    let (cipher, rest) = ssh_string(rest).ok_or_else(malformed)?;
    let (_kdf, rest) = ssh_string(rest).ok_or_else(malformed)?;
    let (_kdf_options, rest) = ssh_string(rest).ok_or_else(malformed)?;
    let rest = rest.get(4..).ok_or_else(malformed)?; // number of keys
    let (public, _) = ssh_string(rest).ok_or_else(malformed)?;
    let (key_type, _) = ssh_string(public).ok_or_else(malformed)?;
    let key_type = String::from_utf8(key_type.to_vec()).map_err(|_| malformed())?;
    Ok((key_type, cipher != b"none"))
}

/// An SSH `string`: u32 big-endian length, then the bytes.
fn ssh_string(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = u32::from_be_bytes(b.get(..4)?.try_into().ok()?) as usize;
    let end = 4usize.checked_add(len)?;
    Some((b.get(4..end)?, b.get(end..)?))
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    /// Makes a real key with ssh-keygen (openssh-client is a test prerequisite).
    fn keygen(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
        let path = dir.join(name);
        let out = Command::new("ssh-keygen")
            .args(["-q", "-C", "", "-f"])
            .arg(&path)
            .args(args)
            .output()
            .expect("ssh-keygen is missing: install openssh-client (tests/lab/install-prereqs.sh)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        path
    }

    #[test]
    fn classifies_real_keys() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let cases = [
            (
                keygen(d, "ed", &["-t", "ed25519", "-N", ""]),
                "OpenSSH ssh-ed25519",
            ),
            (
                keygen(d, "ed_enc", &["-t", "ed25519", "-N", "pass-phrase"]),
                "OpenSSH ssh-ed25519, encrypted",
            ),
            (
                keygen(d, "ec", &["-t", "ecdsa", "-N", ""]),
                "OpenSSH ecdsa-sha2-nistp256",
            ),
            (
                keygen(
                    d,
                    "rsa_pem",
                    &["-t", "rsa", "-b", "2048", "-m", "PEM", "-N", ""],
                ),
                "PEM RSA ssh-rsa",
            ),
            (
                keygen(
                    d,
                    "rsa_pem_enc",
                    &["-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "pass-phrase"],
                ),
                "PEM RSA ssh-rsa, encrypted",
            ),
            (
                keygen(d, "ec_pem", &["-t", "ecdsa", "-m", "PEM", "-N", ""]),
                "PEM EC",
            ),
            (
                keygen(
                    d,
                    "p8_enc",
                    &[
                        "-t",
                        "rsa",
                        "-b",
                        "2048",
                        "-m",
                        "PKCS8",
                        "-N",
                        "pass-phrase",
                    ],
                ),
                "PKCS#8, encrypted",
            ),
        ];
        for (path, want) in cases {
            let k = KeyFile::inspect(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(k.describe(), want, "{}", path.display());
        }
    }

    #[test]
    fn refuses_what_libssh2_cannot_use_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let ed = keygen(d, "ed", &["-t", "ed25519", "-N", ""]);
        let putty = d.join("k.ppk");
        fs::write(
            &putty,
            "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n",
        )
        .unwrap();
        let junk = d.join("junk");
        fs::write(&junk, "hello\n").unwrap();
        let binary = d.join("bin");
        fs::write(&binary, [0xff, 0xfe, 0x00]).unwrap();
        for (path, want) in [
            (ed.with_extension("pub"), "this is a public key"),
            (putty, "PuTTY"),
            (junk, "not a private key"),
            (binary, "not a text key file"),
            (d.join("missing"), "cannot read: No such file"),
            (d.to_path_buf(), "is a directory"),
        ] {
            let err = KeyFile::inspect(&path).unwrap_err().to_string();
            assert!(err.contains(want), "{}: {err}", path.display());
            assert!(
                err.starts_with(&format!("key file {}: ", path.display())),
                "{err}"
            );
        }
        let broken = d.join("broken");
        fs::write(
            &broken,
            "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
        )
        .unwrap();
        assert!(
            KeyFile::inspect(&broken)
                .unwrap_err()
                .to_string()
                .contains("malformed")
        );
    }
}

/// Property tests (proptest, on stable; `fuzz/run.sh` runs them longer) of the key file
/// classifier: any text is classified or refused with a reason, never a panic, and an
/// `openssh-key-v1` header built with any cipher and key type reads back as built, however it
/// is cut or changed afterwards.
#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    fn cases() -> u32 {
        crate::proptest_cases::cases(64)
    }

    fn string(b: &mut Vec<u8>, s: &[u8]) {
        b.extend_from_slice(&u32::try_from(s.len()).unwrap().to_be_bytes());
        b.extend_from_slice(s);
    }

    /// An `openssh-key-v1` container up to the first public key, then `tail`.
    fn container(cipher: &str, key_type: &str, tail: &[u8]) -> Vec<u8> {
        let mut b = b"openssh-key-v1\0".to_vec();
        string(&mut b, cipher.as_bytes());
        string(&mut b, if cipher == "none" { b"none" } else { b"bcrypt" });
        string(&mut b, b"");
        b.extend_from_slice(&1u32.to_be_bytes());
        let mut public = Vec::new();
        string(&mut public, key_type.as_bytes());
        public.extend_from_slice(tail);
        string(&mut b, &public);
        b.extend_from_slice(tail);
        b
    }

    fn armored(raw: &[u8]) -> String {
        let b64 = STANDARD.encode(raw);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(70)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----\n",
            lines.join("\n")
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(cases()))]

        #[test]
        fn any_text_is_classified_or_refused(
            text in prop_oneof![
                ".{0,300}",
                "-----BEGIN [A-Z ]{0,30}-----\n[A-Za-z0-9+/=\n]{0,200}(-----END [A-Z ]{0,20}-----)?",
            ],
        ) {
            if let Err(reason) = classify(&text) {
                prop_assert!(!reason.trim().is_empty());
            }
        }

        #[test]
        fn built_openssh_headers_read_back(
            cipher in prop_oneof![
                Just("none".to_string()),
                Just("aes256-ctr".to_string()),
                "[a-z0-9-]{1,12}",
            ],
            key_type in prop_oneof![
                Just("ssh-ed25519".to_string()),
                Just("ssh-rsa".to_string()),
                Just("ecdsa-sha2-nistp256".to_string()),
                "[a-z0-9@.-]{0,24}",
            ],
            tail in prop::collection::vec(any::<u8>(), 0..80),
        ) {
            let text = armored(&container(&cipher, &key_type, &tail));
            prop_assert_eq!(openssh_header(&text), Ok((key_type.clone(), cipher != "none")));
            match classify(&text) {
                Ok((KeyFormat::OpenSsh, Some(t), enc)) => {
                    prop_assert_eq!(&t, &key_type);
                    prop_assert_eq!(enc, cipher != "none");
                    prop_assert!(SUPPORTED_TYPES.contains(&t.as_str()));
                }
                Ok(other) => prop_assert!(false, "{:?}", other),
                Err(e) => prop_assert!(!SUPPORTED_TYPES.contains(&key_type.as_str()), "{}", e),
            }
        }

        #[test]
        fn cut_or_changed_openssh_containers_are_refused_or_read(
            key_type in "[a-z0-9-]{1,24}",
            tail in prop::collection::vec(any::<u8>(), 0..40),
            cut in any::<prop::sample::Index>(),
            flips in prop::collection::vec((any::<prop::sample::Index>(), 1..=255u8), 0..6),
        ) {
            let mut raw = container("none", &key_type, &tail);
            for (i, b) in &flips {
                let i = i.index(raw.len());
                raw[i] ^= b;
            }
            raw.truncate(cut.index(raw.len() + 1));
            let _ = classify(&armored(&raw));
        }
    }
}
