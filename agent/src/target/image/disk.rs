//! The bytes of the virtual disk inside an image file or blob, read through a block cache with
//! read-ahead, so the file system readers can ask for small scattered ranges while a SAS URL
//! sees a few hundred ranged GETs instead of thousands. Every read is bounded by the disk's end
//! and every partition reader by its partition; bytes and requests are counted for the bench.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use crate::vhd::source::Source;

/// Why a read of the disk failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DiskError {
    /// The range lies (partly) beyond the end of the disk or of a partition.
    #[error(
        "read of {len} bytes at offset {offset} goes beyond the end of the {what} ({end} bytes)"
    )]
    OutOfRange {
        /// `disk` or `partition N`.
        what: String,
        /// First byte asked for.
        offset: u64,
        /// Bytes asked for.
        len: u64,
        /// Length of the disk or partition.
        end: u64,
    },
    /// The file or blob could not be read.
    #[error("{0:#}")]
    Source(anyhow::Error),
}

/// Cache geometry: block size, the most blocks one read-ahead fetches, the most blocks kept.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CachePolicy {
    /// Bytes per cached block.
    pub block: u64,
    /// Most blocks fetched by one request when reads are sequential.
    pub max_ahead: u64,
    /// Most blocks kept (oldest dropped first).
    pub max_blocks: usize,
}

impl CachePolicy {
    /// A local file: small blocks (the OS caches the file too), 32 MiB at most.
    pub(crate) const LOCAL: Self = Self {
        block: 64 << 10,
        max_ahead: 16,
        max_blocks: 512,
    };
    /// A blob: each request costs a round trip, so larger blocks and read-ahead up to 4 MiB;
    /// 48 MiB at most.
    pub(crate) const REMOTE: Self = Self {
        block: 256 << 10,
        max_ahead: 16,
        max_blocks: 192,
    };
}

/// The virtual disk: bytes `[0, end)` of the source.
pub(crate) struct Disk {
    src: Box<dyn Source>,
    end: u64,
    policy: CachePolicy,
    cache: HashMap<u64, Rc<Vec<u8>>>,
    order: VecDeque<u64>,
    last_miss: Option<u64>,
    ahead: u64,
    bytes: u64,
}

impl Disk {
    /// The first `end` bytes of `src` (its length minus a VHD footer, or all of it).
    pub(crate) fn new(src: Box<dyn Source>, end: u64, policy: CachePolicy) -> Self {
        Self {
            src,
            end,
            policy,
            cache: HashMap::new(),
            order: VecDeque::new(),
            last_miss: None,
            ahead: 1,
            bytes: 0,
        }
    }

    /// Length of the virtual disk in bytes.
    pub(crate) const fn len(&self) -> u64 {
        self.end
    }

    /// Bytes fetched from the file or blob so far (cache misses only).
    pub(crate) const fn bytes_read(&self) -> u64 {
        self.bytes
    }

    /// Reads (HTTP requests, HEAD included, or positioned file reads) so far.
    pub(crate) fn requests(&self) -> u32 {
        self.src.reads()
    }

    /// The source's name for messages (a path, or a URL without its signature).
    pub(crate) fn display_name(&self) -> String {
        self.src.display_name()
    }

    /// Fills `dst` from `offset`.
    ///
    /// # Errors
    /// The range leaves the disk, or the source failed.
    pub(crate) fn read(&mut self, offset: u64, dst: &mut [u8]) -> Result<(), DiskError> {
        let len = dst.len() as u64;
        if offset.checked_add(len).is_none_or(|e| e > self.end) {
            return Err(DiskError::OutOfRange {
                what: "disk".to_string(),
                offset,
                len,
                end: self.end,
            });
        }
        let bs = self.policy.block;
        let mut done = 0usize;
        while done < dst.len() {
            let pos = offset + done as u64;
            let index = pos / bs;
            let block = self.block(index)?;
            let within = usize::try_from(pos - index * bs).unwrap_or(usize::MAX);
            let n = (block.len().saturating_sub(within)).min(dst.len() - done);
            if n == 0 {
                return Err(DiskError::Source(anyhow::anyhow!(
                    "short block {index} of the disk"
                )));
            }
            dst[done..done + n].copy_from_slice(&block[within..within + n]);
            done += n;
        }
        Ok(())
    }

    /// Cached block `index`, fetched (with read-ahead when reads are sequential) on a miss.
    fn block(&mut self, index: u64) -> Result<Rc<Vec<u8>>, DiskError> {
        if let Some(b) = self.cache.get(&index) {
            return Ok(Rc::clone(b));
        }
        let bs = self.policy.block;
        let blocks = self.end.div_ceil(bs);
        self.ahead = if self.last_miss.is_some_and(|m| m + 1 == index) {
            (self.ahead * 2).min(self.policy.max_ahead)
        } else {
            1
        };
        let mut count = 1;
        while count < self.ahead
            && index + count < blocks
            && !self.cache.contains_key(&(index + count))
        {
            count += 1;
        }
        let start = index * bs;
        let stop = ((index + count) * bs).min(self.end);
        let len = usize::try_from(stop - start).map_err(|e| DiskError::Source(e.into()))?;
        let bytes = self.src.read_at(start, len).map_err(DiskError::Source)?;
        self.bytes += bytes.len() as u64;
        self.last_miss = Some(index + count - 1);
        let mut first = None;
        for (i, chunk) in bytes
            .chunks(usize::try_from(bs).unwrap_or(usize::MAX))
            .enumerate()
        {
            let b = Rc::new(chunk.to_vec());
            if i == 0 {
                first = Some(Rc::clone(&b));
            }
            self.insert(index + i as u64, b);
        }
        first.ok_or_else(|| DiskError::Source(anyhow::anyhow!("empty read of block {index}")))
    }

    fn insert(&mut self, index: u64, block: Rc<Vec<u8>>) {
        while self.cache.len() >= self.policy.max_blocks {
            match self.order.pop_front() {
                Some(old) => {
                    self.cache.remove(&old);
                }
                None => break,
            }
        }
        self.cache.insert(index, block);
        self.order.push_back(index);
    }
}

/// A window of the disk (a partition, or the whole disk), for a file system reader.
#[derive(Clone)]
pub(crate) struct Window {
    disk: Rc<RefCell<Disk>>,
    start: u64,
    len: u64,
    what: String,
}

impl Window {
    /// Bytes `[start, start + len)` of `disk`, named `what` in errors.
    pub(crate) fn new(disk: Rc<RefCell<Disk>>, start: u64, len: u64, what: String) -> Self {
        Self {
            disk,
            start,
            len,
            what,
        }
    }

    /// Fills `dst` from `offset` within the window.
    ///
    /// # Errors
    /// The range leaves the window, or the disk read failed.
    pub(crate) fn read(&self, offset: u64, dst: &mut [u8]) -> Result<(), DiskError> {
        let len = dst.len() as u64;
        if offset.checked_add(len).is_none_or(|e| e > self.len) {
            return Err(DiskError::OutOfRange {
                what: self.what.clone(),
                offset,
                len,
                end: self.len,
            });
        }
        self.disk.borrow_mut().read(self.start + offset, dst)
    }

    /// `len` bytes at `offset`, or fewer when the window ends first.
    ///
    /// # Errors
    /// The disk read failed.
    pub(crate) fn read_vec(&self, offset: u64, len: usize) -> Result<Vec<u8>, DiskError> {
        let n = usize::try_from(self.len.saturating_sub(offset))
            .unwrap_or(usize::MAX)
            .min(len);
        let mut buf = vec![0; n];
        self.read(offset, &mut buf)?;
        Ok(buf)
    }

    /// Length of the window in bytes.
    pub(crate) const fn len(&self) -> u64 {
        self.len
    }
}

impl ext4_view::Ext4Read for Window {
    fn read(
        &mut self,
        start_byte: u64,
        dst: &mut [u8],
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        Window::read(self, start_byte, dst).map_err(|e| e.to_string().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vhd::source::Mem;

    const SMALL: CachePolicy = CachePolicy {
        block: 16,
        max_ahead: 4,
        max_blocks: 8,
    };

    fn disk(n: usize) -> Disk {
        let bytes: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
        Disk::new(Box::new(Mem::new(bytes)), n as u64, SMALL)
    }

    #[test]
    fn reads_across_blocks_are_exact_and_cached() {
        let mut d = disk(1000);
        let mut buf = [0u8; 40];
        d.read(10, &mut buf).unwrap();
        assert!(
            buf.iter()
                .enumerate()
                .all(|(i, b)| *b == ((i + 10) % 251) as u8)
        );
        let reads = d.requests();
        d.read(12, &mut buf[..20]).unwrap();
        assert_eq!(d.requests(), reads, "a cached range costs no read");
    }

    #[test]
    fn sequential_reads_fetch_ahead_and_the_cache_is_bounded() {
        let mut d = disk(4096);
        let mut buf = [0u8; 16];
        for i in 0..64 {
            d.read(i * 16, &mut buf).unwrap();
        }
        assert!(
            d.requests() < 24,
            "{} requests for 64 sequential blocks",
            d.requests()
        );
        assert!(d.cache.len() <= SMALL.max_blocks);
        assert!(
            (1024..=1024 + 4 * 16).contains(&d.bytes_read()),
            "{}",
            d.bytes_read()
        );
    }

    #[test]
    fn reads_beyond_the_disk_or_the_window_are_refused() {
        let mut d = disk(100);
        let mut buf = [0u8; 8];
        assert!(matches!(
            d.read(96, &mut buf),
            Err(DiskError::OutOfRange { .. })
        ));
        assert!(d.read(u64::MAX - 2, &mut buf).is_err());
        let w = Window::new(Rc::new(RefCell::new(d)), 50, 20, "partition 1".into());
        assert!(w.read(10, &mut buf).is_ok());
        let e = w.read(15, &mut buf).unwrap_err().to_string();
        assert!(e.contains("partition 1"), "{e}");
    }
}
