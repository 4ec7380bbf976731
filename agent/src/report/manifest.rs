//! `manifest.json`: the size and SHA-256 of every other file of the report zip, written last by
//! the writer and checked by `vmcert report verify`. It detects accidental or careless changes;
//! it is not a signature (whoever edits a file can rewrite the manifest too).

use serde::{Deserialize, Serialize};
#[cfg(test)]
use sha2::{Digest as _, Sha256};

/// Schema name written into `manifest.json`.
pub(crate) const SCHEMA: &str = "vmcert.manifest/v1";

/// The manifest's own path in the zip.
pub(crate) const PATH: &str = "manifest.json";

/// The whole `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// Always `sha256`.
    pub algorithm: String,
    /// Every file of the zip except the manifest, in zip order.
    pub files: Vec<Entry>,
}

/// One file of the zip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Entry {
    /// Path inside the zip.
    pub path: String,
    /// Size in bytes (uncompressed).
    pub size: u64,
    /// Lower-case hex SHA-256 of the content.
    pub sha256: String,
}

impl Entry {
    /// The entry describing `content` stored at `path`.
    #[cfg(test)]
    pub(crate) fn of(path: &str, content: &[u8]) -> Self {
        Self {
            path: path.to_owned(),
            size: content.len() as u64,
            sha256: sha256_hex(content),
        }
    }
}

/// Lower-case hex SHA-256.
#[cfg(test)]
pub(crate) fn sha256_hex(content: &[u8]) -> String {
    hex(&Sha256::digest(content))
}

/// Lower-case hex of a digest.
pub(crate) fn hex(digest: &[u8]) -> String {
    use std::fmt::Write as _;
    digest.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

impl Manifest {
    /// The manifest of these files.
    #[cfg(test)]
    pub(crate) fn of<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Self {
        Self::from_entries(files.into_iter().map(|(p, c)| Entry::of(p, c)).collect())
    }

    /// The manifest listing `files` (hashed as they were written).
    pub(crate) fn from_entries(files: Vec<Entry>) -> Self {
        Self {
            schema: SCHEMA.to_owned(),
            algorithm: "sha256".to_owned(),
            files,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_input() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
