//! Where `vhd inspect` reads from: a local file (positioned reads) or a blob over a SAS URL (one
//! HEAD, then ranged GETs). Both only ever read the few ranges asked for, so a 1 TiB VHD costs
//! the same as a 20 MiB one; both count their reads so the output can show it.

use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use reqwest::{Method, StatusCode};

use super::rules::Origin;
use crate::blob::{BlobClient, Request, RetryPolicy};
use crate::sas::SasUrl;

/// Random access to the bytes of a disk image.
pub(crate) trait Source {
    /// Total length in bytes.
    fn len(&self) -> u64;
    /// Exactly `len` bytes at `offset` (the caller stays within [`Source::len`]).
    fn read_at(&mut self, offset: u64, len: usize) -> anyhow::Result<Vec<u8>>;
    /// File or blob (with its blob type).
    fn origin(&self) -> Origin;
    /// I/O operations made so far (HTTP requests, including the HEAD, or positioned reads).
    fn reads(&self) -> u32;
    /// How to name the source in output (a path, or the URL with its signature hidden).
    fn display_name(&self) -> String;
}

/// An in-memory disk for the tests: counts its reads like the real sources, and refuses a read
/// past its end with an error (not a panic), so hostile-disk properties see such a read fail.
#[cfg(test)]
#[derive(Debug)]
pub(crate) struct Mem {
    pub bytes: Vec<u8>,
    pub reads: u32,
}

#[cfg(test)]
impl Mem {
    pub(crate) fn new(bytes: Vec<u8>) -> Self {
        Self { bytes, reads: 0 }
    }
}

#[cfg(test)]
impl Source for Mem {
    fn len(&self) -> u64 {
        self.bytes.len() as u64
    }
    fn read_at(&mut self, offset: u64, len: usize) -> anyhow::Result<Vec<u8>> {
        self.reads += 1;
        let o = usize::try_from(offset)?;
        let end = o
            .checked_add(len)
            .ok_or_else(|| anyhow!("read past the end: {offset}+{len}"))?;
        self.bytes
            .get(o..end)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| anyhow!("read past the end: {offset}+{len}"))
    }
    fn origin(&self) -> Origin {
        Origin::Local
    }
    fn reads(&self) -> u32 {
        self.reads
    }
    fn display_name(&self) -> String {
        "mem".into()
    }
}

/// A local file.
pub(crate) struct LocalFile {
    path: PathBuf,
    file: File,
    len: u64,
    reads: u32,
}

impl LocalFile {
    /// Opens `path`, which must be a regular file.
    pub(crate) fn open(path: &Path) -> anyhow::Result<Self> {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let meta = file
            .metadata()
            .with_context(|| format!("cannot stat {}", path.display()))?;
        if !meta.is_file() {
            bail!("{} is not a regular file", path.display());
        }
        Ok(Self {
            path: path.to_path_buf(),
            file,
            len: meta.len(),
            reads: 0,
        })
    }
}

impl Source for LocalFile {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&mut self, offset: u64, len: usize) -> anyhow::Result<Vec<u8>> {
        self.reads += 1;
        let mut buf = vec![0; len];
        self.file
            .seek(SeekFrom::Start(offset))
            .and_then(|_| self.file.read_exact(&mut buf))
            .with_context(|| {
                format!(
                    "cannot read {len} bytes at offset {offset} of {}",
                    self.path.display()
                )
            })?;
        Ok(buf)
    }

    fn origin(&self) -> Origin {
        Origin::Local
    }

    fn reads(&self) -> u32 {
        self.reads
    }

    fn display_name(&self) -> String {
        self.path.display().to_string()
    }
}

/// A blob read through its SAS URL.
pub(crate) struct Blob {
    url: SasUrl,
    client: BlobClient,
    len: u64,
    blob_type: Option<String>,
}

/// Why a read of the blob was refused, in words.
fn refused(status: StatusCode) -> &'static str {
    match status {
        StatusCode::FORBIDDEN => {
            "the SAS does not allow reading (sp must contain r), has expired, or its signature does not match"
        }
        StatusCode::NOT_FOUND => "no such blob or container",
        _ => "unexpected answer",
    }
}

impl Blob {
    /// Opens the blob of `url` with a HEAD request (length and blob type).
    pub(crate) fn open(url: SasUrl) -> anyhow::Result<Self> {
        if url.blob.is_none() {
            bail!(
                "{} names no blob: give the VHD's URL (.../CONTAINER/NAME.vhd?SAS)",
                url.redacted()
            );
        }
        let mut client = BlobClient::new(Duration::from_secs(60), RetryPolicy::DEFAULT)?;
        let head = client.send(&Request {
            method: Method::HEAD,
            url: &url,
            headers: vec![],
            body: None,
            max_body: 0,
        })?;
        if head.status != StatusCode::OK {
            bail!(
                "cannot read {}: {}: {}",
                url.without_query(),
                head.describe(),
                refused(head.status)
            );
        }
        let len = head
            .header("content-length")
            .and_then(|v| v.parse::<u64>().ok())
            .with_context(|| {
                format!(
                    "{}: the HEAD answer has no Content-Length",
                    url.without_query()
                )
            })?;
        let blob_type = head.header("x-ms-blob-type").map(str::to_string);
        Ok(Self {
            url,
            client,
            len,
            blob_type,
        })
    }
}

impl Source for Blob {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&mut self, offset: u64, len: usize) -> anyhow::Result<Vec<u8>> {
        if len == 0 {
            return Ok(Vec::new());
        }
        let last = offset + len as u64 - 1;
        let reply = self.client.send(&Request {
            method: Method::GET,
            url: &self.url,
            headers: vec![("x-ms-range", format!("bytes={offset}-{last}"))],
            body: None,
            max_body: len as u64,
        })?;
        let whole = reply.status == StatusCode::OK && offset == 0 && len as u64 == self.len;
        if reply.status != StatusCode::PARTIAL_CONTENT && !whole {
            return Err(anyhow!(
                "cannot read bytes {offset}-{last} of {}: {}: {}",
                self.url.without_query(),
                reply.describe(),
                refused(reply.status)
            ));
        }
        if reply.body.len() != len {
            bail!(
                "reading bytes {offset}-{last} of {} returned {} bytes instead of {len}",
                self.url.without_query(),
                reply.body.len()
            );
        }
        Ok(reply.body)
    }

    fn origin(&self) -> Origin {
        Origin::Blob(self.blob_type.clone())
    }

    fn reads(&self) -> u32 {
        self.client.requests()
    }

    fn display_name(&self) -> String {
        self.url.redacted()
    }
}
