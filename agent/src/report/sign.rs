//! Optional ed25519 signatures of a report: `manifest.sig` signs the exact bytes of
//! `manifest.json`, which lists the size and SHA-256 of every other file, so a valid signature
//! covers the whole report. It is what the manifest alone cannot be: proof that whoever holds the
//! private key produced (or approved) these files, since anyone can rewrite a manifest.
//!
//! Keys are the files OpenSSL writes (`openssl genpkey -algorithm ed25519 -out key.pem`;
//! `openssl pkey -in key.pem -pubout -out key.pub.pem`): the private key as unencrypted PKCS#8
//! PEM (`BEGIN PRIVATE KEY`), the public key as SPKI PEM (`BEGIN PUBLIC KEY`). A key is named by
//! its fingerprint `SHA256:<base64>`: the SHA-256 of its SPKI DER, unpadded base64, which
//! `openssl pkey -pubin -in key.pub.pem -outform DER | openssl dgst -sha256 -binary | base64`
//! reproduces (less its `=` padding).
//!
//! `manifest.sig` (JSON, schema `vmcert.signature/v1`) carries the public key itself, so a
//! report verifies on its own ("signed by key SHA256:..."); that only says the signer held that
//! key. `report verify --public-key FILE` also checks it is the key the reader trusts.
//! The private key is never printed or written anywhere; ed25519-dalek zeroizes it on drop.

use std::path::Path;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _, EncodePublicKey as _};
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The signature's path in the zip.
pub(crate) const PATH: &str = "manifest.sig";

/// Schema name of `manifest.sig`.
const SCHEMA: &str = "vmcert.signature/v1";

/// `manifest.sig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SignatureFile {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// Always `ed25519`.
    pub algorithm: String,
    /// The signed file: always `manifest.json`.
    pub signed: String,
    /// The public key, SPKI DER, base64.
    pub public_key: String,
    /// The public key's fingerprint (`SHA256:...`).
    pub key_fingerprint: String,
    /// The signature over the bytes of `signed`, base64.
    pub signature: String,
}

/// A private key to sign reports with.
pub(crate) struct ReportSigner {
    key: SigningKey,
}

impl std::fmt::Debug for ReportSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportSigner")
            .field("key", &fingerprint(&self.key.verifying_key()))
            .finish()
    }
}

/// `SHA256:<base64 of the SHA-256 of the SPKI DER>`.
pub(crate) fn fingerprint(key: &VerifyingKey) -> String {
    let der = key
        .to_public_key_der()
        .map(|d| d.as_bytes().to_vec())
        .unwrap_or_default();
    format!("SHA256:{}", STANDARD_NO_PAD.encode(Sha256::digest(der)))
}

impl ReportSigner {
    /// Reads an unencrypted PKCS#8 PEM ed25519 private key.
    ///
    /// # Errors
    /// Unreadable, not PEM, another key type, or encrypted, as one line naming the file (never
    /// its content).
    pub(crate) fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text = zeroize::Zeroizing::new(
            std::fs::read_to_string(path)
                .with_context(|| format!("--key {}: cannot read it", path.display()))?,
        );
        if text.contains("BEGIN ENCRYPTED PRIVATE KEY") {
            bail!(
                "{}: an encrypted private key; vmcert reads unencrypted PKCS#8 PEM (keep the file readable only by you)",
                path.display()
            );
        }
        if text.contains("BEGIN OPENSSH PRIVATE KEY") {
            bail!(
                "{}: an OpenSSH private key; vmcert reads ed25519 keys as PKCS#8 PEM (`openssl genpkey -algorithm ed25519 -out key.pem`)",
                path.display()
            );
        }
        let key = SigningKey::from_pkcs8_pem(&text).map_err(|_| {
            anyhow::anyhow!(
                "{}: not an ed25519 private key in PKCS#8 PEM (`openssl genpkey -algorithm ed25519 -out key.pem` writes one)",
                path.display()
            )
        })?;
        Ok(Self { key })
    }

    /// The public key's fingerprint.
    pub(crate) fn fingerprint(&self) -> String {
        fingerprint(&self.key.verifying_key())
    }

    /// `manifest.sig` for these `manifest.json` bytes.
    ///
    /// # Errors
    /// The public key cannot be encoded (a bug).
    pub(crate) fn sign(&self, manifest: &[u8]) -> anyhow::Result<SignatureFile> {
        let public = self.key.verifying_key();
        let der = public
            .to_public_key_der()
            .context("encoding the public key")?;
        Ok(SignatureFile {
            schema: SCHEMA.to_owned(),
            algorithm: "ed25519".to_owned(),
            signed: super::manifest::PATH.to_owned(),
            public_key: STANDARD.encode(der.as_bytes()),
            key_fingerprint: fingerprint(&public),
            signature: STANDARD.encode(self.key.sign(manifest).to_bytes()),
        })
    }
}

/// Reads an SPKI PEM ed25519 public key (`--public-key`).
///
/// # Errors
/// Unreadable, a private key, or not an ed25519 public key, as one line.
pub(crate) fn public_key_from_file(path: &Path) -> anyhow::Result<VerifyingKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--public-key {}: cannot read it", path.display()))?;
    if text.contains("PRIVATE KEY") {
        bail!(
            "--public-key {}: that is a private key; give its public half (`openssl pkey -in KEY -pubout`)",
            path.display()
        );
    }
    VerifyingKey::from_public_key_pem(&text).map_err(|_| {
        anyhow::anyhow!(
            "--public-key {}: not an ed25519 public key in PEM (`openssl pkey -in KEY -pubout` writes one)",
            path.display()
        )
    })
}

/// What checking a report's signature found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// No `manifest.sig`.
    Unsigned,
    /// A valid signature of `manifest.json` by the key with this fingerprint.
    Valid {
        /// The signing key's fingerprint.
        fingerprint: String,
    },
    /// A signature that does not hold, and why.
    Invalid(String),
}

/// Checks `manifest.sig` (if present) against `manifest.json`, and against `trusted` when given.
pub(crate) fn check(
    sig: Option<&[u8]>,
    manifest: Option<&[u8]>,
    trusted: Option<&VerifyingKey>,
) -> Verdict {
    let Some(sig) = sig else {
        return Verdict::Unsigned;
    };
    let file: SignatureFile = match serde_json::from_slice(sig) {
        Ok(f) => f,
        Err(e) => return Verdict::Invalid(format!("{PATH} is not a signature file: {e}")),
    };
    if file.schema != SCHEMA || file.algorithm != "ed25519" || file.signed != super::manifest::PATH
    {
        return Verdict::Invalid(format!(
            "{PATH}: unknown schema `{}` / algorithm `{}` / signed file `{}`",
            file.schema, file.algorithm, file.signed
        ));
    }
    let Some(manifest) = manifest else {
        return Verdict::Invalid(format!("{PATH}: the signed manifest.json is missing"));
    };
    let key = match STANDARD
        .decode(&file.public_key)
        .ok()
        .and_then(|der| VerifyingKey::from_public_key_der(&der).ok())
    {
        Some(k) => k,
        None => return Verdict::Invalid(format!("{PATH}: the public key cannot be read")),
    };
    let fp = fingerprint(&key);
    if let Some(t) = trusted
        && t != &key
    {
        return Verdict::Invalid(format!(
            "signed by key {fp}, not by the key given ({})",
            fingerprint(t)
        ));
    }
    let signature = match STANDARD
        .decode(&file.signature)
        .ok()
        .and_then(|b| Signature::from_slice(&b).ok())
    {
        Some(s) => s,
        None => return Verdict::Invalid(format!("{PATH}: the signature cannot be read")),
    };
    match key.verify(manifest, &signature) {
        Ok(()) => Verdict::Valid { fingerprint: fp },
        Err(_) => Verdict::Invalid(format!(
            "the signature by key {fp} does not match manifest.json (the manifest was changed after signing)"
        )),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A fixed test key, as `openssl genpkey -algorithm ed25519` writes it (never used outside
    /// tests).
    pub(crate) const TEST_KEY: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIG+ycOc9ukzK9Xxg+WD9qfIiwc9HecQ9AS4sLXbNnvQu\n-----END PRIVATE KEY-----\n";

    pub(crate) fn signer() -> ReportSigner {
        ReportSigner {
            key: SigningKey::from_pkcs8_pem(TEST_KEY).unwrap(),
        }
    }

    #[test]
    fn sign_then_check_and_every_way_it_breaks() {
        let s = signer();
        let manifest = b"{\"files\": []}\n";
        let sig = serde_json::to_vec(&s.sign(manifest).unwrap()).unwrap();
        let fp = s.fingerprint();
        // What `openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary | base64` prints.
        assert_eq!(fp, "SHA256:H24xNDeg6zrHPleqWGA0SpPz0ZZzIQK4Bkvz+hS+kxQ");
        assert_eq!(
            check(Some(&sig), Some(manifest), None),
            Verdict::Valid {
                fingerprint: fp.clone()
            }
        );
        let public = s.key.verifying_key();
        assert_eq!(
            check(Some(&sig), Some(manifest), Some(&public)),
            Verdict::Valid {
                fingerprint: fp.clone()
            }
        );
        assert_eq!(check(None, Some(manifest), None), Verdict::Unsigned);
        let Verdict::Invalid(why) = check(Some(&sig), Some(b"{\"files\": [1]}\n"), None) else {
            panic!("a changed manifest verifies")
        };
        assert!(why.contains("does not match manifest.json"), "{why}");
        let other = SigningKey::from_bytes(&[7; 32]).verifying_key();
        let Verdict::Invalid(why) = check(Some(&sig), Some(manifest), Some(&other)) else {
            panic!("another key's report verifies")
        };
        assert!(
            why.starts_with(&format!("signed by key {fp}, not by the key given")),
            "{why}"
        );
        // A forger re-signs with their own key: valid on its own, refused against the trusted key.
        let forger = ReportSigner {
            key: SigningKey::from_bytes(&[9; 32]),
        };
        let forged = serde_json::to_vec(&forger.sign(manifest).unwrap()).unwrap();
        assert!(matches!(
            check(Some(&forged), Some(manifest), None),
            Verdict::Valid { .. }
        ));
        assert!(matches!(
            check(Some(&forged), Some(manifest), Some(&public)),
            Verdict::Invalid(_)
        ));
        assert!(matches!(
            check(Some(b"nope"), Some(manifest), None),
            Verdict::Invalid(_)
        ));
    }

    #[test]
    fn key_files_are_read_with_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.pem");
        std::fs::write(&key, TEST_KEY).unwrap();
        let s = ReportSigner::from_file(&key).unwrap();
        assert_eq!(s.fingerprint(), signer().fingerprint());
        assert!(
            !format!("{s:?}").contains("MC4C"),
            "Debug shows no key material"
        );
        let e = public_key_from_file(&key).unwrap_err();
        assert!(e.to_string().contains("that is a private key"), "{e}");
        let pubpem = dir.path().join("key.pub.pem");
        let pem = s
            .key
            .verifying_key()
            .to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .unwrap();
        std::fs::write(&pubpem, pem).unwrap();
        assert_eq!(
            fingerprint(&public_key_from_file(&pubpem).unwrap()),
            s.fingerprint()
        );
        let junk = dir.path().join("junk");
        std::fs::write(&junk, "-----BEGIN OPENSSH PRIVATE KEY-----\nxx\n").unwrap();
        let e = ReportSigner::from_file(&junk).unwrap_err();
        assert!(e.to_string().contains("an OpenSSH private key"), "{e}");
        std::fs::write(&junk, "hello").unwrap();
        let e = ReportSigner::from_file(&junk).unwrap_err();
        assert!(e.to_string().contains("not an ed25519 private key"), "{e}");
        assert!(
            !e.to_string().contains("hello"),
            "the content is never shown"
        );
    }
}
