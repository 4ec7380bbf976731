//! Deciding whether to trust the server's host key, before any credential is sent. The policy is
//! OpenSSH's: a key recorded for the host passes; a different key for a recorded host is refused
//! even with `--accept-new-host-key`; an unknown key passes only with `--host-key` (a pinned
//! SHA-256 fingerprint) or `--accept-new-host-key` (which records it). Fingerprints are printed
//! the way `ssh-keygen -lf` prints them, so a user can compare them with the VM's console.

use std::fmt;
use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::error::SshError;
use super::known_hosts::{self, Entry, Marker};

/// A SHA-256 host key fingerprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of a public key blob.
    pub(crate) fn of(blob: &[u8]) -> Self {
        Self(Sha256::digest(blob).into())
    }

    /// Parses `SHA256:<base64>` as OpenSSH prints it (padding optional).
    pub(crate) fn parse(s: &str) -> Result<Self, String> {
        let expected =
            "expected SHA256:<43 base64 characters> as printed by `ssh-keygen -lf KEY.pub`";
        let Some(b64) = s.strip_prefix("SHA256:") else {
            return Err(if s.starts_with("MD5:") {
                format!("MD5 fingerprints are not accepted; {expected}")
            } else {
                expected.to_owned()
            });
        };
        let bytes = STANDARD_NO_PAD
            .decode(b64.trim_end_matches('='))
            .map_err(|_| format!("`{b64}` is not base64; {expected}"))?;
        let digest: [u8; 32] = bytes
            .try_into()
            .map_err(|_| format!("`{b64}` is not a SHA-256 digest; {expected}"))?;
        Ok(Self(digest))
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SHA256:{}", STANDARD_NO_PAD.encode(self.0))
    }
}

/// The server's public host key.
#[derive(Debug, Clone)]
pub(crate) struct HostKey {
    /// Key type from the blob, e.g. `ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256`.
    pub(crate) key_type: String,
    /// SSH wire-format public key.
    pub(crate) blob: Vec<u8>,
}

impl HostKey {
    /// The key's fingerprint.
    pub(crate) fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.blob)
    }
}

/// What to trust.
#[derive(Debug, Clone)]
pub(crate) struct HostKeyPolicy {
    /// The user's known_hosts file (`--known-hosts`, default `~/.ssh/known_hosts`): read, and
    /// written by `--accept-new-host-key`.
    pub(crate) known_hosts: PathBuf,
    /// Files only read (the system-wide `/etc/ssh/ssh_known_hosts` when `--known-hosts` is not given).
    pub(crate) read_only: Vec<PathBuf>,
    /// `--host-key`.
    pub(crate) pin: Option<Fingerprint>,
    /// `--accept-new-host-key`.
    pub(crate) accept_new: bool,
}

/// Why the host key was trusted.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "trust", rename_all = "snake_case")]
pub(crate) enum Trust {
    /// Recorded in a known_hosts file.
    Known {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
    },
    /// Matches `--host-key`.
    Pinned,
    /// Unknown, accepted with `--accept-new-host-key` and appended to the file.
    Recorded {
        /// The file it was written to.
        file: PathBuf,
    },
}

impl fmt::Display for Trust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Known { file, line } => write!(f, "known ({}:{line})", file.display()),
            Self::Pinned => f.write_str("pinned (--host-key)"),
            Self::Recorded { file } => write!(f, "new, recorded in {}", file.display()),
        }
    }
}

impl HostKeyPolicy {
    /// Every entry recorded for `name` in the files of this policy.
    pub(crate) fn entries(&self, name: &str) -> Result<Vec<Entry>, SshError> {
        let mut all = Vec::new();
        for file in std::iter::once(&self.known_hosts).chain(&self.read_only) {
            let found = known_hosts::lookup(file, name).map_err(|e| SshError::KnownHosts {
                file: file.clone(),
                reason: format!("cannot read: {e}"),
            })?;
            all.extend(found);
        }
        Ok(all)
    }

    /// Decides about `key` presented by the host known as `name`, recording it when the policy
    /// says so. `entries` are [`Self::entries`] for `name`.
    pub(crate) fn verify(
        &self,
        name: &str,
        key: &HostKey,
        entries: &[Entry],
    ) -> Result<Trust, SshError> {
        let fingerprint = key.fingerprint();
        let presented = format!("{} {fingerprint}", key.key_type);
        if let Some(revoked) = entries
            .iter()
            .find(|e| e.marker == Marker::Revoked && e.blob == key.blob)
        {
            return Err(SshError::RevokedHostKey {
                name: name.to_owned(),
                presented,
                file: revoked.file.clone(),
                line: revoked.line,
            });
        }
        if let Some(pin) = self.pin {
            return if pin == fingerprint {
                Ok(Trust::Pinned)
            } else {
                Err(SshError::PinMismatch {
                    name: name.to_owned(),
                    presented,
                    pinned: pin.to_string(),
                })
            };
        }
        let plain: Vec<&Entry> = entries
            .iter()
            .filter(|e| e.marker == Marker::None)
            .collect();
        if let Some(known) = plain.iter().find(|e| e.blob == key.blob) {
            return Ok(Trust::Known {
                file: known.file.clone(),
                line: known.line,
            });
        }
        // A recorded key of the same type (or, failing that, of any type) that differs: the
        // key exchange preferred the recorded types, so the server no longer has that key.
        let old = plain
            .iter()
            .find(|e| e.key_type == key.key_type)
            .or_else(|| plain.first());
        if let Some(old) = old {
            return Err(SshError::ChangedHostKey {
                name: name.to_owned(),
                presented,
                file: old.file.clone(),
                line: old.line,
                known: format!("{} {}", old.key_type, Fingerprint::of(&old.blob)),
            });
        }
        if !self.accept_new {
            return Err(SshError::UnknownHostKey {
                name: name.to_owned(),
                key_type: key.key_type.clone(),
                fingerprint: fingerprint.to_string(),
                file: self.known_hosts.clone(),
            });
        }
        known_hosts::append(&self.known_hosts, name, &key.key_type, &key.blob).map_err(|e| {
            SshError::KnownHosts {
                file: self.known_hosts.clone(),
                reason: format!("cannot record the new key: {e}"),
            }
        })?;
        tracing::info!(
            "recorded the host key of {name} ({} {fingerprint}) in {}",
            key.key_type,
            self.known_hosts.display()
        );
        Ok(Trust::Recorded {
            file: self.known_hosts.clone(),
        })
    }
}

/// The host key algorithms to offer, most wanted first: those matching key types recorded for
/// the host (so a server with several keys presents the one we know, as OpenSSH does), then the
/// rest of what libssh2 supports. Certificate algorithms are left out: we verify plain keys only.
pub(crate) fn preferred_algorithms(entries: &[Entry], supported: &[&str]) -> String {
    let plain: Vec<&str> = supported
        .iter()
        .copied()
        .filter(|a| !a.contains("-cert-"))
        .collect();
    let mut order: Vec<&str> = Vec::new();
    for e in entries.iter().filter(|e| e.marker == Marker::None) {
        for alg in algorithms_for(&e.key_type) {
            if plain.contains(alg) && !order.contains(alg) {
                order.push(alg);
            }
        }
    }
    for alg in plain {
        if !order.contains(&alg) {
            order.push(alg);
        }
    }
    order.join(",")
}

/// Signature algorithms usable with a key type (RSA keys sign with SHA-2 algorithms).
fn algorithms_for(key_type: &str) -> &[&str] {
    match key_type {
        "ssh-ed25519" => &["ssh-ed25519"],
        "ecdsa-sha2-nistp256" => &["ecdsa-sha2-nistp256"],
        "ecdsa-sha2-nistp384" => &["ecdsa-sha2-nistp384"],
        "ecdsa-sha2-nistp521" => &["ecdsa-sha2-nistp521"],
        "ssh-rsa" => &["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
        "ssh-dss" => &["ssh-dss"],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::STANDARD;

    use super::*;

    /// Two public keys made by `ssh-keygen -t ed25519`.
    const ED: &str = "AAAAC3NzaC1lZDI1NTE5AAAAILhaf4XlvnYdTQdBHVTpDn7mbbZt6XkbTASjrQJCQKjC";
    const ED2: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIF3zyZuBtDhjwa9frHI4xpHQC3LtxvOeRyt5YcZhuSyq";

    fn key(b64: &str) -> HostKey {
        let blob = STANDARD.decode(b64).unwrap();
        HostKey {
            key_type: known_hosts::blob_key_type(&blob).unwrap(),
            blob,
        }
    }

    fn policy(
        dir: &tempfile::TempDir,
        text: &str,
        accept_new: bool,
        pin: Option<&str>,
    ) -> HostKeyPolicy {
        let file = dir.path().join("known_hosts");
        std::fs::write(&file, text).unwrap();
        HostKeyPolicy {
            known_hosts: file,
            read_only: vec![],
            pin: pin.map(|p| Fingerprint::parse(p).unwrap()),
            accept_new,
        }
    }

    fn check(p: &HostKeyPolicy, name: &str, k: &HostKey) -> Result<Trust, SshError> {
        let entries = p.entries(name)?;
        p.verify(name, k, &entries)
    }

    #[test]
    fn fingerprint_prints_and_parses_like_ssh_keygen() {
        // `ssh-keygen -lf` on the key ED prints this fingerprint.
        let fp = key(ED).fingerprint();
        assert_eq!(
            fp.to_string(),
            "SHA256:WYY1O0BKP83nMYLkonBFVKIZ2R35xQ2bAkJxb1+MAy8"
        );
        assert_eq!(Fingerprint::parse(&fp.to_string()), Ok(fp));
        assert_eq!(Fingerprint::parse(&format!("{fp}=")), Ok(fp));
        assert!(Fingerprint::parse("MD5:aa:bb").unwrap_err().contains("MD5"));
        assert!(Fingerprint::parse("WYY1O0BKP83nMYLkonBFVKIZ2R35xQ2bAkJxb1+MAy8").is_err());
        assert!(
            Fingerprint::parse("SHA256:abc")
                .unwrap_err()
                .contains("not a SHA-256 digest")
        );
        assert!(
            Fingerprint::parse("SHA256:@@@")
                .unwrap_err()
                .contains("not base64")
        );
    }

    #[test]
    fn known_key_passes_and_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = policy(
            &dir,
            &format!("x ssh-ed25519 {ED2}\n[h]:2222 ssh-ed25519 {ED}\n"),
            false,
            None,
        );
        match check(&p, "[h]:2222", &key(ED)).unwrap() {
            Trust::Known { line, .. } => assert_eq!(line, 2),
            t => panic!("{t:?}"),
        }
    }

    #[test]
    fn changed_key_is_refused_even_with_accept_new() {
        let dir = tempfile::tempdir().unwrap();
        let p = policy(&dir, &format!("[h]:2222 ssh-ed25519 {ED2}\n"), true, None);
        let err = check(&p, "[h]:2222", &key(ED)).unwrap_err().to_string();
        assert!(
            err.contains("CHANGED") && err.contains(&key(ED).fingerprint().to_string()),
            "{err}"
        );
        assert!(err.contains(":1 records ssh-ed25519"), "{err}");
        assert_eq!(
            std::fs::read_to_string(&p.known_hosts)
                .unwrap()
                .lines()
                .count(),
            1,
            "nothing recorded"
        );
    }

    #[test]
    fn unknown_key_is_refused_with_its_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let p = policy(&dir, "", false, None);
        let err = check(&p, "h", &key(ED)).unwrap_err().to_string();
        assert!(
            err.contains("unknown host key for h: ssh-ed25519 SHA256:"),
            "{err}"
        );
    }

    #[test]
    fn unknown_key_is_recorded_with_accept_new_then_known() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = policy(&dir, "", true, None);
        assert!(matches!(
            check(&p, "[::1]:22000", &key(ED)).unwrap(),
            Trust::Recorded { .. }
        ));
        p.accept_new = false;
        assert!(matches!(
            check(&p, "[::1]:22000", &key(ED)).unwrap(),
            Trust::Known { line: 1, .. }
        ));
    }

    #[test]
    fn pin_decides_alone_but_revocation_wins() {
        let dir = tempfile::tempdir().unwrap();
        let fp = key(ED).fingerprint().to_string();
        let p = policy(&dir, &format!("h ssh-ed25519 {ED2}\n"), false, Some(&fp));
        assert_eq!(check(&p, "h", &key(ED)).unwrap(), Trust::Pinned);
        let err = check(&p, "h", &key(ED2)).unwrap_err().to_string();
        assert!(
            err.contains("does not match --host-key") && err.contains(&fp),
            "{err}"
        );
        let p = policy(
            &dir,
            &format!("@revoked * ssh-ed25519 {ED}\n"),
            true,
            Some(&fp),
        );
        assert!(
            check(&p, "h", &key(ED))
                .unwrap_err()
                .to_string()
                .contains("@revoked")
        );
    }

    #[test]
    fn recorded_types_come_first_and_certificates_never() {
        let dir = tempfile::tempdir().unwrap();
        let p = policy(&dir, &format!("h ssh-ed25519 {ED}\n"), false, None);
        let supported = [
            "ssh-ed25519-cert-v01@openssh.com",
            "ecdsa-sha2-nistp256",
            "rsa-sha2-512",
            "ssh-ed25519",
        ];
        let prefs = preferred_algorithms(&p.entries("h").unwrap(), &supported);
        assert_eq!(prefs, "ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512");
        assert_eq!(
            preferred_algorithms(&[], &supported),
            "ecdsa-sha2-nistp256,rsa-sha2-512,ssh-ed25519"
        );
    }
}

/// Property tests (proptest, on stable; `fuzz/run.sh` runs them longer) of [`Fingerprint`]: any
/// `--host-key` text is parsed or refused with a reason, and every fingerprint as printed parses
/// back to itself.
#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(
            crate::proptest_cases::cases(128)
        ))]

        #[test]
        fn any_text_is_a_fingerprint_or_refused(
            s in prop_oneof![".{0,80}", "(SHA256|MD5):[A-Za-z0-9+/=]{0,50}"],
        ) {
            if let Err(e) = Fingerprint::parse(&s) {
                prop_assert!(e.contains("expected SHA256:"));
            }
        }

        #[test]
        fn printed_fingerprints_parse_back(digest in any::<[u8; 32]>(), pad in any::<bool>()) {
            let f = Fingerprint(digest);
            let text = format!("{f}{}", if pad { "=" } else { "" });
            prop_assert_eq!(Fingerprint::parse(&text), Ok(f));
        }
    }
}
